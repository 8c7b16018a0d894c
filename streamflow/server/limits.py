"""What one client can make the HTTP app hold: a maximum request body, and a maximum of live runs per principal.

``create_app(..., limits=Limits(...))`` sets them; the defaults apply otherwise:

* **request body**: at most :data:`DEFAULT_MAX_BODY` bytes (1 MiB, the default of nginx's
  ``client_max_body_size``). A longer body answers 413 before the route reads it: at once when its
  ``Content-Length`` says so, else as soon as the bytes read pass the maximum (a chunked body), so the app
  never holds more than the maximum of one body. A run's input is kept with the run for the registry's
  whole retention, which is why this bound matters.
* **live runs per principal** (with authentication, see :mod:`streamflow.server.auth`): a principal that
  already has :data:`DEFAULT_MAX_LIVE_RUNS` runs queued or running is answered 429 with a ``Retry-After``
  header of :data:`DEFAULT_RETRY_AFTER` seconds when it asks for another one (``POST /runs``,
  ``POST /threads/{id}/runs``), so one client cannot fill the registry and leave every other client with
  503. The count and the start happen under one lock per principal in each web process; several web
  processes serving one Redis can each admit a start the others admit at the same moment, so across
  processes the bound can be passed by at most one run per process. Without authentication there is no
  principal and only the registry's ``max_runs`` bounds the runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import InvalidArgumentError, RequestTooLargeError, TooManyRunsError
from .source import RunSource

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_LIVE_RUNS",
    "DEFAULT_RETRY_AFTER",
    "BodyLimitMiddleware",
    "Limits",
    "RunLimiter",
]

DEFAULT_MAX_BODY = 1024 * 1024
"""Bytes a request body may have by default (1 MiB)."""
DEFAULT_MAX_LIVE_RUNS = 10
"""Runs one principal may have queued or running at once, by default."""
DEFAULT_RETRY_AFTER = 5
"""Seconds a 429 answer tells the client to wait before it asks again, by default."""


def _positive_or_none(name: str, unit: str) -> Callable[[Any, Any, Any], None]:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidArgumentError(f"{name} must be a positive number of {unit} or None (no limit), got {value!r}")

    return check


def _retry_after(instance: object, attribute: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"retry_after must be a whole number of seconds >= 0, got {value!r}")


@attrs.frozen
class Limits:
    """The HTTP app's limits (see the module docstring).

    :raises InvalidArgumentError: for a limit that is neither a positive int nor None, or a negative
        ``retry_after``
    """

    max_body: int | None = attrs.field(default=DEFAULT_MAX_BODY, validator=_positive_or_none("max_body", "bytes"))
    """Bytes a request body may have (None: no limit)."""
    max_live_runs: int | None = attrs.field(
        default=DEFAULT_MAX_LIVE_RUNS, validator=_positive_or_none("max_live_runs", "runs")
    )
    """Runs one principal may have queued or running at once (None: no limit; applies with authentication)."""
    retry_after: int = attrs.field(default=DEFAULT_RETRY_AFTER, validator=_retry_after)
    """Seconds the ``Retry-After`` header of a 429 answer tells the client to wait."""


def _too_large(limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(
        f"the request body is longer than this app's maximum of {limit} bytes; send a smaller one", limit=limit
    )


class BodyLimitMiddleware:
    """ASGI middleware answering 413 for a request body over ``max_body`` bytes (see the module docstring).

    A ``Content-Length`` over the maximum is answered at once, without reading the body; a body without one
    is counted as the route reads it, and the read that passes the maximum raises
    :class:`~streamflow.errors.RequestTooLargeError`, which the app answers with 413.

    :param app: the ASGI app it wraps
    :param max_body: bytes a body may have (None: no limit)
    """

    def __init__(self, app: ASGIApp, max_body: int | None) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body
        if scope["type"] != "http" or limit is None:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # the server rejects a malformed length itself
                if declared > limit:
                    await _send_error(send, _too_large(limit))
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, counted, send)


async def _send_error(send: Send, exc: RequestTooLargeError) -> None:
    body = json.dumps({"status": 413, "error": type(exc).__name__, "message": str(exc)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RunLimiter:
    """Admits a principal's new run only while it has fewer than ``max_live_runs`` live runs.

    :param max_live_runs: runs one principal may have queued or running (None: no limit)
    :param retry_after: seconds a refusal tells the client to wait
    """

    def __init__(self, max_live_runs: int | None, retry_after: int) -> None:
        self.max_live_runs = max_live_runs
        self.retry_after = retry_after
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def admit(self, source: RunSource, owner: str | None) -> AsyncIterator[None]:
        """Hold ``owner``'s lock while the body starts a run, after checking its count of live runs in
        ``source``; nothing is checked for no owner or no limit.

        :raises TooManyRunsError: when ``owner`` already has ``max_live_runs`` runs queued or running
        """
        limit = self.max_live_runs
        if owner is None or limit is None:
            yield
            return
        lock, users = self._locks.get(owner) or (asyncio.Lock(), 0)
        self._locks[owner] = (lock, users + 1)
        try:
            async with lock:
                live = await source.live_runs(owner)
                if live >= limit:
                    raise TooManyRunsError(
                        f"{owner!r} already has {live} runs queued or running, this app's maximum per principal "
                        f"is {limit}; wait for one to end (or cancel one), then ask again",
                        retry_after=self.retry_after,
                    )
                yield
        finally:
            lock, users = self._locks[owner]
            if users == 1:
                del self._locks[owner]
            else:
                self._locks[owner] = (lock, users - 1)
