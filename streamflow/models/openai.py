"""A chat model for any server that speaks OpenAI's chat-completions API (OpenAI, vLLM, Ollama, llama.cpp).

Built on the official ``openai`` SDK's async client (the ``openai`` extra). Answers are always requested
with ``stream=True``: each text delta becomes an :class:`AIMessageChunk` with ``content``, each tool-call
delta one with ``tool_call_chunks`` (``{"name", "args", "id", "index"}``, merged by ``index`` when chunks are
added, as in LangChain's ``ChatOpenAI``). Tool-call arguments that are not valid JSON end up in the final
message's ``invalid_tool_calls``; they never raise.

Failures raise a :class:`~streamflow.errors.ChatModelError` subclass, with the SDK's exception as the
``__cause__``; inside a run, the call's ``ChatModelFinished`` event carries ``error_type`` and
``error_message`` before the run fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

from ..errors import (
    ChatModelConnectionError,
    ChatModelStatusError,
    ChatModelStreamError,
    InvalidArgumentError,
    MissingExtraError,
)
from ..messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from .base import BaseChatModel

try:
    import openai
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("streamflow.models.openai", "openai", "openai") from exc

__all__ = ["OpenAIChatModel", "to_openai_messages"]

_PLACEHOLDER_KEY = "not-needed"


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Return ``messages`` in the chat-completions wire format (``{"role", "content", ...}`` dicts).

    An :class:`AIMessage` with tool calls becomes an assistant message with ``tool_calls`` (arguments
    serialised as JSON strings); a :class:`ToolMessage` becomes a ``"tool"`` message with its
    ``tool_call_id``.

    :raises InvalidArgumentError: for a message type the API has no role for
    """
    wire: list[dict[str, Any]] = []
    for msg in messages:
        if isinstance(msg, SystemMessage):
            wire.append({"role": "system", "content": msg.content})
        elif isinstance(msg, HumanMessage):
            wire.append({"role": "user", "content": msg.content})
        elif isinstance(msg, AIMessage):
            entry: dict[str, Any] = {"role": "assistant", "content": msg.content}
            if msg.tool_calls:
                entry["content"] = msg.content or None
                entry["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
                    }
                    for call in msg.tool_calls
                ]
            wire.append(entry)
        elif isinstance(msg, ToolMessage):
            wire.append({"role": "tool", "content": msg.content, "tool_call_id": msg.tool_call_id})
        else:
            raise InvalidArgumentError(
                f"cannot send a {type(msg).__name__} to a chat-completions API; "
                "allowed: SystemMessage, HumanMessage, AIMessage, ToolMessage"
            )
    return wire


