"""Threads over real HTTP: create a thread, run graphs on it, read its state and history from the checkpointer,
one run per thread at a time, and the error shapes (uvicorn on loopback, httpx clients)."""

from __future__ import annotations

import operator
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import httpx
import pytest

from streamflow.checkpoint.base import BaseCheckpointSaver
from streamflow.checkpoint.memory import InMemorySaver
from streamflow.errors import InvalidArgumentError
from streamflow.graph import END, START, StateGraph
from streamflow.server import RunRegistry, create_app
from streamflow.server.errors import ErrorPolicy
from streamflow.types import interrupt
from tests.extras import require_extra
from tests.server_support import Gate, chunks, read_stream, serve

pytestmark = pytest.mark.anyio

POSTGRES = os.environ.get("STREAMFLOW_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")


class Counter(TypedDict, total=False):
    count: Annotated[int, operator.add]
    log: Annotated[list[str], operator.add]


def build_counter(gate: Gate | None = None) -> Any:
    """add (count + 1) -> [gate] -> note (log the count); compiled without a checkpointer."""

    def add(state: Counter) -> dict[str, Any]:
        return {"count": 1, "log": ["add"]}

    async def note(state: Counter) -> dict[str, Any]:
        if gate is not None:
            await gate.wait()
        return {"log": [f"count={state['count']}"]}

    return (
        StateGraph(Counter)
        .add_node("add", add)
        .add_node("note", note)
        .add_edge(START, "add")
        .add_edge("add", "note")
        .add_edge("note", END)
        .compile(name="counter")
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app({"counter": build_counter(), "other": build_counter()})
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield http


def assert_error(response: httpx.Response, status: int, error: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["error"] == error
    for word in words:
        assert word in body["message"], body["message"]


async def run_to_end(http: httpx.AsyncClient, thread_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Start a run on the thread, read its stream to the end, and return the run's final info."""
    response = await http.post(f"/threads/{thread_id}/runs", json=body)
    assert response.status_code == 201, response.text
    started = response.json()
    messages = await read_stream(http, started["stream_url"])
    assert messages[-1].event == "end"
    info: dict[str, Any] = (await http.get(f"/runs/{started['run_id']}")).json()
    assert info["status"] == "finished"
    return info


# -- creating and reading threads ----------------------------------------------------------------------


async def test_create_thread_with_a_new_id_and_read_it_back(client: httpx.AsyncClient) -> None:
    response = await client.post("/threads")
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"thread_id", "created_at", "metadata", "status", "graph", "run_id"}
    assert uuid.UUID(created["thread_id"])
    assert created["metadata"] == {} and created["status"] == "idle" and created["run_id"] is None
    assert (await client.get(f"/threads/{created['thread_id']}")).json() == created


async def test_create_thread_with_id_and_metadata_then_a_second_time_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/threads", json={"thread_id": "t-1", "metadata": {"user": "ada"}})
    assert response.status_code == 201
    assert response.json()["thread_id"] == "t-1" and response.json()["metadata"] == {"user": "ada"}
    assert_error(await client.post("/threads", json={"thread_id": "t-1"}), 409, "ThreadConflictError", "'t-1'")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([1], ("JSON object",)),
        ({"thread": "x"}, ("unknown body fields ['thread']", "thread_id, metadata")),
        ({"thread_id": 7}, ("'thread_id' must be a non-empty string", "7")),
        ({"thread_id": ""}, ("'thread_id' must be a non-empty string",)),
        ({"metadata": [1]}, ("'metadata' must be a JSON object",)),
    ],
)
async def test_create_thread_bad_bodies_are_422_naming_what_is_allowed(
    client: httpx.AsyncClient, body: Any, words: tuple[str, ...]
) -> None:
    response = await client.post("/threads", json=body)
    assert response.status_code == 422
    assert all(word in response.json()["message"] for word in words), response.json()


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/threads", content=b"{nope", headers={"content-type": "application/json"})
    assert_error(response, 400, "InvalidJSON", "not valid JSON")


async def test_unknown_thread_is_404_on_every_thread_route(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/threads/ghost"),
        await client.get("/threads/ghost/state"),
        await client.get("/threads/ghost/history"),
        await client.post("/threads/ghost/runs", json={"graph": "counter", "input": {"count": 0}}),
    ):
        assert_error(response, 404, "UnknownThreadError", "'ghost'", "POST /threads")


# -- runs on a thread, state and history -------------------------------------------------------------


async def test_runs_on_a_thread_continue_its_state_and_the_run_routes_serve_them(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"thread_id": "t"})
    response = await client.post(
        "/threads/t/runs", json={"graph": "counter", "input": {"count": 10}, "stream_mode": ["updates", "values"]}
    )
    assert response.status_code == 201
    started = response.json()
    assert started["thread_id"] == "t" and started["graph"] == "counter"
    assert started["stream_url"].endswith(f"/runs/{started['run_id']}/stream?stream_mode=updates%2Cvalues")
    messages = chunks(await read_stream(client, started["stream_url"]))
    assert [m.event for m in messages] == ["values", "updates", "values", "updates", "values", "end"]
    first = (await client.get(f"/runs/{started['run_id']}")).json()
    assert first["output"] == {"count": 11, "log": ["add", "count=11"]}

    second = await run_to_end(client, "t", {"input": {"count": 0}})
    assert second["graph"] == "counter"  # the thread's graph when none is named
    assert second["output"] == {"count": 12, "log": ["add", "count=11", "add", "count=12"]}

    thread = (await client.get("/threads/t")).json()
    assert thread["status"] == "idle" and thread["graph"] == "counter" and thread["run_id"] == second["run_id"]

    state = (await client.get("/threads/t/state")).json()
    assert set(state) == {
        "values",
        "next",
        "config",
        "metadata",
        "created_at",
        "parent_config",
        "tasks",
        "interrupts",
    }
    assert state["values"] == second["output"]
    assert state["next"] == [] and state["tasks"] == [] and state["interrupts"] == []
    assert state["config"]["configurable"]["thread_id"] == "t"
    assert state["metadata"]["source"] == "loop" and state["metadata"]["graph_id"] == "counter"
    assert state["parent_config"]["configurable"]["thread_id"] == "t"


