"""The ASGI app: start, watch, stream and cancel runs over HTTP (Starlette, and SSE responses of its own).

:func:`create_app` returns a Starlette app to serve alone (``uvicorn``) or to mount in any Starlette or
FastAPI app (``Mount("/api", app=create_app(...))``). Routes, relative to where it is mounted:

``GET /``
    the web page (plain HTML and JS): ask a question, watch tokens, nodes, tool progress and raw events.
``GET /sdk`` (and its script ``GET /sdk.js``)
    the same page written against LangChain's JS SDK (``@langchain/langgraph-sdk``), speaking the agent
    streaming protocol v3 on a thread (:mod:`streamflow.server.pages`).
``GET /graphs``
    ``{"graphs": [name, ...]}``.
``POST /runs``
    body ``{"graph": name, "input": {...}, "config": {...}}`` (``config`` optional, LangGraph's keys);
    answers 201 with the run's info (the JSON form of :class:`~streamflow.run_info.RunInfo`: ``run_id``,
    ``graph``, ``status``, ``created_at``, ``finished_at``, ``last_seq``, ``first_retained_seq``,
    ``subscribers``, null for a run executing in a worker process; ``owner`` too, with ``auth``).
``GET /runs``
    ``{"runs": [info, ...]}``, oldest first; ``?status=running`` (repeatable) narrows it; with ``auth``, only
    the principal's own runs.
``GET /runs/{run_id}``
    the run's info, plus ``output`` once it finished or ``error`` (``{"type", "message"}``) once it failed.
``GET /runs/{run_id}/stream``
    Server-Sent Events (message shapes in :mod:`streamflow.server.stream`). Query: ``stream_mode``
    (repeatable or comma-separated; default ``values``), ``subgraphs`` (``true``/``false``), ``node`` and
    ``tag`` (repeatable filters), ``last_event_id`` (resume after that ``seq``; the ``Last-Event-ID``
    header, which browsers send on reconnect, wins over it), ``cancel_on_disconnect`` (``true`` cancels the
    run when this client goes away; by default a disconnect only detaches the client). A run that is over
    replays what it retained and the response ends; when the client already has the last event the answer
    is 204, which tells a browser's ``EventSource`` to stop reconnecting.
``POST /runs/{run_id}/cancel``
    cancels the run if it is still going, waits until it stopped, and answers with its info (200); for a
    run executing in a worker process, 202 when it has not stopped within the source's wait.

Threads (:mod:`streamflow.server.threads`), their state kept in the app's checkpointer
(``create_app(checkpointer=...)``, an :class:`~streamflow.checkpoint.memory.InMemorySaver` by default), which
graphs registered without a checkpointer of their own use for runs on a thread. For runs executing in
worker processes, a :class:`~streamflow.server.redis_source.RedisRunSource` given the graphs and the
``checkpointer`` the workers share (PostgreSQL, say) serves the same routes: runs on a thread are queued for
the workers, and the state is read from that saver here:

``POST /threads``
    body ``{"thread_id": str, "metadata": {...}}`` (both optional; a new UUID by default); 201 with
    ``{"thread_id", "created_at", "metadata", "status", "graph", "run_id"}``; 409 for an id already taken.
``GET /threads/{thread_id}``
    the thread (``status`` ``"busy"`` while a run is going on it, else ``"idle"``): one created here, or
    one the checkpointer has checkpoints of.
``POST /threads/{thread_id}/runs``
    body ``{"graph": name, "input": {...}, "config": {...}, "stream_mode": [...]}`` (``graph`` optional when
    the thread already ran one, or only one is registered; ``stream_mode`` only shapes the returned
    ``stream_url``): starts a run on the thread (``configurable.thread_id`` set to it, ``graph_id`` to the
    graph's name) and answers 201 with its info plus ``thread_id`` and ``stream_url``; the run routes above
    then serve it. 409 while the thread has a run going (refused, not queued). ``{"command": {"resume": ...,
    "update": ..., "goto": ...}}`` in place of ``input`` resumes an interrupted thread with LangGraph's
    ``Command`` (422 when the thread is not interrupted and the command has a ``resume``, or when a resume map
    names an interrupt id the thread does not wait on). The run's SSE stream shows a pause as an ``updates`` message
    ``{"__interrupt__": [{"value", "id", "response_schema"}]}`` and a ``values`` message whose
    ``interrupts`` lists them.
``GET /threads/{thread_id}/state``
    the thread's :class:`~streamflow.types.StateSnapshot` as JSON (``values``, ``next``, ``config``,
    ``metadata``, ``created_at``, ``parent_config``, ``tasks``, ``interrupts``); ``?checkpoint_id=`` for an
    older one, ``?graph=`` to read it with a given graph's schema.
``GET /threads/{thread_id}/history``
    ``{"history": [snapshot, ...]}``, newest first; ``?limit=`` (a positive int), ``?before=`` (a checkpoint
    id: only older ones), ``?graph=``.

``POST /threads/{thread_id}/runs/{run_id}/cancel``
    cancels a run of the thread (LangGraph's client's ``runs.cancel``), as ``POST /runs/{run_id}/cancel``; 404
    for a run that is not the thread's.

LangChain's agent streaming protocol (version :data:`~streamflow.server.protocol_commands.PROTOCOL_VERSION`,
as LangGraph's client ``client.threads.stream(...)`` speaks it), for runs in this process:

``POST /threads/{thread_id}/commands``
    one command, answered with the protocol's envelopes (:mod:`streamflow.server.protocol_commands`).
``POST /threads/{thread_id}/stream/events``
    the thread's events over SSE, filtered and resumable by ``since`` (:mod:`streamflow.server.protocol_stream`).
WebSocket ``/threads/{thread_id}/stream/events``
    the same events and commands on one connection (:mod:`streamflow.server.protocol_ws`).

A run on a thread, started by a command or by ``POST /threads/{thread_id}/runs``, writes its events into
the thread's log (:mod:`streamflow.server.protocol_wire`), ``app.state.protocol``.

Where runs live is a :class:`~streamflow.server.source.RunSource`: in this process (a
:class:`~streamflow.server.registry.RunRegistry`, the default), or in worker processes behind Redis
(:class:`~streamflow.server.redis_source.RedisRunSource`, whose runs are ``queued`` until a worker takes them).
Every route, message shape and status code is the same for both.

Errors are JSON ``{"status": <code>, "error": <name>, "message": <what was wrong and what is allowed>}``: 400 for
malformed JSON (``InvalidJSON``: not JSON, ``NaN``/``Infinity``, a lone surrogate, nested deeper than the
boundary's ``max_json_depth``) or query values and unknown stream modes, 403 for a browser's write from another
origin, 404 for an unknown graph or run, 415 for a body that is not ``application/json``, 422 for a body or input
the graph does not accept (a ``run_id`` or ``thread_id`` outside :data:`~streamflow.server.boundary.ID_RULE` too),
404 for an unknown thread or checkpoint id, 409 for a second run on a busy thread, 501 for thread routes on a
source that serves no threads (runs elsewhere, without a checkpointer), 503 when the registry is full of live runs
or the run store (Redis) is unreachable, 500 for anything else (the error's type and, when the error policy exposes
it, its message; never a traceback). A ``Host`` the app does not trust is answered 400 ``Invalid host header`` in
plain text (Starlette's ``TrustedHostMiddleware``). The boundary (trusted hosts, CORS, cross-origin writes, content
type, security headers) is described in :mod:`streamflow.server.boundary`; what
clients read of errors raised in runs, in :mod:`streamflow.server.errors`.
Limits (:mod:`streamflow.server.limits`): 413 for a body over ``max_body``, 429 (with ``Retry-After``) for a
principal at its ``max_live_runs``.

With ``create_app(..., auth=...)`` (:mod:`streamflow.server.auth`): 401 for a request the authenticate hook
refuses (every route but the page), 403 for an action an authorize hook refuses; each run and thread is its
principal's, ``GET /runs`` lists the principal's own, and another principal's run or thread answers 404 as an
unknown one. Without ``auth`` every client may do everything, as the routes above say.

Each route is a plain endpoint function of this module; they read what they share from the app's state:
``app.state.source`` (the :class:`~streamflow.server.source.RunSource`), ``app.state.registry`` (for runs in
this process), ``app.state.threads`` (a :class:`~streamflow.server.threads.ThreadRegistry`, None for runs
elsewhere) and ``app.state.streams`` (:class:`StreamSettings`).

Lifespan: served alone, an app built from a mapping of graphs closes its registry (cancelling live runs) on
shutdown. Mounted in another app, whose lifespan Starlette does not pass down, close ``app.state.source``
(or ``app.state.registry``) in the host's lifespan. A registry or source passed in is the caller's to close.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from ..channel import DEFAULT_REPLAY_SIZE
from ..checkpoint.base import BaseCheckpointSaver
from ..checkpoint.memory import InMemorySaver
from ..errors import (
    InvalidArgumentError,
    NotAuthenticatedError,
    NotAuthorizedError,
    RegistryFullError,
    RequestTooLargeError,
    StreamflowError,
    ThreadConflictError,
    TooManyRunsError,
    UnknownCheckpointError,
    UnknownGraphError,
    UnknownRunError,
    UnknownStreamModeError,
    UnknownThreadError,
)
from ..graph.constants import Command
from ..modes import ViewSpec
from ..run_info import ENDED, check_statuses
from .auth import Auth, authenticated_user, authorize, authorize_run, authorize_thread, check_auth, owned_config
from .boundary import Boundary, check_config_ids, check_id, read_json
from .encoding import to_json_bytes
from .errors import ErrorPolicy, exception_handlers
from .limits import BodyLimitMiddleware, Limits, RunLimiter
from .pages import SDK_SCRIPT, index, sdk_page, sdk_script
from .protocol_commands import thread_commands
from .protocol_log import DEFAULT_MAX_EVENTS
from .protocol_stream import thread_event_stream
from .protocol_wire import ProtocolThreads
from .protocol_ws import thread_event_socket
from .registry import DEFAULT_MAX_RUNS, DEFAULT_RETENTION, GraphSource, RunRegistry
from .source import LocalRunSource, RunSource, SSEStream
from .sse_response import SSEResponse
from .stream import DEFAULT_BUFFER_SIZE, DEFAULT_RETRY, StreamRequest
from .threads import ThreadRegistry, ThreadRuns, snapshot_to_dict

__all__ = [
    "DEFAULT_CLIENT_BUFFER",
    "DEFAULT_PING",
    "JSONResponse",
    "StreamSettings",
    "cancel_run",
    "cancel_thread_run",
    "create_app",
    "create_thread",
    "get_run",
    "get_thread",
    "get_thread_history",
    "get_thread_state",
    "index",
    "list_graphs",
    "list_runs",
    "start_run",
    "start_thread_run",
    "stream_run",
]

DEFAULT_CLIENT_BUFFER = DEFAULT_BUFFER_SIZE
"""Events buffered per SSE client before it catches up from the replay buffer instead."""
DEFAULT_PING = 15.0
"""Seconds between keep-alive comments on an idle SSE stream."""

_log = structlog.get_logger("streamflow")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class JSONResponse(Response):
    """A JSON response written by :func:`~streamflow.server.encoding.to_json` (chat messages included)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return to_json_bytes(content)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "error": error, "message": message}, status_code=status)


