"""What a node, tool or chat model can reach while it runs: its task's context and stream writer.

The runtime sets a :class:`TaskContext` in a context variable around every task; asyncio tasks and worker
threads inherit it, so ``get_stream_writer()``, ``dispatch_custom_event()`` and ``check_cancelled()`` work
in async nodes, sync nodes (in worker threads) and anything they call. A tool call sets a context of its
own for its duration (:meth:`TaskContext.for_tool_call`), so what the tool writes is known to come from
that call, and its cancellation is its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar, Token
from typing import Any, TypeVar

import attrs

from ..channel import Channel
from ..errors import ChannelClosedError, InvalidArgumentError, NotInRunError, TaskCancelledError
from ..events import CustomData, CustomEvent, Event, RunCancelled, RunFailed, RunFinished, error_type_name
from ..metadata import checkpoint_ns, node_metadata
from .cancellation import AbandonedCall, CancelFlag, Running, SyncRunner

__all__ = [
    "StreamWriter",
    "TaskContext",
    "adispatch_custom_event",
    "check_cancelled",
    "current_task",
    "dispatch_custom_event",
    "enter_run",
    "enter_task",
    "get_config",
    "leave_task",
    "on_enter_run",
    "on_enter_task",
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
    sync_runner: SyncRunner | None = None
    """Runs a sync node's function in the thread iterating ``stream()`` (see :mod:`streamflow.portal`), when
    it is the only task in flight; None under ``astream()``: sync nodes run in worker threads."""
    context: Any = None
    """The run's context (``invoke(..., context=...)``, made into the graph's ``context_schema``), shared with
    its subgraphs; what a node's ``Runtime.context`` is."""
    call_metadata: Mapping[str, Any] | None = None
    """For a graph run inside a node whose call's config gave ``metadata`` (or a run inside such a one): the
    run's merged metadata, which its ``TaskStarted`` events carry (a ``tasks`` payload shows it, as in
    LangGraph); None elsewhere, where views take the root run's from ``RunStarted``."""
    custom_audience: str | None = None
    """For a graph streamed inside a node with ``custom`` among its own modes (and the runs inside it): the id
    of that stream, which alone shows the custom data its stream writers emit (``CustomData.audience``)."""
    output_ns: tuple[str, ...] | None = None
    """The namespace of the graph whose ``values`` and ``updates`` show its output schema's keys only (the
    graph ``invoke()`` runs with a ``stream_mode``: LangGraph streams it with its output keys), or None."""
    resume: Any = None
    """For a run resumed with ``Command(resume=...)``: its :class:`~streamflow.graph.interrupts.RunResume`
    (shared with its subgraphs and the graphs its nodes run), else None."""
    interrupts: list[Any] = attrs.field(factory=list)
    """The interrupts the root graph's run ended on (empty unless it paused)."""
    cancel_flag: CancelFlag = attrs.field(factory=CancelFlag, init=False)
    """Set when the run ends cancelled or failed (the message names the run and why)."""
    stop_reason: str | None = attrs.field(default=None, init=False)
    """Why the run is stopping (cancelled, failed, a task failed), once it is: the reason given to the
    sync code it abandons."""
    tasks_in_flight: int = attrs.field(default=1, init=False)
    """Tasks of the run running now, a subgraph's task counting as its running inner tasks (1 before the
    first superstep: the run itself). Changed on the loop thread only."""
    abandoned: list[tuple[AbandonedCall, Running]] = attrs.field(factory=list, init=False)
    """The sync calls the run stopped waiting for while they ran, oldest first, each with its call."""
    bridge_state: dict[str, Any] = attrs.field(factory=dict, init=False)
    """What an integration keeps for this run (the LangChain bridge: its ``RunnableConfig``), under a key of
    its own; a graph run inside a node (a context of its own) starts empty."""

    def on_loop(self) -> bool:
        """Whether the caller runs on the run's loop now: in the loop's thread while the loop runs. Else it is
        sync code of the run: in a worker thread, or in the thread iterating ``stream()`` (which runs the loop
        itself, see :func:`~streamflow.portal.iterate_sync_running_calls`) between two turns of the loop."""
        return threading.get_ident() == self.loop_thread and (self.loop is None or self.loop.is_running())

    def call_from_thread(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """From sync code of the run (not on its loop, see :meth:`on_loop`): run ``await fn(*args)`` on the
        run's loop and wait; in the thread that runs that loop itself, by running it until the call is over.

        A call still running when the task it was made in is abandoned, or when the run ends, is
        cancelled.

        :raises Exception: what ``fn`` raised, with its original type
        :raises TaskCancelledError: when the calling task (or the run) was cancelled, before the call or
            during it
        :raises concurrent.futures.CancelledError: when the run finished before the call did
        """
        assert self.loop is not None
        task = _current.get()
        flags = (self.cancel_flag,) if task is None else (task.cancel_flag, self.cancel_flag)
        for flag in flags:
            flag.check()
        loop = self.loop
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(fn(*args), loop)
        for flag in flags:
            flag.track(future)
        try:
            if threading.get_ident() == self.loop_thread:  # the thread iterating stream(), between two turns
                _run_until_done(loop, future)
            return future.result()
        except concurrent.futures.CancelledError:
            for flag in flags:
                flag.check()
            raise
        finally:
            for flag in flags:
                flag.untrack(future)

    def close_finished(self, output: Any) -> None:
        """End the run's channel with ``RunFinished`` carrying ``output``."""
        self.channel.close(RunFinished(tags=self.tags, output=output))

    def close_failed(self, error: BaseException) -> str:
        """End the run's channel with ``RunFailed`` naming ``error``; return the reason for :meth:`end`."""
        self.channel.close(RunFailed(tags=self.tags, error_type=error_type_name(error), error_message=str(error)))
        return f"run {self.run_id} failed with {error!r}"

    def close_cancelled(self) -> str:
        """End the run's channel with ``RunCancelled``; return the reason for :meth:`end`."""
        self.channel.close(RunCancelled(tags=self.tags, reason="the run was cancelled"))
        return f"run {self.run_id} was cancelled"

    def end(self, reason: str | None) -> None:
        """The run ended: set its flag with ``reason`` (None when it finished) and cancel the
        :meth:`call_from_thread` calls still running. Loop thread only."""
        if reason is not None:
            self.cancel_flag.set(reason)
        self.cancel_flag.cancel_calls()

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
    _writer: StreamWriter | None
    """This task's stream writer (inside a tool call: one that marks its data with the call's id), or None to
    have :attr:`writer` make it when first asked for (most nodes never write)."""
    cancel_flag: CancelFlag
    """Set when the runtime stops waiting for this task's sync code (inside a tool call: the call's). Async
    nodes and subgraphs share :data:`~streamflow.graph.cancellation.NEVER_CANCELLED`: asyncio cancels them."""
    tool_calls: tuple[str, ...] = ()
    """``call_id`` of each tool call enclosing the code that runs now, outermost first (empty in the node
    itself)."""
    runtime: Any = attrs.field(default=None, init=False)
    """The task's ``Runtime`` (:mod:`streamflow.graph.runtime`), once made: on first use, by the node's
    ``runtime`` parameter or ``get_runtime()``. A tool call's context makes its own."""
    scratchpad: Any = None
    """The task's interrupt bookkeeping (:class:`~streamflow.graph.interrupts.Scratchpad`): what
    ``interrupt()`` answers from; shared by the task's tool calls."""
    checkpoint_id: str = ""
    """The id of the checkpoint the task's step started from (LangGraph's ``ExecutionInfo.checkpoint_id``),
    ``""`` when the graph keeps no checkpoints."""
    read_state: Callable[[], Any] | None = None
    """The state this task's node would get from an edge, read now (the state before the task's step, as
    LangGraph's ``CONFIG_KEY_READ_STATE``): what a ``ToolNode`` sent a list of tool calls gives the tools'
    injected state. None outside a graph's step."""
    nested_runs: int = 0
    """Compiled graphs this task's code has run inside it so far (``invoke()``, ``stream()`` ... called in
    the node); see :meth:`nested_ns`."""

    @property
    def writer(self) -> StreamWriter:
        """This task's stream writer (inside a tool call: one that marks its data with the call's id)."""
        writer = self._writer
        if writer is None:
            writer = self._writer = Writer(self.run, self.ns, self.node, self.step, self.task_id, self.cancel_flag)
        return writer

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """Ids of the runs enclosing a call made now, outermost first: the graph run, the task of each
        enclosing subgraph (read from the namespace), this task, and the enclosing tool calls."""
        outer = tuple(part.rpartition(":")[2] for part in self.ns)
        return (self.run.run_id, *outer, self.task_id, *self.tool_calls)

    def for_tool_call(self, call_id: str, tool_call_id: str) -> TaskContext:
        """The context a tool call runs in: the same task, with a cancellation flag of its own, a writer
        marking data with ``tool_call_id``, and ``call_id`` added to :attr:`tool_calls`."""
        flag = CancelFlag()
        writer = Writer(self.run, self.ns, self.node, self.step, self.task_id, flag, tool_call_id=tool_call_id)
        return attrs.evolve(self, writer=writer, cancel_flag=flag, tool_calls=(*self.tool_calls, call_id))

    def nested_ns(self) -> tuple[str, ...]:
        """The namespace of the next graph this task's code runs inside it, and count it: as in LangGraph,
        the first is the namespace a subgraph node would have here (``(*ns, "<node>:<task id>")``), and the
        n-th after it has ``str(n)`` appended (``(*ns, "<node>:<task id>", "1")``)."""
        count = self.nested_runs
        self.nested_runs = count + 1
        ns = (*self.ns, f"{self.node}:{self.task_id}")
        return ns if count == 0 else (*ns, str(count))

    def call_tags(self) -> tuple[str, ...]:
        """The tags a chat model, tool or Runnable called now inherits: the run's."""
        return self.run.tags

    def local_call_tags(self) -> tuple[str, ...]:
        """The tags the events of a chat model, tool or Runnable called now carry first, which its own calls
        do not inherit: ``("seq:step:1",)`` in a node's code (LangGraph runs a node as the first step of a
        sequence), none in a tool's."""
        return () if self.tool_calls else ("seq:step:1",)

    @property
    def checkpoint_ns(self) -> str:
        """LangGraph's ``checkpoint_ns``: the namespace parts and this task, joined by ``|``."""
        return checkpoint_ns(self.ns, self.node, self.task_id)

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

    Costs one dict lookup when no view takes custom data and nothing is retained for replay, plus one
    attribute read for the cancellation check.
    """

    __slots__ = (
        "_audience",
        "_cancel",
        "_channel",
        "_check",
        "_loop_thread",
        "_node",
        "_ns",
        "_publish_soon",
        "_publish_threadsafe",
        "_run",
        "_step",
        "_tags",
        "_task_id",
        "_tool_call_id",
        "_wants",
    )

    def __init__(
        self,
        run: RunContext,
        ns: tuple[str, ...],
        node: str,
        step: int,
        task_id: str,
        cancel_flag: CancelFlag,
        *,
        tool_call_id: str | None = None,
    ) -> None:
        self._run = run
        self._cancel = cancel_flag
        self._channel = channel = run.channel
        self._wants = channel.wants
        self._publish_soon = channel.publish_soon
        self._publish_threadsafe = channel.publish_threadsafe
        self._check = run.payload_check
        self._loop_thread = run.loop_thread
        self._ns = ns
        self._node = node
        self._step = step
        self._task_id = task_id
        self._tags = run.tags
        self._tool_call_id = tool_call_id
        self._audience = run.custom_audience

    def __call__(self, data: Any) -> None:
        """Emit ``data`` as custom data.

        :raises TaskCancelledError: when the runtime stopped waiting for this task's sync code (its run
            was cancelled or failed, or another task of its superstep failed), or the run ended cancelled
            or failed
        :raises NotSerializableError: when the run carries its events over a wire transport and ``data``
            cannot be serialised (raised here, at the call, not later)
        :raises ChannelClosedError: when the run is already over (it finished)
        """
        reason = self._cancel.reason
        if reason is not None:
            raise TaskCancelledError(reason)
        if self._check is not None:
            self._check(data)
        if not self._wants(CustomData):
            if self._channel.closed:
                self._run.cancel_flag.check()
                raise ChannelClosedError("the stream writer was called after its run ended")
            return
        event = _of_writer(
            self._ns, self._node, self._step, self._task_id, self._tags, data, self._tool_call_id, self._audience
        )
        try:
            if get_ident() == self._loop_thread:
                self._publish_soon(event)
            else:
                self._publish_threadsafe(event)
        except ChannelClosedError:
            self._run.cancel_flag.check()
            raise


get_ident = threading.get_ident


def _run_until_done(loop: asyncio.AbstractEventLoop, future: concurrent.futures.Future[Any]) -> None:
    """Run ``loop`` (stopped, owned by this thread) until ``future`` of a call scheduled on it is done."""
    future.add_done_callback(lambda _: loop.call_soon_threadsafe(loop.stop))
    while not future.done():
        loop.run_forever()


_of_writer = CustomData.of_writer
_current: ContextVar[TaskContext | None] = ContextVar("streamflow_task", default=None)


TaskHook = Callable[[TaskContext], "Callable[[], None] | Token[Any] | None"]
"""Called with a context as code starts running in it; returns what undoes its work when that code ends: a
callable, the ``Token`` of the one context variable it set (reset then, with no callable to make), or None
when it changed nothing."""
RunHook = Callable[[RunContext], object]
"""Called with a run's context as the run starts executing, in the run's own asyncio task."""

_task_hooks: list[TaskHook] = []
_run_hooks: list[RunHook] = []
Entered = tuple[Any, "list[Callable[[], None] | Token[Any] | None] | None"]
"""What :func:`enter_task` returns and :func:`leave_task` takes."""


def on_enter_run(hook: RunHook) -> None:
    """Have ``hook(run)`` called as each run of a graph starts executing, in the asyncio task that runs it (and
    ends with it: what the hook sets there needs no undoing). A bridge sets there what is the same for every
    task of the run, so that its :func:`on_enter_task` hook finds it set. Registering the same hook twice is a
    no-op.

    :raises InvalidArgumentError: when ``hook`` is not callable
    """
    _register(_run_hooks, hook, "a run hook is a callable taking a RunContext")


def enter_run(run: RunContext) -> None:
    """Run the :func:`on_enter_run` hooks for ``run``, in the asyncio task that executes it."""
    for hook in _run_hooks:
        hook(run)


def on_enter_task(hook: TaskHook) -> None:
    """Have ``hook(ctx)`` called whenever user code starts running in a context ``ctx`` (a graph node's task, a
    tool call, a Runnable call), in that code's thread or asyncio task; what it returns undoes its work when
    that code ends, in the same place: a callable is called, a context variable's ``Token`` is reset (None:
    nothing to undo). A bridge sets what a library other than streamflow reads there (LangChain's
    ``var_child_runnable_config``). Registering the same hook twice is a no-op.

    :raises InvalidArgumentError: when ``hook`` is not callable
    """
    _register(_task_hooks, hook, "a task hook is a callable taking a TaskContext")


def _register(hooks: list[Any], hook: Any, what: str) -> None:
    """Add ``hook`` to ``hooks`` unless it is there; ``what`` says what a hook is when ``hook`` is not callable.

    :raises InvalidArgumentError: when ``hook`` is not callable
    """
    if not callable(hook):
        raise InvalidArgumentError(f"{what}, got {hook!r}")
    if hook not in hooks:
        hooks.append(hook)


def enter_task(ctx: TaskContext) -> Entered:
    """Make ``ctx`` the current task and run the :func:`on_enter_task` hooks; undo it with :func:`leave_task`."""
    token = _current.set(ctx)
    if not _task_hooks:
        return token, None
    return token, [hook(ctx) for hook in _task_hooks]


def leave_task(entered: Entered) -> None:
    """Undo :func:`enter_task`: the hooks' work (last first), then the current task."""
    token, undo = entered
    if undo:
        for step in reversed(undo):
            if isinstance(step, Token):
                step.var.reset(step)
            elif step is not None:
                step()
    _current.reset(token)


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


