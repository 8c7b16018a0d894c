"""Random ids of runs and tasks: version 4 UUID strings, made in bulk."""

from __future__ import annotations

import os
from collections import deque

__all__ = ["new_id"]


def new_id() -> str:
    """A random id (of a run, a task): the string of a version 4 UUID, as ``str(uuid.uuid4())`` gives it.
    Ids are made :data:`_IDS_PER_DRAW` at a time from one read of the system's random source (an id costs no
    system call); taking one is atomic, so no two threads get the same id."""
    try:
        return _ids.popleft()
    except IndexError:
        _ids.extend(_uuid4_strings(_IDS_PER_DRAW))
        return _ids.popleft()


def _uuid4_strings(count: int) -> list[str]:
    """``count`` version 4 UUID strings from ``16 * count`` random bytes."""
    raw = os.urandom(16 * count).hex()
    out: list[str] = []
    for at in range(0, 32 * count, 32):
        h = raw[at : at + 32]
        variant = _VARIANT[h[16]]  # the top two bits 10 (RFC 4122), the next two random
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return out


_IDS_PER_DRAW = 128
"""Ids made per read of ``os.urandom``."""
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
"""The 16th hex digit of a random id -> the digit with the RFC 4122 variant bits set."""
_ids: deque[str] = deque()
"""Ids made and not handed out yet (emptied in a forked child, which must not reuse its parent's)."""
os.register_at_fork(after_in_child=_ids.clear)
