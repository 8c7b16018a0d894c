"""Serving runs over HTTP: a run registry, an ASGI app with SSE streams, and a web page (a bridge).

Needs the ``server`` extra (``pip install 'streamflow[server]'``: Starlette, uvicorn, httpx).
:class:`RunRegistry` starts and holds runs of named graphs; :func:`create_app` serves them (routes in
:mod:`streamflow.server.app`, SSE message shapes in :mod:`streamflow.server.stream`). Runs executing in
worker processes are served through Redis by :class:`~streamflow.server.redis_source.RedisRunSource` (needs the
``redis`` extra too; imported on first use, so the ``server`` extra works without it). Who may do what is
:class:`~streamflow.server.auth.Auth` (owners of runs and threads), how much one client can make the app hold
is :class:`~streamflow.server.limits.Limits`, what crosses the app's boundary is set by a :class:`Boundary`
(trusted hosts, CORS, JSON bodies, security headers; :mod:`streamflow.server.boundary`) and an
:class:`ErrorPolicy` (which error messages clients may read; :mod:`streamflow.server.errors`). Threads also
speak LangChain's agent streaming protocol (version :data:`PROTOCOL_VERSION`; commands in
:mod:`streamflow.server.protocol_commands`, events over SSE in :mod:`streamflow.server.protocol_stream` and over
a WebSocket in :mod:`streamflow.server.protocol_ws`), as LangGraph's client ``client.threads.stream(...)`` uses it.
"""

from typing import Any

from ..run_info import RunInfo as RunInfo
from ..run_info import RunStatus as RunStatus
from .app import create_app as create_app
from .auth import Auth as Auth
from .auth import AuthContext as AuthContext
from .auth import User as User
from .boundary import Boundary as Boundary
from .encoding import to_json as to_json
from .errors import ErrorPolicy as ErrorPolicy
from .limits import Limits as Limits
from .protocol_commands import PROTOCOL_VERSION as PROTOCOL_VERSION
from .registry import RunRegistry as RunRegistry
from .source import LocalRunSource as LocalRunSource
from .source import RunSource as RunSource
from .stream import RunStream as RunStream
from .stream import StreamRequest as StreamRequest

__all__ = [
    "PROTOCOL_VERSION",
    "Auth",
    "AuthContext",
    "Boundary",
    "ErrorPolicy",
    "Limits",
    "LocalRunSource",
    "RedisRunSource",
    "RunInfo",
    "RunRegistry",
    "RunSource",
    "RunStatus",
    "RunStream",
    "StreamRequest",
    "User",
    "create_app",
    "to_json",
]


def __getattr__(name: str) -> Any:
    if name == "RedisRunSource":
        try:
            from .redis_source import RedisRunSource
        except ModuleNotFoundError as exc:
            from ..errors import MissingExtraError

            raise MissingExtraError("RedisRunSource", "redis", exc.name or "redis") from exc
        return RedisRunSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
