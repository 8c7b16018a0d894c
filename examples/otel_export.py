"""Trace a run with OpenTelemetry: its spans go to an OTLP/HTTP collector (Jaeger, Tempo, an OTel Collector...).

    python examples/otel_export.py --endpoint http://127.0.0.1:4318/v1/traces

The run span is a child of the application's own span (here ``POST /ask``), so the graph's tasks, model calls
and tool calls show up inside the request that started them. A collector that is down does not stop the run:
the spans it loses are counted, and logged as ``spans_export_failed``.
"""

from __future__ import annotations

import argparse
import asyncio

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from streamflow.messages import AIMessage
from streamflow.models import FakeChatModel
from streamflow.otel_export import ReportingSpanExporter
from streamflow.otel_view import OtelView
from streamflow.tools import create_react_agent, tool


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"It's always sunny in {city}!"


CALL = AIMessage(
    content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}]
)
agent = create_react_agent(FakeChatModel([CALL, "Sunny in Paris."]), [get_weather], name="weather_agent")


async def main(endpoint: str) -> None:
    exporter = ReportingSpanExporter(OTLPSpanExporter(endpoint=endpoint, timeout=5))
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-service"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("weather-service")

    with tracer.start_as_current_span("POST /ask"):
        async with agent.start({"messages": [{"role": "user", "content": "Weather in Paris?"}]}) as run:
            view = OtelView.attach(run, tracer_provider=provider)  # its run span: a child of "POST /ask"
            await view.run()
            output = await run.result()
    print("answer:", output["messages"][-1].text)

    provider.force_flush()
    provider.shutdown()
    stats = exporter.statistics()
    print(f"exported {stats.exported_spans} spans, {stats.failed_exports} failed exports")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:4318/v1/traces", help="the OTLP/HTTP traces URL")
    asyncio.run(main(parser.parse_args().endpoint))
