"""Serving runs over HTTP: a run registry, an ASGI app with SSE streams, and a web page (a bridge).

Needs the ``server`` extra (``pip install 'streamflow[server]'``: Starlette, sse-starlette, uvicorn, httpx).
:class:`RunRegistry` starts and holds runs of named graphs; :func:`create_app` serves them (routes in
:mod:`streamflow.server.app`, SSE message shapes in :mod:`streamflow.server.stream`).
"""

from .app import create_app as create_app
from .encoding import to_json as to_json
from .registry import RunInfo as RunInfo
from .registry import RunRegistry as RunRegistry
from .stream import RunStream as RunStream

__all__ = ["RunInfo", "RunRegistry", "RunStream", "create_app", "to_json"]
