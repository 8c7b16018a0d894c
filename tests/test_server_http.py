"""The HTTP bridge over real HTTP: uvicorn on a loopback port, httpx clients, SSE streams by ``seq``."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypedDict

import anyio
import httpx
import pytest
import structlog
from structlog.testing import LogCapture

from streamflow.errors import InvalidArgumentError
from streamflow.events import Event
from streamflow.graph import END, START, StateGraph, get_stream_writer
from streamflow.messages import add_messages
from streamflow.models import FakeChatModel
from streamflow.modes import MODES, SKIP, Chunks, ViewSpec
from streamflow.server import RunRegistry, create_app
from streamflow.server.encoding import to_jsonable
from streamflow.server.errors import HIDDEN
from tests.server_support import Gate, Message, chunks, read_stream, seqs, serve

pytestmark = pytest.mark.anyio

ALL_MODES = ["values", "updates", "custom", "tasks", "debug", "messages"]


class State(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    notes: Annotated[list[str], operator.add]


class Inner(TypedDict, total=False):
    notes: Annotated[list[str], operator.add]


def build_graph(gate: Gate | None = None, *, fail: bool = False) -> Any:
    """plan (model tokens, custom data) -> [gate] -> inner subgraph -> finish (fails when ``fail``)."""
    inner = StateGraph(Inner).add_node("inner_step", lambda s: {"notes": ["inner"]})
    inner.add_edge(START, "inner_step").add_edge("inner_step", END)

    async def plan(state: State) -> dict[str, Any]:
        model = FakeChatModel(["a plan in words"], chunk_size=3, tags=["llm"])
        message = await model.ainvoke(state["messages"])
        write = get_stream_writer()
        write({"progress": {"label": "plan", "done": 1, "total": 2}})
        if gate is not None:
            await gate.wait()
        write({"progress": {"label": "plan", "done": 2, "total": 2}})
        return {"messages": [message], "notes": ["planned"]}

    def finish(state: State) -> dict[str, Any]:
        if fail:
            raise ValueError("finish failed on purpose")
        return {"notes": ["finished"]}

    return (
        StateGraph(State)
        .add_node("plan", plan)
        .add_node("inner", inner.compile(name="inner"))
        .add_node("finish", finish)
        .add_edge(START, "plan")
        .add_edge("plan", "inner")
        .add_edge("inner", "finish")
        .add_edge("finish", END)
        .compile(name="demo")
    )


QUESTION = {"messages": [{"role": "user", "content": "plan it"}]}


class Logs(LogCapture):
    """Captures structlog entries and lets a test wait until one with a given event name arrives."""

    def __init__(self) -> None:
        super().__init__()
        self._waiters: list[tuple[str, anyio.Event]] = []

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        for name, event in self._waiters:
            if event_dict.get("event") == name:
                event.set()
        return super().__call__(logger, method_name, event_dict)  # records the entry, then drops it

    async def wait_for(self, name: str) -> None:
        if any(e["event"] == name for e in self.entries):
            return
        event = anyio.Event()
        self._waiters.append((name, event))
        with anyio.fail_after(10):
            await event.wait()


@pytest.fixture
def logs() -> Any:
    old = structlog.get_config()
    capture = Logs()
    structlog.configure(processors=[capture])
    try:
        yield capture
    finally:
        structlog.configure(**old)


Client = Callable[..., Any]


@pytest.fixture
async def gate() -> Gate:
    return Gate()


@pytest.fixture
async def server(gate: Gate) -> AsyncIterator[tuple[httpx.AsyncClient, RunRegistry]]:
    registry = RunRegistry(
        {
            "demo": lambda: build_graph(),
            "gated": lambda: build_graph(gate),
            "failing": lambda: build_graph(fail=True),
        }
    )
    app = create_app(registry)
    async with registry, serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client, registry


async def start(client: httpx.AsyncClient, graph: str = "demo", **extra: Any) -> str:
    response = await client.post("/runs", json={"graph": graph, "input": QUESTION, **extra})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def expected(events: list[Event], modes: list[str], subgraphs: bool = False) -> list[tuple[str, int, Any]]:
    """What the stream must carry for ``modes``: (mode, seq, v2 part) per chunk, from the run's events."""
    spec = ViewSpec.parse(modes, subgraphs, "v2")
    table = spec.table()  # one table for the whole run: modes with state (messages) see every event
    out = []
    for event in events:
        if not subgraphs and event.ns:
            continue
        for mode, project in table.get(event.__class__, ()):
            chunk = project(event)
            if chunk is SKIP:
                continue
            for item in chunk.items if isinstance(chunk, Chunks) else (chunk,):
                part = {"type": mode, "ns": list(event.ns), "data": item}
                out.append((mode, event.seq, to_jsonable(part)))
    return out