_STATUSES: tuple[tuple[tuple[type[Exception], ...], int], ...] = (
    ((UnknownGraphError, UnknownRunError, UnknownThreadError, UnknownCheckpointError), 404),
    ((ThreadConflictError,), 409),
    ((UnknownStreamModeError,), 400),
    ((RegistryFullError,), 503),
    ((TooManyRunsError,), 429),
    ((RequestTooLargeError,), 413),
    ((NotAuthenticatedError,), 401),
    ((NotAuthorizedError,), 403),
    ((InvalidArgumentError,), 422),
)
"""The HTTP status of each error type, the first row that matches winning (a subclass before its base)."""


def _status_of(exc: Exception) -> int:
    for types, status in _STATUSES:
        if isinstance(exc, types):
            return status
    return 500


async def _streamflow_error(request: Request, exc: Exception) -> Response:
    status = _status_of(exc)
    if status == 500:
        _log.error("request_failed", method=request.method, path=request.url.path, exc_info=exc)
        errors: ErrorPolicy = request.app.state.errors
        return _error(status, type(exc).__name__, errors.exception_message(exc))
    response = _error(status, type(exc).__name__, str(exc))
    if isinstance(exc, TooManyRunsError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, "HTTPException", str(exc.detail))


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidArgumentError(f"query parameter {name!r} must be true or false, got {raw!r}")


