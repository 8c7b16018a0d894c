"""The run context: ``Runtime`` given to nodes, ``get_runtime()``, ``context=`` on every way to run a graph,
how a context meets its ``context_schema``, and which parameters are filled in. The behaviours LangGraph has
too are checked against it in ``tests/compat/test_runtime_cases.py``; these are streamflow's own promises."""

from __future__ import annotations

import inspect
import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Optional, TypedDict

import pytest

from streamflow.errors import NotInRunError
from streamflow.graph import END, START, StateGraph
from streamflow.graph.context import current_task
from streamflow.graph.runtime import coerce_context, injected_params, runtime_of
from streamflow.runtime import ExecutionInfo, Runtime, ServerInfo, get_runtime


class State(TypedDict, total=False):
    seen: Annotated[list[Any], operator.add]


@dataclass
class Ctx:
    user: str
    timeout: int = 30


def one_node(node: Callable[..., Any], context_schema: Any = None) -> Any:
    return StateGraph(State, context_schema).add_node("node", node).add_edge(START, "node").compile()


def test_the_runtime_parameter_and_get_runtime_are_one_object_per_task() -> None:
    def node(state: State, runtime: Runtime[Ctx]) -> State:
        return {"seen": [runtime is get_runtime(Ctx), runtime.context.user]}

    assert one_node(node, Ctx).invoke({}, context=Ctx("u")) == {"seen": [True, "u"]}


def test_get_runtime_outside_a_run_names_the_problem() -> None:
    with pytest.raises(NotInRunError, match=r"get_runtime\(\) was called outside a run"):
        get_runtime()


def test_a_sync_node_in_a_worker_thread_reaches_its_runtime() -> None:
    def node(state: State) -> State:
        return {"seen": [threading.current_thread() is threading.main_thread(), get_runtime().context]}

    async def other(state: State) -> State:
        return {}

    graph = (
        StateGraph(State)
        .add_node("node", node)
        .add_node("other", other)
        .add_edge(START, "node")
        .add_edge(START, "other")
        .compile()
    )
    # Beside another task, the sync node runs in a worker thread.
    assert graph.invoke({}, context="ctx") == {"seen": [False, "ctx"]}


def test_parallel_tasks_share_the_context_and_have_their_own_execution_info() -> None:
    def visit(state: State, runtime: Runtime[str]) -> State:
        info = runtime.execution_info
        assert info is not None
        return {"seen": [(runtime.context, info.task_id, info.checkpoint_ns)]}

    graph = (
        StateGraph(State).add_node("a", visit).add_node("b", visit).add_edge(START, "a").add_edge(START, "b").compile()
    )
    seen = graph.invoke({}, context="shared")["seen"]
    assert [context for context, _, _ in seen] == ["shared", "shared"]
    assert seen[0][1] != seen[1][1]
    assert [ns for _, _, ns in seen] == [f"a:{seen[0][1]}", f"b:{seen[1][1]}"]


def test_the_runtime_writer_is_the_tasks_stream_writer() -> None:
    def node(state: State, runtime: Runtime[None], writer: Any) -> State:
        assert runtime.stream_writer is writer
        runtime.stream_writer("hello")
        return {}

    assert one_node(node).invoke({}, stream_mode="custom") == ["hello"]


@pytest.mark.anyio
async def test_start_and_astream_events_take_a_context() -> None:
    def node(state: State, runtime: Runtime[Ctx]) -> State:
        return {"seen": [runtime.context]}

    graph = one_node(node, Ctx)
    async with graph.start({}, context={"user": "started"}) as run:
        assert await run.result() == {"seen": [Ctx("started")]}
    events = [event async for event in graph.astream_events({}, context={"user": "events"})]
    assert events[-1]["data"]["output"] == {"seen": [Ctx("events")]}


def test_stream_events_takes_a_context() -> None:
    def node(state: State, runtime: Runtime[Ctx]) -> State:
        return {"seen": [runtime.context]}

    events = list(one_node(node, Ctx).stream_events({}, context={"user": "sync"}))
    assert events[-1]["data"]["output"] == {"seen": [Ctx("sync")]}


def test_a_bad_context_fails_before_any_node_runs() -> None:
    ran: list[str] = []

    def node(state: State) -> State:
        ran.append("node")
        return {}

    graph = one_node(node, Ctx)
    with pytest.raises(TypeError, match="shoe"):
        graph.invoke({}, context={"user": "u", "shoe": 1})
    with pytest.raises(TypeError, match="user"):
        list(graph.stream({}, context={}))
    assert ran == []


@pytest.mark.anyio
async def test_a_graph_run_inside_a_node_inherits_the_context_unless_given_one() -> None:
    def inner_node(state: State, runtime: Runtime[Any]) -> State:
        return {"seen": [runtime.context]}

    inner = one_node(inner_node)

    async def outer(state: State) -> State:
        inherited = await inner.ainvoke({})
        own = await inner.ainvoke({}, context="own")
        return {"seen": [*inherited["seen"], *own["seen"]]}

    assert await one_node(outer).ainvoke({}, context="outer") == {"seen": ["outer", "own"]}


def test_a_graph_run_sync_inside_a_sync_node_inherits_the_context() -> None:
    def inner_node(state: State, runtime: Runtime[Any]) -> State:
        return {"seen": [runtime.context]}

    inner = one_node(inner_node)

    def outer(state: State) -> State:
        return {"seen": inner.invoke({})["seen"] + list(inner.stream({}, context="streamed"))}

    result = one_node(outer).invoke({}, context="outer")
    assert result == {"seen": ["outer", {"node": {"seen": ["streamed"]}}]}


