"""Differential cases for the run context (after LangGraph's ``tests/test_runtime.py``): ``context_schema``,
``context=`` on invoke/ainvoke/stream/astream, the ``runtime`` parameter and ``get_runtime()``, and what a
context that does not fit its schema does. Each graph runs on LangGraph and on streamflow and must give the
same normalised chunks, result or error."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from typing import Annotated, Any, TypedDict

import pytest

from .conftest import Case, Lib, normalise, reference

RUN_ID = "6d1f0c1e-5b7a-4c55-9a0e-2f3b4c5d6e7f"


class State(TypedDict, total=False):
    seen: Annotated[list[str], operator.add]


@dataclass
class Ctx:
    user: str
    timeout: int = 30


class DictCtx(TypedDict):
    user: str


def shown(value: Any) -> str:
    """What a node reports of a context: its type's name and repr."""
    return f"{type(value).__name__}:{value!r}"


def one_node(node: Callable[..., Any], context_schema: Any = None) -> Callable[[Lib], Any]:
    """A builder of the graph START -> ``node`` -> END, with ``context_schema``."""

    def build(lib: Lib) -> Any:
        builder = lib.StateGraph(State, context_schema=context_schema)
        builder.add_node("node", node)
        builder.add_edge(lib.START, "node")
        builder.add_edge("node", lib.END)
        return builder.compile()

    return build


def report_context(state: State, runtime: Any) -> State:
    return {"seen": [shown(runtime.context)]}


def pydantic_graph(lib: Lib) -> Any:
    """The one-node graph with a pydantic ``context_schema`` (defined here: pydantic comes with the compare
    extra)."""
    import pydantic

    class ModelCtx(pydantic.BaseModel):
        user: str
        timeout: int = 30

    return one_node(report_context, ModelCtx)(lib)


def with_get_runtime(lib: Lib) -> Any:
    def node(state: State) -> State:
        return {"seen": [shown(lib.get_runtime(Ctx).context)]}

    return one_node(node, Ctx)(lib)


async def async_report(state: State, runtime: Any) -> State:
    return {"seen": [f"async {shown(runtime.context)}"]}


def injected_extras(state, runtime, store, previous, config, writer):  # type: ignore[no-untyped-def]
    # Unannotated, as LangGraph injects ``store``, ``config`` and ``writer`` only unannotated or with their types.
    writer({"user": runtime.context.user})
    runtime.stream_writer({"via": "runtime"})
    return {"seen": [f"store={store!r} previous={previous!r} node={config['metadata']['langgraph_node']!r}"]}


def execution_info(state: State, runtime: Any) -> State:
    info = runtime.execution_info
    return {
        "seen": [
            f"thread={info.thread_id} run={info.run_id} attempt={info.node_attempt} "
            f"ns-ok={info.checkpoint_ns == 'node:' + info.task_id} "
            f"first={type(info.node_first_attempt_time).__name__} server={runtime.server_info!r} "
            f"store={runtime.store!r} previous={runtime.previous!r} drain={runtime.drain_requested}"
        ]
    }


def server_info(state: State, runtime: Any) -> State:
    info = runtime.server_info
    return {"seen": [f"{info.assistant_id}/{info.graph_id}/{info.user}"]}


def default_runtime(state: State, runtime: Any = None) -> State:
    return {"seen": [f"given={runtime is not None}"]}


def other_name(state: State, rt: Any) -> State:
    return {"seen": ["unreachable"]}


def keyword_only(state: State, *, runtime: Any) -> State:
    return {"seen": [shown(runtime.context)]}


def subgraph_inherits(lib: Lib) -> Any:
    def inner(state: State, runtime: Any) -> State:
        info = runtime.execution_info
        nested = info.checkpoint_ns.startswith("child:") and f"|inner:{info.task_id}" in info.checkpoint_ns
        return {"seen": [f"inner {shown(runtime.context)} nested-ns={nested}"]}

    child = lib.StateGraph(State, context_schema=Ctx)
    child.add_node("inner", inner)
    child.add_edge(lib.START, "inner")
    parent = lib.StateGraph(State, context_schema=Ctx)
    parent.add_node("outer", report_context)
    parent.add_node("child", child.compile())
    parent.add_edge(lib.START, "outer")
    parent.add_edge("outer", "child")
    return parent.compile()


