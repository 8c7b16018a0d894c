"""An amortised checkpoint: a task that never has to wait still lets other tasks run, and can be cancelled.

Layer 2. anyio's rule is that every async operation is a checkpoint (``anyio/streams/memory.py``: ``send``
and ``receive`` yield to the event loop even when they need not wait). A yield per operation costs about as
much as the operation itself on the channel's hot path (a publish, a receive), so a :class:`YieldBudget`
spends one real yield per :data:`YIELD_INTERVAL` operations instead: a task that runs through a buffer, a
replay or a long publish loop without ever waiting still gives every other task on the loop a turn at least
that often, and a cancellation pending on it (a cancelled task, an expired ``anyio.move_on_after``, a cancel
scope cancelled from inside) is raised at that yield.

On asyncio a cancellation reaches a task only when it is suspended, so the yield is also where a pending one
is seen; between yields an operation that need not wait goes on. Used by the channel (publish, the
cross-thread inbox pump, receive), the views, and any bridge that replays many items in a row.
"""

from __future__ import annotations

import asyncio

from .errors import InvalidArgumentError

__all__ = ["YIELD_INTERVAL", "YieldBudget"]

YIELD_INTERVAL = 256
"""Operations a :class:`YieldBudget` allows between two real yields by default (operations)."""


class YieldBudget:
    """Counts operations that did not wait, and yields to the event loop once every ``interval`` of them.

    One budget belongs to one object (a channel, a subscription, a view); each task that runs operations on
    it without waiting yields at least once every ``interval`` operations. Either await :meth:`checkpoint`
    once per operation, or, on a hot path, spend inline and yield when the budget is spent::

        budget.left -= 1
        if budget.left <= 0:
            await budget.yield_now()

    A task that is about to wait for real (on a future) may :meth:`refill` the budget first: the wait is a
    yield.

    :param interval: operations between two yields (operations, >= 1); None takes :data:`YIELD_INTERVAL`
        as it is when the budget is made
    :raises InvalidArgumentError: when ``interval`` is not an int >= 1
    """

    __slots__ = ("interval", "left")

    def __init__(self, interval: int | None = None) -> None:
        if interval is None:
            interval = YIELD_INTERVAL
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
            raise InvalidArgumentError(f"interval must be an int >= 1 operations, got {interval!r}")
        self.interval = interval
        """Operations between two yields."""
        self.left = interval
        """Operations left before the next yield (<= 0: the next operation yields first)."""

    async def checkpoint(self) -> None:
        """Count one operation; when the budget is spent, yield to the event loop first (see
        :meth:`yield_now`).

        :raises asyncio.CancelledError: when the calling task was cancelled, at a yield
        """
        self.left -= 1
        if self.left <= 0:
            await self.yield_now()

    async def yield_now(self) -> None:
        """Refill the budget and yield to the event loop once: every ready task runs, and a cancellation
        pending on the calling task is raised here.

        :raises asyncio.CancelledError: when the calling task was cancelled
        """
        self.left = self.interval
        await asyncio.sleep(0)

    def refill(self) -> None:
        """Start a new budget: the calling task is about to wait (so it yields anyway)."""
        self.left = self.interval