class OpenAIChatModel(BaseChatModel):
    """Streams answers from an OpenAI-compatible ``/chat/completions`` endpoint (LangChain's ``ChatOpenAI``).

    :param model: the model name the server knows (``ls_model_name``), e.g. ``"gpt-4o-mini"``
    :param base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"``; default: ``OPENAI_BASE_URL`` or
        OpenAI's own
    :param api_key: default: ``OPENAI_API_KEY``, else a placeholder (local servers need none)
    :param temperature: sampling temperature, or None for the server's default
    :param max_tokens: the most tokens to generate per call, or None for the server's default
    :param stop: sequences that end the answer
    :param timeout: seconds to wait for the server before raising ``ChatModelConnectionError`` (connect,
        and between two pieces of the stream)
    :param max_retries: how many times the SDK retries a failed request (connection errors, 408, 409, 429,
        5xx) before raising
    :param provider: ``ls_provider`` in events and ``messages`` metadata
    :param extra_body: extra JSON fields sent with every request (server-specific options)
    :raises InvalidArgumentError: for an empty ``model``, a negative ``timeout``, ``max_tokens`` or
        ``max_retries``
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] = (),
        timeout: float = 60.0,
        max_retries: int = 2,
        provider: str = "openai",
        extra_body: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        name: str | None = None,
        disable_streaming: bool | Literal["tool_calling"] = False,
    ) -> None:
        super().__init__(tags=tags, name=name, disable_streaming=disable_streaming)
        self.client_options = client_options(model, "gpt-4o-mini", base_url, api_key, timeout, max_tokens, max_retries)
        self.model_name = model
        self.provider = provider
        self.base_url = self.client_options["base_url"]
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stop = list(stop)
        self.extra_body = dict(extra_body or {})
        self.timeout = timeout

    def request(self, messages: Sequence[BaseMessage]) -> dict[str, Any]:
        """The keyword arguments of ``client.chat.completions.create`` for ``messages`` (always streaming)."""
        body: dict[str, Any] = {"model": self.model_name, "messages": to_openai_messages(messages), "stream": True}
        if self.tool_specs:
            body["tools"] = self.tool_specs
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.stop:
            body["stop"] = self.stop
        if self.extra_body:
            body["extra_body"] = self.extra_body
        return body

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        """Yield the server's deltas as chunks.

        :raises ChatModelStatusError: the server answered 4xx/5xx (after the SDK's retries)
        :raises ChatModelConnectionError: the server could not be reached or went silent past ``timeout``
        :raises ChatModelStreamError: the stream broke off, carried an error event or unreadable data, or
            ended without a ``finish_reason``
        """
        received = 0
        finished = False
        # One client per call: its connections belong to this call's event loop (sync calls each run on a
        # loop of their own) and are closed when the call ends, however it ends.
        client = openai.AsyncOpenAI(**self.client_options)
        where = f"chat model {self.model_name!r} at {client.base_url}"
        try:
            async with client, await client.chat.completions.create(**self.request(messages)) as stream:
                async for event in stream:
                    received += 1
                    if not event.choices:
                        continue
                    choice = event.choices[0]
                    delta = choice.delta
                    pieces = [
                        {
                            "name": call.function.name if call.function else None,
                            "args": (call.function.arguments if call.function else None) or "",
                            "id": call.id,
                            "index": call.index,
                        }
                        for call in delta.tool_calls or ()
                    ]
                    meta: dict[str, Any] = {}
                    if choice.finish_reason:
                        finished = True
                        meta = {"finish_reason": choice.finish_reason, "model_name": event.model}
                    if delta.content or pieces or meta:
                        yield AIMessageChunk(
                            content=delta.content or "", tool_call_chunks=pieces, response_metadata=meta
                        )
        except (openai.OpenAIError, ValueError) as exc:
            raise answer_stream_error(exc, where, received, self.timeout, self.model_name) from exc
        if not finished:
            raise unfinished_stream_error(where, received, self.model_name)


def answer_stream_error(exc: Exception, where: str, received: int, timeout: float, model_name: str) -> Exception:
    """The streamflow error for ``exc``, raised by the OpenAI SDK (or a ``ValueError`` reading its answer) while
    ``where`` (a model at a server) streamed an answer, after ``received`` stream events:
    :class:`~streamflow.errors.ChatModelStatusError` for an HTTP error status,
    :class:`~streamflow.errors.ChatModelConnectionError` for a timeout (``timeout`` seconds) or a server
    that could not be reached, :class:`~streamflow.errors.ChatModelStreamError` for a connection that broke
    off mid-answer or an unreadable answer."""
    if isinstance(exc, openai.APIStatusError):
        return ChatModelStatusError(
            f"{where} answered HTTP {exc.status_code}: {exc.message}",
            status_code=exc.status_code,
            model_name=model_name,
        )
    if isinstance(exc, openai.APITimeoutError):
        return ChatModelConnectionError(
            f"{where} sent nothing for {timeout} seconds ({received} stream events received)", model_name=model_name
        )
    if isinstance(exc, openai.APIConnectionError):
        if received:
            return ChatModelStreamError(
                f"{where}: the connection broke off after {received} stream events, before the model finished",
                model_name=model_name,
            )
        return ChatModelConnectionError(f"{where} could not be reached: {exc}", model_name=model_name)
    return ChatModelStreamError(
        f"{where}: unreadable answer stream after {received} events: {exc}", model_name=model_name
    )


def unfinished_stream_error(where: str, received: int, model_name: str) -> ChatModelStreamError:
    """The error for an answer stream from ``where`` that ended after ``received`` events with no
    ``finish_reason``."""
    return ChatModelStreamError(
        f"{where}: the answer stream ended after {received} events, before the model finished (no finish_reason)",
        model_name=model_name,
    )


def client_options(
    model: str,
    example: str,
    base_url: str | None,
    api_key: str | None,
    timeout: float,
    max_tokens: int | None,
    max_retries: int,
) -> dict[str, Any]:
    """Check the request options shared by the OpenAI-compatible models and return the ``openai.AsyncOpenAI``
    keyword arguments: ``base_url`` (default ``OPENAI_BASE_URL``), ``api_key`` (default ``OPENAI_API_KEY``,
    else a placeholder local servers accept), ``timeout`` (seconds) and ``max_retries``.

    :raises InvalidArgumentError: for an empty ``model`` (the message shows ``example``), a ``timeout`` that is
        not positive, a ``max_tokens`` that is not positive or None, or a negative ``max_retries``
    """
    if not model:
        raise InvalidArgumentError(f"model must name the server's model, e.g. {example!r}")
    if timeout <= 0:
        raise InvalidArgumentError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_tokens is not None and max_tokens <= 0:
        raise InvalidArgumentError(f"max_tokens must be a positive number of tokens or None, got {max_tokens!r}")
    if max_retries < 0:
        raise InvalidArgumentError(f"max_retries must be 0 or more, got {max_retries!r}")
    return {
        "base_url": base_url or os.environ.get("OPENAI_BASE_URL"),
        "api_key": api_key or os.environ.get("OPENAI_API_KEY") or _PLACEHOLDER_KEY,
        "timeout": timeout,
        "max_retries": max_retries,
    }
