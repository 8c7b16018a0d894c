"""The app's web pages: static files of ``streamflow/server/static`` served with their security policy.

``GET /`` (``index.html``)
    plain HTML and JS over the app's own routes (``/runs``, ``/threads``, SSE ``/runs/{run_id}/stream``).
``GET /sdk`` (``sdk.html``) and ``GET /sdk.js``
    the same questions asked with LangChain's JS SDK (``@langchain/langgraph-sdk``'s
    ``client.threads.stream``, which speaks the agent streaming protocol v3 over the thread routes): tokens,
    lifecycle, tool calls, and a run's questions (interrupts) with Approve / Reject buttons that resume it.
    ``sdk.js`` is a bundle built from ``web/src/page.js`` (``make web``); ``?transport=websocket`` makes the
    page use the protocol's WebSocket in place of SSE.

Each page allows only its own scripts and styles (:func:`~streamflow.server.boundary.page_csp`).
"""

from __future__ import annotations

import functools
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .boundary import page_csp

__all__ = ["SDK_SCRIPT", "index", "sdk_page", "sdk_script", "static_file"]

SDK_SCRIPT = "sdk.js"
"""The name of the SDK page's bundle, in ``static/`` and as the route beside the page."""


def static_file(name: str) -> bytes:
    """The bytes of ``static/<name>`` as the installed package holds it.

    :raises FileNotFoundError: for a name the package does not ship
    """
    return resources.files("streamflow.server").joinpath("static", name).read_bytes()


@functools.cache
def _html(name: str, script_files: bool) -> tuple[str, str]:
    html = static_file(name).decode("utf-8")
    return html, page_csp(html, script_files=script_files)


async def index(request: Request) -> Response:
    """``GET /``: the web page (with a ``Content-Security-Policy`` allowing its own inline script and style)."""
    html, csp = _html("index.html", False)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


async def sdk_page(request: Request) -> Response:
    """``GET /sdk``: the page built on LangChain's JS SDK (its policy allows the app's own ``sdk.js``)."""
    html, csp = _html("sdk.html", True)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


@functools.cache
def _script() -> bytes:
    return static_file(SDK_SCRIPT)


async def sdk_script(request: Request) -> Response:
    """``GET /sdk.js``: the SDK page's script, a bundle of ``web/src/page.js`` and the SDK (ES module)."""
    return Response(_script(), media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})
