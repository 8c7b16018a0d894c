"""String LLMs: text in, text out (LangChain's ``langchain_core.language_models.llms``: ``BaseLLM``, ``LLM``).

A string LLM is a Runnable whose run type is ``llm``: called in a run (a chain step, a graph node) it
publishes its ``RunnableStarted``, a ``RunnableChunk`` per piece of text and ``RunnableFinished``, so
``astream_events`` shows ``on_llm_start``, ``on_llm_stream`` and ``on_llm_end`` as LangChain does (the end's
output in LangChain's ``LLMResult`` form, ``{"generations": [[{"text", ...}]], "llm_output": None}``), and
``astream()`` yields ``str`` chunks. In a chain, ``prompt | llm | StrOutputParser()`` streams its text.

Subclasses of :class:`BaseLLM` implement :meth:`BaseLLM._astream_text` (it streams) or only
:meth:`BaseLLM._acomplete` (a whole answer: ``astream`` yields it once, as LangChain falls back for an LLM
without ``_stream``); :class:`LLM` takes the sync twins, run in a worker thread. These hooks are named
apart from LangChain's ``_call``/``_stream`` (a ``Runnable`` here already has a ``_call``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from .. import workers
from ..errors import InvalidArgumentError
from ..graph.context import _current
from ..messages import BaseMessage
from ..prompt_values import ChatPromptValue, PromptValue
from ..runnables.base import Runnable
from ..runnables.config import merge_configs
from ..runnables.context import Accumulator, Call, StepContext
from ..runnables.utils import END, gather, one

__all__ = ["LLM", "BaseLLM", "prompt_text"]


def prompt_text(value: Any) -> str:
    """The prompt text of a string LLM's input, as LangChain converts it: a string as it is, a prompt value's
    ``to_string()``, a list of messages (or message tuples/dicts) as its buffer string (``"Human: hi"`` lines).

    :raises InvalidArgumentError: for anything else (what is allowed named)
    """
    if isinstance(value, str):
        return value
    if isinstance(value, PromptValue):
        return value.to_string()
    if isinstance(value, Sequence) and all(isinstance(m, (BaseMessage, tuple, dict)) for m in value):
        from ..messages import coerce_message

        return ChatPromptValue(messages=[coerce_message(m) for m in value]).to_string()
    raise InvalidArgumentError(
        f"Invalid input type {type(value)}. Must be a PromptValue, str, or list of BaseMessages."
    )


class BaseLLM(Runnable[Any, str]):
    """Base of string LLMs (LangChain's ``BaseLLM``): input a string, a prompt value or messages; output a
    string. Subclasses implement :meth:`_astream_text` or :meth:`_acomplete`.

    :param name: its name in events (default: its class name)
    """

    run_type = "llm"
    streams_input = True
    provider: str = ""
    """LangChain's ``ls_provider`` in the call's metadata; empty: the class name without a trailing ``LLM``,
    lowercased (LangChain's default: ``FakeListLLM`` -> ``"fakelist"``)."""

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name

    @property
    def streams_output(self) -> bool:  # type: ignore[override]
        return self._streams()

    async def _astream_text(self, prompt: str) -> AsyncIterator[str]:
        """Yield the answer to ``prompt`` in pieces. Subclasses implement this or :meth:`_acomplete`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _astream_text nor _acomplete")
        yield  # type: ignore[unreachable]  # pragma: no cover

    async def _acomplete(self, prompt: str) -> str:
        """The whole answer to ``prompt``; by default the pieces of :meth:`_astream_text` joined."""
        return "".join([piece async for piece in self._astream_text(prompt)])

    def _streams(self) -> bool:
        return type(self)._astream_text is not BaseLLM._astream_text

    def _ls_config(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """``config`` with LangChain's ``ls_provider`` and ``ls_model_type`` in its metadata."""
        provider = self.provider or type(self).__name__.removesuffix("LLM").lower()
        return merge_configs(config, {"metadata": {"ls_provider": provider, "ls_model_type": "llm"}})

    def _unbind(self, config: Mapping[str, Any] | None) -> tuple[Runnable[Any, Any], dict[str, Any], dict[str, Any]]:
        return self, self._ls_config(config), {}

    async def _call(
        self,
        input: Any,
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> str:
        return await super()._call(input, parent, local_tags, self._ls_config(config), **kwargs)

    # -- as a Runnable --------------------------------------------------------------------------------

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> str:
        return await self._acomplete(prompt_text(input))

    async def _atransform(self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any) -> AsyncIterator[str]:
        final = await gather(chunks)
        if final is END:
            return
        prompt = prompt_text(final)
        if not self._streams():
            yield await self._acomplete(prompt)
            return
        stream = self._astream_text(prompt)
        try:
            async for piece in stream:
                yield piece
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _call_stream(
        self,
        chunks: AsyncIterator[Any],
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[str]:
        """As a step of a streaming chain: the input added up first (the call starts with it, as LangChain's
        ``on_llm_start``), then the answer's pieces, each a ``RunnableChunk`` of the call; an LLM that does
        not stream answers whole, without chunk events."""
        final = await gather(chunks)
        if final is END:
            return
        if not self._streams():
            yield await self._call(final, parent, local_tags, config, **kwargs)
            return
        call = Call(parent, self._run_name(config), self.run_type, local_tags, self._ls_config(config), final, False)
        made = Accumulator()
        pieces = self._atransform(one(final), call.ctx, **kwargs)
        try:
            while True:
                token = _current.set(call.ctx)
                try:
                    piece = await anext(pieces, END)
                finally:
                    _current.reset(token)
                if piece is END:
                    break
                await call.chunk(piece)
                made.add(piece)
                yield piece
        except BaseException as exc:
            call.fail(final, exc)
            raise
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]
        call.finish(final, made.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LLM(BaseLLM):
    """A string LLM written with sync code (LangChain's ``LLM``): implement :meth:`_complete` (the whole
    answer) and, to stream, :meth:`_stream_text`; each runs in a worker thread."""

    def _complete(self, prompt: str) -> str:
        """The whole answer to ``prompt`` (sync). Subclasses implement this or :meth:`_stream_text`."""
        return "".join(self._stream_text(prompt))

    def _stream_text(self, prompt: str) -> Iterator[str]:
        """The answer to ``prompt`` in pieces (sync)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _complete nor _stream_text")

    def _streams(self) -> bool:
        return type(self)._stream_text is not LLM._stream_text

    async def _acomplete(self, prompt: str) -> str:
        return await workers.run_sync(lambda: self._complete(prompt), label=self.get_name())

    async def _astream_text(self, prompt: str) -> AsyncIterator[str]:
        pieces = iter(self._stream_text(prompt))
        while True:
            piece = await workers.run_sync(lambda: next(pieces, END), label=self.get_name())
            if piece is END:
                return
            yield piece
