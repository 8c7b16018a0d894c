"""Scenarios for the OpenTelemetry view (needs the ``otel`` extra).

``otel_view_off``
    events/s of a run whose one async node writes ``n`` custom data items (``{"i": i}``) through its stream
    writer, drained by one raw ``block`` subscriber of the kinds the view takes (``DEFAULT_KINDS``): the run
    and the delivery, without the view.
``otel_view``
    the same run with an :class:`~streamflow.otel_view.OtelView` (``overflow="block"``, so it handles every
    event) as its consumer, on an SDK ``TracerProvider`` with a ``SimpleSpanProcessor`` to an in-memory
    exporter: each item becomes a ``custom_data`` span event with its payload as JSON text. The notes give
    the microseconds per event, and the ratio to ``otel_view_off`` is the view's cost.
``otel_view_no_payloads``
    ``otel_view`` with ``payloads=False``: the span events without the JSON text.
``otel_sdk_add_event``
    the OpenTelemetry SDK alone: ``n`` calls of ``span.add_event("custom_data", {...}, timestamp=...)`` on one
    SDK span with the attributes ``otel_view`` gives (the ``seq`` and the payload's JSON text, made in the
    loop as the view makes it). ``otel_view`` compared with it is what the run, the delivery and the view
    add to the SDK's own cost.

Each scenario checks what it measured: the subscriber got ``n`` items, or the task span got ``n`` span
events (the provider is given a ``SpanLimits`` that keeps them all).
"""

from __future__ import annotations

import json
import time
from typing import Any, TypedDict

from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.otel_view import DEFAULT_KINDS, OtelView

from .harness import Sample, scenario


class _State(TypedDict):
    n: int


def _graph(n: int) -> Any:
    async def write(state: _State) -> dict[str, int]:
        writer = get_stream_writer()
        for i in range(n):
            writer({"i": i})
        return {"n": n}

    return StateGraph(_State).add_node("write", write).add_edge(START, "write").compile(name="bench")


@scenario("otel_view_off", unit="events/s", n=20_000, quick_n=4_000)
async def otel_view_off(n: int) -> Sample:
    """n custom data items through a run drained by a raw subscriber of the view's kinds (no view)."""
    graph = _graph(n)
    start = time.perf_counter()
    async with graph.start({"n": 0}) as run:
        count = 0
        async with run.subscribe(kinds=DEFAULT_KINDS, overflow="block") as sub:
            async for item in sub:
                count += getattr(item, "kind", "") == "custom_data"
        await run.result()
    seconds = time.perf_counter() - start
    assert count == n, f"the subscriber got {count} of {n} items"
    return Sample(n, seconds, f"{seconds / n * 1e6:.2f} us/event")


def _traced(payloads: bool) -> Any:
    async def bench(n: int) -> Sample:
        graph = _graph(n)
        exporter = InMemorySpanExporter()
        provider = TracerProvider(span_limits=SpanLimits(max_events=n + 16))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        start = time.perf_counter()
        async with graph.start({"n": 0}) as run:
            view = OtelView.attach(run, tracer_provider=provider, overflow="block", payloads=payloads)
            await view.run()
            await run.result()
        seconds = time.perf_counter() - start
        (task,) = [span for span in exporter.get_finished_spans() if span.name == "write"]
        assert len(task.events) == n, f"the task span got {len(task.events)} of {n} span events"
        provider.shutdown()
        return Sample(n, seconds, f"{seconds / n * 1e6:.2f} us/event")

    return bench


@scenario("otel_sdk_add_event", unit="events/s", n=20_000, quick_n=4_000)
def otel_sdk_add_event(n: int) -> Sample:
    """n span events added to one OpenTelemetry SDK span, with otel_view's attributes (no run, no view)."""
    provider = TracerProvider(span_limits=SpanLimits(max_events=n + 16))
    span = provider.get_tracer("bench").start_span("write")
    ts = time.time_ns()
    start = time.perf_counter()
    for i in range(n):
        span.add_event("custom_data", {"streamflow.seq": i, "streamflow.data": json.dumps({"i": i})}, timestamp=ts)
    seconds = time.perf_counter() - start
    span.end()
    assert len(span.events) == n  # type: ignore[attr-defined]
    provider.shutdown()
    return Sample(n, seconds, f"{seconds / n * 1e6:.2f} us/event")


for _name, _payloads, _compare in (
    ("otel_view", True, "otel_sdk_add_event"),
    ("otel_view_no_payloads", False, "otel_view"),
):
    scenario(_name, unit="events/s", n=20_000, quick_n=4_000, baseline="otel_view_off", compare=_compare)(
        _traced(_payloads)
    )
