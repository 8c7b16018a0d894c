"""Scripted string LLMs for tests, as LangChain's ``langchain_core.language_models.fake``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anyio

from ..errors import FakeListLLMError as FakeListLLMError
from ..errors import InvalidArgumentError
from ..runnables.context import StepContext
from .llms import BaseLLM

__all__ = ["FakeListLLM", "FakeListLLMError", "FakeStreamingListLLM"]


class FakeListLLM(BaseLLM):
    """Answers with ``responses`` in turn, cycling, each whole (LangChain's ``FakeListLLM``): ``astream``
    yields the answer once.

    :param responses: the answers (at least one)
    :param sleep: seconds :class:`FakeStreamingListLLM` sleeps before each character (ignored here)
    :ivar i: the index of the next answer
    :raises InvalidArgumentError: for no responses, or a response that is not a string
    """

    def __init__(
        self,
        *,
        responses: Sequence[str],
        sleep: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not responses or not all(isinstance(r, str) for r in responses):
            raise InvalidArgumentError(f"responses must be a non-empty list of strings, got {responses!r}")
        self.responses = list(responses)
        self.sleep = sleep
        self.i = 0

    def _next(self) -> str:
        response = self.responses[self.i]
        self.i = self.i + 1 if self.i < len(self.responses) - 1 else 0
        return response

    async def _acomplete(self, prompt: str) -> str:
        return self._next()


class FakeStreamingListLLM(FakeListLLM):
    """:class:`FakeListLLM` whose ``astream`` yields each answer one character at a time, sleeping ``sleep``
    seconds before each when set (LangChain's ``FakeStreamingListLLM``). As LangChain's, it computes the
    answer whole and then splits it: its events are those of a whole answer (``on_llm_start``,
    ``on_llm_end``, no ``on_llm_stream``), and in a chain the next step gets the characters.

    :param error_on_chunk_number: raise :class:`FakeListLLMError` instead of yielding this chunk (0-based)
    """

    def __init__(
        self,
        *,
        responses: Sequence[str],
        sleep: float | None = None,
        error_on_chunk_number: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(responses=responses, sleep=sleep, name=name)
        self.error_on_chunk_number = error_on_chunk_number

    async def _characters(self, text: str) -> AsyncIterator[str]:
        for n, char in enumerate(text):
            if self.sleep is not None:
                await anyio.sleep(self.sleep)
            if n == self.error_on_chunk_number:
                raise FakeListLLMError
            yield char

    async def _atransform(self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any) -> AsyncIterator[str]:
        async for text in super()._atransform(chunks, ctx, **kwargs):
            async for char in self._characters(text):
                yield char

    async def _call_stream(
        self,
        chunks: AsyncIterator[Any],
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[str]:
        async for text in super()._call_stream(chunks, parent, local_tags, config, **kwargs):
            async for char in self._characters(text):
                yield char
