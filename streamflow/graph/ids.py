"""Random ids of runs and tasks: version 4 UUID strings, made in bulk."""

from __future__ import annotations

import os
import re
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
    """``count`` version 4 UUID strings from ``16 * count`` random bytes: the version and variant bits set in
    every 16 bytes at once, then the hex digits cut into ``8-4-4-4-12`` groups."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    return list(map("-".join, _GROUPS.findall(raw.hex())))


_IDS_PER_DRAW = 256
"""Ids made per read of ``os.urandom``."""
_VERSION = bytes((byte & 0x0F) | 0x40 for byte in range(256))
"""A byte -> the byte with the version 4 bits set (the 7th byte of a UUID)."""
_VARIANT = bytes((byte & 0x3F) | 0x80 for byte in range(256))
"""A byte -> the byte with the RFC 4122 variant bits set (the 9th byte of a UUID)."""
_GROUPS = re.compile(r"(.{8})(.{4})(.{4})(.{4})(.{12})")
"""The digit groups of a UUID's 32 hex digits."""
_ids: deque[str] = deque()
"""Ids made and not handed out yet (emptied in a forked child, which must not reuse its parent's)."""
os.register_at_fork(after_in_child=_ids.clear)
