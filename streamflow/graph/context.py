"""What a node, tool or chat model can reach while it runs: its task's context and stream writer.

The runtime sets a :class:`TaskContext` in a context variable around every task; asyncio tasks and anyio
worker threads inherit it, so ``get_stream_writer()`` and ``dispatch_custom_event()`` work in async nodes,
sync nodes (in worker threads) and anything they call. A tool call sets a context of its own for its
duration (:meth:`TaskContext.for_tool_call`), so what the tool writes is known to come from that call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import attrs

from ..channel import Channel
from ..errors import ChannelClosedError, InvalidArgumentError, NotInRunError
from ..events import CustomData, CustomEvent, Event
from ..metadata import node_metadata

__all__ = [
    "StreamWriter",
    "TaskContext",
    "adispatch_custom_event",
    "current_task",
    "dispatch_custom_event",
    "get_config",
    "get_stream_writer",
]

T = TypeVar("T")

StreamWriter = Callable[[Any], None]
"""Type of the stream writer: call it with any value to emit it as custom data (LangGraph's name)."""


@attrs.define(slots=True, eq=False)
class RunContext:
    """Per-run state shared by every task of the run (and of its subgraphs)."""

    channel: Channel
    """The run's broadcast channel."""
    run_id: str
    """The run's id."""
    config: Mapping[str, Any]
    """The config the run was started with."""
    tags: tuple[str, ...]
    """The run's tags (``config["tags"]``)."""
    metadata: Mapping[str, Any]
    """The run's metadata (``config["metadata"]``)."""
    recursion_limit: int
    """Supersteps allowed per graph level."""
    loop_thread: int
    """``threading.get_ident()`` of the loop thread the run publishes from."""
    payload_check: Callable[[Any], None] | None = None
    """Called with every custom payload before it is published (wire transports check serialisability)."""
    loop: asyncio.AbstractEventLoop | None = None
    """The event loop the run executes on."""
    sync_runner: Callable[[Callable[[], Any]], Awaitable[Any]] | None = None
    """Runs a sync node's function off the loop and returns its result; None means an anyio worker thread.
    ``stream()`` sets it to run sync nodes in the thread iterating it (see :mod:`streamflow.portal`)."""

    _calls: set[concurrent.futures.Future[Any]] = attrs.field(factory=set, init=False)

    def call_from_thread(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """From a sync node's thread (not the loop's): run ``await fn(*args)`` on the run's loop and wait.

        Calls still running when the run ends are cancelled with it.

        :raises Exception: what ``fn`` raised, with its original type
        :raises concurrent.futures.CancelledError: when the run ended before the call did
        """
        assert self.loop is not None
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(fn(*args), self.loop)
        self._calls.add(future)
        try:
            return future.result()
        finally:
            self._calls.discard(future)

    def cancel_calls(self) -> None:
        """Cancel the :meth:`call_from_thread` calls still running (when the run ends)."""
        for future in list(self._calls):
            future.cancel()

    def publish_soon(self, event: Event) -> None:
        """Publish from any thread of this run, in that thread's order, without waiting."""
        if threading.get_ident() == self.loop_thread:
            self.channel.publish_soon(event)
        else:
            self.channel.publish_threadsafe(event)


@attrs.define(slots=True, eq=False)
class TaskContext:
    """One task (one node execution in one superstep) as seen from inside it."""

    run: RunContext
    ns: tuple[str, ...]
    """Namespace of the graph the task runs in (``()`` at the root)."""
    node: str
    """Name of the task's node."""
    step: int
    """Superstep number."""
    task_id: str
    """The task's id."""
    triggers: tuple[str, ...]
    """What triggered the task."""
    path: tuple[Any, ...]
    """LangGraph's task path (``("__pregel_pull", node)`` or ``("__pregel_push", index)``)."""
    writer: StreamWriter
    """This task's stream writer (inside a tool call: one that marks its data with the call's id)."""
    tool_calls: tuple[str, ...] = ()
    """``call_id`` of each tool call enclosing the code that runs now, outermost first (empty in the node
    itself)."""

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """Ids of the runs enclosing a call made now, outermost first: the graph run, the task of each
        enclosing subgraph (read from the namespace), this task, and the enclosing tool calls."""
        outer = tuple(part.rpartition(":")[2] for part in self.ns)
        return (self.run.run_id, *outer, self.task_id, *self.tool_calls)

    def for_tool_call(self, call_id: str, tool_call_id: str) -> TaskContext:
        """The context a tool call runs in: the same task, with a writer marking data with ``tool_call_id``
        and ``call_id`` added to :attr:`tool_calls`."""
        writer = Writer(self.run, self.ns, self.node, self.step, self.task_id, tool_call_id=tool_call_id)
        return attrs.evolve(self, writer=writer, tool_calls=(*self.tool_calls, call_id))

    @property
    def checkpoint_ns(self) -> str:
        """LangGraph's ``checkpoint_ns``: the namespace parts and this task, joined by ``|``."""
        return "|".join((*self.ns, f"{self.node}:{self.task_id}"))

    def metadata(self) -> dict[str, Any]:
        """The run's metadata plus LangGraph's per-task keys (``langgraph_node``, ``langgraph_step`` ...)."""
        return node_metadata(
            self.run.metadata,
            step=self.step,
            node=self.node,
            triggers=self.triggers,
            path=self.path,
            ns=self.ns,
            task_id=self.task_id,
        )

    def config(self) -> dict[str, Any]:
        """The config a node receives as its ``config`` parameter (LangGraph's ``RunnableConfig`` shape)."""
        base = self.run.config
        return {
            **base,
            "tags": list(self.run.tags),
            "metadata": self.metadata(),
            "run_id": self.run.run_id,
            "recursion_limit": self.run.recursion_limit,
            "configurable": dict(base.get("configurable", {})),
        }


class Writer:
    """A task's stream writer: each call publishes one ``CustomData`` event, from the loop or a thread.

    Costs one dict lookup when no view takes custom data and nothing is retained for replay.
    """

    __slots__ = (
        "_channel",
        "_check",
        "_loop_thread",
        "_node",
        "_ns",
        "_run",
        "_step",
        "_tags",
        "_task_id",
        "_tool_call_id",
    )

    def __init__(
        self,
        run: RunContext,
        ns: tuple[str, ...],
        node: str,
        step: int,
        task_id: str,
        *,
        tool_call_id: str | None = None,
    ) -> None:
        self._run = run
        self._channel = run.channel
        self._check = run.payload_check
        self._loop_thread = run.loop_thread
        self._ns = ns
        self._node = node
        self._step = step
        self._task_id = task_id
        self._tags = run.tags
        self._tool_call_id = tool_call_id

    def __call__(self, data: Any) -> None:
        """Emit ``data`` as custom data.

        :raises NotSerializableError: when the run carries its events over a wire transport and ``data``
            cannot be serialised (raised here, at the call, not later)
        :raises ChannelClosedError: when the run is already over
        """
        if self._check is not None:
            self._check(data)
        channel = self._channel
        if not channel.wants(CustomData):
            if channel.closed:
                raise ChannelClosedError("the stream writer was called after its run ended")
            return
        event = CustomData.of_writer(
            self._ns, self._node, self._step, self._task_id, self._tags, data, self._tool_call_id
        )
        if get_ident() == self._loop_thread:
            channel.publish_soon(event)
        else:
            channel.publish_threadsafe(event)


get_ident = threading.get_ident
_current: ContextVar[TaskContext | None] = ContextVar("streamflow_task", default=None)


def current_task() -> TaskContext | None:
    """The context of the task running in this thread or asyncio task, or None outside a run."""
    return _current.get()


def get_stream_writer() -> StreamWriter:
    """Return the stream writer of the running task (LangGraph's ``get_stream_writer``).

    :raises NotInRunError: when called outside a node or tool of a running graph
    """
    task = _current.get()
    if task is None:
        raise NotInRunError(
            "get_stream_writer() was called outside a run; call it inside a node or tool of a running graph "
            "(or declare a `writer` parameter on the node)"
        )
    return task.writer


def get_config() -> dict[str, Any]:
    """Return the config of the running task (LangGraph's ``get_config``).

    :raises NotInRunError: when called outside a node or tool of a running graph
    """
    task = _current.get()
    if task is None:
        raise NotInRunError("get_config() was called outside a run; call it inside a node or tool")
    return task.config()


def dispatch_custom_event(name: str, data: Any) -> None:
    """Publish a named custom event from the running node or tool (LangChain's ``dispatch_custom_event``).

    ``astream_events`` shows it as ``{"event": "on_custom_event", "name": name, "data": data, ...}``, with
    the ``run_id`` of the enclosing task (or tool call). Works from async code and from sync nodes in
    worker threads; the event is published in that thread's order without waiting.

    :raises InvalidArgumentError: when ``name`` is not a non-empty string
    :raises NotInRunError: when called outside a node or tool of a running graph
    :raises NotSerializableError: when the run carries its events over a wire transport and ``data`` cannot
        be serialised
    :raises ChannelClosedError: when the run is already over
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"a custom event needs a non-empty string name, got {name!r}")
    task = _current.get()
    if task is None:
        raise NotInRunError("dispatch_custom_event() was called outside a run; call it inside a node or tool")
    run = task.run
    if run.payload_check is not None:
        run.payload_check(data)
    if not run.channel.wants(CustomEvent):
        if run.channel.closed:
            raise ChannelClosedError("dispatch_custom_event() was called after its run ended")
        return
    parents = task.parent_ids
    run.publish_soon(
        CustomEvent(
            ns=task.ns,
            node=task.node,
            step=task.step,
            task_id=task.task_id,
            tags=run.tags,
            metadata=task.metadata(),
            name=name,
            data=data,
            parent_ids=parents,
        )
    )


async def adispatch_custom_event(name: str, data: Any) -> None:
    """Async twin of :func:`dispatch_custom_event` (LangChain's ``adispatch_custom_event``); same errors."""
    dispatch_custom_event(name, data)
