"""A graph run inside a node of another graph's run (see :class:`~streamflow.graph.compiled.CompiledStateGraph`):
the calling task found (on the run's loop or in a sync node's thread), the child run's context and
namespace, and its chunks streamed to the caller, rebased to the child's namespace, from the loop or
across to the calling thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import uuid
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import Any

import attrs
from anyio import CancelScope

from ..errors import TaskCancelledError
from ..events import CustomData, Event
from ..modes import Projection, Shaper, ViewSpec
from ..runnables.run_view import LOOKAHEAD
from ..views import View
from .context import RunContext, TaskContext, _current
from .pregel import execute
from .run import parse_config
from .specs import GraphSpec

__all__: list[str] = []


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
    if run.loop is None or run.on_loop():
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
    has ended, takes what is buffered without waiting, and ``[]`` when nothing (that makes an item) is left."""
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
    # The run has ended: what is buffered is all there will be, and some of it may project to no item (a
    # model call's end in ``messages`` mode), so take it without waiting for an item that never comes.
    stats = view.subscription.statistics
    while (buffered := stats().buffered) > 0:
        batch = view.take_ready(LOOKAHEAD)
        if batch:
            return batch
        if stats().buffered >= buffered:  # nothing could be taken: the view was cut off; let it say so
            return await view.next_batch(LOOKAHEAD)
    return []


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
