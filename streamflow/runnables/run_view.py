"""A run's items taken through its primary view: what ``astream()``, ``stream()`` and ``astream_events()``
of a Runnable and of a graph yield when they start a run of their own.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any, Final, Protocol, TypeVar

from anyio import CancelScope

from ..errors import InvalidArgumentError
from ..views import View

__all__ = ["LOOKAHEAD", "LiveRun", "view_items"]

LOOKAHEAD: Final = 64
"""Chunks taken from a view in one step at most (see :meth:`View.next_batch
<streamflow.views.View.next_batch>`): the run may run this far ahead of the caller, beyond the view's buffer."""


class LiveRun(Protocol):
    """What :func:`view_items` needs of a run (a graph's ``Run`` and a Runnable's ``RunnableRun`` have it)."""

    @property
    def done(self) -> bool: ...

    async def result(self) -> Any: ...

    async def aclose(self) -> None: ...


R = TypeVar("R", bound=LiveRun)


async def view_items(
    start: Callable[[], R], open_view: Callable[[R], View], batch_size: int = 0
) -> AsyncGenerator[Any, None]:
    """Start a run (``start()``, when the first item is asked for), attach ``open_view(run)`` and yield the
    view's items, or with ``batch_size`` > 0 lists of up to that many items; then raise what the run raised
    (its ``result()``). Leaving early (``aclose()``, cancellation, an exception) cancels the run and waits
    until it has stopped.

    :raises InvalidArgumentError: for a negative ``batch_size``, before the run starts
    :raises Exception: what ``start()`` raises, or what the run's ``result()`` raises after the items before it
    """
    if batch_size < 0:
        raise InvalidArgumentError(f"batch_size must be >= 0, got {batch_size!r}")
    run = start()
    try:
        async with open_view(run) as view:
            if batch_size:
                while batch := await view.next_batch(batch_size):
                    yield batch
            else:
                # Taking what is ready in small batches spares a view step per item.
                while batch := await view.next_batch(LOOKAHEAD):
                    for item in batch:
                        yield item
        await run.result()
    finally:
        if not run.done:
            with CancelScope(shield=True):
                await run.aclose()