def _many(request: Request, name: str) -> list[str]:
    return [part.strip() for raw in request.query_params.getlist(name) for part in raw.split(",") if part.strip()]


def _after_seq(request: Request) -> int:
    header = request.headers.get("last-event-id")
    raw = header if header is not None and header.strip() else request.query_params.get("last_event_id")
    if raw is None or not raw.strip():
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        where = "the Last-Event-ID header" if header else "query parameter 'last_event_id'"
        raise InvalidArgumentError(f"{where} must be a seq (an integer >= 0), got {raw!r}")
    return value


@attrs.frozen
class StreamSettings:
    """How the app serves SSE streams (``app.state.streams``)."""

    client_buffer: int = DEFAULT_CLIENT_BUFFER
    """Events buffered per SSE client before it catches up from the replay buffer instead (> 0)."""
    ping: float = DEFAULT_PING
    """Seconds between keep-alive comments on an idle stream (0 sends none)."""
    retry: int = DEFAULT_RETRY
    """The reconnection delay told to clients, in milliseconds."""


def _source(request: Request) -> RunSource:
    source: RunSource = request.app.state.source
    return source


# -- endpoints -----------------------------------------------------------------------------------------


async def list_graphs(request: Request) -> Response:
    """``GET /graphs``: the names of the graphs runs can be started of."""
    await authenticated_user(request)
    return JSONResponse({"graphs": _source(request).graph_names})


