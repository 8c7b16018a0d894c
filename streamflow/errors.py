"""Every exception streamflow raises, in one place.

Each class subclasses the built-in (or anyio) exception it imitates, so code that already catches
``ValueError`` or ``anyio.ClosedResourceError`` keeps working::

    StreamflowError(Exception)
    ├── InvalidArgumentError(ValueError)          bad input at an API boundary
    │   ├── UnknownEventKindError                 an event kind name that does not exist
    │   ├── UnknownStreamModeError                a stream mode or version that does not exist
    │   ├── InvalidGraphError                     a graph that cannot compile (names the culprit)
    │   ├── InvalidUpdateError                    a node update with a key outside the state schema
    │   ├── ToolArgumentsError                    tool call arguments that do not fit the tool's schema
    │   │   └── ToolInvocationError               ... of a model's tool call run by ``ToolNode``
    │   ├── NotSerializableError(TypeError)       a payload a wire transport cannot carry
    │   │   └── CheckpointSerializationError      a state value the checkpoint serializer cannot store
    │   ├── UnknownRunError(LookupError)          a run id a run registry or a Redis store has no trace of
    │   ├── UnknownGraphError(LookupError)        a graph name a run registry does not have
    │   ├── UnknownThreadError(LookupError)       a thread id neither the app nor its checkpointer knows
    │   ├── UnknownCheckpointError(LookupError)   a checkpoint id a thread does not have
    │   ├── UnknownInterruptError                 a resume naming an interrupt the thread does not wait on
    │   └── OutputParserException                 an output parser given what it cannot parse (LangChain's name)
    │   └── RequestRejectedError                  a request the HTTP app refuses at its boundary (a 4xx answer)
    ├── ChannelClosedError(anyio.ClosedResourceError)
    │                                             publish or subscribe on a closed channel
    ├── ReplayUnavailableError(LookupError)       replay asked for events already evicted
    │   └── StreamTrimmedError                    ... or already trimmed from a Redis stream
    ├── SubscriberDisconnectedError(ConnectionError)
    │   ├── SubscriberTimeoutError(TimeoutError)  ``block`` policy timed out on a slow subscriber
    │   └── SubscriberOverflowError(OverflowError)
    │                                             ``error`` policy: the subscriber's buffer overflowed
    ├── SyncInAsyncContextError(RuntimeError)     a sync API called from a thread running an event loop
    ├── NotInRunError(RuntimeError)               ``get_stream_writer()`` called outside a run
    ├── RunCancelledError(concurrent.futures.CancelledError)
    │                                             the result of a run that was cancelled
    ├── TaskCancelledError(concurrent.futures.CancelledError)
    │                                             sync code told that its task or run was cancelled
    ├── GraphRecursionError(RecursionError)       a run exceeded its ``recursion_limit`` supersteps
    ├── EmptyInputError                           a graph run given None as its input, with nothing to resume
    ├── ChatModelError(RuntimeError)              a chat model call failed (provider or engine side)
    │   ├── ChatModelStatusError                  the server answered with an HTTP error status (4xx/5xx)
    │   ├── ChatModelConnectionError(ConnectionError)
    │   │                                         unreachable server, or none sent within the timeout
    │   └── ChatModelStreamError                  the answer stream broke off or was malformed mid-way
    ├── MissingExtraError(ImportError)            an optional extra needed by a feature is not installed
    ├── CheckpointReadError(ValueError)           a stored checkpoint that cannot be read back
    ├── TransportUnavailableError(ConnectionError)
    │                                             a wire transport (Redis) unreachable past its retry time
    ├── LeaseLostError(RuntimeError)              a worker wrote to a run whose lease it no longer holds
    ├── NoTerminalEventError(TimeoutError)        a remote run went silent without ending
    ├── RunFailedError                            the result of a remote run that failed
    ├── RegistryFullError(RuntimeError)           a run registry holds its maximum of live runs
    ├── TooManyRunsError(RuntimeError)            a principal already has its maximum of live runs (HTTP 429)
    ├── RequestTooLargeError                      a request body over the HTTP app's maximum (HTTP 413)
    ├── NotAuthenticatedError(PermissionError)    a request the app's authenticate hook did not accept (401)
    ├── NotAuthorizedError(PermissionError)       an action the app's authorize hook refused (403)
    ├── ThreadConflictError(RuntimeError)         a thread already running a run, or created twice
    ├── ProtocolCommandError                      an agent-protocol command the app refuses (its code, status)
    ├── FakeListLLMError                          a scripted string LLM's planned failure (LangChain's name)
    └── GraphBubbleUp                             what a node raises to reach its graph, not a failure
        ├── GraphInterrupt                        ``interrupt()`` asking for an answer: the run pauses
        └── ParentCommand                         a node's ``Command(graph=Command.PARENT)`` on its way up

Errors raised by user code (a node, a tool) are never wrapped: they reach the caller with their original
type. So does the ``pydantic.ValidationError`` of a resume value that does not fit an ``interrupt()``'s
``response_schema``; :func:`is_invalid_resume` tells it apart (LangGraph's). The chat models that ship with
streamflow turn their provider's failures into ``ChatModelError`` subclasses (the original exception is the
``__cause__``).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

__all__ = [
    "LeaseLostError",
    "CheckpointReadError",
    "CheckpointSerializationError",
    "ChannelClosedError",
    "ChatModelConnectionError",
    "ChatModelError",
    "ChatModelStatusError",
    "ChatModelStreamError",
    "FakeListLLMError",
    "EmptyInputError",
    "GraphRecursionError",
    "InvalidArgumentError",
    "InvalidGraphError",
    "InvalidUpdateError",
    "MissingExtraError",
    "NotInRunError",
    "NotSerializableError",
    "ReplayUnavailableError",
    "RunCancelledError",
    "StreamflowError",
    "SubscriberDisconnectedError",
    "SubscriberOverflowError",
    "SubscriberTimeoutError",
    "SyncInAsyncContextError",
    "TaskCancelledError",
    "UnknownEventKindError",
    "UnknownStreamModeError",
    "StreamTrimmedError",
    "TransportUnavailableError",
    "NoTerminalEventError",
    "RunFailedError",
    "UnknownGraphError",
    "UnknownRunError",
    "UnknownThreadError",
    "UnknownCheckpointError",
    "ProtocolCommandError",
    "RegistryFullError",
    "TooManyRunsError",
    "RequestTooLargeError",
    "NotAuthenticatedError",
    "NotAuthorizedError",
    "ThreadConflictError",
    "ToolArgumentsError",
    "ParentCommand",
    "ToolInvocationError",
    "GraphBubbleUp",
    "GraphInterrupt",
    "OutputParserException",
    "UnknownInterruptError",
    "RequestRejectedError",
    "is_invalid_resume",
    "mark_invalid_resume",
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


class ToolArgumentsError(InvalidArgumentError):
    """A tool was called with arguments that do not fit its schema (not a mapping, a missing required
    argument, a value that cannot be read as its type); the message names the tool and what is wrong.

    :ivar errors: ``(argument, problem)`` pairs, in the schema's order, worded as pydantic words them
        (``("b", "Field required")``); empty when the arguments were not a mapping
    """

    def __init__(self, message: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class ToolInvocationError(ToolArgumentsError):
    """A model's tool call, run by ``ToolNode``, had arguments that do not fit the tool's schema (LangGraph's
    ``ToolInvocationError``). Its message is what ``ToolNode`` puts in the error ``ToolMessage``: ``Error
    invoking tool '<name>' with kwargs <args> with error:`` then one ``<argument>: <problem>`` line per
    problem and ``Please fix the error and try again.``

    :ivar tool_name: the tool's name
    :ivar tool_kwargs: the arguments the model gave
    :ivar source: the :class:`ToolArgumentsError` of the tool
    """

    def __init__(self, tool_name: str, source: ToolArgumentsError, tool_kwargs: Mapping[str, Any]) -> None:
        detail = "\n".join(f"{arg}: {problem}" for arg, problem in source.errors) or str(source)
        self.message = (
            f"Error invoking tool '{tool_name}' with kwargs {dict(tool_kwargs)} with error:\n"
            f" {detail}\n Please fix the error and try again."
        )
        super().__init__(self.message, source.errors)
        self.tool_name = tool_name
        self.tool_kwargs = dict(tool_kwargs)
        self.source = source


class NotSerializableError(InvalidArgumentError, TypeError):
    """A payload cannot be carried by a wire transport (JSON); the message names the offending type."""


class CheckpointSerializationError(NotSerializableError):
    """A checkpoint serializer was given a value it cannot store; the message names the value's type and
    the types it can store.

    :ivar type_name: the qualified name of the offending type
    """

    def __init__(self, message: str, *, type_name: str) -> None:
        super().__init__(message)
        self.type_name = type_name


class CheckpointReadError(StreamflowError, ValueError):
    """A stored checkpoint (or one of its pending writes) cannot be read back: its bytes are damaged, or
    name a type that no longer exists. Raised instead of treating the thread as empty.

    :ivar thread_id: the thread of the checkpoint
    :ivar checkpoint_ns: its namespace (``""`` for the root graph)
    :ivar checkpoint_id: its id
    """

    def __init__(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, reason: str) -> None:
        where = f"thread {thread_id!r}" + (f", namespace {checkpoint_ns!r}" if checkpoint_ns else "")
        super().__init__(f"cannot read checkpoint {checkpoint_id!r} of {where}: {reason}")
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        self.checkpoint_id = checkpoint_id


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


class TaskCancelledError(StreamflowError, concurrent.futures.CancelledError):
    """Raised in sync code (a sync node, a sync tool, a sync model call) whose task or run was cancelled, at
    its next stream-writer call, model call, ``dispatch_custom_event()`` or ``check_cancelled()``: Python
    cannot stop a thread, so this is how such code learns that nobody waits for it any more. The message
    names the node (or tool) and why. Raising it (or returning) is the code's way out; its outcome is
    dropped either way. Async code is cancelled with ``asyncio.CancelledError`` at its next ``await``.
    """


class GraphRecursionError(StreamflowError, RecursionError):
    """A run took more supersteps than its ``recursion_limit`` allows (LangGraph's error of the same name)."""


class EmptyInputError(StreamflowError):
    """A graph was run with None as its input and has nothing to resume from (LangGraph's error of the same
    name, raised likewise, with its message ``"Received no input for __start__"``). Like LangGraph's, it is no
    ``ValueError``."""


class FakeListLLMError(StreamflowError):
    """Raised by ``FakeStreamingListLLM`` at its ``error_on_chunk_number`` (LangChain's name, for tests)."""


class ChatModelError(StreamflowError, RuntimeError):
    """A chat model call failed; the run's ``ChatModelFinished`` event carries its type and message.

    :ivar model_name: the provider's model name of the failed call
    """

    def __init__(self, message: str, *, model_name: str = "") -> None:
        super().__init__(message)
        self.model_name = model_name


class ChatModelStatusError(ChatModelError):
    """The model server answered with an HTTP error status.

    :ivar status_code: the HTTP status (400-599)
    """

    def __init__(self, message: str, *, status_code: int, model_name: str = "") -> None:
        super().__init__(message, model_name=model_name)
        self.status_code = status_code


class ChatModelConnectionError(ChatModelError, ConnectionError):
    """The model server could not be reached, or stopped answering before the time limit."""


class ChatModelStreamError(ChatModelError):
    """The answer stream broke off before the model finished, or carried data that could not be read."""


class MissingExtraError(StreamflowError, ImportError):
    """A feature needs an optional extra that is not installed; the message names the extra to install.

    :ivar extra: the name of the extra (``pip install 'streamflow[<extra>]'``)
    """

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{feature} needs the {missing!r} package, which is not installed; "
            f"install it with: pip install 'streamflow[{extra}]'",
            name=missing,
        )
        self.extra = extra