def carried(messages: list[Message]) -> list[tuple[str, int, Any]]:
    return [(m.event, int(m.id), {k: m.data[k] for k in ("type", "ns", "data")}) for m in messages if m.event in MODES]


# -- start and stream ---------------------------------------------------------------------------------


@pytest.mark.parametrize("modes", [[m] for m in ALL_MODES] + [ALL_MODES])
async def test_start_and_stream_every_mode(server: Any, modes: list[str]) -> None:
    client, registry = server
    run_id = await start(client)
    messages = await read_stream(client, f"/runs/{run_id}/stream", params={"stream_mode": modes})
    run = registry.get(run_id)
    assert messages[0].event == "metadata"
    assert messages[0].data["run_id"] == run_id and messages[0].data["stream_mode"] == modes
    assert messages[-1].event == "end" and messages[-1].data["status"] == "finished"
    assert carried(messages) == expected(run.events(), modes)
    assert carried(messages), f"mode {modes} streamed nothing"
    ids = seqs(messages)
    assert ids == sorted(ids) and ids[-1] == run.channel.last_seq
    body = (await client.get(f"/runs/{run_id}")).json()
    assert body["status"] == "finished" and body["output"]["notes"][-1] == "finished"


async def test_mode_list_as_comma_separated_values(server: Any) -> None:
    client, registry = server
    run_id = await start(client)
    messages = await read_stream(client, f"/runs/{run_id}/stream", params={"stream_mode": "updates,custom"})
    assert carried(messages) == expected(registry.get(run_id).events(), ["updates", "custom"])


async def test_subgraphs_node_and_tag_filters(server: Any) -> None:
    client, registry = server
    run_id = await start(client)
    url = f"/runs/{run_id}/stream"
    nested = await read_stream(client, url, params={"stream_mode": "updates", "subgraphs": "true"})
    assert carried(nested) == expected(registry.get(run_id).events(), ["updates"], subgraphs=True)
    assert any(m.data["ns"] and m.data["ns"][0].startswith("inner:") for m in chunks(nested) if m.event == "updates")

    by_node = await read_stream(client, url, params={"stream_mode": "updates", "node": "finish"})
    assert [m.data["data"] for m in chunks(by_node)[:-1]] == [{"finish": {"notes": ["finished"]}}]

    by_tag = await read_stream(client, url, params={"stream_mode": ["messages", "updates"], "tag": "llm"})
    assert {m.event for m in chunks(by_tag)[:-1]} == {"messages"}
    assert "".join(m.data["data"][0]["content"] for m in chunks(by_tag)[:-1]) == "a plan in words"
    assert by_tag[-1].event == "end"


# -- resume -------------------------------------------------------------------------------------------


async def test_resume_with_last_event_id_mid_run(server: Any, gate: Gate) -> None:
    client, registry = server
    run_id = await start(client, "gated")
    url = f"/runs/{run_id}/stream"
    params = {"stream_mode": ALL_MODES}
    await gate.reached.wait()  # the run is held mid-way: tokens and the first progress are out
    run = registry.get(run_id)
    published = run.channel.last_seq
    first = await read_stream(client, url, params=params, limit=6)  # metadata + 5, then disconnect
    assert not run.done
    last_id = first[-1].id
    assert 0 < int(last_id) < published

    gate.open()
    rest = await read_stream(client, url, params=params, headers={"Last-Event-ID": last_id})
    assert rest[0].data["resumed_after"] == int(last_id)
    whole = await read_stream(client, url, params=params)
    assert carried(first) + carried(rest) == carried(whole)
    assert seqs(chunks(first) + chunks(rest)) == seqs(chunks(whole))
    assert rest[-1].event == "end"


