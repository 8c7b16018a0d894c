"""``CompiledStateGraph``: a checked graph you can run, stream and watch."""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from typing import Any

from anyio import CancelScope

from ..channel import DEFAULT_BUFFER_SIZE, DEFAULT_REPLAY_SIZE
from ..event_stream import EventStreamSpec
from ..modes import ViewSpec
from ..portal import call_sync, iterate_sync_running_calls
from ..views import View
from .cancellation import SyncRunner
from .output import GraphOutput
from .run import Run
from .specs import GraphSpec

__all__ = ["LOOKAHEAD", "CompiledStateGraph"]

LOOKAHEAD = 64
"""Chunks ``astream()`` takes from its view at once (the run may run this far ahead of the caller, beyond the
view's buffer)."""


class CompiledStateGraph(GraphSpec):
    """A graph ready to run: its checked structure (the :class:`~streamflow.graph.specs.GraphSpec` fields:
    ``name``, ``schema``, ``nodes`` and the edges by node) and the ways to run it. Made by
    ``StateGraph.compile()``.

    The stream methods follow LangGraph's: ``stream_mode`` is one of ``values``, ``updates``, ``custom``,
    ``messages``, ``tools``, ``tasks``, ``debug`` (and any mode registered later) or a list of them;
    ``subgraphs=True`` includes subgraph events with their namespace; ``version="v2"`` yields
    ``{"type", "ns", "data"}`` dicts. Chunk shapes are documented in :mod:`streamflow.modes`.
    :meth:`astream_events` / :meth:`stream_events` yield LangChain's v2 event dicts
    (:mod:`streamflow.event_stream`).
    """

    # -- runs and views ------------------------------------------------------------------------------

    def start(
        self, input: Any, config: Mapping[str, Any] | None = None, *, replay_size: int = DEFAULT_REPLAY_SIZE
    ) -> Run:
        """Start a run in the running event loop and return its handle, to attach views to.

        ``config`` takes LangGraph's keys: ``tags`` (list of str), ``metadata`` (dict),
        ``recursion_limit`` (int, default 25), ``run_id`` (str, default a new UUID), ``configurable``.
        ``replay_size`` is how many recent events the run retains for late views (events).

        :raises InvalidArgumentError: for a malformed config
        :raises RuntimeError: when no event loop is running in this thread
        """
        return Run(self, input, config, replay_size=replay_size)

    def astream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        version: str = "v1",
        buffer_size: int = DEFAULT_BUFFER_SIZE,
    ) -> AsyncGenerator[Any, None]:
        """Run the graph and yield the chunks of ``stream_mode`` as they happen.

        ``stream_mode`` defaults to ``"updates"`` (as LangGraph's compiled StateGraph does): one
        ``{node_name: update}`` dict per node that finished; pass ``stream_mode="values"`` for the whole
        state after each step.

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
        :raises Exception: what a node raised, unchanged, after the chunks produced before it, exactly once
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        """
        open_view = self._mode_view(stream_mode, subgraphs, version, buffer_size)
        return self._drive(input, config, open_view, None, 0)

    def stream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        version: str = "v1",
        buffer_size: int = DEFAULT_BUFFER_SIZE,
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
        :raises UnknownStreamModeError: at once, for an unknown mode or version
        """
        open_view = self._mode_view(stream_mode, subgraphs, version, buffer_size)
        return iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(input, config, open_view, caller.run_sync, batch_size),
            async_alternative="astream()",
        )

    def astream_events(
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
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Run the graph and yield LangChain's ``astream_events`` v2 dicts
        (``{"event", "name", "run_id", "parent_ids", "tags", "metadata", "data"}``) for the graph, its
        nodes, chat models, tools and custom events, filtered as LangChain filters them. Shapes, run ids
        and where this differs from LangGraph: :mod:`streamflow.event_stream`.

        The view blocks like :meth:`astream`'s (``buffer_size`` events); leaving early cancels the run as
        :meth:`astream` says.

        ``stream_mode`` and ``subgraphs``, as LangGraph passes them on to ``astream``, shape the chunks of the
        graph's own ``on_chain_stream`` events as :meth:`astream` shapes its items (default: ``{node:
        update}`` after each root-level node).

        :raises UnknownStreamModeError: (before the run starts) for a ``version`` other than ``"v2"`` or an
            unknown stream mode
        :raises InvalidArgumentError: (before the run starts) for a filter that is a single string or holds
            a non-string
        :raises Exception: what a node raised, unchanged, after the events produced before it
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        """
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
        return self._drive(input, config, open_view, None, 0)

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
        return iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(input, config, open_view, caller.run_sync, batch_size),
            async_alternative="astream_events()",
        )

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
    ) -> AsyncGenerator[Any, None]:
        """Start a run, attach ``open_view(run)`` and yield its items (with ``batch_size`` > 0, lists of up to
        that many); then raise what the run raised. Leaving early cancels the run and waits for it."""
        run = Run(self, input, config, replay_size=0)
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

    async def ainvoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        print_mode: str | Sequence[str] = (),
        subgraphs: bool = False,
        version: str = "v1",
    ) -> Any:
        """Run the graph to the end and return its result, as LangGraph's ``invoke``.

        With ``stream_mode="values"`` (the default) the result is the final state (a dict); with
        ``version="v2"`` it is a :class:`~streamflow.types.GraphOutput` whose ``value`` is that state and
        whose ``interrupts`` is ``()``. Any other ``stream_mode`` (a list too, even ``["values"]``) returns the
        list of the chunks :meth:`astream` would yield with the same ``stream_mode``, ``subgraphs`` and
        ``version``. ``print_mode`` (a mode or list of modes) prints the chunks of those modes to stdout as
        they come, as LangGraph does (``[mode] chunk``, with ``[graph=ns]`` for a subgraph's when
        ``subgraphs``), without changing the result.

        :raises UnknownStreamModeError: (before the run starts) for an unknown mode (in ``stream_mode`` or
            ``print_mode``) or version
        :raises Exception: what a node raised, unchanged
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        """
        if stream_mode == "values" and not print_mode and (version == "v1" or version == "v2"):
            async with Run(self, input, config, replay_size=0) as run:
                state = await run.result()
            return GraphOutput(state) if version == "v2" else state
        collect = _Collector(stream_mode, print_mode, subgraphs, version)
        parts = self.astream(input, config, stream_mode=collect.modes, subgraphs=subgraphs, version="v2")
        async for part in parts:
            collect.add(part)
        return collect.result()

    def invoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        print_mode: str | Sequence[str] = (),
        subgraphs: bool = False,
        version: str = "v1",
    ) -> Any:
        """The sync twin of :meth:`ainvoke`, with the same arguments and results. The default run goes
        through an anyio blocking portal; any other (another ``stream_mode``, ``print_mode``) runs as
        :meth:`stream` does.

        :raises SyncInAsyncContextError: when called in a thread that runs an event loop (use ``ainvoke()``)
        :raises UnknownStreamModeError: (before the run starts) for an unknown mode or version
        :raises Exception: what a node raised, unchanged
        :raises GraphRecursionError: when the run exceeds its ``recursion_limit``
        """
        if stream_mode == "values" and not print_mode and (version == "v1" or version == "v2"):
            state = call_sync(self.ainvoke, input, config, async_alternative="ainvoke()")
            return GraphOutput(state) if version == "v2" else state
        collect = _Collector(stream_mode, print_mode, subgraphs, version)
        open_view = self._mode_view(collect.modes, subgraphs, "v2", DEFAULT_BUFFER_SIZE)
        parts: Iterator[Mapping[str, Any]] = iterate_sync_running_calls(
            lambda caller, batch_size: self._drive(input, config, open_view, caller.run_sync, batch_size),
            async_alternative="ainvoke()",
        )
        for part in parts:
            collect.add(part)
        return collect.result()


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
