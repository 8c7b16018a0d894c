"""The OpenTelemetry view: a run's events as a span tree (SDK in-memory exporter), and over OTLP/HTTP."""

from __future__ import annotations

import itertools
import socket
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypedDict

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.extras import require_extra

require_extra("opentelemetry.exporter.otlp.proto.http", "otel")

from opentelemetry import trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402
from structlog.testing import capture_logs  # noqa: E402

from streamflow.channel import Channel, Lagged  # noqa: E402
from streamflow.checkpoint.memory import InMemorySaver  # noqa: E402
from streamflow.errors import InvalidArgumentError, UnknownEventKindError  # noqa: E402
from streamflow.events import (  # noqa: E402
    KINDS,
    ChatModelFinished,
    ChatModelStarted,
    CustomData,
    Event,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    ToolFinished,
    ToolStarted,
)
from streamflow.graph import START, StateGraph, get_stream_writer  # noqa: E402
from streamflow.messages import AIMessage, AIMessageChunk, BaseMessage, MessagesState  # noqa: E402
from streamflow.models import FakeChatModel  # noqa: E402
from streamflow.otel_export import ReportingSpanExporter  # noqa: E402
from streamflow.otel_view import DEFAULT_KINDS, OtelView  # noqa: E402
from streamflow.output_parsers import StrOutputParser  # noqa: E402
from streamflow.prompts import ChatPromptTemplate  # noqa: E402
from streamflow.tools import create_react_agent, tool  # noqa: E402
from streamflow.types import interrupt  # noqa: E402
from tests.helpers import take_all, take_buffered  # noqa: E402
from tests.otlp_receiver import OtlpReceiver, attributes  # noqa: E402
from tests.strategies import run_events  # noqa: E402

pytestmark = pytest.mark.anyio


class ScriptedModel(FakeChatModel):
    """The scripted model naming its model and provider, and reporting token usage on its last chunk."""

    model_name = "scripted-1"
    provider = "scripted"

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        async for chunk in super()._astream_chunks(messages):
            yield chunk
        yield AIMessageChunk(
            content="",
            usage_metadata={"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
            response_metadata={"model_name": "scripted-1-2026", "finish_reason": "stop"},
        )


@tool
def lookup(city: str) -> str:
    """Look the weather up."""
    get_stream_writer()({"looking_up": city})
    return f"sunny in {city}"


def _tool_call() -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": "lookup", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}]
    )


def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider, exporter


def parents(spans: Sequence[ReadableSpan]) -> dict[str, str | None]:
    """Span name -> its parent's name (None for a root), for spans named once."""
    by_id = {span.context.span_id: span for span in spans}
    out: dict[str, str | None] = {}
    for span in spans:
        parent = by_id.get(span.parent.span_id) if span.parent is not None else None
        out[span.name] = parent.name if parent is not None else None
    return out


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


async def traced(source: Any, **options: Any) -> OtelView:
    """Attach a view to a running graph ``Run`` or ``RunnableRun`` and run it until the run ends."""
    view = OtelView.attach(source, **options)
    await view.run()
    return view


