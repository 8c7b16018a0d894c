"""``CompiledStateGraph``: a checked graph you can run, stream and watch.

This module holds the ways to run it (``invoke``, ``stream``, ``astream_events``, ``start``, ...); its
thread methods (``get_state``, ``update_state``, ...) are in :mod:`~streamflow.graph.thread_state`, a run
inside a node of another graph's run in :mod:`~streamflow.graph.nested`, and what ``invoke()`` keeps of a
run in :mod:`~streamflow.graph.invoke_result`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from ..channel import DEFAULT_BUFFER_SIZE, DEFAULT_REPLAY_SIZE
from ..checkpoint.base import BaseCheckpointSaver
from ..errors import InvalidArgumentError
from ..event_stream import EventStreamSpec
from ..events import RunTakenOver
from ..modes import StateCoercion, ViewSpec
from ..portal import CallerThread, iterate_sync_running_calls
from ..runnables.base import Runnable
from ..runnables.context import Call, StepContext
from ..runnables.run_view import LOOKAHEAD, view_items
from ..runnables.utils import END, closing, gather
from ..views import View
from .context import TaskContext, _current, current_task
from .invoke_result import _Collector, _output_only, _with_interrupts
from .nested import (
    _execute_nested,
    _flatten,
    _nested_batches,
    _nested_context,
    _nested_items_from_thread,
    _nested_ns,
    _parent_in_thread,
    _parent_on_loop,
)
from .run import Run
from .runtime import RunControl, coerce_context, with_control
from .thread_config import Durability, check_breakpoints, with_breakpoints, with_durability
from .thread_state import ThreadStateMethods
from .v3_stream import refuse_v3_kwargs, v3_stream

__all__ = ["LOOKAHEAD", "CompiledStateGraph"]

_UNSET: Any = object()
"""The default of ``stream_mode`` and ``subgraphs`` of ``(a)stream_events``: v3 refuses them when given."""


def _refuse_v3(stream_mode: Any, subgraphs: Any, *filters: Any) -> None:
    refuse_v3_kwargs(
        [name for name, value in (("stream_mode", stream_mode), ("subgraphs", subgraphs)) if value is not _UNSET]
    )
    if any(f is not None for f in filters):
        raise TypeError("stream_events(version='v3') takes no include_*/exclude_* event filters")


class CompiledStateGraph(ThreadStateMethods, Runnable[Any, Any]):  # type: ignore[misc]  # name: always a str here
    """A graph ready to run: its checked structure (the :class:`~streamflow.graph.specs.GraphSpec` fields:
    ``name``, ``schema``, ``nodes`` and the edges by node) and the ways to run it. Made by
    ``StateGraph.compile()``.

    The stream methods follow LangGraph's: ``stream_mode`` is one of ``values``, ``updates``, ``custom``,
    ``messages``, ``tools``, ``tasks``, ``debug``, ``checkpoints`` (and any mode registered later) or a list of them;
    ``subgraphs=True`` includes subgraph events with their namespace; ``version="v2"`` yields
    ``{"type", "ns", "data"}`` dicts. Chunk shapes are documented in :mod:`streamflow.modes`.
    :meth:`astream_events` / :meth:`stream_events` yield LangChain's v2 event dicts
    (:mod:`streamflow.event_stream`).

    Every way to run it takes ``control=``, a :class:`~streamflow.runtime.RunControl`: after its
    ``request_drain(reason)`` the run stops at the next superstep boundary with
    :class:`~streamflow.errors.GraphDrained` (LangGraph 1.2's cooperative draining), and ``context=``,
    LangGraph's run context: the object a node's ``Runtime.context``
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
    chain's run (its events on the chain's channel, under the step's namespace) on the step's whole input;
    in a streamed chain it passes on its ``updates`` chunks (``{node: update}``) as LangGraph's Pregel does
    (so a step after it adds them up as LangChain does: the last one, dicts not adding), without
    ``on_chain_stream`` events of its own, and its ``on_chain_end`` output is its final state.
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
    stream_transformers: tuple[Any, ...] = ()
    """The ``transformers`` given to ``compile()``: added to every v3 run stream of the graph."""

    # -- as a Runnable -------------------------------------------------------------------------------

    streams_input = False

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return Runnable.get_name(self, suffix, name=name or self.name)

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> Any:
        """As a chain's step: the graph run as a child of the step (``ctx`` is the running task)."""
        return await self.ainvoke(input, **kwargs)

    async def _call_stream(
        self,
        chunks: AsyncIterator[Any],
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """As a streamed chain's step: the graph run on the whole input as a child of the step's call,
        yielding its ``updates`` chunks (LangGraph's Pregel streams them there, publishing no chunk events
        of its own); the call ends with the final state as its output."""
        final = await gather(chunks)
        if final is END:
            return
        call = Call(parent, self._run_name(config), self.run_type, local_tags, config, final, False)
        token = _current.set(call.ctx)
        try:
            items = self.astream(final, stream_mode=["updates", "values"], **kwargs)
        finally:
            _current.reset(token)
        state: Any = None
        try:
            async with closing(items):
                while True:
                    token = _current.set(call.ctx)
                    try:
                        item = await anext(items, END)
                    finally:
                        _current.reset(token)
                    if item is END:
                        break
                    mode, chunk = item
                    if mode == "values":
                        state = chunk
                    else:
                        yield chunk
        except BaseException as exc:
            call.fail(final, exc)
            raise
        call.finish(final, state)

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
        self,
        config: Mapping[str, Any] | None,
        durability: Durability | None,
        before: Any,
        after: Any,
        control: RunControl | None = None,
    ) -> Mapping[str, Any] | None:
        """``config`` with a run's ``durability``, :class:`~streamflow.runtime.RunControl` and breakpoints
        (``interrupt_before``/``interrupt_after`` of ``invoke()`` and ``stream()``, which replace the compiled
        ones for that run, as in LangGraph).

        :raises InvalidArgumentError: for a durability other than the three, a ``control`` that is not a
            ``RunControl``, or a breakpoint naming no node
        """
        config = with_control(with_durability(config, durability), control)
        if before is None and after is None:
            return config
        before, after = check_breakpoints(self.nodes, before, after)
        return with_breakpoints(config, before, after)

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
        control: RunControl | None = None,
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
        config = self._run_config(config, durability, interrupt_before, interrupt_after, control)
        open_view = self._mode_view(stream_mode, subgraphs, version, buffer_size, self.schema.coercion)
        parent = _parent_on_loop()
        if parent is not None:
            run = _nested_context(parent.run, config, coerce_context(self.context_schema, context, parent.run.context))
            spec = ViewSpec.parse(stream_mode, subgraphs, version, self.schema.coercion)
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
        control: RunControl | None = None,
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
        config = self._run_config(config, durability, interrupt_before, interrupt_after, control)
        open_view = self._mode_view(stream_mode, subgraphs, version, buffer_size, self.schema.coercion)
        parent = _parent_in_thread()
        if parent is not None:
            run = _nested_context(parent.run, config, coerce_context(self.context_schema, context, parent.run.context))
            spec = ViewSpec.parse(stream_mode, subgraphs, version, self.schema.coercion)
            return _nested_items_from_thread(parent, _nested_batches(self, parent, input, run, spec, buffer_size))
        inherited = self._inherited()
        return iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(input, config, open_view, caller, batch_size, context, inherited),
            async_alternative="astream()",
        )

    def astream_events(  # type: ignore[override]  # LangGraph's keyword arguments
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        version: str = "v2",
        transformers: Sequence[Any] | None = None,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        stream_mode: Any = _UNSET,
        subgraphs: Any = _UNSET,
        context: Any = None,
        durability: Durability | None = None,
        control: RunControl | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> Any:
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

        With ``version="v3"`` (LangGraph 1.2's typed run streams), an awaitable of an
        :class:`~streamflow.stream.AsyncGraphRunStream` instead (see :mod:`streamflow.stream`), with the
        compiled ``transformers`` and these ones added to the built-in ones.

        :raises TypeError: (v3, at once) for ``stream_mode`` or ``subgraphs`` (v3 owns them) or an event filter;
            (when awaited) for a transformer instance or non-callable
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after, control)
        filters = (include_names, include_types, include_tags, exclude_names, exclude_types, exclude_tags)
        if version == "v3":
            _refuse_v3(stream_mode, subgraphs, *filters)
            return self._v3_stream(input, config, transformers, context, is_async=True)
        open_view = self._events_view(version, buffer_size, filters, stream_mode, subgraphs)
        return self._drive(input, config, open_view, None, 0, context, self._inherited())

    def stream_events(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        version: str = "v2",
        transformers: Sequence[Any] | None = None,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        stream_mode: Any = _UNSET,
        subgraphs: Any = _UNSET,
        context: Any = None,
        durability: Durability | None = None,
        control: RunControl | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
    ) -> Any:
        """The sync twin of :meth:`astream_events` (LangChain's name for it, ``stream_events``): the same
        async view carried to this thread through an anyio blocking portal, in batches, with sync nodes
        running in this thread or in worker threads as under :meth:`stream`. Breaking out, ``close()``, an
        exception in the loop body or KeyboardInterrupt cancel the run, as under :meth:`stream`.

        :raises SyncInAsyncContextError: at once, when called in a thread that runs an event loop
        :raises UnknownStreamModeError: at once, for a ``version`` other than ``"v2"`` or an unknown stream
            mode
        :raises InvalidArgumentError: at once, for a filter that is a single string or holds a non-string

        With ``version="v3"`` (LangGraph 1.2's typed run streams), a :class:`~streamflow.stream.GraphRunStream`
        instead (see :mod:`streamflow.stream`), with the compiled ``transformers`` and these ones added to the
        built-in ones.

        :raises TypeError: (v3) for ``stream_mode`` or ``subgraphs`` (v3 owns them), an event filter, a
            transformer instance or non-callable
        :raises RuntimeError: (v3) for a transformer that needs the async lane
        """
        config = self._run_config(config, durability, interrupt_before, interrupt_after, control)
        filters = (include_names, include_types, include_tags, exclude_names, exclude_types, exclude_tags)
        if version == "v3":
            _refuse_v3(stream_mode, subgraphs, *filters)
            return self._v3_stream(input, config, transformers, context, is_async=False)
        open_view = self._events_view(version, buffer_size, filters, stream_mode, subgraphs)
        inherited = self._inherited()
        return iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(input, config, open_view, caller, batch_size, context, inherited),
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
        stream_mode: str | Sequence[str],
        subgraphs: bool,
        version: str,
        buffer_size: int,
        coercion: StateCoercion | None = None,
    ) -> Callable[[Run], View]:
        """Check the stream mode arguments now; return what attaches their view (the run's primary consumer,
        which blocks the run while its buffer is full) to a run; ``coercion``: how its v2 parts show a
        dataclass or pydantic state (a user's view; None for the views ``invoke()`` reads)."""
        spec = ViewSpec.parse(stream_mode, subgraphs, version, coercion)
        return lambda run: run.view(spec, buffer_size=buffer_size, overflow="block")

    @staticmethod
    def _events_view(
        version: str,
        buffer_size: int,
        filters: tuple[Sequence[str] | None, ...],
        stream_mode: Any,
        subgraphs: Any,
    ) -> Callable[[Run], View]:
        """Check the ``astream_events`` arguments now (``filters``: ``include_names``, ``include_types``,
        ``include_tags``, ``exclude_names``, ``exclude_types``, ``exclude_tags``; ``stream_mode`` and
        ``subgraphs`` as given, maybe unset); return what attaches their view (blocking, as
        :meth:`_mode_view`'s) to a run."""
        include_names, include_types, include_tags, exclude_names, exclude_types, exclude_tags = filters
        spec = EventStreamSpec.parse(
            version,
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
            stream_mode=None if stream_mode is _UNSET else stream_mode,
            subgraphs=False if subgraphs is _UNSET else subgraphs,
        )
        return lambda run: run.view(spec, buffer_size=buffer_size, overflow="block")

    def _v3_stream(
        self,
        input: Any,
        config: Mapping[str, Any] | None,
        transformers: Sequence[Any] | None,
        context: Any,
        *,
        is_async: bool,
    ) -> Any:
        """The v3 run stream of a run of this graph with its compiled transformers and ``transformers``: the
        sync one, or an awaitable of the async one (bad transformers or context raise when it is awaited);
        the inherited context is taken now."""
        inherited = self._inherited()

        def made() -> Any:
            return v3_stream(
                self,
                self.stream_transformers,
                self.context_schema,
                input,
                config,
                transformers,
                context,
                inherited,
                is_async=is_async,
            )

        if not is_async:
            return made()

        async def opened() -> Any:
            return made()

        return opened()

    def _drive(
        self,
        input: Any,
        config: Mapping[str, Any] | None,
        open_view: Callable[[Run], View],
        caller: CallerThread | None,
        batch_size: int,
        context: Any,
        inherited: Any,
    ) -> AsyncGenerator[Any, None]:
        """Start a run with ``context`` (or ``inherited``) when the first item is asked for, attach
        ``open_view(run)`` and yield its items (with ``batch_size`` > 0, lists of up to that many); then raise
        what the run raised. Leaving early cancels the run and waits for it
        (:func:`~streamflow.runnables.run_view.view_items`). With ``caller`` (under a sync call), sync nodes
        alone in flight run in the calling thread, and the view's ready chunks travel with them."""

        def start() -> Run:
            run_context = coerce_context(self.context_schema, context, inherited)
            run = Run(self, input, config, replay_size=0, context=run_context)
            run.context.sync_runner = None if caller is None else caller.run_sync
            return run

        if caller is not None:
            lent = caller

            def opened(run: Run) -> View:
                view = open_view(run)
                lent.share(view.take_ready)
                return view

            return view_items(start, opened, batch_size)
        return view_items(start, open_view, batch_size)

    async def _final_state_lent(
        self, caller: CallerThread, input: Any, config: Mapping[str, Any] | None, context: Any, inherited: Any
    ) -> AsyncGenerator[list[tuple[Any, tuple[Any, ...]]], None]:
        """:meth:`_final_state` for sync ``invoke()``, its sync nodes alone in flight run by ``caller`` (the
        calling thread), as under ``stream()``: yields one list of the one pair."""
        run_context = coerce_context(self.context_schema, context, inherited)
        run = Run(self, input, config, replay_size=0, context=run_context)
        run.context.sync_runner = caller.run_sync
        async with run:
            state = await run.result()
            yield [(state, tuple(run.context.interrupts))]

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
        control: RunControl | None = None,
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
        config = self._run_config(config, durability, interrupt_before, interrupt_after, control)
        if stream_mode == "values" and not print_mode and (version == "v1" or version == "v2"):
            parent = _parent_on_loop()
            if parent is not None:
                run = _nested_context(
                    parent.run, config, coerce_context(self.context_schema, context, parent.run.context)
                )
                state = await _execute_nested(self, input, parent, _nested_ns(self, parent), run)
                return _with_interrupts(state, (), version, self.schema.coercion)
            state, interrupts = await self._final_state(input, config, context, self._inherited())
            return _with_interrupts(state, interrupts, version, self.schema.coercion)
        collect = _Collector(stream_mode, print_mode, subgraphs, version, self.schema.coercion)
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
        control: RunControl | None = None,
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
        config = self._run_config(config, durability, interrupt_before, interrupt_after, control)
        parent = _parent_in_thread()
        if stream_mode == "values" and not print_mode and (version == "v1" or version == "v2"):
            if parent is not None:
                run = _nested_context(
                    parent.run, config, coerce_context(self.context_schema, context, parent.run.context)
                )
                state = parent.run.call_from_thread(_execute_nested, self, input, parent, _nested_ns(self, parent), run)
                return _with_interrupts(state, (), version, self.schema.coercion)
            inherited = self._inherited()
            ((state, interrupts),) = iterate_sync_running_calls(
                lambda caller, _: self._final_state_lent(caller, input, config, context, inherited),
                async_alternative="ainvoke()",
            )
            return _with_interrupts(state, interrupts, version, self.schema.coercion)
        collect = _Collector(stream_mode, print_mode, subgraphs, version, self.schema.coercion)
        if parent is not None:
            batches = self._output_batches(input, config, collect.modes, subgraphs, context, parent)
            for part in _nested_items_from_thread(parent, batches):
                collect.add(part)
            return collect.result()
        open_view = _output_only(self._mode_view(collect.modes, subgraphs, "v2", DEFAULT_BUFFER_SIZE))
        inherited = self._inherited()
        parts: Iterator[Mapping[str, Any]] = iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(input, config, open_view, caller, batch_size, context, inherited),
            async_alternative="ainvoke()",
        )
        for part in parts:
            collect.add(part)
        return collect.result()
