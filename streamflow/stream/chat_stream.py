"""One streamed chat model call of a v3 run, as langchain-core's ``ChatModelStream`` shows it.

Layer 2 (views). The ``messages`` projection of a run stream yields one stream object per model call (and
one, already finished, per whole message a node returns). It is fed the call's content-block protocol events
(:mod:`streamflow.stream.message_events`) by the consumer that found it, and reading it further drives that
consumer, so a loop over ``stream.text`` inside a loop over ``run.messages`` needs no other task.

- ``text`` / ``reasoning``: the deltas (str) as they come; awaiting (async) or ``str()`` (sync) gives the whole
  text.
- ``tool_calls``: the ``tool_call_chunk`` deltas (``{"type": "tool_call_chunk", "id", "name", "args",
  "index"}``) as they come; awaiting (async) or ``.get()`` (sync) gives the finished tool calls.
- ``output``: the finished ``AIMessage`` (``content`` the text of its finished text blocks, which a transformer
  running before the built-ins may have edited delta by delta only; ``tool_calls``, ``usage_metadata``,
  ``response_metadata``); ``usage``: its usage dict, or None.
- iterating the stream itself gives its raw protocol events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from typing import Any, Generic, TypeVar

from ..messages import AIMessage, BaseMessage

__all__ = ["AsyncChatModelStream", "ChatModelStream"]

T = TypeVar("T")
_AHEAD = 1024
"""Items a reader of a stream gets per call at most, when more than one step's are ready."""
Pump = Callable[[], Awaitable[bool]]
"""Take more of the run (one step of the consumer that feeds a stream); False once there is no more."""
SyncCall = Callable[..., Any]
"""Run an async function on the run stream's event loop from another thread and return its result."""


class _MessageState:
    """What a call has said, accumulated from its protocol events."""

    def __init__(self, namespace: list[str], node: str | None, message_id: str | None) -> None:
        self.namespace = namespace
        self.node = node
        self.message_id = message_id
        self.events: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_chunks: list[dict[str, Any]] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.invalid_tool_calls: list[dict[str, Any]] = []
        self._blocks: dict[int, dict[str, Any]] = {}
        self._finished_text: dict[int, str] = {}
        """Text of each finished text block, by index: the output's text (the deltas are the live view)."""
        self.usage: dict[str, Any] | None = None
        self.metadata: dict[str, Any] = {}
        self.done = False
        self.error: BaseException | None = None
        self.output: AIMessage | None = None

    def dispatch(self, event: Mapping[str, Any]) -> None:
        self.events.append(dict(event))
        kind = event.get("event")
        if kind == "content-block-delta":  # the most of them, first
            delta = event.get("delta") or {}
            block = self._blocks.setdefault(int(event["index"]), {})
            dtype = delta.get("type")
            if dtype == "text-delta":
                self.text.append(delta.get("text", ""))
            elif dtype == "reasoning-delta":
                self.reasoning.append(delta.get("reasoning", ""))
            elif dtype == "tool-call-delta":
                block["args"] = block.get("args", "") + delta.get("args", "")
                chunk = {"type": "tool_call_chunk", "id": block.get("id"), "name": block.get("name")}
                chunk["args"] = delta.get("args", "")
                if "index" in block:
                    chunk["index"] = block["index"]
                self.tool_chunks.append(chunk)
        elif kind == "message-start":
            if event.get("id"):
                self.message_id = str(event["id"])
        elif kind == "content-block-start":
            content = dict(event.get("content") or {})
            self._blocks[int(event["index"])] = content
            if content.get("type") == "tool_call_chunk":
                self.tool_chunks.append(dict(content))
        elif kind == "content-block-finish":
            content = dict(event.get("content") or {})
            if content.get("type") == "text":
                self._finished_text[int(event["index"])] = str(content.get("text", ""))
            elif content.get("type") == "tool_call":
                self.tool_calls.append(
                    {
                        "name": content.get("name"),
                        "args": content.get("args"),
                        "id": content.get("id"),
                        "type": "tool_call",
                    }
                )
            elif content.get("type") == "invalid_tool_call":
                self.invalid_tool_calls.append({k: content.get(k) for k in ("name", "args", "id", "error")})
        elif kind == "message-finish":
            self.usage = event.get("usage")
            self.metadata = dict(event.get("metadata") or {})
            self._finish()

    def _finish(self) -> None:
        finished = self._finished_text
        text = "".join(finished[i] for i in sorted(finished)) if finished else "".join(self.text)
        self.output = AIMessage(
            content=text,
            id=self.message_id,
            tool_calls=list(self.tool_calls),  # type: ignore[arg-type]  # ToolCall dicts
            invalid_tool_calls=list(self.invalid_tool_calls),
            response_metadata=dict(self.metadata),
            usage_metadata=self.usage,
        )
        self.done = True

    def whole(self, message: BaseMessage) -> None:
        """Take a message given whole (a node's returned message, a call that did not stream)."""
        text = message.content if isinstance(message.content, str) else ""
        if text:
            self.text.append(text)
        for call in getattr(message, "tool_calls", ()) or ():
            self.tool_calls.append(dict(call))
        self.invalid_tool_calls.extend(getattr(message, "invalid_tool_calls", ()) or ())
        self.usage = getattr(message, "usage_metadata", None)
        self.metadata = dict(getattr(message, "response_metadata", {}) or {})
        if isinstance(message, AIMessage):
            self.output = message
            self.done = True
        else:
            self._finish()

    def fail(self, err: BaseException) -> None:
        if not self.done:
            self.error = err
            self.done = True


