"""What the HTTP app tells clients about errors, and what it keeps for its log.

An exception raised in a run (by a node, a tool, a model) reaches every viewer of that run: its SSE stream
(the ``error`` message that ends it, the ``tasks``/``debug`` chunks of a failed task), the
run's info (``GET /runs/{run_id}``) and a thread's state (``GET /threads/{id}/state``). Its message is written
by whatever raised it and may hold anything that code had at hand: a database address with its password, a
file path, a user's data. An :class:`ErrorPolicy` decides which messages cross the wire:

* the error's type always does (``error_type``, ``"builtins.ValueError"``; ``type``, ``"ValueError"``);
* its message does when the type is one the policy exposes; otherwise the client reads :data:`HIDDEN`.

The default exposes streamflow's own errors (``streamflow.errors.*``: their messages say what was wrong with
a graph, an input or a run, such as a recursion limit reached or an update outside the state schema) and
nothing else. ``ErrorPolicy(expose=("*",))`` exposes every message (for development), and
``ErrorPolicy(expose=(*DEFAULT_EXPOSED, MyPublicError, "myapp.errors.*"))`` adds an app's own.

The full detail stays on the server: a run that fails is logged by its registry with its traceback
(``run_failed``, for runs in this process) or by its worker (``worker_run_failed``), and a request the app
could not answer is logged with its traceback (``request_failed``) while the client gets a JSON 500 holding
the error's type and a message the policy allows.

The app's exception handlers live here too (:func:`exception_handlers`): :class:`RequestRejectedError` (a request
refused at the boundary, with its status), an unreachable Redis or other transport (503) and anything else (500),
each answered as the app's JSON error ``{"status", "error", "message"}`` with no traceback.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs
import structlog
from starlette.requests import Request
from starlette.responses import Response

from .. import errors as streamflow_errors
from ..errors import InvalidArgumentError, RequestRejectedError, TransportUnavailableError
from ..events import ChatModelFinished, Event, RunFailed, TaskFailed, ToolFailed, error_type_name
from ..run_info import RunError, RunInfo
from .encoding import to_json_bytes

__all__ = [
    "DEFAULT_EXPOSED",
    "FAILURE_EVENTS",
    "HIDDEN",
    "ErrorPolicy",
    "error_response",
    "exception_handlers",
]

DEFAULT_EXPOSED: tuple[str, ...] = ("streamflow.errors.*",)
"""The error types whose messages the default policy sends to clients: streamflow's own errors."""
HIDDEN = "this error's message is not exposed to clients; the server's log has it"
"""The message a client reads in place of one the policy does not expose."""
FAILURE_EVENTS: tuple[type[Event], ...] = (RunFailed, TaskFailed, ToolFailed, ChatModelFinished)
"""The event kinds that carry an error message (``error_type`` and ``error_message``)."""

_log = structlog.get_logger("streamflow")


def _pattern(entry: str | type[BaseException]) -> str:
    if isinstance(entry, type) and issubclass(entry, BaseException):
        return f"{entry.__module__}.{entry.__qualname__}"
    if isinstance(entry, str) and entry.strip():
        return entry.strip()
    raise InvalidArgumentError(
        f"ErrorPolicy(expose=...) takes exception classes or qualified names such as 'builtins.ValueError', "
        f"'myapp.errors.*' or '*'; got {entry!r}"
    )


