"""The web process reads each remote run once: its SSE streams share one Redis reader and its mirror.

The worker is a real subprocess (``tests.redis.worker_peer``); the web app runs in the test's event loop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from streamflow.modes import ViewSpec
from streamflow.server import RedisRunSource, create_app
from streamflow.server.mirror import MirrorPool
from streamflow.server.redis_source import MirrorStatistics
from streamflow.server.stream import StreamRequest
from tests.server_support import chunks, read_stream, serve
from tests.test_server_http import ALL_MODES, carried, expected

from .test_served_from_worker import Worker, events_of, open_gate, start, watch_together
from .worker_peer import graphs

pytestmark = pytest.mark.anyio


def web_source(redis_url: str, prefix: str, **kwargs: Any) -> RedisRunSource:
    return RedisRunSource(redis_url, graphs(redis_url, prefix), prefix=prefix, stall_timeout=3, **kwargs)


@pytest.fixture
def worker(redis_url: str, prefix: str) -> Iterator[Worker]:
    started = Worker(redis_url, prefix)
    yield started
    started.stop()


@pytest.fixture
async def served(
    redis_url: str, prefix: str, worker: Worker
) -> AsyncIterator[tuple[RedisRunSource, httpx.AsyncClient]]:
    async with (
        web_source(redis_url, prefix) as source,
        serve(create_app(source)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield source, client


async def test_clients_of_one_run_share_one_reader_and_receive_identical_streams(
    served: tuple[RedisRunSource, httpx.AsyncClient], redis_url: str, prefix: str
) -> None:
    source, client = served
    run_id = await start(client, "gated")
    during: list[MirrorStatistics] = []

    async def go() -> None:
        during.append(source.mirror_statistics())
        await open_gate(redis_url, prefix)

    results = await watch_together(client, run_id, 6, go)
    assert during == [MirrorStatistics(readers_started=1, readers_open=1, streams_attached=6, private_reads=0)]
    streams = [chunks(r) for r in results]
    assert all(s == streams[0] for s in streams)
    assert streams[0][-1].event == "end"
    assert carried(streams[0]) == expected(await events_of(redis_url, prefix, run_id), ALL_MODES)
    # the last stream out of a run that is over closed the reader
    assert source.mirror_statistics() == MirrorStatistics(
        readers_started=1, readers_open=0, streams_attached=0, private_reads=0
    )


async def test_a_cursor_older_than_the_mirror_retains_is_served_from_redis_in_full(
    redis_url: str, prefix: str, worker: Worker
) -> None:
    async with (
        web_source(redis_url, prefix, mirror_replay_size=4) as source,
        serve(create_app(source)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        run_id = await start(client, "gated")
        # a first stream holds the run's reader open: it reads up to the gate, then waits
        holder = await source.open_stream(run_id, StreamRequest(ViewSpec.parse(["custom"], False, "v2")))
        held = holder.__aiter__()
        first: list[bytes] = []
        while b'"progress":2' not in b"".join(first):
            first.append(await held.__anext__())
        await open_gate(redis_url, prefix)
        shared = source.mirrors.get(run_id)
        assert shared is not None and shared.mirror is not None
        await shared.mirror.finished()  # the reader read the whole run; the mirror keeps its last 4 events
        assert shared.mirror.first_retained_seq > 1 and shared.mirror.outcome is not None

        events = await events_of(redis_url, prefix, run_id)
        path = f"/runs/{run_id}/stream"
        whole = chunks(await read_stream(client, path, params={"stream_mode": ALL_MODES}))
        assert carried(whole) == expected(events, ALL_MODES)  # every event, none lost, though evicted here
        assert whole[-1].event == "end"
        for i in (0, 2, len(whole) - 6):  # resumed from cursors the mirror no longer retains
            resumed = await read_stream(client, path, params={"stream_mode": ALL_MODES, "last_event_id": whole[i].id})
            assert chunks(resumed) == whole[i + 1 :], f"resume after seq {whole[i].id}"
        stats = source.mirror_statistics()
        assert stats.readers_started == 1 and stats.private_reads == 4 and stats.streams_attached == 1

        # the holder, still attached, gets the rest of its stream from the mirror's buffer
        rest = [message async for message in held]
        assert b"event: end" in rest[-1]
        progress = [
            json.loads(line[len(b"data: ") :])["data"]["progress"]
            for message in first + rest
            for line in message.splitlines()
            if line.startswith(b'data: {"type":"custom"')
        ]
        assert progress == [1, 2, 3, 4, 5]
        assert source.mirror_statistics().readers_open == 0  # its last stream left a run that is over


async def test_a_stream_that_falls_behind_what_the_mirror_retains_reads_the_rest_from_redis(
    redis_url: str, prefix: str, worker: Worker
) -> None:
    async with (
        web_source(redis_url, prefix, mirror_replay_size=1) as source,
        serve(create_app(source)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        run_id = await start(client, "gated")
        # one event of buffer and one of the mirror's: a client that stops reading lags as soon as three come
        request = StreamRequest(ViewSpec.parse(["custom"], False, "v2"), buffer_size=1)
        stream = await source.open_stream(run_id, request)
        messages = stream.__aiter__()
        first: list[bytes] = []
        while b'"progress":2' not in b"".join(first):
            first.append(await messages.__anext__())
        await open_gate(redis_url, prefix)  # the rest of the run comes while the client reads nothing
        shared = source.mirrors.get(run_id)
        assert shared is not None and shared.mirror is not None
        await shared.mirror.finished()

        rest = [message async for message in messages]
        assert rest and b"event: end" in rest[-1]
        assert b"event: lag" not in b"".join(rest)  # Redis still holds them: nothing is lost
        progress = [
            json.loads(line[len(b"data: ") :])["data"]["progress"]
            for message in first + rest
            for line in message.splitlines()
            if line.startswith(b'data: {"type":"custom"')
        ]
        assert progress == [1, 2, 3, 4, 5]
        assert source.mirror_statistics().private_reads >= 1  # it fell behind what the mirror retains


class FakeMirror:
    """Stands in for a run's mirror in the pool's bookkeeping: a run still going until told otherwise."""

    def __init__(self) -> None:
        self.started = False
        self.stopped = anyio.Event()
        self.error: BaseException | None = None
        self.done = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped.set()


async def test_a_run_still_going_keeps_its_reader_while_idle_and_a_returning_stream_finds_it() -> None:
    mirrors: list[FakeMirror] = []

    async def opener(run_id: str) -> Any:
        mirrors.append(FakeMirror())
        return mirrors[-1]

    pool = MirrorPool(opener, idle_timeout=3600)
    first = pool.attach("r")
    ready: object = await first.ready()
    assert ready is mirrors[0] and mirrors[0].started
    pool.release(first)
    assert pool.statistics() == MirrorStatistics(readers_started=1, readers_open=1, streams_attached=0, private_reads=0)
    again = pool.attach("r")  # within the idle timeout: the same reader, its expiry called off
    assert again is first and len(mirrors) == 1
    pool.release(again)
    pool.close()
    assert mirrors[0].stopped.is_set() and pool.statistics().readers_open == 0

    quick = MirrorPool(opener, idle_timeout=0.001)
    shared = quick.attach("s")
    await shared.ready()
    quick.release(shared)
    with anyio.fail_after(10):
        await mirrors[-1].stopped.wait()  # the idle timeout passed with no stream: the reader was closed
    assert quick.statistics().readers_open == 0
