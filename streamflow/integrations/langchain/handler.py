"""The langchain-core callback handler that publishes langchain-core runs on the streamflow run they run in.

One handler, :data:`HANDLER`, serves every run: LangGraph's ``StreamMessagesHandler`` and its tools-mode and
``astream_events`` handlers in one. At each callback it finds the streamflow task running now
(:func:`~streamflow.graph.context.current_task`) and publishes the event a streamflow component of the same
kind would: ``ChatModelStarted`` / ``ChatModelToken`` / ``ChatModelFinished`` for a chat model,
``ToolStarted`` / ``ToolFinished`` / ``ToolFailed`` for a tool, ``RunnableStarted`` / ``RunnableChunk`` /
``RunnableFinished`` for a chain, a string LLM (``run_type="llm"``) or a retriever (``"retriever"``), and
``CustomEvent`` for ``dispatch_custom_event``. Outside a streamflow run it does nothing.

Messages cross as streamflow messages (:mod:`.messages`), so every view (stream modes, ``astream_events``,
SSE, Redis) shows them as it shows streamflow's own. The ``nostream`` tag keeps a chat model's tokens off the
views, as on streamflow's models.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import attrs
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import ChatGenerationChunk, LLMResult

from ...events import (
    ChatModelFinished,
    ChatModelStarted,
    ChatModelToken,
    CustomEvent,
    Event,
    RunnableChunk,
    RunnableFinished,
    RunnableStarted,
    ToolFailed,
    ToolFinished,
    ToolStarted,
    error_type_name,
)
from ...graph.context import TaskContext, current_task
from ...messages import AIMessageChunk
from ...modes import NOSTREAM
from .messages import from_langchain, from_langchain_value

try:
    from langchain_core.tracers._streaming import _StreamingCallbackHandler
except ImportError:  # pragma: no cover - langchain-core before the protocol
    _StreamingCallbackHandler = object  # type: ignore[assignment,misc]

__all__ = ["HANDLER", "StreamflowCallbackHandler"]

T = TypeVar("T")

_LS_SHOWN = frozenset({"ls_provider", "ls_model_name", "ls_model_type"})
"""``ls_*`` keys the ``messages`` view sets itself from ``ChatModelStarted``'s fields."""


@attrs.define(slots=True, eq=False)
class _Run:
    """One langchain-core run inside a streamflow task: what its later callbacks need."""

    kind: str
    """``"chat_model"``, ``"llm"``, ``"tool"``, ``"chain"``, ``"retriever"`` ... (the event family)."""
    task: TaskContext
    route: dict[str, Any]
    parents: tuple[str, ...]
    """``parent_ids`` of the runs started inside this one (this run's own id last)."""
    streamed: bool = True
    input: Any = None
    name: str = ""
    tool_call_id: str = ""
    published: bool = True
    """False for a run whose events a streamflow component publishes itself (an adapted tool's)."""


def _name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if name:
        return str(name)
    if serialized:
        if serialized.get("name"):
            return str(serialized["name"])
        ids = serialized.get("id")
        if isinstance(ids, Sequence) and ids:
            return str(ids[-1])
    return default


def _tags(task: TaskContext, tags: Sequence[str] | None) -> tuple[str, ...]:
    own = task.call_tags()
    if not tags:
        return own
    return tuple(dict.fromkeys((*own, *tags)))