async def test_a_run_without_input_on_a_failed_thread_finishes_it_without_running_the_done_steps_again() -> None:
    calls: list[str] = []
    failures = ["note fails once"]

    def add(state: Counter) -> dict[str, Any]:
        calls.append("add")
        return {"count": 1}

    def note(state: Counter) -> dict[str, Any]:
        calls.append("note")
        if failures:
            raise RuntimeError(failures.pop())
        return {"log": ["noted"]}

    graph = (
        StateGraph(Counter)
        .add_node("add", add)
        .add_node("note", note)
        .add_edge(START, "add")
        .add_edge("add", "note")
        .compile()
    )
    app = create_app({"g": graph}, errors=ErrorPolicy(expose=[RuntimeError]))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/threads", json={"thread_id": "f"})
        started = (await http.post("/threads/f/runs", json={"input": {"count": 1}})).json()
        assert (await read_stream(http, started["stream_url"]))[-1].event == "error"
        failed = (await http.get(f"/runs/{started['run_id']}")).json()
        assert failed["error"] == {"type": "RuntimeError", "message": "note fails once"}
        state = (await http.get("/threads/f/state")).json()
        assert state["next"] == ["note"] and state["tasks"][0]["error"] == "RuntimeError('note fails once')"
        info = await run_to_end(http, "f", {})
        assert info["output"] == {"count": 2, "log": ["noted"]}
        assert calls == ["add", "note", "note"]


async def test_history_newest_first_with_limit_and_before(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"thread_id": "h"})
    await run_to_end(client, "h", {"graph": "counter", "input": {"count": 1}})
    history = (await client.get("/threads/h/history")).json()["history"]
    # input, after the input, after add, after note: LangGraph's four checkpoints of a two-node run
    assert [s["metadata"]["step"] for s in history] == [2, 1, 0, -1]
    assert [s["next"] for s in history] == [[], ["note"], ["add"], ["__start__"]]
    assert history[1]["tasks"][0]["name"] == "note"
    ids = [s["config"]["configurable"]["checkpoint_id"] for s in history]

    limited = (await client.get("/threads/h/history", params={"limit": 2})).json()["history"]
    assert [s["config"]["configurable"]["checkpoint_id"] for s in limited] == ids[:2]
    older = (await client.get("/threads/h/history", params={"before": ids[1]})).json()["history"]
    assert [s["config"]["configurable"]["checkpoint_id"] for s in older] == ids[2:]

    at = (await client.get("/threads/h/state", params={"checkpoint_id": ids[2]})).json()
    assert at["values"] == {"count": 1, "log": []} and at["next"] == ["add"]
    assert at["config"]["configurable"]["checkpoint_id"] == ids[2]


