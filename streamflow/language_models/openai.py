"""A string LLM for any server that speaks OpenAI's completions API (``/v1/completions``: OpenAI, vLLM,
llama.cpp's server), as LangChain's ``langchain_openai.OpenAI``.

Built on the official ``openai`` SDK's async client (the ``openai`` extra); answers are always requested with
``stream=True`` and each text piece is a chunk of the call. Failures raise the same errors as the chat
model (:mod:`streamflow.models.openai`), with the SDK's exception as the ``__cause__``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..errors import MissingExtraError
from .llms import BaseLLM

try:
    import openai
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("streamflow.language_models.openai", "openai", "openai") from exc

from ..models.openai import answer_stream_error, client_options, unfinished_stream_error

__all__ = ["OpenAICompletionsLLM"]


class OpenAICompletionsLLM(BaseLLM):
    """Streams completions of a prompt from an OpenAI-compatible ``/completions`` endpoint.

    :param model: the model name the server knows
    :param base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"``; default: ``OPENAI_BASE_URL`` or
        OpenAI's own
    :param api_key: default: ``OPENAI_API_KEY``, else a placeholder (local servers need none)
    :param temperature: sampling temperature, or None for the server's default
    :param max_tokens: the most tokens to generate per call, or None for the server's default
    :param stop: sequences that end the answer
    :param timeout: seconds to wait for the server (connect, and between two pieces of the stream) before
        raising ``ChatModelConnectionError``
    :param max_retries: how many times the SDK retries a failed request before raising
    :param extra_body: extra JSON fields sent with every request
    :raises InvalidArgumentError: for an empty ``model``, a ``timeout`` that is not positive, a ``max_tokens``
        that is not positive, or a negative ``max_retries``

    Calls raise ``ChatModelStatusError`` (HTTP 4xx/5xx), ``ChatModelConnectionError`` (unreachable, or silent
    past ``timeout``) or ``ChatModelStreamError`` (the stream broke off, was unreadable, or ended without a
    ``finish_reason``).
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
        extra_body: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.client_options = client_options(
            model, "gpt-3.5-turbo-instruct", base_url, api_key, timeout, max_tokens, max_retries
        )
        self.model_name = model
        self.base_url = self.client_options["base_url"]
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stop = list(stop)
        self.extra_body = dict(extra_body or {})
        self.timeout = timeout

    def request(self, prompt: str) -> dict[str, Any]:
        """The keyword arguments of ``client.completions.create`` for ``prompt`` (always streaming)."""
        body: dict[str, Any] = {"model": self.model_name, "prompt": prompt, "stream": True}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.stop:
            body["stop"] = self.stop
        if self.extra_body:
            body["extra_body"] = self.extra_body
        return body

    async def _astream_text(self, prompt: str) -> AsyncIterator[str]:
        received = 0
        finished = False
        client = openai.AsyncOpenAI(**self.client_options)  # one per call: its connections close with it
        where = f"completions model {self.model_name!r} at {client.base_url}"
        try:
            async with client, await client.completions.create(**self.request(prompt)) as stream:
                async for event in stream:
                    received += 1
                    for choice in event.choices[:1]:
                        if choice.finish_reason:
                            finished = True
                        if choice.text:
                            yield choice.text
        except (openai.OpenAIError, ValueError) as exc:
            raise answer_stream_error(exc, where, received, self.timeout, self.model_name) from exc
        if not finished:
            raise unfinished_stream_error(where, received, self.model_name)