class StreamTrimmedError(ReplayUnavailableError):
    """A remote reader asked for events that retention (``MAXLEN``) already trimmed from the Redis stream.

    :ivar requested: the ``seq`` asked for
    :ivar first_available: the oldest ``seq`` the stream still holds
    :ivar stream: the Redis key of the stream
    """

    def __init__(self, requested: int, first_available: int, stream: str) -> None:
        LookupError.__init__(
            self,
            f"cannot read from seq {requested}: the Redis stream {stream!r} has trimmed the events before seq "
            f"{first_available} (retention); the first available seq is {first_available}",
        )
        self.requested = requested
        self.first_available = first_available
        self.stream = stream


class TransportUnavailableError(StreamflowError, ConnectionError):
    """A wire transport (Redis) stayed unreachable for longer than the configured retry time."""


class LeaseLostError(StreamflowError, RuntimeError):
    """A worker wrote to a run whose lease it no longer holds (the lease expired, or another worker took the
    run over): Redis refused the write (:mod:`streamflow.redis.lease`)."""


class NoTerminalEventError(StreamflowError, TimeoutError):
    """A remote run's stream brought neither a new event nor a sign of life from its worker for longer than
    the reader allows, and no terminal event (finished, failed or cancelled): its worker has most likely died.

    :ivar last_seq: the ``seq`` of the last event read (0 when none was)
    """

    def __init__(self, message: str, last_seq: int) -> None:
        super().__init__(message)
        self.last_seq = last_seq


