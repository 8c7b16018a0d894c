"""The job queue between web processes and workers: runs to start, and requests to cancel them.

A web process :meth:`~RunQueue.submit`\\ s a run: it claims the run id, enters the run in the directory
with status ``queued`` and adds a job to the stream ``<prefix>:jobs`` (fields ``run_id``, ``graph``,
``input`` and ``config`` in the wire form of :mod:`streamflow.redis.codec`, ``queued_at`` in seconds since
the epoch), and the same fields into the run's job record ``<prefix>:job:<run_id>``. Workers read that
stream in one consumer group (``XREADGROUP``), so each job goes to one worker; a worker
:meth:`~RunQueue.take`\\ s a job and leaves it pending in the group until the run has started and the
directory says so, then :meth:`~RunQueue.ack`\\ s (acknowledges and deletes) it. A job whose worker died
before that stays pending; after ``min_idle`` seconds another worker :meth:`~RunQueue.claim_stale`\\ s it
(``XAUTOCLAIM``). The lease of :mod:`streamflow.redis.lease` makes sure only one worker executes the run.

:meth:`~RunQueue.request_cancel` sets the key ``<prefix>:cancel:<run_id>`` (it expires on its own) and
announces the run id on the pub/sub channel ``<prefix>:cancel``: a worker running the run cancels it when
the message arrives, and a worker about to start it checks the key first.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from redis.exceptions import ResponseError

from ..errors import InvalidArgumentError
from ..events import RunCancelled
from .checks import check_name, check_positive
from .codec import decode_event, decode_value, encode_event, encode_value
from .directory import DEFAULT_PREFIX, RedisClientUser, RedisKeys, record_ended, record_queued, record_started, seq_of
from .lease import RunLease

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_GROUP", "Job", "RunQueue"]

DEFAULT_GROUP = "workers"
"""The consumer group workers read the job queue in, unless told otherwise."""


@attrs.frozen
class Job:
    """A run waiting for a worker, as read from the queue."""

    run_id: str
    """The id the run will have."""
    graph: str
    """The name of the graph to run."""
    input: Any
    """The run's input, rebuilt from the wire form."""
    config: dict[str, Any]
    """LangGraph's config for the run (without ``run_id``, which is :attr:`run_id`)."""
    queued_at: float
    """When it was submitted, in seconds since the epoch."""
    error: str | None = None
    """Why the job cannot be run (its queue entry was malformed), or None."""
    entry_id: bytes | None = None
    """Its entry in the queue while it is pending there (to :meth:`RunQueue.ack`), None for a job read from
    its job record."""
    base_checkpoint: str | None = None
    """The thread's last checkpoint id before the run began (from the job record), or None."""


