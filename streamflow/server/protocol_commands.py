"""``POST /threads/{thread_id}/commands``: the agent protocol's commands on a thread.

Bridges layer. A command is ``{"id": <int >= 0>, "method": <str>, "params": {...}}``; the answer is the
protocol's ``{"type": "success", "id", "result": {...}, "meta": {"applied_through_seq": n}}`` (200), or its
error envelope ``{"type": "error", "id", "error": <code>, "message"}`` with the HTTP status the rest of the app
gives the same fault (table :data:`ERROR_STATUSES`). ``applied_through_seq`` is the ``seq`` of the thread's
last event before the command took effect: a stream opened with ``since`` set to it misses nothing the
command caused.

Commands (``params`` as LangChain's ``langchain_protocol`` types name them):

``run.start`` ``{"assistant_id", "input", "config"?, "metadata"?, "langsmith_tracer"?}``
    starts a run of the graph registered as ``assistant_id`` on the thread (made now, owned by the caller,
    when the app does not know it yet); ``metadata`` joins ``config.metadata``. On a thread paused on
    interrupts the run resumes it with ``Command(resume=input)`` instead, as LangGraph's ``RemoteGraph``
    expects of ``run.start``. Result ``{"run_id"}``.
``input.respond`` ``{"interrupt_id", "namespace", "response", "update"?, "goto"?, "config"?, "metadata"?}``
    or ``{"responses": [{"interrupt_id", "namespace", "response"}, ...], ...}``: resumes the interrupted thread
    with ``Command(resume={interrupt_id: response, ...}, update=..., goto=...)``. Result ``{"run_id"}``.
``state.get`` ``{"namespace": [], "keys"?}``
    the thread's state: ``{"values", "checkpoint": {"id", "ns"}}`` (only the root namespace).
``state.listCheckpoints`` ``{"limit"?, "before"?}``
    ``{"checkpoints": [{"id", "timestamp", "step", "metadata"}, ...]}``, newest first.
``run.cancel`` ``{"run_id"?}``
    cancels the thread's run (the one going when ``run_id`` is left out) and waits until it stopped; result
    ``{"run_id", "status"}``. LangGraph's client cancels with ``POST /threads/{thread_id}/runs/{run_id}/cancel``,
    which the app serves too.
``subscription.subscribe`` / ``unsubscribe`` / ``reconnect``
    belong to a connection: served on the WebSocket (:mod:`streamflow.server.protocol_ws`); here
    ``not_supported``, as ``agent.getTree``, ``input.inject`` and ``state.fork``.

Auth: ``run.start`` on a thread the app knows, ``input.respond`` and ``run.cancel`` need the thread to be the
caller's own (another's answers as an unknown thread, 404); the authorize hooks see ``create``, ``resume``
(``input.respond``, and ``run.start`` on a paused thread, after ``create``), ``cancel`` (resource ``runs``)
and ``read`` (resource ``threads``), as the thread routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import attrs
import structlog
from langchain_protocol import CommandResponse, ErrorCode, ErrorResponse, ResponseMeta
from starlette.requests import Request
from starlette.responses import Response

from ..errors import (
    InvalidArgumentError,
    NotAuthenticatedError,
    NotAuthorizedError,
    ProtocolCommandError,
    RegistryFullError,
    RequestRejectedError,
    ThreadConflictError,
    TooManyRunsError,
    UnknownCheckpointError,
    UnknownGraphError,
    UnknownInterruptError,
    UnknownRunError,
    UnknownThreadError,
)
from ..graph.constants import Command, Send
from .auth import authorize, authorize_thread
from .boundary import check_config_ids, check_id, read_json
from .encoding import to_json_bytes
from .errors import ErrorPolicy
from .protocol_wire import ProtocolThreads
from .registry import RunRegistry
from .threads import ThreadRegistry, snapshot_to_dict

__all__ = [
    "ERROR_STATUSES",
    "PROTOCOL_VERSION",
    "ProtocolResponse",
    "error_envelope",
    "execute",
    "thread_commands",
]

_log = structlog.get_logger("streamflow")

PROTOCOL_VERSION = "0.0.20"
"""The version of LangChain's agent streaming protocol the app speaks: the shapes of the ``langchain-protocol``
package of this version (the ``server`` extra pins it), as LangGraph's Python client (``langgraph-sdk`` 0.4)
speaks them."""


ERROR_STATUSES: tuple[tuple[type[Exception], int, ErrorCode], ...] = (
    (NotAuthenticatedError, 401, "permission_denied"),
    (NotAuthorizedError, 403, "permission_denied"),
    (UnknownThreadError, 404, "invalid_argument"),
    (UnknownGraphError, 404, "invalid_argument"),
    (UnknownRunError, 404, "no_such_run"),
    (UnknownCheckpointError, 404, "no_such_checkpoint"),
    (UnknownInterruptError, 422, "no_such_interrupt"),
    (ThreadConflictError, 409, "invalid_argument"),
    (TooManyRunsError, 429, "unknown_error"),
    (RegistryFullError, 503, "unknown_error"),
    (InvalidArgumentError, 422, "invalid_argument"),
)
"""Error type -> HTTP status and protocol error code, the first row that matches winning (as the app's own
table; a :class:`~streamflow.errors.RequestRejectedError` keeps its own status, and a
:class:`~streamflow.errors.ProtocolCommandError` its status and code). Anything else is 500
``unknown_error``, its message as the app's error policy allows."""


