"""A worker process's loop: take queued runs, execute them with a Redis sink, honour cancel requests, and
take over the runs of workers that died.

:class:`RedisWorker` reads the job queue (:mod:`streamflow.redis.jobs`) in a consumer group, so several
workers share the jobs and each job goes to one of them. For each job it takes the run's lease
(:mod:`streamflow.redis.lease`), starts the run of the named graph, attaches a
:class:`~streamflow.redis.RedisSink` fenced by that lease (so every event reaches the run's stream, and the
directory shows the run as ``running``, then how it ended), and cancels the run when a web process asks
(a message on the cancel channel; the cancel key, for a request made before the run started). A job the
worker cannot start (a graph it does not have, an input the graph refuses, a malformed entry) becomes a
run that failed at once, and a job cancelled before it started a run cancelled at once: either way its
stream holds one terminal event, so every viewer ends with that outcome.

**Runs survive their worker.** Delivery is at least once and execution exactly once at a time:

- A job stays pending in the consumer group until its run has started and the directory says so; a job
  pending for more than ``lease_ttl`` seconds (its worker died before starting it) is claimed by another
  worker (``XAUTOCLAIM``) every ``claim_interval`` seconds. A worker whose ``max_runs`` slots are all taken
  keeps what it claimed (at most ``max_runs`` jobs) and starts it before any new job from the queue.
- A worker renews the lease of each run it executes every ``lease_ttl / 3`` seconds; the lease expires
  ``lease_ttl`` seconds after the last renewal. Every ``claim_interval`` seconds each worker looks for runs
  whose lease expired and takes them over. Only one worker acquires a lease (``SET NX``), and a worker that
  lost its lease can no longer write the run (its writes are fenced, and it cancels its copy of the run at
  its next renewal): two workers never execute one run. A worker whose event loop stays blocked for longer
  than ``lease_ttl`` (an async node computing without awaiting) loses its runs this way.
- A run taken over after it started resumes from a checkpoint of its thread in the graph's saver (which
  the workers must share: PostgreSQL, say): it needs a checkpointer and a ``thread_id`` in its config. That
  checkpoint is the newest one the run saved whose ``CheckpointSaved`` event reached the run's stream (so
  viewers saw every step before it), else the run's first one; a run that saved none starts again from its
  input (after the checkpoint it began at). Its stream goes on after the last ``seq`` the stopped worker
  wrote, opening with a :class:`~streamflow.events.RunTakenOver` event (which checkpoint, which attempt), so
  viewers see one run with no gap and no duplicate. The supersteps after that checkpoint run again: their
  nodes run at least once.
- A run that cannot be resumed (its graph has no checkpointer or its config no ``thread_id``), or that
  has been executed ``max_attempts`` times already, fails with a ``RunFailed`` event that says why.
- A run that ended keeps no lease; a run whose worker died is taken over or failed by the next worker that
  looks, so its directory entry does not stay ``running`` while any worker serves the prefix. With no
  worker left, a cancel request ends it (:meth:`~streamflow.redis.RunQueue.end_orphaned`), and its records
  expire the sink's ``ttl`` seconds after the last lease renewal.

**Handing runs over.** :meth:`RedisWorker.hand_over` (or a signal named in ``serve(hand_over_on=...)``,
such as the ``SIGTERM`` a process manager stops a worker with) stops a worker without failing its runs:
it takes no more jobs, and stops each run in flight that another worker can resume (its graph has a
checkpointer and its config a ``thread_id``) where it is; the others may finish here within
``shutdown_timeout`` seconds, after which they are cancelled. A stopped run's stream keeps every event written
before that moment and gets nothing after it (no terminal event: the run is not over), and its lease is
given up as already expired, so the next worker looking for expired leases (within its
``claim_interval``) takes the run over as if its worker had died, from the same checkpoint, without waiting
``lease_ttl`` for the lease to run out. With no other worker serving the prefix, the run waits for the next
one to start. Jobs taken from the queue and not started yet stay pending in the consumer group, and are
claimed by another worker ``lease_ttl`` seconds later.

A viewer (:class:`~streamflow.redis.RemoteRun`) waits through a takeover as long as its ``stall_timeout``
exceeds the time from the worker's death to the takeover: at most ``lease_ttl + claim_interval`` seconds.

Every worker of a consumer group must serve the same graph names: a job goes to whichever worker reads
it first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..catalog import GraphCatalog, GraphSource
from ..checkpoint.base import BaseCheckpointSaver
from ..errors import InvalidArgumentError, LeaseLostError
from ..events import CheckpointSaved, Event, RunCancelled, RunFailed, RunTakenOver, error_type_name
from ..graph import CompiledStateGraph, Run
from ..graph.constants import Command
from .checks import check_not_negative, check_positive
from .codec import decode_event, encode_event
from .directory import DEFAULT_PREFIX, RedisClientUser, record_ended, record_started, seq_of
from .jobs import DEFAULT_GROUP, Job, RunQueue
from .lease import RunLease
from .sink import RedisSink

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisWorker", "WorkerStatistics"]

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_log = structlog.get_logger("streamflow.redis")


@attrs.frozen
class WorkerStatistics:
    """A snapshot of a worker's counters (counts are runs)."""

    taken: int
    """Jobs taken from the queue."""
    running: int
    """Runs executing now."""
    finished: int
    """Runs that finished."""
    failed: int
    """Runs that failed, those the worker could not start included."""
    cancelled: int
    """Runs that were cancelled, before or after they started."""
    taken_over: int = 0
    """Runs this worker took over from a worker that stopped (resumed, or failed when they could not be)."""
    lost: int = 0
    """Runs this worker stopped executing because it lost their lease (another worker took them over)."""
    handed_over: int = 0
    """Runs this worker stopped executing to hand them to another worker (:meth:`RedisWorker.hand_over`)."""


