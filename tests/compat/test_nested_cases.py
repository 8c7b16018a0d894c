"""A compiled graph run inside a node (``invoke``/``ainvoke``/``stream``/``astream`` called in the node's code)
shows in the parent's stream as a subgraph: the same chunks, namespaces and task payloads on both libraries."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest

from .conftest import Case, Lib, normalise, reference


class Counter(TypedDict):
    value: int
    log: Annotated[list[str], operator.add]


START_VALUE = {"value": 1, "log": []}


def child(lib: Lib) -> Any:
    def inner(state: Counter) -> dict[str, Any]:
        lib.get_stream_writer()({"inner": state["value"]})
        return {"log": [f"inner{state['value']}"]}

    builder = lib.StateGraph(Counter)
    builder.add_node("inner", inner)
    builder.add_edge(lib.START, "inner")
    return builder.compile()


def parent_of(lib: Lib, node: Callable[..., Any]) -> Any:
    builder = lib.StateGraph(Counter)
    builder.add_node("caller", node)
    builder.add_edge(lib.START, "caller")
    builder.add_edge("caller", lib.END)
    return builder.compile()


def sync_invoke(lib: Lib) -> Any:
    sub = child(lib)

    def caller(state: Counter) -> dict[str, Any]:
        return {"log": sub.invoke({"value": state["value"], "log": []})["log"]}

    return parent_of(lib, caller)


def async_invoke(lib: Lib) -> Any:
    sub = child(lib)

    async def caller(state: Counter) -> dict[str, Any]:
        return {"log": (await sub.ainvoke({"value": state["value"], "log": []}))["log"]}

    return parent_of(lib, caller)


def sync_stream(lib: Lib) -> Any:
    sub = child(lib)

    def caller(state: Counter) -> dict[str, Any]:
        return {"log": [repr(chunk) for chunk in sub.stream({"value": state["value"], "log": []})]}

    return parent_of(lib, caller)


def async_stream(lib: Lib) -> Any:
    sub = child(lib)

    async def caller(state: Counter) -> dict[str, Any]:
        chunks = [c async for c in sub.astream({"value": 2, "log": []}, stream_mode=["values", "custom"])]
        return {"log": [repr(chunk) for chunk in chunks]}

    return parent_of(lib, caller)


def twice(lib: Lib) -> Any:
    sub = child(lib)

    def caller(state: Counter) -> dict[str, Any]:
        first = sub.invoke({"value": 1, "log": []})
        second = sub.invoke({"value": 2, "log": []})
        return {"log": first["log"] + second["log"]}

    return parent_of(lib, caller)


def two_levels(lib: Lib) -> Any:
    middle = parent_of(lib, _middle_node(lib))
    return parent_of(lib, _invoking(middle))


def _middle_node(lib: Lib) -> Callable[[Counter], dict[str, Any]]:
    sub = child(lib)

    def middle(state: Counter) -> dict[str, Any]:
        return {"log": sub.invoke({"value": state["value"] + 1, "log": []})["log"]}

    return middle


def _invoking(graph: Any) -> Callable[[Counter], dict[str, Any]]:
    def outer(state: Counter) -> dict[str, Any]:
        return {"log": graph.invoke({"value": state["value"], "log": []})["log"]}

    return outer


def siblings(lib: Lib) -> Any:
    sub = child(lib)

    def invoking(value: int) -> Callable[[Counter], dict[str, Any]]:
        def node(state: Counter) -> dict[str, Any]:
            return {"log": sub.invoke({"value": value, "log": []})["log"]}

        return node

    builder = lib.StateGraph(Counter)
    builder.add_node("left", invoking(1))
    builder.add_node("right", invoking(2))
    builder.add_edge(lib.START, "left")
    builder.add_edge(lib.START, "right")
    return builder.compile()


ALL = ["values", "updates", "custom"]

CASES = [
    pytest.param(Case(sync_invoke, START_VALUE, {"subgraphs": True, "stream_mode": ALL}), id="sync-invoke"),
    pytest.param(Case(sync_stream, START_VALUE, {"subgraphs": True, "stream_mode": ALL}), id="sync-stream"),
    pytest.param(Case(twice, START_VALUE, {"subgraphs": True, "stream_mode": ALL}), id="invoked-twice"),
    pytest.param(Case(two_levels, START_VALUE, {"subgraphs": True, "stream_mode": ALL}), id="two-levels"),
    pytest.param(Case(sync_invoke, START_VALUE, {"stream_mode": ALL}), id="subgraphs-false-hides-it"),
    pytest.param(Case(sync_invoke, START_VALUE, {"subgraphs": True, "stream_mode": "tasks"}), id="tasks"),
    pytest.param(
        Case(two_levels, START_VALUE, {"subgraphs": True, "stream_mode": "tasks", "version": "v2"}),
        id="tasks-two-levels-v2",
    ),
    pytest.param(
        Case(sync_invoke, START_VALUE, {"subgraphs": True, "stream_mode": "updates", "version": "v2"}),
        id="v2-sync-invoke",
    ),
    pytest.param(Case(sync_invoke, START_VALUE, {"subgraphs": True, "stream_mode": "debug"}), id="debug"),
]


ASYNC_CASES = [
    pytest.param(Case(async_invoke, START_VALUE, {"subgraphs": True, "stream_mode": ALL}), id="async-ainvoke"),
    pytest.param(
        Case(async_stream, START_VALUE, {"subgraphs": True, "stream_mode": ALL}),
        id="async-astream-custom",
    ),
    pytest.param(
        Case(async_stream, START_VALUE, {"subgraphs": True, "stream_mode": ["values", "updates"]}), id="async-astream"
    ),
    pytest.param(Case(async_invoke, START_VALUE, {"subgraphs": True, "stream_mode": "tasks"}), id="async-tasks"),
    pytest.param(Case(async_invoke, START_VALUE, {"stream_mode": ALL}), id="async-subgraphs-false"),
]


@pytest.mark.parametrize("case", CASES)
def test_stream(lib: Lib, case: Case) -> None:
    expected = case.compare(list(case.build(reference()).stream(case.input, **case.kwargs)))
    assert case.compare(list(case.build(lib).stream(case.input, **case.kwargs))) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES + ASYNC_CASES)
async def test_astream(lib: Lib, case: Case) -> None:
    expected = case.compare([chunk async for chunk in case.build(reference()).astream(case.input, **case.kwargs)])
    assert case.compare([chunk async for chunk in case.build(lib).astream(case.input, **case.kwargs)]) == expected


@pytest.mark.parametrize("build", [sync_invoke, sync_stream, two_levels], ids=["invoke", "stream", "two-levels"])
def test_invoke_with_subgraphs_and_stream_mode(lib: Lib, build: Callable[[Lib], Any]) -> None:
    kwargs = {"stream_mode": ["updates", "custom"], "subgraphs": True}
    expected = Case(build, START_VALUE).compare(build(reference()).invoke(START_VALUE, **kwargs))
    assert Case(build, START_VALUE).compare(build(lib).invoke(START_VALUE, **kwargs)) == expected


def failing(lib: Lib) -> Any:
    def boom(state: Counter) -> dict[str, Any]:
        raise ValueError("inner failed")

    sub = lib.StateGraph(Counter)
    sub.add_node("boom", boom)
    sub.add_edge(lib.START, "boom")
    compiled = sub.compile()
    return parent_of(lib, lambda state: compiled.invoke(state))


def tasks_until_failure(graph: Any) -> list[Any]:
    chunks: list[Any] = []
    with pytest.raises(ValueError, match="inner failed"):
        for chunk in graph.stream(START_VALUE, stream_mode="tasks", subgraphs=True):
            ns, payload = chunk
            error = payload.get("error")
            # a task error is the exception on LangGraph and its repr here (their reprs are equal)
            chunks.append((ns, {**payload, "error": repr(error) if isinstance(error, BaseException) else error}))
    return chunks


def test_child_failure_fails_the_parent(lib: Lib) -> None:
    case = Case(failing, START_VALUE)
    expected = case.compare(tasks_until_failure(failing(reference())))
    shape = [(len(ns), payload["name"]) for ns, payload in expected]
    assert shape == [(0, "caller"), (1, "boom"), (1, "boom"), (0, "caller")]
    assert case.compare(tasks_until_failure(failing(lib))) == expected


@pytest.mark.anyio
async def test_ainvoke_with_subgraphs_and_stream_mode(lib: Lib) -> None:
    kwargs = {"stream_mode": ["updates", "custom", "tasks"], "subgraphs": True}
    case = Case(async_invoke, START_VALUE)
    expected = case.compare(await async_invoke(reference()).ainvoke(START_VALUE, **kwargs))
    assert case.compare(await async_invoke(lib).ainvoke(START_VALUE, **kwargs)) == expected


def chat_model(lib: Lib, text: str) -> Any:
    """A scripted chat model answering ``text`` (one word: one token on both libraries)."""
    if lib.name == "langgraph":
        from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

        return GenericFakeChatModel(messages=iter([lib.AIMessage(content=text)]))
    from streamflow.models import FakeChatModel

    return FakeChatModel([text], chunk_size=len(text))


def talking(lib: Lib) -> Any:
    model = chat_model(lib, "hello")

    def inner(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    sub = lib.StateGraph(lib.MessagesState)
    sub.add_node("inner", inner)
    sub.add_edge(lib.START, "inner")
    compiled = sub.compile()

    def caller(state: Any) -> dict[str, Any]:
        return {"messages": compiled.invoke({"messages": state["messages"]})["messages"][-1:]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("caller", caller)
    builder.add_edge(lib.START, "caller")
    return builder.compile()


def tokens(graph: Any, **kwargs: Any) -> list[Any]:
    """The messages-mode chunks of a run, each as its namespace, content and the metadata keys both share."""
    config = {"tags": ["t1"], "metadata": {"user": "u1"}}
    out = []
    for ns, (chunk, meta) in graph.stream({"messages": [("user", "hi")]}, config, stream_mode="messages", **kwargs):
        keys = ("user", "tags", "langgraph_node", "langgraph_step", "langgraph_checkpoint_ns", "langgraph_path")
        out.append((ns, chunk.content, {key: meta.get(key) for key in keys}))
    return out


def test_messages_of_a_model_in_the_invoked_graph(lib: Lib) -> None:
    expected = normalise(tokens(talking(reference()), subgraphs=True))
    assert [(len(ns), content) for ns, content, _ in expected] == [(1, "hello")]
    assert normalise(tokens(talking(lib), subgraphs=True)) == expected


def test_messages_of_the_invoked_graph_hidden_without_subgraphs(lib: Lib) -> None:
    def contents(graph: Any) -> list[tuple[str, str]]:
        chunks = graph.stream({"messages": [("user", "hi")]}, stream_mode="messages")
        return [(chunk.content, meta["langgraph_node"]) for chunk, meta in chunks]

    expected = contents(talking(reference()))
    assert expected == [("hello", "caller")]  # not the nested token: the message the caller node returns
    assert contents(talking(lib)) == expected


PARENT_CONFIG = {"tags": ["t1"], "metadata": {"user": "u1"}, "configurable": {"x": 1}, "recursion_limit": 11}
NESTED_CONFIG = {"tags": ["t2"], "metadata": {"m": 2}, "configurable": {"y": 2}, "recursion_limit": 7}


def configured(lib: Lib) -> Any:
    def inner(state: Counter) -> dict[str, Any]:
        config = lib.get_config()
        configurable = {k: v for k, v in config["configurable"].items() if k in ("x", "y")}
        lib.get_stream_writer()(
            {
                "tags": config["tags"],
                "metadata": {k: config["metadata"].get(k) for k in ("user", "m", "langgraph_node")},
                "configurable": configurable,
                "recursion_limit": config["recursion_limit"],
            }
        )
        return {"log": ["inner"]}

    sub = lib.StateGraph(Counter)
    sub.add_node("inner", inner)
    sub.add_edge(lib.START, "inner")
    compiled = sub.compile()

    def caller(state: Counter) -> dict[str, Any]:
        compiled.invoke({"value": 1, "log": []}, NESTED_CONFIG)
        compiled.invoke({"value": 2, "log": []})
        return {"log": ["caller"]}

    return parent_of(lib, caller)


def test_config_of_the_parent_run_reaches_the_invoked_graph(lib: Lib) -> None:
    def custom(graph: Any) -> Any:
        return normalise(list(graph.stream(START_VALUE, PARENT_CONFIG, stream_mode="custom", subgraphs=True)))

    expected = custom(configured(reference()))
    assert [chunk["tags"] for _ns, chunk in expected] == [["t1", "t2"], ["t1"]]
    assert custom(configured(lib)) == expected


def test_tasks_of_an_invoked_graph_with_a_config(lib: Lib) -> None:
    def tasks(graph: Any) -> Any:
        return normalise(list(graph.stream(START_VALUE, PARENT_CONFIG, stream_mode="tasks", subgraphs=True)))

    assert tasks(configured(lib)) == tasks(configured(reference()))


@pytest.mark.anyio
async def test_a_node_streaming_messages_of_a_child(lib: Lib) -> None:
    async def run(lib: Lib) -> Any:
        model = chat_model(lib, "hello")

        async def inner(state: Any) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

        sub = lib.StateGraph(lib.MessagesState)
        sub.add_node("inner", inner)
        sub.add_edge(lib.START, "inner")
        compiled = sub.compile()
        seen: list[Any] = []

        async def caller(state: Any) -> dict[str, Any]:
            async for chunk, meta in compiled.astream({"messages": state["messages"]}, stream_mode="messages"):
                seen.append((chunk.content, meta["langgraph_node"], meta["langgraph_checkpoint_ns"]))
            return {"messages": []}

        builder = lib.StateGraph(lib.MessagesState)
        builder.add_node("caller", caller)
        builder.add_edge(lib.START, "caller")
        parts = builder.compile().astream({"messages": [("user", "hi")]}, stream_mode="messages", subgraphs=True)
        parent = [(ns, chunk.content, meta["langgraph_checkpoint_ns"]) async for ns, (chunk, meta) in parts]
        return normalise((seen, parent))

    expected = await run(reference())
    assert [content for content, _node, _ns in expected[0]] == ["hello"]
    assert await run(lib) == expected


def test_parallel_nodes_each_invoking_a_graph(lib: Lib) -> None:
    def chunks(graph: Any) -> list[Any]:
        parts = graph.stream(START_VALUE, stream_mode=["updates", "custom"], subgraphs=True)
        # the two tasks run in any order: compare namespaces by node name, chunks as a multiset
        return sorted((([part.split(":")[0] for part in ns], mode, chunk) for ns, mode, chunk in parts), key=repr)

    expected = chunks(siblings(reference()))
    assert len(expected) == 6
    assert chunks(siblings(lib)) == expected


@pytest.mark.anyio
async def test_messages_of_a_child_invoked_with_metadata(lib: Lib) -> None:
    """A model's tokens in a graph invoked inside a node with ``metadata`` carry that metadata, in the parent's
    ``messages`` stream too."""

    async def run(lib: Lib) -> Any:
        model = chat_model(lib, "hey")

        async def inner(state: Any) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

        sub = lib.StateGraph(lib.MessagesState)
        sub.add_node("inner", inner)
        sub.add_edge(lib.START, "inner")
        compiled = sub.compile()

        async def caller(state: Any) -> dict[str, Any]:
            await compiled.ainvoke({"messages": state["messages"]}, {"metadata": {"m": 2}})
            return {"messages": []}

        builder = lib.StateGraph(lib.MessagesState)
        builder.add_node("caller", caller)
        builder.add_edge(lib.START, "caller")
        parts = builder.compile().astream(
            {"messages": [("user", "hi")]}, {"metadata": {"user": "u"}}, stream_mode="messages", subgraphs=True
        )
        return [(len(ns), meta.get("m"), meta.get("user"), meta["langgraph_node"]) async for ns, (_c, meta) in parts]

    expected = await run(reference())
    assert expected and all(item[1] == 2 for item in expected)
    assert await run(lib) == expected