async def test_unknown_checkpoint_ids_are_404(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"thread_id": "c"})
    await run_to_end(client, "c", {"graph": "counter", "input": {"count": 1}})
    assert_error(
        await client.get("/threads/c/state", params={"checkpoint_id": "nope"}),
        404,
        "UnknownCheckpointError",
        "'c'",
        "'nope'",
    )
    assert_error(
        await client.get("/threads/c/history", params={"before": "nope"}), 404, "UnknownCheckpointError", "'nope'"
    )


@pytest.mark.parametrize("limit", ["0", "-1", "two", ""])
async def test_bad_history_limit_is_400(client: httpx.AsyncClient, limit: str) -> None:
    await client.post("/threads", json={"thread_id": "q"})
    response = await client.get("/threads/q/history", params={"limit": limit})
    assert_error(response, 400, "InvalidQuery", "'limit'")


async def test_a_new_thread_has_empty_state(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"thread_id": "empty"})
    state = (await client.get("/threads/empty/state", params={"graph": "counter"})).json()
    assert state["values"] == {} and state["next"] == [] and state["metadata"] is None
    assert (await client.get("/threads/empty/history", params={"graph": "counter"})).json() == {"history": []}


async def test_a_thread_without_runs_needs_the_graph_named_when_several_are_served(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"thread_id": "n"})
    response = await client.post("/threads/n/runs", json={"input": {"count": 1}})
    assert_error(response, 422, "InvalidArgumentError", "name the graph", "'counter'", "'other'")
    assert_error(await client.get("/threads/n/state"), 422, "InvalidArgumentError", "name the graph")


@pytest.mark.parametrize(
    ("body", "status", "error", "words"),
    [
        ({"graph": "nope", "input": {}}, 404, "UnknownGraphError", ("'nope'",)),
        ({"graph": "counter", "input": {"bogus": 1}}, 422, "InvalidUpdateError", ("bogus",)),
        ({"graph": "counter", "inputs": {}}, 422, "InvalidBody", ("unknown body fields ['inputs']", "command")),
        ({"graph": 3}, 422, "InvalidArgumentError", ("'graph' must be the name of a graph",)),
        ({"graph": "counter", "config": []}, 422, "InvalidArgumentError", ("'config' must be a JSON object",)),
        (
            {"graph": "counter", "input": {}, "config": {"configurable": {"thread_id": "other"}}},
            422,
            "InvalidArgumentError",
            ("'other'", "'b'", "leave it out"),
        ),
        ({"graph": "counter", "input": {}, "stream_mode": 5}, 422, "InvalidBody", ("'stream_mode'",)),
        ({"graph": "counter", "input": {}, "stream_mode": ["nope"]}, 400, "UnknownStreamModeError", ("nope",)),
        ({"input": {}, "command": {"resume": 1}}, 422, "InvalidBody", ("either 'input'", "'command'")),
        ({"command": {"answer": 1}}, 422, "InvalidBody", ("'command'", "resume", "goto")),
        ({"command": []}, 422, "InvalidBody", ("'command'",)),
    ],
)
async def test_bad_thread_run_bodies(
    client: httpx.AsyncClient, body: Any, status: int, error: str, words: tuple[str, ...]
) -> None:
    await client.post("/threads", json={"thread_id": "b"})
    assert_error(await client.post("/threads/b/runs", json=body), status, error, *words)
    assert (await client.get("/threads/b")).json()["run_id"] is None


async def test_resume_refuses_a_thread_that_is_not_interrupted(client: httpx.AsyncClient) -> None:
    await client.post("/threads", json={"thread_id": "done"})
    finished = await run_to_end(client, "done", {"graph": "counter", "input": {"count": 1}})
    response = await client.post("/threads/done/runs", json={"command": {"resume": "yes"}})
    assert_error(response, 422, "InvalidArgumentError", "'done' is not interrupted", "nothing to resume")
    assert (await client.get("/threads/done")).json()["run_id"] == finished["run_id"]


class Approval(TypedDict, total=False):
    request: str
    answer: str


def build_approval() -> Any:
    """One node that asks before it answers (``interrupt()``), with its own checkpointer."""

    def ask(state: Approval) -> dict[str, Any]:
        decision = interrupt({"question": f"run {state['request']}?"})
        return {"answer": f"{state['request']}: {decision}"}

    graph = StateGraph(Approval).add_node("ask", ask).add_edge(START, "ask")
    return graph.compile(checkpointer=InMemorySaver(), name="approval")


