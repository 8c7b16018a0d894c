"""A scripted server on loopback speaking OpenAI's chat-completions streaming wire format.

Each request to ``POST /v1/chat/completions`` takes the next :class:`Reply` of the script: a stream of
server-sent events (``data: {chunk}`` lines, then ``data: [DONE]``) in chunked transfer encoding, an HTTP
error status with OpenAI's error body, a stream whose connection is cut mid-way, or no answer at all.
Every request body is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence
from typing import Any

import attrs

MODEL = "wire-test-model"


@attrs.frozen
class Reply:
    """One scripted answer."""

    events: Sequence[dict[str, Any] | str] = ()
    """SSE data payloads, in order (dicts are sent as JSON, strings as they are)."""
    status: int = 200
    """HTTP status; other than 200, the answer is OpenAI's JSON error body with ``message``."""
    message: str = ""
    """The error message for a non-200 status."""
    cut: bool = False
    """Abort the connection after the events, without ``[DONE]`` or the last chunk of the body."""
    silent: bool = False
    """Read the request and never answer."""


def chunk(
    content: str | None = None, *, tool_calls: list[dict[str, Any]] | None = None, finish: str | None = None
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` with one choice carrying ``content`` and/or ``tool_calls`` deltas."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def text_reply(pieces: Sequence[str]) -> Reply:
    """A streamed text answer: a role chunk, one chunk per piece, a ``stop`` chunk."""
    first = chunk()
    first["choices"][0]["delta"]["role"] = "assistant"
    return Reply(events=[first, *(chunk(p) for p in pieces), chunk(finish="stop")])


def tool_call_reply(calls: Sequence[tuple[str, str, Sequence[str]]]) -> Reply:
    """A streamed tool-call answer: for each ``(id, name, argument pieces)``, a first delta with id and name,
    then one delta per piece of the JSON arguments; finish reason ``tool_calls``."""
    events: list[dict[str, Any] | str] = []
    for index, (call_id, name, pieces) in enumerate(calls):
        events.append(
            chunk(
                tool_calls=[
                    {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                ]
            )
        )
        events.extend(chunk(tool_calls=[{"index": index, "function": {"arguments": p}}]) for p in pieces)
    events.append(chunk(finish="tool_calls"))
    return Reply(events=events)


class WireServer:
    """Serves ``script`` on ``127.0.0.1`` (a free port) while used as an async context manager."""

    def __init__(self, *script: Reply) -> None:
        self.script: deque[Reply] = deque(script)
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> WireServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._open.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(json.loads(body) if body else {})
            reply = self.script.popleft()
            if reply.silent:
                await reader.read()  # until the client gives up and closes
                return
            if reply.status != 200:
                payload = json.dumps(
                    {"error": {"message": reply.message, "type": "invalid_request_error", "code": None}}
                )
                data = payload.encode()
                writer.write(
                    f"HTTP/1.1 {reply.status} Error\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(data)}\r\nconnection: close\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
                return
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            )
            for event in reply.events:
                text = event if isinstance(event, str) else json.dumps(event)
                self._write_chunk(writer, f"data: {text}\n\n".encode())
                await writer.drain()
            if reply.cut:
                writer.transport.abort()
                return
            self._write_chunk(writer, b"data: [DONE]\n\n")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._open.discard(writer)
            self._handlers.discard(task)
            writer.close()

    @staticmethod
    def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
