"""Where a run lives in Redis: its keys, its directory entry, and the lookup other processes use.

Every key of a run sits under one prefix (``"streamflow"`` by default):

``<prefix>:run:<run_id>``
    the run's events, a Redis Stream; entry ids are ``<seq>-0`` and the field ``e`` holds the wire form
    (:mod:`streamflow.redis.codec`).
``<prefix>:runinfo:<run_id>``
    a hash: ``run_id``, ``graph`` (the graph's name), ``status`` (a :data:`~streamflow.run_info.RunStatus`),
    ``created_at`` (seconds since the epoch: when the run was queued, or started when it was never queued)
    and ``finished_at`` (seconds since the epoch; empty until the run ended); ``owner`` too, for a run queued
    by a principal of an HTTP app with authentication (:mod:`streamflow.server.auth`).
``<prefix>:alive:<run_id>``
    the worker's heartbeat: present while the sink of a live run refreshes it, gone within a few
    heartbeat intervals of the worker's death.
``<prefix>:lease:<run_id>``, ``<prefix>:leases``, ``<prefix>:job:<run_id>``
    the lease of a worker on a run it executes, the runs leased by expiry, and the run's job record
    (:mod:`streamflow.redis.lease`); deleted when the run ends.
``<prefix>:runs``
    a sorted set of run ids scored by ``created_at``: the directory's index.
``<prefix>:owned:<owner>``
    a sorted set of the ids of the runs queued by ``owner``, scored by ``created_at``: what counts its live
    runs. Ids of runs that ended (or expired) are removed as a count meets them.
``<prefix>:jobs``
    the job queue, a Redis Stream read by workers in one consumer group (:mod:`streamflow.redis.jobs`).
``<prefix>:cancel:<run_id>``
    present when a cancel of the run was asked for (it expires on its own); a message with the run id on
    the pub/sub channel ``<prefix>:cancel`` tells the workers at once.

:class:`RedisRunDirectory` reads an entry and its stream's bounds into a :class:`~streamflow.run_info.RunInfo`
(one round trip); :func:`record_queued`, :func:`record_started` and :func:`record_ended` queue the commands
that write it. The stream and the hash expire ``ttl`` seconds after the run ends (set by the sink). A queued run's hash
(status ``queued``, written when it is submitted) lives until a worker starts the run, or ``ttl`` seconds;
the records of a run a worker executes expire ``ttl`` seconds after the worker last renewed its lease
(:mod:`streamflow.redis.lease`), so a run whose worker died leaves none behind for ever.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Self

import attrs

from ..errors import InvalidArgumentError, UnknownRunError
from ..events import Event, RunCancelled, RunFailed, RunFinished
from ..run_info import RUN_STATUSES, RunError, RunInfo, RunStatus, check_statuses
from .checks import check_name
from .codec import decode_event

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = [
    "DEFAULT_PREFIX",
    "RedisClientUser",
    "RedisKeys",
    "RedisRunDirectory",
    "connect",
    "record_ended",
    "record_queued",
    "record_started",
    "seq_of",
]

DEFAULT_PREFIX = "streamflow"
"""The key prefix used when none is given."""

_STATUS_OF: dict[bytes, RunStatus] = {status.encode(): status for status in RUN_STATUSES}
_ENDED_AS: dict[type[Event], RunStatus] = {RunFinished: "finished", RunFailed: "failed", RunCancelled: "cancelled"}
_ENDED_BYTES = frozenset(status.encode() for status in _ENDED_AS.values())


def _check_prefix(value: object) -> str:
    return check_name("prefix", value)


def seq_of(entry_id: bytes) -> int:
    """The ``seq`` of a run's stream entry, from its id ``b"<seq>-0"``."""
    return int(entry_id.split(b"-", 1)[0])


def connect(redis: Redis | str) -> tuple[Redis, bool]:
    """Return ``(client, owned)``: the client given, or a new one for a URL (``redis://host:port/db``).

    ``owned`` is True for a client made here, which its user must close.

    :raises InvalidArgumentError: when ``redis`` is neither a URL string nor a ``redis.asyncio.Redis``
    """
    from redis.asyncio import Redis

    if isinstance(redis, Redis):
        return redis, False
    if isinstance(redis, str) and redis.startswith(("redis://", "rediss://", "unix://")):
        return Redis.from_url(redis), True
    raise InvalidArgumentError(
        f"redis must be a URL such as 'redis://127.0.0.1:6379/0' or a redis.asyncio.Redis client, got {redis!r}"
    )