class RunQueue(RedisClientUser):
    """Both ends of the job queue under one prefix (layout in the module docstring).

    :param redis: a ``redis.asyncio.Redis`` client, or a URL to make one (closed by :meth:`aclose`)
    :param prefix: the key prefix shared by web processes, workers and viewers
    :param queued_ttl: how long a queued run's directory entry lives if no worker starts it (seconds)
    :param cancel_ttl: how long a cancel request is remembered (seconds)
    :raises InvalidArgumentError: for a bad ``redis`` or ``prefix``, or a time that is not positive
    """

    def __init__(
        self,
        redis: Redis | str,
        *,
        prefix: str = DEFAULT_PREFIX,
        queued_ttl: float = 3600.0,
        cancel_ttl: float = 3600.0,
    ) -> None:
        check_positive("queued_ttl", queued_ttl, "seconds")
        check_positive("cancel_ttl", cancel_ttl, "seconds")
        self.keys = RedisKeys(prefix)
        self.queued_ttl = float(queued_ttl)
        self.cancel_ttl = float(cancel_ttl)
        self._connect(redis)

    # -- web side ------------------------------------------------------------------------------------

    async def submit(
        self, graph: str, input: Any, config: Mapping[str, Any] | None = None, *, owner: str | None = None
    ) -> str:
        """Queue a run of ``graph`` and return its run id (``config["run_id"]`` when given, else a new one),
        with ``owner`` (a principal's identity) recorded on it when given.

        Nothing here checks ``graph`` or ``input`` against a graph: check them before (the worker fails the
        run otherwise).

        :raises InvalidArgumentError: for an empty graph name, a config that is not a mapping, or a
            ``run_id`` that a run under this prefix already has
        :raises NotSerializableError: for an input or config the wire form cannot carry
        """
        check_name("graph", graph)
        if config is not None and not isinstance(config, Mapping):
            raise InvalidArgumentError(f"config must be a mapping, got {type(config).__name__}")
        options = dict(config or {})
        run_id = check_name("run_id", str(options.pop("run_id", None) or uuid.uuid4()))
        queued_at = time.time()
        fields = {
            "run_id": run_id,
            "graph": graph,
            "input": encode_value(input, "the run's input"),
            "config": encode_value(options, "the run's config"),
            "queued_at": repr(queued_at),
        }
        keys = self.keys
        # HSETNX claims the id atomically: a second submit with the same run_id loses here
        claimed = await self._client.hsetnx(keys.info(run_id), "run_id", run_id)
        if not claimed or await self._client.exists(keys.stream(run_id)):
            raise InvalidArgumentError(
                f"run_id {run_id!r} is already taken by a run under prefix {keys.prefix!r}; leave it out for a new one"
            )
        pipe = self._client.pipeline(transaction=True)
        record_queued(pipe, keys, run_id, graph, queued_at, self.queued_ttl, owner)
        pipe.hset(keys.job(run_id), mapping=fields)  # type: ignore[arg-type]
        pipe.pexpire(keys.job(run_id), max(1, int(self.queued_ttl * 1000)))
        pipe.xadd(keys.jobs, fields)  # type: ignore[arg-type]
        await pipe.execute()
        return run_id

    async def request_cancel(self, run_id: str) -> None:
        """Ask the workers to cancel ``run_id`` (queued or running); does not wait.

        :raises InvalidArgumentError: for an empty ``run_id``
        """
        check_name("run_id", run_id)
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self.keys.cancel(run_id), b"1", px=max(1, int(self.cancel_ttl * 1000)))
        pipe.publish(self.keys.cancel_channel, run_id)
        await pipe.execute()

    async def end_orphaned(self, run_id: str, *, ttl: float = 3600.0) -> bool:
        """Cancel ``run_id`` here if it is ``running`` with no worker behind it (neither a heartbeat nor a
        worker's lease: its worker died and no worker took it over): write its ``RunCancelled`` event after its
        last ``seq`` and its directory entry, under a lease of its own so no worker writes the run meanwhile.
        Return whether it did; the records then expire after ``ttl`` seconds.

        :raises InvalidArgumentError: for an empty ``run_id``
        """
        keys = self.keys
        check_name("run_id", run_id)
        pipe = self._client.pipeline(transaction=False)
        pipe.hget(keys.info(run_id), "status")
        pipe.hget(keys.info(run_id), "graph")
        pipe.exists(keys.alive(run_id), keys.lease(run_id))
        status, graph, living = await pipe.execute()
        if status != b"running" or living:
            return False
        lease = RunLease(self._client, keys, run_id, "cancel", ttl=30.0)
        if await lease.acquire() is None:
            return False  # a worker is taking it over: it sees the cancel request
        try:
            top: Any = await self._client.xrevrange(keys.stream(run_id), "+", "-", count=1)
            if top and decode_event(top[0][1][b"e"]).terminal:
                return False
            event = RunCancelled(reason="the run's worker stopped and no worker took the run over")
            event.run_id, event.seq = run_id, (seq_of(top[0][0]) if top else 0) + 1
            now = time.time()
            write = self._client.pipeline(transaction=False)
            record_started(write, keys, run_id, (graph or b"").decode(), now)
            write.xadd(keys.stream(run_id), {"e": encode_event(event)}, id=f"{event.seq}-0")
            record_ended(write, keys, event, now, ttl)
            await lease.execute(write)
            return True
        finally:
            await lease.release()

    # -- worker side ---------------------------------------------------------------------------------

    async def ensure_group(self, group: str = DEFAULT_GROUP) -> None:
        """Create the consumer group ``group`` on the queue (and the queue) if they do not exist yet."""
        try:
            await self._client.xgroup_create(self.keys.jobs, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def take(self, consumer: str, *, group: str = DEFAULT_GROUP, block: float = 1.0) -> Job | None:
        """Take the next job for ``consumer`` in ``group``, waiting up to ``block`` seconds; None when none
        came. The job stays pending in the group (see :attr:`Job.entry_id`) until :meth:`ack`. An entry that
        cannot be read comes back with :attr:`Job.error` saying why, for the worker to fail its run.
        """
        reply: Any
        try:
            reply = await self._client.xreadgroup(
                group, consumer, {self.keys.jobs: ">"}, count=1, block=max(1, int(block * 1000))
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group(group)  # Redis lost the group (a restart without persistence)
            return None
        if not reply:
            return None
        entry_id, fields = reply[0][1][0]
        return _job(fields, entry_id)

    async def claim_stale(
        self, consumer: str, *, group: str = DEFAULT_GROUP, min_idle: float = 10.0, count: int = 10
    ) -> list[Job]:
        """Claim for ``consumer`` up to ``count`` jobs pending in ``group`` for more than ``min_idle`` seconds
        (their worker took them and died, or has not started them yet): ``XAUTOCLAIM``."""
        try:
            reply: Any = await self._client.xautoclaim(
                self.keys.jobs, group, consumer, max(1, int(min_idle * 1000)), "0-0", count=count
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group(group)
            return []
        return [_job(fields, entry_id) for entry_id, fields in reply[1] if fields]

    async def ack(self, job: Job, *, group: str = DEFAULT_GROUP) -> None:
        """Acknowledge and delete ``job``'s queue entry (nothing for a job without one)."""
        if job.entry_id is None:
            return
        pipe = self._client.pipeline(transaction=False)
        pipe.xack(self.keys.jobs, group, job.entry_id)
        pipe.xdel(self.keys.jobs, job.entry_id)
        await pipe.execute()

    async def job_record(self, run_id: str) -> Job | None:
        """The run's job, read from its job record (None when it has none: it ended, or expired)."""
        fields: Any = await self._client.hgetall(self.keys.job(run_id))
        if not fields or b"graph" not in fields:
            return None
        return _job(fields, None)

    async def cancel_requested(self, run_id: str) -> bool:
        """Whether a cancel of ``run_id`` was asked for (and is still remembered)."""
        return bool(await self._client.exists(self.keys.cancel(run_id)))

    # -- closing -------------------------------------------------------------------------------------


def _job(fields: Mapping[bytes, bytes], entry_id: bytes | None) -> Job:
    """Rebuild a job from its stream entry or job record; one that cannot be read carries the reason in
    ``error``."""
    run_id = fields.get(b"run_id", b"").decode() or str(uuid.uuid4())
    try:
        config = decode_value(fields[b"config"])
        return Job(
            run_id=run_id,
            graph=fields[b"graph"].decode(),
            input=decode_value(fields[b"input"]),
            config=config if isinstance(config, dict) else {},
            queued_at=float(fields[b"queued_at"]),
            entry_id=entry_id,
            base_checkpoint=fields[b"base_checkpoint"].decode() if fields.get(b"base_checkpoint") else None,
        )
    except (KeyError, ValueError) as exc:
        graph = fields.get(b"graph", b"").decode(errors="replace")
        return Job(
            run_id, graph, None, {}, time.time(), error=f"malformed job entry in the queue: {exc!r}", entry_id=entry_id
        )
