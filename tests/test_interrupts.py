"""``interrupt()`` and ``Command(resume=...)``: a run pauses inside a node, its thread keeps the interrupt, and
a resume hands the answer back to the same call; what the output, the stream, the state and the events show."""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pydantic
import pytest

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.checkpoint.sqlite import SqliteSaver
from streamflow.errors import (
    EmptyInputError,
    GraphInterrupt,
    InvalidArgumentError,
    InvalidUpdateError,
    NotInRunError,
    UnknownInterruptError,
    is_invalid_resume,
)
from streamflow.events import Event, Interrupted, Resumed, StateUpdate, from_dict
from streamflow.graph import START, StateGraph
from streamflow.interrupts import interrupt_id, is_interrupt_id
from streamflow.messages import AIMessage, MessagesState, ToolCall
from streamflow.tools import ToolNode, tool
from streamflow.types import Command, GraphOutput, Interrupt, Send, interrupt
from tests.extras import require_extra


class Trail(TypedDict):
    trail: Annotated[list[str], operator.add]


class Plain(TypedDict):
    value: str


def config(thread: str = "t") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def asking_graph(checkpointer: Any, runs: dict[str, int]) -> Any:
    """n1 -> (ask, sib) -> last; ``ask`` asks twice, ``sib`` counts its runs in ``runs``."""

    def n1(state: Trail) -> dict[str, list[str]]:
        return {"trail": ["n1"]}

    def ask(state: Trail) -> dict[str, list[str]]:
        first = interrupt("first?")
        second = interrupt("second?")
        return {"trail": [f"ask:{first}:{second}"]}

    def sib(state: Trail) -> dict[str, list[str]]:
        runs["sib"] = runs.get("sib", 0) + 1
        return {"trail": ["sib"]}

    def last(state: Trail) -> dict[str, list[str]]:
        return {"trail": ["last"]}

    return (
        StateGraph(Trail)
        .add_node("n1", n1)
        .add_node("ask", ask)
        .add_node("sib", sib)
        .add_node("last", last)
        .add_edge(START, "n1")
        .add_edge("n1", "ask")
        .add_edge("n1", "sib")
        .add_edge(["ask", "sib"], "last")
    ).compile(checkpointer=checkpointer)


def single(checkpointer: Any = None, *, is_async: bool = False) -> Any:
    if is_async:

        async def node(state: Plain) -> dict[str, str]:
            return {"value": state["value"] + "|" + interrupt(f"about {state['value']}?")}

        return StateGraph(Plain).add_node("node", node).add_edge(START, "node").compile(checkpointer=checkpointer)

    def sync_node(state: Plain) -> dict[str, str]:
        return {"value": state["value"] + "|" + interrupt(f"about {state['value']}?")}

    return StateGraph(Plain).add_node("node", sync_node).add_edge(START, "node").compile(checkpointer=checkpointer)


# -- without a checkpointer ------------------------------------------------------------------------------


def test_without_checkpointer_the_run_ends_with_the_interrupt() -> None:
    out = single().invoke({"value": "a"})
    assert out["value"] == "a"
    [only] = out["__interrupt__"]
    assert isinstance(only, Interrupt)
    assert only.value == "about a?"
    assert is_interrupt_id(only.id)


def test_without_checkpointer_resume_is_langgraphs_error() -> None:
    with pytest.raises(RuntimeError, match=r"Cannot use Command\(resume=\.\.\.\) without checkpointer"):
        single().invoke(Command(resume="x"))


def test_interrupt_outside_a_run() -> None:
    with pytest.raises(NotInRunError, match="outside a graph run"):
        interrupt("anyone?")


# -- resume ------------------------------------------------------------------------------------------------


def test_resume_answers_the_interrupt() -> None:
    graph = single(InMemorySaver())
    paused = graph.invoke({"value": "a"}, config())
    assert [i.value for i in paused["__interrupt__"]] == ["about a?"]
    assert graph.invoke(Command(resume="yes"), config()) == {"value": "a|yes"}
    assert graph.get_state(config()).interrupts == ()


@pytest.mark.anyio
async def test_an_async_node_is_resumed_too() -> None:
    graph = single(InMemorySaver(), is_async=True)
    paused = await graph.ainvoke({"value": "b"}, config())
    assert [i.value for i in paused["__interrupt__"]] == ["about b?"]
    assert await graph.ainvoke(Command(resume="ok"), config()) == {"value": "b|ok"}


