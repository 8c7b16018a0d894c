"""``run.tool_calls``: LangGraph's ``langgraph.prebuilt`` ``ToolCallTransformer``, a view of the ``tools`` mode.

Layer 2 (views); importable as ``streamflow.prebuilt.ToolCallTransformer``, LangGraph's path. The ``tools``
stream mode is made from the run's typed tool events (:class:`~streamflow.events.ToolStarted`,
:class:`~streamflow.events.CustomData` of a tool, :class:`~streamflow.events.ToolFinished`,
:class:`~streamflow.events.ToolFailed`); this transformer turns its envelopes at the stream's own namespace
into one :class:`ToolCallStream` per call.
"""

from __future__ import annotations

from typing import Any

from ..messages import ToolMessage
from .protocol import ProtocolEvent
from .stream_channel import StreamChannel
from .tool_call_stream import Pump, ToolCallStream
from .transformer import StreamTransformer

__all__ = ["ToolCallStream", "ToolCallTransformer"]


def _is_serialized_tool_message(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "constructor"
        and isinstance(value.get("id"), list)
        and bool(value["id"])
        and value["id"][-1] == "ToolMessage"
    )


def _normalize_tool_output(output: Any) -> Any:
    if isinstance(output, ToolMessage) or type(output).__name__ == "ToolMessage":
        return output.content
    if _is_serialized_tool_message(output):
        kwargs = output.get("kwargs")
        if isinstance(kwargs, dict):
            return kwargs.get("content")
    return output


class ToolCallTransformer(StreamTransformer):
    """``run.tool_calls``: a :class:`ToolCallStream` per tool call of the stream's own graph, as it starts.

    Given to ``compile(transformers=[ToolCallTransformer])`` or ``stream_events(..., transformers=[...])``;
    it makes the run produce the ``tools`` mode. The ``tools`` envelopes stay in the main log. A call still
    open when the run ends is completed with output None; when the run fails, with the run's error text.
    """

    _native = True
    supports_sync = True
    required_stream_modes = ("tools",)

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        super().__init__(scope)
        self._log: StreamChannel[ToolCallStream] = StreamChannel()
        self._active: dict[str, ToolCallStream] = {}
        self._pump: Pump | None = None
        self._handed_over: Any = None

    def init(self) -> dict[str, Any]:
        return {"tool_calls": self._log}

    def _bind_apump(self, pump: Pump) -> None:
        self._pump = pump

    def _on_register(self, pipeline: Any) -> None:
        self._handed_over = pipeline.note_handed_over

    def process(self, event: ProtocolEvent) -> bool:
        if event["method"] != "tools" or tuple(event["params"]["namespace"]) != self.scope:
            return True
        data = event["params"]["data"]
        tool_call_id = data.get("tool_call_id")
        if tool_call_id is None:
            return True
        kind = data.get("event")
        if kind == "tool-started":
            stream = ToolCallStream(tool_call_id, data.get("tool_name", ""), data.get("input"))
            stream._pump = self._pump
            if self._handed_over is not None:
                self._handed_over()
            self._active[tool_call_id] = stream
            self._log.push(stream)
        elif kind == "tool-output-delta":
            active = self._active.get(tool_call_id)
            if active is not None:
                active._push_delta(data.get("delta"))
        elif kind == "tool-finished":
            active = self._active.pop(tool_call_id, None)
            if active is not None:
                active._finish(_normalize_tool_output(data.get("output")))
        elif kind == "tool-error":
            active = self._active.pop(tool_call_id, None)
            if active is not None:
                active._fail(data.get("message", ""))
        return True

    def finalize(self) -> None:
        for stream in self._active.values():
            if not stream.completed:
                stream._finish(None)
        self._active.clear()

    def fail(self, err: BaseException) -> None:
        message = str(err)
        for stream in self._active.values():
            if not stream.completed:
                stream._fail(message)
        self._active.clear()
