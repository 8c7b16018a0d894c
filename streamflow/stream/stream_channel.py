"""A named or local outlet of a :class:`~streamflow.stream.StreamTransformer`, LangGraph's ``StreamChannel``.

Layer 2 (views). A transformer returns its channels from ``init()`` and ``push()``-es items on them while it
processes a run's envelopes. Each consumer of a run stream runs its own transformer instances (made by their
factories), so a channel belongs to one consumer's pipeline: what it holds is what that consumer has not taken
yet, and a channel nobody consumes holds nothing. A channel with a ``name`` also puts each item into the run's
main event log, as a ``custom:<name>`` envelope (``<name>`` for a native transformer's channel).

Consumers do not iterate a channel: they iterate the run stream's projection of the same key
(``run.extensions[key]``, or ``run.<key>`` for a native transformer), which any number of them may do at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["StreamChannel"]

T = TypeVar("T")


class StreamChannel(Generic[T]):
    """An outlet a transformer pushes items on.

    :param name: when set, every pushed item is also put into the run's main event log as an envelope with
        method ``custom:<name>`` (``<name>`` when the owning transformer is native, ``_native = True``)
    :param maxlen: accepted for LangGraph's signature; a consumer's own subscription bounds what it holds
    :raises ValueError: when ``maxlen`` is not a positive int or None
    """

    def __init__(self, name: str | None = None, *, maxlen: int | None = None) -> None:
        if maxlen is not None and maxlen <= 0:
            raise ValueError("StreamChannel maxlen must be a positive int or None")
        self.name = name
        self._closed = False
        self._error: BaseException | None = None
        self._sinks: list[tuple[deque[Any], str | None]] = []
        self._wire_fn: Callable[[Any], None] | None = None

    def _attach(self, sink: deque[Any], label: str | None = None) -> None:
        """Have every later push land in ``sink`` too (as ``(label, item)`` when ``label`` is set)."""
        self._sinks.append((sink, label))

    def _detach(self, sink: deque[Any]) -> None:
        """Stop feeding ``sink``."""
        self._sinks = [pair for pair in self._sinks if pair[0] is not sink]

    def push(self, item: T) -> None:
        """Hand ``item`` to the consumer of this channel (if any) and, for a named channel, to the main log.

        :raises RuntimeError: when the channel was closed or failed
        """
        if self._closed:
            raise RuntimeError("Cannot push to a closed StreamChannel")
        for sink, label in self._sinks:
            sink.append(item if label is None else (label, item))
        if self._wire_fn is not None:
            self._wire_fn(item)

    def close(self) -> None:
        """Mark the channel complete (the run stream does this when the run ends)."""
        self._closed = True

    def fail(self, err: BaseException) -> None:
        """Mark the channel failed with ``err``: its consumer gets ``err`` after what it was given before."""
        self._error = err
        self._closed = True

    @property
    def closed(self) -> bool:
        """Whether the channel was closed or failed."""
        return self._closed

    @property
    def error(self) -> BaseException | None:
        """What the channel failed with, or None."""
        return self._error