def invoked_inside_a_node(lib: Lib) -> Any:
    """A graph invoked (not added as a node) inside a node, given no context: it runs with the outer one."""
    inner = one_node(report_context)(lib)

    def outer(state: State) -> State:
        result: State = inner.invoke({"seen": []})
        return {"seen": [f"nested saw {result['seen']}"]}

    builder = lib.StateGraph(State, context_schema=Ctx)
    builder.add_node("outer", outer)
    builder.add_edge(lib.START, "outer")
    return builder.compile()


def route_on_context(lib: Lib) -> Any:
    def route(state: State, runtime: Any) -> str:
        return str(runtime.context.user)

    def visit(name: str) -> Callable[[State], State]:
        return lambda state: {"seen": [name]}

    builder = lib.StateGraph(State, context_schema=Ctx)
    builder.add_node("start", visit("start"))
    builder.add_node("alice", visit("alice"))
    builder.add_node("bob", visit("bob"))
    builder.add_edge(lib.START, "start")
    builder.add_conditional_edges("start", route, {"a": "alice", "b": "bob"})
    return builder.compile()


def entry_on_context(lib: Lib) -> Any:
    builder = lib.StateGraph(State, context_schema=Ctx)
    builder.add_node("alice", lambda state: {"seen": ["alice"]})
    builder.add_node("bob", lambda state: {"seen": ["bob"]})
    builder.set_conditional_entry_point(lambda state, runtime: runtime.context.user, ["alice", "bob"])
    return builder.compile()


def entry_reads_config(lib: Lib) -> Any:
    """An entry path function that writes what its config's metadata says (as the node name it goes to)."""

    def route(state: State) -> str:
        metadata = lib.get_config()["metadata"]
        return "ok" if (metadata["langgraph_node"], metadata["langgraph_step"]) == ("__start__", 0) else "wrong"

    builder = lib.StateGraph(State, context_schema=Ctx)
    builder.add_node("ok", lambda state: {"seen": ["ok"]})
    builder.add_node("wrong", lambda state: {"seen": ["wrong"]})
    builder.set_conditional_entry_point(route, ["ok", "wrong"])
    return builder.compile()


def route_reads(read: Callable[[Lib, Any], str]) -> Callable[[Lib], Any]:
    """A builder of a graph whose path function after ``start`` goes to ``read(lib, runtime)``."""

    def build(lib: Lib) -> Any:
        def route(state: State, runtime: Any) -> str:
            return read(lib, runtime)

        builder = lib.StateGraph(State, context_schema=Ctx)
        builder.add_node("start", lambda state: {"seen": ["start"]})
        builder.add_node("a", lambda state: {"seen": ["a"]})
        builder.add_node("b", lambda state: {"seen": ["b"]})
        builder.add_edge(lib.START, "start")
        builder.add_conditional_edges("start", route, ["a", "b"])
        return builder.compile()

    return build