@attrs.frozen(init=False)
class ErrorPolicy:
    """Which error messages the app sends to clients (see the module docstring).

    :param expose: the error types whose messages are sent: exception classes, qualified names
        (``"builtins.ValueError"``, as events name them), a module's types (``"myapp.errors.*"``, its
        submodules included) or ``"*"`` for every type. A type matches by its exact name, not its base
        classes: events carry names only, so a run in a worker process is judged the same way.
    :raises InvalidArgumentError: for an entry that is neither an exception class nor a non-empty string
    """

    patterns: frozenset[str]
    """The qualified names and module patterns (``"pkg.mod.*"``, ``"*"``) whose messages are exposed."""

    def __init__(self, expose: Iterable[str | type[BaseException]] = DEFAULT_EXPOSED) -> None:
        if isinstance(expose, (str, type)):
            expose = (expose,)
        self.__attrs_init__(frozenset(_pattern(entry) for entry in expose))

    def exposes(self, error_type: str) -> bool:
        """Whether the message of an error of type ``error_type`` (a qualified name such as
        ``"builtins.ValueError"``) may be sent to clients."""
        patterns = self.patterns
        if "*" in patterns or error_type in patterns:
            return True
        module = error_type
        while "." in module:
            module = module.rpartition(".")[0]
            if f"{module}.*" in patterns:
                return True
        return False

    def message(self, error_type: str, message: str) -> str:
        """``message`` when the policy exposes ``error_type`` (a qualified name), else :data:`HIDDEN`."""
        return message if self.exposes(error_type) else HIDDEN

    def exception_message(self, exc: BaseException) -> str:
        """What a client may read of ``exc``'s message (``str(exc)`` or :data:`HIDDEN`)."""
        return self.message(error_type_name(exc), str(exc))

    def event(self, event: Event) -> Event:
        """``event`` as a client may see it: a copy with its ``error_message`` replaced by :data:`HIDDEN`
        when it is one of :data:`FAILURE_EVENTS` whose error type the policy does not expose; otherwise
        ``event`` itself (events are never changed in place)."""
        error_type = getattr(event, "error_type", None)
        if error_type is None or getattr(event, "error_message", None) is None or self.exposes(error_type):
            return event
        return attrs.evolve(event, error_message=HIDDEN)  # type: ignore[call-arg]

    def run_info(self, info: RunInfo) -> RunInfo:
        """``info`` with its ``error.message`` replaced by :data:`HIDDEN` when the policy does not expose the
        error's type (read from ``error.error_type``; an error whose qualified type is unknown is hidden)."""
        error = info.error
        if error is None or self.exposes(error.error_type):
            return info
        return attrs.evolve(info, error=RunError(type=error.type, message=HIDDEN, error_type=error.error_type))

    def task_error(self, error: Any) -> Any:
        """A state snapshot task's ``error`` as a client may see it, ``"Type('message')"`` as checkpoints keep
        it (the ``repr()`` of the exception): with :data:`HIDDEN` for its message unless the policy exposes the
        type. A checkpoint keeps only the class name, so the type is qualified as a built-in exception, one of
        ``streamflow.errors``, or one of the policy's exact names ending in that class name; any other is hidden.
        None is returned as is."""
        if error is None:
            return None
        if isinstance(error, BaseException):
            return f"{type(error).__name__}({self.exception_message(error)!r})"
        text = str(error)
        name = text.partition("(")[0]
        if name.isidentifier() and any(self.exposes(q) for q in self._qualified(name)):
            return text
        return f"{name}({HIDDEN!r})" if name.isidentifier() else HIDDEN

    def _qualified(self, name: str) -> list[str]:
        """The qualified names an exception class called ``name`` may have, as far as this process can tell."""
        modules = (builtins, streamflow_errors)
        found = [f"{m.__name__}.{name}" for m in modules if isinstance(getattr(m, name, None), type)]
        found.extend(p for p in self.patterns if p.rpartition(".")[2] == name)
        return found


def error_response(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The app's JSON error answer ``{"status", "error", "message"}``."""
    body = to_json_bytes({"status": status, "error": error, "message": message})
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _redis_unreachable() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ModuleNotFoundError:  # the redis extra is not installed: no Redis to be unreachable
        return ()
    return (RedisConnectionError, RedisTimeoutError)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def exception_handlers(policy: ErrorPolicy) -> dict[Any, Handler]:
    """The app's handlers for :class:`RequestRejectedError`, an unreachable transport (503) and any other
    exception (500), keyed as Starlette's ``exception_handlers`` takes them.

    The 500 handler is Starlette's server error handler: it answers, then Starlette raises the exception on
    to the server (uvicorn logs it too).
    """

    async def rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestRejectedError)
        return error_response(exc.status, exc.error, str(exc))

    async def unavailable(request: Request, exc: Exception) -> Response:
        _log.warning(
            "request_failed_transport_unavailable",
            method=request.method,
            path=request.url.path,
            error_type=error_type_name(exc),
            error=str(exc),
        )
        message = "the run store is unreachable now; try again later (the server's log says why)"
        return error_response(503, "ServiceUnavailable", message, headers={"Retry-After": "1"})

    async def internal(request: Request, exc: Exception) -> Response:
        _log.error("request_failed", method=request.method, path=request.url.path, exc_info=exc)
        name = type(exc).__name__
        return error_response(500, name, policy.exception_message(exc))

    handlers: dict[Any, Handler] = {RequestRejectedError: rejected, TransportUnavailableError: unavailable}
    for cls in _redis_unreachable():
        handlers[cls] = unavailable
    handlers[Exception] = internal
    return handlers