@attrs.frozen
class ProtocolResponse:
    """A command's answer: the envelope, its HTTP status and headers."""

    status: int
    """The HTTP status (200 for success)."""
    body: CommandResponse | ErrorResponse
    """The success or error envelope (``langchain_protocol``'s types)."""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    """Extra headers (``Retry-After`` for 429)."""


def error_envelope(command_id: Any, exc: BaseException, errors: ErrorPolicy) -> ProtocolResponse:
    """The protocol's error envelope for ``exc`` (see :data:`ERROR_STATUSES`)."""
    headers: dict[str, str] = {}
    code: ErrorCode
    if isinstance(exc, ProtocolCommandError):
        status, code, message = exc.status, cast(ErrorCode, exc.code), str(exc)
    elif isinstance(exc, RequestRejectedError):
        status, code, message = exc.status, "invalid_argument", str(exc)
    else:
        row = next((row for row in ERROR_STATUSES if isinstance(exc, row[0])), None)
        if row is None:
            status, code, message = 500, "unknown_error", errors.exception_message(exc)
        else:
            status, code, message = row[1], row[2], str(exc)
        if isinstance(exc, TooManyRunsError):
            headers["Retry-After"] = str(exc.retry_after)
    valid = isinstance(command_id, int) and not isinstance(command_id, bool) and command_id >= 0
    ident = command_id if valid else None
    body: ErrorResponse = {"type": "error", "id": ident, "error": code, "message": message}
    return ProtocolResponse(status, body, headers)


def _invalid(message: str) -> ProtocolCommandError:
    return ProtocolCommandError(422, "invalid_argument", message)


