"""The run registry: the runs a service started, found by id, kept for a while after they end.

A :class:`RunRegistry` starts runs of the graphs it was given by name, holds each :class:`~streamflow.graph.Run`
(and so its channel's replay buffer) while it runs and for ``retention`` seconds after it ends, and cancels
what is still running when it is closed. It is plain asyncio: the HTTP layer (:mod:`streamflow.server.app`)
is one user of it, a worker or a test can be another.

Bounds (what one registry can hold at most):

* ``max_runs`` runs, live and finished together. Starting a run at the cap first drops the finished run
  that ended longest ago; when every held run is still live, :class:`~streamflow.errors.RegistryFullError`.
* each run retains its ``replay_size`` most recent events for late or resuming subscribers, so a full
  registry holds at most ``max_runs * replay_size`` events.
* a finished run is dropped ``retention`` seconds after it ended (checked on every registry call); asking
  for it afterwards raises :class:`~streamflow.errors.UnknownRunError`.

Threads: a run whose config names ``configurable.thread_id`` runs on that thread. A graph registered without a
checkpointer of its own runs such a run with the registry's ``checkpointer`` (bound with
:meth:`~streamflow.graph.CompiledStateGraph.with_checkpointer`); a run without ``thread_id`` runs as before,
keeping no checkpoints. One thread runs one run at a time: starting a second while the first is still going
raises :class:`~streamflow.errors.ThreadConflictError` (refused, not queued).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import structlog

from ..catalog import GraphCatalog, GraphSource
from ..channel import DEFAULT_REPLAY_SIZE
from ..checkpoint.base import BaseCheckpointSaver
from ..errors import InvalidArgumentError, RegistryFullError, ThreadConflictError, UnknownRunError
from ..graph import CompiledStateGraph, Run
from ..graph.run import parse_config
from ..run_info import RunInfo, RunStatus, check_statuses
from .sharing import SharedFrames

__all__ = [
    "DEFAULT_MAX_RUNS",
    "DEFAULT_RETENTION",
    "GraphSource",
    "RunEntry",
    "RunRegistry",
]

DEFAULT_MAX_RUNS = 1000
"""Runs a registry holds by default (live and finished)."""
DEFAULT_RETENTION = 600.0
"""Seconds a finished run stays in a registry by default."""

_log = structlog.get_logger("streamflow")


@attrs.define(eq=False)
class RunEntry:
    """One run held by a registry."""

    run: Run
    """The run itself."""
    graph: str
    """The name its graph is registered under."""
    created_at: float
    """Seconds since the epoch when it started."""
    finished_at: float | None = None
    """Seconds since the epoch when it ended; None while it runs."""
    ended_at_clock: float | None = None
    """The registry clock's reading when the run ended (what ``retention`` counts from)."""
    thread_id: str | None = None
    """The thread the run runs on (its ``configurable.thread_id`` on a graph with a checkpointer), or None."""
    owner: str | None = None
    """The identity of the principal that started it (see :mod:`streamflow.server.auth`), or None."""
    frames: SharedFrames = attrs.field(factory=SharedFrames)
    """The encoders and frame logs its SSE streams share."""

    def info(self) -> RunInfo:
        """A snapshot of this run as a :class:`~streamflow.run_info.RunInfo` (with its ``subscribers``)."""
        channel = self.run.channel
        retained = channel.retained()
        return RunInfo(
            run_id=self.run.run_id,
            graph=self.graph,
            status=self.run.status,
            created_at=self.created_at,
            finished_at=self.finished_at,
            last_seq=channel.last_seq,
            first_retained_seq=retained[0].seq if retained else None,
            subscribers=self.frames.streams(channel.statistics().subscribers),
            owner=self.owner,
        )