def test_the_interrupt_id_is_stable_until_answered() -> None:
    graph = single(InMemorySaver())
    first = graph.invoke({"value": "a"}, config())["__interrupt__"][0]
    again = graph.invoke(None, config())["__interrupt__"][0]  # runs the node again, still unanswered
    assert again == first
    assert graph.get_state(config()).interrupts == (first,)


def test_calls_in_one_node_are_answered_in_order_and_siblings_do_not_run_again() -> None:
    runs: dict[str, int] = {}
    graph = asking_graph(InMemorySaver(), runs)
    first = graph.invoke({"trail": []}, config())
    assert [i.value for i in first["__interrupt__"]] == ["first?"]
    assert first["trail"] == ["n1", "sib"]  # the sibling's write shows, its task is pending
    second = graph.invoke(Command(resume="r1"), config())
    assert [i.value for i in second["__interrupt__"]] == ["second?"]
    assert second["__interrupt__"][0].id != first["__interrupt__"][0].id
    done = graph.invoke(Command(resume="r2"), config())
    assert done == {"trail": ["n1", "ask:r1:r2", "sib", "last"]}
    assert runs == {"sib": 1}


def test_state_while_paused() -> None:
    graph = asking_graph(InMemorySaver(), {})
    graph.invoke({"trail": []}, config())
    state = graph.get_state(config())
    assert state.next == ("ask",)
    assert state.values == {"trail": ["n1", "sib"]}
    ask, sib = state.tasks
    assert [i.value for i in ask.interrupts] == ["first?"]
    assert ask.result is None
    assert sib.interrupts == ()
    assert sib.result == {"trail": ["sib"]}
    assert state.interrupts == ask.interrupts


def test_parallel_interrupts_are_answered_by_id() -> None:
    def left(state: Trail) -> dict[str, list[str]]:
        return {"trail": [f"left:{interrupt('left?')}"]}

    def right(state: Trail) -> dict[str, list[str]]:
        return {"trail": [f"right:{interrupt('right?')}"]}

    graph = (
        StateGraph(Trail)
        .add_node("left", left)
        .add_node("right", right)
        .add_edge(START, "left")
        .add_edge(START, "right")
    ).compile(checkpointer=InMemorySaver())
    paused = graph.invoke({"trail": []}, config())
    by_value = {i.value: i.id for i in paused["__interrupt__"]}
    assert sorted(by_value) == ["left?", "right?"]
    with pytest.raises(RuntimeError, match="multiple pending interrupts"):
        graph.invoke(Command(resume="one for all"), config())
    half = graph.invoke(Command(resume={by_value["left?"]: "L"}), config())
    assert [i.value for i in half["__interrupt__"]] == ["right?"]
    assert graph.invoke(Command(resume={by_value["right?"]: "R"}), config()) == {"trail": ["left:L", "right:R"]}


def test_a_resume_map_naming_an_unknown_interrupt() -> None:
    graph = single(InMemorySaver())
    waiting = graph.invoke({"value": "a"}, config())["__interrupt__"][0].id
    unknown = "0" * 32
    with pytest.raises(UnknownInterruptError, match="not waiting on") as caught:
        graph.invoke(Command(resume={unknown: "x"}), config())
    assert caught.value.interrupt_ids == (unknown,)
    assert caught.value.pending_ids == (waiting,)
    assert graph.invoke(Command(resume={waiting: "x"}), config()) == {"value": "a|x"}


def test_resume_on_a_finished_thread_runs_nothing() -> None:
    graph = single(InMemorySaver())
    graph.invoke({"value": "a"}, config())
    graph.invoke(Command(resume="yes"), config())
    assert graph.invoke(Command(resume="again"), config()) == {"value": "a|yes"}  # as LangGraph


def test_a_resume_to_a_parent_graph_is_refused() -> None:
    graph = single(InMemorySaver())
    graph.invoke({"value": "a"}, config())
    with pytest.raises(InvalidUpdateError, match="There is no parent graph"):
        graph.invoke(Command(resume="x", graph=Command.PARENT), config())


def test_a_resume_with_a_send() -> None:
    graph = single(InMemorySaver())
    graph.invoke({"value": "a"}, config())
    paused = graph.invoke(Command(resume="x", goto=Send("node", {"value": "b"})), config())
    assert paused["value"] == "a|x"  # the resumed task finished; the sent one asks
    assert [i.value for i in paused["__interrupt__"]] == ["about b?"]


