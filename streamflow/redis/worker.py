"""A worker process's loop: take queued runs, execute them with a Redis sink, honour cancel requests.

:class:`RedisWorker` reads the job queue (:mod:`streamflow.redis.jobs`) in a consumer group, so several
workers share the jobs and each job goes to one of them. For each job it starts the run of the named
graph, attaches a :class:`~streamflow.redis.RedisSink` (so every event reaches the run's stream, and the
directory shows the run as ``running``, then how it ended), and cancels the run when a web process asks
(a message on the cancel channel; the cancel key, for a request made before the run started). A job the
worker cannot start (a graph it does not have, an input the graph refuses, a malformed entry) becomes a
run that failed at once, and a job cancelled before it started a run cancelled at once: either way its
stream holds one terminal event, so every viewer ends with that outcome.

Every worker of a consumer group must serve the same graph names: a job goes to whichever worker reads
it first.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..catalog import GraphCatalog, GraphSource
from ..errors import InvalidArgumentError
from ..events import Event, RunCancelled, RunFailed, error_type_name
from ..graph import Run
from .checks import check_not_negative, check_positive
from .codec import encode_event
from .directory import DEFAULT_PREFIX, RedisClientUser, record_ended, record_started
from .jobs import DEFAULT_GROUP, Job, RunQueue
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
    :param shutdown_timeout: how long a run cancelled because the worker stops may take to end (seconds)
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
    ) -> None:
        self.graphs = GraphCatalog(graphs)
        """The graphs this worker runs, by name."""
        check_positive("max_runs", max_runs, "runs", integer=True)
        check_positive("block", block, "seconds")
        check_positive("shutdown_timeout", shutdown_timeout, "seconds")
        check_not_negative("replay_size", replay_size, "events", integer=True)
        self._connect(redis)
        self.queue = RunQueue(self._client, prefix=prefix)
        self.keys = self.queue.keys
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.max_runs = max_runs
        self.block = float(block)
        self.replay_size = replay_size
        self.shutdown_timeout = float(shutdown_timeout)
        self._sink_options = dict(sink_options or {})
        self._live: dict[str, Run] = {}
        self._stopping = False
        self._counts = {"taken": 0, "finished": 0, "failed": 0, "cancelled": 0}
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

    # -- the loop ------------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Take and execute jobs until :meth:`stop` (then wait for the runs in flight) or until cancelled
        (then cancel the runs in flight, each given ``shutdown_timeout`` seconds to end and be written).

        Redis being unreachable is logged and retried with backoff, for as long as it lasts.
        """
        await self._retrying(self.queue.ensure_group, self.group)
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._retrying(pubsub.subscribe, self.keys.cancel_channel)
            _log.info("worker_ready", consumer=self.consumer, group=self.group, graphs=self.graph_names)
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._watch_cancels, pubsub)
                self.ready.set()
                slots = anyio.Semaphore(self.max_runs)
                async with anyio.create_task_group() as runs:  # leaving it waits for the runs in flight
                    while not self._stopping:
                        await slots.acquire()
                        job = None
                        while job is None and not self._stopping:
                            job = await self._retrying(
                                self.queue.take, self.consumer, group=self.group, block=self.block
                            )
                        if job is None:
                            slots.release()
                            break
                        self._counts["taken"] += 1
                        runs.start_soon(self._execute, job, slots)
                outer.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(*_UNREACHABLE):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

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

    # -- one run -------------------------------------------------------------------------------------

    def _start(self, job: Job) -> Run:
        if job.error is not None:
            raise InvalidArgumentError(job.error)
        graph = self.graphs.check_input(job.graph, job.input)
        assert graph is not None  # a worker is given the graphs themselves
        return graph.start(job.input, {**job.config, "run_id": job.run_id}, replay_size=self.replay_size)

    async def _execute(self, job: Job, slots: anyio.Semaphore) -> None:
        try:
            if await self._retrying(self.queue.cancel_requested, job.run_id):
                await self._end_unstarted(job, RunCancelled(reason="the run was cancelled before it started"))
                return
            try:
                run = self._start(job)
            except Exception as exc:
                failed = RunFailed(error_type=error_type_name(exc), error_message=str(exc))
                await self._end_unstarted(job, failed)
                return
            await self._follow(job, run)
        except Exception as exc:  # Redis refused a command: log it, keep serving other jobs
            _log.error("worker_job_failed", run_id=job.run_id, consumer=self.consumer, error=repr(exc))
        finally:
            slots.release()

    async def _follow(self, job: Job, run: Run) -> None:
        sink = RedisSink(run, self._client, prefix=self.keys.prefix, **self._sink_options)
        self._live[job.run_id] = run
        _log.info("worker_run_started", run_id=job.run_id, graph=job.graph, consumer=self.consumer)
        try:
            sink.start()
            if await self.queue.cancel_requested(job.run_id):  # asked while this worker was taking it
                run.cancel()
            await run.wait()
        finally:
            with anyio.move_on_after(self.shutdown_timeout, shield=True):
                run.cancel()
                await run.wait()
                try:
                    await sink.aclose()
                except Exception as exc:
                    _log.warning("worker_sink_failed", run_id=job.run_id, error=repr(exc))
            del self._live[job.run_id]
            self._counts[run.status if run.status in self._counts else "failed"] += 1
            _log.info("worker_run_ended", run_id=job.run_id, status=run.status, consumer=self.consumer)
            if run.status == "failed" and run.error is not None:  # the whole story, which clients may not read
                _log.error("worker_run_failed", run_id=job.run_id, graph=job.graph, exc_info=run.error)

    async def _end_unstarted(self, job: Job, event: Event) -> None:
        """Write a run that ends before it starts: one terminal event, and the directory entry."""
        event.run_id = job.run_id
        event.seq = 1
        status = "cancelled" if isinstance(event, RunCancelled) else "failed"
        now = time.time()
        ttl = float(self._sink_options.get("ttl", 3600.0))
        pipe = self._client.pipeline(transaction=True)
        record_started(pipe, self.keys, job.run_id, job.graph, now)
        pipe.xadd(self.keys.stream(job.run_id), {"e": encode_event(event)}, id="1-0")
        record_ended(pipe, self.keys, event, now, ttl)
        await self._retrying(pipe.execute)
        self._counts[status] += 1
        reason = event.reason if isinstance(event, RunCancelled) else getattr(event, "error_message", "")
        _log.info("worker_run_not_started", run_id=job.run_id, status=status, reason=reason)

    # -- closing -------------------------------------------------------------------------------------