def _object(params: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(f"'params.{name}' must be a JSON object, got {value!r}")
    return value


def _only(params: Mapping[str, Any], method: str, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise _invalid(f"{method}: unknown params {unknown}; allowed: {', '.join(allowed)}")


@attrs.frozen
class _Context:
    request: Request
    thread_id: str
    threads: ThreadRegistry
    registry: RunRegistry
    protocol: ProtocolThreads


_Result = tuple[dict[str, Any], int | None]
_Handler = Callable[[_Context, dict[str, Any]], Awaitable[_Result]]


async def _thread_for_run(ctx: _Context, value: dict[str, Any]) -> str | None:
    """The owner of a new run on the thread, making the thread (the caller's own) when the app does not know it."""
    try:
        await ctx.threads.get(ctx.thread_id)
    except UnknownThreadError:
        check_id("the thread id", ctx.thread_id)
        owner = await authorize(ctx.request, "threads", "create", {"thread_id": ctx.thread_id, "metadata": None})
        try:
            if owner is None:
                await ctx.threads.add(ctx.thread_id, None)
            else:
                await ctx.threads.claim(ctx.thread_id, None, owner)
        except ThreadConflictError:
            pass  # made meanwhile, by this caller or another: the owner check below tells
        else:
            _log.info("thread_created", thread_id=ctx.thread_id)
    return await authorize_thread(ctx.request, "create", ctx.thread_id, value)


def _run_config(params: dict[str, Any]) -> dict[str, Any] | None:
    config = _object(params, "config")
    metadata = _object(params, "metadata")
    if metadata:
        config = dict(config or {})
        inner = config.get("metadata") or {}
        if not isinstance(inner, dict):
            raise _invalid(f"'params.config.metadata' must be a JSON object, got {inner!r}")
        config["metadata"] = {**inner, **metadata}
    check_config_ids(config)
    return config


async def _start(
    ctx: _Context, graph: str | None, input: Any, config: Any, owner: str | None, command: bool
) -> _Result:
    source = ctx.request.app.state.source
    async with ctx.request.app.state.limiter.admit(source, owner):
        run_id = await ctx.threads.start(ctx.thread_id, graph, input, config, command=command, owner=owner)
        since = ctx.protocol.follow_run(ctx.thread_id, ctx.registry.get(run_id))
    _log.info("protocol_run_started", thread_id=ctx.thread_id, run_id=run_id, resume=command)
    return {"run_id": run_id}, since


async def _run_start(ctx: _Context, params: dict[str, Any]) -> _Result:
    _only(params, "run.start", ("assistant_id", "input", "config", "metadata", "langsmith_tracer"))
    graph = params.get("assistant_id")
    if not isinstance(graph, str) or not graph:
        raise _invalid(f"run.start: 'assistant_id' must name a graph, one of {ctx.registry.graph_names}; got {graph!r}")
    if graph not in ctx.registry.graphs:
        raise UnknownGraphError(f"unknown graph {graph!r}; graphs: {ctx.registry.graph_names}")
    config = _run_config(params)
    value = {"graph": graph, "input": params.get("input"), "config": config}
    owner = await _thread_for_run(ctx, value)
    if await _waiting_on(ctx, graph):  # the thread is paused: its next run.start answers the interrupt(s)
        resume = {"graph": graph, "command": {"resume": params.get("input")}, "config": config}
        owner = await authorize_thread(ctx.request, "resume", ctx.thread_id, resume)
        return await _start(ctx, graph, Command(resume=params.get("input")), config, owner, True)
    return await _start(ctx, graph, params.get("input"), config, owner, False)


async def _waiting_on(ctx: _Context, graph: str | None = None) -> list[str]:
    """The ids of the interrupts the thread waits on (its newest checkpoint's, read with ``graph``'s schema, or
    the thread's own graph's), sorted."""
    snapshot = await ctx.threads.state(ctx.thread_id, graph=graph)
    return sorted({i.id for i in snapshot.interrupts} | {i.id for t in snapshot.tasks for i in t.interrupts})


def _goto(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) <= {"node", "input"} and isinstance(value.get("node"), str):
        return Send(value["node"], value.get("input"))
    if isinstance(value, list) and value and not any(isinstance(item, list) for item in value):
        return [_goto(item) for item in value]
    raise _invalid(f"'goto' must be a node name, {{'node', 'input'}} or a list of them; got {value!r}")


def _answers(params: dict[str, Any]) -> dict[str, Any]:
    def one(entry: Any, where: str) -> tuple[str, Any]:
        if not isinstance(entry, dict) or not isinstance(entry.get("interrupt_id"), str) or "response" not in entry:
            raise _invalid(f"input.respond: {where} must have 'interrupt_id' (a string) and 'response'; got {entry!r}")
        namespace = entry.get("namespace", [])
        if not isinstance(namespace, list) or not all(isinstance(s, str) for s in namespace):
            raise _invalid(f"input.respond: {where} 'namespace' must be a list of strings, got {namespace!r}")
        return entry["interrupt_id"], entry["response"]

    if "responses" in params:
        responses = params["responses"]
        if not isinstance(responses, list) or not responses or "interrupt_id" in params:
            raise _invalid(
                "input.respond: 'responses' must be a non-empty list of {interrupt_id, namespace, response}, "
                "given instead of a single 'interrupt_id'"
            )
        return dict(one(entry, f"responses[{i}]") for i, entry in enumerate(responses))
    interrupt_id, response = one(params, "params")
    return {interrupt_id: response}


async def _input_respond(ctx: _Context, params: dict[str, Any]) -> _Result:
    _only(
        params,
        "input.respond",
        ("interrupt_id", "namespace", "response", "responses", "update", "goto", "config", "metadata"),
    )
    resume = _answers(params)
    update = _object(params, "update")
    goto = _goto(params["goto"]) if params.get("goto") is not None else ()
    config = _run_config(params)
    value = {"graph": None, "command": {"resume": resume, "update": update}, "config": config}
    owner = await authorize_thread(ctx.request, "resume", ctx.thread_id, value)
    waiting = await _waiting_on(ctx)
    if not waiting:
        raise _invalid(
            f"input.respond: thread {ctx.thread_id!r} is not interrupted: there is no interrupt to answer; "
            "start a run with run.start instead"
        )
    unknown = sorted(set(resume) - set(waiting))
    if unknown:
        raise UnknownInterruptError(
            f"input.respond: thread {ctx.thread_id!r} is not waiting on interrupt(s) {unknown}; "
            f"its pending interrupt ids are {waiting}",
            interrupt_ids=unknown,
            pending_ids=waiting,
        )
    return await _start(ctx, None, Command(resume=resume, update=update, goto=goto), config, owner, True)


async def _state_get(ctx: _Context, params: dict[str, Any]) -> _Result:
    _only(params, "state.get", ("namespace", "keys"))
    namespace = params.get("namespace", [])
    if namespace != []:
        if not isinstance(namespace, list):
            raise _invalid(f"state.get: 'namespace' must be a list of strings, got {namespace!r}")
        raise ProtocolCommandError(
            501, "not_supported", "state.get reads the root graph's state only: give 'namespace': []"
        )
    keys = params.get("keys")
    if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
        raise _invalid(f"state.get: 'keys' must be a list of state keys, got {keys!r}")
    await authorize_thread(ctx.request, "read", ctx.thread_id)
    snapshot = snapshot_to_dict(await ctx.threads.state(ctx.thread_id))
    values = snapshot["values"] if isinstance(snapshot["values"], dict) else {"__root__": snapshot["values"]}
    if keys is not None:
        values = {k: v for k, v in values.items() if k in keys}
    result: dict[str, Any] = {"values": values}
    configurable = (snapshot["config"] or {}).get("configurable") or {}
    if configurable.get("checkpoint_id"):
        result["checkpoint"] = {"id": configurable["checkpoint_id"], "ns": configurable.get("checkpoint_ns", "")}
    return result, None


async def _list_checkpoints(ctx: _Context, params: dict[str, Any]) -> _Result:
    _only(params, "state.listCheckpoints", ("namespace", "limit", "before"))
    if params.get("namespace", []) != []:
        raise ProtocolCommandError(
            501, "not_supported", "state.listCheckpoints lists the root graph's checkpoints only"
        )
    limit = params.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise _invalid(f"state.listCheckpoints: 'limit' must be a positive int, got {limit!r}")
    before = params.get("before")
    if before is not None and (not isinstance(before, str) or not before):
        raise _invalid(f"state.listCheckpoints: 'before' must be a checkpoint id, got {before!r}")
    await authorize_thread(ctx.request, "read", ctx.thread_id)
    history = await ctx.threads.history(ctx.thread_id, limit=limit, before=before)
    out = []
    for snapshot in history:
        metadata = dict(snapshot.metadata or {})
        configurable = snapshot.config.get("configurable") or {}
        step = metadata.get("step")
        out.append(
            {
                "id": configurable.get("checkpoint_id"),
                "timestamp": snapshot.created_at,
                "step": step if isinstance(step, int) else -1,
                "metadata": metadata,
            }
        )
    return {"checkpoints": out}, None


async def _run_cancel(ctx: _Context, params: dict[str, Any]) -> _Result:
    _only(params, "run.cancel", ("run_id",))
    run_id = params.get("run_id")
    if run_id is not None and not isinstance(run_id, str):
        raise _invalid(f"run.cancel: 'run_id' must be a run id, got {run_id!r}")
    await authorize_thread(ctx.request, "cancel", ctx.thread_id, {"run_id": run_id})
    await ctx.threads.get(ctx.thread_id)
    if run_id is None:
        run_id = await ctx.threads.runs.thread_run(ctx.thread_id)
        if run_id is None:
            raise UnknownRunError(f"thread {ctx.thread_id!r} has no run going; name the run with 'run_id'")
    entry = ctx.registry.entry(run_id)
    if entry.thread_id != ctx.thread_id:
        raise UnknownRunError(f"thread {ctx.thread_id!r} has no run {run_id!r}")
    info = await ctx.registry.cancel(run_id)
    return {"run_id": run_id, "status": info.status}, None


async def _on_connection(ctx: _Context, params: dict[str, Any]) -> _Result:
    raise ProtocolCommandError(
        501,
        "not_supported",
        "subscriptions belong to a connection: subscribe with POST /threads/{thread_id}/stream/events (SSE, "
        "the SubscribeParams as the body) or send the command on the thread's WebSocket",
    )


async def _unsupported(ctx: _Context, params: dict[str, Any]) -> _Result:
    raise ProtocolCommandError(501, "not_supported", "this server does not implement this command")


HANDLERS: dict[str, _Handler] = {
    "run.start": _run_start,
    "input.respond": _input_respond,
    "state.get": _state_get,
    "state.listCheckpoints": _list_checkpoints,
    "run.cancel": _run_cancel,
    "subscription.subscribe": _on_connection,
    "subscription.unsubscribe": _on_connection,
    "subscription.reconnect": _on_connection,
    "agent.getTree": _unsupported,
    "input.inject": _unsupported,
    "state.fork": _unsupported,
}
"""What each method does (see the module docstring)."""


def parse_command(body: Any) -> tuple[int, str, dict[str, Any]]:
    """The ``id``, ``method`` and ``params`` of a command body.

    :raises ProtocolCommandError: (422 ``invalid_argument``) for a body that is not ``{"id": <int >= 0>, "method":
        <str>, "params": {...}}`` (``params`` may be left out: ``{}``)
    """
    shape = '{"id": <int >= 0>, "method": <str>, "params": {...}}'
    if not isinstance(body, dict):
        raise _invalid(f"a command must be a JSON object {shape}, got {type(body).__name__}")
    unknown = sorted(set(body) - {"id", "method", "params"})
    command_id = body.get("id")
    if not isinstance(command_id, int) or isinstance(command_id, bool) or command_id < 0:
        raise _invalid(f"a command's 'id' must be an int >= 0, got {command_id!r}")
    if unknown:
        raise _invalid(f"unknown command fields {unknown}; a command is {shape}")
    method = body.get("method")
    if not isinstance(method, str) or not method:
        raise _invalid(f"a command's 'method' must be a non-empty string, got {method!r}")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise _invalid(f"a command's 'params' must be a JSON object, got {params!r}")
    return command_id, method, params


async def execute(request: Request, thread_id: str, body: Any) -> ProtocolResponse:
    """Run one command on ``thread_id`` for ``request``'s caller and return the answer (never raises for the
    caller's faults, nor for a run's: each is an error envelope).

    :param request: the request (its app state, auth and headers)
    :param thread_id: the thread in the path
    :param body: the parsed command
    """
    errors: ErrorPolicy = request.app.state.errors
    command_id = body.get("id") if isinstance(body, dict) else None
    try:
        command_id, method, params = parse_command(body)
        handler = HANDLERS.get(method)
        if handler is None:
            raise ProtocolCommandError(
                400, "unknown_command", f"unknown command {method!r}; commands: {', '.join(sorted(HANDLERS))}"
            )
        protocol: ProtocolThreads | None = getattr(request.app.state, "protocol", None)
        if protocol is None:
            raise ProtocolCommandError(
                501,
                "not_supported",
                "the agent protocol needs runs executing in this process (a RunRegistry); this app's runs "
                "execute elsewhere",
            )
        ctx = _Context(request, thread_id, request.app.state.threads, request.app.state.registry, protocol)
        result, applied = await handler(ctx, params)
    except Exception as exc:
        response = error_envelope(command_id, exc, errors)
        if response.status == 500:
            _log.error("protocol_command_failed", thread_id=thread_id, exc_info=exc)
        return response
    meta: ResponseMeta = {"applied_through_seq": protocol.log(thread_id).last_seq if applied is None else applied}
    success: CommandResponse = {"type": "success", "id": command_id, "result": cast(Any, result), "meta": meta}
    return ProtocolResponse(200, success)


class _Envelope(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return to_json_bytes(content)


def as_response(answer: ProtocolResponse) -> Response:
    """The HTTP response of a command's answer."""
    return _Envelope(answer.body, status_code=answer.status, headers=dict(answer.headers))


async def thread_commands(request: Request) -> Response:
    """``POST /threads/{thread_id}/commands``: one command (see the module docstring)."""
    try:
        body = await read_json(request, None)
    except RequestRejectedError as exc:
        return as_response(error_envelope(None, exc, request.app.state.errors))
    if body is None:
        return as_response(
            error_envelope(None, _invalid("the body must be a command, got an empty body"), request.app.state.errors)
        )
    return as_response(await execute(request, request.path_params["thread_id"], body))
