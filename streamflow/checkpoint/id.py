"""Checkpoint ids: version-6 UUIDs (time-ordered), as LangGraph's ``langgraph.checkpoint.base.id.uuid6``.

The 60-bit timestamp (100 ns units since 1582-10-15) leads the UUID, so ids made later sort after ids made
earlier, as strings too; within one process each id's timestamp is strictly greater than the last, so ids
made in quick succession still sort in the order they were made.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

__all__ = ["uuid6", "uuid6_str"]

_GREGORIAN_OFFSET = 0x01B21DD213814000
"""100 ns intervals from the UUID epoch (1582-10-15) to the Unix epoch."""

_lock = threading.Lock()
_last = 0


def uuid6(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
    """A new version-6 UUID (RFC 9562) for a checkpoint id.

    :param node: the low 48 bits; random when not given
    :param clock_seq: the 14-bit sequence field; random when not given (LangGraph passes the step number,
        and ``-2`` for an empty checkpoint: only its low 14 bits are kept)
    :returns: a UUID whose string form sorts after every one this process made before
    """
    return uuid.UUID(int=_uuid6_int(node, clock_seq))


def uuid6_str(clock_seq: int | None = None) -> str:
    """``str(uuid6(clock_seq=clock_seq))``, without building a ``UUID`` or a 128-bit integer (a checkpoint
    id for each step): its fields formatted one by one."""
    stamp = _stamp()
    sequence = _random_bits(14) if clock_seq is None else clock_seq & 0x3FFF
    return "%08x-%04x-6%03x-%04x-%012x" % (  # noqa: UP031 - %-formatting is the cheapest here
        stamp >> 28,
        (stamp >> 12) & 0xFFFF,
        stamp & 0x0FFF,
        0x8000 | sequence,
        _random_bits(48),
    )


def _stamp() -> int:
    """A 60-bit UUID timestamp greater than every one this process took before."""
    global _last
    stamp = _time_ns() // 100 + _GREGORIAN_OFFSET
    _lock.acquire()
    if stamp <= _last:
        stamp = _last + 1
    _last = stamp
    _lock.release()
    return stamp


_time_ns = time.time_ns
_random_bits = random.getrandbits


def _uuid6_int(node: int | None, clock_seq: int | None) -> int:
    stamp = _stamp()
    if clock_seq is None:
        clock_seq = random.getrandbits(14)
    if node is None:
        node = random.getrandbits(48)
    value = ((stamp >> 12) & 0xFFFFFFFFFFFF) << 80
    value |= 0x6 << 76
    value |= (stamp & 0x0FFF) << 64
    value |= 0x2 << 62
    value |= (clock_seq & 0x3FFF) << 48
    value |= node & 0xFFFFFFFFFFFF
    return value