def test_an_empty_command_on_a_thread() -> None:
    graph = single(InMemorySaver())
    graph.invoke({"value": "a"}, config())
    with pytest.raises(EmptyInputError, match="Received empty Command input"):
        graph.invoke(Command(), config())


def test_an_update_command_continues_a_paused_thread() -> None:
    graph = single(InMemorySaver())
    graph.invoke({"value": "a"}, config())
    paused = graph.invoke(Command(update={"value": "b"}), config())  # the node asks again, on the new state
    assert [i.value for i in paused["__interrupt__"]] == ["about b?"]
    assert graph.invoke(Command(resume="ok"), config()) == {"value": "b|ok"}


def test_a_resume_update_is_kept_until_the_task_finishes() -> None:
    def node(state: Trail) -> dict[str, list[str]]:
        return {"trail": [interrupt("one"), interrupt("two")]}

    graph = StateGraph(Trail).add_node("node", node).add_edge(START, "node").compile(checkpointer=InMemorySaver())
    graph.invoke({"trail": ["in"]}, config())
    paused = graph.invoke(Command(resume="1", update={"trail": ["extra"]}), config())
    assert paused["trail"] == ["in", "extra"]
    assert graph.get_state(config()).values == {"trail": ["in", "extra"]}
    assert graph.invoke(Command(resume="2"), config()) == {"trail": ["in", "extra", "1", "2"]}


def test_a_node_catching_everything_must_let_the_interrupt_through() -> None:
    assert issubclass(GraphInterrupt, Exception)

    def node(state: Plain) -> dict[str, str]:
        try:
            return {"value": interrupt("q")}
        except GraphInterrupt:
            raise

    graph = StateGraph(Plain).add_node("node", node).add_edge(START, "node").compile(checkpointer=InMemorySaver())
    graph.invoke({"value": "a"}, config())
    assert graph.invoke(Command(resume="z"), config()) == {"value": "z"}


# -- subgraphs and tools -----------------------------------------------------------------------------------


def test_an_interrupt_in_a_subgraph() -> None:
    def inner(state: Plain) -> dict[str, str]:
        return {"value": state["value"] + "|" + interrupt("inner?")}

    sub = StateGraph(Plain).add_node("inner", inner).add_edge(START, "inner").compile()
    graph = (
        StateGraph(Plain)
        .add_node("before", lambda state: {"value": state["value"] + "|before"})
        .add_node("sub", sub)
        .add_edge(START, "before")
        .add_edge("before", "sub")
    ).compile(checkpointer=InMemorySaver())
    chunks = list(graph.stream({"value": "0"}, config(), stream_mode="updates", subgraphs=True))
    assert chunks[0] == ((), {"before": {"value": "0|before"}})
    (inner_ns, inner_chunk), (root_ns, root_chunk) = chunks[1:]
    assert inner_ns[0].startswith("sub:") and root_ns == ()
    assert inner_chunk == root_chunk and [i.value for i in root_chunk["__interrupt__"]] == ["inner?"]
    state = graph.get_state(config())
    assert state.next == ("sub",)
    assert [i.value for i in state.interrupts] == ["inner?"]
    assert graph.invoke(Command(resume="ok"), config()) == {"value": "0|before|ok"}


def test_an_interrupt_in_a_tool_run_by_toolnode() -> None:
    @tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        answer = interrupt({"action": "delete_file", "path": path})
        return f"deleted {path}" if answer == "approve" else f"kept {path}"

    graph = (StateGraph(MessagesState).add_node("tools", ToolNode([delete_file])).add_edge(START, "tools")).compile(
        checkpointer=InMemorySaver()
    )
    tool_call: ToolCall = {"name": "delete_file", "args": {"path": "a.txt"}, "id": "c1", "type": "tool_call"}
    call = AIMessage(content="", tool_calls=[tool_call])
    paused = graph.invoke({"messages": [call]}, config())
    assert paused["__interrupt__"][0].value == {"action": "delete_file", "path": "a.txt"}
    done = graph.invoke(Command(resume="approve"), config())
    assert done["messages"][-1].content == "deleted a.txt"


# -- what the output and the stream show -------------------------------------------------------------------