def check_cancelled() -> None:
    """Raise if the running task's sync code was cancelled: the cancellation point for sync code.

    Python cannot stop a thread. When the runtime stops waiting for a sync node, sync tool or sync model
    call (the run was cancelled, for example by a consumer leaving ``stream()``/``astream()``; the run
    failed; another task of the same superstep failed), that code keeps running until it returns. It
    learns of the cancellation at its next stream-writer call, model call, ``dispatch_custom_event()``, or
    here: call this in long loops of sync code to stop early. Once raised it raises again at every later
    check: the flag is never cleared.

    Async code does not need it: it is cancelled with ``asyncio.CancelledError`` at its next ``await``
    (this function raises there too once the task's sync code was abandoned, or the run ended cancelled or
    failed). Outside a run it returns: there is nothing to cancel.

    :raises TaskCancelledError: when the running task's sync code was abandoned, or its run ended
        cancelled or failed; the message names the node (or tool) and why
    """
    task = _current.get()
    if task is not None:
        task.cancel_flag.check()
        task.run.cancel_flag.check()


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
    :raises TaskCancelledError: when the calling task's sync code was cancelled, or its run ended
        cancelled or failed (as :func:`check_cancelled`)
    :raises NotSerializableError: when the run carries its events over a wire transport and ``data`` cannot
        be serialised
    :raises ChannelClosedError: when the run is already over (it finished)
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"a custom event needs a non-empty string name, got {name!r}")
    task = _current.get()
    if task is None:
        raise NotInRunError("dispatch_custom_event() was called outside a run; call it inside a node or tool")
    run = task.run
    task.cancel_flag.check()
    if run.channel.closed:
        run.cancel_flag.check()
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
