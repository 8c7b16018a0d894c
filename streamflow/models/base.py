"""The chat model base: ``invoke``/``ainvoke``/``stream``/``astream`` on top of one async chunk source.

Inside a run, every call publishes ``ChatModelStarted``, one ``ChatModelToken`` per chunk and
``ChatModelFinished`` onto the run's channel, whether the node called ``invoke()`` or ``astream()``
(LangChain's "auto-streaming"): the ``messages`` stream mode is a view of those events. A model tagged
``nostream`` publishes no tokens. Outside a run, the calls just return or yield.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import anyio.from_thread

from ..errors import SyncInAsyncContextError
from ..events import ChatModelFinished, ChatModelStarted, ChatModelToken, error_type_name
from ..graph.context import current_task
from ..modes import NOSTREAM
from ..messages import AIMessage, AIMessageChunk, BaseMessage, coerce_message
from ..portal import call_sync, iterate_sync

__all__ = ["BaseChatModel"]



class BaseChatModel:
    """Base of every chat model. Subclasses implement :meth:`_astream_chunks`.

    :param tags: tags carried by this model's events (``metadata["tags"]`` in ``messages`` mode)
    :param name: the model's name in events (default: its class name)
    """

    provider: str = ""
    """LangChain's ``ls_provider``."""
    model_name: str = ""
    """LangChain's ``ls_model_name``."""

    def __init__(self, *, tags: Sequence[str] = (), name: str | None = None) -> None:
        self.tags = tuple(tags)
        self.name = name or type(self).__name__
        self.tools: list[Any] = []

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        """Yield the answer to ``messages`` as chunks. Subclasses implement this."""
        raise NotImplementedError
        yield  # type: ignore[unreachable]  # pragma: no cover

    def bind_tools(self, tools: Sequence[Any]) -> BaseChatModel:
        """Return a copy of this model that offers ``tools`` to the model."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.tools = list(tools)
        return clone

    async def astream(self, messages: Any, config: Mapping[str, Any] | None = None) -> AsyncIterator[AIMessageChunk]:
        """Yield the answer as :class:`AIMessageChunk` s, publishing model events when inside a run.

        :param messages: a list of messages (or message dicts), or one string
        :param config: accepted for LangGraph compatibility; the run is found from the running task
        """
        msgs = [coerce_message(m) for m in ([messages] if isinstance(messages, (str, dict)) else messages)]
        task = current_task()
        call_id = str(uuid.uuid4())
        total: AIMessageChunk | None = None
        if task is None:
            async for chunk in self._astream_chunks(msgs):
                yield chunk
            return
        run = task.run
        tags = (*run.tags, *self.tags)
        streamed = NOSTREAM not in tags
        metadata = {
            **task.metadata(),
            "tags": list(tags),
            "ls_provider": self.provider,
            "ls_model_name": self.model_name,
        }
        route: dict[str, Any] = {
            "ns": task.ns,
            "node": task.node,
            "step": task.step,
            "task_id": task.task_id,
            "tags": tags,
            "metadata": metadata,
        }
        run.publish_soon(
            ChatModelStarted(
                **route,
                call_id=call_id,
                name=self.name,
                model_name=self.model_name,
                provider=self.provider,
                messages=msgs,
                parent_ids=task.parent_ids,
                streamed=streamed,
            )
        )
        try:
            async for chunk in self._astream_chunks(msgs):
                if chunk.id is None:
                    chunk.id = f"run-{call_id}"
                total = chunk if total is None else total + chunk
                if streamed:
                    run.publish_soon(ChatModelToken(**route, call_id=call_id, chunk=chunk))
                yield chunk
        except Exception as exc:
            run.publish_soon(
                ChatModelFinished(**route, call_id=call_id, error_type=error_type_name(exc), error_message=str(exc))
            )
            raise
        message = (total or AIMessageChunk(id=f"run-{call_id}")).to_message()
        run.publish_soon(ChatModelFinished(**route, call_id=call_id, message=message))

    async def ainvoke(self, messages: Any, config: Mapping[str, Any] | None = None) -> AIMessage:
        """Return the whole answer (tokens still stream to the run's ``messages`` views)."""
        total: AIMessageChunk | None = None
        async for chunk in self.astream(messages, config):
            total = chunk if total is None else total + chunk
        return (total or AIMessageChunk()).to_message()

    def invoke(self, messages: Any, config: Mapping[str, Any] | None = None) -> AIMessage:
        """Sync :meth:`ainvoke`: from a sync node (a worker thread of the run) it runs on the run's loop;
        from plain sync code, through a portal.

        :raises SyncInAsyncContextError: when called on a thread that runs an event loop (use ``ainvoke``)
        """
        task = current_task()
        if task is not None and threading.get_ident() != task.run.loop_thread:
            result: AIMessage = anyio.from_thread.run(self.ainvoke, messages, config)
            return result
        if task is not None:
            raise SyncInAsyncContextError("model.invoke() called on the event loop thread; use await model.ainvoke()")
        return call_sync(self.ainvoke, messages, config, async_alternative="ainvoke()")

    def stream(self, messages: Any, config: Mapping[str, Any] | None = None) -> Iterator[AIMessageChunk]:
        """Sync :meth:`astream` through a portal (outside a run)."""
        return iterate_sync(lambda: self.astream(messages, config), async_alternative="astream()")
