"""A chat model call's events as the content-block protocol's message events (LangGraph v3 ``messages``).

Layer 2 (views). :class:`ProtocolMessagesState` is the ``messages`` stream mode of a v3 run stream: where the
``messages`` mode of ``stream()`` gives an ``AIMessageChunk`` per token, it gives, per streamed model call,
``(event, metadata)`` pairs whose ``event`` is a dict of LangChain's content-block protocol::

    {"event": "message-start", "role": "ai", "id": <message id>}
    {"event": "content-block-start", "index": i, "content": {"type": "text", "text": ""}}
    {"event": "content-block-delta", "index": i, "delta": {"type": "text-delta", "text": <token text>}}
    {"event": "content-block-start", "index": j, "content": {"type": "tool_call_chunk", "id", "name",
     "args": "", "index": <the provider's index>}}
    {"event": "content-block-delta", "index": j, "delta": {"type": "tool-call-delta", "args": <piece>}}
    {"event": "content-block-finish", "index": i, "content": {"type": "text", "text": <whole text>}}
    {"event": "content-block-finish", "index": j, "content": {"type": "tool_call", "id", "name", "args": {...}}}
    {"event": "message-finish", "usage": {...}, "metadata": {<response metadata>}}

Block indexes count from 0 in the order blocks first appear; ``usage`` and ``metadata`` are there when the
model reported any. ``metadata`` is the ``messages`` mode's metadata of the call plus ``run_id`` (the call's
id). A call that does not stream (``nostream`` tag, a model that answers whole) and each message a node
returns are given whole, ``(message, metadata)``, as in the ``messages`` mode.
"""

from __future__ import annotations

import json
from typing import Any

from ..events import ChatModelFinished, ChatModelStarted, ChatModelToken
from ..modes import NOSTREAM, SKIP, Chunks, MessagesModeState

__all__ = ["MessageEvents", "ProtocolMessagesState", "finalized_tool_call"]


def finalized_tool_call(call_id: Any, name: Any, raw_args: str) -> dict[str, Any]:
    """The ``content-block-finish`` block of a streamed tool call: ``{"type": "tool_call", "id", "name",
    "args": <parsed dict>}``, or ``{"type": "invalid_tool_call", "id", "name", "args": <raw str>, "error"}`` when
    ``raw_args`` is not a JSON object (an empty string is ``{}``)."""
    try:
        args = json.loads(raw_args) if raw_args else {}
    except ValueError as exc:
        return {"type": "invalid_tool_call", "id": call_id, "name": name, "args": raw_args, "error": str(exc)}
    if not isinstance(args, dict):
        return {"type": "invalid_tool_call", "id": call_id, "name": name, "args": raw_args, "error": "not an object"}
    return {"type": "tool_call", "id": call_id, "name": name, "args": args}


class MessageEvents:
    """One streamed model call turned into content-block protocol events (the dicts of the module
    docstring), chunk by chunk: what it has said so far."""

    __slots__ = ("blocks", "metadata", "response_metadata", "text_index", "tools", "usage")

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata: dict[str, Any] = metadata or {}
        """The ``messages`` metadata the events go with (for a run's ``messages`` projection)."""
        self.blocks: list[dict[str, Any]] = []
        """Per block index: ``{"type": "text", "parts"}`` (the text's deltas, joined when the call ends: adding
        to one string would copy it at every token) or ``{"type": "tool", "id", "name", "args"}``."""
        self.text_index: int | None = None
        self.tools: dict[Any, int] = {}
        """Provider tool-call index -> block index."""
        self.usage: dict[str, Any] | None = None
        self.response_metadata: dict[str, Any] = {}

    @staticmethod
    def start(message_id: str | None) -> dict[str, Any]:
        """The call's ``message-start`` event."""
        return {"event": "message-start", "role": "ai", "id": message_id}

    def chunk(self, chunk: Any) -> list[dict[str, Any]]:
        """The events of one ``AIMessageChunk``: block starts and deltas (none for a chunk that only carries
        usage or response metadata, which the finish reports)."""
        out: list[dict[str, Any]] = []
        text = chunk.content if isinstance(chunk.content, str) else ""
        if text:
            if self.text_index is None:
                self.text_index = len(self.blocks)
                self.blocks.append({"type": "text", "parts": []})
                out.append(
                    {"event": "content-block-start", "index": self.text_index, "content": {"type": "text", "text": ""}}
                )
            self.blocks[self.text_index]["parts"].append(text)
            delta = {"type": "text-delta", "text": text}
            out.append({"event": "content-block-delta", "index": self.text_index, "delta": delta})
        for piece in chunk.tool_call_chunks:
            key = piece.get("index")
            index = self.tools.get(key)
            if index is None:
                index = self.tools[key] = len(self.blocks)
                self.blocks.append({"type": "tool", "id": piece.get("id"), "name": piece.get("name"), "args": ""})
                skeleton: dict[str, Any] = {
                    "type": "tool_call_chunk",
                    "id": piece.get("id"),
                    "name": piece.get("name"),
                    "args": "",
                }
                if key is not None:
                    skeleton["index"] = key
                out.append({"event": "content-block-start", "index": index, "content": skeleton})
            block = self.blocks[index]
            for field in ("id", "name"):
                if block[field] is None and piece.get(field) is not None:
                    block[field] = piece[field]
            args = piece.get("args") or ""
            if args:
                block["args"] += args
                out.append(
                    {"event": "content-block-delta", "index": index, "delta": {"type": "tool-call-delta", "args": args}}
                )
        if chunk.usage_metadata:
            self.usage = _add_usage(self.usage, chunk.usage_metadata)
        if chunk.response_metadata:
            self.response_metadata.update(chunk.response_metadata)
        return out

    def finish(self, message: Any) -> list[dict[str, Any]]:
        """The events that end the call: each block's ``content-block-finish`` (tool calls parsed), then
        ``message-finish`` with the usage and response metadata (the chunks', else ``message``'s)."""
        out: list[dict[str, Any]] = []
        for index, block in enumerate(self.blocks):
            if block["type"] == "text":
                content: dict[str, Any] = {"type": "text", "text": "".join(block["parts"])}
            else:
                content = finalized_tool_call(block["id"], block["name"], block["args"])
            out.append({"event": "content-block-finish", "index": index, "content": content})
        finish: dict[str, Any] = {"event": "message-finish"}
        usage = self.usage
        if usage is None and message is not None and message.usage_metadata:
            usage = message.usage_metadata
        if usage:
            finish["usage"] = usage
        response_metadata = self.response_metadata or (dict(message.response_metadata) if message is not None else {})
        if response_metadata:
            finish["metadata"] = response_metadata
        out.append(finish)
        return out