class RedisWorker(RedisClientUser):
    """Execute queued runs of ``graphs`` (see the module docstring); :meth:`serve` is its loop.

    :param graphs: graph name -> compiled graph, or a function building a fresh one per run
    :param redis: a ``redis.asyncio.Redis`` client, or a URL to make one (closed by :meth:`aclose`)
    :param prefix: the key prefix shared with web processes and viewers
    :param group: the consumer group shared by the workers that split the jobs between them
    :param consumer: this worker's name in the group (host name and process id by default)
    :param max_runs: runs executed at once (> 0); the worker takes no job while that many are running
    :param block: longest wait for a job in one read (seconds); also how fast :meth:`stop` is noticed
    :param replay_size: events each run retains in its own replay buffer (>= 0)
    :param sink_options: keyword arguments for each run's :class:`~streamflow.redis.RedisSink`
        (``batch_size``, ``maxlen``, ``ttl``, ``retry_for``, ``heartbeat_interval`` ...)
    :param shutdown_timeout: how long a run cancelled because the worker stops may take to end (seconds);
        also how long the runs in flight may take to be handed over (:meth:`hand_over`), after which they
        are cancelled
    :param lease_ttl: how long a run's lease lasts after its last renewal (seconds; renewed every third of
        it); also how long a job may stay pending before another worker claims it
    :param claim_interval: how often the worker looks for stale jobs and expired leases (seconds)
    :param max_attempts: executions of one run at most (>= 1): a run whose worker stopped that many times
        fails instead of being taken over again
    :raises InvalidArgumentError: for a bad graph, ``redis``, ``prefix`` or number
    """

    def __init__(
        self,
        graphs: Mapping[str, GraphSource],
        redis: Redis | str,
        *,
        prefix: str = DEFAULT_PREFIX,
        group: str = DEFAULT_GROUP,
        consumer: str | None = None,
        max_runs: int = 8,
        block: float = 1.0,
        replay_size: int = 0,
        sink_options: Mapping[str, Any] | None = None,
        shutdown_timeout: float = 10.0,
        lease_ttl: float = 10.0,
        claim_interval: float = 2.0,
        max_attempts: int = 3,
    ) -> None:
        self.graphs = GraphCatalog(graphs)
        """The graphs this worker runs, by name."""
        check_positive("max_runs", max_runs, "runs", integer=True)
        check_positive("block", block, "seconds")
        check_positive("shutdown_timeout", shutdown_timeout, "seconds")
        check_not_negative("replay_size", replay_size, "events", integer=True)
        check_positive("lease_ttl", lease_ttl, "seconds")
        check_positive("claim_interval", claim_interval, "seconds")
        check_positive("max_attempts", max_attempts, "executions", integer=True)
        self._connect(redis)
        self.queue = RunQueue(self._client, prefix=prefix)
        self.keys = self.queue.keys
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.max_runs = max_runs
        self.block = float(block)
        self.replay_size = replay_size
        self.shutdown_timeout = float(shutdown_timeout)
        self.lease_ttl = float(lease_ttl)
        self.claim_interval = float(claim_interval)
        self.max_attempts = max_attempts
        self._sink_options = dict(sink_options or {})
        self._live: dict[str, Run] = {}
        self._handed: set[str] = set()  # run ids whose run was stopped to be handed over, lease not yet given up
        self._handling: set[str] = set()  # run ids this worker is starting, executing or has in its backlog
        self._backlog: deque[Job] = deque()  # jobs claimed while every slot was taken: they go first
        self._stopping = False
        self._handing_over = anyio.Event()
        self._counts = {
            "taken": 0,
            "finished": 0,
            "failed": 0,
            "cancelled": 0,
            "taken_over": 0,
            "lost": 0,
            "handed_over": 0,
        }
        self.ready = anyio.Event()
        """Set once the worker listens for cancel requests and reads the queue."""

    @property
    def graph_names(self) -> list[str]:
        """The graph names this worker runs, sorted."""
        return self.graphs.names

    def statistics(self) -> WorkerStatistics:
        """Return a snapshot of the worker's counters."""
        return WorkerStatistics(running=len(self._live), **self._counts)

    def stop(self) -> None:
        """Take no more jobs; :meth:`serve` returns once the runs in flight have ended."""
        self._stopping = True

    def hand_over(self) -> None:
        """Take no more jobs and hand the runs in flight to other workers (see the module docstring);
        :meth:`serve` returns once they are handed over (cancelled after ``shutdown_timeout`` seconds)."""
        self._stopping = True
        self._handing_over.set()

    # -- the loop ------------------------------------------------------------------------------------

    async def serve(self, *, hand_over_on: Collection[int] = ()) -> None:
        """Take and execute jobs until :meth:`stop` (then wait for the runs in flight), :meth:`hand_over`
        (then hand them to other workers) or until cancelled (then cancel the runs in flight, each given
        ``shutdown_timeout`` seconds to end and be written).

        Redis being unreachable is logged and retried with backoff, for as long as it lasts.

        :param hand_over_on: signal numbers (``signal.SIGTERM`` ...) on which the worker calls
            :meth:`hand_over`; signals are received in the main thread only
        :raises InvalidArgumentError: for ``hand_over_on`` holding something that is not a signal number
        """
        signals = _signals(hand_over_on)
        await self._retrying(self.queue.ensure_group, self.group)
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._retrying(pubsub.subscribe, self.keys.cancel_channel)
            _log.info("worker_ready", consumer=self.consumer, group=self.group, graphs=self.graph_names)
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._watch_cancels, pubsub)
                if signals:
                    outer.start_soon(self._watch_signals, signals)
                self.ready.set()
                slots = anyio.Semaphore(self.max_runs)
                async with anyio.create_task_group() as runs:  # leaving it waits for the runs in flight
                    reclaiming = anyio.CancelScope()
                    outer.start_soon(self._reclaim, reclaiming, runs, slots)
                    outer.start_soon(self._bound_hand_over, runs.cancel_scope)
                    while not self._stopping:
                        await slots.acquire()
                        job = await self._next_job()
                        if job is None:
                            slots.release()
                            break
                        runs.start_soon(self._execute, job, slots)
                    reclaiming.cancel()
                outer.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(*_UNREACHABLE):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _next_job(self) -> Job | None:
        """The next job for a free slot: a run taken over that waits in the backlog (it goes before new jobs;
        looked for again after each read that found no new job, since the reclaimer may have added one
        meanwhile), else a new job from the queue; None once the worker stops."""
        while not self._stopping:
            if self._backlog:
                return self._backlog.popleft()
            job: Job | None = await self._retrying(self.queue.take, self.consumer, group=self.group, block=self.block)
            if job is not None:
                self._counts["taken"] += 1
                self._handling.add(job.run_id)
                return job
        return None

    async def _watch_signals(self, signals: tuple[signal.Signals, ...]) -> None:
        with anyio.open_signal_receiver(*signals) as received:
            async for signum in received:
                _log.info("worker_handing_over", consumer=self.consumer, signal=signum, running=len(self._live))
                self.hand_over()

    async def _bound_hand_over(self, runs: anyio.CancelScope) -> None:
        """Cancel the runs still in flight ``shutdown_timeout`` seconds after a hand-over began."""
        await self._handing_over.wait()
        await anyio.sleep(self.shutdown_timeout)
        runs.cancel()

    async def _retrying(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        delay = 0.05
        while True:
            try:
                return await call(*args, **kwargs)
            except _UNREACHABLE as exc:
                _log.warning("worker_redis_unreachable", consumer=self.consumer, error=str(exc), retry_in=delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _watch_cancels(self, pubsub: Any) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except _UNREACHABLE as exc:
                _log.warning("worker_cancel_channel_lost", consumer=self.consumer, error=str(exc))
                await anyio.sleep(0.1)
                await self._retrying(pubsub.subscribe, self.keys.cancel_channel)
                for run_id in list(self._live):  # requests made while the channel was down
                    if await self._retrying(self.queue.cancel_requested, run_id):
                        self._cancel(run_id)
                continue
            if message is not None and message.get("type") == "message":
                self._cancel(message["data"].decode())

    def _cancel(self, run_id: str) -> None:
        run = self._live.get(run_id)
        if run is not None and not run.done:
            run.cancel()
            _log.info("worker_run_cancel_requested", run_id=run_id, consumer=self.consumer)

    # -- taking over ------------------------------------------------------------------------------

    async def _reclaim(self, scope: anyio.CancelScope, runs: anyio.abc.TaskGroup, slots: anyio.Semaphore) -> None:
        """Every ``claim_interval`` seconds: claim jobs pending too long, and runs whose lease expired."""
        with scope:
            while not self._stopping:
                await anyio.sleep(self.claim_interval)
                try:
                    jobs = await self.queue.claim_stale(self.consumer, group=self.group, min_idle=self.lease_ttl)
                    jobs += await self._expired()
                except _UNREACHABLE as exc:
                    _log.warning("worker_redis_unreachable", consumer=self.consumer, error=str(exc))
                    continue
                if self._handing_over.is_set():  # claimed jobs stay pending, for another worker to claim
                    return
                for job in jobs:
                    if job.run_id in self._handling:
                        continue
                    self._handling.add(job.run_id)
                    try:
                        slots.acquire_nowait()
                    except anyio.WouldBlock:  # busy: it goes before the next new job (unless another worker takes it)
                        if len(self._backlog) < self.max_runs:
                            self._backlog.append(job)
                        else:
                            self._handling.discard(job.run_id)
                        continue
                    runs.start_soon(self._execute, job, slots)

    async def _expired(self) -> list[Job]:
        """The jobs of the runs whose lease expired (their worker stopped renewing it)."""
        now_ms = int(time.time() * 1000)
        ids: Any = await self._client.zrangebyscore(self.keys.leases, "-inf", now_ms, start=0, num=self.max_runs)
        jobs: list[Job] = []
        for rid in ids:
            run_id = rid.decode()
            job = await self.queue.job_record(run_id)
            if job is None:  # ended meanwhile, or its records expired
                await self._client.zrem(self.keys.leases, run_id)
            else:
                jobs.append(job)
        return jobs

    # -- one run -------------------------------------------------------------------------------------

    def _start(self, job: Job, input: Any, taken_over: RunTakenOver | None = None) -> Run:
        if job.error is not None:
            raise InvalidArgumentError(job.error)
        # a Command (a thread resumed) goes to the graph unchecked, as LangGraph takes it
        graph: CompiledStateGraph | None
        if isinstance(input, Command):
            graph = self.graphs.build(job.graph)
        else:
            graph = self.graphs.check_input(job.graph, input)
        assert graph is not None  # a worker is given the graphs themselves
        config = {**job.config, "run_id": job.run_id}
        return graph.start(input, config, replay_size=self.replay_size, taken_over=taken_over)

    async def _execute(self, job: Job, slots: anyio.Semaphore) -> None:
        try:
            if self._handing_over.is_set():  # not started: its job stays pending, for another worker to claim
                return
            keep = float(self._sink_options.get("ttl", 3600.0))
            lease = RunLease(self._client, self.keys, job.run_id, self.consumer, self.lease_ttl, keep=keep)
            attempt = await self._retrying(lease.acquire)
            if attempt is None:  # another worker executes the run
                if job.entry_id is not None and await self._started(job.run_id):
                    await self.queue.ack(job, group=self.group)
                return
            try:
                await self._leased(job, lease, attempt)
            finally:
                with anyio.CancelScope(shield=True), contextlib.suppress(*_UNREACHABLE):
                    if job.run_id in self._handed:
                        self._handed.discard(job.run_id)
                        await lease.hand_over()
                    else:
                        await lease.release()
        except Exception as exc:  # Redis refused a command: log it, keep serving other jobs
            _log.error("worker_job_failed", run_id=job.run_id, consumer=self.consumer, error=repr(exc))
        finally:
            self._handling.discard(job.run_id)
            slots.release()

    async def _started(self, run_id: str) -> bool:
        status: Any = await self._client.hget(self.keys.info(run_id), "status")
        return status is not None and status != b"queued"

    async def _leased(self, job: Job, lease: RunLease, attempt: int) -> None:
        """Execute ``job`` under ``lease``: start it, take it over, or end it, as its records say."""
        pipe = self._client.pipeline(transaction=False)
        pipe.hget(self.keys.info(job.run_id), "status")
        pipe.xrevrange(self.keys.stream(job.run_id), "+", "-", count=1)
        pipe.hget(self.keys.job(job.run_id), "base_checkpoint")
        status, top, base = await pipe.execute()
        last_seq = seq_of(top[0][0]) if top else 0
        if status in (b"finished", b"failed", b"cancelled") or (top and decode_event(top[0][1][b"e"]).terminal):
            await self.queue.ack(job, group=self.group)  # it ended: a late delivery of its job
            await self._client.delete(self.keys.job(job.run_id))  # what acquiring the lease wrote there
            return
        if attempt > 1:
            self._counts["taken_over"] += 1
        if await self._retrying(self.queue.cancel_requested, job.run_id):
            reason = "the run was cancelled before it started" if not last_seq else "the run was cancelled"
            await self._end_early(job, lease, RunCancelled(reason=reason), last_seq)
            return
        if attempt > self.max_attempts:
            message = (
                f"run {job.run_id!r} was started {attempt - 1} times and its worker stopped each time; "
                f"it is not taken over again (max_attempts={self.max_attempts})"
            )
            await self._end_early(job, lease, RunFailed(error_type="RuntimeError", error_message=message), last_seq)
            return
        try:
            if not last_seq:
                run = await self._begin(job, base)
            else:
                run = await self._take_over(job, last_seq, base.decode() if base else None, attempt)
        except Exception as exc:
            failed = RunFailed(error_type=error_type_name(exc), error_message=str(exc))
            await self._end_early(job, lease, failed, last_seq)
            return
        await self._follow(job, run, lease)

    async def _begin(self, job: Job, base: bytes | None) -> Run:
        """Start a run that wrote no event yet. The first time, note the thread's last checkpoint before it
        (``base``, for a takeover); when an earlier worker began it (``base`` noted) and saved checkpoints,
        go on from the run's first one, so its input is not applied twice."""
        graph = self.graphs.build(job.graph) if job.error is None else None
        saver = graph.checkpointer if graph is not None else None
        if base is None:
            latest = await _last_checkpoint(saver, job.config)
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(self.keys.job(job.run_id), "base_checkpoint", latest[0] if latest is not None else "")
            pipe.persist(self.keys.job(job.run_id))  # a started run's record lives until the run ends
            await pipe.execute()
            return self._start(job, job.input)
        job, input, _ = await self._restart(job, saver, base.decode() or None, set())
        return self._start(job, input)

    async def _restart(
        self, job: Job, saver: Any, base: str | None, recorded: set[str]
    ) -> tuple[Job, Any, tuple[str, int | None] | None]:
        """``(job, input, point)`` to start ``job`` again: after the checkpoint ``point`` of :func:`_resume_point`
        (input None), or from its input as first given when the run saved no checkpoint (point None)."""
        thread_id = dict(job.config.get("configurable") or {}).get("thread_id")
        if not isinstance(saver, BaseCheckpointSaver) or thread_id is None:
            return job, job.input, None
        point = await _resume_point(saver, str(thread_id), base, recorded)
        if point is None:
            return job, job.input, None
        configurable = {**dict(job.config.get("configurable") or {}), "checkpoint_id": point[0]}
        return attrs.evolve(job, config={**job.config, "configurable": configurable}), None, point

    async def _take_over(self, job: Job, last_seq: int, base: str | None, attempt: int) -> Run:
        """Start again a run whose worker stopped after writing ``last_seq`` (see the module docstring).

        :raises InvalidArgumentError: when the run cannot be resumed (no checkpointer, or no ``thread_id``)
        """
        graph = self.graphs.build(job.graph) if job.error is None else None
        saver = graph.checkpointer if graph is not None else None
        thread_id = dict(job.config.get("configurable") or {}).get("thread_id")
        if not isinstance(saver, BaseCheckpointSaver) or thread_id is None:
            missing = "its graph has no checkpointer" if not isinstance(saver, BaseCheckpointSaver) else "no thread_id"
            raise InvalidArgumentError(
                f"run {job.run_id!r} lost its worker after seq {last_seq} and cannot be resumed: {missing} "
                "(a run resumes from its thread's last checkpoint in a saver the workers share; compile the "
                "graph with one, e.g. PostgreSQL, and pass config={'configurable': {'thread_id': ...}})"
            )
        job, input, point = await self._restart(job, saver, base, await self._recorded_checkpoints(job.run_id))
        checkpoint_id, step = point if point is not None else (None, None)
        taken = RunTakenOver(
            name=job.graph,
            previous_seq=last_seq,
            checkpoint_id=checkpoint_id,
            checkpoint_step=step,
            attempt=attempt,
            worker=self.consumer,
        )
        _log.warning(
            "worker_run_taken_over",
            run_id=job.run_id,
            consumer=self.consumer,
            previous_seq=last_seq,
            checkpoint_id=checkpoint_id,
            attempt=attempt,
        )
        return self._start(job, input, taken)

    async def _recorded_checkpoints(self, run_id: str) -> set[str]:
        """The ids of the root graph's checkpoints whose ``CheckpointSaved`` event the run's stream holds: those
        its viewers know were saved."""
        found: set[str] = set()
        start = "-"
        while True:
            page: Any = await self._client.xrange(self.keys.stream(run_id), start, "+", count=512)
            for _, fields in page:
                event = decode_event(fields[b"e"])
                if isinstance(event, CheckpointSaved) and not event.ns:
                    checkpoint_id = dict(dict(event.config or {}).get("configurable") or {}).get("checkpoint_id")
                    if checkpoint_id:
                        found.add(str(checkpoint_id))
            if len(page) < 512:
                return found
            start = f"({page[-1][0].decode()}"

    async def _follow(self, job: Job, run: Run, lease: RunLease) -> None:
        sink = RedisSink(run, self._client, prefix=self.keys.prefix, fence=lease, **self._sink_options)
        self._live[job.run_id] = run
        _log.info("worker_run_started", run_id=job.run_id, graph=job.graph, consumer=self.consumer)
        lost = False
        handed = False
        try:
            sink.start()
            if await sink.registered():
                await self.queue.ack(job, group=self.group)  # the run is started and recorded: a job no more
            if await self.queue.cancel_requested(job.run_id):  # asked while this worker was taking it
                run.cancel()
            async with anyio.create_task_group() as tg:

                async def keep() -> None:
                    nonlocal lost
                    while True:
                        await anyio.sleep(self.lease_ttl / 3)
                        try:
                            held = await lease.renew()
                        except _UNREACHABLE as exc:
                            _log.warning("worker_lease_not_renewed", run_id=job.run_id, error=str(exc))
                            continue
                        if not held:
                            lost = True
                            _log.warning("worker_lease_lost", run_id=job.run_id, consumer=self.consumer)
                            run.cancel()
                            return

                async def handing_over() -> None:
                    await self._handing_over.wait()
                    if _resumable(job, run):  # else it may finish here, within shutdown_timeout
                        tg.cancel_scope.cancel()

                tg.start_soon(keep)
                tg.start_soon(handing_over)
                await run.wait()
                tg.cancel_scope.cancel()
            if not run.done and not lost and self._handing_over.is_set():
                handed = True
                last = sink.cut()  # what the run publishes while it stops stays out of Redis
                _log.info("worker_run_handed_over", run_id=job.run_id, consumer=self.consumer, last_seq=last)
        finally:
            with anyio.move_on_after(self.shutdown_timeout, shield=True):
                run.cancel()
                await run.wait()
                try:
                    await sink.aclose()
                except LeaseLostError:
                    lost = True
                except Exception as exc:
                    _log.warning("worker_sink_failed", run_id=job.run_id, error=repr(exc))
            del self._live[job.run_id]
            lost = lost or isinstance(sink.error, LeaseLostError)
            handed = handed and not lost and sink.statistics().state == "cut"
            if handed:
                self._handed.add(job.run_id)
            status = (
                "lost" if lost else "handed_over" if handed else run.status if run.status in self._counts else "failed"
            )
            self._counts[status] += 1
            _log.info("worker_run_ended", run_id=job.run_id, status=status, consumer=self.consumer)
            if status == "failed" and run.error is not None:  # the whole story, which clients may not read
                _log.error("worker_run_failed", run_id=job.run_id, graph=job.graph, exc_info=run.error)

    async def _end_early(self, job: Job, lease: RunLease, event: Event, last_seq: int) -> None:
        """Write a run's end without executing it: one terminal event after ``last_seq``, and the directory
        entry (fenced by ``lease``); then the job is done."""
        event.run_id = job.run_id
        event.seq = last_seq + 1
        status = "cancelled" if isinstance(event, RunCancelled) else "failed"
        ttl = float(self._sink_options.get("ttl", 3600.0))

        async def write() -> None:
            now = time.time()
            pipe = self._client.pipeline(transaction=False)
            record_started(pipe, self.keys, job.run_id, job.graph, now)
            pipe.xadd(self.keys.stream(job.run_id), {"e": encode_event(event)}, id=f"{event.seq}-0")
            record_ended(pipe, self.keys, event, now, ttl)
            await lease.execute(pipe)

        await self._retrying(write)
        await self.queue.ack(job, group=self.group)
        self._counts[status] += 1
        reason = event.reason if isinstance(event, RunCancelled) else getattr(event, "error_message", "")
        _log.info(
            "worker_run_not_started" if not last_seq else "worker_run_ended_early",
            run_id=job.run_id,
            status=status,
            reason=reason,
        )

    # -- closing -------------------------------------------------------------------------------------


def _resumable(job: Job, run: Run) -> bool:
    """Whether another worker can take ``run`` over: its graph has a saver and its config a ``thread_id``."""
    thread_id = dict(job.config.get("configurable") or {}).get("thread_id")
    return thread_id is not None and isinstance(getattr(run.graph, "checkpointer", None), BaseCheckpointSaver)


def _signals(values: Collection[int]) -> tuple[signal.Signals, ...]:
    try:
        if isinstance(values, (str, bytes)) or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise ValueError
        return tuple(signal.Signals(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"hand_over_on must be a collection of signal numbers (e.g. (signal.SIGTERM,)), got {values!r}"
        ) from None


async def _last_checkpoint(saver: Any, config: Mapping[str, Any]) -> tuple[str, int | None] | None:
    """``(checkpoint_id, step)`` of the thread's last checkpoint in ``saver`` (root namespace), or None when
    there is no saver, no ``thread_id`` or no checkpoint."""
    thread_id = dict(config.get("configurable") or {}).get("thread_id")
    if not isinstance(saver, BaseCheckpointSaver) or thread_id is None:
        return None
    found = await saver.aget_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    if found is None:
        return None
    step = found.metadata.get("step") if found.metadata else None
    return str(found.checkpoint["id"]), step if isinstance(step, int) else None


async def _resume_point(
    saver: BaseCheckpointSaver[Any], thread_id: str, base: str | None, recorded: set[str]
) -> tuple[str, int | None] | None:
    """Where a run started again goes on: ``(checkpoint_id, step)`` of the newest checkpoint the run saved on
    the thread (those newer than ``base``, the thread's last before the run: checkpoint ids grow with time)
    whose ``CheckpointSaved`` event is in ``recorded`` (so its viewers saw every step before it), else the
    run's first checkpoint; None when the run saved none."""
    mine: list[tuple[str, int | None]] = []
    async for found in saver.alist({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}):
        checkpoint_id = str(found.checkpoint["id"])
        if base is not None and checkpoint_id <= base:
            break
        step = found.metadata.get("step") if found.metadata else None
        mine.append((checkpoint_id, step if isinstance(step, int) else None))
    for point in mine:  # newest first
        if point[0] in recorded:
            return point
    return mine[-1] if mine else None
