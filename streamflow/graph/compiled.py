"""``CompiledStateGraph``: a checked graph you can run, stream and watch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
from anyio import CancelScope

from ..channel import DEFAULT_BUFFER_SIZE, DEFAULT_REPLAY_SIZE
from ..checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from ..errors import InvalidArgumentError, TaskCancelledError
from ..event_stream import EventStreamSpec
from ..events import CustomData, Event, RunTakenOver
from ..modes import Projection, Shaper, ViewSpec
from ..portal import call_sync, iterate_sync_running_calls
from ..runnables.base import Runnable
from ..runnables.context import StepContext
from ..views import View
from .cancellation import SyncRunner
from .context import RunContext, TaskContext, _current, current_task
from .output import GraphOutput
from .persistence import (
    Durability,
    StateSnapshot,
    StateUpdate,
    check_breakpoints,
    require_thread,
    snapshot_of,
    with_breakpoints,
    with_durability,
)
from .pregel import execute
from .run import Run, parse_config
from .runtime import coerce_context
from .specs import GraphSpec
from .state_updates import update_thread

__all__ = ["LOOKAHEAD", "CompiledStateGraph"]

LOOKAHEAD = 64
"""Chunks ``astream()`` takes from its view at once (the run may run this far ahead of the caller, beyond the
view's buffer)."""


class CompiledStateGraph(GraphSpec, Runnable[Any, Any]):  # type: ignore[misc]  # name: always a str here
    """A graph ready to run: its checked structure (the :class:`~streamflow.graph.specs.GraphSpec` fields:
    ``name``, ``schema``, ``nodes`` and the edges by node) and the ways to run it. Made by
    ``StateGraph.compile()``.

    The stream methods follow LangGraph's: ``stream_mode`` is one of ``values``, ``updates``, ``custom``,
    ``messages``, ``tools``, ``tasks``, ``debug``, ``checkpoints`` (and any mode registered later) or a list of them;
    ``subgraphs=True`` includes subgraph events with their namespace; ``version="v2"`` yields
    ``{"type", "ns", "data"}`` dicts. Chunk shapes are documented in :mod:`streamflow.modes`.
    :meth:`astream_events` / :meth:`stream_events` yield LangChain's v2 event dicts
    (:mod:`streamflow.event_stream`).

    Every way to run it takes ``context=``, LangGraph's run context: the object a node's ``Runtime.context``
    is (see :mod:`streamflow.graph.runtime`). A dict is made into the ``context_schema`` given to
    ``StateGraph`` when that is a dataclass or pydantic model (raising its ``TypeError`` or
    ``ValidationError`` for a dict it does not take); anything else is passed as given, as in LangGraph. A
    falsy context (None, ``{}``) is None, or, for a graph run inside a node, the enclosing run's context.

    Called inside a node of a running graph (its code, sync or async, or anything it calls),
    :meth:`invoke`, :meth:`ainvoke`, :meth:`stream` and :meth:`astream` run this graph as a child of that
    run, as LangGraph does: on the run's loop and channel (a sync node's call waits in its thread), under the
    namespace ``("<node>:<task id>",)`` (the n-th later child of the same task: ``(..., str(n))``), so the
    parent's views show its events as a subgraph's (with ``subgraphs=True``). It takes the run's config,
    with the call's ``config`` merged in as LangGraph merges them (tags appended, ``metadata`` and
    ``configurable`` updated, ``recursion_limit`` replaced; with such a config its sync nodes run in worker
    threads). Cancelling the parent run, or the node, cancels it; what it raises is raised in the node, and
    sync code the run abandoned gets :class:`~streamflow.errors.TaskCancelledError` from the call.
    It is a :class:`~streamflow.runnables.Runnable` too: it composes into chains (``prompt | graph``) and
    has ``batch``/``abatch``, ``with_config`` and ``bind``; as a step of a chain it runs as a child of the
    chain's run (its events on the chain's channel, under the step's namespace) on the step's whole input,
    and gives its final state as one chunk (LangGraph's Pregel streams its ``updates`` there).
    :meth:`stream` and :meth:`astream` there yield the chunks this graph's own run would (namespaces relative
    to it), and leaving them early cancels it. Elsewhere (no run, or another event loop) each call makes a
    run of its own.
    """

    context_schema: type[Any] | None = None
    """The ``context_schema`` given to ``StateGraph`` (None: any context is taken as given)."""
    checkpointer: Any = None
    """The ``checkpointer`` given to ``compile()``: a saver, or None, True or False (see ``compile``)."""
    interrupt_before: Any = None
    """The ``interrupt_before`` given to ``compile()``: None, ``"*"`` or a tuple of node names."""
    interrupt_after: Any = None
    """The ``interrupt_after`` given to ``compile()``: None, ``"*"`` or a tuple of node names."""

    # -- as a Runnable -------------------------------------------------------------------------------

    streams_input = False

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return Runnable.get_name(self, suffix, name=name or self.name)

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> Any:
        """As a chain's step: the graph run as a child of the step (``ctx`` is the running task)."""
        return await self.ainvoke(input, **kwargs)

    # -- threads -------------------------------------------------------------------------------------

    def with_checkpointer(self, checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph:
        """Return a copy of this graph that keeps its threads in ``checkpointer``, as if it had been compiled
        with ``compile(checkpointer=checkpointer)``. The copy shares this graph's nodes, edges and schema; this
        graph is left as it was. (streamflow's own: LangGraph sets ``graph.checkpointer`` in place.)

        :raises InvalidArgumentError: for a ``checkpointer`` that is not a checkpoint saver
        """
        if not isinstance(checkpointer, BaseCheckpointSaver):
            raise InvalidArgumentError(
                f"with_checkpointer() takes a checkpoint saver (BaseCheckpointSaver), got {type(checkpointer).__name__}"
            )
        graph = type(self)(self.name, self.schema, self.nodes, self.edges_from, self.joins_with, self.branches_from)
        graph.context_schema = self.context_schema
        graph.checkpointer = checkpointer
        graph.interrupt_before, graph.interrupt_after = self.interrupt_before, self.interrupt_after
        return graph

    def _run_config(
        self, config: Mapping[str, Any] | None, durability: Durability | None, before: Any, after: Any
    ) -> Mapping[str, Any] | None:
        """``config`` with a run's ``durability`` and breakpoints (``interrupt_before``/``interrupt_after`` of
        ``invoke()`` and ``stream()``, which replace the compiled ones for that run, as in LangGraph).

        :raises InvalidArgumentError: for a durability other than the three, or a breakpoint naming no node
        """
        config = with_durability(config, durability)
        if before is None and after is None:
            return config
        before, after = check_breakpoints(self.nodes, before, after)
        return with_breakpoints(config, before, after)

    def _saver(self) -> BaseCheckpointSaver[Any]:
        saver = self.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):
            raise InvalidArgumentError("No checkpointer set")
        return saver

    def _snapshot(self, saved: CheckpointTuple | None, config: Mapping[str, Any], live: bool) -> StateSnapshot:
        kept = [name for name, node in self.nodes.items() if node.subgraph() is not None]
        return snapshot_of(saved, config, self.schema, list(self.nodes), live=live, subgraphs=kept)

    def get_state(self, config: Mapping[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's state at its newest checkpoint (or the one ``checkpoint_id`` names), as LangGraph's
        ``get_state``: a :class:`~streamflow.types.StateSnapshot`; for a thread without checkpoints, one with
        ``values={}``, ``next=()`` and None metadata. A next task of a subgraph node, or of a plain node whose
        function refers to a compiled graph (as LangGraph finds it: a global or closure variable the function
        reads, see :meth:`~streamflow.graph.specs.NodeSpec.subgraph`), has that graph's checkpoint config as its
        ``state``; with ``subgraphs=True``, the graph's own snapshot instead when it has checkpoints (it did not
        finish), its configs with LangGraph's ``checkpoint_map``.

        :raises InvalidArgumentError: (a ValueError) when the graph has no checkpointer (``"No checkpointer
            set"``, as LangGraph) or ``config`` has no ``thread_id``
        :raises CheckpointReadError: for a checkpoint the saver cannot read back
        """
        saver = self._saver()
        require_thread(config)
        snapshot = self._snapshot(saver.get_tuple(_address(config)), config, _live(config))
        return self._with_subgraphs(snapshot, saver) if subgraphs else snapshot

    async def aget_state(self, config: Mapping[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The async twin of :meth:`get_state`, with the same arguments, result and errors."""
        saver = self._saver()
        require_thread(config)
        snapshot = self._snapshot(await saver.aget_tuple(_address(config)), config, _live(config))
        return await self._awith_subgraphs(snapshot, saver) if subgraphs else snapshot

    def _subgraph_of(self, task: Any) -> CompiledStateGraph | None:
        """The compiled graph whose checkpoints task ``task`` of a snapshot keeps (see
        :meth:`~streamflow.graph.specs.NodeSpec.subgraph`), or None."""
        node = self.nodes.get(task.name)
        sub = None if node is None else node.subgraph()
        return sub if isinstance(task.state, Mapping) and isinstance(sub, CompiledStateGraph) else None

    def _own_address(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The saver address of ``config`` for this graph's own checkpoints: a graph compiled with
        ``checkpointer=True`` keeps them under its namespace without the task ids (LangGraph's)."""
        address = _address(config)
        if self.checkpointer is True:
            configurable = address["configurable"]
            configurable["checkpoint_ns"] = "|".join(
                part.partition(":")[0] for part in configurable["checkpoint_ns"].split("|")
            )
        return address

    def _with_subgraphs(self, snapshot: StateSnapshot, saver: BaseCheckpointSaver[Any]) -> StateSnapshot:
        tasks = []
        for task in snapshot.tasks:
            sub = self._subgraph_of(task)
            saved = None if sub is None else saver.get_tuple(sub._own_address(task.state))
            if sub is not None and saved is not None:
                inner = _mapped(sub._snapshot(saved, saved.config, True))
                task = task._replace(state=sub._with_subgraphs(inner, saver))
            tasks.append(task)
        return snapshot._replace(tasks=tuple(tasks))

    async def _awith_subgraphs(self, snapshot: StateSnapshot, saver: BaseCheckpointSaver[Any]) -> StateSnapshot:
        tasks = []
        for task in snapshot.tasks:
            sub = self._subgraph_of(task)
            saved = None if sub is None else await saver.aget_tuple(sub._own_address(task.state))
            if sub is not None and saved is not None:
                inner = _mapped(sub._snapshot(saved, saved.config, True))
                task = task._replace(state=await sub._awith_subgraphs(inner, saver))
            tasks.append(task)
        return snapshot._replace(tasks=tuple(tasks))

    def update_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """Apply ``values`` to the thread's state as if node ``as_node`` had returned them (a dict of state
        keys, or a ``Command``, whose ``goto`` is followed too), as LangGraph's ``update_state``: through the
        reducers, saved as an ``"update"`` checkpoint (its step the last one's plus one) whose next tasks are
        the node's successors, so ``invoke(None, config)`` goes on from there; the values are saved as the
        result of the node's pending task, if it has one, or under ``task_id``. Without ``as_node``: the
        graph's only node; ``START`` on a thread without checkpoints (``values`` is then the input); else the
        node that wrote the last checkpoint. ``as_node="__input__"`` saves ``values`` as a new input (an
        ``"input"`` checkpoint), ``(None, END)`` ends the pending tasks (their finished writes applied) and
        ``"__copy__"`` copies the checkpoint (see :meth:`bulk_update_state`). Returns the new checkpoint's
        config.

        :raises InvalidArgumentError: (a ValueError) when the graph has no checkpointer or ``config`` has no
            ``thread_id``
        :raises InvalidUpdateError: ``"Ambiguous update, specify as_node"`` when several nodes wrote the last
            checkpoint, ``"Node <name> does not exist"``, or values the state schema does not allow
        """
        return call_sync(self.aupdate_state, config, values, as_node, task_id, async_alternative="aupdate_state()")

    async def aupdate_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """The async twin of :meth:`update_state`, with the same arguments, result and errors."""
        return await self.abulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    def bulk_update_state(self, config: Mapping[str, Any], supersteps: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """Apply ``supersteps`` of updates to the thread, as LangGraph's ``bulk_update_state``: a list of
        supersteps, each a list of :class:`~streamflow.types.StateUpdate` ``(values, as_node, task_id)``; each
        superstep is saved as one checkpoint on top of the one before, as if its nodes had run in one step and
        returned those values (applied in order, a key without a reducer written once at most). Returns the
        config of the last checkpoint saved.

        In a superstep: several updates each name their node (``as_node``); a lone one may leave it to be
        inferred as :meth:`update_state` does. ``StateUpdate(values, "__input__")`` alone saves ``values`` as
        a new input (an ``"input"`` checkpoint whose next task is ``__start__``); ``StateUpdate(None, END)``
        alone applies the finished tasks' writes and leaves nothing to run; ``StateUpdate(values,
        "__copy__")`` alone copies the checkpoint (a ``"fork"`` with the same parent) and then applies
        ``values``, a list of ``(values, as_node)`` pairs, to the copy as one more superstep. Updates of an
        older checkpoint (``config`` with its ``checkpoint_id``) fork the thread from it.

        :raises InvalidArgumentError: (a ValueError) ``"No supersteps provided"``, ``"No updates provided"``
            for an empty superstep, or when the graph has no checkpointer or ``config`` has no ``thread_id``
        :raises InvalidUpdateError: ``"as_node is required when applying multiple updates"``, ``"Node <name>
            does not exist"``, ``"Ambiguous update, specify as_node"``, another update beside ``END``,
            ``"__input__"`` or ``"__copy__"``, a copy of a thread without checkpoints, an input of None, a key
            without a reducer written twice in a superstep, or values the state schema does not allow
        """
        return call_sync(self.abulk_update_state, config, supersteps, async_alternative="abulk_update_state()")

    async def abulk_update_state(
        self, config: Mapping[str, Any], supersteps: Sequence[Sequence[Any]]
    ) -> dict[str, Any]:
        """The async twin of :meth:`bulk_update_state`, with the same arguments, result and errors."""
        saver = self._saver()
        require_thread(config)
        return await update_thread(self, saver, config, supersteps)

    def get_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's snapshots, newest first, as LangGraph's ``get_state_history``: ``filter`` keeps
        those whose metadata has its entries, ``before`` (a config) those older than its checkpoint,
        ``limit`` the first that many.

        :raises InvalidArgumentError: (a ValueError) when the graph has no checkpointer or ``config`` has no
            ``thread_id``
        """
        saver = self._saver()
        require_thread(config)
        for saved in saver.list(
            _address(config), filter=None if filter is None else dict(filter), before=before, limit=limit
        ):
            yield self._snapshot(saved, saved.config, False)

    async def aget_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[StateSnapshot, None]:
        """The async twin of :meth:`get_state_history`."""
        saver = self._saver()
        require_thread(config)
        async for saved in saver.alist(
            _address(config), filter=None if filter is None else dict(filter), before=before, limit=limit
        ):
            yield self._snapshot(saved, saved.config, False)

    @staticmethod
    def _inherited() -> Any:
        """The context a run started here inherits when given none: the enclosing run's, inside a node."""
        task = current_task()
        return None if task is None else task.run.context

    # -- runs and views ------------------------------------------------------------------------------

    def start(  # type: ignore[override]  # a graph's Run, with LangGraph's arguments
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        replay_size: int = DEFAULT_REPLAY_SIZE,
        context: Any = None,
        durability: Durability | None = None,
        taken_over: RunTakenOver | None = None,
    ) -> Run:
        """Start a run in the running event loop and return its handle, to attach views to.

        ``config`` takes LangGraph's keys: ``tags`` (list of str), ``metadata`` (dict),
        ``recursion_limit`` (int, default 25), ``max_concurrency`` (int: at most that many tasks of a
        superstep run their node at once, as in LangGraph; default no cap), ``run_id`` (str, default a new
        UUID), ``configurable`` (``thread_id`` and ``checkpoint_id`` for a graph with a checkpointer).
        ``replay_size`` is how many recent events the run retains for late views (events). ``context`` is
        the run context (see the class docstring); ``durability`` as for :meth:`invoke`. ``taken_over`` is for
        a worker that takes over a run another worker began (:mod:`streamflow.redis.worker`): the run opens
        with that event instead of ``RunStarted`` and numbers its events after its ``previous_seq``.

        :raises InvalidArgumentError: for a malformed config, or a durability other than ``"sync"``,
            ``"async"`` or ``"exit"``
        :raises TypeError: for a dict ``context`` the dataclass ``context_schema`` does not take
        :raises RuntimeError: when no event loop is running in this thread
        """
        config = with_durability(config, durability)
        context = coerce_context(self.context_schema, context, self._inherited())
        return Run(self, input, config, replay_size=replay_size, context=context, taken_over=taken_over)

    def astream(  # type: ignore[override]  # LangGraph's keyword arguments
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        version: str = "v1",
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        context: Any = None,
        durability: Durability | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Run the graph and yield the chunks of ``stream_mode`` as they happen.

        ``stream_mode`` defaults to ``"updates"`` (as LangGraph's compiled StateGraph does): one
        ``{node_name: update}`` dict per node that finished; pass ``stream_mode="values"`` for the whole
        state after each step. ``durability`` as for :meth:`ainvoke`.

        This view uses the ``block`` policy with ``buffer_size`` events of buffer: while the caller is busy
        with a chunk and the buffer is full, the run waits (it runs ahead of the caller by at most
        ``buffer_size`` events plus :data:`LOOKAHEAD` chunks). Sync nodes run in worker threads.

        Leaving early (``aclose()``, the task iterating it being cancelled, or a ``break``, which closes the
        generator once it is garbage collected) cancels the run and returns once its async code has
        stopped: async nodes are cancelled at their next ``await``, and no new node starts. Sync code still
        running (a sync node, tool or model call in a thread) is not waited for, since Python cannot stop
        a thread: it raises :class:`~streamflow.errors.TaskCancelledError` at its next stream-writer call,
        model call, ``dispatch_custom_event()`` or ``check_cancelled()``, and a structlog warning
        (``sync_call_left_running``) names its node; see :mod:`streamflow.graph.cancellation`.

        :raises UnknownStreamModeError: (before the run starts) for an unknown mode or version
        :raises TypeError: (before the run starts) for a dict ``context`` the dataclass ``context_schema`` does
            not take (a pydantic schema raises its ``ValidationError``)
        :raises Exception: what a node raised, unchanged, after the chunks produced before it, exactly once
        :raises EmptyInputError: for a None ``input`` without a checkpointer, or on a thread without checkpoints
            (as LangGraph), before any chunk
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        :raises RuntimeError: for a ``Command(resume=...)`` input, which needs a checkpointer (LangGraph's
            error); another :class:`~streamflow.types.Command` input applies its update and goto
        :raises ParentCommand: when a node of this graph returns ``Command(graph=Command.PARENT)`` (no parent)
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after)
        open_view = self._mode_view(stream_mode, subgraphs, version, buffer_size)
        parent = _parent_on_loop()
        if parent is not None:
            run = _nested_context(parent.run, config, coerce_context(self.context_schema, context, parent.run.context))
            spec = ViewSpec.parse(stream_mode, subgraphs, version)
            return _flatten(_nested_batches(self, parent, input, run, spec, buffer_size))
        return self._drive(input, config, open_view, None, 0, context, self._inherited())

    def stream(  # type: ignore[override]  # LangGraph's keyword arguments
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        version: str = "v1",
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        context: Any = None,
        durability: Durability | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> Iterator[Any]:
        """The sync twin of :meth:`astream`: the same async stream, carried to this thread through an anyio
        blocking portal in batches. Async nodes work here too. ``stream_mode`` defaults to ``"updates"``, as
        in :meth:`astream`.

        A sync node runs in the thread iterating this generator, between chunks, when it is the only task
        of the run in flight (every enclosing subgraph's task aside), as LangGraph runs a task inline when it
        is alone in its tick; the chunks it produces reach the caller when it returns. Sync nodes that run
        beside other tasks run in worker threads, and the chunks of every task reach the caller as they are
        produced.

        Breaking out, ``close()``, an exception in the loop body or KeyboardInterrupt cancel the run and
        return promptly: async nodes are cancelled at their next ``await``, no new node starts, and sync
        code still running in a worker thread is not waited for (Python cannot stop a thread): it raises
        :class:`~streamflow.errors.TaskCancelledError` at its next stream-writer call, model call,
        ``dispatch_custom_event()`` or ``check_cancelled()``, and a structlog warning
        (``sync_call_left_running``) names its node. A sync node running in the calling thread has returned
        before the caller can leave.

        :raises SyncInAsyncContextError: at once, when called in a thread that runs an event loop
        :raises TaskCancelledError: when called by sync code of a node its run abandoned (cancelled, failed)
        :raises UnknownStreamModeError: at once, for an unknown mode or version
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after)
        open_view = self._mode_view(stream_mode, subgraphs, version, buffer_size)
        parent = _parent_in_thread()
        if parent is not None:
            run = _nested_context(parent.run, config, coerce_context(self.context_schema, context, parent.run.context))
            spec = ViewSpec.parse(stream_mode, subgraphs, version)
            return _nested_items_from_thread(parent, _nested_batches(self, parent, input, run, spec, buffer_size))
        inherited = self._inherited()
        return iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(
                input, config, open_view, caller.run_sync, batch_size, context, inherited
            ),
            async_alternative="astream()",
        )

    def astream_events(  # type: ignore[override]  # LangGraph's keyword arguments
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        version: str = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        stream_mode: str | Sequence[str] | None = None,
        subgraphs: bool = False,
        context: Any = None,
        durability: Durability | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Run the graph and yield LangChain's ``astream_events`` v2 dicts
        (``{"event", "name", "run_id", "parent_ids", "tags", "metadata", "data"}``) for the graph, its
        nodes, chat models, tools and custom events, filtered as LangChain filters them. Shapes, run ids
        and where this differs from LangGraph: :mod:`streamflow.event_stream`.

        The view blocks like :meth:`astream`'s (``buffer_size`` events); leaving early cancels the run as
        :meth:`astream` says. ``durability``, ``interrupt_before`` and ``interrupt_after`` are passed on to
        the run as :meth:`astream` takes them (LangGraph passes them on too).

        ``stream_mode`` and ``subgraphs``, as LangGraph passes them on to ``astream``, shape the chunks of the
        graph's own ``on_chain_stream`` events as :meth:`astream` shapes its items (default: ``{node:
        update}`` after each root-level node).

        :raises UnknownStreamModeError: (before the run starts) for a ``version`` other than ``"v2"`` or an
            unknown stream mode
        :raises InvalidArgumentError: (before the run starts) for a filter that is a single string or holds
            a non-string
        :raises Exception: what a node raised, unchanged, after the events produced before it
        :raises EmptyInputError: for a None ``input`` without a checkpointer, or on a thread without checkpoints
            (as LangGraph)
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after)
        open_view = self._events_view(
            version,
            buffer_size,
            include_names,
            include_types,
            include_tags,
            exclude_names,
            exclude_types,
            exclude_tags,
            stream_mode,
            subgraphs,
        )
        return self._drive(input, config, open_view, None, 0, context, self._inherited())

    def stream_events(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        version: str = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        stream_mode: str | Sequence[str] | None = None,
        subgraphs: bool = False,
        context: Any = None,
        durability: Durability | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The sync twin of :meth:`astream_events` (LangChain's name for it, ``stream_events``): the same
        async view carried to this thread through an anyio blocking portal, in batches, with sync nodes
        running in this thread or in worker threads as under :meth:`stream`. Breaking out, ``close()``, an
        exception in the loop body or KeyboardInterrupt cancel the run, as under :meth:`stream`.

        :raises SyncInAsyncContextError: at once, when called in a thread that runs an event loop
        :raises UnknownStreamModeError: at once, for a ``version`` other than ``"v2"`` or an unknown stream
            mode
        :raises InvalidArgumentError: at once, for a filter that is a single string or holds a non-string
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after)
        open_view = self._events_view(
            version,
            buffer_size,
            include_names,
            include_types,
            include_tags,
            exclude_names,
            exclude_types,
            exclude_tags,
            stream_mode,
            subgraphs,
        )
        inherited = self._inherited()
        return iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(
                input, config, open_view, caller.run_sync, batch_size, context, inherited
            ),
            async_alternative="astream_events()",
        )

    def _output_batches(
        self,
        input: Any,
        config: Mapping[str, Any] | None,
        modes: Sequence[str],
        subgraphs: bool,
        context: Any,
        parent: TaskContext,
    ) -> AsyncGenerator[list[Any], None]:
        """The v2 parts, in batches, of this graph run inside ``parent``'s node for ``invoke()`` with
        ``modes``: its ``values`` and ``updates`` show its output schema's keys only, as LangGraph's."""
        run = _nested_context(parent.run, config, coerce_context(self.context_schema, context, parent.run.context))
        spec = ViewSpec.parse(modes, subgraphs, "v2")
        return _nested_batches(self, parent, input, run, spec, DEFAULT_BUFFER_SIZE, output_only=True)

    @staticmethod
    def _mode_view(
        stream_mode: str | Sequence[str], subgraphs: bool, version: str, buffer_size: int
    ) -> Callable[[Run], View]:
        """Check the stream mode arguments now; return what attaches their view (the run's primary consumer,
        which blocks the run while its buffer is full) to a run."""
        spec = ViewSpec.parse(stream_mode, subgraphs, version)
        return lambda run: run.view(spec, buffer_size=buffer_size, overflow="block")

    @staticmethod
    def _events_view(
        version: str,
        buffer_size: int,
        include_names: Sequence[str] | None,
        include_types: Sequence[str] | None,
        include_tags: Sequence[str] | None,
        exclude_names: Sequence[str] | None,
        exclude_types: Sequence[str] | None,
        exclude_tags: Sequence[str] | None,
        stream_mode: str | Sequence[str] | None = None,
        subgraphs: bool = False,
    ) -> Callable[[Run], View]:
        """Check the ``astream_events`` arguments now; return what attaches their view (blocking, as
        :meth:`_mode_view`'s) to a run."""
        spec = EventStreamSpec.parse(
            version,
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
            stream_mode=stream_mode,
            subgraphs=subgraphs,
        )
        return lambda run: run.view(spec, buffer_size=buffer_size, overflow="block")

    async def _drive(
        self,
        input: Any,
        config: Mapping[str, Any] | None,
        open_view: Callable[[Run], View],
        sync_runner: SyncRunner | None,
        batch_size: int,
        context: Any,
        inherited: Any,
    ) -> AsyncGenerator[Any, None]:
        """Start a run with ``context`` (or ``inherited``), attach ``open_view(run)`` and yield its items (with
        ``batch_size`` > 0, lists of up to that many); then raise what the run raised. Leaving early cancels the
        run and waits for it."""
        run = Run(self, input, config, replay_size=0, context=coerce_context(self.context_schema, context, inherited))
        run.context.sync_runner = sync_runner
        try:
            async with open_view(run) as view:
                if batch_size:
                    while batch := await view.next_batch(batch_size):
                        yield batch
                else:
                    # Taking what is ready in small batches spares a view step per chunk; the run may run
                    # ahead of the caller by at most LOOKAHEAD chunks more than the view's buffer.
                    while batch := await view.next_batch(LOOKAHEAD):
                        for item in batch:
                            yield item
            await run.result()
        finally:
            if not run.done:
                with CancelScope(shield=True):
                    await run.aclose()

    async def _final_state(self, input: Any, config: Mapping[str, Any] | None, context: Any, inherited: Any) -> Any:
        """Run the graph with ``context`` (or ``inherited``) and return its final state."""
        run_context = coerce_context(self.context_schema, context, inherited)
        async with Run(self, input, config, replay_size=0, context=run_context) as run:
            state = await run.result()
            return state, tuple(run.context.interrupts)

    async def ainvoke(  # type: ignore[override]  # LangGraph's keyword arguments
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        print_mode: str | Sequence[str] = (),
        subgraphs: bool = False,
        version: str = "v1",
        context: Any = None,
        durability: Durability | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> Any:
        """Run the graph to the end and return its result, as LangGraph's ``invoke``.

        With ``stream_mode="values"`` (the default) the result is the final state as the output schema shows
        it: a dict of the output schema's keys that have a value (the state schema's keys without an output
        schema), the value itself for a root state (``StateGraph(list)``), or None when neither the input nor
        any step wrote one of those keys (as LangGraph returns); with ``version="v2"`` it is a
        :class:`~streamflow.types.GraphOutput` whose ``value`` is that result and whose ``interrupts`` are
        the interrupts the run paused on (``()`` when it finished); with ``version="v1"`` a run that paused
        on ``interrupt()`` returns its state with ``"__interrupt__"``, the list of them, as LangGraph 1.2.
        A ``Command(resume=...)`` input resumes a paused thread (see :func:`~streamflow.types.interrupt`).
        Any other ``stream_mode`` (a list too, even ``["values"]``) returns the list of the chunks
        :meth:`astream` would yield with the same ``stream_mode``, ``subgraphs`` and ``version``, except that,
        as in LangGraph, the root graph's ``values`` and ``updates`` chunks show the output schema's keys only
        (a ``values`` chunk only after a step that wrote one of them, an update with none of them as None).
        ``print_mode`` (a mode or list of modes) prints the chunks of those modes to stdout as they come, as
        LangGraph does (``[mode] chunk``, with ``[graph=ns]`` for a subgraph's when ``subgraphs``), without
        changing the result. ``durability`` (``"sync"``, ``"async"`` (the default) or
        ``"exit"``) is when a graph with a checkpointer saves its checkpoints
        (:data:`~streamflow.graph.persistence.Durability`); a graph with a checkpointer needs
        ``config["configurable"]["thread_id"]``, and an input of None resumes the thread.

        :raises UnknownStreamModeError: (before the run starts) for an unknown mode (in ``stream_mode`` or
            ``print_mode``) or version
        :raises InvalidArgumentError: (a ValueError) for a durability other than the three, or, with a
            checkpointer, a config without ``thread_id``
        :raises TypeError: (before the run starts) for a dict ``context`` the dataclass ``context_schema`` does
            not take (a pydantic schema raises its ``ValidationError``)
        :raises EmptyInputError: for a None ``input`` without a checkpointer, or on a thread without checkpoints
            (as LangGraph)
        :raises Exception: what a node raised, unchanged
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after)
        if stream_mode == "values" and not print_mode and (version == "v1" or version == "v2"):
            parent = _parent_on_loop()
            if parent is not None:
                run = _nested_context(
                    parent.run, config, coerce_context(self.context_schema, context, parent.run.context)
                )
                state = await _execute_nested(self, input, parent, _nested_ns(self, parent), run)
                return GraphOutput(state) if version == "v2" else state
            state, interrupts = await self._final_state(input, config, context, self._inherited())
            return _with_interrupts(state, interrupts, version)
        collect = _Collector(stream_mode, print_mode, subgraphs, version)
        parent = _parent_on_loop()
        if parent is None:
            open_view = _output_only(self._mode_view(collect.modes, subgraphs, "v2", DEFAULT_BUFFER_SIZE))
            parts = self._drive(input, config, open_view, None, 0, context, self._inherited())
        else:
            parts = _flatten(self._output_batches(input, config, collect.modes, subgraphs, context, parent))
        async for part in parts:
            collect.add(part)
        return collect.result()

    def invoke(  # type: ignore[override]  # LangGraph's keyword arguments
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        print_mode: str | Sequence[str] = (),
        subgraphs: bool = False,
        version: str = "v1",
        context: Any = None,
        durability: Durability | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> Any:
        """The sync twin of :meth:`ainvoke`, with the same arguments and results (the output schema's keys,
        a root value, None, or the list of chunks, as :meth:`ainvoke` says). The default run goes through an
        anyio blocking portal; any other (another ``stream_mode``, ``print_mode``) runs as :meth:`stream` does.

        :raises SyncInAsyncContextError: when called in a thread that runs an event loop (use ``ainvoke()``)
        :raises TaskCancelledError: when called by sync code of a node its run abandoned (cancelled, failed)
        :raises UnknownStreamModeError: (before the run starts) for an unknown mode or version
        :raises EmptyInputError: for a None ``input`` without a checkpointer, or on a thread without checkpoints
            (as LangGraph)
        :raises Exception: what a node raised, unchanged
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after)
        parent = _parent_in_thread()
        if stream_mode == "values" and not print_mode and (version == "v1" or version == "v2"):
            if parent is not None:
                run = _nested_context(
                    parent.run, config, coerce_context(self.context_schema, context, parent.run.context)
                )
                state = parent.run.call_from_thread(_execute_nested, self, input, parent, _nested_ns(self, parent), run)
                return GraphOutput(state) if version == "v2" else state
            state, interrupts = call_sync(
                self._final_state, input, config, context, self._inherited(), async_alternative="ainvoke()"
            )
            return _with_interrupts(state, interrupts, version)
        collect = _Collector(stream_mode, print_mode, subgraphs, version)
        if parent is not None:
            batches = self._output_batches(input, config, collect.modes, subgraphs, context, parent)
            for part in _nested_items_from_thread(parent, batches):
                collect.add(part)
            return collect.result()
        open_view = _output_only(self._mode_view(collect.modes, subgraphs, "v2", DEFAULT_BUFFER_SIZE))
        inherited = self._inherited()
        parts: Iterator[Mapping[str, Any]] = iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(
                input, config, open_view, caller.run_sync, batch_size, context, inherited
            ),
            async_alternative="ainvoke()",
        )
        for part in parts:
            collect.add(part)
        return collect.result()


def _with_interrupts(state: Any, interrupts: tuple[Any, ...], version: str) -> Any:
    """``invoke()``'s result for a run that ended with ``interrupts`` (empty: it finished), as LangGraph 1.2
    gives it: v2 a :class:`GraphOutput` carrying them; v1 the state with ``"__interrupt__"`` (a list of them)
    added; a state of None, or a root value that is not a dict, gives ``{"__interrupt__": [...]}`` alone."""
    if version == "v2":
        return GraphOutput(state, interrupts)
    if not interrupts:
        return state
    if isinstance(state, dict):
        return {**state, "__interrupt__": list(interrupts)}
    return {"__interrupt__": list(interrupts)}


def _output_only(open_view: Callable[[Run], View]) -> Callable[[Run], View]:
    """``open_view`` that first makes the run show its root graph's output schema's keys only (see
    :attr:`~streamflow.graph.context.RunContext.output_ns`), as LangGraph's ``invoke()`` streams."""

    def open_output_view(run: Run) -> View:
        run.context.output_ns = ()
        return open_view(run)

    return open_output_view


class _Collector:
    """What ``invoke()`` does with the v2 parts of a run streamed with ``modes`` (the stream modes, then the
    print modes not among them): print those of ``print_mode`` and keep those of ``stream_mode``, shaped as
    ``stream()`` would shape them (the last ``values`` chunk only, when ``stream_mode`` is ``"values"``)."""

    def __init__(
        self, stream_mode: str | Sequence[str], print_mode: str | Sequence[str], subgraphs: bool, version: str
    ) -> None:
        spec = ViewSpec.parse(stream_mode, subgraphs, version)
        printed = ViewSpec.parse(print_mode) if print_mode else None
        self.kept = frozenset(spec.modes)
        self.printed = frozenset(printed.modes) if printed is not None else frozenset()
        self.modes = (
            [*spec.modes, *(mode for mode in printed.modes if mode not in self.kept)] if printed else list(spec.modes)
        )
        self.subgraphs = subgraphs
        self.version = version
        self.last_only = stream_mode == "values"
        self.shape = spec.shaper()
        self.chunks: list[Any] = []
        self.last: Any = None

    def add(self, part: Mapping[str, Any]) -> None:
        """Print and keep one v2 part of the run."""
        mode, ns, chunk = part["type"], part["ns"], part["data"]
        if mode in self.printed:
            graph = f" \033[1;30;33m[graph={ns}]\033[0m" if self.subgraphs and ns else ""
            sys.stdout.write(f"\033[1m[{mode}]\033[0m{graph} {chunk!r}\n")
        if mode in self.kept:
            if self.last_only:
                if not ns:
                    self.last = chunk
            else:
                self.chunks.append(self.shape(mode, ns, chunk))

    def result(self) -> Any:
        """The final state (a :class:`GraphOutput` of it for ``v2``) or the list of chunks."""
        if not self.last_only:
            return self.chunks
        return GraphOutput(self.last) if self.version == "v2" else self.last


# -- a graph run inside a node of another graph's run ----------------------------------------------------


def _parent_on_loop() -> TaskContext | None:
    """The task whose code calls now, when it runs on its run's loop (an async node) and that run goes on."""
    task = _current.get()
    if task is None:
        return None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return task if task.run.loop is loop and not task.run.channel.closed else None


def _parent_in_thread() -> TaskContext | None:
    """The task whose sync code calls now from a thread other than its run's loop thread (a sync node in a
    worker thread, or in the thread iterating ``stream()``), when that run goes on.

    :raises TaskCancelledError: when that run ended cancelled or failed, or abandoned the task's sync code
    """
    task = _current.get()
    if task is None:
        return None
    run = task.run
    if run.loop is None or threading.get_ident() == run.loop_thread:
        return None
    if run.channel.closed:
        task.cancel_flag.check()  # sync code its run abandoned: it stops here, as at a writer call
        run.cancel_flag.check()
        return None
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return task
    return None  # a loop of the node's own in this thread: the graph runs there, on its own


def _nested_context(run: RunContext, config: Mapping[str, Any] | None, context: Any) -> RunContext:
    """The run context of a graph run inside a node of ``run`` with ``config``: ``run`` itself without a
    config; else ``run``'s, with ``config`` merged in as LangGraph merges a nested call's config into its
    parent's: tags appended, ``metadata`` and ``configurable`` updated, ``recursion_limit`` replaced when
    given, any other key replaced; its run context is ``context`` (``run``'s when the call gave none, see
    :func:`~streamflow.graph.runtime.coerce_context`). It shares ``run``'s channel, cancellation and
    abandoned calls; its sync nodes run in worker threads (never in the thread iterating ``stream()``).

    :raises InvalidArgumentError: for a malformed config
    """
    _cfg, tags, metadata, limit, _run_id = parse_config(config)
    if not config and context is run.context:
        return run
    config = config or {}
    merged = dict(run.config)
    for key, value in config.items():
        if not value or key in ("tags", "metadata", "recursion_limit", "run_id"):
            continue
        merged[key] = {**run.config.get(key, {}), **value} if key == "configurable" else value
    merged_metadata = {**run.metadata, **metadata}
    child = attrs.evolve(
        run,
        config=merged,
        tags=(*run.tags, *tags),
        metadata=merged_metadata,
        call_metadata=merged_metadata if metadata else run.call_metadata,
        recursion_limit=limit if "recursion_limit" in config else run.recursion_limit,
        context=context,
    )
    child.cancel_flag = run.cancel_flag
    child.abandoned = run.abandoned
    child.stop_reason = run.stop_reason
    child.tasks_in_flight = 2  # the node waiting for it is in flight too: see run_sync_code()
    return child


def _nested_ns(graph: Any, task: TaskContext) -> tuple[str, ...]:
    """The namespace of ``graph`` run inside ``task``'s code (:meth:`TaskContext.nested_ns`), except for a
    graph compiled with ``checkpointer=True``: the task's node name alone, as LangGraph keeps such a graph's
    checkpoints under it, so the graph continues its state each time the node runs it."""
    ns = task.nested_ns()
    if getattr(graph, "checkpointer", None) is True:
        return (*task.ns, task.node)
    return ns


async def _execute_nested(
    graph: GraphSpec, graph_input: Any, task: TaskContext, ns: tuple[str, ...], run: RunContext
) -> Any:
    """Run ``graph`` as a child of ``task`` (on ``run``, a :func:`_nested_context` of its run, under ``ns``);
    return its final state once what its sync code wrote has reached the channel."""
    state = await execute(graph, graph_input, run, ns)
    await run.channel.flush()
    return state


class _Rebased:
    """A :class:`~streamflow.modes.ViewSpec` seen from a nested run at namespace depth ``depth``: its chunks
    carry their namespace relative to the nested run's (``()`` for the nested graph itself), and its
    ``custom`` mode shows the custom data addressed to ``audience`` (which other streams do not show)."""

    __slots__ = ("_audience", "_depth", "_spec")

    def __init__(self, spec: ViewSpec, depth: int, audience: str | None = None) -> None:
        self._spec = spec
        self._depth = depth
        self._audience = audience

    @property
    def identity(self) -> bool:
        return self._spec.identity

    def table(self) -> dict[type[Event], tuple[tuple[str, Projection], ...]]:
        table = self._spec.table()
        audience = self._audience
        if audience is None or CustomData not in table:
            return table

        def addressed(project: Projection) -> Projection:
            def show(event: Any) -> Any:
                if event.audience == audience:
                    event = attrs.evolve(event, audience=None)
                return project(event)

            return show

        table[CustomData] = tuple((mode, addressed(project)) for mode, project in table[CustomData])
        return table

    def shaper(self) -> Shaper:
        shape = self._spec.shaper()
        depth = self._depth
        return lambda mode, ns, chunk: shape(mode, ns[depth:], chunk)


def _variant(run: RunContext, parent: RunContext, **changes: Any) -> RunContext:
    """``run`` (a nested run's context, maybe ``parent``'s own) with ``changes``: a ``custom_audience``, so its
    stream writers address their custom data to the nested stream only (as LangGraph keeps a graph's custom
    data to its own stream when that stream has ``custom`` among its modes), or an ``output_ns``. It shares
    ``run``'s channel, cancellation and abandoned calls."""
    child = attrs.evolve(run, **changes)
    child.cancel_flag = run.cancel_flag
    child.abandoned = run.abandoned
    child.stop_reason = run.stop_reason
    child.tasks_in_flight = 2 if run is parent else run.tasks_in_flight  # see _nested_context()
    return child


async def _nested_batches(
    graph: GraphSpec,
    task: TaskContext,
    graph_input: Any,
    run: RunContext,
    spec: ViewSpec,
    buffer_size: int,
    *,
    output_only: bool = False,
) -> AsyncGenerator[list[Any], None]:
    """Run ``graph`` as a child of ``task`` and yield the chunks of ``spec`` it produces, in lists, as
    ``astream()`` of ``graph`` alone would shape them (``invoke()``'s, with its output schema's keys only,
    when ``output_only``); then raise what it raised. The parent's views see its events as a subgraph's.
    Leaving early cancels it and waits for it."""
    ns = _nested_ns(graph, task)
    depth = len(ns)
    audience = str(uuid.uuid4()) if "custom" in spec.modes else None
    if audience is not None or output_only:
        run = _variant(run, task.run, custom_audience=audience, output_ns=ns if output_only else run.output_ns)

    def wanted(event: Event) -> bool:
        return event.ns[:depth] == ns if spec.subgraphs else event.ns == ns

    sub = run.channel.subscribe(
        kinds=spec.kinds, subgraphs=True, predicate=wanted, buffer_size=buffer_size, overflow="block"
    )
    view = View(sub, _Rebased(spec, depth, audience))
    child = asyncio.ensure_future(_execute_nested(graph, graph_input, task, ns, run))
    try:
        while batch := await _next_batch(view, child):
            yield batch
        await child
    finally:
        view.close()
        if not child.done():
            child.cancel()
            with CancelScope(shield=True):
                await asyncio.wait([child])


async def _next_batch(view: View, child: asyncio.Future[Any]) -> list[Any]:
    """The next items of a nested run's ``view``: waits for them while ``child`` (the run) goes on; once it
    has ended, takes what is buffered without waiting, and ``[]`` when nothing is left."""
    while not child.done():
        getter = asyncio.ensure_future(view.next_batch(LOOKAHEAD))
        try:
            await asyncio.wait((getter, child), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()  # cancel-safe: a cancelled next_batch() takes nothing
                with CancelScope(shield=True):
                    await asyncio.wait([getter])
        if not getter.cancelled():
            return getter.result()
    if view.subscription.statistics().buffered == 0:
        return []
    return await view.next_batch(LOOKAHEAD)


async def _flatten(batches: AsyncGenerator[list[Any], None]) -> AsyncGenerator[Any, None]:
    """The items of ``batches``, one by one; closing it closes ``batches``."""
    try:
        async for batch in batches:
            for item in batch:
                yield item
    finally:
        await batches.aclose()


async def _next_or_none(batches: AsyncGenerator[list[Any], None]) -> list[Any] | None:
    try:
        return await batches.__anext__()
    except StopAsyncIteration:
        return None


def _nested_items_from_thread(task: TaskContext, batches: AsyncGenerator[list[Any], None]) -> Iterator[Any]:
    """Iterate ``batches`` (a :func:`_nested_batches` generator) on ``task``'s run loop from its sync code's
    thread, one thread hop per batch. Leaving early closes it there (cancelling the nested run)."""
    run = task.run
    finished = False
    try:
        while (batch := run.call_from_thread(_next_or_none, batches)) is not None:
            yield from batch
        finished = True
    finally:
        if not finished:
            with contextlib.suppress(TaskCancelledError, concurrent.futures.CancelledError):
                run.call_from_thread(batches.aclose)


def _address(config: Mapping[str, Any]) -> dict[str, Any]:
    """The saver address of a run's config: its ``configurable`` with ``checkpoint_ns`` defaulting to ``""``."""
    configurable = dict(config["configurable"])
    configurable.setdefault("checkpoint_ns", "")
    return {"configurable": configurable}


def _live(config: Mapping[str, Any]) -> bool:
    """Whether ``get_state`` shows the thread's current status: no ``checkpoint_id`` named (as LangGraph)."""
    return not config["configurable"].get("checkpoint_id")


def _mapped(snapshot: StateSnapshot) -> StateSnapshot:
    """A subgraph's snapshot with LangGraph's ``checkpoint_map`` (the enclosing graphs' checkpoint ids and
    its own) in its configs."""
    parents = dict((snapshot.metadata or {}).get("parents") or {})

    def add_map(config: Mapping[str, Any]) -> Mapping[str, Any]:
        configurable = dict(config["configurable"])
        configurable["checkpoint_map"] = {**parents, configurable["checkpoint_ns"]: configurable["checkpoint_id"]}
        return {**config, "configurable": configurable}

    parent = snapshot.parent_config
    return snapshot._replace(config=add_map(snapshot.config), parent_config=None if parent is None else add_map(parent))
