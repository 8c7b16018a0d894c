"""A span exporter wrapper that reports lost spans instead of losing them silently.

A bridge (the top layer); it needs the ``otel`` extra. Wrap the exporter a span processor is given::

    exporter = ReportingSpanExporter(OTLPSpanExporter(endpoint="http://collector:4318/v1/traces"))
    provider.add_span_processor(BatchSpanProcessor(exporter))

Each export that fails (the exporter answers ``FAILURE``, or raises) is counted
(:meth:`ReportingSpanExporter.statistics`) and logged through structlog at warning level as
``"spans_export_failed"`` with ``spans`` (in that export), ``failed_exports`` and ``failed_spans`` (totals so
far), ``exporter`` (its class name) and, when it raised, ``error``. An exporter that raises is answered
``FAILURE`` for it, so the span processor goes on.

With a ``BatchSpanProcessor`` the exports run on the processor's own thread, so a collector that is down
never slows a run; a ``SimpleSpanProcessor`` exports as each span ends, on the thread that ends it (for an
:class:`~streamflow.otel_view.OtelView`, the event loop's), and is only for tests.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import attrs
import structlog

from .errors import MissingExtraError

try:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("streamflow.otel_export", "otel", exc.name or "opentelemetry-sdk") from exc

__all__ = ["ExportStatistics", "ReportingSpanExporter"]


@attrs.frozen
class ExportStatistics:
    """A snapshot of a :class:`ReportingSpanExporter`'s counters (spans and export calls)."""

    exports: int
    """Export calls made."""
    exported_spans: int
    """Spans in the exports that succeeded."""
    failed_exports: int
    """Export calls that failed."""
    failed_spans: int
    """Spans in the exports that failed: lost."""


class ReportingSpanExporter(SpanExporter):
    """Exports through ``exporter``, counting and logging the exports that fail (see the module docstring).

    :param exporter: the span exporter that does the work (an ``OTLPSpanExporter``...)
    :param logger: a structlog logger (default ``structlog.get_logger("streamflow")``)
    """

    def __init__(self, exporter: SpanExporter, *, logger: Any = None) -> None:
        self.exporter = exporter
        self.logger = logger if logger is not None else structlog.get_logger("streamflow")
        self._lock = threading.Lock()
        self._exports = 0
        self._exported_spans = 0
        self._failed_exports = 0
        self._failed_spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export ``spans`` through the wrapped exporter; never raises.

        :returns: the wrapped exporter's result, or ``FAILURE`` when it raised
        """
        error: str | None = None
        try:
            result = self.exporter.export(spans)
        except Exception as exc:
            result = SpanExportResult.FAILURE
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._exports += 1
            if result is SpanExportResult.SUCCESS:
                self._exported_spans += len(spans)
                return result
            self._failed_exports += 1
            self._failed_spans += len(spans)
            failed_exports, failed_spans = self._failed_exports, self._failed_spans
        fields: dict[str, Any] = {
            "spans": len(spans),
            "failed_exports": failed_exports,
            "failed_spans": failed_spans,
            "exporter": type(self.exporter).__name__,
        }
        if error is not None:
            fields["error"] = error
        self.logger.warning("spans_export_failed", **fields)
        return result

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter (``timeout_millis``: milliseconds)."""
        return self.exporter.force_flush(timeout_millis)

    def statistics(self) -> ExportStatistics:
        """The counters now."""
        with self._lock:
            return ExportStatistics(
                exports=self._exports,
                exported_spans=self._exported_spans,
                failed_exports=self._failed_exports,
                failed_spans=self._failed_spans,
            )
