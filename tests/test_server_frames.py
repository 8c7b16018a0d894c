"""The frame log the SSE streams of a run share: each reader gets every frame once, in order, or an explicit
lag; streams reading it send what streams of their own would."""

from __future__ import annotations

from typing import Any, TypedDict

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.errors import InvalidArgumentError
from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.modes import ViewSpec
from streamflow.server import RunRegistry, RunStream
from streamflow.server.frames import FrameLog
from streamflow.server.sharing import SharedFrames
from streamflow.server.stream import StreamRequest

MODES = ["values", "updates", "custom", "tasks", "debug", "messages"]

append_op = st.tuples(st.just("append"), st.integers(1, 3), st.binary(max_size=3))
read_op = st.tuples(st.just("read"), st.integers(0, 3), st.integers(1, 5))
ops = st.lists(st.one_of(append_op, read_op, st.just(("trim",)), st.just(("attach",))), max_size=80)


@settings(max_examples=300, deadline=None)
@given(ops=ops, capacity=st.integers(1, 8), start=st.integers(0, 5))
def test_every_reader_gets_every_frame_once_in_order_or_an_explicit_lag(
    ops: list[tuple[Any, ...]], capacity: int, start: int
) -> None:
    log = FrameLog(start, capacity)
    appended: list[tuple[int, bytes]] = []
    cursors = [log.attach(start)]
    starts = [start]
    got: list[bytes] = [b""]
    lagged = [False]

    def read(i: int, limit: int) -> None:
        if lagged[i]:
            return
        before = cursors[i].after_seq
        result = log.read(cursors[i], limit)
        if result is None:
            # only when a frame after the cursor is no longer held
            assert any(seq > before for seq, _ in appended) and log.complete_after > before
            lagged[i] = True
            log.detach(cursors[i])  # as a stream does: it goes on without the log
            return
        data, count = result
        expected = [(s, f) for s, f in appended if s > before][:limit]
        assert count == len(expected)
        assert data == b"".join(f for _, f in expected)
        if expected:
            assert cursors[i].after_seq == expected[-1][0]
        got[i] += data

    for op in ops:
        if op[0] == "append":
            if log.closed:  # its last reader left
                continue
            seq = log.last_seq + op[1]
            log.append(seq, op[2])
            appended.append((seq, op[2]))
        elif op[0] == "read":
            read(op[1] % len(cursors), op[2])
        elif op[0] == "trim":
            log.trim()
            assert len(log) <= capacity
            live = [c.after_seq for c, lag in zip(cursors, lagged, strict=True) if not lag]
            if live:  # nothing every live reader passed is held
                assert len(log) <= len([s for s, _ in appended if s > min(live)])
        else:
            after = log.last_seq
            cursors.append(log.attach(after))
            starts.append(after)
            got.append(b"")
            lagged.append(False)
    for i in range(len(cursors)):
        read(i, len(appended) + 1)
    for i in range(len(cursors)):
        whole = b"".join(f for s, f in appended if s > starts[i])
        if lagged[i]:
            assert whole.startswith(got[i])
        else:
            assert got[i] == whole


def test_the_last_reader_out_closes_the_log_and_bad_appends_are_refused() -> None:
    log = FrameLog(0, 4)
    idle: list[bool] = []
    log.on_idle = lambda: idle.append(True)
    a, b = log.attach(0), log.attach(0)
    log.append(1, b"x")
    with pytest.raises(InvalidArgumentError, match="last seq is 1"):
        log.append(1, b"y")
    log.detach(a)
    assert not log.closed and not idle
    log.detach(b)
    log.detach(b)
    assert (log.closed, idle) == (True, [True])
    with pytest.raises(InvalidArgumentError, match="closed"):
        log.append(2, b"z")
    with pytest.raises(InvalidArgumentError, match="capacity"):
        FrameLog(0, 0)


class State(TypedDict, total=False):
    n: int


def gated_graph(events: int) -> Any:
    async def step(state: State) -> dict[str, int]:
        write = get_stream_writer()
        for i in range(events):
            write({"i": i})
            await anyio.lowlevel.checkpoint()
        return {"n": state["n"] + 1}

    builder = StateGraph(State)
    prev = START
    for name in ("a", "b", "c"):
        builder.add_node(name, step).add_edge(prev, name)
        prev = name
    return builder.compile()


async def read_all(stream: RunStream) -> bytes:
    return b"".join([part async for part in stream])


@pytest.mark.parametrize("events", [5, 200])
@settings(max_examples=15, deadline=None)
@given(modes=st.lists(st.sampled_from(MODES), min_size=1, unique=True), buffer_size=st.integers(1, 8))
def test_streams_sharing_a_frame_log_send_what_streams_of_their_own_send(
    events: int, modes: list[str], buffer_size: int
) -> None:
    """Fast readers, and one that reads nothing until the run ended (it falls out of the log and catches up
    from the replay buffer), all send byte for byte what a stream with an encoder of its own sends."""
    graph = gated_graph(events)

    async def main() -> None:
        run = graph.start({"n": 0}, replay_size=100_000)
        frames = SharedFrames()
        request = StreamRequest(ViewSpec.parse(modes, False, "v2"), buffer_size=buffer_size)
        fast = [RunStream(run, "g", request, frames) for _ in range(3)]
        slow = RunStream(run, "g", request, frames)
        slow_iter = slow.__aiter__()
        first = [await anext(slow_iter)]  # the metadata message
        results: list[bytes] = []

        async def fast_reader(stream: RunStream) -> None:
            results.append(await read_all(stream))

        async with anyio.create_task_group() as tg:
            for stream in fast:
                tg.start_soon(fast_reader, stream)
        await run.wait()
        assert slow._reading is not None  # it took a place in the shared log from the start
        log, cursor = slow._reading
        if (
            events == 200 and "custom" in modes
        ):  # it fell further behind than the log holds: the rest comes from the replay buffer
            assert log.complete_after > cursor.after_seq
        first.extend([part async for part in slow_iter])
        alone = await read_all(RunStream(run, "g", request))
        assert results == [alone] * 3
        assert b"".join(first) == alone
        frames.close()

    anyio.run(main)


def test_run_info_counts_each_stream_reading_a_shared_log_as_a_subscriber() -> None:
    gate = anyio.Event()

    async def wait(state: State) -> dict[str, int]:
        await gate.wait()
        return {"n": 1}

    graph = StateGraph(State).add_node("wait", wait).add_edge(START, "wait").compile()

    async def main() -> None:
        async with RunRegistry({"g": graph}) as registry:
            run = registry.start("g", {"n": 0})
            entry = registry.entry(run.run_id)
            request = StreamRequest(ViewSpec.parse(["values"], False, "v2"))
            streams = [RunStream(run, "g", request, entry.frames) for _ in range(3)]
            iterators = [stream.__aiter__() for stream in streams]
            for iterator in iterators:
                await anext(iterator)  # the metadata message: the stream follows the run from here
            assert all(stream._reading is not None for stream in streams)
            assert entry.info().subscribers == 3
            streams[0].close()
            assert entry.info().subscribers == 2
            gate.set()
            for iterator in iterators[1:]:
                assert b"event: end" in b"".join([part async for part in iterator])
            # the last reader out dropped the log and its encoder: a retained run holds no messages for them
            assert entry.frames._logs == {} and entry.frames._encoders == {}

    anyio.run(main)