async def test_an_interrupt_streams_and_a_resume_command_finishes_the_thread() -> None:
    app = create_app({"approval": build_approval()})
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/threads", json={"thread_id": "ask"})
        body = {"input": {"request": "rm"}, "stream_mode": ["values", "updates"]}
        started = (await http.post("/threads/ask/runs", json=body)).json()
        messages = chunks(await read_stream(http, started["stream_url"]))
        assert [m.event for m in messages] == ["values", "updates", "values", "end"]
        assert messages[0].data["interrupts"] == []
        [asked] = messages[1].data["data"]["__interrupt__"]
        assert asked["value"] == {"question": "run rm?"}
        assert messages[2].data["data"] == {"request": "rm"}
        assert messages[2].data["interrupts"] == [asked]
        state = (await http.get("/threads/ask/state")).json()
        assert state["next"] == ["ask"]
        assert [i["id"] for i in state["interrupts"]] == [asked["id"]]
        unknown = await http.post("/threads/ask/runs", json={"command": {"resume": {"0" * 32: "yes"}}})
        assert_error(unknown, 422, "UnknownInterruptError", "not waiting on", asked["id"])
        resume = {"command": {"resume": {asked["id"]: "approved"}}, "stream_mode": ["values"]}
        resumed = (await http.post("/threads/ask/runs", json=resume)).json()
        messages = chunks(await read_stream(http, resumed["stream_url"]))
        assert messages[-2].data["data"] == {"request": "rm", "answer": "rm: approved"}
        state = (await http.get("/threads/ask/state")).json()
        assert state["next"] == [] and state["interrupts"] == []


# -- one run per thread --------------------------------------------------------------------------------


async def test_a_second_run_on_a_busy_thread_is_409_and_runs_once_the_first_ended() -> None:
    gate = Gate()
    app = create_app({"counter": build_counter(gate)})
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/threads", json={"thread_id": "busy"})
        first = (await http.post("/threads/busy/runs", json={"input": {"count": 1}})).json()
        await gate.reached.wait()
        assert (await http.get("/threads/busy")).json()["status"] == "busy"
        refused = await http.post("/threads/busy/runs", json={"input": {"count": 1}})
        assert_error(refused, 409, "ThreadConflictError", "'busy'", first["run_id"], "one run at a time")
        # the plain run route refuses a run on the same thread too
        plain = await http.post(
            "/runs", json={"graph": "counter", "input": {}, "config": {"configurable": {"thread_id": "busy"}}}
        )
        assert_error(plain, 409, "ThreadConflictError", "'busy'")
        # another thread is not held up
        await http.post("/threads", json={"thread_id": "free"})
        other = await http.post("/threads/free/runs", json={"input": {"count": 5}})
        assert other.status_code == 201
        gate.open()
        await read_stream(http, first["stream_url"])
        assert (await http.get("/threads/busy")).json()["status"] == "idle"
        second = await run_to_end(http, "busy", {"input": {"count": 1}})
        assert second["output"]["count"] == 4  # 1 + 1 from the first run, 1 + 1 from this one


# -- the checkpointer ------------------------------------------------------------------------------------


async def test_state_of_a_thread_the_saver_has_but_this_app_never_created() -> None:
    saver = InMemorySaver()
    direct = build_counter().with_checkpointer(saver)
    config = {"configurable": {"thread_id": "old"}}
    await direct.ainvoke({"count": 3}, config)
    app = create_app({"counter": build_counter()}, checkpointer=saver)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        state = (await http.get("/threads/old/state")).json()
        assert state["values"] == {"count": 4, "log": ["add", "count=4"]}
        thread = (await http.get("/threads/old")).json()
        assert thread["thread_id"] == "old" and thread["run_id"] is None
        info = await run_to_end(http, "old", {"input": {"count": 0}})
        assert info["output"]["count"] == 5


async def test_a_graph_compiled_with_its_own_saver_keeps_it() -> None:
    own = InMemorySaver()
    graph = StateGraph(Counter).add_node("add", lambda s: {"count": 1}).add_edge(START, "add").compile(own)
    app_saver = InMemorySaver()
    app = create_app({"g": graph}, checkpointer=app_saver)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/threads", json={"thread_id": "own"})
        await run_to_end(http, "own", {"input": {"count": 1}})
        assert (await http.get("/threads/own/state")).json()["values"] == {"count": 2, "log": []}
    assert list(own.list({"configurable": {"thread_id": "own"}}))
    assert not list(app_saver.list({"configurable": {"thread_id": "own"}}))