async def start_run(request: Request) -> Response:
    """``POST /runs``: start (or queue) a run; 201 with its info."""
    source = _source(request)
    await authenticated_user(request)
    body = await read_json(request, None)
    if not isinstance(body, dict):
        return _error(
            422, "InvalidBody", 'the body must be a JSON object {"graph": name, "input": {...}, "config": {...}}'
        )
    unknown = sorted(set(body) - {"graph", "input", "config"})
    if unknown:
        return _error(422, "InvalidBody", f"unknown body fields {unknown}; allowed: graph, input, config")
    name = body.get("graph")
    if not isinstance(name, str):
        return _error(
            422, "InvalidBody", f"'graph' must be the name of a graph, one of {source.graph_names}; got {name!r}"
        )
    config = body.get("config")
    if config is not None and not isinstance(config, dict):
        return _error(422, "InvalidBody", f"'config' must be a JSON object, got {config!r}")
    check_config_ids(config)
    owner = await authorize(request, "runs", "create", {"graph": name, "input": body.get("input"), "config": config})
    config = await owned_config(request, config)
    async with request.app.state.limiter.admit(source, owner):
        info = await source.start(name, body.get("input"), config, owner=owner)
        _follow_on_thread(request, info.run_id)
    _log.info("run_started_over_http", run_id=info.run_id, graph=name, status=info.status)
    return JSONResponse(info.to_dict(), status_code=201)


def _follow_on_thread(request: Request, run_id: str) -> None:
    """Write a run that runs on a thread into the thread's agent-protocol log (runs in this process only);
    called in the same step of the event loop as the run's start, so its first events are still to come."""
    protocol: ProtocolThreads | None = request.app.state.protocol
    if protocol is None:
        return
    entry = request.app.state.registry.entry(run_id)
    if entry.thread_id is not None:
        protocol.follow_run(entry.thread_id, entry.run)


async def list_runs(request: Request) -> Response:
    """``GET /runs``: the runs' info, oldest first, optionally by ``status``."""
    try:
        wanted = check_statuses(_many(request, "status") or None)
    except InvalidArgumentError as exc:
        return _error(400, "InvalidQuery", str(exc))
    owner = await authorize(request, "runs", "list", {"status": sorted(wanted or ())})
    infos = await _source(request).list(wanted, owner=owner)
    return JSONResponse({"runs": [info.to_dict() for info in infos]})


async def get_run(request: Request) -> Response:
    """``GET /runs/{run_id}``: the run's info with its output or error."""
    await authorize_run(request, "read", request.path_params["run_id"])
    info = await _source(request).get(request.path_params["run_id"])
    errors: ErrorPolicy = request.app.state.errors
    return JSONResponse(errors.run_info(info).to_dict(outcome=True))


async def cancel_run(request: Request) -> Response:
    """``POST /runs/{run_id}/cancel``: cancel the run; 200 once it stopped, 202 while a remote one has not."""
    await authorize_run(request, "cancel", request.path_params["run_id"])
    info = await _source(request).cancel(request.path_params["run_id"])
    return JSONResponse(info.to_dict(), status_code=200 if info.status in ENDED else 202)