class RedisClientUser:
    """Base of the objects that talk to Redis through one client: the client they were given, or one they
    made from a URL and therefore close. Use them as async context managers, or call :meth:`aclose`."""

    _client: Redis
    _owned: bool

    def _connect(self, redis: Redis | str) -> None:
        """Take ``redis`` (a client or a URL, see :func:`connect`).

        :raises InvalidArgumentError: when ``redis`` is neither a URL string nor a ``redis.asyncio.Redis``
        """
        self._client, self._owned = connect(redis)

    @property
    def client(self) -> Redis:
        """The Redis client this object talks through."""
        return self._client

    async def aclose(self) -> None:
        """Close the client if it was made here from a URL (a client passed in stays open). Idempotent."""
        if self._owned:
            self._owned = False
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@attrs.frozen
class RedisKeys:
    """The Redis keys of runs under one prefix (layout in the module docstring).

    :raises InvalidArgumentError: for a prefix that is empty or holds whitespace
    """

    prefix: str = attrs.field(default=DEFAULT_PREFIX, converter=_check_prefix)

    def stream(self, run_id: str) -> str:
        """The key of the run's event stream."""
        return f"{self.prefix}:run:{run_id}"

    def info(self, run_id: str) -> str:
        """The key of the run's directory entry (a hash)."""
        return f"{self.prefix}:runinfo:{run_id}"

    def alive(self, run_id: str) -> str:
        """The key of the run's heartbeat."""
        return f"{self.prefix}:alive:{run_id}"

    def lease(self, run_id: str) -> str:
        """The key of the run's lease (:mod:`streamflow.redis.lease`)."""
        return f"{self.prefix}:lease:{run_id}"

    @property
    def leases(self) -> str:
        """The key of the sorted set of leased run ids, scored by lease expiry (milliseconds since the epoch)."""
        return f"{self.prefix}:leases"

    def thread(self, thread_id: str) -> str:
        """The key of the thread's last run queued by a web process (its run id; see
        :class:`~streamflow.server.redis_source.RedisRunSource`)."""
        return f"{self.prefix}:thread:{thread_id}"

    def thread_info(self, thread_id: str) -> str:
        """The key of a thread's record (a hash: ``created_at``, ``metadata``, ``owner``, ``graph``, ``run_id``;
        see :class:`~streamflow.server.redis_source.RedisRunSource`)."""
        return f"{self.prefix}:threadinfo:{thread_id}"

    def job(self, run_id: str) -> str:
        """The key of the run's job record (a hash: what a worker needs to start the run again)."""
        return f"{self.prefix}:job:{run_id}"

    @property
    def index(self) -> str:
        """The key of the directory's index (a sorted set of run ids by start time)."""
        return f"{self.prefix}:runs"

    def owned(self, owner: str) -> str:
        """The key of the set of runs queued by ``owner`` (a principal's identity)."""
        return f"{self.prefix}:owned:{owner}"

    @property
    def jobs(self) -> str:
        """The key of the job queue (a stream of runs waiting for a worker)."""
        return f"{self.prefix}:jobs"

    def cancel(self, run_id: str) -> str:
        """The key that marks a cancel request for the run."""
        return f"{self.prefix}:cancel:{run_id}"

    @property
    def cancel_channel(self) -> str:
        """The pub/sub channel on which cancel requests (run ids) are announced to workers."""
        return f"{self.prefix}:cancel"


