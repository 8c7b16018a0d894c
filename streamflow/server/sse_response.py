"""The HTTP response that carries an SSE stream: a bare ASGI response, one ``send`` per chunk of messages.

:class:`SSEResponse` writes each chunk its body yields (whole SSE messages, bytes) as one
``http.response.body`` message, with nothing else per write: no cancel scope, lock or timer. The body's
producer already joins the messages of every event ready at once into one chunk
(:mod:`streamflow.server.stream`), so a client that reads slowly gets few large writes, not many small ones.
Around the writes, for the whole response:

* a task waits for the client's ``http.disconnect``; it then calls ``on_disconnect`` and stops the writes
  (the body is closed, so its ``finally`` runs). A send that raises :class:`OSError` (an ASGI server of spec
  2.4 telling the client went away) counts as a disconnect too.
* a task writes a keep-alive comment (``: ping``) when nothing was written for ``ping`` seconds, so proxies
  do not close an idle stream.
* a graceful shutdown of the uvicorn server serving the app (Ctrl+C, SIGTERM, ``server.should_exit``) ends
  the open streams within :data:`SHUTDOWN_POLL` seconds: the response finishes its body and the server can
  close the connection, instead of waiting for runs that may never end. Under other servers a stream ends
  when its body does or its client leaves.

``HEAD`` is answered with the headers and an empty body; the body is not started.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..errors import InvalidArgumentError
from .encoding import sse_comment

__all__ = ["PING", "SHUTDOWN_POLL", "SSEResponse"]

PING = sse_comment("ping")
"""The keep-alive comment written to an idle stream."""
SHUTDOWN_POLL = 0.5
"""Seconds between two looks at whether the serving uvicorn server is shutting down (while streams are open)."""


class SSEResponse(Response):
    """A ``text/event-stream`` response writing the chunks of ``body`` as they come (see the module docstring).

    :param body: the stream's chunks, bytes of whole SSE messages each; closed (``aclose``) when the response
        ends, whichever way it ends
    :param ping: seconds without a write after which a keep-alive comment is written (0: never)
    :param on_disconnect: awaited once when the client goes away before the body ended (not at a shutdown)
    :param headers: extra response headers (``Cache-Control: no-store`` unless given)
    :raises InvalidArgumentError: for a negative ``ping``
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        ping: float = 15.0,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(ping, (int, float)) or ping < 0:
            raise InvalidArgumentError(f"ping must be a number of seconds >= 0, got {ping!r}")
        self.body_iterator = body
        self.status_code = 200
        self.background = None
        self.ping = float(ping)
        self.on_disconnect = on_disconnect
        self.disconnected = False
        """True once the client went away before the body ended."""
        self._last_write = 0.0  # loop time of the last write
        all_headers = {"Cache-Control": "no-store", **(headers or {})}
        all_headers.update({"Connection": "keep-alive", "X-Accel-Buffering": "no"})
        self.init_headers(all_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope.get("method") == "HEAD":
            await self._close_body()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        error: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                stop = tg.cancel_scope
                tg.start_soon(self._listen, receive, stop)
                if self.ping:
                    tg.start_soon(self._keep_alive, send, stop)
                with _ended_at_shutdown(stop):
                    try:
                        await self._write(send)
                    except OSError:  # the client went away (ASGI 2.4 servers raise it from send)
                        self.disconnected = True
                    except Exception as exc:
                        error = exc
                stop.cancel()
        finally:
            await self._close_body()
        if error is not None:
            raise error
        if self.disconnected:
            if self.on_disconnect is not None:
                await self.on_disconnect()
            return
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            self.disconnected = True

    async def _write(self, send: Send) -> None:
        """Send each chunk of the body as it comes, until the body ends."""
        clock = asyncio.get_running_loop().time
        self._last_write = clock()
        async for chunk in self.body_iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._last_write = clock()

    async def _listen(self, receive: Receive, stop: anyio.CancelScope) -> None:
        """Wait for the client's disconnect, then stop the writes."""
        while (await receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True
        stop.cancel()

    async def _keep_alive(self, send: Send, stop: anyio.CancelScope) -> None:
        """Write :data:`PING` whenever nothing was written for ``ping`` seconds; a send raising
        :class:`OSError` (the client went away) stops the writes."""
        clock = asyncio.get_running_loop().time
        while True:
            idle = clock() - self._last_write
            if idle >= self.ping:
                try:
                    await send({"type": "http.response.body", "body": PING, "more_body": True})
                except OSError:
                    self.disconnected = True
                    stop.cancel()
                    return
                self._last_write = clock()
                idle = 0.0
            await anyio.sleep(self.ping - idle)

    async def _close_body(self) -> None:
        aclose = getattr(self.body_iterator, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()


# -- shutdown --------------------------------------------------------------------------------------------


class _ShutdownWatch:
    """The responses open in one event loop, and the task that ends them when the serving uvicorn server
    starts a graceful shutdown (it runs while one is open)."""

    __slots__ = ("scopes", "task")

    def __init__(self) -> None:
        self.scopes: set[anyio.CancelScope] = set()
        self.task: asyncio.Task[None] | None = None


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ShutdownWatch] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def _ended_at_shutdown(scope: anyio.CancelScope) -> Iterator[None]:
    """While entered, ``scope`` is cancelled when the uvicorn server of this process starts a graceful shutdown."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = _ShutdownWatch()
    watch.scopes.add(scope)
    if watch.task is None:
        watch.task = loop.create_task(_watch(watch))
    try:
        yield
    finally:
        watch.scopes.discard(scope)
        if not watch.scopes and watch.task is not None:
            watch.task.cancel()
            watch.task = None


def _serving_uvicorn() -> Any:
    """The uvicorn server whose signal handlers are installed in this process, or None.

    uvicorn installs its ``Server.handle_exit`` (a bound method) for SIGINT and SIGTERM while it serves from the
    main thread; the server's ``should_exit`` turns True when a graceful shutdown starts.
    """
    handler = signal.getsignal(signal.SIGTERM)
    server = getattr(handler, "__self__", None)
    return server if hasattr(server, "should_exit") else None


async def _watch(watch: _ShutdownWatch) -> None:
    """Cancel every scope of ``watch`` once the serving uvicorn server is shutting down."""
    while True:
        await asyncio.sleep(SHUTDOWN_POLL)
        server = _serving_uvicorn()
        if server is not None and server.should_exit:
            for scope in list(watch.scopes):
                scope.cancel()