async def stream_run(request: Request) -> Response:
    """``GET /runs/{run_id}/stream``: the run's SSE stream (204 when the client already has all of it)."""
    source = _source(request)
    settings: StreamSettings = request.app.state.streams
    run_id = request.path_params["run_id"]
    await authorize_run(request, "stream", run_id)
    try:
        spec = ViewSpec.parse(_many(request, "stream_mode") or ["values"], _flag(request, "subgraphs"), "v2")
        cancel_on_disconnect = _flag(request, "cancel_on_disconnect")
        stream_request = StreamRequest(
            spec,
            nodes=_many(request, "node") or None,
            tags=_many(request, "tag") or None,
            after_seq=_after_seq(request),
            buffer_size=settings.client_buffer,
            retry=settings.retry,
            errors=request.app.state.errors,
        )
    except UnknownStreamModeError:
        raise
    except InvalidArgumentError as exc:
        return _error(400, "InvalidQuery", str(exc))
    try:
        stream = await source.open_stream(run_id, stream_request)
    except UnknownRunError:
        raise
    except InvalidArgumentError as exc:
        return _error(400, "InvalidQuery", str(exc))
    if stream.over:
        stream.close()
        return Response(status_code=204)
    if request.method == "HEAD":
        stream.close()
    else:
        _log.debug("stream_attached", run_id=run_id, modes=list(spec.modes), resumed_after=stream.after_seq)
    return SSEResponse(
        stream.__aiter__(),
        ping=settings.ping,
        on_disconnect=functools.partial(_detach, source, stream, run_id, cancel_on_disconnect),
        headers={"Cache-Control": "no-store"},
    )


async def _detach(source: RunSource, stream: SSEStream, run_id: str, cancel: bool) -> None:
    """A client went away: detach its stream, and cancel the run when it asked for that."""
    stream.close()
    if cancel and await source.request_cancel(run_id):
        _log.info("run_cancelled_on_disconnect", run_id=run_id)
    else:
        _log.debug("stream_detached", run_id=run_id, last_seq_sent=stream.after_seq)


# -- threads -------------------------------------------------------------------------------------------

_THREAD_BODY = '{"thread_id": str, "metadata": {...}} (both optional)'
_THREAD_RUN_BODY = '{"graph": name, "input": {...}, "config": {...}, "stream_mode": [...]} or {"command": {...}}'
_COMMAND_KEYS = ("resume", "update", "goto")


def _threads(request: Request) -> ThreadRegistry | Response:
    """The app's thread registry, or the 501 response of an app whose runs execute elsewhere."""
    threads: ThreadRegistry | None = request.app.state.threads
    if threads is None:
        return _error(
            501,
            "ThreadsUnavailable",
            "threads need runs executing in this process (a RunRegistry), or a RedisRunSource given the "
            "checkpointer its workers share; this app's runs execute elsewhere",
        )
    return threads


async def _json_object(request: Request, shape: str, allowed: tuple[str, ...]) -> dict[str, Any] | Response:
    """The request's JSON object body (an empty body is ``{}``), or the error response saying what is wrong.

    :raises RequestRejectedError: for a body that is not valid JSON (see :func:`~streamflow.server.boundary.read_json`)
    """
    body = await read_json(request, {})
    if not isinstance(body, dict):
        return _error(422, "InvalidBody", f"the body must be a JSON object {shape}")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        return _error(422, "InvalidBody", f"unknown body fields {unknown}; allowed: {', '.join(allowed)}")
    return body


async def create_thread(request: Request) -> Response:
    """``POST /threads``: create a thread; 201 with it (409 for a ``thread_id`` already taken)."""
    threads = _threads(request)
    if isinstance(threads, Response):
        return threads
    await authenticated_user(request)
    body = await _json_object(request, _THREAD_BODY, ("thread_id", "metadata"))
    if isinstance(body, Response):
        return body
    if isinstance(body.get("thread_id"), str) and body["thread_id"]:
        check_id("'thread_id'", body["thread_id"])
    owner = await authorize(request, "threads", "create", {k: body.get(k) for k in ("thread_id", "metadata")})
    if owner is None:
        entry = await threads.add(body.get("thread_id"), body.get("metadata"))
    else:
        entry = await threads.claim(body.get("thread_id"), body.get("metadata"), owner)
    _log.info("thread_created", thread_id=entry.thread_id)
    return JSONResponse(entry.to_dict(await threads.status(entry)), status_code=201)


async def get_thread(request: Request) -> Response:
    """``GET /threads/{thread_id}``: the thread, with its ``status``."""
    threads = _threads(request)
    if isinstance(threads, Response):
        return threads
    await authorize_thread(request, "read", request.path_params["thread_id"])
    entry = await threads.get(request.path_params["thread_id"])
    return JSONResponse(entry.to_dict(await threads.status(entry)))


