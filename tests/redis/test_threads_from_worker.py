"""Threads served from worker processes: ``create_app(RedisRunSource(..., checkpointer=...))`` with a real
worker subprocess, its threads checkpointed in the local PostgreSQL, over real HTTP.

Creating a thread, running on it, one run at a time (across web processes, through Redis), reading its state
and history from the shared saver, resuming an interrupt with a ``Command``: as for runs in the app's process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis.asyncio

from streamflow.checkpoint.postgres.aio import AsyncPostgresSaver
from streamflow.errors import InvalidArgumentError
from streamflow.server import RedisRunSource, create_app
from streamflow.server.auth import Auth
from tests.server_support import chunks, read_stream, serve
from tests.test_server_auth import bearer, error_of, who
from tests.test_server_threads import assert_error

from .peer_process import PeerProcess
from .thread_peer import approval_graph

pytestmark = pytest.mark.anyio


class ThreadWorker(PeerProcess):
    """A :mod:`tests.redis.thread_peer` subprocess; made once it printed ``ready``."""

    def __init__(self, url: str, prefix: str, pg: str) -> None:
        super().__init__("tests.redis.thread_peer", url, prefix, pg)
        assert self.line() == "ready", f"the worker did not start: {self.stderr()}"


@pytest.fixture
def worker(redis_url: str, prefix: str, pg: str) -> Iterator[ThreadWorker]:
    started = ThreadWorker(redis_url, prefix, pg)
    yield started
    started.stop()


@pytest.fixture
async def http(redis_url: str, prefix: str, pg: str, worker: ThreadWorker) -> AsyncIterator[httpx.AsyncClient]:
    """A web app serving the worker's runs and threads (the graph given uncompiled with a saver: the app's
    checkpointer is the workers' PostgreSQL)."""
    async with AsyncPostgresSaver.from_conn_string(pg) as saver:
        source = RedisRunSource(
            redis_url,
            {"approval": approval_graph(redis_url, prefix).compile(name="approval")},
            prefix=prefix,
            checkpointer=saver,
            queue_timeout=30,
            stall_timeout=30,
        )
        async with source, serve(create_app(source)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client


async def test_a_thread_runs_in_a_worker_pauses_at_an_interrupt_and_a_command_resumes_it(
    http: httpx.AsyncClient, redis_url: str, prefix: str
) -> None:
    created = await http.post("/threads", json={"thread_id": "ask", "metadata": {"team": "ops"}})
    assert created.status_code == 201
    assert created.json()["status"] == "idle" and created.json()["metadata"] == {"team": "ops"}
    body = {"input": {"request": "wait"}, "stream_mode": ["values", "updates"]}
    first = await http.post("/threads/ask/runs", json=body)
    assert first.status_code == 201, first.text
    started = first.json()
    assert started["thread_id"] == "ask" and started["status"] in ("queued", "running")
    # one run at a time: refused while the first is queued or running, whichever route asks
    assert (await http.get("/threads/ask")).json()["status"] == "busy"
    refused = await http.post("/threads/ask/runs", json={"input": {"request": "rm"}})
    assert_error(refused, 409, "ThreadConflictError", "'ask'", started["run_id"], "one run at a time")
    config = {"configurable": {"thread_id": "ask"}}
    plain = await http.post("/runs", json={"graph": "approval", "input": {"request": "rm"}, "config": config})
    assert_error(plain, 409, "ThreadConflictError", "'ask'")
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        await client.rpush(f"{prefix}:gate", b"1")  # the worker's run goes on to the interrupt
    finally:
        await client.aclose()
    messages = chunks(await read_stream(http, started["stream_url"]))
    assert [m.event for m in messages] == ["values", "updates", "values", "updates", "values", "end"]
    [asked] = messages[3].data["data"]["__interrupt__"]
    assert asked["value"] == {"question": "run wait?"}
    assert messages[4].data["interrupts"] == [asked]
    assert (await http.get("/threads/ask")).json()["status"] == "idle"

    state = (await http.get("/threads/ask/state")).json()
    assert state["values"] == {"request": "wait", "log": ["drafted wait"]}
    assert state["next"] == ["ask"] and [i["id"] for i in state["interrupts"]] == [asked["id"]]
    assert state["metadata"]["graph_id"] == "approval"
    unknown = await http.post("/threads/ask/runs", json={"command": {"resume": {"0" * 32: "yes"}}})
    assert_error(unknown, 422, "UnknownInterruptError", "not waiting on", asked["id"])

    resume = {"command": {"resume": {asked["id"]: "approved"}}, "stream_mode": ["values"]}
    resumed = (await http.post("/threads/ask/runs", json=resume)).json()
    messages = chunks(await read_stream(http, resumed["stream_url"]))
    final = {"request": "wait", "answer": "wait: approved", "log": ["drafted wait", "asked"]}
    assert messages[-2].data["data"] == final and messages[-1].event == "end"
    state = (await http.get("/threads/ask/state")).json()
    assert state["values"] == final and state["next"] == [] and state["interrupts"] == []
    again = await http.post("/threads/ask/runs", json={"command": {"resume": "yes"}})
    assert_error(again, 422, "InvalidArgumentError", "'ask' is not interrupted")

    history = (await http.get("/threads/ask/history")).json()["history"]
    steps = [snapshot["metadata"]["step"] for snapshot in history]
    assert steps == sorted(steps, reverse=True) and steps[-1] == -1  # newest first, down to the input
    assert history[0]["values"] == final
    newest = history[0]["config"]["configurable"]["checkpoint_id"]
    older = (await http.get("/threads/ask/history", params={"before": newest, "limit": 1})).json()
    assert older["history"] == history[1:2]
    thread = (await http.get("/threads/ask")).json()
    assert (thread["run_id"], thread["graph"]) == (resumed["run_id"], "approval")


async def test_a_thread_the_saver_holds_is_found_by_a_web_process_that_never_created_it(
    http: httpx.AsyncClient,
    redis_url: str,
    prefix: str,
    pg: str,
) -> None:
    await http.post("/threads", json={"thread_id": "seen"})
    run = (await http.post("/threads/seen/runs", json={"input": {"request": "go"}})).json()
    await read_stream(http, run["stream_url"])
    graphs = {"approval": approval_graph(redis_url, prefix).compile(name="approval")}
    async with (
        AsyncPostgresSaver.from_conn_string(pg) as saver,
        RedisRunSource(redis_url, graphs, prefix=prefix, checkpointer=saver) as other,
    ):
        app = create_app(other)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as second:
            state = (await second.get("/threads/seen/state")).json()
            assert state["values"] == {"request": "go", "log": ["drafted go"]} and state["next"] == ["ask"]
            assert (await second.get("/threads/seen")).json()["thread_id"] == "seen"
            assert_error(await second.get("/threads/unknown/state"), 404, "UnknownThreadError")


async def test_a_source_without_a_checkpointer_still_answers_the_thread_routes_501(redis_url: str, prefix: str) -> None:
    async with (
        RedisRunSource(redis_url, ["approval"], prefix=prefix) as source,
        serve(create_app(source)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        assert_error(await client.post("/threads"), 501, "ThreadsUnavailable", "checkpointer its workers share")


def test_the_checkpointer_must_be_a_saver() -> None:
    with pytest.raises(InvalidArgumentError, match="checkpointer must be a checkpoint saver"):
        RedisRunSource("redis://127.0.0.1:6379/0", ["approval"], checkpointer=object())


async def test_with_auth_a_thread_in_workers_is_its_creators_only(
    redis_url: str, prefix: str, pg: str, worker: ThreadWorker
) -> None:
    async with AsyncPostgresSaver.from_conn_string(pg) as saver:
        graphs = {"approval": approval_graph(redis_url, prefix).compile(name="approval")}
        source = RedisRunSource(redis_url, graphs, prefix=prefix, checkpointer=saver, queue_timeout=30)
        app = create_app(source, auth=Auth(who))
        async with (
            source,
            serve(app) as url,
            httpx.AsyncClient(base_url=url, headers=bearer("alice-token"), timeout=30) as alice,
            httpx.AsyncClient(base_url=url, headers=bearer("bob-token"), timeout=30) as bob,
        ):
            assert (await alice.post("/threads", json={"thread_id": "mine"})).status_code == 201
            started = (await alice.post("/threads/mine/runs", json={"input": {"request": "go"}})).json()
            await read_stream(alice, started["stream_url"])
            assert (await alice.get(f"/runs/{started['run_id']}")).json()["owner"] == "alice"
            assert (await alice.get("/threads/mine/state")).json()["next"] == ["ask"]
            config = {"configurable": {"thread_id": "mine"}}
            for response in (
                await bob.get("/threads/mine"),
                await bob.get("/threads/mine/state"),
                await bob.get("/threads/mine/history"),
                await bob.post("/threads/mine/runs", json={"command": {"resume": "yes"}}),
                await bob.post("/runs", json={"graph": "approval", "input": {"request": "x"}, "config": config}),
                await bob.get(f"/runs/{started['run_id']}"),
            ):
                assert error_of(response)[0] == 404, response.text
            assert_error(await bob.post("/threads", json={"thread_id": "mine"}), 409, "ThreadConflictError")
            history = (await alice.get("/threads/mine/history")).json()["history"]
            assert history and all(s["metadata"].get("owner") == "alice" for s in history if s["metadata"]["step"] >= 0)


async def test_two_web_processes_share_their_threads_through_redis(
    http: httpx.AsyncClient, redis_url: str, prefix: str, pg: str
) -> None:
    created = (await http.post("/threads", json={"thread_id": "both", "metadata": {"team": "ops"}})).json()
    graphs = {"approval": approval_graph(redis_url, prefix).compile(name="approval")}
    async with (
        AsyncPostgresSaver.from_conn_string(pg) as saver,
        RedisRunSource(redis_url, graphs, prefix=prefix, checkpointer=saver) as other,
        serve(create_app(other)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as second,
    ):
        seen = (await second.get("/threads/both")).json()
        assert seen == created  # no checkpoint yet: found through Redis, with its metadata
        assert_error(await second.post("/threads", json={"thread_id": "both"}), 409, "ThreadConflictError")
        run = (await second.post("/threads/both/runs", json={"input": {"request": "go"}})).json()
        await read_stream(second, run["stream_url"])
    thread = (await http.get("/threads/both")).json()
    assert (thread["run_id"], thread["graph"], thread["status"]) == (run["run_id"], "approval", "idle")
    assert (await http.get("/threads/both/state")).json()["next"] == ["ask"]
