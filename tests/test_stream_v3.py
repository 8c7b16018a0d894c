"""v3 run streams (``streamflow.stream``) as views of the run's channel: what LangGraph's single-subscriber
projections cannot do (several readers of one projection, explicit lag), memory bounded by what is read,
abort, errors, chat model streams read inside the projection loop, and transformers on the async lane."""

from __future__ import annotations

import asyncio
import operator
import threading
import tracemalloc
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.channel import Lagged
from streamflow.config import get_stream_writer
from streamflow.errors import SyncInAsyncContextError
from streamflow.graph import START, MessagesState, StateGraph
from streamflow.messages import AIMessage
from streamflow.models import FakeChatModel
from streamflow.stream import (
    AsyncChatModelStream,
    CustomTransformer,
    ProtocolEvent,
    StreamChannel,
    StreamTransformer,
    UpdatesTransformer,
)

pytestmark = pytest.mark.anyio


class S(TypedDict):
    n: int
    items: Annotated[list[int], operator.add]


def counting(steps: int, payload: int = 0) -> Any:
    """A graph looping ``steps`` times; each step writes one custom item of ``payload`` bytes."""

    def step(state: S) -> dict[str, Any]:
        if payload:
            get_stream_writer()(b"x" * payload)
        return {"n": state["n"] + 1, "items": [state["n"]]}

    return (
        StateGraph(S)
        .add_node("step", step)
        .add_edge(START, "step")
        .add_conditional_edges("step", lambda s: "step" if s["n"] < steps else "__end__")
        .compile()
    )


EXPECTED_VALUES = [{"n": i, "items": list(range(i))} for i in range(6)]