class RunRegistry:
    """Runs of named graphs, started on demand and kept for a while after they end.

    Use it from one event loop (the service's). Close it with :meth:`aclose` (or ``async with``) when the
    service stops: that cancels the runs still going and waits for them.

    :param graphs: graph name -> compiled graph, or a function building one per run
    :param retention: seconds a finished run stays available (>= 0)
    :param max_runs: runs held at most, live and finished (> 0)
    :param replay_size: events each run retains for replay and resume (>= 0)
    :param clock: monotonic clock in seconds (``time.monotonic`` by default; tests pass their own)
    :param checkpointer: the saver runs on a thread use for graphs compiled without one (None: such runs keep
        no checkpoints, as the graph alone would)
    :raises InvalidArgumentError: for an empty graph name, a graph that is neither compiled nor callable, a
        negative ``retention``, ``max_runs`` < 1 or a negative ``replay_size``, or a ``checkpointer`` that is
        not a checkpoint saver
    """

    def __init__(
        self,
        graphs: Mapping[str, GraphSource],
        *,
        retention: float = DEFAULT_RETENTION,
        max_runs: int = DEFAULT_MAX_RUNS,
        replay_size: int = DEFAULT_REPLAY_SIZE,
        clock: Callable[[], float] = time.monotonic,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ) -> None:
        self.graphs = GraphCatalog(graphs)
        """The graphs runs are started of, by name."""
        if retention < 0:
            raise InvalidArgumentError(f"retention must be >= 0 seconds, got {retention!r}")
        if not isinstance(max_runs, int) or max_runs < 1:
            raise InvalidArgumentError(f"max_runs must be a positive number of runs, got {max_runs!r}")
        if not isinstance(replay_size, int) or replay_size < 0:
            raise InvalidArgumentError(f"replay_size must be >= 0 events, got {replay_size!r}")
        if checkpointer is not None and not isinstance(checkpointer, BaseCheckpointSaver):
            raise InvalidArgumentError(
                "checkpointer must be a checkpoint saver (BaseCheckpointSaver) or None, "
                f"got {type(checkpointer).__name__}"
            )
        self.checkpointer = checkpointer
        """The saver of threads whose graph has none of its own (None: none)."""
        self.retention = retention
        self.max_runs = max_runs
        self.replay_size = replay_size
        self._clock = clock
        self._entries: dict[str, RunEntry] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def graph_names(self) -> list[str]:
        """The registered graph names, sorted."""
        return self.graphs.names

    def graph(self, name: str) -> CompiledStateGraph:
        """Return the compiled graph registered as ``name`` (a factory is called for a fresh one).

        :raises UnknownGraphError: when no graph is registered under ``name``
        :raises InvalidArgumentError: when a factory returns something other than a compiled graph
        """
        return self.graphs.build(name)

    def threaded(self, graph: CompiledStateGraph) -> CompiledStateGraph:
        """Return ``graph`` as a run on a thread uses it: with the registry's :attr:`checkpointer` when it was
        compiled without a checkpointer (None or False) and the registry has one, else unchanged."""
        if self.checkpointer is None or isinstance(graph.checkpointer, BaseCheckpointSaver) or graph.checkpointer:
            return graph
        return graph.with_checkpointer(self.checkpointer)

    def thread_graph(self, name: str) -> CompiledStateGraph:
        """Return the graph registered as ``name`` bound to a saver for runs and state reads on threads (see
        :meth:`threaded`).

        :raises UnknownGraphError: when no graph is registered under ``name``
        :raises InvalidArgumentError: when a factory returns something other than a compiled graph
        """
        return self.threaded(self.graph(name))

    def live_run_on(self, thread_id: str) -> Run | None:
        """The run still going on thread ``thread_id``, or None."""
        for entry in self._entries.values():
            if entry.thread_id == thread_id and not entry.run.done:
                return entry.run
        return None

    def raise_if_busy(self, thread_id: str) -> None:
        """Raise :class:`~streamflow.errors.ThreadConflictError` when thread ``thread_id`` has a run still going."""
        busy = self.live_run_on(thread_id)
        if busy is not None:
            raise ThreadConflictError(
                f"thread {thread_id!r} already has run {busy.run_id!r} going; one thread runs one run at a "
                "time: wait for it to end or cancel it, then start the next"
            )

    # -- runs ----------------------------------------------------------------------------------------

    def start(
        self,
        graph: str,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        check_input: bool = True,
        owner: str | None = None,
    ) -> Run:
        """Start a run of the graph registered as ``graph`` in the running event loop and hold it.

        ``input`` is checked against the graph's state schema (unless ``check_input`` is False, for an input
        that is not a state update, such as a ``Command``) and ``config`` is LangGraph's (``tags``,
        ``metadata``, ``recursion_limit``, ``run_id``, ``configurable``) before anything starts. ``owner`` is
        recorded on the run (its :attr:`RunEntry.owner`, the ``owner`` of its info).

        :raises UnknownGraphError: for an unregistered graph name
        :raises InvalidUpdateError: for an input the graph's state schema does not accept
        With ``configurable.thread_id`` in ``config`` the run runs on that thread (see the module docstring).

        :raises InvalidArgumentError: for a malformed config, or a ``run_id`` the registry already holds
        :raises ThreadConflictError: when the run's thread has a run of this registry still going
        :raises RegistryFullError: when ``max_runs`` runs are held and none has finished
        :raises RuntimeError: after :meth:`aclose`, or when no event loop is running
        """
        if self._closed:
            raise RuntimeError("the run registry is closed")
        _, _, _, _, run_id = parse_config(config)
        compiled = self.graphs.check_input(graph, input) if check_input else self.graphs.build(graph)
        assert compiled is not None  # a registry is given the graphs themselves
        self._prune()
        if config is not None and config.get("run_id") and run_id in self._entries:
            raise InvalidArgumentError(f"run_id {run_id!r} is already taken by a run in this registry")
        configurable = (config or {}).get("configurable")
        thread_id = configurable.get("thread_id") if isinstance(configurable, Mapping) else None
        if thread_id is not None:
            compiled = self.threaded(compiled)
            if not isinstance(compiled.checkpointer, BaseCheckpointSaver):
                thread_id = None
        if thread_id is not None:
            thread_id = str(thread_id)
            self.raise_if_busy(thread_id)
        if len(self._entries) >= self.max_runs:
            self._evict_one()
        run = compiled.start(input, {**(config or {}), "run_id": run_id}, replay_size=self.replay_size)
        entry = RunEntry(run=run, graph=graph, created_at=time.time(), thread_id=thread_id, owner=owner)
        self._entries[run.run_id] = entry
        watcher = asyncio.get_running_loop().create_task(self._watch(entry))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        _log.info("run_registered", run_id=run.run_id, graph=graph, held=len(self._entries))
        return run

    async def _watch(self, entry: RunEntry) -> None:
        await entry.run.wait()
        self._settle(entry)

    def _settle(self, entry: RunEntry) -> None:
        """Record the end of a run that is over: by its watcher as it ends, or by whichever registry call
        sees it first, so a snapshot never shows an ended run without its end time."""
        if entry.ended_at_clock is None and entry.run.done:
            entry.finished_at = time.time()
            entry.ended_at_clock = self._clock()
            _log.info("run_ended", run_id=entry.run.run_id, graph=entry.graph, status=entry.run.status)
            error = entry.run.error
            if entry.run.status == "failed" and error is not None:  # the whole story, which clients may not read
                _log.error("run_failed", run_id=entry.run.run_id, graph=entry.graph, exc_info=error)

    def _evict_one(self) -> None:
        ended = [e for e in self._entries.values() if e.ended_at_clock is not None]
        if not ended:
            raise RegistryFullError(
                f"the run registry holds its maximum of {self.max_runs} runs and all are still running; "
                "cancel one or wait for one to finish"
            )
        oldest = min(ended, key=lambda e: e.ended_at_clock or 0.0)
        del self._entries[oldest.run.run_id]

    def _prune(self) -> None:
        for entry in self._entries.values():
            self._settle(entry)
        deadline = self._clock() - self.retention
        expired = [
            run_id
            for run_id, e in self._entries.items()
            if e.ended_at_clock is not None and e.ended_at_clock <= deadline
        ]
        for run_id in expired:
            del self._entries[run_id]

    def entry(self, run_id: str) -> RunEntry:
        """Return the :class:`RunEntry` of ``run_id``.

        :raises UnknownRunError: when the registry does not hold that run (never started here, or its
            retention is over)
        """
        self._prune()
        entry = self._entries.get(run_id)
        if entry is None:
            raise UnknownRunError(
                f"unknown run {run_id!r}: not started here, or dropped {self.retention:g} s after it ended"
            )
        return entry

    def get(self, run_id: str) -> Run:
        """Return the run ``run_id``.

        :raises UnknownRunError: when the registry does not hold that run
        """
        return self.entry(run_id).run

    def info(self, run_id: str) -> RunInfo:
        """Return a :class:`~streamflow.run_info.RunInfo` snapshot of ``run_id``.

        :raises UnknownRunError: when the registry does not hold that run
        """
        return self.entry(run_id).info()

    def list(self, *, status: RunStatus | Iterable[RunStatus] | None = None, owner: str | None = None) -> list[RunInfo]:
        """Snapshots of the runs held, oldest first, optionally only those with one of the ``status`` values
        (``"queued"`` matches none: a run here starts at once), and only those of ``owner`` when given.

        :raises InvalidArgumentError: for a status that is not a :data:`~streamflow.run_info.RunStatus`
        """
        wanted = check_statuses(status)
        self._prune()
        infos = [e.info() for e in self._entries.values() if owner is None or e.owner == owner]
        return [i for i in infos if wanted is None or i.status in wanted]

    def live_runs(self, owner: str) -> int:
        """How many runs of ``owner`` are still going (runs)."""
        return sum(1 for e in self._entries.values() if e.owner == owner and not e.run.done)

    async def cancel(self, run_id: str) -> RunInfo:
        """Cancel the run ``run_id`` if it is still going, wait until it has stopped, and return its snapshot.

        Cancelling a run that has already ended changes nothing (its status stays what it was).

        :raises UnknownRunError: when the registry does not hold that run
        """
        entry = self.entry(run_id)
        if not entry.run.done:
            entry.run.cancel()
            _log.info("run_cancel_requested", run_id=run_id, graph=entry.graph)
        await entry.run.wait()
        return entry.info()

    def __len__(self) -> int:
        self._prune()
        return len(self._entries)

    # -- closing -------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel every run still going, wait for them, and refuse new runs. Idempotent."""
        self._closed = True
        live = [e.run for e in self._entries.values() if not e.run.done]
        for run in live:
            run.cancel()
        for run in live:
            await run.wait()
        watchers = list(self._watchers)
        if watchers:
            await asyncio.wait(watchers)

    async def __aenter__(self) -> RunRegistry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