def test_v2_output_and_values_parts_carry_the_interrupts() -> None:
    graph = single(InMemorySaver())
    out = graph.invoke({"value": "a"}, config("v2"), version="v2")
    assert isinstance(out, GraphOutput)
    assert out.value == {"value": "a"}
    assert [i.value for i in out.interrupts] == ["about a?"]
    parts = list(graph.stream({"value": "a"}, config("v2s"), stream_mode="values", version="v2"))
    assert [(p["data"], [i.value for i in p["interrupts"]]) for p in parts] == [
        ({"value": "a"}, []),
        ({"value": "a"}, ["about a?"]),
    ]


def test_updates_values_and_tasks_chunks() -> None:
    graph = single(InMemorySaver())
    chunks = list(graph.stream({"value": "a"}, config(), stream_mode=["values", "updates", "tasks"]))
    modes = [mode for mode, _ in chunks]
    assert modes == ["values", "tasks", "updates", "values", "tasks"]  # updates first, as LangGraph
    update = chunks[2][1]
    [found] = update["__interrupt__"]
    assert chunks[3][1] == {"value": "a", "__interrupt__": (found,)}
    assert chunks[4][1] == {
        "id": chunks[1][1]["id"],
        "name": "node",
        "error": None,
        "result": {},
        "interrupts": [{"value": "about a?", "id": found.id, "response_schema": None}],
    }


def test_a_resumed_sibling_is_streamed_as_cached() -> None:
    graph = asking_graph(InMemorySaver(), {})
    graph.invoke({"trail": []}, config())
    chunks = list(graph.stream(Command(resume="r1"), config(), stream_mode="updates"))
    assert chunks[0] == {"sib": {"trail": ["sib"]}, "__metadata__": {"cached": True}}
    assert [i.value for i in chunks[1]["__interrupt__"]] == ["second?"]


@pytest.mark.anyio
async def test_interrupted_and_resumed_events() -> None:
    graph = single(InMemorySaver())

    async def events(graph_input: Any) -> list[Event]:
        async with graph.start(graph_input, config()) as run:
            sub = run.subscribe(overflow="block")
            await run.result()
            return [event async for event in sub]

    first = await events({"value": "a"})
    [paused] = [e for e in first if isinstance(e, Interrupted)]
    assert paused.node == "node" and paused.ns == ()
    assert paused.values == {"value": "a"}
    assert [i["value"] for i in paused.interrupts] == ["about a?"]
    assert from_dict(paused.to_dict()) == paused
    second = await events(Command(resume="yes"))
    [resumed] = [e for e in second if isinstance(e, Resumed)]
    assert resumed.resume == "yes"
    assert not any(isinstance(e, Interrupted) for e in second)
    assert [e.update for e in second if isinstance(e, StateUpdate)] == [{"value": "a|yes"}]


def test_interrupt_ids_depend_on_the_task_namespace_and_the_answers() -> None:
    assert interrupt_id("node:1", 0) == interrupt_id("node:1", 0)
    assert interrupt_id("node:1", 0) != interrupt_id("node:1", 1)
    assert interrupt_id("node:1", 0) != interrupt_id("node:2", 0)
    assert is_interrupt_id(interrupt_id("x", 3))
    assert not is_interrupt_id("placeholder-id")


# -- breakpoints -----------------------------------------------------------------------------------------


def chain(**compile_kwargs: Any) -> Any:
    builder = StateGraph(Trail)
    for name in "abc":
        builder.add_node(name, lambda state, name=name: {"trail": [name]})
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c")
    return builder.compile(**compile_kwargs)


def test_interrupt_before_stops_with_the_node_next() -> None:
    graph = chain(checkpointer=InMemorySaver(), interrupt_before=["b"])
    chunks = list(graph.stream({"trail": []}, config(), stream_mode="updates"))
    assert chunks == [{"a": {"trail": ["a"]}}, {"__interrupt__": ()}]
    state = graph.get_state(config())
    assert state.next == ("b",)
    assert state.interrupts == ()
    assert graph.invoke(None, config()) == {"trail": ["a", "b", "c"]}


def test_interrupt_after_stops_once_the_node_ran() -> None:
    graph = chain(checkpointer=InMemorySaver(), interrupt_after=["a"])
    assert graph.invoke({"trail": []}, config()) == {"trail": ["a"]}  # no "__interrupt__" for a breakpoint
    assert graph.get_state(config()).next == ("b",)
    assert graph.invoke(Command(resume="go"), config()) == {"trail": ["a", "b", "c"]}