class RedisRunDirectory(RedisClientUser):
    """The runs recorded under one prefix, for processes that serve or watch them (a web process).

    Sinks write the entries (:class:`~streamflow.redis.RedisSink`); this class only reads them.

    :param redis: a ``redis.asyncio.Redis`` client, or a URL to make one (closed by :meth:`aclose`)
    :param prefix: the key prefix the sinks write under
    :raises InvalidArgumentError: for a bad ``redis`` or ``prefix``
    """

    def __init__(self, redis: Redis | str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.keys = RedisKeys(prefix)
        self._connect(redis)

    async def get(self, run_id: str, *, outcome: bool = False) -> RunInfo | None:
        """The run's info, or None when the directory has no entry for it (never recorded, or expired).

        :param outcome: also read the ``output`` of a finished run or the ``error`` of a failed one (from its
            terminal event)
        :raises InvalidArgumentError: for a ``run_id`` that cannot name a run
        """
        (info,) = await self._read([check_name("run_id", run_id)], outcome=outcome)
        return info

    async def require(self, run_id: str, *, outcome: bool = False) -> RunInfo:
        """The run's info (see :meth:`get`).

        :raises UnknownRunError: when the directory has no entry for it
        :raises InvalidArgumentError: for a ``run_id`` that cannot name a run
        """
        info = await self.get(run_id, outcome=outcome)
        if info is None:
            raise self._unknown(run_id)
        return info

    def _unknown(self, run_id: str) -> UnknownRunError:
        return UnknownRunError(
            f"no run {run_id!r} in the directory under prefix {self.keys.prefix!r}: it was never started "
            "with a Redis sink there, or its records expired"
        )

    async def list(
        self,
        *,
        limit: int = 100,
        status: RunStatus | Iterable[RunStatus] | None = None,
        owner: str | None = None,
    ) -> list[RunInfo]:
        """Up to ``limit`` runs, newest first, optionally only those with one of the ``status`` values, and
        only those of ``owner`` when given.

        Index entries whose directory entry has expired are removed as they are met.

        :raises InvalidArgumentError: for a ``limit`` below 1 or a status that is not a
            :data:`~streamflow.run_info.RunStatus`
        """
        if not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be an int >= 1, got {limit!r}")
        wanted = check_statuses(status)
        out: list[RunInfo] = []
        start = 0
        while len(out) < limit:
            ids: Any = await self._client.zrevrange(self.keys.index, start, start + limit - 1)
            if not ids:
                break
            start += len(ids)
            infos = await self._read([rid.decode() for rid in ids])
            stale = [rid for rid, info in zip(ids, infos, strict=True) if info is None]
            out.extend(
                i
                for i in infos
                if i is not None and (wanted is None or i.status in wanted) and (owner is None or i.owner == owner)
            )
            if stale:
                await self._client.zrem(self.keys.index, *stale)
                start -= len(stale)
        return out[:limit]

    async def owner_of(self, run_id: str) -> str | None:
        """The run's ``owner`` (None for a run queued without one).

        :raises UnknownRunError: when the directory has no entry for it
        :raises InvalidArgumentError: for a ``run_id`` that cannot name a run
        """
        pipe = self._client.pipeline(transaction=False)
        key = self.keys.info(check_name("run_id", run_id))
        pipe.exists(key)
        pipe.hget(key, "owner")
        exists, owner = await pipe.execute()
        if not exists:
            raise self._unknown(run_id)
        return None if owner is None else bytes(owner).decode()

    async def live_runs(self, owner: str) -> int:
        """How many runs queued by ``owner`` are queued or running now (runs). Runs that ended or expired
        leave the owner's set as they are met."""
        key = self.keys.owned(owner)
        ids: Any = await self._client.zrange(key, 0, -1)
        if not ids:
            return 0
        pipe = self._client.pipeline(transaction=False)
        for rid in ids:
            pipe.hget(self.keys.info(rid.decode()), "status")
        statuses: list[Any] = await pipe.execute()
        over = [rid for rid, status in zip(ids, statuses, strict=True) if status is None or status in _ENDED_BYTES]
        if over:
            await self._client.zrem(key, *over)
        return len(ids) - len(over)

    async def seq_bounds(self, run_id: str) -> tuple[int, int | None]:
        """``(last_seq, first_retained_seq)`` of the run's Redis stream: ``(0, None)`` when it holds nothing."""
        pipe = self._client.pipeline(transaction=False)
        self._queue_bounds(pipe, run_id)
        top, bottom = await pipe.execute()
        return (seq_of(top[0][0]) if top else 0), (seq_of(bottom[0][0]) if bottom else None)

    async def alive(self, run_id: str) -> bool:
        """Whether the worker of ``run_id`` is sending heartbeats (False once it ended or died)."""
        return bool(await self._client.exists(self.keys.alive(check_name("run_id", run_id))))

    def _queue_bounds(self, pipe: Pipeline, run_id: str) -> None:
        pipe.xrevrange(self.keys.stream(run_id), "+", "-", count=1)
        pipe.xrange(self.keys.stream(run_id), "-", "+", count=1)

    async def _read(self, run_ids: Sequence[str], *, outcome: bool = False) -> builtins.list[RunInfo | None]:
        """The info of each run (None where it has no entry), read in one round trip."""
        pipe = self._client.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hgetall(self.keys.info(run_id))
            self._queue_bounds(pipe, run_id)
        replies: list[Any] = await pipe.execute()
        return [
            _info(run_id, *replies[3 * i : 3 * i + 3], outcome=outcome) if replies[3 * i] else None
            for i, run_id in enumerate(run_ids)
        ]


def _info(run_id: str, raw: dict[bytes, bytes], top: Any, bottom: Any, *, outcome: bool) -> RunInfo:
    """A run's info from its directory hash and the last and first entries of its stream."""
    raw_status = raw.get(b"status")
    status = _STATUS_OF.get(raw_status) if raw_status is not None else "queued"  # claimed, not yet written
    if status is None:
        raise ValueError(f"run {run_id!r}'s directory entry has an unknown status {raw_status!r}")
    finished = raw.get(b"finished_at", b"")
    owner = raw.get(b"owner")
    output: Any = None
    error: RunError | None = None
    if outcome and status in ("finished", "failed") and top:
        event = decode_event(top[0][1][b"e"])
        if isinstance(event, RunFinished):
            output = event.output
        elif isinstance(event, RunFailed):
            error = RunError(
                type=event.error_type.rsplit(".", 1)[-1], message=event.error_message, error_type=event.error_type
            )
    return RunInfo(
        run_id=run_id,
        graph=raw.get(b"graph", b"").decode(),
        status=status,
        created_at=float(raw.get(b"created_at", b"0")),
        finished_at=float(finished) if finished else None,
        last_seq=seq_of(top[0][0]) if top else 0,
        first_retained_seq=seq_of(bottom[0][0]) if bottom else None,
        output=output,
        error=error,
        owner=None if owner is None else owner.decode(),
    )


def _record(pipe: Pipeline, keys: RedisKeys, run_id: str, graph: str, status: RunStatus, created_at: float) -> None:
    """Queue the commands that write a run's entry with ``status``, keeping the ``created_at`` it has."""
    key = keys.info(run_id)
    mapping: dict[bytes | bytearray | memoryview[int] | str | int | float, bytes | str] = {
        "run_id": run_id,
        "graph": graph,
        "status": status,
        "finished_at": "",
    }
    pipe.hset(key, mapping=mapping)
    pipe.hsetnx(key, "created_at", repr(created_at))
    pipe.zadd(keys.index, {run_id: created_at}, nx=True)


def record_queued(
    pipe: Pipeline,
    keys: RedisKeys,
    run_id: str,
    graph: str,
    queued_at: float,
    ttl: float,
    owner: str | None = None,
) -> None:
    """Queue the commands that enter a run submitted to the workers (status ``queued``, created at
    ``queued_at``, seconds since the epoch), expiring after ``ttl`` seconds unless a worker starts it; with
    ``owner``, recorded on the run and in the owner's set."""
    _record(pipe, keys, run_id, graph, "queued", queued_at)
    if owner is not None:
        pipe.hset(keys.info(run_id), "owner", owner)
        pipe.zadd(keys.owned(owner), {run_id: queued_at})
    pipe.pexpire(keys.info(run_id), max(1, int(ttl * 1000)))


def record_started(pipe: Pipeline, keys: RedisKeys, run_id: str, graph: str, started_at: float) -> None:
    """Queue the commands that enter a running run in the directory (idempotent). A queued run keeps the
    time it was queued as its ``created_at``; one never queued is created at ``started_at`` (seconds since
    the epoch)."""
    _record(pipe, keys, run_id, graph, "running", started_at)
    pipe.persist(keys.info(run_id))  # a queued run's entry had a time limit; a started one lives until it ends


def record_ended(pipe: Pipeline, keys: RedisKeys, terminal: Event, finished_at: float, ttl: float) -> None:
    """Queue the commands that mark the run of ``terminal`` (its ``RunFinished``, ``RunFailed`` or
    ``RunCancelled``) ended at ``finished_at`` (seconds since the epoch), and let its records expire after
    ``ttl`` seconds."""
    run_id = terminal.run_id
    pipe.hset(keys.info(run_id), mapping={"status": _ENDED_AS[type(terminal)], "finished_at": repr(finished_at)})
    ttl_ms = max(1, int(ttl * 1000))
    pipe.pexpire(keys.info(run_id), ttl_ms)
    pipe.pexpire(keys.stream(run_id), ttl_ms)
    pipe.delete(keys.alive(run_id), keys.lease(run_id), keys.job(run_id))
    pipe.zrem(keys.leases, run_id)
