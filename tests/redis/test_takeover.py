"""Runs that survive their worker: real worker processes killed with SIGKILL, on the local Redis and PostgreSQL.

A job taken and never started runs once, elsewhere; a run killed mid-way resumes from its last checkpoint on
another worker, and its viewer sees one stream with no gap and no duplicate; two workers racing for one
expired lease leave one winner; a run that cannot resume fails with a clear event; a worker that lost its
lease cannot write.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio
from httpx_sse import aconnect_sse

from streamflow.errors import LeaseLostError
from streamflow.events import CustomData, Event, RunCancelled, RunFailed, RunFinished, RunStarted, RunTakenOver
from streamflow.redis import RedisKeys, RedisRunDirectory, RedisSink, RemoteRun, RunQueue, decode_event
from streamflow.redis.lease import RunLease
from streamflow.server import RedisRunSource, create_app
from tests.redis.conftest import client, wait_until
from tests.redis.graphs import writer_graph
from tests.redis.peer_process import PeerProcess
from tests.server_support import Message, read_stream, serve

pytestmark = pytest.mark.anyio

STEPS = ["s1", "s2", "s3", "s4"]


class Peer(PeerProcess):
    """A worker subprocess of :mod:`tests.redis.durable_peer`; made once it printed ``ready``."""

    returncodes = (0, -signal.SIGKILL)

    def __init__(self, url: str, prefix: str, pg: str, name: str, mode: str) -> None:
        self.name = name
        super().__init__("tests.redis.durable_peer", url, prefix, pg, name, mode)
        assert self.line() == "ready", f"worker {name} did not start: {self.stderr()}"


@pytest.fixture
def start_peer(redis_url: str, prefix: str, pg: str) -> Iterator[Callable[[str, str], Peer]]:
    started: list[Peer] = []

    def start(name: str, mode: str = "ok") -> Peer:
        peer = Peer(redis_url, prefix, pg, name, mode)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
async def queue(redis_url: str, prefix: str) -> AsyncIterator[RunQueue]:
    async with RunQueue(redis_url, prefix=prefix) as q:
        yield q


async def executed(redis_url: str, prefix: str) -> list[str]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        items: Any = await client.lrange(f"{prefix}:executed", 0, -1)
        return [item.decode() for item in items]
    finally:
        await client.aclose()


async def all_events(redis_url: str, prefix: str, run_id: str) -> list[Event]:
    async with RemoteRun(redis_url, run_id, prefix=prefix, stall_timeout=60) as remote, remote.subscribe() as sub:
        return [e async for e in sub if isinstance(e, Event)]


async def until_in_s3(redis_url: str, prefix: str, run_id: str) -> None:
    """Wait until the run's stream holds node s3's progress item: the worker blocks in s3, and every event
    before it (s2's checkpoint included) is in Redis."""

    def in_s3() -> bool:
        with client() as c:
            entries: Any = c.xrange(RedisKeys(prefix).stream(run_id), "-", "+")
        events = [decode_event(fields[b"e"]) for _, fields in entries]
        return any(isinstance(e, CustomData) and e.data == {"node": "s3"} for e in events)

    await anyio.to_thread.run_sync(wait_until, in_s3, "s3 is in the stream", 60.0)


def submit_steps(queue: RunQueue, graph: str = "steps") -> Any:
    return queue.submit(graph, {"done": []}, {"configurable": {"thread_id": f"t-{uuid.uuid4().hex[:8]}"}})


async def test_a_worker_killed_after_taking_a_job_leaves_it_to_another_that_runs_it_once(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    taker = start_peer("taker", "take")
    run_id = await submit_steps(queue)
    assert taker.line() == f"took {run_id}"
    taker.kill()  # it holds the job (pending) and the run's lease, and never started the run
    start_peer("heir", "ok")
    events = await all_events(redis_url, prefix, run_id)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert events[-1].output == {"done": STEPS}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert not any(isinstance(e, RunTakenOver) for e in events)  # it never started before: a plain start
    assert await executed(redis_url, prefix) == [f"heir:{n}" for n in STEPS]
    async with RedisRunDirectory(redis_url, prefix=prefix) as directory:
        assert (await directory.require(run_id)).status == "finished"
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await client.xlen(f"{prefix}:jobs") == 0  # acknowledged and deleted once it started
        assert not await client.exists(RedisKeys(prefix).lease(run_id), RedisKeys(prefix).job(run_id))
    finally:
        await client.aclose()


async def watch(redis_url: str, prefix: str, run_id: str, seen: list[Event], stuck: anyio.Event) -> None:
    async with RemoteRun(redis_url, run_id, prefix=prefix, stall_timeout=60) as remote, remote.subscribe() as sub:
        async for item in sub:
            assert isinstance(item, Event)
            seen.append(item)
            if isinstance(item, CustomData) and item.data == {"node": "s3"}:
                stuck.set()


async def test_a_run_killed_mid_way_resumes_on_another_worker_and_its_viewer_sees_one_stream(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    dying = start_peer("dying", "stuck")
    run_id = await submit_steps(queue)
    seen: list[Event] = []
    stuck = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, redis_url, prefix, run_id, seen, stuck)
        await stuck.wait()  # the viewer has the events up to s3's progress; the worker blocks in s3
        assert dying.line() == "stuck"
        dying.kill()
        start_peer("heir", "ok")
    seqs = [e.seq for e in seen]
    assert seqs == list(range(1, len(seen) + 1))  # no gap, no duplicate across the takeover
    takeovers = [e for e in seen if isinstance(e, RunTakenOver)]
    assert len(takeovers) == 1
    (taken,) = takeovers
    assert (taken.worker, taken.attempt, taken.name) == ("heir", 2, "steps")
    assert taken.checkpoint_id is not None and taken.checkpoint_step == 2  # s1 and s2 stay done
    assert taken.previous_seq == taken.seq - 1
    assert [type(e) for e in seen].count(RunStarted) == 1
    assert isinstance(seen[-1], RunFinished) and seen[-1].output == {"done": STEPS}
    assert await executed(redis_url, prefix) == ["dying:s1", "dying:s2", "dying:s3", "heir:s3", "heir:s4"]
    assert await all_events(redis_url, prefix, run_id) == seen  # what Redis keeps is what the viewer saw
    async with RedisRunDirectory(redis_url, prefix=prefix) as directory:
        info = await directory.require(run_id)
    assert (info.status, info.last_seq) == ("finished", seqs[-1])


async def test_a_worker_with_every_slot_waiting_for_new_jobs_still_takes_over_an_expired_run(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    """The heir's only slot is taken by its wait for new jobs when the lease expires, so the run it claims
    waits in its backlog; no new job ever comes, and the backlog is still served."""
    dying = start_peer("dying", "stuck")
    run_id = await submit_steps(queue)
    await until_in_s3(redis_url, prefix, run_id)
    assert dying.line() == "stuck"
    start_peer("heir", "one-slot")  # ready: waiting for a new job in its only slot
    dying.kill()
    events = await all_events(redis_url, prefix, run_id)
    assert isinstance(events[-1], RunFinished) and events[-1].output == {"done": STEPS}
    (taken,) = [e for e in events if isinstance(e, RunTakenOver)]
    assert taken.worker == "heir"
    assert await executed(redis_url, prefix) == ["dying:s1", "dying:s2", "dying:s3", "heir:s3", "heir:s4"]


async def test_a_worker_stopped_with_sigterm_hands_its_run_to_another_that_goes_on_from_its_checkpoint(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    dying = start_peer("dying", "stuck")
    run_id = await submit_steps(queue)
    keys = RedisKeys(prefix)
    seen: list[Event] = []
    stuck = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, redis_url, prefix, run_id, seen, stuck)
        await stuck.wait()
        assert dying.line() == "stuck"
        dying.proc.send_signal(signal.SIGTERM)
        assert dying.line() == "stopped handed_over=1"
        assert await anyio.to_thread.run_sync(dying.proc.wait, 30) == 0
        client = redis.asyncio.Redis.from_url(redis_url)
        try:  # handed over, not ended: no terminal event, and the lease is offered at once (expired)
            top: Any = await client.xrevrange(keys.stream(run_id), "+", "-", count=1)
            assert not decode_event(top[0][1][b"e"]).terminal
            assert not await client.exists(keys.lease(run_id))
            assert await client.zscore(keys.leases, run_id) == 0
            assert await client.hget(keys.info(run_id), "status") == b"running"
        finally:
            await client.aclose()
        start_peer("heir", "ok")
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert not any(isinstance(e, RunCancelled | RunFailed) for e in seen)
    (taken,) = [e for e in seen if isinstance(e, RunTakenOver)]
    assert (taken.worker, taken.attempt, taken.checkpoint_step) == ("heir", 2, 2)
    assert isinstance(seen[-1], RunFinished) and seen[-1].output == {"done": STEPS}
    assert await executed(redis_url, prefix) == ["dying:s1", "dying:s2", "dying:s3", "heir:s3", "heir:s4"]
    async with RedisRunDirectory(redis_url, prefix=prefix) as directory:
        assert (await directory.require(run_id)).status == "finished"


async def test_two_workers_racing_for_one_expired_lease_leave_one_winner(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    dying = start_peer("dying", "stuck")
    run_id = await submit_steps(queue)
    assert dying.line() == "stuck"
    await until_in_s3(redis_url, prefix, run_id)
    dying.kill()
    start_peer("left", "ok")
    start_peer("right", "ok")
    events = await all_events(redis_url, prefix, run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    takeovers = [e for e in events if isinstance(e, RunTakenOver)]
    assert len(takeovers) == 1 and takeovers[0].worker in ("left", "right")
    winner = takeovers[0].worker
    assert await executed(redis_url, prefix) == ["dying:s1", "dying:s2", "dying:s3", f"{winner}:s3", f"{winner}:s4"]
    assert isinstance(events[-1], RunFinished) and events[-1].output == {"done": STEPS}


async def test_a_run_without_a_checkpointer_that_lost_its_worker_fails_with_a_clear_event(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    dying = start_peer("dying", "stuck")
    run_id = await submit_steps(queue, "plain")
    assert dying.line() == "stuck"
    await until_in_s3(redis_url, prefix, run_id)
    dying.kill()
    start_peer("heir", "ok")
    events = await all_events(redis_url, prefix, run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert "cannot be resumed: its graph has no checkpointer" in failed.error_message
    assert await executed(redis_url, prefix) == ["dying:s1", "dying:s2", "dying:s3"]
    async with RedisRunDirectory(redis_url, prefix=prefix) as directory:
        assert (await directory.require(run_id)).status == "failed"  # no phantom `running` entry


async def test_a_worker_that_lost_its_lease_cannot_write(redis_url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    keys = RedisKeys(prefix)
    try:
        first = RunLease(client, keys, "r1", "a", ttl=30)
        second = RunLease(client, keys, "r1", "b", ttl=30)
        assert await first.acquire() == 1
        assert await second.acquire() is None  # held
        await client.delete(keys.lease("r1"))  # as if it had expired
        assert await second.acquire() == 2
        assert not await first.renew()
        pipe = client.pipeline(transaction=False)
        pipe.xadd(keys.stream("r1"), {"e": b"x"}, id="1-0")
        with pytest.raises(LeaseLostError, match="lease"):
            await first.execute(pipe)
        assert not await client.exists(keys.stream("r1"))
        pipe = client.pipeline(transaction=False)
        pipe.xadd(keys.stream("r1"), {"e": b"x"}, id="1-0")
        assert await second.execute(pipe) == []
        assert await client.xlen(keys.stream("r1")) == 1
    finally:
        await client.aclose()


async def test_racing_acquisitions_of_one_lease_have_one_winner(redis_url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    keys = RedisKeys(prefix)
    won: list[int | None] = []
    try:

        async def take(name: str) -> None:
            won.append(await RunLease(client, keys, "r2", name, ttl=30).acquire())

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(take, f"w{i}")
        assert sorted(won, key=lambda v: v or 0) == [None] * 7 + [1]
    finally:
        await client.aclose()


async def read_until(web: httpx.AsyncClient, url: str, until: Callable[[Message], bool], params: Any) -> list[Message]:
    """Read SSE messages until one satisfies ``until`` (it included), then disconnect."""
    out: list[Message] = []
    async with aconnect_sse(web, "GET", url, params=params) as source:
        async for sse in source.aiter_sse():
            out.append(Message(sse.event, sse.id, sse.json()))
            if until(out[-1]):
                return out
    return out


async def test_an_sse_client_of_the_web_process_follows_the_run_across_the_takeover(
    redis_url: str, prefix: str, start_peer: Callable[[str, str], Peer]
) -> None:
    dying = start_peer("dying", "stuck")
    source = RedisRunSource(redis_url, ["steps"], prefix=prefix, stall_timeout=30, queue_timeout=30)
    async with source, serve(create_app(source)) as url, httpx.AsyncClient(base_url=url, timeout=60) as web:
        body = {"graph": "steps", "input": {"done": []}, "config": {"configurable": {"thread_id": "sse-thread"}}}
        response = await web.post("/runs", json=body)
        assert response.status_code == 201, response.text
        run_id = response.json()["run_id"]
        assert dying.line() == "stuck"
        stream = f"/runs/{run_id}/stream"
        modes = {"stream_mode": ["custom", "updates"]}
        seen = await read_until(web, stream, lambda m: m.event == "custom" and m.data["data"] == {"node": "s3"}, modes)
        dying.kill()
        start_peer("heir", "ok")
        rest = await read_stream(web, stream, params=modes, headers={"Last-Event-ID": seen[-1].id or ""})
    messages = seen + rest[1:]  # the second connection opens with its metadata message
    assert rest[0].event == "metadata" and rest[0].data["resumed_after"] == int(seen[-1].id or 0)
    ids = [int(m.id) for m in messages if m.id]
    assert ids == sorted(set(ids))  # strictly increasing: no duplicate
    assert messages[-1].event == "end" and messages[-1].data["output"] == {"done": STEPS}
    custom = [m.data["data"]["node"] for m in messages if m.event == "custom"]
    assert custom == ["s1", "s2", "s3", "s3", "s4"]  # s3 ran on both workers: it came after the last checkpoint
    updates = [next(iter(m.data["data"])) for m in messages if m.event == "updates"]
    assert updates == STEPS


async def test_a_run_executed_max_attempts_times_is_failed_not_taken_over_again(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    run_id = await submit_steps(queue)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        await client.hset(RedisKeys(prefix).job(run_id), "attempts", 3)  # three workers took it already
    finally:
        await client.aclose()
    start_peer("fourth", "ok")
    events = await all_events(redis_url, prefix, run_id)
    assert len(events) == 1 and isinstance(events[0], RunFailed)
    assert "max_attempts=3" in events[0].error_message
    assert await executed(redis_url, prefix) == []


async def test_a_run_whose_worker_died_with_no_worker_left_is_no_phantom(
    redis_url: str, prefix: str, queue: RunQueue, start_peer: Callable[[str, str], Peer]
) -> None:
    dying = start_peer("dying", "stuck")
    run_id = await submit_steps(queue)
    assert dying.line() == "stuck"
    await until_in_s3(redis_url, prefix, run_id)
    keys = RedisKeys(prefix)

    def expiring() -> bool:  # the lease renewals give the run's records an expiry
        with client() as c:
            return bool(c.pttl(keys.info(run_id)) > 0 and c.pttl(keys.stream(run_id)) > 0)

    await anyio.to_thread.run_sync(wait_until, expiring, "the run's records expire")
    dying.kill()

    def lease_gone() -> bool:
        with client() as c:
            return not c.exists(keys.lease(run_id), keys.alive(run_id))

    await anyio.to_thread.run_sync(wait_until, lease_gone, "the dead worker's lease and heartbeat expired")
    source = RedisRunSource(redis_url, ["steps"], prefix=prefix, cancel_timeout=5)
    async with source:
        info = await source.cancel(run_id)
        assert info.status == "cancelled"
        assert await source.request_cancel(run_id) is False  # over: nothing to cancel any more
    events = await all_events(redis_url, prefix, run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[-1], RunCancelled) and "no worker took the run over" in events[-1].reason


async def test_a_sink_fenced_by_a_lost_lease_fails_its_run_and_writes_nothing_more(redis_url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    keys = RedisKeys(prefix)
    gate = anyio.Event()
    try:
        async with writer_graph(100, gate).start({"n": 0}) as run:
            lease = RunLease(client, keys, run.run_id, "me", ttl=30)
            assert await lease.acquire() == 1
            sink = RedisSink(run, client, prefix=prefix, fence=lease)
            await sink.__aenter__()

            def half_written() -> bool:
                return sink.statistics().last_seq >= 50 + 2  # run and task started, then 50 items

            await anyio.to_thread.run_sync(wait_until, half_written, "half the items are in Redis")
            await client.set(keys.lease(run.run_id), b"another worker/1")  # another worker took it over
            gate.set()
            raised: list[BaseException] = []
            for step in (run.result, sink.aclose):  # the run fails, or, when it ended first, closing the sink raises
                try:
                    await step()
                except LeaseLostError as exc:
                    raised.append(exc)
            assert len(raised) == 1 and "no longer held" in str(raised[0].__cause__)
            assert isinstance(sink.error, LeaseLostError) and sink.statistics().state == "failed"
        written: Any = await client.xrange(keys.stream(run.run_id), "-", "+")
        assert len(written) == sink.statistics().last_seq  # nothing after the lease was lost
        assert not any(decode_event(fields[b"e"]).terminal for _, fields in written)
    finally:
        await client.aclose()