class _AsyncProjection(Generic[T]):
    """Deltas of one kind: async iterable; awaitable for the final value."""

    def __init__(self, stream: AsyncChatModelStream, items: list[T], final: Callable[[], Any]) -> None:
        self._stream = stream
        self._items = items
        self._final = final

    async def __aiter__(self) -> AsyncIterator[T]:
        index = 0
        while True:
            more = await self._stream._more(self._items, index)
            if not more:
                return
            index += len(more)
            for item in more:
                yield item

    def __await__(self) -> Generator[Any, None, Any]:
        return self._result().__await__()

    async def _result(self) -> Any:
        await self._stream._drain()
        return self._final()


class AsyncChatModelStream:
    """One model call of a run, read with ``async for`` / ``await`` (see the module docstring).

    :raises Exception: (reading it) what the run failed with before the call finished
    """

    fed_lazily = True
    """It is fed by later events of its reader (a reader hands it over before going on)."""

    def __init__(
        self, *, namespace: list[str] | None = None, node: str | None = None, message_id: str | None = None
    ) -> None:
        self._state = _MessageState(namespace or [], node, message_id)
        self._pump: Pump | None = None
        self._pump_ahead: Pump | None = None
        """Takes a step only when it needs no waiting: more items for a reader that has some already."""
        state = self._state
        self.text: _AsyncProjection[str] = _AsyncProjection(self, state.text, lambda: "".join(state.text))
        self.reasoning: _AsyncProjection[str] = _AsyncProjection(
            self, state.reasoning, lambda: "".join(state.reasoning)
        )
        self.tool_calls: _AsyncProjection[dict[str, Any]] = _AsyncProjection(
            self, state.tool_chunks, lambda: list(state.tool_calls)
        )
        self.output: _AsyncProjection[Any] = _AsyncProjection(self, [], lambda: state.output)
        self.usage: _AsyncProjection[Any] = _AsyncProjection(self, [], lambda: state.usage)

    @property
    def namespace(self) -> list[str]:
        """The namespace of the graph whose node called the model (``[]`` for the stream's own graph)."""
        return self._state.namespace

    @property
    def node(self) -> str | None:
        """The node that called the model."""
        return self._state.node

    @property
    def message_id(self) -> str | None:
        """The id of the message the call makes."""
        return self._state.message_id

    @property
    def done(self) -> bool:
        """Whether the call has finished (or failed)."""
        return self._state.done

    def set_arequest_more(self, pump: Pump | None) -> None:
        """Have readers that run out of items drive ``pump`` (the consumer that feeds this stream)."""
        self._pump = pump

    def dispatch(self, event: Mapping[str, Any]) -> None:
        """Feed one protocol event of the call."""
        self._state.dispatch(event)

    def dispatch_whole(self, message: BaseMessage) -> None:
        """Feed a message given whole: the stream is finished at once."""
        self._state.whole(message)

    def fail(self, err: BaseException) -> None:
        """End the stream with ``err`` (the run failed before the call finished)."""
        self._state.fail(err)

    async def _more(self, items: list[Any], index: int) -> list[Any]:
        """The items from ``index`` on, waiting (driving the pump) until there is one or the call is done.

        :raises Exception: what the stream failed with, once its items are taken
        """
        state = self._state
        while index >= len(items) and not state.done:
            if self._pump is None or not await self._pump():
                break
        if index < len(items):
            ahead = self._pump_ahead
            if ahead is not None:  # what is ready too: fewer calls (and thread hops) per item
                while len(items) - index < _AHEAD and not state.done:
                    if await ahead():
                        continue
                    await asyncio.sleep(0)  # once: what the run makes meanwhile on this loop is ready too
                    if not await ahead():
                        break
            return items[index:]
        if state.error is not None:
            raise state.error
        return []

    async def _drain(self) -> None:
        state = self._state
        while not state.done:
            if self._pump is None or not await self._pump():
                break
        if state.error is not None:
            raise state.error
        if state.output is None:
            raise RuntimeError("Stream finished without producing a message")

    def __await__(self) -> Generator[Any, None, Any]:
        return self.output.__await__()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        index = 0
        events = self._state.events
        while more := await self._more(events, index):
            index += len(more)
            for event in more:
                yield event


