"""A worker's lease on a run: one executor at a time, and writes fenced by it.

A worker executing a run of the job queue holds its lease, the key ``<prefix>:lease:<run_id>`` whose value
is a token made for that one acquisition (``<consumer>/<uuid>``) and which expires ``ttl`` seconds after
its last renewal (``SET NX PX``). The sorted set ``<prefix>:leases`` scores each leased run id with that
expiry (milliseconds since the epoch), so any worker finds the runs whose worker stopped renewing. The
run's job record, the hash ``<prefix>:job:<run_id>``, keeps what a worker needs to start it again
(``graph``, ``input``, ``config``, ``queued_at`` as in the queue entry, ``attempts``: how many times a
worker acquired the lease, and ``base_checkpoint``: the thread's last checkpoint id before the run began).

**Fencing.** Every write of the holder goes through a Lua script that first checks the lease still holds
its token, and refuses the whole batch otherwise (:class:`LeaseLostError`). Once the lease expired, the
stopped worker's writes are therefore refused even before another worker takes the run, and two workers
never write one run's stream at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from ..errors import LeaseLostError
from .directory import RedisKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = ["LeaseLostError", "RunLease"]

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  redis.call('zadd', KEYS[2], ARGV[3], ARGV[4])
  if tonumber(ARGV[5]) > 0 then
    redis.call('pexpire', KEYS[3], ARGV[5])
    redis.call('pexpire', KEYS[4], ARGV[5])
    redis.call('pexpire', KEYS[5], ARGV[5])
  end
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('zrem', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

_HAND_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('zadd', KEYS[2], 0, ARGV[2])
  return 1
end
return 0
"""

# ARGV: token, then each command as <argument count> <arguments...>; errors other than an id Redis already
# has (a retried batch) come back as strings
_FENCED = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASELOST the lease on this run is no longer held by this worker')
end
local errors = {}
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local reply = redis.pcall(unpack(ARGV, i + 1, i + n))
  if type(reply) == 'table' and reply.err and not string.find(reply.err, 'equal or smaller') then
    errors[#errors + 1] = reply.err
  end
  i = i + n + 1
end
return errors
"""


def _arg(value: Any) -> bytes | str:
    if isinstance(value, (bytes, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)


class RunLease:
    """The lease of one run for one worker (layout and fencing in the module docstring).

    :param client: a ``redis.asyncio.Redis`` client
    :param keys: the keys of the prefix the run lives under
    :param run_id: the run
    :param holder: who holds it (the worker's consumer name)
    :param ttl: how long the lease lasts after its last renewal (seconds)
    :param keep: with each renewal, let the run's directory entry, stream and job record expire that many
        seconds later (None: leave their expiry alone): a run whose worker died and that no worker takes
        over leaves no entry behind for ever
    """

    def __init__(
        self, client: Redis, keys: RedisKeys, run_id: str, holder: str, ttl: float, *, keep: float | None = None
    ) -> None:
        self.client = client
        self.keys = keys
        self.run_id = run_id
        self.ttl = float(ttl)
        self.token = f"{holder}/{uuid.uuid4().hex}"
        """This acquisition's token, the lease key's value while it holds."""
        self.key = keys.lease(run_id)
        self.keep = keep

    def _ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def acquire(self) -> int | None:
        """Take the lease if nobody holds it; return which acquisition of the run's lease this is (1 for the
        first worker, 2 after one takeover ...), or None when another worker holds it."""
        if not await self.client.set(self.key, self.token, nx=True, px=self._ms()):
            return None
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.keys.leases, {self.run_id: int(time.time() * 1000) + self._ms()})
        pipe.hincrby(self.keys.job(self.run_id), "attempts", 1)
        _, attempts = await pipe.execute()
        return int(attempts)

    async def renew(self) -> bool:
        """Extend the lease by ``ttl`` seconds from now; False when it no longer holds (then it is lost)."""
        deadline = int(time.time() * 1000) + self._ms()
        run_id = self.run_id
        keys = [self.key, self.keys.leases, self.keys.info(run_id), self.keys.stream(run_id), self.keys.job(run_id)]
        keep_ms = 0 if self.keep is None else max(1, int(self.keep * 1000))
        renewed = await self.client.eval(_RENEW, 5, *keys, self.token, self._ms(), deadline, run_id, keep_ms)
        return bool(renewed)

    async def release(self) -> None:
        """Give the lease up, if it still holds."""
        await self.client.eval(_RELEASE, 2, self.key, self.keys.leases, self.token, self.run_id)

    async def hand_over(self) -> bool:
        """Give the lease up as expired, if it still holds: the run stays in ``<prefix>:leases`` with an expiry
        in the past, so the next worker that looks for expired leases takes the run over at once. Return
        whether it still held (False: it had expired, or another worker holds it now)."""
        handed = await self.client.eval(_HAND_OVER, 2, self.key, self.keys.leases, self.token, self.run_id)
        return bool(handed)

    async def execute(self, pipe: Pipeline) -> list[str]:
        """Run the commands queued on ``pipe`` (not executed; it is reset) in one script, if the lease still
        holds; return the errors of commands Redis refused (a stream id it already has is not one).

        :raises LeaseLostError: when the lease no longer holds this acquisition's token (nothing was written)
        """
        stack: Sequence[tuple[tuple[Any, ...], Any]] = pipe.command_stack
        argv: list[bytes | str] = [self.token]
        for args, _ in stack:
            argv.append(str(len(args)))
            argv.extend(_arg(a) for a in args)
        await pipe.reset()  # type: ignore[no-untyped-call]
        try:
            errors: Any = await self.client.eval(_FENCED, 1, self.key, *argv)
        except ResponseError as exc:
            if "LEASELOST" in str(exc):
                raise LeaseLostError(
                    f"run {self.run_id!r}: this worker's lease ({self.key!r}) expired or another worker took the "
                    "run over; its writes are refused"
                ) from exc
            raise
        return [e.decode() if isinstance(e, bytes) else str(e) for e in errors]