def agent_graph() -> Any:
    async def ask_model(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()({"progress": "asking"})
        answer = await ScriptedModel(["Ask the agent."]).ainvoke(state["messages"])
        return {"messages": [answer]}

    agent = create_react_agent(FakeChatModel([_tool_call(), "It is sunny."]), [lookup], name="weather")
    return (
        StateGraph(MessagesState)
        .add_node("ask_model", ask_model)
        .add_node("weather", agent)
        .add_edge(START, "ask_model")
        .add_edge("ask_model", "weather")
        .compile(name="assistant")
    )


async def test_a_graph_run_is_a_tree_of_run_task_model_and_tool_spans() -> None:
    tracer_provider, exporter = provider()
    async with agent_graph().start({"messages": [{"role": "user", "content": "weather?"}]}) as run:
        view = await traced(run, tracer_provider=tracer_provider)
        await run.result()
    spans = exporter.get_finished_spans()
    assert sorted(span.name for span in spans) == sorted(
        [
            "invoke_agent assistant",
            "ask_model",
            "chat scripted-1",
            "weather",
            "agent",
            "chat FakeChatModel",
            "tools",
            "execute_tool lookup",
            "agent",
            "chat FakeChatModel",
        ]
    )
    tree = parents(spans)
    assert tree["invoke_agent assistant"] is None
    assert tree["ask_model"] == tree["weather"] == "invoke_agent assistant"
    assert tree["chat scripted-1"] == "ask_model"
    assert tree["tools"] == "weather" and tree["execute_tool lookup"] == "tools"
    assert all(tree_of(spans, span) == ["weather", "invoke_agent assistant"] for span in named(spans, "agent"))
    assert [tree_of(spans, span)[0] for span in named(spans, "chat FakeChatModel")] == ["agent", "agent"]
    assert len({span.context.trace_id for span in spans}) == 1

    (root,) = named(spans, "invoke_agent assistant")
    assert root.attributes == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "assistant",
        "streamflow.run_id": run.run_id,
        "streamflow.run_type": "chain",
    }
    events = run.events()
    assert root.start_time == int(events[0].ts * 1e9) and root.end_time == int(events[-1].ts * 1e9)
    assert root.status.status_code is StatusCode.UNSET

    (chat,) = named(spans, "chat scripted-1")
    assert chat.kind is trace.SpanKind.CLIENT
    assert {k: v for k, v in (chat.attributes or {}).items() if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "scripted-1",
        "gen_ai.provider.name": "scripted",
        "gen_ai.response.model": "scripted-1-2026",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 3,
    }
    (ask,) = named(spans, "ask_model")
    assert ask.attributes is not None and ask.attributes["streamflow.node"] == "ask_model"
    assert ask.attributes["streamflow.step"] == 1 and "streamflow.ns" not in ask.attributes
    assert [(e.name, dict(e.attributes or {})) for e in ask.events] == [
        ("custom_data", {"streamflow.seq": 4, "streamflow.data": '{"progress": "asking"}'})
    ]

    (call,) = named(spans, "execute_tool lookup")
    (weather,) = named(spans, "weather")
    assert call.attributes is not None and weather.attributes is not None
    assert call.attributes["gen_ai.operation.name"] == "execute_tool"
    assert call.attributes["gen_ai.tool.name"] == "lookup" and call.attributes["gen_ai.tool.call.id"] == "call_1"
    task_id = weather.attributes["streamflow.task_id"]
    assert isinstance(task_id, str) and call.attributes["streamflow.ns"] == (f"weather:{task_id}",)
    assert [(e.name, (e.attributes or {})["streamflow.data"]) for e in call.events] == [
        ("custom_data", '{"looking_up": "Paris"}')
    ]
    for span in spans:
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time
        assert "streamflow.unfinished" not in (span.attributes or {})
    stats = view.statistics()
    assert stats.spans_started == len(spans) and stats.spans_open == 0 and stats.events_missed == 0


def tree_of(spans: Sequence[ReadableSpan], span: ReadableSpan) -> list[str]:
    """The names of ``span``'s ancestors, nearest first."""
    by_id = {s.context.span_id: s for s in spans}
    out = []
    parent = span.parent
    while parent is not None:
        above = by_id[parent.span_id]
        out.append(above.name)
        parent = above.parent
    return out


class State(TypedDict, total=False):
    x: int