async def start_thread_run(request: Request) -> Response:
    """``POST /threads/{thread_id}/runs``: start a run on the thread (or resume it with a ``command``); 201
    with the run's info, its ``thread_id`` and ``stream_url``."""
    threads = _threads(request)
    if isinstance(threads, Response):
        return threads
    thread_id = request.path_params["thread_id"]
    await authenticated_user(request)
    body = await _json_object(request, _THREAD_RUN_BODY, ("graph", "input", "config", "stream_mode", "command"))
    if isinstance(body, Response):
        return body
    if "command" in body and body.get("input") is not None:
        return _error(422, "InvalidBody", "give either 'input' (a new run) or 'command' (a resume), not both")
    if isinstance(body.get("config"), dict):
        check_config_ids(body["config"])
    modes = body.get("stream_mode", ["values"])
    if isinstance(modes, str):
        modes = [modes]
    if not isinstance(modes, list) or not modes or not all(isinstance(m, str) for m in modes):
        return _error(422, "InvalidBody", f"'stream_mode' must be a stream mode or a list of them, got {modes!r}")
    ViewSpec.parse(modes, False, "v2")
    if "command" in body:
        spec = body["command"]
        if not isinstance(spec, dict) or not spec or set(spec) - set(_COMMAND_KEYS):
            return _error(
                422,
                "InvalidBody",
                f"'command' must be a JSON object of one or more of {list(_COMMAND_KEYS)}; got {spec!r}",
            )
    value = {k: body.get(k) for k in ("graph", "command" if "command" in body else "input", "config")}
    owner = await authorize_thread(request, "resume" if "command" in body else "create", thread_id, value)
    async with request.app.state.limiter.admit(_source(request), owner):
        if "command" in body:
            command = Command(**body["command"])
            run_id = await threads.start(
                thread_id, body.get("graph"), command, body.get("config"), command=True, owner=owner
            )
        else:
            run_id = await threads.start(
                thread_id, body.get("graph"), body.get("input"), body.get("config"), owner=owner
            )
        _follow_on_thread(request, run_id)
    info = await _source(request).get(run_id)
    url = request.url_for("stream_run", run_id=run_id).include_query_params(stream_mode=",".join(modes))
    _log.info("thread_run_started_over_http", run_id=run_id, thread_id=thread_id, graph=info.graph)
    return JSONResponse({**info.to_dict(), "thread_id": thread_id, "stream_url": str(url)}, status_code=201)


async def cancel_thread_run(request: Request) -> Response:
    """``POST /threads/{thread_id}/runs/{run_id}/cancel``: cancel a run of the thread (LangGraph's client's
    ``runs.cancel``); answers as ``POST /runs/{run_id}/cancel``, 404 for a run that is not the thread's."""
    threads = _threads(request)
    if isinstance(threads, Response):
        return threads
    thread_id, run_id = request.path_params["thread_id"], request.path_params["run_id"]
    await authorize_thread(request, "cancel", thread_id, {"run_id": run_id})
    source = _source(request)
    registry: RunRegistry | None = getattr(request.app.state, "registry", None)
    if registry is None:
        await authorize_run(request, "cancel", run_id)
    elif registry.entry(run_id).thread_id != thread_id:
        raise UnknownRunError(f"thread {thread_id!r} has no run {run_id!r}")
    info = await source.cancel(run_id)
    return JSONResponse(info.to_dict(), status_code=200 if info.status in ENDED else 202)


