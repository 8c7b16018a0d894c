"""A run in this process, viewed from other processes (and from this one) through Redis: the same views."""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio

from streamflow.errors import (
    InvalidArgumentError,
    NotSerializableError,
    RunCancelledError,
    RunFailedError,
    UnknownRunError,
)
from streamflow.events import CustomData, Event, RunCancelled, RunFailed, RunFinished, TaskFailed
from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.messages import AIMessageChunk
from streamflow.modes import SKIP, Chunks, ViewSpec
from streamflow.redis import RedisRunDirectory, RedisSink, RemoteRun, RemoteSubscription, RemoteView

from .graphs import DEMO_INPUT, CountState, demo_graph, writer_graph

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]

SPECS: list[dict[str, Any]] = [
    {"kind": "stream", "args": {"stream_mode": "values"}},
    {"kind": "stream", "args": {"stream_mode": "updates"}},
    {"kind": "stream", "args": {"stream_mode": "custom"}},
    {"kind": "stream", "args": {"stream_mode": "messages"}},
    {"kind": "stream", "args": {"stream_mode": "tasks"}},
    {"kind": "stream", "args": {"stream_mode": "debug"}},
    {"kind": "stream", "args": {"stream_mode": ["updates", "custom", "messages"], "subgraphs": True}},
    {"kind": "stream", "args": {"stream_mode": "updates", "subgraphs": True, "version": "v2"}},
    {"kind": "stream", "args": {"stream_mode": "custom", "subgraphs": True, "nodes": ["tools"]}},
    {"kind": "subscribe", "args": {}},
    {"kind": "subscribe", "args": {"kinds": ["tool_started", "tool_finished"], "subgraphs": True}},
]


def start_peer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.redis.peer", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def peer_results(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = await anyio.to_thread.run_sync(lambda: proc.communicate(timeout=60))
    assert proc.returncode == 0, err
    results: list[dict[str, Any]] = pickle.loads(base64.b64decode(out.strip().splitlines()[-1]))
    return results


async def run_with_local_views(redis_url: str, prefix: str, run_id: str, specs: list[dict[str, Any]]) -> list[Any]:
    """Run the demo graph with a Redis sink and, beside it, the same views locally; return their items."""
    local: list[list[Any]] = [[] for _ in specs]
    async with demo_graph().start(DEMO_INPUT, config={"run_id": run_id}) as run:
        views = [run.stream(**s["args"]) if s["kind"] == "stream" else run.subscribe(**s["args"]) for s in specs]
        async with RedisSink(run, redis_url, prefix=prefix) as sink, anyio.create_task_group() as tg:
            for index, view in enumerate(views):

                async def read(index: int = index, view: Any = view) -> None:
                    async with view:
                        local[index] = [item async for item in view]

                tg.start_soon(read)
            await run.result()
        assert sink.error is None
        assert sink.statistics().state == "done"
    return local


async def test_every_mode_viewed_from_another_process_equals_the_local_view(redis_url: str, prefix: str) -> None:
    run_id = str(uuid.uuid4())
    peer = start_peer("view", redis_url, prefix, run_id, json.dumps(SPECS))
    local = await run_with_local_views(redis_url, prefix, run_id, SPECS)
    remote = await peer_results(peer)
    for spec, mine, theirs in zip(SPECS, local, remote, strict=True):
        assert theirs["error"] is None, spec
        assert theirs["items"] == mine, spec
        assert isinstance(theirs["outcome"], RunFinished)
    raw = remote[SPECS.index({"kind": "subscribe", "args": {}})]["items"]
    assert [e.seq for e in raw] == list(range(1, len(raw) + 1))
    assert {type(e).__name__ for e in raw} >= {"ChatModelToken", "ToolStarted", "CustomData", "StateUpdate"}
    assert any(e.ns for e in raw)  # the agent's events come from its subgraph


async def test_several_remote_viewers_at_once_all_see_the_local_view(redis_url: str, prefix: str) -> None:
    run_id = str(uuid.uuid4())
    specs = [SPECS[1], SPECS[3], SPECS[6], SPECS[9]]
    peers = [start_peer("view", redis_url, prefix, run_id, json.dumps(specs)) for _ in range(3)]
    local = await run_with_local_views(redis_url, prefix, run_id, specs)
    for peer in peers:
        remote = await peer_results(peer)
        assert [r["items"] for r in remote] == local


async def test_a_viewer_resumes_mid_run_from_a_seq_with_no_gap_and_no_duplicate(redis_url: str, prefix: str) -> None:
    gate = anyio.Event()
    async with (
        writer_graph(100, gate).start({"n": 0}) as run,
        RedisSink(run, redis_url, prefix=prefix) as sink,
        RemoteRun(redis_url, run.run_id, prefix=prefix) as remote,
    ):
        first: list[int] = []
        after_seq = 0
        async with remote.subscribe(kinds=["custom_data"]) as sub:
            async for event in sub:
                assert isinstance(event, CustomData)
                first.append(event.data["i"])
                after_seq = event.seq
                if event.data["i"] == 49:
                    break
        assert not run.done  # the run is waiting at its gate: this really is mid-run
        gate.set()
        async with remote.stream("custom", after_seq=after_seq) as view:
            rest = [chunk["i"] async for chunk in view]
        assert first + rest == list(range(100))
        assert isinstance(view.outcome, RunFinished)
        assert await remote.result() == {"n": 100}
    assert sink.statistics().written == run.channel.last_seq