def test_every_node_is_a_breakpoint_with_a_star() -> None:
    graph = chain(checkpointer=InMemorySaver(), interrupt_before="*")
    assert graph.invoke({"trail": []}, config()) == {"trail": []}
    assert graph.invoke(None, config()) == {"trail": ["a"]}
    assert graph.invoke(None, config()) == {"trail": ["a", "b"]}


def test_breakpoints_given_to_invoke_replace_the_compiled_ones() -> None:
    graph = chain(checkpointer=InMemorySaver(), interrupt_before=["b"])
    assert graph.invoke({"trail": []}, config(), interrupt_before=["c"]) == {"trail": ["a", "b"]}
    out = graph.invoke({"trail": []}, config("2"), interrupt_after=["a"], version="v2")
    assert out == GraphOutput({"trail": ["a"]}, ())


def test_a_breakpoint_without_checkpointer_ends_the_run() -> None:
    assert chain(interrupt_after=["b"]).invoke({"trail": []}) == {"trail": ["a", "b"]}


def test_a_breakpoint_naming_no_node() -> None:
    with pytest.raises(ValueError, match="Interrupt node `zz` not found"):
        chain(interrupt_before=["zz"])
    with pytest.raises(ValueError, match="Interrupt node `zz` not found"):
        chain().invoke({"trail": []}, interrupt_after=["zz"])
    with pytest.raises(ValueError, match="a list of node names"):
        chain(interrupt_before="b")


# -- every saver ------------------------------------------------------------------------------------------

POSTGRES = os.environ.get("STREAMFLOW_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")


@contextlib.asynccontextmanager
async def open_saver(kind: str, where: Path) -> AsyncIterator[Any]:
    """A saver of ``kind``: in memory, SQLite (sync or async API) in a new file, PostgreSQL on a fresh schema."""
    if kind == "memory":
        yield InMemorySaver()
        return
    if kind == "sqlite":
        with SqliteSaver.from_conn_string(str(where / "threads.db")) as sqlite:
            yield sqlite
        return
    if kind == "sqlite-async":
        require_extra("aiosqlite", "sqlite")
        from streamflow.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with AsyncSqliteSaver.from_conn_string(str(where / "threads.db")) as aio:
            yield aio
        return
    psycopg = require_extra("psycopg", "postgres")
    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but no PostgreSQL answers at {POSTGRES!r}: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL answers at {POSTGRES!r}: {exc}")
    schema = f"sf_interrupts_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    conninfo = f"{POSTGRES} options='-c search_path={schema}'"
    try:
        if kind == "postgres":
            from streamflow.checkpoint.postgres import PostgresSaver

            with PostgresSaver.from_conn_string(conninfo) as postgres:
                postgres.setup()
                yield postgres
        else:
            from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver

            async with AsyncPostgresSaver.from_conn_string(conninfo) as aio_postgres:
                await aio_postgres.setup()
                yield aio_postgres
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["memory", "sqlite", "sqlite-async", "postgres", "postgres-async"])
async def test_pauses_and_resumes_on_every_saver(kind: str, tmp_path: Path) -> None:
    """Three questions in one node beside a sibling, a resume carrying an update, a map resume: the same
    on every saver (the answers and the pending writes go through the saver between runs)."""
    runs: dict[str, int] = {}

    def ask(state: Trail) -> dict[str, list[str]]:
        return {"trail": [interrupt("1"), interrupt("2"), interrupt("3")]}

    def sib(state: Trail) -> dict[str, list[str]]:
        runs["sib"] = runs.get("sib", 0) + 1
        return {"trail": ["sib"]}

    async with open_saver(kind, tmp_path) as saver:
        graph = (
            StateGraph(Trail).add_node("ask", ask).add_node("sib", sib).add_edge(START, "ask").add_edge(START, "sib")
        ).compile(checkpointer=saver)
        asked = [(await graph.ainvoke({"trail": []}, config()))["__interrupt__"][0]]
        asked.append((await graph.ainvoke(Command(resume="a"), config()))["__interrupt__"][0])
        asked.append((await graph.ainvoke(Command(resume="b", update={"trail": ["u"]}), config()))["__interrupt__"][0])
        assert [i.value for i in asked] == ["1", "2", "3"]
        assert (await graph.aget_state(config())).interrupts == (asked[2],)
        done = await graph.ainvoke(Command(resume={asked[2].id: "c"}), config())
        assert done == {"trail": ["u", "a", "b", "c", "sib"]}
        assert runs == {"sib": 1}


