"""A Runnable call as seen from inside it, and the events it publishes on its run's channel.

Every Runnable call runs inside a run: the run it started (a call made outside any run starts one of its own,
see :mod:`streamflow.runnables.run`), or the run of the graph node, tool or chain step that made it. A
:class:`StepContext` is the running call's :class:`~streamflow.graph.context.TaskContext`, so chat models,
``dispatch_custom_event`` and ``get_stream_writer`` called inside it publish on the same channel, with the
ids of the calls that enclose them. :class:`Call` publishes one nested call's ``RunnableStarted``,
``RunnableChunk`` and ``RunnableFinished`` events, each only when some view of the run takes that kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import anyio
import attrs

from ..events import RunnableChunk, RunnableFinished, RunnableStarted, error_type_name
from ..graph.context import TaskContext
from ..messages import AIMessageChunk, ChunkSum

__all__ = ["Accumulator", "Call", "StepContext"]


@attrs.define(slots=True, eq=False)
class StepContext(TaskContext):
    """The context of a running Runnable call (or of a chat model call a chain step makes).

    ``task_id`` is the call's id; ``node`` and ``step`` are the enclosing graph task's when the call runs
    inside a node, else the name of the run's root Runnable and 0.
    """

    parents: tuple[str, ...] = ()
    """Ids of the runs enclosing a call made now, outermost first (this call's own id last)."""
    inheritable: tuple[str, ...] = ()
    """The tags calls made now inherit (a sequence's ``seq:step:<n>`` tags are not among them)."""
    meta: Mapping[str, Any] = attrs.field(factory=dict)
    """The metadata calls made now inherit."""
    config_: Mapping[str, Any] = attrs.field(factory=dict)
    """The config a function that takes ``config`` receives (LangChain's ``RunnableConfig`` shape)."""

    @property
    def parent_ids(self) -> tuple[str, ...]:
        return self.parents

    def call_tags(self) -> tuple[str, ...]:
        return self.inheritable

    def local_call_tags(self) -> tuple[str, ...]:
        return ()

    def metadata(self) -> dict[str, Any]:
        return dict(self.meta)

    def config(self) -> dict[str, Any]:
        return dict(self.config_)

    @classmethod
    def of_task(cls, task: TaskContext) -> StepContext:
        """The context of a call made from ``task`` (a graph node, a tool, or a call itself)."""
        if isinstance(task, StepContext):
            return task
        config = task.config()
        return cls(
            run=task.run,
            ns=task.ns,
            node=task.node,
            step=task.step,
            task_id=task.task_id,
            triggers=task.triggers,
            path=task.path,
            writer=task.writer,
            cancel_flag=task.cancel_flag,
            tool_calls=task.tool_calls,
            parents=task.parent_ids,
            inheritable=task.call_tags(),
            meta=task.metadata(),
            config_=config,
        )

    def child(
        self, local_tags: tuple[str, ...], config: Mapping[str, Any] | None, call_id: str | None = None
    ) -> tuple[StepContext, tuple[str, ...]]:
        """The context of a call made now, and the tags its events carry (inherited, local, its config's).

        ``call_id`` None makes a context for a call that publishes no events of its own (a chat model
        publishes its own): it shares this context's parents.
        """
        tags = self.inheritable
        meta = self.meta
        if config:
            extra = config.get("tags")
            if extra:
                tags = tuple(dict.fromkeys((*tags, *extra)))
            more = config.get("metadata")
            if more:
                meta = {**meta, **more}
        event_tags = tuple(dict.fromkeys((*local_tags, *tags))) if local_tags else tags
        parents = self.parents if call_id is None else (*self.parents, call_id)
        inheritable = event_tags if call_id is None else tags
        cfg = {**self.config_, "tags": list(inheritable), "metadata": dict(meta)}
        if config:
            for key in ("configurable", "recursion_limit", "max_concurrency"):
                if key in config:
                    cfg[key] = config[key]
        ctx = attrs.evolve(self, parents=parents, inheritable=inheritable, meta=meta, config_=cfg)
        if call_id is not None:
            ctx.task_id = call_id
        return ctx, event_tags


class Accumulator:
    """Adds up streamed chunks with ``+`` as LangChain does: message chunks summed in one pass at the end, a
    chunk that cannot be added replacing the sum and ending the adding (every later chunk replaces it)."""

    __slots__ = ("_addable", "_messages", "_value")

    def __init__(self) -> None:
        self._value: Any = None
        self._messages: ChunkSum | None = None
        self._addable = True

    def add(self, chunk: Any) -> None:
        if self._addable and isinstance(chunk, AIMessageChunk) and (self._value is None or self._messages):
            if self._messages is None:
                self._messages = ChunkSum()
            self._messages.add(chunk)
            return
        self._flush()
        if self._value is None or not self._addable:
            self._value = chunk
            return
        try:
            self._value = self._value + chunk
        except TypeError:
            self._value = chunk
            self._addable = False

    def _flush(self) -> None:
        if self._messages is not None:
            self._value = self._messages.total()
            self._messages = None

    @property
    def value(self) -> Any:
        """The sum so far (None before the first chunk)."""
        self._flush()
        return self._value


class Call:
    """One nested Runnable call's events: started, its chunks, finished or failed."""

    __slots__ = ("call_id", "ctx", "route", "started")

    def __init__(
        self,
        parent: StepContext,
        name: str,
        run_type: str,
        local_tags: tuple[str, ...],
        config: Mapping[str, Any] | None,
        input: Any,
        input_streamed: bool,
    ) -> None:
        self.call_id = call_id = str(uuid.uuid4())
        self.ctx, tags = parent.child(local_tags, config, call_id)
        channel = parent.run.channel
        self.started = channel.wants(RunnableStarted)
        self.route: dict[str, Any] = {
            "ns": parent.ns,
            "node": parent.node,
            "step": parent.step,
            "task_id": parent.task_id,
            "tags": tags,
            "call_id": call_id,
        }
        if self.started:
            parent.run.publish_soon(
                RunnableStarted(
                    **self.route,
                    metadata=dict(self.ctx.meta),
                    name=name,
                    run_type=run_type,
                    input=None if input_streamed else input,
                    input_streamed=input_streamed,
                    parent_ids=parent.parents,
                )
            )

    async def chunk(self, chunk: Any) -> None:
        """Publish one output chunk (waiting for room in a full ``block`` view)."""
        run = self.ctx.run
        channel = run.channel
        if not channel.wants(RunnableChunk):
            return
        route = self.route
        event = RunnableChunk(
            ns=route["ns"],
            node=route["node"],
            step=route["step"],
            task_id=route["task_id"],
            tags=route["tags"],
            call_id=self.call_id,
            chunk=chunk,
        )
        try:
            channel.publish_nowait(event)
        except anyio.WouldBlock:
            await channel.publish(event)

    def finish(self, input: Any, output: Any) -> None:
        if self.ctx.run.channel.wants(RunnableFinished):
            self.ctx.run.publish_soon(RunnableFinished(**self.route, input=input, output=output))

    def fail(self, input: Any, exc: BaseException) -> None:
        if self.ctx.run.channel.wants(RunnableFinished):
            self.ctx.run.publish_soon(
                RunnableFinished(**self.route, input=input, error_type=error_type_name(exc), error_message=str(exc))
            )
