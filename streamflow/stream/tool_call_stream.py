"""One tool call of a v3 run stream, LangGraph's ``langgraph.prebuilt`` ``ToolCallStream``.

Layer 2 (views). Yielded on ``run.tool_calls`` (given by :class:`ToolCallTransformer`) once per
``tool-started`` event of the ``tools`` stream mode; fed by the later events of the same call by the consumer
that made it: readers that run out of deltas drive that consumer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

__all__ = ["ToolCallStream"]

Pump = Callable[[], Awaitable[bool]]
SyncCall = Callable[..., Any]


class _OutputDeltas:
    """The deltas a tool gave while it ran, in order: iterable (sync run stream) or async iterable."""

    def __init__(self, call: ToolCallStream) -> None:
        self._call = call

    async def __aiter__(self) -> AsyncIterator[Any]:
        index = 0
        while more := await self._call._more(index):
            index += len(more)
            for item in more:
                yield item

    def __iter__(self) -> Iterator[Any]:
        sync_call = self._call._sync_call
        index = 0
        if sync_call is None:
            yield from list(self._call._deltas)
            return
        while more := sync_call(self._call._more, index):
            index += len(more)
            yield from more


class ToolCallStream:
    """A tool call's lifecycle: ``tool_call_id``, ``tool_name`` and ``input`` from its start; ``output_deltas``
    (the values it streamed, iterate sync or async as the run stream is); ``output`` (what it returned, a
    tool message's content, or None), ``error`` (the error text of a failed call, or None) and ``completed``
    once it ended. Not built by users: :class:`ToolCallTransformer` makes them.
    """

    fed_lazily = True
    """It is fed by later events of its reader (a reader hands it over before going on)."""

    def __init__(self, tool_call_id: str, tool_name: str, input: dict[str, Any] | None = None) -> None:
        """:param tool_call_id: the id of the call in the model's message
        :param tool_name: the tool's name
        :param input: the call's arguments, or None when none were given
        """
        self.tool_call_id = tool_call_id
        self.tool_name = tool_name
        self.input = input
        self.output: Any = None
        self.error: str | None = None
        self.completed = False
        self._deltas: list[Any] = []
        self._pump: Pump | None = None
        self._sync_call: SyncCall | None = None
        self._output_deltas = _OutputDeltas(self)

    @property
    def output_deltas(self) -> _OutputDeltas:
        """The streamed deltas in arrival order; iteration ends when the call finished or failed."""
        return self._output_deltas

    def _for_sync(self, call: SyncCall) -> ToolCallStream:
        """Read from a sync run stream's thread: ``call`` runs a coroutine function on the run's loop."""
        self._sync_call = call
        return self

    def _push_delta(self, delta: Any) -> None:
        self._deltas.append(delta)

    def _finish(self, output: Any) -> None:
        self.output = output
        self.completed = True

    def _fail(self, message: str) -> None:
        self.error = message
        self.completed = True

    async def _more(self, index: int) -> list[Any]:
        while index >= len(self._deltas) and not self.completed:
            if self._pump is None or not await self._pump():
                break
        return self._deltas[index:]

    def __iter__(self) -> Iterator[Any]:
        """Iterate the deltas (as :attr:`output_deltas`)."""
        return iter(self._output_deltas)

    def __aiter__(self) -> AsyncIterator[Any]:
        """Async-iterate the deltas (as :attr:`output_deltas`)."""
        return self._output_deltas.__aiter__()

    def __repr__(self) -> str:
        status = "completed" if self.completed and self.error is None else "failed" if self.completed else "running"
        return f"ToolCallStream(tool_call_id={self.tool_call_id!r}, tool_name={self.tool_name!r}, status={status})"