class StreamflowCallbackHandler(BaseCallbackHandler, _StreamingCallbackHandler[Any]):
    """Publishes the langchain-core runs made inside a streamflow run on that run's channel.

    Installed for every streamflow task by :func:`streamflow.integrations.langchain.activate` (done when the
    bridge is imported); there is nothing to pass. ``raise_error`` is True: a failure to publish is raised
    in the call that made it, never only logged.
    """

    run_inline = True
    raise_error = True

    def __init__(self) -> None:
        self.runs: dict[uuid.UUID, _Run] = {}
        """The runs in flight, by langchain-core's run id."""

    # -- bookkeeping -------------------------------------------------------------------------------

    def _begin(
        self,
        kind: str,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None,
        tags: Sequence[str] | None,
    ) -> _Run | None:
        task = current_task()
        if task is None:
            return None
        task.cancel_flag.check()  # abandoned sync code learns of it here, as at a streamflow model call
        parent = self.runs.get(parent_run_id) if parent_run_id is not None else None
        parent_ids = parent.parents if parent is not None else task.parent_ids
        call_id = str(run_id)
        route: dict[str, Any] = {
            "ns": task.ns,
            "node": task.node,
            "step": task.step,
            "task_id": task.task_id,
            "tags": _tags(task, tags),
            "call_id": call_id,
        }
        run = _Run(kind, task, route, (*parent_ids, call_id))
        self.runs[run_id] = run
        return run

    @staticmethod
    def _publish(run: _Run, event: Event) -> None:
        run.task.run.publish_soon(event)

    @staticmethod
    def _publish_end(run: _Run, event: Event) -> None:
        """Publish the end of a run, unless the streamflow run is over (its code was abandoned or cancelled:
        the end is then not news, and raising here would replace the error langchain-core is reporting)."""
        if not run.task.run.channel.closed:
            run.task.run.publish_soon(event)

    @staticmethod
    def _metadata(
        task: TaskContext, metadata: Mapping[str, Any] | None, shown: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """The task's metadata, then the keys of the run's own ``metadata`` it lacks, but ``shown``."""
        out = task.metadata()
        if metadata:
            for key, value in metadata.items():
                if key not in shown and key not in out:
                    out[key] = value
        return out

    # -- chat models -------------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._begin("chat_model", run_id, parent_run_id, tags)
        if run is None:
            return
        meta = metadata or {}
        run.streamed = NOSTREAM not in run.route["tags"]
        self._publish(
            run,
            ChatModelStarted(
                **run.route,
                metadata=self._metadata(run.task, meta, _LS_SHOWN),
                name=_name(serialized, kwargs, "chat_model"),
                model_name=str(meta.get("ls_model_name") or ""),
                provider=str(meta.get("ls_provider") or ""),
                messages=[from_langchain_value(m) for m in (messages[0] if messages else [])],
                parent_ids=run.parents[:-1],
                streamed=run.streamed,
            ),
        )

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._begin("llm", run_id, parent_run_id, tags)
        if run is None:
            return
        run.input = prompts[0] if prompts else ""
        self._start_runnable(run, serialized, kwargs, metadata, "llm", run.input)

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        run = self.runs.get(run_id)
        if run is None or not run.streamed:
            return
        run.task.cancel_flag.check()
        route = run.route
        channel = run.task.run.channel
        if run.kind == "chat_model":
            if not isinstance(chunk, ChatGenerationChunk) or not channel.wants(ChatModelToken):
                return
            message = from_langchain(chunk.message)
            event: Event = ChatModelToken.of_call(
                route["ns"], route["node"], route["step"], route["task_id"], route["tags"], route["call_id"], message
            )
        else:
            if not channel.wants(RunnableChunk):
                return
            event = RunnableChunk(**route, chunk=token)
        run.task.run.publish_soon(event)

    def on_llm_end(self, response: LLMResult, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is None:
            return
        generation = response.generations[0][0] if response.generations and response.generations[0] else None
        if run.kind == "chat_model":
            message: Any = None
            if generation is not None and hasattr(generation, "message"):
                message = from_langchain(generation.message)
                if isinstance(message, AIMessageChunk):
                    message = message.to_message()
            self._publish_end(run, ChatModelFinished(**run.route, message=message))
            return
        text = generation.text if generation is not None else ""
        self._publish_end(run, RunnableFinished(**run.route, input=run.input, output=text))

    def on_llm_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is None:
            return
        failure: dict[str, Any] = {"error_type": error_type_name(error), "error_message": str(error)}
        if run.kind == "chat_model":
            self._publish_end(run, ChatModelFinished(**run.route, **failure))
        else:
            self._publish_end(run, RunnableFinished(**run.route, input=run.input, **failure))

    # -- chains, retrievers ------------------------------------------------------------------------

    def _start_runnable(
        self,
        run: _Run,
        serialized: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
        metadata: Mapping[str, Any] | None,
        run_type: str,
        input: Any,
    ) -> None:
        run.name = _name(serialized, kwargs, run_type)
        if run.task.run.channel.wants(RunnableStarted):
            self._publish(
                run,
                RunnableStarted(
                    **run.route,
                    metadata=self._metadata(run.task, metadata),
                    name=run.name,
                    run_type=run_type,
                    input=input,
                    parent_ids=run.parents[:-1],
                ),
            )

    def _finish_runnable(self, run_id: uuid.UUID, input: Any, output: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None and run.task.run.channel.wants(RunnableFinished):
            self._publish_end(run, RunnableFinished(**run.route, input=input, output=output))

    def _fail_runnable(self, run_id: uuid.UUID, error: BaseException) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None and run.task.run.channel.wants(RunnableFinished):
            failure: dict[str, Any] = {"error_type": error_type_name(error), "error_message": str(error)}
            self._publish_end(run, RunnableFinished(**run.route, input=run.input, **failure))

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._begin("chain", run_id, parent_run_id, tags)
        if run is None:
            return
        run.input = from_langchain_value(inputs)
        self._start_runnable(run, serialized, kwargs, metadata, str(kwargs.get("run_type") or "chain"), run.input)

    def on_chain_end(self, outputs: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id)
        inputs = kwargs.get("inputs")
        given = from_langchain_value(inputs) if inputs is not None else (run.input if run is not None else None)
        self._finish_runnable(run_id, given, from_langchain_value(outputs))

    def on_chain_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._fail_runnable(run_id, error)

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._begin("retriever", run_id, parent_run_id, tags)
        if run is None:
            return
        run.input = {"query": query}
        self._start_runnable(run, serialized, kwargs, metadata, "retriever", run.input)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id)
        self._finish_runnable(run_id, run.input if run is not None else None, list(documents))

    def on_retriever_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._fail_runnable(run_id, error)

    # -- tools -------------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._begin("tool", run_id, parent_run_id, tags)
        if run is None:
            return
        task = run.task
        if task.tool_calls and _ADAPTED.get() == task.tool_calls[-1]:
            # the tool call a streamflow ToolNode or agent makes of an adapted tool: it publishes the events,
            # and the runs inside it have the streamflow call (the task's last parent) as theirs
            run.published = False
            run.parents = run.parents[:-1]
            return
        run.tool_call_id = str(kwargs.get("tool_call_id") or run.route["call_id"])
        run.name = _name(serialized, kwargs, "tool")
        run.input = dict(inputs) if inputs is not None else input_str
        self._publish(
            run,
            ToolStarted(
                **run.route,
                tool_call_id=run.tool_call_id,
                name=run.name,
                metadata=self._metadata(task, metadata),
                input=run.input,
                parent_ids=run.parents[:-1],
            ),
        )

    def on_tool_end(self, output: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is None or not run.published:
            return
        self._publish_end(
            run,
            ToolFinished(
                **run.route,
                tool_call_id=run.tool_call_id,
                name=run.name,
                output=from_langchain_value(output),
            ),
        )

    def on_tool_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is None or not run.published:
            return
        self._publish_end(
            run,
            ToolFailed(
                **run.route,
                tool_call_id=run.tool_call_id,
                name=run.name,
                error_type=error_type_name(error),
                error_message=str(error),
            ),
        )

    # -- custom events -----------------------------------------------------------------------------

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: uuid.UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        task = current_task()
        if task is None:
            return
        run = self.runs.get(run_id)
        parents = run.parents if run is not None and run.published else task.parent_ids
        run_obj = task.run
        if run_obj.payload_check is not None:
            run_obj.payload_check(data)
        if not run_obj.channel.wants(CustomEvent):
            return
        run_obj.publish_soon(
            CustomEvent(
                ns=task.ns,
                node=task.node,
                step=task.step,
                task_id=task.task_id,
                tags=_tags(task, tags),
                metadata=self._metadata(task, metadata),
                name=name,
                data=data,
                parent_ids=parents,
            )
        )

    # -- streamed output of chains (LangChain's _StreamingCallbackHandler) --------------------------

    async def tap_output_aiter(self, run_id: uuid.UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        """Pass ``output`` on, publishing each chunk of a chain run as a ``RunnableChunk``."""
        run = self.runs.get(run_id)
        if run is None or run.kind not in ("chain",):
            async for chunk in output:
                yield chunk
            return
        channel = run.task.run.channel
        async for chunk in output:
            if channel.wants(RunnableChunk):
                run.task.run.publish_soon(RunnableChunk(**run.route, chunk=from_langchain_value(chunk)))
            yield chunk

    def tap_output_iter(self, run_id: uuid.UUID, output: Iterator[T]) -> Iterator[T]:
        """Sync :meth:`tap_output_aiter`."""
        run = self.runs.get(run_id)
        if run is None or run.kind not in ("chain",):
            yield from output
            return
        channel = run.task.run.channel
        for chunk in output:
            if channel.wants(RunnableChunk):
                run.task.run.publish_soon(RunnableChunk(**run.route, chunk=from_langchain_value(chunk)))
            yield chunk


_ADAPTED: ContextVar[str | None] = ContextVar("streamflow_adapted_tool", default=None)
"""``call_id`` of the streamflow tool call running an adapted langchain-core tool now (see :mod:`.tools`)."""

HANDLER = StreamflowCallbackHandler()
"""The one handler every streamflow task's langchain-core config carries."""