CASES = [
    pytest.param(Case(one_node(report_context, Ctx), {}, {"context": Ctx("ann")}), id="dataclass-instance"),
    pytest.param(Case(one_node(report_context, Ctx), {}, {"context": {"user": "d"}}), id="dataclass-from-dict"),
    pytest.param(
        Case(one_node(report_context, Ctx), {}, {"context": {"user": "d", "timeout": 5}}), id="dataclass-all-fields"
    ),
    pytest.param(
        Case(one_node(report_context, Ctx), {}, {"context": {"user": "d", "shoe": 9}}), id="dataclass-unknown-key"
    ),
    pytest.param(Case(one_node(report_context, Ctx), {}, {"context": {"timeout": 1}}), id="dataclass-missing-field"),
    pytest.param(Case(one_node(report_context, Ctx), {}, {"context": "not a Ctx"}), id="dataclass-other-type"),
    pytest.param(Case(one_node(report_context, Ctx), {}, {"context": {}}), id="dataclass-empty-dict"),
    pytest.param(Case(pydantic_graph, {}, {"context": {"user": "p"}}), id="pydantic-from-dict"),
    pytest.param(Case(pydantic_graph, {}, {"context": {"user": "p", "timeout": "soon"}}), id="pydantic-invalid"),
    pytest.param(Case(one_node(report_context, DictCtx), {}, {"context": {"user": "t", "x": 1}}), id="typeddict"),
    pytest.param(Case(one_node(report_context), {}, {"context": ["any", "object"]}), id="no-schema-list"),
    pytest.param(Case(one_node(report_context), {}, {"context": {}}), id="no-schema-empty-dict-is-none"),
    pytest.param(Case(one_node(report_context), {}, {"context": ""}), id="no-schema-empty-string-is-none"),
    pytest.param(Case(one_node(report_context, Ctx), {}, {}), id="no-context"),
    pytest.param(Case(with_get_runtime, {}, {"context": Ctx("g")}), id="get-runtime"),
    pytest.param(Case(one_node(keyword_only), {}, {"context": 7}), id="keyword-only-runtime"),
    pytest.param(Case(one_node(default_runtime), {}, {}), id="runtime-with-default"),
    pytest.param(Case(one_node(other_name, Ctx), {}, {"context": Ctx("x")}), id="annotation-does-not-inject"),
    pytest.param(
        Case(one_node(injected_extras, Ctx), {}, {"context": Ctx("w"), "stream_mode": ["custom", "updates"]}),
        id="store-previous-writer",
    ),
    pytest.param(
        Case(
            one_node(execution_info),
            {},
            {"config": {"run_id": RUN_ID, "configurable": {"thread_id": "th-1"}}},
        ),
        id="execution-info",
    ),
    pytest.param(Case(one_node(execution_info), {}, {}), id="execution-info-bare"),
    pytest.param(
        Case(one_node(server_info), {}, {"config": {"configurable": {"assistant_id": "as-1", "graph_id": "g-1"}}}),
        id="server-info",
    ),
    pytest.param(Case(subgraph_inherits, {}, {"context": {"user": "sub"}, "subgraphs": True}), id="subgraph-inherits"),
    pytest.param(Case(invoked_inside_a_node, {}, {"context": Ctx("outer")}), id="invoked-inside-node-inherits"),
    pytest.param(Case(route_on_context, {}, {"context": Ctx("b")}), id="route-on-context"),
    pytest.param(Case(entry_on_context, {}, {"context": Ctx("alice")}), id="entry-on-context"),
    pytest.param(
        Case(route_reads(lambda lib, runtime: lib.get_runtime().context.user), {}, {"context": Ctx("a")}),
        id="get-runtime-in-a-path-function",
    ),
    pytest.param(
        Case(route_reads(lambda lib, runtime: "a" if runtime.execution_info else "b"), {}, {"context": Ctx("a")}),
        id="path-function-execution-info",
    ),
    pytest.param(
        Case(
            route_reads(lambda lib, runtime: "a" if lib.get_config()["metadata"]["langgraph_node"] == "start" else "b"),
            {},
            {"context": Ctx("a")},
        ),
        id="path-function-config-is-its-task",
    ),
    pytest.param(Case(entry_reads_config, {}, {"context": Ctx("a")}), id="entry-path-function-config"),
]


ASYNC_CASES = [
    *CASES,
    # LangGraph's sync invoke()/stream() refuse an async node (streamflow runs it): async methods only.
    pytest.param(Case(one_node(async_report, Ctx), {}, {"context": {"user": "as"}}), id="async-node"),
]


def outcome(produce: Callable[[], Any]) -> Any:
    """``produce()`` normalised, or the type and message of what it raised."""
    try:
        return normalise(produce())
    except Exception as exc:
        return ("raised", type(exc).__name__, normalise(str(exc)))


async def aoutcome(produce: Callable[[], Any]) -> Any:
    try:
        return normalise(await produce())
    except Exception as exc:
        return ("raised", type(exc).__name__, normalise(str(exc)))


async def collect(stream: Any) -> list[Any]:
    return [chunk async for chunk in stream]


@pytest.mark.parametrize("runtime_case", CASES)
def test_invoke(lib: Lib, runtime_case: Case) -> None:
    def run(which: Lib) -> Any:
        return outcome(lambda: runtime_case.build(which).invoke(runtime_case.input, **runtime_case.kwargs))

    assert run(lib) == run(reference())


@pytest.mark.anyio
@pytest.mark.parametrize("runtime_case", ASYNC_CASES)
async def test_ainvoke(lib: Lib, runtime_case: Case) -> None:
    async def run(which: Lib) -> Any:
        return await aoutcome(lambda: runtime_case.build(which).ainvoke(runtime_case.input, **runtime_case.kwargs))

    assert await run(lib) == await run(reference())


@pytest.mark.parametrize("runtime_case", CASES)
def test_stream(lib: Lib, runtime_case: Case) -> None:
    def run(which: Lib) -> Any:
        return outcome(lambda: list(runtime_case.build(which).stream(runtime_case.input, **runtime_case.kwargs)))

    assert run(lib) == run(reference())