async def test_header_wins_over_query_parameter(server: Any) -> None:
    client, _ = server
    run_id = await start(client)
    url = f"/runs/{run_id}/stream"
    whole = chunks(await read_stream(client, url, params={"stream_mode": "updates"}))
    cut = whole[1].id
    resumed = await read_stream(
        client, url, params={"stream_mode": "updates", "last_event_id": "0"}, headers={"Last-Event-ID": cut}
    )
    assert chunks(resumed) == whole[2:]


async def test_resume_after_the_run_ended_at_every_cut(server: Any) -> None:
    client, _ = server
    run_id = await start(client)
    url = f"/runs/{run_id}/stream"
    params = {"stream_mode": ["updates", "custom", "messages"]}
    whole = chunks(await read_stream(client, url, params=params))
    for i, message in enumerate(whole[:-1]):
        resumed = await read_stream(client, url, params={**params, "last_event_id": message.id})
        assert chunks(resumed) == whole[i + 1 :], f"resume after seq {message.id}"
    done = await client.get(url, params={**params, "last_event_id": whole[-1].id})
    assert done.status_code == 204


async def test_trimmed_cursor_yields_an_explicit_lag_event() -> None:
    registry = RunRegistry({"demo": build_graph}, replay_size=5)
    async with registry, serve(create_app(registry)) as url, httpx.AsyncClient(base_url=url) as client:
        run_id = await start(client)
        await registry.get(run_id).wait()
        last = registry.get(run_id).channel.last_seq
        messages = await read_stream(client, f"/runs/{run_id}/stream", params={"stream_mode": "updates"})
    lag = messages[1]
    assert lag.event == "lag"
    assert lag.data == {
        "missed": last - 5,
        "first_seq": 1,
        "last_seq": last - 5,
        "reason": "evicted from the run's replay buffer before this client read them",
    }
    assert lag.id == str(last - 5)
    assert all(int(m.id) > last - 5 for m in chunks(messages)[1:])
    assert messages[-1].event == "end"


async def test_a_slow_client_catches_up_from_the_replay_buffer_without_loss() -> None:
    def burst(state: State) -> dict[str, Any]:
        write = get_stream_writer()
        for i in range(300):
            write(i)
        return {"notes": ["done"]}

    graph = StateGraph(State).add_node("burst", burst).add_edge(START, "burst").compile()
    registry = RunRegistry({"burst": graph})
    app = create_app(registry, client_buffer=4)
    async with registry, serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        run_id = await start(client, "burst")
        messages = await read_stream(client, f"/runs/{run_id}/stream", params={"stream_mode": "custom"})
    assert [m.data["data"] for m in messages if m.event == "custom"] == list(range(300))
    assert not [m for m in messages if m.event == "lag"]


# -- many clients, disconnects, cancel, failure --------------------------------------------------------


async def test_twenty_concurrent_clients_receive_identical_streams(server: Any, gate: Gate) -> None:
    client, _ = server
    run_id = await start(client, "gated")
    results: list[list[Message]] = [[] for _ in range(20)]
    connected = 0
    all_connected = anyio.Event()

    async def watch(i: int) -> None:
        nonlocal connected
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=10) as own:
            from httpx_sse import aconnect_sse

            params = {"stream_mode": ALL_MODES}
            async with aconnect_sse(own, "GET", f"/runs/{run_id}/stream", params=params) as source:
                async for sse in source.aiter_sse():
                    results[i].append(Message(sse.event, sse.id, sse.json()))
                    if sse.event == "metadata":
                        connected += 1
                        if connected == 20:
                            all_connected.set()

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(watch, i)
        await all_connected.wait()
        gate.open()
    streams = [chunks(r) for r in results]
    assert all(s == streams[0] for s in streams)
    assert streams[0][-1].event == "end" and len(streams[0]) > 20


async def test_a_disconnected_client_does_not_cancel_the_run(server: Any, gate: Gate, logs: Logs) -> None:
    client, registry = server
    run_id = await start(client, "gated")
    await gate.reached.wait()
    await read_stream(client, f"/runs/{run_id}/stream", params={"stream_mode": "custom"}, limit=2)
    await logs.wait_for("stream_detached")
    run = registry.get(run_id)
    assert run.status == "running"
    assert run.channel.statistics().subscribers == 0
    gate.open()
    await run.wait()
    assert (await client.get(f"/runs/{run_id}")).json()["status"] == "finished"


