"""A tiny OTLP/HTTP trace receiver on loopback: what a collector is to an ``OTLPSpanExporter``.

It answers every ``POST /v1/traces`` with an empty ``ExportTraceServiceResponse`` and keeps the decoded
``ExportTraceServiceRequest`` bodies. A request is kept before it is answered, so once the exporter's export
(or a processor's ``force_flush``) has returned, the receiver has it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

PATH = "/v1/traces"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != PATH or self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_error(404 if self.path != PATH else 415)
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            self.server.requests.append(request)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no access log on stderr."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[ExportTraceServiceRequest] = []


class OtlpReceiver:
    """``with OtlpReceiver() as receiver:`` serves on a free loopback port until the block ends."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def url(self) -> str:
        """The endpoint to give an ``OTLPSpanExporter``: ``http://127.0.0.1:<port>/v1/traces``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"

    def requests(self) -> list[ExportTraceServiceRequest]:
        """The export requests received so far, decoded."""
        with self._server.lock:
            return list(self._server.requests)

    def spans(self) -> list[Span]:
        """Every span received so far, in the order received."""
        return [
            span
            for request in self.requests()
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def attributes(span: Span) -> dict[str, Any]:
    """A received span's attributes as a plain dict (arrays as lists)."""
    out: dict[str, Any] = {}
    for item in span.attributes:
        value = item.value
        kind = value.WhichOneof("value")
        if kind == "array_value":
            out[item.key] = [getattr(v, v.WhichOneof("value") or "string_value") for v in value.array_value.values]
        elif kind is not None:
            out[item.key] = getattr(value, kind)
    return out
