"""The envelope of LangGraph's v3 run streams: one :class:`ProtocolEvent` per stream part.

Layer 2 (views). A protocol event wraps what a stream mode makes of a run's typed event
(:mod:`streamflow.modes`, ``version="v2"`` parts) in LangGraph 1.2's uniform envelope::

    {"type": "event", "method": <mode>, "params": {"namespace": [...], "timestamp": <ms>, "data": ...}, "seq": n}

``method`` is the stream mode (``"values"``, ``"updates"``, ``"messages"``, ``"custom"``, ``"checkpoints"``,
``"debug"``), ``"lifecycle"`` for a subgraph's lifecycle, or ``"custom:<name>"`` for an item a user
transformer pushed on a named :class:`~streamflow.stream.StreamChannel`. ``values`` envelopes also carry
``params["interrupts"]`` (a tuple, ``()`` when none).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = ["ProtocolEvent", "envelope"]


class ProtocolEventParams(TypedDict):
    """The ``params`` of a :class:`ProtocolEvent`."""

    namespace: list[str]
    """The namespace of the graph that made the part: ``[]`` for the root, ``["node:<task id>", ...]`` below."""
    timestamp: int
    """Wall-clock time of the underlying event, in milliseconds since the epoch (use ``seq`` for order)."""
    data: Any
    """The stream mode's chunk (``(message_or_protocol_dict, metadata)`` for ``messages``)."""
    interrupts: NotRequired[tuple[Any, ...]]
    """On ``values`` envelopes: the interrupts of a task that just paused, ``()`` when none."""


class ProtocolEvent(TypedDict):
    """One envelope of a v3 run stream, LangGraph 1.2's ``langgraph.stream.ProtocolEvent``."""

    type: Literal["event"]
    """Always ``"event"``."""
    seq: NotRequired[int]
    """Position in the run stream's main event log (1 for the first), gap-free for one consumer."""
    method: str
    """What the envelope holds: a stream mode, ``"lifecycle"`` or ``"custom:<name>"``."""
    params: ProtocolEventParams
    """Namespace, timestamp, data (and interrupts for ``values``)."""


def envelope(method: str, namespace: list[str], timestamp: int, data: Any) -> ProtocolEvent:
    """A :class:`ProtocolEvent` without ``seq`` (a run stream's log numbers it when it enters the log).

    :param method: the envelope's ``method``
    :param namespace: its ``params["namespace"]``
    :param timestamp: milliseconds since the epoch
    :param data: its ``params["data"]``
    """
    return {"type": "event", "method": method, "params": {"namespace": namespace, "timestamp": timestamp, "data": data}}