async def test_a_failing_node_marks_its_span_and_the_run_span_as_errors() -> None:
    def fail(state: State) -> State:
        raise ValueError("no such x")

    graph = StateGraph(State).add_node("fail", fail).add_edge(START, "fail").compile(name="failing")
    tracer_provider, exporter = provider()
    run = graph.start({"x": 1})
    await traced(run, tracer_provider=tracer_provider)
    with pytest.raises(ValueError, match="no such x"):
        await run.result()
    spans = exporter.get_finished_spans()
    assert parents(spans) == {"invoke_agent failing": None, "fail": "invoke_agent failing"}
    for span in spans:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "builtins.ValueError: no such x"
        assert span.attributes is not None and span.attributes["error.type"] == "builtins.ValueError"
        assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
            ("exception", {"exception.type": "builtins.ValueError", "exception.message": "no such x"})
        ]


@tool
def broken(city: str) -> str:
    """Look the weather up, and fail."""
    raise ValueError("no weather today")


async def test_a_failing_tool_marks_its_span_its_task_and_the_run() -> None:
    call = AIMessage(
        content="", tool_calls=[{"name": "broken", "args": {"city": "x"}, "id": "c9", "type": "tool_call"}]
    )
    agent = create_react_agent(FakeChatModel([call, "sorry"]), [broken], name="fragile")
    tracer_provider, exporter = provider()
    run = agent.start({"messages": [{"role": "user", "content": "weather?"}]})
    await traced(run, tracer_provider=tracer_provider)
    with pytest.raises(ValueError, match="no weather today"):
        await run.result()
    spans = exporter.get_finished_spans()
    failed = {span.name for span in spans if span.status.status_code is StatusCode.ERROR}
    assert failed == {"execute_tool broken", "tools", "invoke_agent fragile"}
    (tool_span,) = named(spans, "execute_tool broken")
    assert tree_of(spans, tool_span) == ["tools", "invoke_agent fragile"]
    assert [(e.name, dict(e.attributes or {})) for e in tool_span.events] == [
        ("exception", {"exception.type": "builtins.ValueError", "exception.message": "no weather today"})
    ]
    assert tool_span.attributes is not None and tool_span.attributes["gen_ai.tool.call.id"] == "c9"


async def test_an_interrupt_is_an_event_on_the_task_that_asked() -> None:
    def ask(state: State) -> State:
        return {"x": interrupt({"question": "go on?"})}

    graph = (
        StateGraph(State).add_node("ask", ask).add_edge(START, "ask").compile(checkpointer=InMemorySaver(), name="hitl")
    )
    tracer_provider, exporter = provider()
    async with graph.start({"x": 0}, {"configurable": {"thread_id": "t1"}}) as run:
        await traced(run, tracer_provider=tracer_provider)
        await run.result()
    (interrupted,) = [e for e in run.events() if e.kind == "interrupted"]
    spans = exporter.get_finished_spans()
    assert parents(spans) == {"invoke_agent hitl": None, "ask": "invoke_agent hitl"}
    task, root = spans
    assert task.attributes is not None and task.attributes["streamflow.interrupted"] is True
    assert "streamflow.unfinished" not in task.attributes
    assert [(e.name, dict(e.attributes or {})) for e in task.events] == [
        (
            "interrupt",
            {
                "streamflow.seq": interrupted.seq,
                "streamflow.node": "ask",
                "streamflow.interrupt.id": interrupted.interrupts[0]["id"],  # type: ignore[attr-defined]
                "streamflow.interrupt.value": '{"question": "go on?"}',
            },
        )
    ]
    assert root.attributes is not None and root.attributes["streamflow.interrupted"] is True
    assert root.attributes["gen_ai.conversation.id"] == "t1"