async def check_saver_round_trip(make_saver: Any) -> None:
    """Run on a thread in one app, then read and continue it in a second app on a second saver of the same store."""
    async with make_saver() as saver:
        app = create_app({"counter": build_counter()}, checkpointer=saver)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            await http.post("/threads", json={"thread_id": "kept"})
            await run_to_end(http, "kept", {"input": {"count": 7}})
    async with make_saver() as saver:
        app = create_app({"counter": build_counter(), "other": build_counter()}, checkpointer=saver)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            # a new app finds the graph that wrote the thread by the graph_id of its newest checkpoint
            state = (await http.get("/threads/kept/state")).json()
            assert state["values"] == {"count": 8, "log": ["add", "count=8"]}
            assert len((await http.get("/threads/kept/history")).json()["history"]) == 4
            info = await run_to_end(http, "kept", {"graph": "counter", "input": {"count": 0}})
            assert info["output"]["count"] == 9


async def test_threads_on_a_sqlite_saver_outlive_the_app(tmp_path: Path) -> None:
    require_extra("aiosqlite", "sqlite")
    from streamflow.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = str(tmp_path / "threads.sqlite")
    await check_saver_round_trip(lambda: AsyncSqliteSaver.from_conn_string(path))


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A libpq connection string on a fresh schema of the test server (dropped afterwards)."""
    psycopg = require_extra("psycopg", "postgres")
    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but no PostgreSQL answers at {POSTGRES!r}: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL answers at {POSTGRES!r}: {exc}")
    schema = f"sf_threads_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES} options='-c search_path={schema}'"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_threads_on_a_postgres_saver_outlive_the_app(postgres_schema: str) -> None:
    require_extra("psycopg_pool", "postgres")
    from contextlib import asynccontextmanager

    from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver

    @asynccontextmanager
    async def make_saver() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with AsyncPostgresSaver.from_conn_string(postgres_schema) as saver:
            await saver.setup()
            yield saver

    await check_saver_round_trip(make_saver)


async def test_mounted_app_gives_a_stream_url_under_its_mount() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    inner = create_app({"counter": build_counter()})
    host = Starlette(routes=[Mount("/api", app=inner)])
    async with serve(host) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.post("/api/threads", json={"thread_id": "m"})
        started = (await http.post("/api/threads/m/runs", json={"input": {"count": 1}})).json()
        assert started["stream_url"].startswith(f"{url}/api/runs/{started['run_id']}/stream")
        assert (await read_stream(http, started["stream_url"]))[-1].event == "end"
    await inner.state.source.aclose()


# -- the app's options ---------------------------------------------------------------------------------


class _Elsewhere:
    """A run source whose runs execute elsewhere (only what the thread routes touch: nothing)."""

    @property
    def graph_names(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None


async def test_thread_routes_answer_501_for_runs_executing_elsewhere() -> None:
    app = create_app(_Elsewhere())  # type: ignore[arg-type]
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        assert_error(await http.post("/threads"), 501, "ThreadsUnavailable", "this process")
        assert_error(await http.get("/threads/x/state"), 501, "ThreadsUnavailable")


def test_checkpointer_with_a_ready_registry_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match=r"\['checkpointer'\]"):
        create_app(RunRegistry({"counter": build_counter()}), checkpointer=InMemorySaver())


def test_registry_checkpointer_must_be_a_saver() -> None:
    with pytest.raises(InvalidArgumentError, match="checkpointer must be a checkpoint saver"):
        RunRegistry({}, checkpointer=object())  # type: ignore[arg-type]


def test_with_checkpointer_returns_a_bound_copy() -> None:
    graph = build_counter()
    saver = InMemorySaver()
    bound = graph.with_checkpointer(saver)
    assert bound is not graph and bound.checkpointer is saver and graph.checkpointer is None
    assert bound.nodes is graph.nodes and bound.name == "counter"
    assert bound.invoke({"count": 1}, {"configurable": {"thread_id": "x"}})["count"] == 2
    assert bound.get_state({"configurable": {"thread_id": "x"}}).values["count"] == 2
    with pytest.raises(InvalidArgumentError, match="takes a checkpoint saver"):
        graph.with_checkpointer("memory")