async def test_a_failed_run_ends_every_remote_view_with_its_failure(redis_url: str, prefix: str) -> None:
    async with (
        writer_graph(10, fail=True).start({"n": 0}) as run,
        RedisSink(run, redis_url, prefix=prefix),
        RemoteRun(redis_url, run.run_id, prefix=prefix) as remote,
    ):
        views: list[RemoteView | RemoteSubscription] = [
            remote.stream("custom"),
            remote.stream("updates"),
            remote.subscribe(),
        ]
        with pytest.raises(ValueError, match="boom"):
            await run.result()
        items = []
        for view in views:
            async with view:
                items.append([item async for item in view])
            assert isinstance(view.outcome, RunFailed)
            assert (view.outcome.error_type, view.outcome.error_message) == ("builtins.ValueError", "boom")
        assert items[0] == [{"i": i} for i in range(10)]
        assert items[1] == []
        assert isinstance(items[2][-1], RunFailed) and isinstance(items[2][-2], TaskFailed)
        with pytest.raises(RunFailedError, match=r"builtins\.ValueError: boom") as info:
            await remote.result()
        assert info.value.error_type == "builtins.ValueError"
        assert (await remote.info()).status == "failed"


async def test_a_cancelled_run_ends_every_remote_view_as_cancelled(redis_url: str, prefix: str) -> None:
    gate = anyio.Event()  # never set: the run waits half way until it is cancelled
    async with (
        writer_graph(20, gate).start({"n": 0}) as run,
        RedisSink(run, redis_url, prefix=prefix),
        RemoteRun(redis_url, run.run_id, prefix=prefix) as remote,
    ):
        views: list[RemoteView | RemoteSubscription] = [
            remote.stream("custom"),
            remote.stream(["custom", "values"]),
            remote.subscribe(kinds=[]),
        ]
        seen = await views[0].__anext__()
        assert seen == {"i": 0}
        run.cancel()
        await run.wait()
        for view in views:
            async with view:
                async for _ in view:
                    pass
            assert isinstance(view.outcome, RunCancelled)
        with pytest.raises(RunCancelledError):
            await remote.result()
        assert (await remote.info()).status == "cancelled"


async def test_an_unknown_run_id_raises_a_clear_error(redis_url: str, prefix: str) -> None:
    async with RemoteRun(redis_url, "no-such-run", prefix=prefix) as remote:
        with pytest.raises(UnknownRunError, match=r"no run 'no-such-run' under prefix '" + prefix):
            async for _ in remote.stream("values"):
                pass
        with pytest.raises(UnknownRunError, match="no-such-run"):
            await remote.info()
        with pytest.raises(UnknownRunError):
            await remote.result()
    async with RedisRunDirectory(redis_url, prefix=prefix) as directory:
        assert await directory.get("no-such-run") is None


async def test_a_payload_the_wire_cannot_carry_fails_at_the_writer_call(redis_url: str, prefix: str) -> None:
    caught: list[BaseException] = []
    reached: list[str] = []

    async def node(state: CountState) -> dict[str, int]:
        writer = get_stream_writer()
        try:
            writer({"handle": object()})
        except NotSerializableError as exc:
            caught.append(exc)
        writer({"ok": 1})
        writer({"rows": {1, 2}})
        reached.append("after the bad write")
        return {"n": 1}

    graph = StateGraph(CountState).add_node("node", node).add_edge(START, "node").compile()
    async with (
        graph.start({"n": 0}) as run,
        RedisSink(run, redis_url, prefix=prefix) as sink,
        RemoteRun(redis_url, run.run_id, prefix=prefix) as remote,
    ):
        with pytest.raises(NotSerializableError, match=r"custom data\['rows'\] is of type builtins.set"):
            await run.result()
        assert "builtins.object" in str(caught[0]) and "custom data['handle']" in str(caught[0])
        assert reached == []
        async with remote.stream("custom") as view:
            assert [chunk async for chunk in view] == [{"ok": 1}]
        assert isinstance(view.outcome, RunFailed) and view.outcome.error_type.endswith("NotSerializableError")
    assert sink.error is None  # refused at the call: nothing unserialisable ever reached the sink


async def test_without_a_sink_the_writer_takes_any_payload() -> None:
    async def node(state: CountState) -> dict[str, int]:
        get_stream_writer()({"handle": object})
        return {"n": 1}

    graph = StateGraph(CountState).add_node("node", node).add_edge(START, "node").compile()
    assert [chunk async for chunk in graph.astream({"n": 0}, stream_mode="custom")] == [{"handle": object}]


