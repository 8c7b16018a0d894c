"""Cancelling sync code, which Python cannot stop: a flag it checks, and a report of what it left running.

A sync node's or sync tool's function runs in a worker thread (:mod:`streamflow.workers`), or in the
thread iterating ``stream()`` when nothing else of the run can produce chunks meanwhile (see
:func:`~streamflow.graph.sync_code.run_sync_code`). When the task awaiting it is cancelled (its run was
cancelled or failed, or another task of its superstep failed) the task stops waiting at once, and the
function is *abandoned*:

- its :class:`CancelFlag` is set, so it raises :class:`~streamflow.errors.TaskCancelledError` at its next
  stream-writer call, model call, ``dispatch_custom_event()`` or ``check_cancelled()``;
- if it is still running when its run ends, the run logs a structlog warning (``sync_call_left_running``)
  naming it, and :meth:`Run.statistics <streamflow.graph.Run.statistics>` lists it as an
  :class:`AbandonedCall` until it returns.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeVar

import attrs

from ..errors import TaskCancelledError

__all__ = ["NEVER_CANCELLED", "AbandonedCall", "CancelFlag", "Running", "SyncRunner"]

T = TypeVar("T")


class CancelFlag:
    """Set once, never cleared: the code it belongs to (a task, a tool call, a run) must stop, and why.

    Checking it is one attribute read (``flag.reason is not None``), cheap enough for the stream writer.
    Setting it also cancels the model calls that code is waiting for on the run's loop.
    """

    __slots__ = ("_calls", "reason")

    def __init__(self) -> None:
        self.reason: str | None = None
        """None, or the message of the :class:`~streamflow.errors.TaskCancelledError` to raise."""
        self._calls: set[concurrent.futures.Future[Any]] | None = None  # made by the first track()

    def set(self, reason: str) -> None:
        """Set the flag with ``reason`` (the first reason stays) and cancel the calls it tracks."""
        if self.reason is None:
            self.reason = reason
        self.cancel_calls()

    def check(self) -> None:
        """:raises TaskCancelledError: when the flag is set"""
        if self.reason is not None:
            raise TaskCancelledError(self.reason)

    def track(self, future: concurrent.futures.Future[Any]) -> None:
        """Cancel ``future`` when the flag is set (at once if it is set already)."""
        if self._calls is None:
            self._calls = set()
        self._calls.add(future)
        if self.reason is not None:
            future.cancel()

    def untrack(self, future: concurrent.futures.Future[Any]) -> None:
        if self._calls is not None:
            self._calls.discard(future)

    def cancel_calls(self) -> None:
        """Cancel the tracked calls still running."""
        for future in list(self._calls or ()):
            future.cancel()


class _NeverCancelled(CancelFlag):
    """The flag of tasks that run no sync code of their own (async nodes, subgraphs): never set."""

    __slots__ = ()

    def set(self, reason: str) -> None:
        raise RuntimeError("the flag shared by async tasks is never set: asyncio cancels them")

    def track(self, future: concurrent.futures.Future[Any]) -> None:
        pass  # the run's flag tracks the call

    def untrack(self, future: concurrent.futures.Future[Any]) -> None:
        pass


NEVER_CANCELLED: CancelFlag = _NeverCancelled()
"""The flag of every async node's and subgraph's task: asyncio cancels them at their next ``await``, and no
abandoned sync code of theirs can be running (a sync tool call they make has a flag of its own)."""


@attrs.frozen
class AbandonedCall:
    """A sync call (a node's or a tool's function) that its run stopped waiting for while it ran."""

    kind: Literal["node", "tool"]
    """What was called: a sync node's function, or a sync tool's."""
    name: str
    """The node's name, or the tool's."""
    node: str
    """The node whose task made the call (the node itself for ``kind="node"``)."""
    task_id: str
    """The id of that task."""
    ns: tuple[str, ...]
    """The namespace of the graph the task ran in (``()`` at the root)."""
    step: int
    """The superstep of the task."""
    thread: str
    """The name of the thread running the call (a worker thread, or the thread iterating ``stream()``)."""


class Running(Protocol):
    """A call in a thread, as far as the report needs it (:class:`streamflow.workers.WorkerCall`)."""

    @property
    def thread(self) -> str | None: ...

    @property
    def running(self) -> bool: ...


SyncRunner = Callable[[Callable[[], Any], Callable[[Running], None]], Awaitable[Any]]
"""Runs a sync node's function in the thread iterating ``stream()``: ``await runner(fn, on_abandon)``
returns its result; ``on_abandon(call)`` is called when the awaiting task is cancelled while it runs."""