@pytest.mark.anyio
@pytest.mark.parametrize("runtime_case", ASYNC_CASES)
async def test_astream(lib: Lib, runtime_case: Case) -> None:
    async def run(which: Lib) -> Any:
        return await aoutcome(
            lambda: collect(runtime_case.build(which).astream(runtime_case.input, **runtime_case.kwargs))
        )

    assert await run(lib) == await run(reference())


def runtime_values(lib: Lib) -> list[Any]:
    """What ``Runtime``'s own methods give: defaults, override, merge, patch_execution_info, frozenness."""
    runtime = lib.Runtime
    empty = runtime()
    first = runtime(context=Ctx("a"))
    second = first.override(context=Ctx("b"))
    out: list[Any] = [
        (empty.context, empty.store, empty.previous, empty.execution_info, empty.server_info),
        (first.context, second.context),
        first.merge(runtime(context=None)).context,
        first.merge(second).context,
        runtime(previous=0).merge(runtime()).previous,
        empty.drain_requested,
        empty.drain_reason,
    ]
    try:
        empty.patch_execution_info(task_id="t")
    except RuntimeError as exc:
        out.append(str(exc))
    try:
        first.context = Ctx("c")
    except FrozenInstanceError:
        out.append("frozen")
    try:
        runtime(Ctx("positional"))
    except TypeError:
        out.append("keyword-only")
    return out


def test_runtime_methods(lib: Lib) -> None:
    assert runtime_values(lib) == runtime_values(reference())


def test_execution_info_patch(lib: Lib) -> None:
    def values(which: Lib) -> Any:
        runtime = which.Runtime(context=None)
        module = type(runtime).__module__
        info_type = __import__(module, fromlist=["ExecutionInfo"]).ExecutionInfo
        info = info_type(checkpoint_id="c", checkpoint_ns="n", task_id="t")
        patched = which.Runtime(execution_info=info).patch_execution_info(node_attempt=3).execution_info
        return (info.thread_id, info.run_id, info.node_attempt, info.node_first_attempt_time, patched.node_attempt)

    assert values(lib) == values(reference())


def test_config_schema_is_the_deprecated_name_of_context_schema(lib: Lib) -> None:
    def run(which: Lib) -> Any:
        with pytest.warns(DeprecationWarning, match="`config_schema` is deprecated"):
            builder = which.StateGraph(State, config_schema=Ctx)
        builder.add_node("node", report_context)
        builder.add_edge(which.START, "node")
        return builder.compile().invoke({}, context={"user": "old"})

    assert run(lib) == run(reference())


def test_execution_info_checkpoint_id_with_a_checkpointer(lib: Lib) -> None:
    """With a checkpointer, a task's ``execution_info.checkpoint_id`` is the id of the checkpoint its step
    started from (in a subgraph, the subgraph's own), also for a task that runs again on resume: each id
    shown as the step and namespace of the checkpoint it names."""

    def scenario(which: Lib) -> Any:
        seen: list[tuple[str, str, str]] = []

        def node(name: str, ask: bool = False) -> Callable[..., Any]:
            def run(state: State, runtime: Any) -> Any:
                info = runtime.execution_info
                seen.append((name, info.checkpoint_id, info.checkpoint_ns.rpartition("|")[0]))
                if ask:
                    which.interrupt("ok?")
                return {"seen": [name]}

            return run

        sub = which.StateGraph(State).add_node("inner", node("inner")).add_edge(which.START, "inner").compile()
        saver = which.InMemorySaver()
        graph = (
            which.StateGraph(State)
            .add_node("a", node("a"))
            .add_node("b", node("b", ask=True))
            .add_node("sub", sub)
            .add_edge(which.START, "a")
            .add_edge("a", "b")
            .add_edge("b", "sub")
            .compile(checkpointer=saver)
        )
        config = {"configurable": {"thread_id": "1"}}
        graph.invoke({"seen": []}, config)
        graph.invoke(which.Command(resume="yes"), config)
        steps = {
            saved.config["configurable"]["checkpoint_id"]: (
                saved.config["configurable"]["checkpoint_ns"].partition(":")[0],
                saved.metadata["step"],
            )
            for saved in saver.list(None)
        }
        return [(name, steps.get(checkpoint_id), ns.partition(":")[0]) for name, checkpoint_id, ns in seen]

    assert scenario(lib) == scenario(reference())
