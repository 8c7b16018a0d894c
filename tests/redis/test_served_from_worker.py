"""Runs executing in a worker process, served over HTTP by a web app reading them from Redis.

The worker is a real subprocess (``tests.redis.worker_peer``); the web app runs in the test's event loop
with a :class:`~streamflow.server.RedisRunSource` on the same prefix.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio
from httpx_sse import aconnect_sse

from streamflow.events import Event
from streamflow.redis import RemoteRun
from streamflow.server import RedisRunSource, create_app
from streamflow.server.errors import HIDDEN
from tests.server_support import Message, chunks, read_stream, seqs, serve
from tests.test_server_http import ALL_MODES, carried, expected

from .peer_process import PeerProcess
from .worker_peer import graphs

pytestmark = pytest.mark.anyio

QUESTION = {"messages": [{"role": "user", "content": "2+3?", "id": "m-1"}], "topic": "", "notes": []}
INPUTS = {"demo": QUESTION, "writer": {"n": 0}, "failing": {"n": 0}, "gated": {"messages": []}}


class Worker(PeerProcess):
    """A worker subprocess; ``start`` returns once it printed ``ready``."""

    returncodes = (0, -signal.SIGKILL)

    def __init__(self, url: str, prefix: str, maxlen: int = 10_000) -> None:
        super().__init__("tests.redis.worker_peer", url, prefix, str(maxlen))
        assert self.line(30) == "ready", f"the worker did not start: {self.stderr()}"


@pytest.fixture
def start_worker(redis_url: str, prefix: str) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(maxlen: int = 10_000) -> Worker:
        worker = Worker(redis_url, prefix, maxlen)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def web(redis_url: str, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    """The web app, serving from Redis (no worker yet: tests start them)."""
    source = RedisRunSource(
        redis_url, graphs(redis_url, prefix), prefix=prefix, stall_timeout=3, queue_timeout=20, cancel_timeout=10
    )
    async with source, serve(create_app(source)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
async def client(web: httpx.AsyncClient, start_worker: Callable[..., Worker]) -> httpx.AsyncClient:
    """The web app's client, with one worker running."""
    start_worker()
    return web


async def start(client: httpx.AsyncClient, graph: str = "demo") -> str:
    response = await client.post("/runs", json={"graph": graph, "input": INPUTS[graph]})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["run_id"]
    return run_id


async def events_of(redis_url: str, prefix: str, run_id: str) -> list[Event]:
    """Every event of the run, as Redis holds them (the terminal one included)."""
    async with RemoteRun(redis_url, run_id, prefix=prefix) as remote, remote.subscribe() as sub:
        return [e async for e in sub if isinstance(e, Event)]