async def test_cancel_on_disconnect_when_asked(server: Any, gate: Gate, logs: Logs) -> None:
    client, registry = server
    run_id = await start(client, "gated")
    await gate.reached.wait()
    params = {"stream_mode": "custom", "cancel_on_disconnect": "true"}
    await read_stream(client, f"/runs/{run_id}/stream", params=params, limit=2)
    await logs.wait_for("run_cancelled_on_disconnect")
    await registry.get(run_id).wait()
    assert (await client.get(f"/runs/{run_id}")).json()["status"] == "cancelled"


async def test_cancel_stops_the_run_and_ends_every_stream(server: Any, gate: Gate) -> None:
    client, _ = server
    run_id = await start(client, "gated")
    await gate.reached.wait()
    results: list[list[Message]] = [[] for _ in range(3)]
    connected = 0
    all_connected = anyio.Event()

    async def watch(i: int) -> None:
        nonlocal connected
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=10) as own:
            from httpx_sse import aconnect_sse

            async with aconnect_sse(own, "GET", f"/runs/{run_id}/stream", params={"stream_mode": "updates"}) as src:
                async for sse in src.aiter_sse():
                    results[i].append(Message(sse.event, sse.id, sse.json()))
                    if sse.event == "metadata":
                        connected += 1
                        if connected == len(results):
                            all_connected.set()

    async with anyio.create_task_group() as tg:
        for i in range(len(results)):
            tg.start_soon(watch, i)
        await all_connected.wait()
        response = await client.post(f"/runs/{run_id}/cancel")
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
    for messages in results:
        assert messages[-1].event == "cancelled"
        assert messages[-1].data["status"] == "cancelled"
    again = await client.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


async def test_a_failing_graph_ends_every_stream_with_an_error_event(server: Any) -> None:
    client, _ = server
    run_id = await start(client, "failing")
    streams = []
    for modes in (["updates"], ["tasks", "custom"], ALL_MODES):
        streams.append(await read_stream(client, f"/runs/{run_id}/stream", params={"stream_mode": modes}))
    for messages in streams:
        assert messages[-1].event == "error"
        assert messages[-1].data == {
            "status": "failed",
            "seq": int(messages[-1].id),
            "error_type": "builtins.ValueError",
            "error_message": HIDDEN,  # the default policy exposes streamflow's own errors' messages only
        }
    body = (await client.get(f"/runs/{run_id}")).json()
    assert body["status"] == "failed"
    assert body["error"] == {"type": "ValueError", "message": HIDDEN}


async def test_list_and_graphs(server: Any) -> None:
    client, _ = server
    first = await start(client)
    second = await start(client)
    assert (await client.get("/graphs")).json() == {"graphs": ["demo", "failing", "gated"]}
    runs = (await client.get("/runs")).json()["runs"]
    assert [r["run_id"] for r in runs] == [first, second]
    assert {r["graph"] for r in runs} == {"demo"}


# -- bad requests --------------------------------------------------------------------------------------

JSON = {"content-type": "application/json"}
TEXT = {"content-type": "text/plain"}
BAD_REQUESTS = [
    ("POST", "/runs", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "InvalidJSON"),
    (
        "POST",
        "/runs",
        {"content": b'{"graph": "demo"}', "headers": {"content-type": "text/plain"}},
        415,
        "UnsupportedMediaType",
    ),
    ("POST", "/runs", {"json": [1, 2]}, 422, "InvalidBody"),
    ("POST", "/runs", {"json": {"input": {}}}, 422, "InvalidBody"),
    ("POST", "/runs", {"json": {"graph": "demo", "inputs": {}}}, 422, "InvalidBody"),
    ("POST", "/runs", {"json": {"graph": "nope", "input": {}}}, 404, "UnknownGraphError"),
    ("POST", "/runs", {"json": {"graph": "demo", "input": {"bogus": 1}}}, 422, "InvalidUpdateError"),
    ("POST", "/runs", {"json": {"graph": "demo", "input": [1]}}, 422, "InvalidUpdateError"),
    ("POST", "/runs", {"json": {"graph": "demo", "input": {}, "config": {"tags": "x"}}}, 422, "InvalidArgumentError"),
    ("POST", "/runs", {"json": {"graph": "demo", "input": {}, "config": 3}}, 422, "InvalidBody"),
    ("GET", "/runs/nope", {}, 404, "UnknownRunError"),
    ("GET", "/runs/nope/stream", {}, 404, "UnknownRunError"),
    ("POST", "/runs/nope/cancel", {}, 404, "UnknownRunError"),
    ("GET", "/runs?status=sleeping", {}, 400, "InvalidQuery"),
    ("GET", "/nowhere", {}, 404, "HTTPException"),
    ("DELETE", "/runs", {}, 405, "HTTPException"),
]