def _add_usage(total: dict[str, Any] | None, more: dict[str, Any]) -> dict[str, Any]:
    if total is None:
        return dict(more)
    out = dict(total)
    for key, value in more.items():
        if isinstance(value, int) and isinstance(out.get(key), int):
            out[key] += value
        else:
            out[key] = value
    return out


def _paired(events: list[dict[str, Any]], metadata: dict[str, Any]) -> Any:
    if not events:
        return SKIP
    if len(events) == 1:
        return (events[0], metadata)
    return Chunks(tuple((event, metadata) for event in events))


class ProtocolMessagesState(MessagesModeState):
    """The v3 ``messages`` mode of one consumer (see the module docstring); whole messages as
    :class:`~streamflow.modes.MessagesModeState` gives them."""

    __slots__ = ("open",)

    def __init__(self) -> None:
        super().__init__()
        self.open: dict[str, MessageEvents] = {}
        """The streamed calls in flight, by call id."""

    def _begin(self, call_id: str, metadata: dict[str, Any]) -> tuple[MessageEvents, dict[str, Any]]:
        call = self.open[call_id] = MessageEvents({**metadata, "run_id": call_id})
        return call, MessageEvents.start(f"lc_run--{call_id}")

    def model_started(self, event: ChatModelStarted) -> Any:
        super().model_started(event)
        if not event.streamed or NOSTREAM in event.tags:
            return SKIP
        call, start = self._begin(event.call_id, self.calls[event.call_id])
        return (start, call.metadata)

    def token(self, event: ChatModelToken) -> Any:
        if NOSTREAM in event.tags:
            return SKIP
        chunk = event.chunk
        self.seen.add(chunk.id)
        call = self.open.get(event.call_id)
        content = chunk.content
        if (
            call is not None
            and call.text_index is not None
            and content
            and content.__class__ is str
            and not chunk.tool_call_chunks
            and not chunk.usage_metadata
            and not chunk.response_metadata
        ):  # the common token: more text of a block already started
            at = call.text_index
            call.blocks[at]["parts"].append(content)
            return (
                {"event": "content-block-delta", "index": at, "delta": {"type": "text-delta", "text": content}},
                call.metadata,
            )
        if call is None:  # a consumer that never saw the call start
            metadata = self.calls.get(event.call_id) or self.unseen_call(event)
            call, start = self._begin(event.call_id, metadata)
            return _paired([start, *call.chunk(chunk)], call.metadata)
        return _paired(call.chunk(chunk), call.metadata)

    def model_finished(self, event: ChatModelFinished) -> Any:
        call = self.open.pop(event.call_id, None)
        if call is None:
            return super().model_finished(event)
        self.calls.pop(event.call_id, None)
        message = event.message
        if message is not None:
            self.seen.add(message.id)
        return _paired(call.finish(message), call.metadata)
