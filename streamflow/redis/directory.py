"""Where a run lives in Redis: its keys, its directory entry, and the lookup other processes use.

Every key of a run sits under one prefix (``"streamflow"`` by default):

``<prefix>:run:<run_id>``
    the run's events, a Redis Stream; entry ids are ``<seq>-0`` and the field ``e`` holds the wire form
    (:mod:`streamflow.redis.codec`).
``<prefix>:runinfo:<run_id>``
    a hash: ``run_id``, ``graph`` (the graph's name), ``status`` (``queued``, ``running``, ``finished``,
    ``failed`` or ``cancelled``), ``started_at`` and ``ended_at`` (seconds since the epoch; ``ended_at`` empty while
    running).
``<prefix>:alive:<run_id>``
    the worker's heartbeat: present while the sink of a live run refreshes it, gone within a few
    heartbeat intervals of the worker's death.
``<prefix>:runs``
    a sorted set of run ids scored by ``started_at``: the directory's index.
``<prefix>:jobs``
    the job queue, a Redis Stream read by workers in one consumer group (:mod:`streamflow.redis.jobs`).
``<prefix>:cancel:<run_id>``
    present when a cancel of the run was asked for (it expires on its own); a message with the run id on
    the pub/sub channel ``<prefix>:cancel`` tells the workers at once.

The stream and the hash expire ``ttl`` seconds after the run ends (set by the sink). A queued run's hash
(status ``queued``, written when it is submitted) lives until a worker starts the run, or ``ttl`` seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

import attrs

from ..errors import InvalidArgumentError, UnknownRunError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = ["DEFAULT_PREFIX", "ENDED", "STATUSES", "RedisKeys", "RedisRunDirectory", "RunInfo", "connect"]

DEFAULT_PREFIX = "streamflow"
"""The key prefix used when none is given."""
STATUSES: tuple[str, ...] = ("queued", "running", "finished", "failed", "cancelled")
"""The values of a run's ``status``: those of ``Run.status``, and ``queued`` for a run submitted to workers
that none has started yet."""
ENDED: frozenset[str] = frozenset({"finished", "failed", "cancelled"})
"""The statuses of a run that is over."""


def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise InvalidArgumentError(f"{what} must be a non-empty string without whitespace, got {value!r}")
    return value


def _check_prefix(value: object) -> str:
    return _check_name("prefix", value)


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

    @property
    def index(self) -> str:
        """The key of the directory's index (a sorted set of run ids by start time)."""
        return f"{self.prefix}:runs"

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


@attrs.frozen
class RunInfo:
    """A run as the directory knows it."""

    run_id: str
    """The run's id."""
    graph: str
    """Name of the graph the run executes."""
    status: str
    """``"queued"``, ``"running"``, ``"finished"``, ``"failed"`` or ``"cancelled"``."""
    started_at: float
    """When the run was registered (queued, then started), in seconds since the epoch."""
    ended_at: float | None
    """When its terminal event was written, in seconds since the epoch; None while running."""
    stream: str
    """The Redis key of its event stream."""


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

    async def get(self, run_id: str) -> RunInfo | None:
        """The directory entry of ``run_id``, or None when there is none (never recorded, or expired)."""
        raw: Any = await self._client.hgetall(self.keys.info(_check_name("run_id", run_id)))
        return self._info(raw) if raw else None

    async def require(self, run_id: str) -> RunInfo:
        """The directory entry of ``run_id``.

        :raises UnknownRunError: when the directory has no entry for it
        """
        info = await self.get(run_id)
        if info is None:
            raise UnknownRunError(
                f"no run {run_id!r} in the directory under prefix {self.keys.prefix!r}: it was never started "
                "with a Redis sink there, or its records expired"
            )
        return info

    async def list(self, *, limit: int = 100, status: str | None = None) -> list[RunInfo]:
        """Up to ``limit`` runs, newest first, optionally only those with ``status``.

        Index entries whose directory entry has expired are removed as they are met.

        :raises InvalidArgumentError: for a ``limit`` below 1 or an unknown ``status``
        """
        if not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be an int >= 1, got {limit!r}")
        if status is not None and status not in STATUSES:
            raise InvalidArgumentError(f"unknown status {status!r}; allowed: {', '.join(STATUSES)}")
        out: list[RunInfo] = []
        start = 0
        while len(out) < limit:
            ids: Any = await self._client.zrevrange(self.keys.index, start, start + limit - 1)
            if not ids:
                break
            start += len(ids)
            pipe = self._client.pipeline(transaction=False)
            for rid in ids:
                pipe.hgetall(self.keys.info(rid.decode()))
            stale: list[bytes] = []
            for rid, raw in zip(ids, await pipe.execute(), strict=True):
                if not raw:
                    stale.append(rid)
                    continue
                info = self._info(raw)
                if status is None or info.status == status:
                    out.append(info)
            if stale:
                await self._client.zrem(self.keys.index, *stale)
                start -= len(stale)
        return out[:limit]

    async def alive(self, run_id: str) -> bool:
        """Whether the worker of ``run_id`` is sending heartbeats (False once it ended or died)."""
        return bool(await self._client.exists(self.keys.alive(_check_name("run_id", run_id))))

    def _info(self, raw: dict[bytes, bytes]) -> RunInfo:
        run_id = raw[b"run_id"].decode()
        ended = raw.get(b"ended_at", b"")
        return RunInfo(
            run_id=run_id,
            graph=raw.get(b"graph", b"").decode(),
            status=raw.get(b"status", b"running").decode(),
            started_at=float(raw.get(b"started_at", b"0")),
            ended_at=float(ended) if ended else None,
            stream=self.keys.stream(run_id),
        )


def record_started(pipe: Pipeline, keys: RedisKeys, run_id: str, graph: str, started_at: float) -> None:
    """Queue the commands that enter a running run in the directory (idempotent)."""
    mapping: dict[bytes | bytearray | memoryview[int] | str | int | float, bytes | str] = {
        "run_id": run_id,
        "graph": graph,
        "status": "running",
        "started_at": repr(started_at),
        "ended_at": "",
    }
    pipe.hset(keys.info(run_id), mapping=mapping)
    pipe.persist(keys.info(run_id))  # a queued run's entry had a time limit; a started one lives until it ends
    pipe.zadd(keys.index, {run_id: started_at})


def record_queued(pipe: Pipeline, keys: RedisKeys, run_id: str, graph: str, queued_at: float, ttl: float) -> None:
    """Queue the commands that enter a run submitted to the workers (status ``queued``), expiring after
    ``ttl`` seconds unless a worker starts it."""
    mapping: dict[bytes | bytearray | memoryview[int] | str | int | float, bytes | str] = {
        "run_id": run_id,
        "graph": graph,
        "status": "queued",
        "started_at": repr(queued_at),
        "ended_at": "",
    }
    pipe.hset(keys.info(run_id), mapping=mapping)
    pipe.pexpire(keys.info(run_id), max(1, int(ttl * 1000)))
    pipe.zadd(keys.index, {run_id: queued_at})


def record_ended(pipe: Pipeline, keys: RedisKeys, run_id: str, status: str, ended_at: float, ttl: float) -> None:
    """Queue the commands that mark a run ended and let its records expire after ``ttl`` seconds."""
    pipe.hset(keys.info(run_id), mapping={"status": status, "ended_at": repr(ended_at)})
    ttl_ms = max(1, int(ttl * 1000))
    pipe.pexpire(keys.info(run_id), ttl_ms)
    pipe.pexpire(keys.stream(run_id), ttl_ms)
    pipe.delete(keys.alive(run_id))