BAD_STREAMS = [
    ({"stream_mode": "nope"}, {}, "UnknownStreamModeError", "valid modes"),
    ({"subgraphs": "maybe"}, {}, "InvalidQuery", "true or false"),
    ({"last_event_id": "x"}, {}, "InvalidQuery", "query parameter 'last_event_id'"),
    ({}, {"Last-Event-ID": "-3"}, "InvalidQuery", "Last-Event-ID header"),
    ({"last_event_id": "100000"}, {}, "InvalidQuery", "beyond"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "error"), BAD_REQUESTS)
async def test_bad_requests_get_4xx_json(
    server: Any, method: str, path: str, kwargs: dict[str, Any], status: int, error: str
) -> None:
    client, _ = server
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and body["error"] == error and body["message"]


@pytest.mark.parametrize(("params", "headers", "error", "says"), BAD_STREAMS)
async def test_bad_stream_requests_get_400_json(
    server: Any, params: dict[str, str], headers: dict[str, str], error: str, says: str
) -> None:
    client, _ = server
    run_id = await start(client)
    response = await client.get(f"/runs/{run_id}/stream", params=params, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == error and says in body["message"]


async def test_unknown_graph_message_lists_the_graphs(server: Any) -> None:
    client, _ = server
    body = (await client.post("/runs", json={"graph": "nope", "input": {}})).json()
    assert "'demo', 'failing', 'gated'" in body["message"]


INFO_KEYS = {"run_id", "graph", "status", "created_at", "finished_at", "last_seq", "first_retained_seq", "subscribers"}


async def test_run_info_has_one_shape_and_the_outcome_only_where_read(server: Any) -> None:
    client, registry = server
    response = await client.post("/runs", json={"graph": "demo", "input": QUESTION})
    started = response.json()
    assert set(started) == INFO_KEYS and started["status"] == "running" and started["finished_at"] is None
    run = registry.get(started["run_id"])
    await run.wait()
    body = (await client.get(f"/runs/{run.run_id}")).json()
    assert set(body) == INFO_KEYS | {"output"} and body["output"] == to_jsonable(await run.result())
    assert body["created_at"] == started["created_at"] <= body["finished_at"]
    assert (body["last_seq"], body["first_retained_seq"]) == (run.channel.last_seq, 1)
    (listed,) = (await client.get("/runs", params={"status": ["finished", "failed"]})).json()["runs"]
    assert set(listed) == INFO_KEYS  # no outcome in a listing
    cancelled = (await client.post(f"/runs/{run.run_id}/cancel")).json()
    assert set(cancelled) == INFO_KEYS and cancelled["status"] == "finished"  # it had ended: nothing changes


async def test_registry_options_build_the_registry_and_are_refused_beside_a_ready_one() -> None:
    app = create_app({"demo": build_graph()}, retention=5.0, max_runs=3, replay_size=7)
    registry: RunRegistry = app.state.registry
    assert (registry.retention, registry.max_runs, registry.replay_size) == (5.0, 3, 7)
    with pytest.raises(InvalidArgumentError, match="max_runs must be a positive number of runs"):
        create_app({"demo": build_graph()}, max_runs=0)
    async with RunRegistry({"demo": build_graph()}) as ready:
        with pytest.raises(InvalidArgumentError, match=r"registry options \['max_runs'\] were given with a ready"):
            create_app(ready, max_runs=3)
