"""Faults: Redis restarted mid-run, a viewer behind retention, a worker killed, Redis out of reach."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from typing import Any

import anyio
import pytest
import redis.asyncio
from structlog.testing import capture_logs

from streamflow.errors import NoTerminalEventError, StreamTrimmedError, TransportUnavailableError
from streamflow.events import CustomData, Event, RunFailed
from streamflow.redis import RedisRunDirectory, RedisSink, RemoteRun

from .conftest import RedisServer
from .graphs import writer_graph
from .test_remote_views import ROOT

pytestmark = pytest.mark.anyio

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once


async def first_seq(redis_url: str, key: str) -> int:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        entries: Any = await client.xrange(key, "-", "+", count=1)
        return int(entries[0][0].split(b"-")[0])
    finally:
        await client.aclose()


async def test_redis_restarted_mid_run_the_sink_reconnects_and_the_viewer_resumes_with_no_gap(
    prefix: str, redis_server: RedisServer
) -> None:
    redis_url = redis_server.url  # a server of the test's own: it is restarted below
    gate = anyio.Event()
    half = anyio.Event()
    seen: list[Event] = []
    async with (
        writer_graph(100, gate).start({"n": 0}) as run,
        RedisSink(run, redis_url, prefix=prefix, retry_for=60, heartbeat_interval=0.2) as sink,
        RemoteRun(redis_url, run.run_id, prefix=prefix, stall_timeout=60) as remote,
        anyio.create_task_group() as tg,
    ):

        async def view() -> None:
            async with remote.subscribe() as sub:
                async for event in sub:
                    assert isinstance(event, Event)
                    seen.append(event)
                    if isinstance(event, CustomData) and event.data["i"] == 49:
                        half.set()

        tg.start_soon(view)
        await half.wait()  # the viewer has read the first half; the run waits at its gate
        await anyio.to_thread.run_sync(redis_server.stop)
        await anyio.to_thread.run_sync(redis_server.start)  # empty: it keeps nothing on disk
        gate.set()
        assert await run.result() == {"n": 100}
    assert [e.seq for e in seen] == list(range(1, run.channel.last_seq + 1))  # no gap, no duplicate
    assert [e.data["i"] for e in seen if isinstance(e, CustomData)] == list(range(100))
    stats = sink.statistics()
    assert stats.retries >= 1  # it did lose Redis ...
    assert stats.restored >= 50  # ... and wrote back what the restarted, empty Redis no longer had
    assert (stats.state, stats.lost, sink.error) == ("done", 0, None)


async def test_a_cursor_already_trimmed_raises_naming_the_first_available_seq(redis_url: str, prefix: str) -> None:
    async with writer_graph(1000).start({"n": 0}) as run, RedisSink(run, redis_url, prefix=prefix, maxlen=10):
        await run.result()
    first = await first_seq(redis_url, f"{prefix}:run:{run.run_id}")
    assert first > 1
    async with RemoteRun(redis_url, run.run_id, prefix=prefix) as remote:
        with pytest.raises(StreamTrimmedError, match=f"first available seq is {first}") as info:
            async for _ in remote.stream("custom"):
                pass
        assert (info.value.requested, info.value.first_available) == (1, first)
        async with remote.stream("custom", after_seq=first - 1) as view:  # from there on it reads fine
            items = [chunk async for chunk in view]
        assert items == [{"i": i} for i in range(items[0]["i"], 1000)]


async def test_a_viewer_that_fell_behind_retention_gets_the_clear_error(redis_url: str, prefix: str) -> None:
    gate = anyio.Event()
    async with (
        writer_graph(1000, gate, gate_at=0).start({"n": 0}) as run,
        RedisSink(run, redis_url, prefix=prefix, maxlen=10) as sink,
        RemoteRun(redis_url, run.run_id, prefix=prefix, read_count=5) as remote,
    ):
        sub = remote.subscribe(buffer_size=1)
        got = [await sub.__anext__()]  # the viewer starts ...
        gate.set()
        await run.result()  # ... and stops reading while the run writes 1000 events and retention trims them
        await sink.wait()
        with pytest.raises(StreamTrimmedError) as info:
            async for event in sub:
                got.append(event)
        seqs = [e.seq for e in got if isinstance(e, Event)]
        assert seqs == list(range(1, len(seqs) + 1))  # everything before the error, in order, no gap
        assert info.value.requested == seqs[-1] + 1
        assert info.value.first_available == await first_seq(redis_url, f"{prefix}:run:{run.run_id}")
        assert f"first available seq is {info.value.first_available}" in str(info.value)


async def test_a_worker_killed_mid_run_leaves_viewers_a_clear_no_terminal_event_error(
    redis_url: str, prefix: str
) -> None:
    run_id = str(uuid.uuid4())
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.redis.peer", "work", redis_url, prefix, run_id, "10", "0.2"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        async with RemoteRun(redis_url, run_id, prefix=prefix, start_timeout=20, stall_timeout=1.5) as remote:
            view = remote.stream("custom")
            items = [await view.__anext__() for _ in range(10)]  # the worker has written everything it will
            assert items == [{"i": i} for i in range(10)]
            worker.send_signal(signal.SIGKILL)
            await anyio.to_thread.run_sync(worker.wait)
            with anyio.fail_after(20), pytest.raises(NoTerminalEventError, match="no terminal event") as info:
                async for _ in view:
                    pass
            assert info.value.last_seq >= 10
            assert "worker has most likely died" in str(info.value)
            async with RedisRunDirectory(redis_url, prefix=prefix) as directory:
                assert (await directory.require(run_id)).status == "running"  # it never got to say otherwise
                assert not await directory.alive(run_id)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        assert worker.stderr is not None
        worker.stderr.close()


async def test_redis_out_of_reach_fails_the_run_after_retry_for() -> None:
    gate = anyio.Event()  # never set: the run is still going when the sink gives up
    async with (
        writer_graph(5, gate).start({"n": 0}) as run,
        RedisSink(run, CLOSED_PORT_URL, retry_for=0.3) as sink,
    ):
        with pytest.raises(TransportUnavailableError, match=r"unreachable for 0\.3 s"):
            await run.result()
        events = run.events()
    assert isinstance(events[-1], RunFailed) and events[-1].error_type.endswith("TransportUnavailableError")
    stats = sink.statistics()
    assert (stats.state, stats.written) == ("failed", 0)
    assert stats.lost == run.channel.last_seq > 0
    assert stats.retries >= 1


async def test_redis_out_of_reach_after_the_run_ended_raises_from_the_sink() -> None:
    with pytest.raises(TransportUnavailableError, match=r"unreachable for 0\.3 s"):
        async with writer_graph(5).start({"n": 0}) as run, RedisSink(run, CLOSED_PORT_URL, retry_for=0.3):
            assert await run.result() == {"n": 5}  # it ended inside the sink's buffer, before the sink gave up


async def test_redis_out_of_reach_with_detach_lets_the_run_finish_and_reports_the_loss() -> None:
    with capture_logs() as logs:
        async with (
            writer_graph(5).start({"n": 0}) as run,
            RedisSink(run, CLOSED_PORT_URL, retry_for=0.3, on_unreachable="detach") as sink,
        ):
            assert await run.result() == {"n": 5}
    stats = sink.statistics()
    assert stats.state == "detached"
    assert stats.lost == run.channel.last_seq > 0
    assert isinstance(sink.error, TransportUnavailableError)
    (warning,) = [entry for entry in logs if entry["event"] == "redis_sink_detached"]
    assert warning["log_level"] == "warning" and warning["run_id"] == run.run_id