async def open_gate(redis_url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        await client.rpush(f"{prefix}:gate", b"open")
    finally:
        await client.aclose()


async def read_until(
    client: httpx.AsyncClient, url: str, until: Callable[[Message], bool], **kwargs: Any
) -> list[Message]:
    """Read SSE messages until one satisfies ``until`` (it included), then disconnect."""
    out: list[Message] = []
    async with aconnect_sse(client, "GET", url, **kwargs) as source:
        async for sse in source.aiter_sse():
            out.append(Message(sse.event, sse.id, sse.json()))
            if until(out[-1]):
                break
    return out


def at_gate(message: Message) -> bool:
    """The gated run's second progress item: its worker now waits at the gate."""
    return message.event == "custom" and message.data["data"] == {"progress": 2}


# -- every mode equals the local view -----------------------------------------------------------------


@pytest.mark.parametrize(("modes", "subgraphs"), [([m], False) for m in ALL_MODES] + [(ALL_MODES, True)])
async def test_every_mode_served_from_the_worker_equals_the_local_view(
    client: httpx.AsyncClient, redis_url: str, prefix: str, modes: list[str], subgraphs: bool
) -> None:
    run_id = await start(client)
    params = {"stream_mode": modes, "subgraphs": str(subgraphs).lower()}
    messages = await read_stream(client, f"/runs/{run_id}/stream", params=params)
    events = await events_of(redis_url, prefix, run_id)
    assert messages[0].event == "metadata" and messages[0].data["stream_mode"] == modes
    assert messages[-1].event == "end" and messages[-1].data["status"] == "finished"
    assert carried(messages) == expected(events, modes, subgraphs)
    assert carried(messages), f"mode {modes} streamed nothing"
    assert seqs(messages)[-1] == events[-1].seq
    body = (await client.get(f"/runs/{run_id}")).json()
    assert body["status"] == "finished" and body["last_seq"] == events[-1].seq
    assert body["output"]["notes"] == ["planned", "4 messages"]


async def test_the_worker_run_streams_what_a_local_run_of_the_graph_streams(
    client: httpx.AsyncClient, redis_url: str, prefix: str
) -> None:
    from streamflow.server import RunRegistry

    params = {"stream_mode": ["updates", "custom", "values"]}
    remote = await read_stream(client, f"/runs/{await start(client, 'writer')}/stream", params=params)
    registry = RunRegistry(graphs(redis_url, prefix))
    async with registry, serve(create_app(registry)) as url, httpx.AsyncClient(base_url=url) as local_client:
        local = await read_stream(local_client, f"/runs/{await start(local_client, 'writer')}/stream", params=params)
    assert [(m.event, m.id, m.data["data"]) for m in chunks(remote)[:-1]] == [
        (m.event, m.id, m.data["data"]) for m in chunks(local)[:-1]
    ]
    assert len(chunks(remote)) > 300
    assert remote[-1].data["output"] == local[-1].data["output"] == {"n": 300}


# -- resume ---------------------------------------------------------------------------------------------


async def test_resume_with_last_event_id_mid_run_and_after_the_end(
    client: httpx.AsyncClient, redis_url: str, prefix: str
) -> None:
    run_id = await start(client, "gated")
    url = f"/runs/{run_id}/stream"
    params = {"stream_mode": ALL_MODES}
    first = await read_until(client, url, at_gate, params=params)
    assert (await client.get(f"/runs/{run_id}")).json()["status"] == "running"  # held at the gate: mid-run
    last_id = first[-1].id
    await open_gate(redis_url, prefix)
    rest = await read_stream(client, url, params=params, headers={"Last-Event-ID": last_id})
    assert rest[0].data["resumed_after"] == int(last_id)
    whole = await read_stream(client, url, params=params)
    assert carried(first) + carried(rest) == carried(whole)
    assert seqs(chunks(first) + chunks(rest)) == seqs(chunks(whole))
    assert [m.data["data"]["progress"] for m in chunks(whole) if m.event == "custom"] == [1, 2, 3, 4, 5]
    assert rest[-1].event == "end"

    # after the end, at every cut, for modes with state (messages) too
    params = {"stream_mode": ["updates", "custom", "messages"]}
    whole = chunks(await read_stream(client, url, params=params))
    for i, message in enumerate(whole[:-1]):
        resumed = await read_stream(client, url, params={**params, "last_event_id": message.id})
        assert chunks(resumed) == whole[i + 1 :], f"resume after seq {message.id}"
    done = await client.get(url, params={**params, "last_event_id": whole[-1].id})
    assert done.status_code == 204


async def test_events_trimmed_from_redis_come_as_an_explicit_lag_message(
    web: httpx.AsyncClient, start_worker: Callable[..., Worker], redis_url: str, prefix: str
) -> None:
    start_worker(maxlen=10)
    run_id = await start(web, "writer")
    await read_stream(web, f"/runs/{run_id}/stream", params={"stream_mode": "updates"})  # ends with the run
    info = (await web.get(f"/runs/{run_id}")).json()
    assert info["status"] == "finished"
    first = info["first_retained_seq"]
    assert first > 1  # MAXLEN ~ trims whole nodes of the stream: some of the 300 events are gone
    messages = await read_stream(web, f"/runs/{run_id}/stream", params={"stream_mode": "custom"})
    lag = messages[1]
    assert lag.event == "lag" and lag.id == str(first - 1)
    assert lag.data == {
        "missed": first - 1,
        "first_seq": 1,
        "last_seq": first - 1,
        "reason": "trimmed from the run's Redis stream (retention) before this client read them",
    }
    assert all(int(m.id) >= first for m in chunks(messages)[1:])
    assert messages[-1].event == "end"


# -- several clients, cancel, failure, a dead worker ----------------------------------------------------


async def watch_together(client: httpx.AsyncClient, run_id: str, count: int, go: Callable[[], Any]) -> list[Any]:
    """Attach ``count`` SSE clients; once every one has seen the run wait at its gate, call ``go``."""
    results: list[list[Message]] = [[] for _ in range(count)]
    ready = 0
    all_ready = anyio.Event()

    async def watch(i: int) -> None:
        nonlocal ready
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as own:
            params = {"stream_mode": ALL_MODES}
            async with aconnect_sse(own, "GET", f"/runs/{run_id}/stream", params=params) as source:
                async for sse in source.aiter_sse():
                    results[i].append(Message(sse.event, sse.id, sse.json()))
                    if at_gate(results[i][-1]):
                        ready += 1
                        if ready == count:
                            all_ready.set()

    async with anyio.create_task_group() as tg:
        for i in range(count):
            tg.start_soon(watch, i)
        await all_ready.wait()
        await go()
    return results


async def test_several_clients_receive_identical_streams(
    client: httpx.AsyncClient, redis_url: str, prefix: str
) -> None:
    run_id = await start(client, "gated")
    results = await watch_together(client, run_id, 8, lambda: open_gate(redis_url, prefix))
    streams = [chunks(r) for r in results]
    assert all(s == streams[0] for s in streams)
    assert streams[0][-1].event == "end" and len(streams[0]) > 10


async def test_cancel_through_the_web_process_ends_the_run_and_every_stream(client: httpx.AsyncClient) -> None:
    run_id = await start(client, "gated")
    answers: list[httpx.Response] = []

    async def cancel() -> None:
        answers.append(await client.post(f"/runs/{run_id}/cancel"))

    results = await watch_together(client, run_id, 3, cancel)
    assert answers[0].status_code == 200 and answers[0].json()["status"] == "cancelled"
    for messages in results:
        assert messages[-1].event == "cancelled"
        assert messages[-1].data == {
            "status": "cancelled",
            "seq": int(messages[-1].id),
            "reason": "the run was cancelled",
        }
    assert (await client.get(f"/runs/{run_id}")).json()["status"] == "cancelled"
    again = await client.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


async def test_a_run_cancelled_while_queued_never_starts(
    web: httpx.AsyncClient, start_worker: Callable[..., Worker], redis_url: str, prefix: str
) -> None:
    source = RedisRunSource(redis_url, ["gated"], prefix=prefix, cancel_timeout=0.2)
    async with source:
        info = await source.start("gated", {"messages": []}, None)
        assert (info.status, info.last_seq, info.first_retained_seq, info.finished_at) == ("queued", 0, None, None)
        assert (await web.get(f"/runs/{info.run_id}")).json() == info.to_dict()  # subscribers: null
        assert [r["run_id"] for r in (await web.get("/runs", params={"status": "queued"})).json()["runs"]] == [
            info.run_id
        ]
        assert (await source.cancel(info.run_id)).status == "queued"  # no worker yet: not stopped in time
    start_worker()
    messages = await read_stream(web, f"/runs/{info.run_id}/stream", params={"stream_mode": ALL_MODES})
    assert [m.event for m in messages] == ["metadata", "cancelled"]
    assert messages[-1].data["reason"] == "the run was cancelled before it started"
    assert [type(e).__name__ for e in await events_of(redis_url, prefix, info.run_id)] == ["RunCancelled"]
    ended = (await web.get(f"/runs/{info.run_id}")).json()
    assert ended["status"] == "cancelled" and ended["created_at"] == info.created_at  # the time it was queued
    assert ended["finished_at"] >= info.created_at


async def test_a_failing_graph_ends_every_stream_with_an_error_message(client: httpx.AsyncClient) -> None:
    run_id = await start(client, "failing")
    for modes in (["updates"], ["tasks", "custom"], ALL_MODES):
        messages = await read_stream(client, f"/runs/{run_id}/stream", params={"stream_mode": modes})
        assert messages[-1].event == "error"
        assert messages[-1].data == {
            "status": "failed",
            "seq": int(messages[-1].id),
            "error_type": "builtins.ValueError",
            "error_message": HIDDEN,  # a worker's run is judged by the same policy as a local one
        }
    body = (await client.get(f"/runs/{run_id}")).json()
    assert body["status"] == "failed" and body["error"] == {"type": "ValueError", "message": HIDDEN}


async def test_a_dead_worker_ends_the_stream_with_an_error_not_silence(
    web: httpx.AsyncClient, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    run_id = await start(web, "gated")
    url = f"/runs/{run_id}/stream"
    seen = await read_until(web, url, at_gate, params={"stream_mode": "custom"})
    worker.kill()
    rest = await read_stream(web, url, params={"stream_mode": "custom"}, headers={"Last-Event-ID": seen[-1].id})
    assert [m.event for m in rest] == ["metadata", "error"]
    assert rest[-1].data["status"] == "unknown" and rest[-1].data["seq"] is None
    assert rest[-1].data["error_type"] == "streamflow.errors.NoTerminalEventError"
    assert "its worker has most likely died" in rest[-1].data["error_message"]
    assert rest[-1].id == seen[-1].id  # a reconnect would resume after what the client has


async def test_two_workers_share_the_jobs_and_each_run_executes_once(
    web: httpx.AsyncClient, start_worker: Callable[..., Worker], redis_url: str, prefix: str
) -> None:
    start_worker()
    start_worker()
    run_ids = [await start(web, "writer") for _ in range(6)]
    for run_id in run_ids:
        messages = await read_stream(web, f"/runs/{run_id}/stream", params={"stream_mode": "updates"})
        assert messages[-1].event == "end"
        events = await events_of(redis_url, prefix, run_id)
        assert [type(e).__name__ for e in events].count("RunStarted") == 1
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
    runs = (await web.get("/runs")).json()["runs"]
    assert [r["run_id"] for r in runs] == run_ids and {r["status"] for r in runs} == {"finished"}


# -- bad requests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        ("GET", "/runs/nope", {}, 404, "UnknownRunError"),
        ("GET", "/runs/nope/stream", {}, 404, "UnknownRunError"),
        ("POST", "/runs/nope/cancel", {}, 404, "UnknownRunError"),
        ("POST", "/runs", {"json": {"graph": "nope", "input": {}}}, 404, "UnknownGraphError"),
        ("POST", "/runs", {"json": {"graph": "writer", "input": {"bogus": 1}}}, 422, "InvalidUpdateError"),
        (
            "POST",
            "/runs",
            {"json": {"graph": "writer", "input": {}, "config": {"tags": "x"}}},
            422,
            "InvalidArgumentError",
        ),
        ("GET", "/runs?status=sleeping", {}, 400, "InvalidQuery"),
    ],
)
async def test_bad_requests_get_4xx_json(
    web: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any], status: int, error: str
) -> None:
    response = await web.request(method, path, **kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and body["error"] == error and body["message"]


async def test_a_cursor_beyond_the_run_and_a_taken_run_id_are_refused(web: httpx.AsyncClient) -> None:
    run_id = await start(web, "writer")  # queued: no worker, no events yet
    response = await web.get(f"/runs/{run_id}/stream", params={"last_event_id": "5"})
    assert response.status_code == 400 and "beyond" in response.json()["message"]
    again = await web.post("/runs", json={"graph": "writer", "input": {"n": 0}, "config": {"run_id": run_id}})
    assert again.status_code == 422 and "already taken" in again.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"graph": "writer", "input": {"n": ' + b"[" * 470 + b"]" * 470 + b"}}",  # the Redis source failed here
        b'{"graph": "writer", "input": {"n": "\\ud800"}}',
        b'{"graph": "writer", "input": {"n": NaN}}',
        b'{"graph": "writer", "input": {"n": 0}, "config": {"run_id": "a/b"}}',
    ],
)
async def test_bad_bodies_are_refused_before_anything_is_queued(web: httpx.AsyncClient, body: bytes) -> None:
    response = await web.post("/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422) and response.json()["error"] in ("InvalidJSON", "InvalidBody")
    listing = await web.get("/runs")
    assert listing.status_code == 200 and listing.json() == {"runs": []}