def test_a_path_function_gets_its_source_task_runtime() -> None:
    """As LangGraph routes inside the task: an entry path function gets the hidden ``__start__`` task's
    runtime, a later one its source node's (the very object ``get_runtime()`` gives)."""
    seen: list[Runtime[Any]] = []

    def route(state: State, runtime: Runtime[str]) -> str:
        seen.append(runtime)
        return runtime.context

    graph = (
        StateGraph(State)
        .add_node("x", lambda state: {"seen": ["x"]})
        .add_node("y", lambda state: {"seen": ["y"]})
        .add_conditional_edges(START, route, ["x", "y"])
        .compile()
    )
    assert graph.invoke({}, context="y") == {"seen": ["y"]}
    assert seen[0].context == "y"
    info = seen[0].execution_info
    assert info is not None and info.checkpoint_ns == f"__start__:{info.task_id}"
    seen.clear()

    def after(state: State, runtime: Runtime[str]) -> str:
        seen.append(runtime)
        assert get_runtime() is runtime
        return END

    node_runtimes: list[Runtime[Any]] = []

    def node(state: State, runtime: Runtime[str]) -> State:
        node_runtimes.append(runtime)
        return {"seen": ["n"]}

    graph = StateGraph(State).add_node("n", node).add_edge(START, "n").add_conditional_edges("n", after).compile()
    assert graph.invoke({}, context="c") == {"seen": ["n"]}
    assert seen == node_runtimes


def test_execution_info_reads_the_config() -> None:
    def node(state: State, runtime: Runtime[None]) -> State:
        return {"seen": [runtime.execution_info, runtime.server_info]}

    config = {
        "run_id": "r-1",
        "configurable": {"thread_id": "t-1", "graph_id": "g", "langgraph_auth_user": "no identity"},
    }
    info, server = one_node(node).invoke({}, config)["seen"]
    assert isinstance(info, ExecutionInfo)
    assert (info.checkpoint_id, info.thread_id, info.run_id, info.node_attempt) == ("", "t-1", "r-1", 1)
    assert isinstance(info.node_first_attempt_time, float)
    # a user without an identity is not taken as one
    assert server == ServerInfo(assistant_id="", graph_id="g", user=None)


def test_a_tool_call_in_a_node_gets_a_runtime_with_its_own_writer() -> None:
    def node(state: State, runtime: Runtime[str]) -> State:
        task = current_task()
        assert task is not None
        call = task.for_tool_call("call-1", "tool-call-1")
        in_call = runtime_of(call)
        assert in_call.stream_writer is call.writer
        assert in_call.stream_writer is not runtime.stream_writer
        return {"seen": [runtime.context, in_call.context]}

    assert one_node(node).invoke({}, context="c") == {"seen": ["c", "c"]}


def test_context_schema_wins_over_the_deprecated_config_schema() -> None:
    with pytest.warns(DeprecationWarning, match="config_schema"):
        builder = StateGraph(State, Ctx, config_schema=dict)
    assert builder.context_schema is Ctx
    assert builder.add_edge(START, "n").add_node("n", lambda state: {}).compile().context_schema is Ctx


class TestCoerceContext:
    def test_a_dict_becomes_the_dataclass(self) -> None:
        assert coerce_context(Ctx, {"user": "u"}) == Ctx("u")

    def test_anything_else_is_kept_as_given(self) -> None:
        other = object()
        assert coerce_context(Ctx, other) is other
        assert coerce_context(None, {"a": 1}) == {"a": 1}
        assert coerce_context(State, {"seen": 1}) == {"seen": 1}

    def test_a_falsy_context_gives_way_to_the_parents(self) -> None:
        assert coerce_context(None, None) is None
        assert coerce_context(None, {}) is None
        assert coerce_context(None, {}, "parent") == "parent"
        assert coerce_context(None, "mine", "parent") == "mine"

    def test_a_pydantic_model_is_made_from_a_dict(self) -> None:
        pydantic = pytest.importorskip("pydantic")

        class Model(pydantic.BaseModel):  # type: ignore[name-defined,misc]
            user: str

        assert coerce_context(Model, {"user": "p"}) == Model(user="p")
        with pytest.raises(pydantic.ValidationError):
            coerce_context(Model, {"user": 1})


class BaseStore:
    """Stands for LangGraph's ``BaseStore`` in annotations (injection reads the annotation's name)."""


def store_typed(state: Any, store: BaseStore) -> None: ...


def store_optional(state: Any, store: Optional[BaseStore]) -> None: ...  # noqa: UP045


def store_other(state: Any, store: int) -> None: ...


def positional_only(state: Any, runtime: Any, /) -> None: ...


def var_keyword(state: Any, **runtime: Any) -> None: ...


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda state, runtime, store, previous: None, ("runtime", "store", "previous")),
        (lambda state, *, previous: None, ("previous",)),
        (store_typed, ("store",)),
        (store_optional, ("store",)),
        (store_other, ()),
        (positional_only, ()),
        (var_keyword, ()),
        (len, ()),
    ],
)
def test_injected_params_follow_langgraphs_rules(fn: Callable[..., Any], expected: tuple[str, ...]) -> None:
    assert injected_params(fn) == expected


def test_runtime_fields_are_keyword_only_and_its_defaults_are_none() -> None:
    params = inspect.signature(Runtime).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    runtime: Runtime[None] = Runtime()
    assert (runtime.context, runtime.store, runtime.previous, runtime.control) == (None, None, None, None)
    runtime.stream_writer("dropped")
    runtime.heartbeat()