PAUSE_IN_ANOTHER_PROCESS = """
import sys
from streamflow.checkpoint.sqlite import SqliteSaver
from tests.test_interrupts import single

with SqliteSaver.from_conn_string(sys.argv[1]) as saver:
    out = single(saver).invoke({"value": "a"}, {"configurable": {"thread_id": "t"}})
    print(out["__interrupt__"][0].id)
"""


def test_a_thread_paused_by_one_process_is_resumed_by_another(tmp_path: Path) -> None:
    path = str(tmp_path / "threads.db")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", PAUSE_IN_ANOTHER_PROCESS, path], capture_output=True, text=True, env=env, check=True
    )
    asked = done.stdout.strip()
    with SqliteSaver.from_conn_string(path) as saver:
        graph = single(saver)
        assert [i.id for i in graph.get_state(config()).interrupts] == [asked]
        assert graph.invoke(Command(resume={asked: "yes"}), config()) == {"value": "a|yes"}


class Hops(TypedDict):
    log: Annotated[list[int], operator.add]


def test_a_resume_runs_the_sends_of_the_step_it_paused_in_not_an_earlier_one() -> None:
    """Each step's Send packets get a new checkpoint version: a saver that keeps channel values by version
    (InMemorySaver) hands the resumed run the packets of the step that paused."""

    def hop(state: dict[str, int]) -> dict[str, list[int]]:
        if state["n"] == 3:
            interrupt("go on?")
        return {"log": [state["n"]]}

    def again(state: Hops) -> Any:
        last = state["log"][-1]
        return Send("hop", {"n": last + 1}) if last < 3 else "__end__"

    builder = StateGraph(Hops)
    builder.add_node("hop", hop)
    builder.add_conditional_edges(START, lambda state: Send("hop", {"n": 1}))
    builder.add_conditional_edges("hop", again)
    graph = builder.compile(checkpointer=InMemorySaver())
    paused = graph.invoke({"log": []}, config("sends"))
    assert paused["log"] == [1, 2] and [i.value for i in paused["__interrupt__"]] == ["go on?"]
    assert graph.invoke(Command(resume="yes"), config("sends")) == {"log": [1, 2, 3]}


@pytest.mark.parametrize("schema", [[1, 2], object(), "not a schema"])
def test_a_response_schema_pydantic_cannot_read_is_refused_at_the_call(schema: Any) -> None:
    def ask(state: Plain) -> Plain:
        return {"value": interrupt("?", response_schema=schema)}

    graph = StateGraph(Plain).add_node("ask", ask).add_edge(START, "ask").compile(checkpointer=InMemorySaver())
    with pytest.raises(InvalidArgumentError, match=r"response_schema=\.\.\.\) takes a JSON Schema dict"):
        graph.invoke({"value": ""}, config())


def test_a_response_schema_type_validates_each_answer_and_the_bad_one_is_not_kept() -> None:
    """The first of two calls gets a bad answer: the run fails, nothing is kept; a good one resumes both in
    turn, the second call's answer validated too."""

    @dataclasses.dataclass
    class Count:
        n: int

    def ask(state: Trail) -> Trail:
        first = interrupt("first?", response_schema=Count)
        second = interrupt("second?", response_schema=Count)
        return {"trail": [f"{first.n}+{second.n}"]}

    graph = StateGraph(Trail).add_node("ask", ask).add_edge(START, "ask").compile(checkpointer=InMemorySaver())
    graph.invoke({"trail": []}, config())
    (asked,) = graph.get_state(config()).interrupts
    assert asked.response_schema == {
        "properties": {"n": {"title": "N", "type": "integer"}},
        "required": ["n"],
        "title": "Count",
        "type": "object",
    }
    with pytest.raises(pydantic.ValidationError) as caught:
        graph.invoke(Command(resume={"n": "x"}), config())
    assert is_invalid_resume(caught.value)
    assert [i.id for i in graph.get_state(config()).interrupts] == [asked.id]
    assert graph.invoke(Command(resume={"n": "1"}), config())["__interrupt__"][0].value == "second?"
    assert graph.invoke(Command(resume={"n": 2}), config()) == {"trail": ["1+2"]}
