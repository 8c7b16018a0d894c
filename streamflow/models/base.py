"""The chat model base: ``invoke``/``ainvoke``/``stream``/``astream`` on top of one async chunk source.

Inside a run, every call publishes ``ChatModelStarted``, one ``ChatModelToken`` per chunk and
``ChatModelFinished`` onto the run's channel, whether the node called ``invoke()`` or ``astream()``
(LangChain's "auto-streaming"): the ``messages`` stream mode is a view of those events. A model tagged
``nostream`` publishes no tokens. Outside a run, the calls just return or yield.

The events carry facts, not the shape of any view: ``ChatModelStarted`` says once what the call is (its
task, tags, provider, model name, the node's metadata); a token carries its chunk, its ``call_id`` and the
routing fields. The ``messages`` mode and ``astream_events`` build LangGraph's and LangChain's metadata
(``tags``, ``ls_provider``, ``ls_model_name`` ..., see :func:`streamflow.metadata.model_call_metadata`) from
them, once per call.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Literal, Self

import anyio

from ..errors import InvalidArgumentError, SyncInAsyncContextError
from ..event_stream import EventStreamSpec
from ..events import ChatModelFinished, ChatModelStarted, ChatModelToken, error_type_name
from ..graph.context import TaskContext, _current, check_cancelled, current_task
from ..messages import AIMessage, AIMessageChunk, BaseMessage, ChunkSum, coerce_message, merge_chunks
from ..metadata import default_provider
from ..modes import NOSTREAM
from ..portal import call_sync, iterate_sync
from ..prompt_values import PromptValue
from ..runnables.base import SelfPublishingRunnable
from ..runnables.context import StepContext
from ..runnables.utils import END, gather
from .tool_specs import function_spec
from .v3_stream import achat_model_stream, chat_model_stream

__all__ = ["BaseChatModel"]


class BaseChatModel(SelfPublishingRunnable[Any, AIMessage]):
    """Base of every chat model. Subclasses implement :meth:`_astream_chunks`.

    A chat model is a Runnable: it composes with ``|`` (``prompt | model | StrOutputParser()``), takes a
    prompt value, messages or a string, and as a step of a chain publishes its ``ChatModelStarted``, tokens
    and ``ChatModelFinished`` on the chain's run, with the step's tags (``seq:step:<n>``), so
    ``astream_events`` shows ``on_chat_model_*`` events; in a streaming chain its tokens flow on to the next
    step as they come.

    :param tags: tags carried by this model's events, after the run's (``metadata["tags"]`` in ``messages``
        mode)
    :param name: the model's name in events (default: its class name)
    :param disable_streaming: see :attr:`disable_streaming`
    :raises InvalidArgumentError: for a ``disable_streaming`` other than ``True``, ``False`` or
        ``"tool_calling"``
    """

    provider: str = ""
    """LangChain's ``ls_provider``; empty: derived from the class name by LangChain's default rule
    (:func:`streamflow.metadata.default_provider`: ``ChatScripted`` -> ``"scripted"``)."""
    model_name: str = ""
    """LangChain's ``ls_model_name`` (empty: the ``messages`` metadata has no ``ls_model_name``, as with a
    LangChain model that names none)."""

    disable_streaming: bool | Literal["tool_calling"] = False
    """LangChain's ``disable_streaming``: ``True``, the model never streams (``stream``/``astream`` yield the
    whole answer once, a run's views get no tokens and ``messages`` shows the answer whole); ``"tool_calling"``,
    the same only while tools are bound (``bind_tools``)."""

    run_type = "chat_model"
    streams_input = True

    def __init__(
        self,
        *,
        tags: Sequence[str] = (),
        name: str | None = None,
        disable_streaming: bool | Literal["tool_calling"] = False,
    ) -> None:
        if disable_streaming not in (True, False, "tool_calling"):
            raise InvalidArgumentError(f"disable_streaming is True, False or 'tool_calling', got {disable_streaming!r}")
        self.tags = tuple(tags)
        self.name: str = name or type(self).__name__
        self.disable_streaming = disable_streaming
        self.tools: list[Any] = []
        self.tool_specs: list[dict[str, Any]] = []
        """The bound tools in OpenAI's function-tool form (what a provider's request carries)."""

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        """Yield the answer to ``messages`` as chunks. Subclasses implement this, or :meth:`_agenerate`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _astream_chunks nor _agenerate")
        yield  # type: ignore[unreachable]  # pragma: no cover

    async def _agenerate(self, messages: list[BaseMessage]) -> AIMessage:
        """Return the whole answer to ``messages``. A model that implements only this never streams: its
        ``astream`` yields the answer once and its runs see no tokens, as LangChain falls back for a model
        without ``_stream``. By default, the chunks of :meth:`_astream_chunks` added up."""
        return merge_chunks([chunk async for chunk in self._astream_chunks(messages)]).to_message()

    def _streams(self) -> bool:
        """Whether a call streams its answer as chunks (LangChain's ``_should_stream``)."""
        if type(self)._astream_chunks is BaseChatModel._astream_chunks:
            return False
        disabled = self.disable_streaming
        return not (disabled is True or (disabled == "tool_calling" and bool(self.tool_specs)))

    async def _whole(self, msgs: list[BaseMessage]) -> AIMessage:
        """The whole answer of a call that does not stream, with or without a run."""
        call = _ModelCall.start(self, msgs, streamed=False)
        if call is None:
            message = await self._agenerate(msgs)
            if message.id is None:
                message.id = f"lc_run--{uuid.uuid4()}-0"
            return message
        try:
            message = await self._agenerate(msgs)
        except Exception as exc:
            call.fail(exc)
            raise
        return call.finish(message)

    def bind_tools(self, tools: Sequence[Any]) -> Self:
        """Return a copy of this model that offers ``tools`` (streamflow tools or OpenAI function-tool dicts)
        to the model; the copy shares everything else (a local model's loaded weights, say).

        :raises InvalidArgumentError: for an item that is neither a tool nor an OpenAI function-tool dict
        """
        specs = [function_spec(t) for t in tools]
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.tools = list(tools)
        clone.tool_specs = specs
        return clone

    async def astream(  # type: ignore[override]
        self, messages: Any, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        """Yield the answer as :class:`AIMessageChunk` s, publishing model events when inside a run. The final
        chunk has ``chunk_position="last"``: when the source's own last chunk lacks it, an empty chunk with it
        follows (a token of the run too), as langchain-core 1.x's chat models do. Chunks without an id get
        the call's ``lc_run--<uuid>``.

        :param messages: a list of messages (or message dicts), or one string
        :param config: accepted for LangGraph compatibility; the run is found from the running task
        :raises InvalidArgumentError: for an item that is not a message, a message dict or a string
        """
        msgs = _coerce(messages)
        if not self._streams():  # LangChain yields the whole answer (an AIMessage) once
            yield await self._whole(msgs)  # type: ignore[misc]
            return
        call = _ModelCall.start(self, msgs)
        chunk: AIMessageChunk | None = None
        if call is None:
            default_id = f"lc_run--{uuid.uuid4()}"
            async for chunk in self._astream_chunks(msgs):
                if chunk.id is None:
                    chunk.id = default_id
                yield chunk
            if chunk is not None and chunk.chunk_position != "last":
                yield AIMessageChunk(content="", id=default_id, chunk_position="last")
            return
        try:
            async for chunk in self._astream_chunks(msgs):
                waiting = call.add(chunk)
                if waiting is not None:
                    await call.channel.publish(waiting)
                yield chunk
            if chunk is not None and chunk.chunk_position != "last":
                chunk = call.last_chunk()
                waiting = call.add(chunk, summed=False)  # a token, not part of the answer (as LangChain)
                if waiting is not None:
                    await call.channel.publish(waiting)
                yield chunk
        except Exception as exc:
            call.fail(exc)
            raise
        call.finish(streamed=True)

    async def ainvoke(self, messages: Any, config: Mapping[str, Any] | None = None, **kwargs: Any) -> AIMessage:  # type: ignore[override]
        """Return the whole answer (tokens still stream to the run's ``messages`` views). Its id, when the
        model gave none: the call's chunks' ``lc_run--<uuid>`` in a run, ``lc_run--<uuid>-0`` outside one,
        as langchain-core's streamed and whole answers.

        :raises InvalidArgumentError: for an item that is not a message, a message dict or a string
        """
        msgs = _coerce(messages)
        if not self._streams():
            return await self._whole(msgs)
        call = _ModelCall.start(self, msgs)
        if call is None:
            message = merge_chunks([chunk async for chunk in self._astream_chunks(msgs)]).to_message()
            if message.id is None:  # langchain-core's id of an answer generated whole
                message.id = f"lc_run--{uuid.uuid4()}-0"
            return message
        try:
            chunk: AIMessageChunk | None = None
            async for chunk in self._astream_chunks(msgs):
                waiting = call.add(chunk)
                if waiting is not None:
                    await call.channel.publish(waiting)
            if chunk is not None and chunk.chunk_position != "last":
                waiting = call.add(call.last_chunk())
                if waiting is not None:
                    await call.channel.publish(waiting)
        except Exception as exc:
            call.fail(exc)
            raise
        return call.finish()

    def invoke(self, messages: Any, config: Mapping[str, Any] | None = None, **kwargs: Any) -> AIMessage:  # type: ignore[override]
        """Sync :meth:`ainvoke`: from a sync node (a worker thread of the run) it runs on the run's loop;
        from plain sync code, through a portal.

        :raises SyncInAsyncContextError: when called on a thread that runs an event loop (use ``ainvoke``)
        :raises TaskCancelledError: when the calling task's sync code was cancelled (before or during the call)
        """
        check_cancelled()
        task = current_task()
        if task is not None and not task.run.on_loop():
            return task.run.call_from_thread(self.ainvoke, messages, config)
        if task is not None:
            raise SyncInAsyncContextError("model.invoke() called on the event loop thread; use await model.ainvoke()")
        return call_sync(self.ainvoke, messages, config, async_alternative="ainvoke()")

    def stream(self, messages: Any, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:  # type: ignore[override]
        """Sync :meth:`astream` through a portal (outside a run).

        :raises TaskCancelledError: when called from sync code of a task that was cancelled
        """
        check_cancelled()
        return iterate_sync(lambda: self.astream(messages, config), async_alternative="astream()")

    # -- v3 streams: one call's typed stream, as langchain-core 1.x's chat models ---------------------

    def stream_events(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        version: str = "v2",
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """With ``version="v3"``: a :class:`~streamflow.stream.ChatModelStream` of one call on ``input``
        (``text`` and ``reasoning`` deltas, ``tool_calls`` chunks, ``usage``, ``output``: the finished
        :class:`AIMessage`; iterating it gives the content-block protocol events), read in this thread; each
        read takes the model's next chunk (:mod:`streamflow.models.v3_stream`). Inside a run it is a call of the
        run, as :meth:`stream` is. Other versions: LangChain's ``stream_events`` dicts, the sync twin of
        :meth:`astream_events`.

        :param stop: stop sequences, handed to the model (v3 only, as in langchain-core)
        :raises SyncInAsyncContextError: (v3: at the first read) when read on a thread that runs an event loop
        :raises UnknownStreamModeError: (at once) for a ``version`` other than ``"v1"``, ``"v2"`` or ``"v3"``
        :raises Exception: (reading it) what the model raised, after the events before it
        """
        if version == "v3":
            return chat_model_stream(self, input, config, stop, kwargs)
        EventStreamSpec.parse(version)
        return iterate_sync(
            lambda: self.astream_events(input, config, version=version, **kwargs),
            async_alternative="astream_events()",
        )

    def astream_events(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        version: str = "v2",
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """With ``version="v3"``: an awaitable of the :class:`~streamflow.stream.AsyncChatModelStream` of one
        call on ``input`` (as :meth:`stream_events`, read with ``async for`` and ``await``). Other versions:
        LangChain's ``astream_events`` dicts (:meth:`streamflow.runnables.calls.RunnableCalls.astream_events`).

        :param stop: stop sequences, handed to the model (v3 only, as in langchain-core)
        :raises UnknownStreamModeError: (at once) for a ``version`` other than ``"v1"``, ``"v2"`` or ``"v3"``
        """
        if version == "v3":
            return achat_model_stream(self, input, config, stop, kwargs)
        return super().astream_events(input, config, version=version, **kwargs)

    # -- as a step of a chain ------------------------------------------------------------------------

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> AIMessage:
        return await self.ainvoke(input)

    async def _atransform(
        self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        final = await gather(chunks)
        if final is END:
            return
        stream = self.astream(final)
        try:
            while True:
                token = _current.set(ctx)
                try:
                    chunk = await anext(stream, None)
                finally:
                    _current.reset(token)
                if chunk is None:
                    return
                yield chunk
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


def _coerce(messages: Any) -> list[BaseMessage]:
    if isinstance(messages, PromptValue):
        return messages.to_messages()
    return [coerce_message(m) for m in ([messages] if isinstance(messages, (str, dict)) else messages)]


class _ModelCall:
    """One model call inside a run: publishes its ``ChatModelStarted``, a ``ChatModelToken`` per chunk and
    its ``ChatModelFinished``, and adds the chunks up once, at the end."""

    __slots__ = (
        "call_id",
        "channel",
        "default_id",
        "listened",
        "node",
        "ns",
        "on_loop",
        "publish",
        "route",
        "step",
        "streamed",
        "sum",
        "tags",
        "task_id",
    )

    def __init__(self, model: BaseChatModel, msgs: list[BaseMessage], task: TaskContext, streamed: bool) -> None:
        run = task.run
        self.call_id = call_id = str(uuid.uuid4())
        self.default_id = f"lc_run--{call_id}"  # langchain-core 1.x's form
        self.channel = run.channel
        self.listened = run.channel.wants(ChatModelToken)
        """Whether a view of the run takes tokens (LangChain's streaming callback handler is there)."""
        self.publish = run.publish_soon
        # On the run's loop thread a token waits for room in a full ``block`` view (backpressure reaches
        # the model); from another thread it is queued in that thread's order.
        self.on_loop = run.on_loop()
        self.sum = ChunkSum()
        self.ns, self.node, self.step, self.task_id = task.ns, task.node, task.step, task.task_id
        self.tags = tags = (*task.local_call_tags(), *task.call_tags(), *model.tags)
        self.streamed = streamed and NOSTREAM not in tags
        self.route: dict[str, Any] = {
            "ns": task.ns,
            "node": task.node,
            "step": task.step,
            "task_id": task.task_id,
            "tags": tags,
            "call_id": call_id,
        }
        self.publish(
            ChatModelStarted(
                **self.route,
                metadata=task.metadata(),
                name=model.name,
                model_name=model.model_name,
                provider=model.provider or default_provider(type(model)),
                messages=msgs,
                parent_ids=task.parent_ids,
                streamed=self.streamed,
            )
        )

    @classmethod
    def start(cls, model: BaseChatModel, msgs: list[BaseMessage], *, streamed: bool = True) -> _ModelCall | None:
        """Begin a call in the running task, or None outside a run (``streamed``: whether it may publish
        tokens)."""
        task = current_task()
        return None if task is None else cls(model, msgs, task, streamed)

    def add(self, chunk: AIMessageChunk, *, summed: bool = True) -> ChatModelToken | None:
        """Record ``chunk`` (in the answer unless not ``summed``) and publish its token event; return the
        event instead when it must wait for room (the caller awaits ``channel.publish`` with it)."""
        if chunk.id is None:
            chunk.id = self.default_id
        if summed:
            self.sum.add(chunk)
        channel = self.channel
        if not self.streamed or not channel.wants(ChatModelToken):
            return None
        token = ChatModelToken.of_call(self.ns, self.node, self.step, self.task_id, self.tags, self.call_id, chunk)
        if not self.on_loop:
            self.publish(token)
            return None
        try:
            channel.publish_nowait(token)
        except anyio.WouldBlock:
            return token
        return None

    def last_chunk(self) -> AIMessageChunk:
        """The empty ``chunk_position="last"`` chunk that ends a stream whose source did not mark its own
        final chunk, as langchain-core adds it (with the call's default id)."""
        return AIMessageChunk(content="", id=self.default_id, chunk_position="last")

    def fail(self, exc: Exception) -> None:
        self.publish(ChatModelFinished(**self.route, error_type=error_type_name(exc), error_message=str(exc)))

    def finish(self, whole: AIMessage | None = None, *, streamed: bool = False) -> AIMessage:
        """Publish the call's end with its answer and return it as an ``AIMessage``, as langchain-core's
        calls end: ``whole`` (a call that did not stream; its default id ends in ``-0``); else its chunks
        added up, the event carrying that ``AIMessageChunk`` for a ``streamed`` call (``astream``) and the
        ``AIMessage`` for an ``ainvoke``, whose default id ends in ``-0`` when no view of the run took its
        tokens (LangChain then generates the answer whole)."""
        if whole is not None:
            message = whole
            if message.id is None:
                message.id = f"{self.default_id}-0"
            self.publish(ChatModelFinished(**self.route, message=message))
            return message
        total = self.sum.total()
        generated = not streamed and not self.listened
        if total.id is None or (generated and total.id == self.default_id):
            total.id = f"{self.default_id}-0" if generated else self.default_id
        message = total.to_message()
        self.publish(ChatModelFinished(**self.route, message=total if streamed else message))
        return message
