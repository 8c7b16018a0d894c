"""``POST /threads/{thread_id}/stream/events``: a thread's agent-protocol events over Server-Sent Events.

Bridges layer. The body is the protocol's ``EventStreamRequest``: ``{"channels": [...], "namespaces"?:
[[...], ...], "depth"?: int, "since"?: int}`` (:class:`~streamflow.server.protocol_log.ProtocolFilter`).
Each event that passes is one SSE message ``id: <seq>``, ``event: message``, ``data: <the event as JSON>``
(``{"type": "event", "method", "params": {"namespace", "timestamp", "data"}, "seq", "event_id"}``).

The stream starts after ``since`` (the ``seq`` of the last event the client has: a reconnect gets every
later event once, no gap and no duplicate) or, without ``since``, at the first event of the thread's latest
run; then it follows the thread live, across its runs, until the client leaves (keep-alive comments while
idle). Events ready at once are written together, at most
:data:`~streamflow.server.stream.WRITE_BATCH` a write, letting the server's other requests in between two
full writes, as the run streams do. A ``since`` older than the thread's log retains ends the stream at once
with the protocol's error frame ``{"type": "error", "id": null, "error": "invalid_argument", "message"}``,
never a silent gap.

Errors before the stream starts are the protocol's error envelope (see
:mod:`streamflow.server.protocol_commands`): 422 for a bad body, 400 for a ``since`` beyond the thread's
newest event, 404 for a thread the app does not know (or another principal's), 401/403 with auth, 501 when
the app's runs execute elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anyio.lowlevel
from langchain_protocol import ErrorResponse
from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidArgumentError, ProtocolCommandError, ReplayUnavailableError, RequestRejectedError
from .auth import authorize_thread
from .boundary import read_json
from .encoding import to_json_bytes
from .protocol_commands import as_response, error_envelope
from .protocol_log import LogEntry, ProtocolFilter, ThreadLog
from .protocol_wire import ProtocolThreads
from .sse_response import SSEResponse
from .stream import WRITE_BATCH

__all__ = ["open_thread_log", "parse_stream_request", "sse_frame", "thread_event_stream"]


def parse_stream_request(body: Any) -> tuple[ProtocolFilter, int | None]:
    """The filter and ``since`` of an ``EventStreamRequest`` body.

    :raises ProtocolCommandError: (422 ``invalid_argument``) for a body that is not one (unknown keys, bad channels,
        namespaces, depth, or a ``since`` that is not an int >= 0)
    """
    if not isinstance(body, dict):
        raise ProtocolCommandError(
            422,
            "invalid_argument",
            'the body must be a JSON object {"channels": [...], "namespaces"?, "depth"?, "since"?}',
        )
    unknown = sorted(set(body) - {"channels", "namespaces", "depth", "since"})
    if unknown:
        raise ProtocolCommandError(
            422, "invalid_argument", f"unknown fields {unknown}; allowed: channels, namespaces, depth, since"
        )
    try:
        keep = ProtocolFilter.parse(body)
    except InvalidArgumentError as exc:
        raise ProtocolCommandError(422, "invalid_argument", str(exc)) from None
    since = body.get("since")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
        raise ProtocolCommandError(422, "invalid_argument", f"'since' must be a seq (an int >= 0), got {since!r}")
    return keep, since


async def open_thread_log(request: Request, thread_id: str, since: int | None) -> ThreadLog:
    """The thread's log, for a caller allowed to read the thread.

    :raises ProtocolCommandError: (501) when the app's runs execute elsewhere; (400) for a ``since`` beyond the newest
        ``seq``
    :raises UnknownThreadError: for a thread the app does not know, or another principal's
    :raises NotAuthenticatedError: / :raises NotAuthorizedError: as the auth hooks decide
    """
    protocol: ProtocolThreads | None = getattr(request.app.state, "protocol", None)
    if protocol is None:
        raise ProtocolCommandError(
            501, "not_supported", "the agent protocol needs runs executing in this process (a RunRegistry)"
        )
    await authorize_thread(request, "read", thread_id)
    await request.app.state.threads.get(thread_id)
    log = protocol.log(thread_id)
    if since is not None and since > log.last_seq:
        raise ProtocolCommandError(
            400, "invalid_argument", f"'since' is {since} but thread {thread_id!r}'s newest event is seq {log.last_seq}"
        )
    return log


def sse_frame(entry: LogEntry) -> bytes:
    """One event as an SSE message (``id`` = its ``seq``)."""
    return b"id: %d\nevent: message\ndata: %s\n\n" % (entry.seq, entry.payload)


async def _frames(log: ThreadLog, keep: ProtocolFilter, since: int | None) -> AsyncGenerator[bytes, None]:
    try:
        async for batch in log.follow(since, keep):
            for start in range(0, len(batch), WRITE_BATCH):
                yield b"".join(sse_frame(entry) for entry in batch[start : start + WRITE_BATCH])
                if start + WRITE_BATCH < len(batch):  # a long replay lets the server's other requests in
                    await anyio.lowlevel.checkpoint()
    except ReplayUnavailableError as exc:
        frame: ErrorResponse = {"type": "error", "id": None, "error": "invalid_argument", "message": str(exc)}
        yield b"event: message\ndata: %s\n\n" % to_json_bytes(frame)


async def thread_event_stream(request: Request) -> Response:
    """``POST /threads/{thread_id}/stream/events``: the thread's events over SSE (see the module docstring)."""
    thread_id = request.path_params["thread_id"]
    errors = request.app.state.errors
    try:
        body = await read_json(request, None)
        keep, since = parse_stream_request(body)
        log = await open_thread_log(request, thread_id, since)
    except (ProtocolCommandError, RequestRejectedError, InvalidArgumentError, PermissionError) as exc:
        return as_response(error_envelope(None, exc, errors))
    settings = request.app.state.streams
    return SSEResponse(_frames(log, keep, since), ping=settings.ping, headers={"Cache-Control": "no-store"})
