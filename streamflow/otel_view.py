"""An OpenTelemetry view of a run: its events turned into a tree of spans.

A bridge (the top layer); it needs the ``otel`` extra (``pip install 'streamflow[otel]'``). It subscribes
to a run's channel like any other view and never configures OpenTelemetry: spans go to the tracer provider
it is given (the global one by default), whose span processors and exporters decide where they go.

The tree, with span names and the attributes of the OpenTelemetry GenAI semantic conventions:

* the run: ``invoke_agent <graph name>`` (``gen_ai.operation.name="invoke_agent"``, ``gen_ai.agent.name``,
  ``gen_ai.conversation.id``: the thread's id, for a run on a thread), a child of the span current when the
  view was attached, or of ``context`` when one is given;
* one span per task, named after its node, under the run span, or, in a subgraph, under the task that ran
  the subgraph (found by the event's ``ns``);
* chat model calls: ``chat <model>`` (``gen_ai.request.model``, ``gen_ai.provider.name``,
  ``gen_ai.response.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``), tool calls:
  ``execute_tool <tool>`` (``gen_ai.tool.name``, ``gen_ai.tool.call.id``), and other Runnables (a prompt, a
  parser, the steps of a ``RunnableSequence``): ``<run type> <name>``, each under the span of the call that
  encloses it (its event's ``parent_ids``), or its task.

Every span carries ``streamflow.run_id`` and, where the event has them, ``streamflow.node``,
``streamflow.step``, ``streamflow.task_id``, ``streamflow.ns`` (a list of strings) and ``streamflow.tags``;
call spans carry ``streamflow.call_id``. Start and end times are the events' ``ts``.

Span events: ``custom_data`` and ``custom_event`` (with ``streamflow.data``, the payload as JSON text, unless
``payloads=False``), ``interrupt`` (``streamflow.interrupt.id``, ``streamflow.interrupt.value``) on the task
that asked (its span ends there, ``streamflow.interrupted=True``), ``run_cancelled`` (``streamflow.reason``;
the run span gets ``streamflow.cancelled=True``, its status stays unset). A failure (a failed task, tool, model
call, Runnable or run) sets the failing span's status to ERROR, its ``error.type``, and adds an ``exception``
event with ``exception.type`` and ``exception.message``. Per-token and per-chunk events are no spans: when
their kinds are subscribed to (``kinds=``), they are counted in ``streamflow.chunks`` on their call's span.
Any other kind subscribed to becomes a span event named after it, with the event's scalar fields.

The view never stalls the run: it subscribes with ``overflow="drop_oldest"`` by default. When it falls
behind, the run span gets an ``events_lagged`` event (``streamflow.missed``, ``streamflow.first_seq``,
``streamflow.last_seq``) and ``streamflow.events_missed`` (the total); a span whose end event was lost is
ended with the run (or when a span of the same id starts), marked ``streamflow.unfinished=True``; when the
run's start itself was lost, the run span starts with the first event the view has, named ``invoke_agent``
and marked ``streamflow.run_started_missed``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Self

import attrs

from .channel import DEFAULT_BUFFER_SIZE, Channel, Lagged, OverflowPolicy, Subscription
from .errors import InvalidArgumentError, MissingExtraError
from .events import (
    KINDS,
    ChatModelFinished,
    ChatModelStarted,
    ChatModelToken,
    CustomData,
    CustomEvent,
    Event,
    Interrupted,
    RunCancelled,
    RunChunk,
    RunFailed,
    RunFinished,
    RunnableChunk,
    RunnableFinished,
    RunnableStarted,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    ToolFailed,
    ToolFinished,
    ToolStarted,
)

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("streamflow.otel_view", "otel", exc.name or "opentelemetry") from exc

__all__ = ["DEFAULT_KINDS", "OtelView", "OtelViewStatistics"]

_PER_CHUNK = frozenset({"chat_model_token", "runnable_chunk", "run_chunk"})
_STATE = frozenset({"state_values", "state_update", "checkpoint_saved"})
DEFAULT_KINDS: tuple[str, ...] = tuple(kind for kind in KINDS if kind not in _PER_CHUNK | _STATE)
"""The kinds the view subscribes to unless told otherwise: every kind but the per-token and per-chunk ones
and those that carry the state."""

_SCALARS = (str, bool, int, float)
_SKIPPED_FIELDS = frozenset({"run_id", "ts", "ns", "tags", "metadata"})
_NS_PER_S = 1_000_000_000
_CLIENT = trace.SpanKind.CLIENT
"""A chat model call's span kind (the GenAI conventions': a call to a model server); the others are internal."""
_INTERNAL = trace.SpanKind.INTERNAL


@attrs.frozen
class OtelViewStatistics:
    """A snapshot of an :class:`OtelView`'s counters."""

    events: int
    """Events handled."""
    spans_started: int
    """Spans started (the run span included)."""
    spans_open: int
    """Spans started and not yet ended."""
    events_missed: int
    """Events the view lost by falling behind (the sum of its ``Lagged`` signals)."""
    spans_unfinished: int
    """Spans ended with the run because their end event was lost (marked ``streamflow.unfinished``)."""


