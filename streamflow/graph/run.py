"""A live run: start it, attach any number of views while it runs, await its result, or cancel it."""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Self

import attrs
import structlog

from ..channel import DEFAULT_BUFFER_SIZE, Channel, OverflowPolicy, Subscription
from ..errors import InvalidArgumentError, RunCancelledError
from ..event_stream import EventStreamSpec
from ..events import Event, RunStarted, RunTakenOver
from ..filters import EventFilter, Predicate
from ..metadata import run_metadata
from ..modes import ViewSpec
from ..run_info import RunStatus
from ..views import View
from .cancellation import AbandonedCall
from .context import RunContext, enter_run
from .ids import new_id
from .pregel import execute
from .specs import GraphSpec

__all__ = ["DEFAULT_RECURSION_LIMIT", "Run", "RunStatistics", "parse_config"]

_log = structlog.get_logger("streamflow")

DEFAULT_RECURSION_LIMIT = 25
"""Supersteps a graph level may take (LangGraph's default)."""


def parse_config(config: Mapping[str, Any] | None) -> tuple[dict[str, Any], tuple[str, ...], dict[str, Any], int, str]:
    """Return ``(config, tags, metadata, recursion_limit, run_id)`` from a LangGraph-style config.

    ``metadata`` is ``config["metadata"]`` plus the ``configurable`` keys LangGraph copies into it
    (``thread_id`` ..., see :func:`streamflow.metadata.run_metadata`).

    :raises InvalidArgumentError: for a config that is not a mapping, or a ``tags``, ``metadata``,
        ``recursion_limit``, ``max_concurrency`` or ``run_id`` of the wrong type
    """
    if config is None:
        config = {}
    if config.__class__ is not dict and not isinstance(config, Mapping):
        raise InvalidArgumentError(f"config must be a mapping, got {type(config).__name__}")
    tags = config.get("tags") or ()
    if tags and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise InvalidArgumentError(f"config['tags'] must be a list of strings, got {tags!r}")
    metadata = config.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"config['metadata'] must be a mapping, got {metadata!r}")
    limit = config.get("recursion_limit", DEFAULT_RECURSION_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidArgumentError(f"config['recursion_limit'] must be a positive int, got {limit!r}")
    concurrency = config.get("max_concurrency")
    if concurrency is not None and (
        not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1
    ):
        raise InvalidArgumentError(f"config['max_concurrency'] must be a positive int or None, got {concurrency!r}")
    run_id = config.get("run_id") or new_id()
    return dict(config), tuple(tags), run_metadata(metadata, config.get("configurable")), limit, str(run_id)


@attrs.frozen
class RunStatistics:
    """What a run left running (:meth:`Run.statistics`)."""

    abandoned: tuple[AbandonedCall, ...]
    """The sync calls (a sync node's or sync tool's function) the run stopped waiting for while they ran,
    because it, or their task, was cancelled; oldest first. Each ran on (Python cannot stop a thread) and
    raises :class:`~streamflow.errors.TaskCancelledError` at its next cancellation point."""
    still_running: int
    """How many of :attr:`abandoned` have not returned yet (calls)."""


class Run:
    """One execution of a compiled graph, and the handle to everything that watches it.

    Made by ``graph.start(...)`` inside a running event loop; the graph starts executing at the caller's
    next checkpoint, so views attached right after ``start()`` see every event. A view attached later sees
    events from then on, or, with ``after_seq``, the retained events after that ``seq`` first. Made with
    ``deferred=True``, it waits for :meth:`begin` before its first event.

    Use it as an async context manager: leaving the block cancels the run if it has not finished, and
    waits until it has stopped.
    """

    def __init__(
        self,
        graph: GraphSpec,
        graph_input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        replay_size: int,
        context: Any = None,
        taken_over: RunTakenOver | None = None,
        deferred: bool = False,
    ) -> None:
        cfg, tags, metadata, limit, run_id = parse_config(config)
        self.graph = graph
        self.run_id = run_id
        first_seq = 1 if taken_over is None else taken_over.previous_seq + 1
        self.channel = Channel(run_id, replay_size=replay_size, first_seq=first_seq)
        self._taken_over = taken_over
        self.context = RunContext(
            channel=self.channel,
            run_id=run_id,
            config=cfg,
            tags=tags,
            metadata=metadata,
            recursion_limit=limit,
            loop_thread=threading.get_ident(),
            loop=asyncio.get_running_loop(),
            context=context,
        )
        self._input = graph_input
        self._output: Any = None
        self._error: BaseException | None = None
        self._fail_with: BaseException | None = None
        self._gate: asyncio.Event | None = asyncio.Event() if deferred else None
        self._task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._main())

    def __del__(self) -> None:
        task = getattr(self, "_task", None)
        if task is not None and not task.done():
            warnings.warn(
                f"run {self.run_id!r} was garbage-collected while still running (nothing awaited, cancelled or "
                "closed it, and nothing it waits for can happen any more): await run.result(), call "
                "run.cancel(), or use the run as an async context manager",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    async def _main(self) -> None:
        channel = self.channel
        ctx = self.context
        ended: str | None = None  # why the run ended, unless it finished
        try:
            if self._gate is not None:  # a deferred run: views attach until begin()
                await self._gate.wait()
            enter_run(ctx)
            opening: Event | None = self._taken_over
            if opening is None:
                opening = RunStarted(name=self.graph.name, input=self._input, tags=ctx.tags, metadata=ctx.metadata)
            else:
                opening.tags, opening.metadata = ctx.tags, ctx.metadata
            await channel.publish(opening)
            output = await execute(self.graph, self._input, ctx, ())
        except asyncio.CancelledError:
            failure = self._fail_with
            if failure is None:
                ended = ctx.close_cancelled()
                raise
            self._error = failure
            ended = ctx.close_failed(failure)
        except BaseException as exc:
            self._error = exc
            ended = ctx.close_failed(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self._output = output
            ctx.close_finished(output)
        finally:
            self._end(ended)

    def _end(self, reason: str | None) -> None:
        """Tell the run's sync code that the run ended (``reason`` None: it finished), and warn of every sync
        call still running: Python cannot stop them."""
        self.context.end(reason)
        for call, probe in self.context.abandoned:
            if probe.running:
                _log.warning(
                    "sync_call_left_running",
                    run_id=self.run_id,
                    kind=call.kind,
                    name=call.name,
                    node=call.node,
                    task_id=call.task_id,
                    thread=call.thread,
                    reason=reason,
                )

    def begin(self) -> None:
        """Let a run made with ``deferred=True`` start (views attached before see its every event). Does
        nothing for another run, or once called."""
        if self._gate is not None:
            self._gate.set()

    def statistics(self) -> RunStatistics:
        """Return what this run left running: the sync calls it abandoned and how many still run.

        A run that was cancelled or failed stops waiting for its sync nodes' and sync tools' functions at
        once, but Python cannot stop them (see :mod:`streamflow.graph.cancellation`): each one that was
        running then is listed here, and logged as a ``sync_call_left_running`` structlog warning when the
        run ends if it still runs then.
        """
        abandoned = self.context.abandoned
        return RunStatistics(
            abandoned=tuple(call for call, _ in abandoned),
            still_running=sum(1 for _, probe in abandoned if probe.running),
        )

    # -- watching ------------------------------------------------------------------------------------

    def subscribe(
        self,
        event_filter: EventFilter | None = None,
        *,
        kinds: Iterable[str | type[Event]] | None = None,
        nodes: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        ns_prefix: Iterable[str] | None = None,
        subgraphs: bool = True,
        predicate: Predicate | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "drop_oldest",
        timeout: float | None = None,
        after_seq: int | None = None,
    ) -> Subscription:
        """Attach a raw subscriber: typed events (and :class:`~streamflow.channel.Lagged` signals), with any
        filter and policy; arguments, errors and the other policies as for ``Channel.subscribe``.

        An observer attached beside the run's primary consumer must never stall the run by accident, so the
        default policy is ``"drop_oldest"``: a subscriber that falls ``buffer_size`` events behind loses its
        oldest events and then receives a ``Lagged`` signal with the exact count (also in its
        ``statistics().dropped``). Pass ``overflow="block"`` to pause the run instead while its buffer is
        full (``timeout`` seconds at most, if given).

        :raises InvalidArgumentError: for bad filter or backpressure arguments
        :raises UnknownEventKindError: for an unknown kind in ``kinds``
        :raises ReplayUnavailableError: when events right after ``after_seq`` were evicted from the replay buffer
        :raises ChannelClosedError: when the run has ended and no ``after_seq`` was given
        """
        return self.channel.subscribe(
            event_filter,
            kinds=kinds,
            nodes=nodes,
            tags=tags,
            ns_prefix=ns_prefix,
            subgraphs=subgraphs,
            predicate=predicate,
            buffer_size=buffer_size,
            overflow=overflow,
            timeout=timeout,
            after_seq=after_seq,
        )

    def stream(
        self,
        stream_mode: str | Sequence[str] = "values",
        *,
        subgraphs: bool = False,
        version: str = "v1",
        nodes: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        predicate: Predicate | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "drop_oldest",
        timeout: float | None = None,
        after_seq: int | None = None,
    ) -> View:
        """Attach a view yielding stream-mode chunks (shapes in :mod:`streamflow.modes`).

        ``nodes``, ``tags`` and ``predicate`` narrow it further; ``buffer_size``, ``overflow`` and
        ``timeout`` are its backpressure. By default (``"drop_oldest"``) a view that falls ``buffer_size``
        events behind never stalls the run: it loses its oldest events and yields a
        :class:`~streamflow.channel.Lagged` signal with the exact count among its chunks. ``"block"`` pauses
        the run while the view's buffer is full, as the primary consumer of ``astream()`` does.

        :raises UnknownStreamModeError: for an unknown mode or version
        :raises InvalidArgumentError: for bad backpressure arguments
        :raises ReplayUnavailableError: when events right after ``after_seq`` were evicted from the replay buffer
        """
        return self.view(
            ViewSpec.parse(stream_mode, subgraphs, version),
            nodes=nodes,
            tags=tags,
            predicate=predicate,
            buffer_size=buffer_size,
            overflow=overflow,
            timeout=timeout,
            after_seq=after_seq,
        )

    def stream_events(
        self,
        version: str = "v2",
        *,
        include_names: Iterable[str] | None = None,
        include_types: Iterable[str] | None = None,
        include_tags: Iterable[str] | None = None,
        exclude_names: Iterable[str] | None = None,
        exclude_types: Iterable[str] | None = None,
        exclude_tags: Iterable[str] | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "drop_oldest",
        timeout: float | None = None,
        after_seq: int | None = None,
    ) -> View:
        """Attach a view yielding LangChain's ``astream_events`` v2 dicts (shapes, filters and run ids in
        :mod:`streamflow.event_stream`). It ends when the run ends; a failed run's exception comes from
        :meth:`result`, not from the view. Backpressure arguments, and the ``"drop_oldest"`` default that
        never stalls the run, as for :meth:`stream`.

        :raises UnknownStreamModeError: for a ``version`` other than ``"v2"``
        :raises InvalidArgumentError: for a filter that is a single string or holds a non-string, or bad
            backpressure arguments
        :raises ReplayUnavailableError: when events right after ``after_seq`` were evicted from the replay buffer
        """
        spec = EventStreamSpec.parse(
            version,
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
        )
        return self.view(spec, buffer_size=buffer_size, overflow=overflow, timeout=timeout, after_seq=after_seq)

    def view(
        self,
        spec: ViewSpec | EventStreamSpec,
        *,
        nodes: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        predicate: Predicate | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "drop_oldest",
        timeout: float | None = None,
        after_seq: int | None = None,
    ) -> View:
        """Attach a view for a parsed ``spec``: :meth:`stream` and :meth:`stream_events` after parsing their
        arguments (``ViewSpec.parse`` / ``EventStreamSpec.parse``), for a caller that parsed them once and
        attaches views of the same shape to many runs. Arguments, default policy and errors as for
        :meth:`stream`.
        """
        sub = self.channel.subscribe(
            kinds=spec.kinds,
            nodes=nodes,
            tags=tags,
            subgraphs=spec.subgraphs if isinstance(spec, ViewSpec) else True,
            predicate=predicate,
            buffer_size=buffer_size,
            overflow=overflow,
            timeout=timeout,
            after_seq=after_seq,
        )
        return View(sub, spec)

    # -- outcome -------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether the run has ended (finished, failed or cancelled)."""
        return self._task.done()

    @property
    def status(self) -> RunStatus:
        """``"running"``, ``"finished"``, ``"failed"`` or ``"cancelled"`` (a run here is never ``"queued"``)."""
        if not self._task.done():
            return "running"
        if self._task.cancelled():
            return "cancelled"
        return "failed" if self._error is not None else "finished"

    @property
    def interrupts(self) -> list[Any]:
        """The ``Interrupt`` values the run paused on (empty unless a task called ``interrupt()``)."""
        return list(self.context.interrupts)

    @property
    def error(self) -> BaseException | None:
        """The exception the run failed with, or None."""
        return self._error

    async def wait(self) -> None:
        """Wait until the run has ended, however it ended. Cancelling the waiter does not cancel the run."""
        if not self._task.done():
            await asyncio.wait([self._task])

    async def result(self) -> Any:
        """Wait for the run and return its final state.

        :raises Exception: the exception the run failed with, unchanged
        :raises RunCancelledError: when the run was cancelled
        """
        await self.wait()
        if self._task.cancelled():
            raise RunCancelledError(f"run {self.run_id} was cancelled")
        if self._error is not None:
            raise self._error
        return self._output

    def fail(self, error: BaseException) -> None:
        """End the run as failed with ``error``, for a bridge that can no longer carry it (a sink whose
        transport is gone): in-flight nodes are cancelled, no new node starts, every view ends with a
        ``RunFailed`` event naming ``error``, and :meth:`result` raises ``error``. Does nothing once the run
        has ended or is already failing."""
        if self._task.done() or self._fail_with is not None:
            return
        self._fail_with = error
        self.context.stop_reason = self.context.stop_reason or f"the run failed with {error!r}"
        self._task.cancel()

    def add_payload_check(self, check: Callable[[Any], None]) -> None:
        """Have every stream-writer call of this run hand its payload to ``check`` first, after the checks
        already added; ``check`` raises (e.g. :class:`~streamflow.errors.NotSerializableError`) to refuse it,
        and the writer call raises that. A bridge that carries events over a wire adds one, so a payload it
        cannot carry fails where it is written. Add it right after ``start()``, before the first task
        starts: a task keeps the checks it started with. A run without checks pays nothing for this."""
        previous = self.context.payload_check
        if previous is None:
            self.context.payload_check = check
            return

        def both(data: Any) -> None:
            previous(data)
            check(data)

        self.context.payload_check = both

    def cancel(self) -> None:
        """Cancel the run: in-flight async nodes are cancelled, sync code still running is abandoned and
        told (it raises :class:`~streamflow.errors.TaskCancelledError` at its next cancellation point; see
        :meth:`statistics`), no new node starts, and every view ends with a ``RunCancelled`` event. Does
        nothing once the run has ended."""
        self.context.stop_reason = self.context.stop_reason or "the run was cancelled"
        self._task.cancel()

    async def aclose(self) -> None:
        """Cancel the run if it is still going, and wait until it has stopped (not for the sync code it
        abandons: see :meth:`statistics`)."""
        if not self._task.done():
            self.context.stop_reason = self.context.stop_reason or "the run was cancelled"
            self._task.cancel()
            await self.wait()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def events(self) -> list[Event]:
        """The events still held by the replay buffer, oldest first (empty with ``replay_size=0``)."""
        return self.channel.retained()