async def test_a_runnable_sequence_run_has_a_span_per_step_with_its_chunks_counted() -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | ScriptedModel(["hello there"]) | StrOutputParser()
    tracer_provider, exporter = provider()
    run = chain.start({"q": "hi"})
    chunks = run.subscribe(kinds=["chat_model_token", "runnable_chunk"], buffer_size=100)
    await traced(run, tracer_provider=tracer_provider, kinds=[*DEFAULT_KINDS, "chat_model_token", "runnable_chunk"])
    assert await run.result() == "hello there"
    counted = Counter(item.kind for item in await take_all(chunks) if isinstance(item, Event))
    spans = exporter.get_finished_spans()
    assert parents(spans) == {
        "invoke_agent RunnableSequence": None,
        "prompt ChatPromptTemplate": "invoke_agent RunnableSequence",
        "chat scripted-1": "invoke_agent RunnableSequence",
        "parser StrOutputParser": "invoke_agent RunnableSequence",
    }
    by_name = {span.name: span.attributes or {} for span in spans}
    assert by_name["prompt ChatPromptTemplate"]["streamflow.run_type"] == "prompt"
    assert by_name["chat scripted-1"]["gen_ai.usage.output_tokens"] == 3
    assert by_name["chat scripted-1"]["streamflow.chunks"] == counted["chat_model_token"] > 3
    assert by_name["parser StrOutputParser"]["streamflow.chunks"] == counted["runnable_chunk"] > 0


async def test_a_view_that_falls_behind_never_stalls_the_run_and_says_what_it_lost() -> None:
    async def write(state: State) -> State:
        writer = get_stream_writer()
        for i in range(50):
            writer(i)
        return {"x": 1}

    graph = StateGraph(State).add_node("write", write).add_edge(START, "write").compile(name="writer")
    tracer_provider, exporter = provider()
    async with graph.start({"x": 0}) as run:
        view = OtelView.attach(run, tracer_provider=tracer_provider, buffer_size=4)
        assert await run.result() == {"x": 1}  # the run ended with the view never read
        stats = await view.run()
    spans = exporter.get_finished_spans()
    (root,) = spans
    assert root.name == "invoke_agent" and root.attributes is not None
    assert root.attributes["streamflow.run_started_missed"] is True
    missed = stats.events_missed
    assert missed > 0 and root.attributes["streamflow.events_missed"] == missed
    (lagged,) = [e for e in root.events if e.name == "events_lagged"]
    assert lagged.attributes is not None and lagged.attributes["streamflow.missed"] == missed
    assert lagged.attributes["streamflow.first_seq"] == 1
    assert stats.events + missed == len([e for e in run.events() if e.kind in DEFAULT_KINDS])


async def test_a_span_whose_end_was_lost_is_ended_with_the_run_and_marked() -> None:
    channel = Channel("r1")
    tracer_provider, exporter = provider()
    view = OtelView.attach(channel, tracer_provider=tracer_provider, buffer_size=2)
    await channel.publish(RunStarted(name="g"))
    await channel.publish(TaskStarted(node="n", step=1, task_id="t1"))
    for item in take_buffered(view.subscription):
        view.handle(item)
    await channel.publish(TaskFinished(node="n", step=1, task_id="t1"))
    for i in range(4):
        await channel.publish(CustomData(node="n", step=1, task_id="t1", data=i))
    await channel.publish(RunFinished())
    channel.close()
    stats = await view.run()
    task, root = exporter.get_finished_spans()
    assert (task.name, root.name) == ("n", "invoke_agent g")
    assert task.attributes is not None and task.attributes["streamflow.unfinished"] is True
    assert task.end_time == root.end_time
    assert [(e.name, (e.attributes or {}).get("streamflow.data")) for e in task.events] == [("custom_data", 3)]
    assert root.attributes is not None and root.attributes["streamflow.events_missed"] == 4
    assert [dict(e.attributes or {}) for e in root.events] == [
        {"streamflow.missed": 4, "streamflow.first_seq": 3, "streamflow.last_seq": 6}
    ]
    assert (stats.spans_unfinished, stats.events_missed, stats.spans_open) == (1, 4, 0)


