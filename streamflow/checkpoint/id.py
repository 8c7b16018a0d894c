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
    """``str(uuid6(clock_seq=clock_seq))``, without building a ``UUID`` (a checkpoint id for each step)."""
    h = f"{_uuid6_int(None, clock_seq):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid6_int(node: int | None, clock_seq: int | None) -> int:
    global _last
    with _lock:
        stamp = time.time_ns() // 100 + _GREGORIAN_OFFSET
        if stamp <= _last:
            stamp = _last + 1
        _last = stamp
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