async def test_concurrent_readers_of_one_projection_each_see_everything() -> None:
    run = await counting(5).astream_events({"n": 0, "items": []}, {"recursion_limit": 50}, version="v3")

    async def values() -> list[Any]:
        return [v async for v in run.values]

    async def log() -> list[ProtocolEvent]:
        return [e async for e in run]

    first, second, third, envelopes = await asyncio.gather(values(), values(), values(), log())
    assert first == second == third == EXPECTED_VALUES
    assert [e["params"]["data"] for e in envelopes if e["method"] == "values"] == EXPECTED_VALUES
    assert [e["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))


def test_sync_readers_in_two_threads_each_see_everything() -> None:
    run = counting(5).stream_events({"n": 0, "items": []}, {"recursion_limit": 50}, version="v3")
    readers = [iter(run.values), iter(run.values)]  # both subscribed: the run begins at the first next()
    seen: list[list[Any]] = [[], []]

    def read(slot: int) -> None:
        seen[slot].extend(readers[slot])

    threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen[0] == seen[1] == EXPECTED_VALUES
    assert run.output == EXPECTED_VALUES[-1]


async def test_a_projection_nobody_reads_holds_nothing() -> None:
    """50 MB of custom items go by a reader of ``values`` only: what it holds stays far below that."""
    graph = counting(500, payload=100_000)
    run = await graph.astream_events(
        {"n": 0, "items": []}, {"recursion_limit": 1000}, version="v3", transformers=[CustomTransformer]
    )
    tracemalloc.start()
    try:
        count = 0
        async for _ in run.values:
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 501
    assert peak < 10_000_000


async def test_a_slow_reader_is_told_how_much_it_missed_and_never_holds_the_run_up() -> None:
    run = await counting(40).astream_events({"n": 0, "items": []}, {"recursion_limit": 100}, version="v3")
    slow = run.values.subscribe(overflow="drop_oldest", buffer_size=4)
    first = await anext(slow)
    assert first == {"n": 0, "items": []}
    final = await run.output()  # the run ends without the slow reader taking anything more
    assert final == {"n": 40, "items": list(range(40))}
    rest = [item async for item in slow]
    lags = [item for item in rest if isinstance(item, Lagged)]
    values = [item for item in rest if not isinstance(item, Lagged)]
    assert len(lags) == 1 and lags[0].missed > 0
    assert values[-1] == final
    assert len(values) + lags[0].missed >= 40  # every event it did not get is counted


async def test_abort_cancels_a_running_subgraph_and_ends_every_reader() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def waits(state: S) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    inner = StateGraph(S).add_node("waits", waits).add_edge(START, "waits").compile()

    async def calls_inner(state: S) -> dict[str, Any]:
        return dict(await inner.ainvoke(state))

    outer = StateGraph(S).add_node("outer", calls_inner).add_edge(START, "outer").compile()
    run = await outer.astream_events({"n": 0, "items": []}, version="v3")
    reader = asyncio.ensure_future(asyncio.gather(*[_drain(run.values), _drain(run)]))
    await started.wait()
    await run.abort()
    await cancelled.wait()
    values, envelopes = await reader
    assert values == [{"n": 0, "items": []}]
    assert envelopes[0]["method"] == "values"
    assert await run.output() is None
    await run.abort()  # idempotent


async def _drain(source: Any) -> list[Any]:
    return [item async for item in source]


async def test_a_failed_run_raises_its_error_in_every_reader_after_their_items() -> None:
    def boom(state: S) -> dict[str, Any]:
        raise ValueError("boom")

    graph = StateGraph(S).add_node("boom", boom).add_edge(START, "boom").compile()
    run = await graph.astream_events({"n": 0, "items": []}, version="v3")
    results = await asyncio.gather(_drain(run.values), _drain(run), return_exceptions=True)
    assert all(isinstance(r, ValueError) and str(r) == "boom" for r in results)
    with pytest.raises(ValueError, match="boom"):
        await run.output()


async def test_a_reader_after_the_run_ended_gets_nothing_and_output_still_works() -> None:
    run = await counting(2).astream_events({"n": 0, "items": []}, version="v3")
    assert await run.output() == {"n": 2, "items": [0, 1]}
    assert await _drain(run.values) == []
    assert await run.interrupted() is False


def chat_graph(text: str) -> Any:
    model = FakeChatModel([AIMessage(content=text)], chunk_size=2)

    async def call(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    return StateGraph(MessagesState).add_node("call", call).add_edge(START, "call").compile()


async def test_a_chat_stream_read_inside_the_messages_loop_drives_the_run() -> None:
    run = await chat_graph("streaming text").astream_events({"messages": [("user", "hi")]}, version="v3")
    texts = []
    async for message in run.messages:
        assert isinstance(message, AsyncChatModelStream)
        deltas = [d async for d in message.text]
        texts.append(("".join(deltas), await message.text, (await message.output).content, message.node))
    assert texts == [("streaming text", "streaming text", "streaming text", "call")]


def test_sync_chat_stream_read_beside_a_values_reader() -> None:
    run = chat_graph("sync text").stream_events({"messages": [("user", "hi")]}, version="v3")
    values: list[Any] = []
    values_reader, messages_reader = iter(run.values), iter(run.messages)
    reader = threading.Thread(target=lambda: values.extend(values_reader))
    reader.start()
    got = [(list(m.text), str(m.text), m.output.content) for m in messages_reader]
    reader.join()
    assert got == [(["sy", "nc", " t", "ex", "t"], "sync text", "sync text")]
    assert [len(v["messages"]) for v in values] == [1, 2]


async def test_sync_stream_refuses_a_running_loop() -> None:
    with pytest.raises(SyncInAsyncContextError, match="astream_events"):
        counting(1).stream_events({"n": 0, "items": []}, version="v3")


async def test_async_lane_transformer_awaits_and_schedules() -> None:
    class Scored(StreamTransformer):
        required_stream_modes = ("updates",)

        def __init__(self, scope: tuple[str, ...] = ()) -> None:
            super().__init__(scope)
            self.scores: StreamChannel[int] = StreamChannel("scores")

        def init(self) -> dict[str, Any]:
            return {"scores": self.scores}

        async def aprocess(self, event: ProtocolEvent) -> bool:
            if event["method"] == "updates":
                await asyncio.sleep(0)
                self.schedule(self._score(event["params"]["data"]))
            return True

        async def _score(self, update: dict[str, Any]) -> None:
            self.scores.push(update["step"]["n"])

    run = await counting(3).astream_events(
        {"n": 0, "items": []}, version="v3", transformers=[Scored, UpdatesTransformer]
    )
    scores, envelopes = await asyncio.gather(_drain(run.extensions["scores"]), _drain(run))
    assert sorted(scores) == [1, 2, 3]
    assert sorted(e["params"]["data"] for e in envelopes if e["method"] == "custom:scores") == [1, 2, 3]
    assert len([e for e in envelopes if e["method"] == "updates"]) == 3
    with pytest.raises(RuntimeError, match="requires an async run"):
        await asyncio.to_thread(counting(1).stream_events, {"n": 0, "items": []}, version="v3", transformers=[Scored])


def scheduling(work: Any, on_error: str = "log") -> type[StreamTransformer]:
    """An async-lane transformer that schedules ``work()`` once, at the run's first event."""

    class Scheduling(StreamTransformer):
        requires_async = True

        def init(self) -> dict[str, Any]:
            self.done = False
            return {}

        def process(self, event: ProtocolEvent) -> bool:
            if not self.done:
                self.done = True
                self.schedule(work(), on_error=on_error)  # type: ignore[arg-type]
            return True

    return Scheduling


async def test_a_scheduled_task_that_fails_is_logged_and_the_run_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def work() -> None:
        raise ValueError("scheduled boom")

    run = await counting(2).astream_events({"n": 0, "items": []}, version="v3", transformers=[scheduling(work)])
    assert [e["method"] for e in await _drain(run)] == ["values"] * 3  # a reader's transformers run as it reads
    assert await run.output() == {"n": 2, "items": [0, 1]}
    failures = [r for r in caplog.records if r.getMessage() == "Scheduled StreamTransformer task failed"]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert str(failures[0].exc_info[1]) == "scheduled boom"


async def test_a_scheduled_task_with_on_error_raise_fails_the_stream_of_its_reader() -> None:
    async def work() -> None:
        raise ValueError("strict boom")

    run = await counting(2).astream_events(
        {"n": 0, "items": []}, version="v3", transformers=[scheduling(work, on_error="raise")]
    )
    seen: list[Any] = []
    with pytest.raises(ValueError, match="strict boom"):
        async for envelope in run:
            seen.append(envelope["params"]["data"])
    assert seen == EXPECTED_VALUES[:3]  # after every envelope of the run


async def test_a_failing_run_cancels_the_tasks_its_transformers_scheduled() -> None:
    started, cancelled, never = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def boom(state: S) -> dict[str, Any]:
        raise ValueError("run died")

    async def wait_for_work(state: S) -> dict[str, Any]:
        await started.wait()  # the scheduled task runs before the run fails
        return {}

    graph = (
        StateGraph(S)
        .add_node("wait", wait_for_work)
        .add_node("boom", boom)
        .add_edge(START, "wait")
        .add_edge("wait", "boom")
        .compile()
    )
    run = await graph.astream_events({"n": 0, "items": []}, version="v3", transformers=[scheduling(work)])
    with pytest.raises(ValueError, match="run died"):
        await _drain(run)  # the reader's transformers schedule the task at the first envelope
    assert cancelled.is_set()


def test_a_sync_stream_keeps_the_portal_only_while_its_run_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamflow import portal

    portal.shutdown_portal()
    monkeypatch.setattr(portal, "PORTAL_IDLE_TIMEOUT", 0.01)
    run = counting(3).stream_events({"n": 0, "items": []}, version="v3")
    assert [v["n"] for v in run.values] == [0, 1, 2, 3]
    thread = portal.portal_thread()
    assert thread is not None
    thread.join(timeout=10)  # the run ended: the idle portal stops although the stream is still referenced
    assert not thread.is_alive()
    assert run.output == {"n": 3, "items": [0, 1, 2]}  # later calls take a portal as any sync call


def tool_calling(*ids: str, fail_after: bool = False) -> Any:
    """``caller`` (an AI message calling ``streamer`` once per id, text = id) then a ``ToolNode``; with
    ``fail_after``, a node after the tools raises ``RuntimeError("after the tools")``."""
    from streamflow.tools import ToolNode, tool

    @tool
    def streamer(text: str) -> str:
        """streams its text twice."""
        writer = get_stream_writer()
        writer(text + "1")
        writer(text + "2")
        return text

    def caller(state: MessagesState) -> dict[str, Any]:
        calls: list[Any] = [{"name": "streamer", "args": {"text": i}, "id": i} for i in ids]
        return {"messages": [AIMessage(content="", tool_calls=calls)]}

    def after(state: MessagesState) -> dict[str, Any]:
        raise RuntimeError("after the tools")

    b = StateGraph(MessagesState).add_node("caller", caller).add_node("tools", ToolNode([streamer]))
    b.add_edge(START, "caller").add_edge("caller", "tools")
    if fail_after:
        b.add_node("after", after).add_edge("tools", "after")
    return b.compile()


async def read_tool_calls(run: Any) -> list[tuple[str, list[Any], Any, str | None, bool]]:
    out = []
    async for tc in run.tool_calls:
        deltas = [d async for d in tc.output_deltas]
        out.append((tc.tool_call_id, deltas, tc.output, tc.error, tc.completed))
    return out


async def test_tool_calls_each_get_all_their_deltas_and_every_reader_gets_its_own_handles() -> None:
    from streamflow.prebuilt import ToolCallTransformer

    run = await tool_calling("a", "b", "c").astream_events(
        {"messages": []}, version="v3", transformers=[ToolCallTransformer]
    )
    first, second = await asyncio.gather(read_tool_calls(run), read_tool_calls(run))
    expected = [(i, [i + "1", i + "2"], i, None, True) for i in ("a", "b", "c")]
    assert sorted(first) == expected
    assert sorted(second) == expected


def test_sync_tool_call_deltas_read_inside_the_loop() -> None:
    from streamflow.prebuilt import ToolCallTransformer

    run = tool_calling("a").stream_events({"messages": []}, version="v3", transformers=[ToolCallTransformer])
    seen = [(tc.tool_name, tc.input, list(tc), tc.output, tc.completed) for tc in run.tool_calls]
    assert seen == [("streamer", {"text": "a"}, ["a1", "a2"], "a", True)]


class DropFinished(StreamTransformer):
    """Renames ``tool-finished`` events so no call of the run finishes."""

    before_builtins = True

    def init(self) -> dict[str, Any]:
        return {}

    def process(self, event: ProtocolEvent) -> bool:
        data = event["params"]["data"]
        if event["method"] == "tools" and data.get("event") == "tool-finished":
            data["event"] = "tool-unknown"
        return True


async def test_tool_calls_open_at_the_end_of_the_run_complete_or_fail_with_it() -> None:
    from streamflow.prebuilt import ToolCallTransformer

    transformers = [DropFinished, ToolCallTransformer]
    run = await tool_calling("a").astream_events({"messages": []}, version="v3", transformers=transformers)
    assert await read_tool_calls(run) == [("a", ["a1", "a2"], None, None, True)]

    failing = tool_calling("a", fail_after=True)
    run = await failing.astream_events({"messages": []}, version="v3", transformers=transformers)
    handles = []
    with pytest.raises(RuntimeError, match="after the tools"):
        async for tc in run.tool_calls:
            handles.append(tc)
    assert [(tc.output, tc.error, tc.completed) for tc in handles] == [(None, "after the tools", True)]
    assert "status=failed" in repr(handles[0])