async def test_a_cancelled_run_is_recorded_on_the_run_span() -> None:
    started = anyio.Event()

    async def wait(state: State) -> State:
        started.set()
        await anyio.sleep_forever()
        return {}

    graph = StateGraph(State).add_node("wait", wait).add_edge(START, "wait").compile(name="waiting")
    tracer_provider, exporter = provider()
    run = graph.start({"x": 0})
    view = OtelView.attach(run, tracer_provider=tracer_provider)
    async with anyio.create_task_group() as tg:
        tg.start_soon(view.run)
        await started.wait()
        run.cancel()
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["wait", "invoke_agent waiting"]
    task, root = spans
    assert root.attributes is not None and root.attributes["streamflow.cancelled"] is True
    assert [e.name for e in root.events] == ["run_cancelled"]
    assert task.attributes is not None and task.attributes["streamflow.unfinished"] is True


async def test_the_run_span_is_a_child_of_the_application_span() -> None:
    tracer_provider, exporter = provider()
    tracer = tracer_provider.get_tracer("app")
    graph = StateGraph(State).add_node("n", lambda s: {"x": 1}).add_edge(START, "n").compile(name="g")
    with tracer.start_as_current_span("POST /runs") as request:
        async with graph.start({"x": 0}) as run:
            await traced(run, tracer_provider=tracer_provider)
    async with graph.start({"x": 0}) as run:
        await traced(run, tracer_provider=tracer_provider, context=trace.set_span_in_context(request))
    spans = exporter.get_finished_spans()
    roots = named(spans, "invoke_agent g")
    assert len(roots) == 2
    for root in roots:
        assert root.parent is not None and root.parent.span_id == request.get_span_context().span_id


async def test_bad_sources_and_kinds_are_refused_at_the_boundary() -> None:
    channel = Channel("r1")
    with pytest.raises(InvalidArgumentError, match=r"needs a Run, a RunnableRun or a Channel, got int"):
        OtelView.attach(42)
    with pytest.raises(UnknownEventKindError, match="unknown event kind 'nope'"):
        OtelView.attach(channel, kinds=["nope"])
    with pytest.raises(InvalidArgumentError, match="buffer_size"):
        OtelView.attach(channel, buffer_size=0)
    with pytest.raises(InvalidArgumentError, match="tracer_provider must be an opentelemetry TracerProvider, got"):
        OtelView.attach(channel, tracer_provider=InMemorySpanExporter())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"context must be an opentelemetry Context .*got NonRecording"):
        OtelView.attach(channel, context=trace.INVALID_SPAN)  # type: ignore[arg-type]
    assert channel.statistics().subscribers == 0


async def test_a_run_exported_over_otlp_http_reaches_the_collector() -> None:
    tracer_provider = TracerProvider()
    with OtlpReceiver() as receiver:
        exporter = ReportingSpanExporter(OTLPSpanExporter(endpoint=receiver.url, timeout=5))
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        async with agent_graph().start({"messages": [{"role": "user", "content": "weather?"}]}) as run:
            await traced(run, tracer_provider=tracer_provider)
            await run.result()
        assert tracer_provider.force_flush()
        spans = receiver.spans()
    tracer_provider.shutdown()
    by_id = {span.span_id: span for span in spans}
    names = {span.name: span for span in spans}
    assert len(spans) == 10 and len(by_id) == 10
    root = names["invoke_agent assistant"]
    assert root.parent_span_id == b""
    assert by_id[names["ask_model"].parent_span_id].name == "invoke_agent assistant"
    assert by_id[names["chat scripted-1"].parent_span_id].name == "ask_model"
    assert by_id[names["execute_tool lookup"].parent_span_id].name == "tools"
    assert {span.trace_id for span in spans} == {root.trace_id}
    assert attributes(root)["streamflow.run_id"] == run.run_id
    assert attributes(names["chat scripted-1"])["gen_ai.usage.input_tokens"] == 7
    assert attributes(names["execute_tool lookup"])["gen_ai.tool.call.id"] == "call_1"
    assert attributes(names["tools"])["streamflow.ns"][0].startswith("weather:")
    stats = exporter.statistics()
    assert (stats.exported_spans, stats.failed_exports, stats.failed_spans) == (10, 0, 0)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_exporter_that_is_down_loses_spans_loudly_and_the_run_goes_on() -> None:
    tracer_provider = TracerProvider()
    endpoint = f"http://127.0.0.1:{closed_port()}/v1/traces"
    exporter = ReportingSpanExporter(OTLPSpanExporter(endpoint=endpoint, timeout=1))
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    graph = StateGraph(State).add_node("n", lambda s: {"x": s["x"] + 1}).add_edge(START, "n").compile(name="g")
    with capture_logs() as logs:
        async with graph.start({"x": 0}) as run:
            await traced(run, tracer_provider=tracer_provider)
            assert await run.result() == {"x": 1}
        tracer_provider.force_flush()
        tracer_provider.shutdown()
    stats = exporter.statistics()
    assert stats.failed_exports >= 1 and stats.failed_spans == 2 and stats.exported_spans == 0
    failures = [entry for entry in logs if entry["event"] == "spans_export_failed"]
    assert len(failures) == stats.failed_exports
    assert failures[-1]["log_level"] == "warning" and failures[-1]["failed_spans"] == 2
    assert failures[-1]["exporter"] == "OTLPSpanExporter"


class RaisingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionResetError("collector went away")


def test_an_exporter_that_raises_is_answered_failure_and_logged() -> None:
    exporter = ReportingSpanExporter(RaisingExporter())
    tracer_provider = TracerProvider()
    with capture_logs() as logs:
        span = tracer_provider.get_tracer("t").start_span("s")
        span.end()
        assert exporter.export([span]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert logs == [
        {
            "event": "spans_export_failed",
            "log_level": "warning",
            "spans": 1,
            "failed_exports": 1,
            "failed_spans": 1,
            "exporter": "RaisingExporter",
            "error": "ConnectionResetError: collector went away",
        }
    ]


class Recording(OtelView):
    """The view, keeping what it was handed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Event | Lagged] = []

    def handle(self, item: Event | Lagged) -> None:
        self.seen.append(item)
        super().handle(item)


@st.composite
def run_trees(draw: st.DrawFn) -> tuple[list[Event], dict[str, str]]:
    """A well-formed run: tasks (nested by ``ns`` up to two subgraphs deep) making tool and model calls and
    writing custom data, each finishing or failing. Returns its events (``ts`` increasing) and the span tree it
    should give: span key (``"run"``, a task id or a call id) -> its parent's key."""
    events: list[Event] = []
    parent_of: dict[str, str] = {}
    ids = itertools.count(1)

    def add(event: Event) -> None:
        event.ts = float(len(events) + 1)
        events.append(event)

    def task(ns: tuple[str, ...], parent: str, depth: int) -> None:
        tid, node = f"t{next(ids)}", draw(st.sampled_from(["plan", "act", "check"]))
        parent_of[tid] = parent
        where: dict[str, Any] = {"ns": ns, "node": node, "step": 1, "task_id": tid}
        add(TaskStarted(**where))
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["tool", "chat", "custom", "subgraph"][: 4 if depth < 2 else 3]))
            cid = f"c{next(ids)}"
            if kind == "tool":
                parent_of[cid] = tid
                add(ToolStarted(**where, call_id=cid, tool_call_id=f"m{cid}", name="lookup", parent_ids=("r1", tid)))
                add(CustomData(**where, data={"i": 1}, tool_call_id=f"m{cid}"))
                add(ToolFinished(**where, call_id=cid, tool_call_id=f"m{cid}", name="lookup"))
            elif kind == "chat":
                parent_of[cid] = tid
                add(ChatModelStarted(**where, call_id=cid, name="Model", parent_ids=("r1", tid)))
                add(ChatModelFinished(**where, call_id=cid))
            elif kind == "custom":
                add(CustomData(**where, data=[1, "two"]))
            else:
                task((*ns, f"{node}:{tid}"), tid, depth + 1)
        if draw(st.booleans()):
            add(TaskFinished(**where))
        else:
            add(TaskFailed(**where, error_type="builtins.ValueError", error_message="no"))

    add(RunStarted(name="g"))
    for _ in range(draw(st.integers(1, 3))):
        task((), "run", 0)
    add(RunFinished())
    return events, parent_of


