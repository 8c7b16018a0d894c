"""Fairness of the Redis bridge: replaying a long run from Redis lets other tasks run and honours a
cancellation even when nothing has to be waited for, in remote views and in the SSE streams a web process
serves from Redis (through the shared mirror, or reading Redis on their own)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import anyio
import httpx
import pytest

from streamflow.events import Event
from streamflow.modes import ViewSpec
from streamflow.redis import RedisSink, RemoteRun
from streamflow.redis.reader import CHECKPOINT_EVERY
from streamflow.server import create_app
from streamflow.server.redis_source import RedisRunSource
from streamflow.server.stream import WRITE_BATCH, StreamRequest
from tests.server_support import Counter, ProbedStream, Ticker, read_raw, serve

from .graphs import writer_graph

pytestmark = pytest.mark.anyio

BUFFER = 500


async def written_run(redis_url: str, prefix: str, events: int) -> str:
    """Run a writer graph of ``events`` custom items here, with its events forwarded to Redis."""
    async with writer_graph(events).start({"n": 0}) as run, RedisSink(run, redis_url, prefix=prefix) as sink:
        await run.result()
        await sink.wait()
    run_id: str = run.run_id
    return run_id


async def fill(stats: Any) -> None:
    """Wait until the reader filled the view's buffer and waits for room: every task is blocked and the
    buffer, more than half full, did not change meanwhile (the reader reads a page of 1024 events, more than
    the buffer takes, so it blocks on room before it reads Redis again)."""
    while True:
        before = stats().buffered
        await anyio.wait_all_tasks_blocked()
        if before == stats().buffered > BUFFER // 2:
            return


@pytest.mark.parametrize("kind", ["subscribe", "stream"])
async def test_draining_a_full_remote_buffer_past_a_deadline_is_cancelled(
    redis_url: str, prefix: str, kind: str
) -> None:
    run_id = await written_run(redis_url, prefix, 2_000)
    async with RemoteRun(redis_url, run_id, prefix=prefix) as remote:
        if kind == "subscribe":
            view: Any = remote.subscribe(kinds=["custom_data"], buffer_size=BUFFER)
        else:
            view = remote.stream("custom", buffer_size=BUFFER)
        async with view:
            first = await view.__anext__()
            assert (first if kind == "stream" else first.data) == {"i": 0}
            await fill(view.statistics)
            taken = 0
            with anyio.move_on_after(0):
                async for _item in view:
                    taken += 1
            # cancelled at its first checkpoint, long before the buffer ran dry
            assert 0 < taken < CHECKPOINT_EVERY
            assert view.statistics().buffered > BUFFER // 2 - CHECKPOINT_EVERY
            rest = [item async for item in view]  # the view goes on after the cancelled drain
            if kind == "subscribe":
                assert rest.pop().kind == "run_finished"
                rest = [item.data for item in rest]
            assert rest == [{"i": i} for i in range(1 + taken, 2_000)]


async def test_a_ticker_runs_while_a_remote_view_drains_its_buffer(redis_url: str, prefix: str) -> None:
    run_id = await written_run(redis_url, prefix, 2_000)
    async with (
        RemoteRun(redis_url, run_id, prefix=prefix) as remote,
        remote.stream("custom", buffer_size=BUFFER) as view,
    ):
        await view.__anext__()
        await fill(view.statistics)
        async with Ticker() as ticker:
            before = ticker.count
            for _ in range(BUFFER):
                await view.__anext__()
            assert ticker.count - before >= BUFFER // CHECKPOINT_EVERY - 1


async def test_a_resumed_remote_view_reads_the_history_it_primes_with_once(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = await written_run(redis_url, prefix, 1_000)
    reads: list[tuple[int, int]] = []
    history = RemoteRun.history

    def counted(self: RemoteRun, first: int, last: int) -> AsyncIterator[Any]:
        reads.append((first, last))
        return history(self, first, last)

    monkeypatch.setattr(RemoteRun, "history", counted)
    async with RemoteRun(redis_url, run_id, prefix=prefix, read_count=64) as remote:
        async with remote.subscribe(kinds=["custom_data"]) as sub:
            first = await sub.__anext__()
            assert isinstance(first, Event)
            offset = first.seq  # the seq of {"i": 0}
        items = [item async for item in remote.stream("custom", after_seq=499)]
    assert items == [{"i": i} for i in range(500 - offset, 1_000)]
    assert reads == [(1, 499)]


class ProbedRedisSource(RedisRunSource):
    """A Redis run source whose streams are probed (see :class:`ProbedStream`)."""

    def __init__(self, *args: Any, ticker: Ticker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticker = ticker
        self.ended = Counter()
        self.streams: list[ProbedStream] = []

    async def open_stream(self, run_id: str, request: StreamRequest) -> Any:
        probe = ProbedStream(await super().open_stream(run_id, request), self.ticker, self.ended)
        self.streams.append(probe)
        return probe


@pytest.mark.parametrize(("mirror_replay_size", "private"), [(20_000, False), (16, True)])
async def test_twenty_replays_served_from_redis_let_other_tasks_run(
    redis_url: str, prefix: str, mirror_replay_size: int, private: bool
) -> None:
    """The run's shared reader has read the whole run before the clients come: each stream replays it
    from the mirror's buffer (all of it ready at once), or, when the mirror keeps too little, from Redis."""
    events = 3_000
    run_id = await written_run(redis_url, prefix, events)
    async with Ticker() as ticker:
        source = ProbedRedisSource(
            redis_url, ["writer"], prefix=prefix, mirror_replay_size=mirror_replay_size, ticker=ticker
        )
        async with source, serve(create_app(source)) as url, httpx.AsyncClient(base_url=url) as client:
            # a first stream holds the run's shared reader open until it has read the whole run
            holder = await RedisRunSource.open_stream(source, run_id, StreamRequest(ViewSpec.parse("custom")))
            held = cast(AsyncGenerator[bytes, None], holder.__aiter__())
            await held.__anext__()  # metadata
            await held.__anext__()  # the first events: attached to the shared reader
            shared = source.mirrors.get(run_id)
            assert shared is not None
            await (await shared.ready()).finished()
            bodies: list[bytes] = []

            async def replay() -> None:
                bodies.append(await read_raw(url, f"/runs/{run_id}/stream?stream_mode=custom"))

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(replay)
            assert (await client.get("/graphs")).json() == {"graphs": ["writer"]}
            await held.aclose()
            stats = source.mirror_statistics()
    assert [body.count(b"\nevent: custom\n") for body in bodies] == [events] * 20
    assert all(b"\nevent: end\n" in body.rsplit(b"\n\n", 2)[-2] for body in bodies)
    assert (stats.readers_started, stats.private_reads) == (1, 20 if private else 0)
    assert len(source.streams) == 20
    for stream in source.streams:
        assert stream.writes >= events // WRITE_BATCH
        assert stream.span is not None and stream.span[1] > stream.span[0], stream.span