async def test_the_directory_records_runs_and_their_end(redis_url: str, prefix: str) -> None:
    gate = anyio.Event()
    async with (
        writer_graph(4, gate).start({"n": 0}) as run,
        RedisSink(run, redis_url, prefix=prefix, ttl=120) as sink,
        RedisRunDirectory(redis_url, prefix=prefix) as directory,
    ):
        info = await directory.require(run.run_id)
        assert (info.graph, info.status, info.finished_at, info.subscribers) == ("writer", "running", None, None)
        assert await directory.alive(run.run_id)
        gate.set()
        await run.result()
        await sink.wait()
        info = await directory.require(run.run_id)
        assert (info.status, info.output, info.error) == ("finished", None, None)  # outcome not asked for
        assert (info.last_seq, info.first_retained_seq) == (run.channel.last_seq, 1)
        assert info.finished_at is not None and info.finished_at >= info.created_at
        assert (await directory.require(run.run_id, outcome=True)).output == await run.result()
        assert [i.run_id for i in await directory.list()] == [run.run_id]
        assert await directory.list(status="failed") == []
        assert not await directory.alive(run.run_id)
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            for key in (sink.keys.stream(run.run_id), sink.keys.info(run.run_id)):
                assert 0 < await client.pttl(key) <= 120_000
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a positive number of events"),
        ({"flush_interval": -1}, "flush_interval must be >= 0 seconds"),
        ({"retry_for": 0}, "retry_for must be a positive number"),
        ({"on_unreachable": "ignore"}, "unknown on_unreachable 'ignore'; allowed: 'fail', 'detach'"),
        ({"prefix": "two words"}, "prefix must be a non-empty string without whitespace"),
    ],
)
async def test_bad_sink_arguments_are_refused_at_the_boundary(
    redis_url: str, options: dict[str, Any], message: str
) -> None:
    async with writer_graph(1).start({"n": 0}) as run:
        with pytest.raises(InvalidArgumentError, match=message):
            RedisSink(run, redis_url, **options)
        with pytest.raises(InvalidArgumentError, match="redis must be a URL"):
            RedisSink(run, 6379)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda url: RemoteRun(url, ""), "run_id must be a non-empty string"),
        (lambda url: RemoteRun(url, "r", stall_timeout=0), "stall_timeout must be a positive number of seconds"),
        (lambda url: RemoteRun(url, "r").stream("values", after_seq=-1), "after_seq must be a seq >= 0"),
        (
            lambda url: RemoteRun(url, "r").subscribe(overflow="never"),  # type: ignore[arg-type]
            "unknown overflow policy 'never'",
        ),
    ],
)
async def test_bad_remote_arguments_are_refused_at_the_boundary(redis_url: str, call: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        call(redis_url)


async def test_a_messages_view_resumed_at_any_seq_emits_exactly_the_rest_of_the_full_view(
    redis_url: str, prefix: str
) -> None:
    async with demo_graph().start(DEMO_INPUT) as run, RedisSink(run, redis_url, prefix=prefix):
        await run.result()
    async with RemoteRun(redis_url, run.run_id, prefix=prefix) as remote:
        async with remote.subscribe() as sub:
            events = [event async for event in sub if isinstance(event, Event)]
        spec = ViewSpec.parse("messages", True, "v1")
        table = spec.table()  # one view from the start: (seq, item) for every item it emits
        full: list[tuple[int, Any]] = []
        for event in events:
            for mode, project in table.get(event.__class__, ()):
                chunk = project(event)
                if chunk is not SKIP:
                    for item in chunk.items if isinstance(chunk, Chunks) else (chunk,):
                        full.append((event.seq, spec.shaper()(mode, event.ns, item)))
        assert any(isinstance(item[1][0], AIMessageChunk) for _seq, item in full)  # tokens were streamed
        for cut in range(events[-1].seq):
            async with remote.stream("messages", subgraphs=True, after_seq=cut) as view:
                resumed = [item async for item in view]
            assert resumed == [item for seq, item in full if seq > cut], f"resumed after seq {cut}"


async def test_a_cut_sink_writes_what_was_published_before_the_cut_and_nothing_after(
    redis_url: str, prefix: str
) -> None:
    gate = anyio.Event()  # never set: the run waits half way until it is cancelled
    async with writer_graph(20, gate).start({"n": 0}) as run:
        sink = RedisSink(run, redis_url, prefix=prefix)
        async with sink, RemoteRun(redis_url, run.run_id, prefix=prefix) as remote:
            view = remote.stream("custom")
            assert await view.__anext__() == {"i": 0}  # the run waits at the gate; its events so far are sent
            last = sink.cut()
            assert last == run.channel.last_seq
            run.cancel()
            await run.wait()
            await sink.wait()
            await view.aclose()
        assert run.channel.last_seq > last  # the cancellation's events, the terminal one last, stay out
        stats = sink.statistics()
        assert (stats.state, stats.last_seq, stats.lost) == ("cut", last, 0)
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            entries: Any = await client.xrange(f"{prefix}:run:{run.run_id}", "-", "+")
        finally:
            await client.aclose()
        assert [int(entry_id.split(b"-")[0]) for entry_id, _ in entries] == list(range(1, last + 1))
