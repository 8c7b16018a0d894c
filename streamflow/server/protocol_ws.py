"""The WebSocket at ``/threads/{thread_id}/stream/events``: a thread's agent-protocol commands and events on
one connection.

Bridges layer. Every frame a client sends is a command (``{"id", "method", "params"}``, text or binary JSON);
every frame the server sends is a command's answer (success or error envelope, as
:mod:`streamflow.server.protocol_commands`) or an event (as :mod:`streamflow.server.protocol_stream` writes
in ``data``). Connection-bound commands:

``subscription.subscribe`` ``{"channels", "namespaces"?, "depth"?, "since"?}``
    result ``{"subscription_id", "replayed_events"}``. The connection's first subscription sets where its
    events start (after ``since``, or at the first event of the thread's latest run); each event after that
    is sent once when any of the connection's subscriptions takes it, in ``seq`` order. A later subscription
    takes events from where the connection is.
``subscription.unsubscribe`` ``{"subscription_id"}``
    result ``{}`` (``no_such_subscription``, 404, for an id this connection does not have).
``subscription.reconnect`` ``{"run_id", "last_event_id"?, "subscriptions"?}``
    continues the connection's events after ``last_event_id`` (a ``seq``; by default the last one sent);
    result ``{"restored", "missed_events"}`` (``restored`` false when the connection has no subscription).

Any other command is run as ``POST /threads/{thread_id}/commands`` runs it, for the same caller.

Refusals: the connection is accepted, sent the protocol's error frame (``"id": null``) and closed with code
``4000 + <the HTTP status the app would answer>`` (4404 for an unknown thread or another principal's, 4401,
4403, 4501), which LangGraph's client reads as a refusal it must not retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any, cast

import anyio.lowlevel
import orjson
import structlog
from langchain_protocol import CommandResponse
from starlette.requests import Request
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import InvalidArgumentError, ProtocolCommandError, ReplayUnavailableError
from .encoding import to_json_bytes
from .protocol_commands import error_envelope, execute, parse_command
from .protocol_log import LogEntry, ProtocolFilter, ThreadLog
from .protocol_stream import open_thread_log, parse_stream_request
from .stream import WRITE_BATCH

__all__ = ["thread_event_socket"]

_log = structlog.get_logger("streamflow")


def _as_request(websocket: WebSocket) -> Request:
    """The connection's handshake as a Starlette request, for the auth hooks (headers, cookies, query)."""
    return Request({**websocket.scope, "type": "http", "method": "GET"})


class _Connection:
    """One client's WebSocket: its subscriptions and the task sending their events."""

    def __init__(self, websocket: WebSocket, request: Request, thread_id: str, log: ThreadLog) -> None:
        self.websocket = websocket
        self.request = request
        self.thread_id = thread_id
        self.log = log
        self.subscriptions: dict[str, ProtocolFilter] = {}
        self.cursor: int | None = None
        self._ids = itertools.count(1)
        self._send_lock = asyncio.Lock()
        self._sender: asyncio.Task[None] | None = None

    def wanted(self, entry: LogEntry) -> bool:
        return any(keep(entry) for keep in self.subscriptions.values())

    async def send(self, payload: bytes) -> None:
        async with self._send_lock:
            await self.websocket.send_text(payload.decode("utf-8"))

    async def _send_events(self, since: int | None) -> None:
        try:
            async for batch in self.log.follow(since, self.wanted):
                for index, entry in enumerate(batch, 1):
                    await self.send(entry.payload)
                    self.cursor = entry.seq
                    if not index % WRITE_BATCH:  # a long replay lets the server's other requests in
                        await anyio.lowlevel.checkpoint()
        except ReplayUnavailableError as exc:
            await self.send(
                to_json_bytes({"type": "error", "id": None, "error": "invalid_argument", "message": str(exc)})
            )

    def _restart(self, since: int | None) -> None:
        if self._sender is not None:
            self._sender.cancel()
        self._sender = asyncio.get_running_loop().create_task(self._send_events(since))

    def _count(self, since: int | None, keep: ProtocolFilter) -> int:
        start = self.log.latest_run_start if since is None else since
        return sum(1 for entry in self.log.after(start) if keep(entry))

    async def subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        keep, since = parse_stream_request(params)
        if since is not None and since > self.log.last_seq:
            raise ProtocolCommandError(
                400, "invalid_argument", f"'since' is {since} but the thread's newest event is seq {self.log.last_seq}"
            )
        subscription_id = f"sub-{next(self._ids)}"
        self.subscriptions[subscription_id] = keep
        replayed = 0
        if self._sender is None:
            replayed = self._count(since, keep)
            self._restart(since)
        return {"subscription_id": subscription_id, "replayed_events": replayed}

    async def unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        subscription_id = params.get("subscription_id")
        if subscription_id not in self.subscriptions:
            raise ProtocolCommandError(
                404,
                "no_such_subscription",
                f"this connection has no subscription {subscription_id!r}; it has {sorted(self.subscriptions)}",
            )
        del self.subscriptions[subscription_id]
        return {}

    async def reconnect(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("last_event_id")
        try:
            since = self.cursor if raw is None else int(raw)
        except (TypeError, ValueError):
            since = -1
        if since is not None and not 0 <= since <= self.log.last_seq:
            raise ProtocolCommandError(
                422, "invalid_argument", f"'last_event_id' must be the seq of an event of the thread, got {raw!r}"
            )
        missed = self.log.last_seq - (self.log.latest_run_start if since is None else since)
        if self.subscriptions:
            self._restart(since)
        return {"restored": bool(self.subscriptions), "missed_events": max(missed, 0)}

    async def handle(self, raw: str | bytes) -> None:
        errors = self.request.app.state.errors
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            await self.send(
                to_json_bytes(error_envelope(None, InvalidArgumentError(f"a frame must be JSON: {exc}"), errors).body)
            )
            return
        command_id = body.get("id") if isinstance(body, dict) else None
        try:
            command_id, method, params = parse_command(body)
            local = {
                "subscription.subscribe": self.subscribe,
                "subscription.unsubscribe": self.unsubscribe,
                "subscription.reconnect": self.reconnect,
            }.get(method)
            if local is None:
                shared = await execute(self.request, self.thread_id, body)
                await self.send(to_json_bytes(shared.body))
                return
            result = await local(params)
        except Exception as exc:
            await self.send(to_json_bytes(error_envelope(command_id, exc, errors).body))
            return
        answer: CommandResponse = {
            "type": "success",
            "id": command_id,
            "result": cast(Any, result),
            "meta": {"applied_through_seq": self.log.last_seq},
        }
        await self.send(to_json_bytes(answer))

    async def aclose(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender


async def thread_event_socket(websocket: WebSocket) -> None:
    """The WebSocket endpoint (see the module docstring)."""
    thread_id = websocket.path_params["thread_id"]
    request = _as_request(websocket)
    await websocket.accept()
    try:
        log = await open_thread_log(request, thread_id, None)
    except Exception as exc:
        refusal = error_envelope(None, exc, websocket.app.state.errors)
        await websocket.send_text(to_json_bytes(refusal.body).decode("utf-8"))
        await websocket.close(code=4000 + refusal.status, reason=str(refusal.body.get("error", "")))
        return
    connection = _Connection(websocket, request, thread_id, log)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await connection.handle(raw)
    except WebSocketDisconnect:
        pass
    finally:
        await connection.aclose()
        _log.debug("protocol_socket_closed", thread_id=thread_id, last_seq_sent=connection.cursor)