def span_keys(spans: Sequence[ReadableSpan]) -> dict[str, str | None]:
    """Span key (as :func:`run_trees` names them) -> its parent's key (None for the root)."""
    key_of: dict[int, str] = {}
    for span in spans:
        attrs = span.attributes or {}
        key = attrs.get("streamflow.call_id") or attrs.get("streamflow.task_id") or "run"
        assert isinstance(key, str)
        key_of[span.context.span_id] = key
    return {
        key_of[span.context.span_id]: key_of[span.parent.span_id] if span.parent is not None else None for span in spans
    }


START_KINDS = (TaskStarted, ToolStarted, ChatModelStarted)
END_KINDS = (TaskFinished, TaskFailed, ToolFinished, ChatModelFinished)


def _key(event: Event) -> str:
    return str(getattr(event, "call_id", None) or event.task_id)


@settings(max_examples=60, deadline=None)
@given(tree=run_trees(), buffer_size=st.integers(1, 40))
async def test_every_span_started_is_ended_once_in_a_tree_whatever_the_view_lost(
    tree: tuple[list[Event], dict[str, str]], buffer_size: int
) -> None:
    events, parent_of = tree
    channel = Channel("r1")
    tracer_provider, exporter = provider()
    view = Recording.attach(channel, tracer_provider=tracer_provider, buffer_size=buffer_size)
    for event in events:
        await channel.publish(event)
    channel.close()
    stats = await view.run()
    spans = exporter.get_finished_spans()
    seen = [item for item in view.seen if isinstance(item, Event)]
    assert stats.events + stats.events_missed == len(events)
    assert len(spans) == stats.spans_started and stats.spans_open == 0
    tree_seen = span_keys(spans)
    assert [key for key, parent in tree_seen.items() if parent is None] == ["run"]
    assert all(parent in tree_seen for parent in tree_seen.values() if parent is not None)
    started = {_key(e) for e in seen if isinstance(e, START_KINDS)}
    ended = {_key(e) for e in seen if isinstance(e, END_KINDS)}
    assert set(tree_seen) == started | {"run"}
    unfinished = {
        key for key, span in zip(tree_seen, spans, strict=True) if (span.attributes or {}).get("streamflow.unfinished")
    }
    assert unfinished == started - ended
    for span in spans:
        assert span.start_time is not None and span.end_time is not None and span.start_time <= span.end_time
    if stats.events_missed == 0:
        assert tree_seen == {"run": None, **parent_of}
        assert {span.name for span in spans} >= {"invoke_agent g"}


@settings(max_examples=60, deadline=None)
@given(batch=run_events(), ending=st.sampled_from(["finished", "failed", "cancelled", "none"]))
async def test_any_event_sequence_ends_every_span_it_starts(batch: list[Event], ending: str) -> None:
    terminal = {"finished": RunFinished(), "failed": RunFailed(error_type="E", error_message="m")}
    terminal["cancelled"] = RunCancelled(reason="stop")
    channel = Channel("r1")
    tracer_provider, exporter = provider()
    view = OtelView.attach(channel, tracer_provider=tracer_provider, kinds=list(KINDS), overflow="block")
    for event in [*batch, *([terminal[ending]] if ending in terminal else [])]:
        await channel.publish(event)
    channel.close()
    stats = await view.run()
    spans = exporter.get_finished_spans()
    assert len(spans) == stats.spans_started and stats.spans_open == 0 and stats.events_missed == 0
    assert len([span for span in spans if span.parent is None]) == (1 if spans else 0)