def _query_str(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is not None and not raw.strip():
        raise InvalidArgumentError(f"query parameter {name!r} must not be empty when given")
    return raw


async def get_thread_state(request: Request) -> Response:
    """``GET /threads/{thread_id}/state``: the thread's state snapshot (``?checkpoint_id=``, ``?graph=``)."""
    threads = _threads(request)
    if isinstance(threads, Response):
        return threads
    try:
        checkpoint_id = _query_str(request, "checkpoint_id")
        graph = _query_str(request, "graph")
    except InvalidArgumentError as exc:
        return _error(400, "InvalidQuery", str(exc))
    await authorize_thread(request, "read", request.path_params["thread_id"])
    snapshot = await threads.state(request.path_params["thread_id"], checkpoint_id=checkpoint_id, graph=graph)
    return JSONResponse(_exposed(request, snapshot_to_dict(snapshot)))


async def get_thread_history(request: Request) -> Response:
    """``GET /threads/{thread_id}/history``: the thread's snapshots, newest first (``?limit=``, ``?before=``,
    ``?graph=``)."""
    threads = _threads(request)
    if isinstance(threads, Response):
        return threads
    try:
        before = _query_str(request, "before")
        graph = _query_str(request, "graph")
        raw_limit = _query_str(request, "limit")
        limit = None
        if raw_limit is not None:
            limit = int(raw_limit) if raw_limit.strip().isdigit() else 0
            if limit < 1:
                raise InvalidArgumentError(f"query parameter 'limit' must be a positive int, got {raw_limit!r}")
    except InvalidArgumentError as exc:
        return _error(400, "InvalidQuery", str(exc))
    await authorize_thread(request, "read", request.path_params["thread_id"])
    history = await threads.history(request.path_params["thread_id"], limit=limit, before=before, graph=graph)
    return JSONResponse({"history": [_exposed(request, snapshot_to_dict(snapshot)) for snapshot in history]})


def _exposed(request: Request, snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's JSON form with its tasks' errors as the app's error policy lets clients read them."""
    errors: ErrorPolicy = request.app.state.errors
    for task in snapshot["tasks"]:
        task["error"] = errors.task_error(task["error"])
    return snapshot


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    try:
        yield
    finally:
        if app.state.protocol is not None:
            await app.state.protocol.aclose()
        if app.state.owns_source:
            await app.state.source.aclose()


def create_app(
    graphs: Mapping[str, GraphSource] | RunRegistry | RunSource,
    *,
    client_buffer: int = DEFAULT_CLIENT_BUFFER,
    ping: float = DEFAULT_PING,
    retry: int = DEFAULT_RETRY,
    page: bool = True,
    retention: float | None = None,
    max_runs: int | None = None,
    replay_size: int | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    auth: Auth | None = None,
    limits: Limits | None = None,
    boundary: Boundary | None = None,
    errors: ErrorPolicy | None = None,
    protocol_events: int = DEFAULT_MAX_EVENTS,
) -> Starlette:
    """Build the app serving the runs of ``graphs`` (see the module docstring for the routes).

    :param graphs: graph name -> compiled graph (or a function building one per run), or a ready
        :class:`~streamflow.server.registry.RunRegistry`, or any other
        :class:`~streamflow.server.source.RunSource` (such as
        :class:`~streamflow.server.redis_source.RedisRunSource`, for runs executing in worker processes); the
        caller owns and closes a registry or source it passes
    :param client_buffer: events buffered per SSE client (> 0) before it catches up from the replay buffer
    :param ping: seconds between keep-alive comments on idle streams (0 sends none)
    :param retry: reconnection delay told to SSE clients, in milliseconds
    :param page: serve the web pages at ``/`` and ``/sdk`` (with ``/sdk.js``)
    :param retention: for the registry built from a mapping: seconds a finished run stays (default
        :data:`~streamflow.server.registry.DEFAULT_RETENTION`)
    :param max_runs: for the registry built from a mapping: runs held at most, live and finished (default
        :data:`~streamflow.server.registry.DEFAULT_MAX_RUNS`)
    :param replay_size: for the registry built from a mapping: events each run retains for resuming streams
        (default :data:`~streamflow.channel.DEFAULT_REPLAY_SIZE`)
    :param checkpointer: for the registry built from a mapping: the saver threads are kept in, for graphs
        compiled without one (default a new :class:`~streamflow.checkpoint.memory.InMemorySaver`); a ready
        registry uses its own ``checkpointer``, and a source whose runs execute elsewhere serves no threads
    :param auth: the authenticate and authorize hooks (:class:`~streamflow.server.auth.Auth`); None (the
        default) serves every client alike
    :param limits: the maximum request body and live runs per principal
        (:class:`~streamflow.server.limits.Limits`; its defaults when None)
    :param boundary: trusted hosts, CORS, JSON depth and security headers
        (:class:`~streamflow.server.boundary.Boundary`; default: loopback hosts only, CORS off, 64 levels,
        headers on)
    :param errors: which error messages clients may read (:class:`~streamflow.server.errors.ErrorPolicy`;
        default: streamflow's own errors' only)
    :param protocol_events: events each thread's agent-protocol log retains for replay (``since``; > 0,
        default :data:`~streamflow.server.protocol_log.DEFAULT_MAX_EVENTS`)
    :raises InvalidArgumentError: for a ``client_buffer`` that is not a positive int, a negative ``ping``,
        registry options given with a ready registry or source, bad registry options, an ``auth`` that is
        not an :class:`~streamflow.server.auth.Auth` with an authenticate hook, ``limits`` that are not a
        :class:`~streamflow.server.limits.Limits`, a ``boundary`` or ``errors`` of another type, or
        ``protocol_events`` that is not a positive int
    """
    if not isinstance(client_buffer, int) or client_buffer <= 0:
        raise InvalidArgumentError(f"client_buffer must be a positive number of events, got {client_buffer!r}")
    if ping < 0:
        raise InvalidArgumentError(f"ping must be >= 0 seconds, got {ping!r}")
    if not isinstance(protocol_events, int) or isinstance(protocol_events, bool) or protocol_events <= 0:
        raise InvalidArgumentError(f"protocol_events must be a positive number of events, got {protocol_events!r}")
    auth = check_auth(auth)
    limits = Limits() if limits is None else limits
    if not isinstance(limits, Limits):
        raise InvalidArgumentError(f"limits must be a streamflow.server.limits.Limits, got {type(limits).__name__}")
    boundary = Boundary() if boundary is None else boundary
    errors = ErrorPolicy() if errors is None else errors
    if not isinstance(boundary, Boundary) or not isinstance(errors, ErrorPolicy):
        raise InvalidArgumentError(
            f"boundary must be a Boundary and errors an ErrorPolicy (or None), got {boundary!r} and {errors!r}"
        )
    registry_options = [
        name
        for name, value in (
            ("retention", retention),
            ("max_runs", max_runs),
            ("replay_size", replay_size),
            ("checkpointer", checkpointer),
        )
        if value is not None
    ]
    source: RunSource
    if isinstance(graphs, Mapping):
        registry = RunRegistry(
            graphs,
            retention=DEFAULT_RETENTION if retention is None else retention,
            max_runs=DEFAULT_MAX_RUNS if max_runs is None else max_runs,
            replay_size=DEFAULT_REPLAY_SIZE if replay_size is None else replay_size,
            checkpointer=InMemorySaver() if checkpointer is None else checkpointer,
        )
        source = LocalRunSource(registry, owned=True)
    else:
        if registry_options:
            raise InvalidArgumentError(
                f"registry options {registry_options} were given with a ready {type(graphs).__name__}; set them on it"
            )
        source = LocalRunSource(graphs) if isinstance(graphs, RunRegistry) else graphs
    routes = [
        Route("/graphs", list_graphs, methods=["GET"]),
        Route("/runs", start_run, methods=["POST"]),
        Route("/runs", list_runs, methods=["GET"]),
        Route("/runs/{run_id}", get_run, methods=["GET"]),
        Route("/runs/{run_id}/stream", stream_run, methods=["GET"]),
        Route("/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
        Route("/threads", create_thread, methods=["POST"]),
        Route("/threads/{thread_id}", get_thread, methods=["GET"]),
        Route("/threads/{thread_id}/runs", start_thread_run, methods=["POST"]),
        Route("/threads/{thread_id}/state", get_thread_state, methods=["GET"]),
        Route("/threads/{thread_id}/history", get_thread_history, methods=["GET"]),
        Route("/threads/{thread_id}/runs/{run_id}/cancel", cancel_thread_run, methods=["POST"]),
        Route("/threads/{thread_id}/commands", thread_commands, methods=["POST"]),
        Route("/threads/{thread_id}/stream/events", thread_event_stream, methods=["POST"]),
        WebSocketRoute("/threads/{thread_id}/stream/events", thread_event_socket),
    ]
    if page:
        routes[:0] = [
            Route("/", index, methods=["GET"]),
            Route("/sdk", sdk_page, methods=["GET"]),
            Route(f"/{SDK_SCRIPT}", sdk_script, methods=["GET"]),
        ]
    app = Starlette(
        routes=routes,
        middleware=[*boundary.middleware(), Middleware(BodyLimitMiddleware, max_body=limits.max_body)],
        exception_handlers={
            **exception_handlers(errors),
            StreamflowError: _streamflow_error,
            HTTPException: _http_error,
        },
        lifespan=_lifespan,
    )
    app.state.boundary = boundary
    app.state.errors = errors
    app.state.source = source
    app.state.owns_source = isinstance(graphs, Mapping)
    app.state.streams = StreamSettings(client_buffer, ping, retry)
    app.state.auth = auth
    app.state.limiter = RunLimiter(limits.max_live_runs, limits.retry_after)
    app.state.threads = None
    app.state.protocol = None
    if isinstance(source, LocalRunSource):
        app.state.registry = source.registry
        app.state.threads = ThreadRegistry(source.registry)
        app.state.protocol = ProtocolThreads(errors, max_events=protocol_events)
    elif isinstance(source, ThreadRuns) and source.checkpointer is not None:
        app.state.threads = ThreadRegistry(source)
    return app
