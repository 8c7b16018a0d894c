"""A chat model's own v3 stream: ``model.stream_events(input, version="v3")`` and
``await model.astream_events(input, version="v3")``, as langchain-core 1.x's chat models give them.

Layer 4 (runtime). The call is the model's :meth:`~streamflow.models.base.BaseChatModel.astream` (or sync
``stream``), so inside a run it is a call of that run like any other (its tokens in the run's ``messages``
views, its stream in a v3 run stream's ``messages`` projection); each chunk becomes the content-block protocol
events of :class:`~streamflow.stream.message_events.MessageEvents`, read through the same
:class:`~streamflow.stream.ChatModelStream` / :class:`~streamflow.stream.AsyncChatModelStream` a run stream's
``messages`` projection yields (``text``, ``reasoning``, ``tool_calls``, ``usage``, ``output``; iterating it
gives the protocol events). Nothing runs until the stream is read: each read takes the model's next chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Protocol, TypeVar

from ..messages import AIMessageChunk, BaseMessage
from ..stream.chat_stream import AsyncChatModelStream, ChatModelStream
from ..stream.message_events import MessageEvents

__all__ = ["achat_model_stream", "chat_model_stream"]

T = TypeVar("T")
_END = object()


class StreamingModel(Protocol):
    """What the streams read: a chat model's ``astream`` and ``stream`` (a
    :class:`~streamflow.models.base.BaseChatModel`)."""

    def astream(self, messages: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]: ...

    def stream(self, messages: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]: ...


class _Feed:
    """Feeds an :class:`AsyncChatModelStream` from the model's chunks, one chunk per pump."""

    def __init__(self, stream: AsyncChatModelStream) -> None:
        self.stream = stream
        self.events = MessageEvents()
        self.started = False

    def take(self, item: Any) -> bool:
        """Feed one item of the model's stream (``_END`` once it ended); False once the stream is done."""
        stream = self.stream
        if item is _END:
            if not stream.done:
                if not self.started:
                    self._start(None)
                for event in self.events.finish(None):  # the chunks carried the usage and metadata
                    stream.dispatch(event)
            return False
        if isinstance(item, AIMessageChunk):
            if not self.started:
                self._start(item.id)
            for event in self.events.chunk(item):
                stream.dispatch(event)
            return True
        if isinstance(item, BaseMessage):  # a model that does not stream answers whole
            stream.dispatch_whole(item)
            return False
        raise TypeError(f"a chat model's stream gave {type(item).__name__}; expected AIMessageChunk")

    def _start(self, message_id: str | None) -> None:
        self.started = True
        self.stream.dispatch(MessageEvents.start(message_id))

    def fail(self, err: BaseException) -> bool:
        self.stream.fail(err)
        return False


def _model_kwargs(stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    return kwargs if stop is None else {**kwargs, "stop": stop}


async def achat_model_stream(
    model: StreamingModel, input: Any, config: Any, stop: list[str] | None, kwargs: dict[str, Any]
) -> AsyncChatModelStream:
    """The :class:`AsyncChatModelStream` of one call of ``model`` on ``input`` (see the module docstring)."""
    stream = AsyncChatModelStream()
    feed = _Feed(stream)
    chunks: AsyncIterator[Any] = aiter(model.astream(input, config, **_model_kwargs(stop, kwargs)))

    async def pump() -> bool:
        if stream.done:
            return False
        try:
            item = await anext(chunks, _END)
        except Exception as err:
            return feed.fail(err)
        return feed.take(item)

    stream.set_arequest_more(pump)
    return stream


def chat_model_stream(
    model: StreamingModel, input: Any, config: Any, stop: list[str] | None, kwargs: dict[str, Any]
) -> ChatModelStream:
    """The :class:`ChatModelStream` of one call of ``model`` on ``input``, fed from the model's sync
    ``stream()`` in the reading thread (see the module docstring)."""
    stream = AsyncChatModelStream()
    feed = _Feed(stream)
    chunks: Iterator[Any] = iter(model.stream(input, config, **_model_kwargs(stop, kwargs)))

    async def pump() -> bool:  # never suspends: each read takes the next chunk in the reading thread
        if stream.done:
            return False
        try:
            item = next(chunks, _END)
        except Exception as err:
            return feed.fail(err)
        return feed.take(item)

    stream.set_arequest_more(pump)
    return ChatModelStream(stream, _run_inline)


def _run_inline(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``await fn(*args)`` for a coroutine that never suspends (the sync stream's reads): run to its end in
    this thread."""
    coro = fn(*args)
    assert isinstance(coro, Coroutine)
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError("a sync chat model stream's read waited on an event loop")