def _time(ts: float) -> int:
    return int(ts * _NS_PER_S)


def _text(value: Any) -> str | bool | int | float:
    """An attribute value for a payload: a scalar as it is, anything else as JSON text (``repr`` where
    JSON cannot say it)."""
    if isinstance(value, _SCALARS):
        return value
    try:
        return json.dumps(value, default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _routing(event: Event) -> dict[str, Any]:
    attributes: dict[str, Any] = {"streamflow.run_id": event.run_id}
    if event.node is not None:
        attributes["streamflow.node"] = event.node
    if event.step is not None:
        attributes["streamflow.step"] = event.step
    if event.task_id is not None:
        attributes["streamflow.task_id"] = event.task_id
    if event.ns:
        attributes["streamflow.ns"] = list(event.ns)
    if event.tags:
        attributes["streamflow.tags"] = list(event.tags)
    return attributes


def _scalar_fields(event: Event) -> dict[str, Any]:
    """A span event's attributes for a kind with no role of its own: the event's scalar fields."""
    out: dict[str, Any] = {}
    for field in attrs.fields(type(event)):
        name = field.name
        if name in _SKIPPED_FIELDS:
            continue
        value = getattr(event, name)
        if isinstance(value, _SCALARS):
            out[f"streamflow.{name}"] = value
    return out


class OtelView:
    """Turns the events of one subscription into OpenTelemetry spans (see the module docstring).

    Build it with :meth:`attach`, then ``await view.run()`` (in a task next to the run) until the run ends.

    :param subscription: where the events come from
    :param tracer_provider: where the spans go (default: the global tracer provider)
    :param context: the OpenTelemetry context whose span is the run span's parent (default: the context
        current when the view is built)
    :param payloads: record custom data, custom event data and interrupt values as JSON text
        (``streamflow.data``, ``streamflow.interrupt.value``); False leaves them out
    :raises InvalidArgumentError: for a ``tracer_provider`` that is not an OpenTelemetry ``TracerProvider``, or
        a ``context`` that is not an OpenTelemetry ``Context``
    """

    def __init__(
        self,
        subscription: Subscription,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        context: otel_context.Context | None = None,
        payloads: bool = True,
    ) -> None:
        if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
            raise InvalidArgumentError(
                f"tracer_provider must be an opentelemetry TracerProvider, got {type(tracer_provider).__name__}"
            )
        if context is not None and not isinstance(context, otel_context.Context):
            raise InvalidArgumentError(
                f"context must be an opentelemetry Context (e.g. trace.set_span_in_context(span)), "
                f"got {type(context).__name__}"
            )
        provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        self.subscription = subscription
        self.tracer = provider.get_tracer("streamflow")
        self.payloads = payloads
        self._parent = context if context is not None else otel_context.get_current()
        self._run_span: trace.Span | None = None
        self._open: dict[str, trace.Span] = {}
        self._by_tool_call_id: dict[str, trace.Span] = {}
        self._chunks: dict[str, int] = {}
        self._run_chunks = 0
        self._lags: list[Lagged] = []
        self._last_ts = 0.0
        self._done = False
        self._events = 0
        self._started = 0
        self._missed = 0
        self._unfinished = 0
        handlers: dict[type[Event], Callable[[Any], None]] = {
            RunStarted: self._on_run_started,
            RunFinished: self._on_run_finished,
            RunFailed: self._on_run_failed,
            RunCancelled: self._on_run_cancelled,
            RunChunk: self._on_run_chunk,
            TaskStarted: self._on_task_started,
            TaskFinished: self._on_task_finished,
            TaskFailed: self._on_task_failed,
            ChatModelStarted: self._on_chat_started,
            ChatModelToken: self._on_chunk,
            ChatModelFinished: self._on_chat_finished,
            ToolStarted: self._on_tool_started,
            ToolFinished: self._on_tool_finished,
            ToolFailed: self._on_tool_failed,
            RunnableStarted: self._on_runnable_started,
            RunnableChunk: self._on_chunk,
            RunnableFinished: self._on_runnable_finished,
            CustomData: self._on_custom_data,
            CustomEvent: self._on_custom_event,
            Interrupted: self._on_interrupted,
        }
        self._handlers = {cls: handlers.get(cls, self._on_other) for cls in KINDS.values()}

    @classmethod
    def attach(
        cls,
        source: Any,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        context: otel_context.Context | None = None,
        payloads: bool = True,
        kinds: Iterable[str | type[Event]] | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "drop_oldest",
        after_seq: int | None = None,
    ) -> Self:
        """Subscribe to ``source`` (a :class:`~streamflow.graph.Run`, a
        :class:`~streamflow.runnables.run.RunnableRun` or a :class:`~streamflow.channel.Channel`) now, so no
        event published after this call is missed, and return the view.

        :param kinds: the event kinds to take (default :data:`DEFAULT_KINDS`; terminal kinds are always
            taken); add ``"chat_model_token"``, ``"runnable_chunk"`` or ``"run_chunk"`` to count chunks
        :param buffer_size: events the view may fall behind by before it loses the oldest (> 0)
        :param overflow: ``"drop_oldest"`` (the default: the run never waits for the view), or ``"block"``
            (every event, at the cost of pausing the run), or ``"error"``
        :param after_seq: start after this ``seq`` (see ``Channel.subscribe``)
        :raises InvalidArgumentError: when ``source`` is none of those, for a bad ``tracer_provider`` or
            ``context`` (see :class:`OtelView`), or for bad subscription arguments
        :raises UnknownEventKindError: for an unknown kind in ``kinds``
        """
        channel = source if isinstance(source, Channel) else getattr(source, "channel", None)
        if not isinstance(channel, Channel):
            raise InvalidArgumentError(
                f"OtelView.attach() needs a Run, a RunnableRun or a Channel, got {type(source).__name__}"
            )
        sub = channel.subscribe(
            kinds=DEFAULT_KINDS if kinds is None else kinds,
            buffer_size=buffer_size,
            overflow=overflow,
            after_seq=after_seq,
        )
        try:
            return cls(sub, tracer_provider=tracer_provider, context=context, payloads=payloads)
        except BaseException:
            sub.close()
            raise

    # -- the loop ------------------------------------------------------------------------------------

    async def run(self) -> OtelViewStatistics:
        """Turn every event into spans until the run ends (or the subscription is closed), end what is
        still open, and return the view's counters."""
        async with self.subscription as sub:
            async for item in sub:
                self.handle(item)
        self.finish()
        return self.statistics()

    def handle(self, item: Event | Lagged) -> None:
        """Turn one event or lag signal into spans and span events."""
        if isinstance(item, Lagged):
            self._lags.append(item)
            self._missed += item.missed
            return
        self._events += 1
        self._last_ts = item.ts
        if self._lags:
            self._record_lags(self._run(item))
        self._handlers[item.__class__](item)

    def finish(self) -> None:
        """End every span still open (marked ``streamflow.unfinished``), the run span last, at the time of
        the last event seen. Idempotent; :meth:`run` calls it when the subscription ends."""
        if self._done:
            return
        if self._lags and self._run_span is not None:
            self._record_lags(self._run_span)
        self._end_all(self._last_ts)

    def statistics(self) -> OtelViewStatistics:
        """The view's counters now."""
        return OtelViewStatistics(
            events=self._events,
            spans_started=self._started,
            spans_open=len(self._open) + int(self._run_span is not None and not self._done),
            events_missed=self._missed,
            spans_unfinished=self._unfinished,
        )

    def close(self) -> None:
        """Detach from the run (spans still open are ended by :meth:`run`, or by :meth:`finish`). Idempotent."""
        self.subscription.close()

    # -- spans ---------------------------------------------------------------------------------------

    def _start(self, key: str, name: str, parent: trace.Span, ts: float, attributes: dict[str, Any]) -> trace.Span:
        span = self.tracer.start_span(
            name,
            context=trace.set_span_in_context(parent, self._parent),
            kind=_CLIENT if attributes.get("gen_ai.operation.name") == "chat" else _INTERNAL,
            attributes=attributes,
            start_time=_time(ts),
        )
        self._started += 1
        if key in self._open:  # the same id started again before its end came (or that end was lost)
            self._unfinish(key, ts)
        self._open[key] = span
        return span

    def _run(self, event: Event) -> trace.Span:
        """The run span, started now (marked ``streamflow.run_started_missed``) when its start was lost."""
        span = self._run_span
        if span is None:
            span = self._start_run(event, "invoke_agent", {"streamflow.run_started_missed": True})
        return span

    def _start_run(self, event: Event, name: str, attributes: dict[str, Any]) -> trace.Span:
        attributes = {"gen_ai.operation.name": "invoke_agent", "streamflow.run_id": event.run_id, **attributes}
        span = self.tracer.start_span(
            name, context=self._parent, kind=_INTERNAL, attributes=attributes, start_time=_time(event.ts)
        )
        self._started += 1
        self._run_span = span
        return span

    def _record_lags(self, span: trace.Span) -> None:
        for lag in self._lags:
            span.add_event(
                "events_lagged",
                {
                    "streamflow.missed": lag.missed,
                    "streamflow.first_seq": lag.first_seq,
                    "streamflow.last_seq": lag.last_seq,
                },
                timestamp=_time(self._last_ts),
            )
        self._lags.clear()
        span.set_attribute("streamflow.events_missed", self._missed)

    def _task_parent(self, event: Event) -> trace.Span:
        """The span of the task that ran the subgraph ``event`` belongs to (by ``ns``), or the run's."""
        for part in reversed(event.ns):
            span = self._open.get(part.partition(":")[2])
            if span is not None:
                return span
        return self._run(event)

    def _call_parent(self, event: Event, parent_ids: Sequence[str]) -> trace.Span:
        """The span of the innermost enclosing call or task still open, or the run's."""
        for key in reversed(parent_ids):
            span = self._open.get(key)
            if span is not None:
                return span
        if event.task_id is not None:
            span = self._open.get(event.task_id)
            if span is not None:
                return span
        return self._task_parent(event)

    def _enclosing(self, event: Event) -> trace.Span:
        if event.task_id is not None:
            span = self._open.get(event.task_id)
            if span is not None:
                return span
        return self._task_parent(event)

    def _end(self, key: str, ts: float) -> trace.Span | None:
        span = self._open.pop(key, None)
        if span is None:
            return None
        count = self._chunks.pop(key, None)
        if count is not None:
            span.set_attribute("streamflow.chunks", count)
        span.end(end_time=_time(ts))
        return span

    def _unfinish(self, key: str, ts: float) -> None:
        self._open[key].set_attribute("streamflow.unfinished", True)
        self._unfinished += 1
        self._end(key, ts)

    def _end_all(self, ts: float) -> None:
        for key in reversed(list(self._open)):
            self._unfinish(key, ts)
        self._by_tool_call_id.clear()
        run = self._run_span
        if run is not None and not self._done:
            if self._run_chunks:
                run.set_attribute("streamflow.chunks", self._run_chunks)
            run.end(end_time=_time(ts))
        self._done = True

    @staticmethod
    def _fail(span: trace.Span, error_type: str, error_message: str, ts: float) -> None:
        span.set_attribute("error.type", error_type)
        span.add_event(
            "exception", {"exception.type": error_type, "exception.message": error_message}, timestamp=_time(ts)
        )
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{error_type}: {error_message}"))

    # -- the run -------------------------------------------------------------------------------------

    def _on_run_started(self, event: RunStarted) -> None:
        if self._run_span is not None:
            return
        attributes: dict[str, Any] = {"gen_ai.agent.name": event.name, "streamflow.run_type": event.run_type}
        thread_id = event.metadata.get("thread_id")
        if isinstance(thread_id, str) and thread_id:
            attributes["gen_ai.conversation.id"] = thread_id
        if event.tags:
            attributes["streamflow.tags"] = list(event.tags)
        self._start_run(event, f"invoke_agent {event.name}", attributes)

    def _on_run_finished(self, event: RunFinished) -> None:
        self._run(event)
        self._end_all(event.ts)

    def _on_run_failed(self, event: RunFailed) -> None:
        self._fail(self._run(event), event.error_type, event.error_message, event.ts)
        self._end_all(event.ts)

    def _on_run_cancelled(self, event: RunCancelled) -> None:
        span = self._run(event)
        span.set_attribute("streamflow.cancelled", True)
        span.add_event("run_cancelled", {"streamflow.reason": event.reason}, timestamp=_time(event.ts))
        self._end_all(event.ts)

    def _on_run_chunk(self, event: RunChunk) -> None:
        self._run(event)
        self._run_chunks += 1

    # -- tasks ---------------------------------------------------------------------------------------

    def _on_task_started(self, event: TaskStarted) -> None:
        if event.task_id is None:
            return
        attributes = _routing(event)
        if event.triggers:
            attributes["streamflow.triggers"] = list(event.triggers)
        self._start(event.task_id, event.node or "task", self._task_parent(event), event.ts, attributes)

    def _on_task_finished(self, event: TaskFinished) -> None:
        if event.task_id is not None:
            self._end(event.task_id, event.ts)

    def _on_task_failed(self, event: TaskFailed) -> None:
        span = self._open.get(event.task_id) if event.task_id is not None else None
        if span is not None and event.task_id is not None:
            self._fail(span, event.error_type, event.error_message, event.ts)
            self._end(event.task_id, event.ts)

    # -- calls ---------------------------------------------------------------------------------------

    def _on_chat_started(self, event: ChatModelStarted) -> None:
        model = event.model_name or event.name
        attributes = _routing(event)
        attributes["gen_ai.operation.name"] = "chat"
        attributes["streamflow.call_id"] = event.call_id
        attributes["streamflow.name"] = event.name
        if event.model_name:
            attributes["gen_ai.request.model"] = event.model_name
        if event.provider:
            attributes["gen_ai.provider.name"] = event.provider
        self._start(event.call_id, f"chat {model}", self._call_parent(event, event.parent_ids), event.ts, attributes)

    def _on_chunk(self, event: ChatModelToken | RunnableChunk) -> None:
        key = event.call_id
        if key in self._open:
            self._chunks[key] = self._chunks.get(key, 0) + 1

    def _on_chat_finished(self, event: ChatModelFinished) -> None:
        span = self._open.get(event.call_id)
        if span is None:
            return
        message = event.message
        usage = getattr(message, "usage_metadata", None)
        if isinstance(usage, Mapping):
            for key in ("input_tokens", "output_tokens"):
                if isinstance(usage.get(key), int):
                    span.set_attribute(f"gen_ai.usage.{key}", usage[key])
        metadata = getattr(message, "response_metadata", None)
        if isinstance(metadata, Mapping):
            model = metadata.get("model_name") or metadata.get("model")
            if isinstance(model, str) and model:
                span.set_attribute("gen_ai.response.model", model)
            reason = metadata.get("finish_reason") or metadata.get("stop_reason")
            if isinstance(reason, str) and reason:
                span.set_attribute("gen_ai.response.finish_reasons", [reason])
        message_id = getattr(message, "id", None)
        if isinstance(message_id, str) and message_id and not message_id.startswith("lc_"):
            span.set_attribute("gen_ai.response.id", message_id)
        if event.error_type is not None:
            self._fail(span, event.error_type, event.error_message or "", event.ts)
        self._end(event.call_id, event.ts)

    def _on_tool_started(self, event: ToolStarted) -> None:
        attributes = _routing(event)
        attributes["gen_ai.operation.name"] = "execute_tool"
        attributes["gen_ai.tool.name"] = event.name
        attributes["gen_ai.tool.call.id"] = event.tool_call_id
        attributes["streamflow.call_id"] = event.call_id
        span = self._start(
            event.call_id,
            f"execute_tool {event.name}",
            self._call_parent(event, event.parent_ids),
            event.ts,
            attributes,
        )
        if event.tool_call_id:
            self._by_tool_call_id[event.tool_call_id] = span

    def _on_tool_finished(self, event: ToolFinished) -> None:
        self._by_tool_call_id.pop(event.tool_call_id, None)
        self._end(event.call_id, event.ts)

    def _on_tool_failed(self, event: ToolFailed) -> None:
        self._by_tool_call_id.pop(event.tool_call_id, None)
        span = self._open.get(event.call_id)
        if span is not None:
            self._fail(span, event.error_type, event.error_message, event.ts)
            self._end(event.call_id, event.ts)

    def _on_runnable_started(self, event: RunnableStarted) -> None:
        attributes = _routing(event)
        attributes["streamflow.call_id"] = event.call_id
        attributes["streamflow.run_type"] = event.run_type
        self._start(
            event.call_id,
            f"{event.run_type} {event.name}",
            self._call_parent(event, event.parent_ids),
            event.ts,
            attributes,
        )

    def _on_runnable_finished(self, event: RunnableFinished) -> None:
        span = self._open.get(event.call_id)
        if span is None:
            return
        if event.error_type is not None:
            self._fail(span, event.error_type, event.error_message or "", event.ts)
        self._end(event.call_id, event.ts)

    # -- span events ---------------------------------------------------------------------------------

    def _on_custom_data(self, event: CustomData) -> None:
        span = self._by_tool_call_id.get(event.tool_call_id) if event.tool_call_id is not None else None
        if span is None:
            span = self._enclosing(event)
        attributes: dict[str, Any] = {"streamflow.seq": event.seq}
        if self.payloads:
            attributes["streamflow.data"] = _text(event.data)
        span.add_event("custom_data", attributes, timestamp=_time(event.ts))

    def _on_custom_event(self, event: CustomEvent) -> None:
        attributes: dict[str, Any] = {"streamflow.seq": event.seq, "streamflow.name": event.name}
        if self.payloads:
            attributes["streamflow.data"] = _text(event.data)
        self._call_parent(event, event.parent_ids).add_event("custom_event", attributes, timestamp=_time(event.ts))

    def _on_interrupted(self, event: Interrupted) -> None:
        ts = _time(event.ts)
        self._run(event).set_attribute("streamflow.interrupted", True)
        span = self._enclosing(event)
        for interrupt in event.interrupts or [{}]:
            attributes: dict[str, Any] = {"streamflow.seq": event.seq}
            if event.node is not None:
                attributes["streamflow.node"] = event.node
            if "id" in interrupt:
                attributes["streamflow.interrupt.id"] = str(interrupt["id"])
            if self.payloads and "value" in interrupt:
                attributes["streamflow.interrupt.value"] = _text(interrupt["value"])
            span.add_event("interrupt", attributes, timestamp=ts)
        if event.task_id is not None and event.task_id in self._open:
            span.set_attribute("streamflow.interrupted", True)
            self._end(event.task_id, event.ts)

    def _on_other(self, event: Event) -> None:
        attributes = _scalar_fields(event)
        self._enclosing(event).add_event(event.kind, attributes, timestamp=_time(event.ts))
