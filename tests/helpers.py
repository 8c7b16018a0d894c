"""Small helpers shared by the channel tests."""

from __future__ import annotations

import anyio

from streamflow.channel import Lagged, Subscription
from streamflow.events import Event


def take_buffered(sub: Subscription) -> list[Event | Lagged]:
    """Take everything ``sub`` can hand over without waiting (stops at an empty buffer or the end)."""
    items: list[Event | Lagged] = []
    while True:
        try:
            items.append(sub.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            return items


async def take_all(sub: Subscription) -> list[Event | Lagged]:
    """Iterate ``sub`` to its end (the channel or the subscription closed and the buffer drained)."""
    return [item async for item in sub]


def seqs(items: list[Event | Lagged]) -> list[int]:
    """The ``seq`` of each event in ``items`` (Lagged signals skipped)."""
    return [item.seq for item in items if isinstance(item, Event)]