class _SyncProjection(Generic[T]):
    """The sync face of an :class:`_AsyncProjection`: iterable; ``get()`` for the final value."""

    def __init__(
        self, call: SyncCall, stream: AsyncChatModelStream, items: list[T], final: _AsyncProjection[Any]
    ) -> None:
        self._call = call
        self._stream = stream
        self._items = items
        self._final = final

    def __iter__(self) -> Iterator[T]:
        index = 0
        while more := self._call(self._stream._more, self._items, index):
            index += len(more)
            yield from more

    def get(self) -> Any:
        """Wait until the call finished and return the final value.

        :raises Exception: what the run failed with before the call finished
        """
        return self._call(self._final._result)


class _SyncTextProjection(_SyncProjection[str]):
    def __str__(self) -> str:
        return str(self.get())

    def __repr__(self) -> str:
        return f"<text projection of {self._stream.message_id!r}>"


class ChatModelStream:
    """One model call of a sync run stream (see the module docstring): the :class:`AsyncChatModelStream` of
    the run's event loop, read from this thread."""

    def __init__(self, stream: AsyncChatModelStream, call: SyncCall) -> None:
        self._astream = stream
        self._call = call
        state = stream._state
        self.text = _SyncTextProjection(call, stream, state.text, stream.text)
        self.reasoning = _SyncTextProjection(call, stream, state.reasoning, stream.reasoning)
        self.tool_calls: _SyncProjection[dict[str, Any]] = _SyncProjection(
            call, stream, state.tool_chunks, stream.tool_calls
        )

    @property
    def namespace(self) -> list[str]:
        """As :attr:`AsyncChatModelStream.namespace`."""
        return self._astream.namespace

    @property
    def node(self) -> str | None:
        """As :attr:`AsyncChatModelStream.node`."""
        return self._astream.node

    @property
    def message_id(self) -> str | None:
        """As :attr:`AsyncChatModelStream.message_id`."""
        return self._astream.message_id

    @property
    def done(self) -> bool:
        """As :attr:`AsyncChatModelStream.done`."""
        return self._astream.done

    @property
    def output(self) -> AIMessage:
        """The finished message, once the call has finished.

        :raises Exception: what the run failed with before the call finished
        """
        message: AIMessage = self._call(self._astream.output._result)
        return message

    @property
    def usage(self) -> dict[str, Any] | None:
        """The call's token usage once it finished, or None when the model reported none."""
        usage: dict[str, Any] | None = self._call(self._astream.usage._result)
        return usage

    def __iter__(self) -> Iterator[dict[str, Any]]:
        index = 0
        events = self._astream._state.events
        while more := self._call(self._astream._more, events, index):
            index += len(more)
            yield from more