class RunFailedError(StreamflowError):
    """Asked for the result of a remote run that failed. The original exception lives in another process;
    its class name and message are carried here.

    :ivar error_type: qualified name of the exception's class, e.g. ``"builtins.ValueError"``
    :ivar error_message: ``str()`` of the exception
    """

    def __init__(self, run_id: str, error_type: str, error_message: str) -> None:
        super().__init__(f"run {run_id!r} failed with {error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message


class UnknownGraphError(InvalidArgumentError, LookupError):
    """A run was asked of a graph name that the run registry does not have; the message lists the names."""


class UnknownRunError(InvalidArgumentError, LookupError):
    """A run id with no trace where it was looked up: a run registry that never started it (or dropped it after
    its retention), or a Redis store with no stream and no directory entry for it."""


class RegistryFullError(StreamflowError, RuntimeError):
    """A run registry already holds its maximum number of runs and none of them has finished."""


class TooManyRunsError(StreamflowError, RuntimeError):
    """A principal asked the HTTP app for a run while it already has its maximum of live runs (queued or
    running); ``retry_after`` is the number of seconds the app tells the client to wait (``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestTooLargeError(StreamflowError):
    """A request body longer than the HTTP app's maximum; ``limit`` is that maximum, in bytes."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class NotAuthenticatedError(StreamflowError, PermissionError):
    """A request the HTTP app's authenticate hook did not accept (it returned None, or raised this with its
    own message): the app answers 401."""


class NotAuthorizedError(StreamflowError, PermissionError):
    """An action the HTTP app's authorize hook refused the principal (it returned False, or raised this with
    its own message): the app answers 403. Runs and threads of another principal are not refused with it but
    answered as unknown (404), so their ids do not leak."""


class GraphBubbleUp(StreamflowError):
    """Raised inside a run to reach the graph that runs the raising task, not a failure of that task
    (LangGraph's ``langgraph.errors.GraphBubbleUp``): :class:`GraphInterrupt` and :class:`ParentCommand`."""


class GraphInterrupt(GraphBubbleUp):
    """Raised by :func:`~streamflow.types.interrupt` in a task that has no answer yet (LangGraph's
    ``langgraph.errors.GraphInterrupt``); ``args[0]`` is the tuple of
    :class:`~streamflow.types.Interrupt` objects.

    The graph running the task takes it: the root graph ends its run after the step, with the interrupts in
    its output, so user code calling ``invoke()`` or ``stream()`` never sees it. Code inside a node that
    catches every exception must let it through (re-raise it), as in LangGraph.
    """

    def __init__(self, interrupts: Sequence[Any] = ()) -> None:
        super().__init__(tuple(interrupts))


class UnknownInterruptError(InvalidArgumentError):
    """A ``Command(resume={interrupt_id: value})`` naming an interrupt id the thread is not waiting on
    (LangGraph raises its error of this name only in strict resume mode, and otherwise ignores the id).
    ``interrupt_ids`` are the unknown ids, ``pending_ids`` those the thread waits on."""

    def __init__(self, message: str, *, interrupt_ids: Sequence[str] = (), pending_ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.interrupt_ids = tuple(interrupt_ids)
        self.pending_ids = tuple(pending_ids)


class RequestRejectedError(InvalidArgumentError):
    """A request the HTTP app refuses at its boundary (a body that is not valid JSON, an id outside the id
    rule ...), answered with ``status`` and the app's JSON error shape.

    :ivar status: the HTTP status code of the answer (4xx)
    :ivar error: the ``error`` field of the answer (``"InvalidJSON"``, ``"InvalidBody"`` ...)
    """

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class ProtocolCommandError(StreamflowError):
    """An agent-protocol command (or stream request) the HTTP app refuses for a reason of the protocol's own
    (an unknown command, a command it does not support, a subscription a connection does not have ...),
    answered with the protocol's error envelope.

    :ivar status: the HTTP status code of the answer
    :ivar code: the protocol's error code (``"unknown_command"``, ``"not_supported"``, ``"invalid_argument"`` ...)
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ParentCommand(GraphBubbleUp):
    """Carries a ``Command(graph=Command.PARENT)`` a node returned to the parent graph (LangGraph's
    ``langgraph.errors.ParentCommand``; ``args[0]`` is the command, its ``graph`` naming the parent).

    The node that runs the subgraph in the parent graph (a subgraph node, or a node calling a compiled
    graph) takes the command as its own result, so user code never sees it, unless the node is in the root
    graph: then there is no parent and the run fails with it, as in LangGraph.
    """

    args: tuple[Any]

    def __init__(self, command: Any) -> None:
        super().__init__(command)


class UnknownThreadError(InvalidArgumentError, LookupError):
    """A thread id that the HTTP app has not created and its checkpointer holds no checkpoint of."""


class UnknownCheckpointError(InvalidArgumentError, LookupError):
    """A ``checkpoint_id`` that the thread it was asked of has no checkpoint under."""


class ThreadConflictError(StreamflowError, RuntimeError):
    """A run started on a thread that has a run still going (two runs on one thread at once are refused, not
    queued), or a thread created under an id that is already taken."""


class OutputParserException(InvalidArgumentError):
    """An output parser was given what it cannot parse: text that is not what it expects (invalid JSON for
    ``JsonOutputParser``), or an input that is neither a string nor a message. LangChain's name; a
    ``ValueError`` as LangChain's is."""


_INVALID_RESUME = "_langgraph_invalid_resume"
"""The attribute an error raised by a resume value that does not fit its interrupt's ``response_schema`` is
marked with (LangGraph's name, so either library's mark reads the same)."""


def mark_invalid_resume(error: BaseException) -> None:
    """Mark ``error`` as raised by a resume value that does not fit an ``interrupt()``'s ``response_schema``."""
    setattr(error, _INVALID_RESUME, True)


def is_invalid_resume(error: BaseException) -> bool:
    """Whether ``error`` was raised because a resume value did not fit an ``interrupt()``'s ``response_schema``
    (LangGraph's ``langgraph.errors.is_invalid_resume``): ``interrupt()`` raises the schema's
    ``pydantic.ValidationError`` then, and the interrupt can be answered again."""
    return getattr(error, _INVALID_RESUME, False) is True
