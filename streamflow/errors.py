"""Every exception streamflow raises, in one place.

Each class subclasses the built-in (or anyio) exception it imitates, so code that already catches
``ValueError`` or ``anyio.ClosedResourceError`` keeps working::

    StreamflowError(Exception)
    ├── InvalidArgumentError(ValueError)          bad input at an API boundary
    │   ├── UnknownEventKindError                 an event kind name that does not exist
    │   ├── UnknownStreamModeError                a stream mode or version that does not exist
    │   ├── InvalidGraphError                     a graph that cannot compile (names the culprit)
    │   ├── InvalidUpdateError                    a node update with a key outside the state schema
    │   ├── NotSerializableError(TypeError)       a payload a wire transport cannot carry
    │   └── UnknownGraphError(LookupError)        a graph name a run registry does not have
    ├── ChannelClosedError(anyio.ClosedResourceError)
    │                                             publish or subscribe on a closed channel
    ├── ReplayUnavailableError(LookupError)       replay asked for events already evicted
    ├── SubscriberDisconnectedError(ConnectionError)
    │   ├── SubscriberTimeoutError(TimeoutError)  ``block`` policy timed out on a slow subscriber
    │   └── SubscriberOverflowError(OverflowError)
    │                                             ``error`` policy: the subscriber's buffer overflowed
    ├── SyncInAsyncContextError(RuntimeError)     a sync API called from a thread running an event loop
    ├── NotInRunError(RuntimeError)               ``get_stream_writer()`` called outside a run
    ├── RunCancelledError(concurrent.futures.CancelledError)
    │                                             the result of a run that was cancelled
    ├── GraphRecursionError(RecursionError)       a run exceeded its ``recursion_limit`` supersteps
    ├── UnknownRunError(LookupError)              a run id a run registry does not hold (or no longer)
    └── RegistryFullError(RuntimeError)           a run registry holds its maximum of live runs

Errors raised by user code (a node, a tool, a model) are never wrapped: they reach the caller with their
original type.
"""

from __future__ import annotations

import concurrent.futures

import anyio

__all__ = [
    "ChannelClosedError",
    "GraphRecursionError",
    "InvalidArgumentError",
    "InvalidGraphError",
    "InvalidUpdateError",
    "NotInRunError",
    "NotSerializableError",
    "ReplayUnavailableError",
    "RunCancelledError",
    "StreamflowError",
    "SubscriberDisconnectedError",
    "SubscriberOverflowError",
    "SubscriberTimeoutError",
    "SyncInAsyncContextError",
    "UnknownEventKindError",
    "UnknownStreamModeError",
    "UnknownGraphError",
    "UnknownRunError",
    "RegistryFullError",
]


class StreamflowError(Exception):
    """Base class of every exception streamflow raises itself."""


class InvalidArgumentError(StreamflowError, ValueError):
    """A value given to a streamflow API is not one it accepts; the message names what is allowed."""


class UnknownEventKindError(InvalidArgumentError):
    """An event kind (a ``type`` tag or class) that is not part of the vocabulary."""


class UnknownStreamModeError(InvalidArgumentError):
    """A stream mode or stream version that does not exist; the message lists the valid ones."""


class InvalidGraphError(InvalidArgumentError):
    """A graph that cannot be compiled or run as built; the message names the node or edge at fault."""


class InvalidUpdateError(InvalidArgumentError):
    """A node returned an update that the state schema does not allow (an unknown key, a non-mapping)."""


class NotSerializableError(InvalidArgumentError, TypeError):
    """A payload cannot be carried by a wire transport (JSON); the message names the offending type."""


class ChannelClosedError(StreamflowError, anyio.ClosedResourceError):
    """Publish or subscribe on a channel that is already closed."""


class ReplayUnavailableError(StreamflowError, LookupError):
    """Replay was asked from a ``seq`` that the replay buffer has already evicted.

    :ivar requested: the ``seq`` asked for
    :ivar first_available: the oldest ``seq`` still retained
    """

    def __init__(self, requested: int, first_available: int) -> None:
        super().__init__(
            f"cannot replay from seq {requested}: events before seq {first_available} were evicted "
            f"from the replay buffer; the first available seq is {first_available}"
        )
        self.requested = requested
        self.first_available = first_available


class SubscriberDisconnectedError(StreamflowError, ConnectionError):
    """The channel disconnected this subscriber; events published afterwards never reached it.

    :ivar dropped: events this subscriber lost at the moment of disconnection (0 when it was only cut off
        from the future)
    """

    def __init__(self, message: str, dropped: int = 0) -> None:
        super().__init__(message)
        self.dropped = dropped


class SubscriberTimeoutError(SubscriberDisconnectedError, TimeoutError):
    """Under the ``block`` policy, this subscriber kept the publisher waiting longer than its timeout."""


class SubscriberOverflowError(SubscriberDisconnectedError, OverflowError):
    """Under the ``error`` policy, an event arrived while this subscriber's buffer was full."""


class SyncInAsyncContextError(StreamflowError, RuntimeError):
    """A blocking (sync) API was called from a thread that is running an event loop."""


class NotInRunError(StreamflowError, RuntimeError):
    """An API that needs a running graph (``get_stream_writer()``) was called outside one."""


class RunCancelledError(StreamflowError, concurrent.futures.CancelledError):
    """Asked for the result of a run that was cancelled."""


class GraphRecursionError(StreamflowError, RecursionError):
    """A run took more supersteps than its ``recursion_limit`` allows (LangGraph's error of the same name)."""


class UnknownGraphError(InvalidArgumentError, LookupError):
    """A run was asked of a graph name that the run registry does not have; the message lists the names."""


class UnknownRunError(StreamflowError, LookupError):
    """A run id that the run registry does not hold: never started there, or dropped after its retention."""


class RegistryFullError(StreamflowError, RuntimeError):
    """A run registry already holds its maximum number of runs and none of them has finished."""
