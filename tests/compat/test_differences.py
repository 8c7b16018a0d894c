"""The README's table of deliberate differences, each row run on both libraries.

Every test here runs the same program on LangGraph and on streamflow and asserts what each does, so the
table cannot drift from either library: a LangGraph release that changes a row turns its test red.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import pytest

from streamflow.errors import InvalidGraphError, InvalidUpdateError, UnknownStreamModeError

from .conftest import Lib, load, reference


class State(TypedDict):
    a: int


def one_node(lib: Lib, node: Any) -> Any:
    builder = lib.StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(lib.START, "node")
    return builder.compile()


def extra_key(state: State) -> dict[str, int]:
    return {"a": 1, "not_in_schema": 2}


async def async_node(state: State) -> dict[str, int]:
    await asyncio.sleep(0)
    return {"a": state["a"] + 1}


def plain(state: State) -> dict[str, int]:
    return {"a": state["a"] + 1}


def failing(state: State) -> dict[str, int]:
    raise ValueError("boom")


def test_update_with_an_unknown_key() -> None:
    assert one_node(reference(), extra_key).invoke({"a": 0}) == {"a": 1}
    with pytest.raises(InvalidUpdateError, match=r"node 'node'.*\['not_in_schema'\].*allows \['a'\]"):
        one_node(load("streamflow"), extra_key).invoke({"a": 0})


def test_goto_to_a_name_that_is_no_node(caplog: pytest.LogCaptureFixture) -> None:
    def run(lib: Lib) -> Any:
        return one_node(lib, lambda state: lib.Command(update={"a": 1}, goto="nowhere")).invoke({"a": 0})

    assert run(reference()) == {"a": 1}
    assert "branch:to:nowhere" in caplog.text
    with pytest.raises(InvalidGraphError, match=r"node 'node' returned Command\(goto='nowhere'\).*\['node'\]"):
        run(load("streamflow"))


@pytest.mark.parametrize("call", ["invoke", "stream"])
def test_unknown_stream_mode(call: str) -> None:
    def run(lib: Lib) -> Any:
        graph = one_node(lib, plain)
        if call == "invoke":
            return graph.invoke({"a": 0}, stream_mode="nope")
        return list(graph.stream({"a": 0}, stream_mode="nope"))

    assert run(reference()) == []
    with pytest.raises(UnknownStreamModeError, match="unknown stream mode 'nope'; valid modes: values, updates"):
        run(load("streamflow"))


def test_async_node_under_sync_stream() -> None:
    with pytest.raises(TypeError, match="No synchronous function provided"):
        list(one_node(reference(), async_node).stream({"a": 0}))
    assert list(one_node(load("streamflow"), async_node).stream({"a": 0})) == [{"node": {"a": 1}}]


def test_error_of_a_task_result() -> None:
    def results(lib: Lib) -> list[Any]:
        chunks: list[Any] = []
        with pytest.raises(ValueError, match="boom"):
            for chunk in one_node(lib, failing).stream({"a": 0}, stream_mode="tasks"):
                chunks.append(chunk)
        return [chunk for chunk in chunks if "error" in chunk]

    [theirs] = results(reference())
    assert isinstance(theirs["error"], ValueError)
    [ours] = results(load("streamflow"))
    assert ours["error"] == "ValueError('boom')"


def test_graph_output_has_no_dict_access() -> None:
    theirs = one_node(reference(), plain).invoke({"a": 0}, version="v2")
    with pytest.warns(Warning, match=r"result\[key\]. is deprecated"):
        assert theirs["a"] == 1
    ours = one_node(load("streamflow"), plain).invoke({"a": 0}, version="v2")
    assert ours.value == {"a": 1}
    with pytest.raises(TypeError):
        ours["a"]


@pytest.mark.parametrize("keyword", ["metadata", "retry_policy", "cache_policy"])
def test_add_node_keywords_streamflow_does_not_apply(keyword: str) -> None:
    from langgraph.types import CachePolicy, RetryPolicy

    from streamflow.errors import InvalidArgumentError

    value = {"metadata": {"k": "v"}, "retry_policy": RetryPolicy(), "cache_policy": CachePolicy()}[keyword]
    builder = reference().StateGraph(State)
    builder.add_node("node", plain, **{keyword: value})
    assert "node" in builder.nodes
    with pytest.raises(InvalidArgumentError, match=f"{keyword} not supported"):
        load("streamflow").StateGraph(State).add_node("node", plain, **{keyword: value})


@pytest.mark.parametrize("send", [False, True])
def test_a_path_function_names_no_node(send: bool, caplog: pytest.LogCaptureFixture) -> None:
    from streamflow.errors import InvalidGraphError

    def build(lib: Lib) -> Any:
        builder = lib.StateGraph(State)
        builder.add_node("node", plain)
        builder.add_edge(lib.START, "node")
        builder.add_conditional_edges("node", lambda state: [lib.Send("nowhere", state)] if send else "nowhere")
        return builder.compile()

    assert build(reference()).invoke({"a": 0}) == {"a": 1}
    assert "nowhere" in caplog.text
    with pytest.raises(InvalidGraphError, match=r"'nowhere'.*known nodes: \['node'\]"):
        build(load("streamflow")).invoke({"a": 0})


def test_resume_map_naming_an_unknown_interrupt() -> None:
    from streamflow.errors import UnknownInterruptError

    def run(lib: Lib) -> Any:
        def node(state: State) -> dict[str, int]:
            return {"a": lib.interrupt("how many?")}

        builder = lib.StateGraph(State)
        builder.add_node("node", node)
        builder.add_edge(lib.START, "node")
        graph = builder.compile(checkpointer=lib.InMemorySaver())
        thread = {"configurable": {"thread_id": "1"}}
        graph.invoke({"a": 0}, thread)
        return graph.invoke(lib.Command(resume={"0" * 32: 5}), thread)

    again = run(reference())
    assert again["a"] == 0 and [i.value for i in again["__interrupt__"]] == ["how many?"]
    with pytest.raises(UnknownInterruptError, match=r"\['0{32}'\].*not waiting on"):
        run(load("streamflow"))


def test_a_tuple_read_back_from_a_checkpoint() -> None:
    class Pair(TypedDict):
        pair: Any

    def run(lib: Lib) -> Any:
        builder = lib.StateGraph(Pair)
        builder.add_node("node", lambda state: {"pair": ("a", 1)})
        builder.add_edge(lib.START, "node")
        graph = builder.compile(checkpointer=lib.InMemorySaver())
        thread = {"configurable": {"thread_id": "1"}}
        graph.invoke({"pair": None}, thread)
        (task,) = list(graph.get_state_history(thread))[1].tasks
        return graph.get_state(thread).values["pair"], task.result["pair"]

    assert run(reference()) == (["a", 1], ["a", 1])
    assert run(load("streamflow")) == (("a", 1), ("a", 1))
