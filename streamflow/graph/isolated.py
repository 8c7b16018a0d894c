"""Await a node's coroutine in a context of its own, as LangGraph runs each task in a copy of the run's
context: a context variable the node sets is not seen by the nodes after it. Without a task per node: each
step of the coroutine runs through ``Context.run``, and a coroutine that never suspends (most nodes) costs one
such call. The caller takes the first step itself, ``own.run(coro.send, None)`` in a copy ``own`` of its
context (a ``StopIteration`` there carries the result of a coroutine that never suspended), and awaits
:class:`RestInContext` with what that step yielded."""

from __future__ import annotations

import contextvars
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["RestInContext"]


class RestInContext:
    """The rest of a coroutine that suspended on ``first``: each later step run in ``context``; what the
    awaiting task sends or throws in goes on to the coroutine."""

    __slots__ = ("context", "coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], context: contextvars.Context, first: Any) -> None:
        self.coro = coro
        self.context = context
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        run, send, throw = self.context.run, self.coro.send, self.coro.throw
        pending = self.first
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # cancellation, or the task's coroutine closed: into the node's
                try:
                    pending = run(throw, exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = run(send, value)
                except StopIteration as stop:
                    return stop.value
