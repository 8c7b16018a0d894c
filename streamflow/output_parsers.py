"""Output parsers (LangChain's ``langchain_core.output_parsers``): Runnables turning a model's output into
text or data, streaming as they read.

:class:`StrOutputParser` passes each chunk's text on as it comes; :class:`JsonOutputParser` yields the JSON
object read so far each time it grows (a cut-off string or list is completed, as LangChain reads partial
JSON). Their events are ``on_parser_*`` (run type ``"parser"``).

Their input is a string or a message (chunk): anything else raises
:class:`~streamflow.errors.OutputParserException` (a ``ValueError``, as LangChain's validation error is)
naming what it got.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from .errors import OutputParserException
from .messages import BaseMessage, _partial_json
from .runnables.base import Runnable
from .runnables.context import StepContext

__all__ = ["BaseOutputParser", "JsonOutputParser", "StrOutputParser"]


def _text(value: Any, parser: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return value.text
    raise OutputParserException(f"{parser} takes a string or a message, got {type(value).__name__}: {value!r}")


class BaseOutputParser(Runnable[Any, Any]):
    """Base of output parsers: :meth:`parse` reads a whole text."""

    run_type = "parser"

    def parse(self, text: str) -> Any:
        """The parsed value of ``text``."""
        raise NotImplementedError

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> Any:
        return self.parse(_text(input, type(self).__name__))


class StrOutputParser(BaseOutputParser):
    """The text of a message (or a string as it is); streaming passes each chunk's text on at once."""

    streams_input = True

    def parse(self, text: str) -> str:
        return text

    async def _atransform(self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any) -> AsyncIterator[str]:
        name = type(self).__name__
        async for chunk in chunks:
            yield _text(chunk, name)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*(?:```|$)", re.DOTALL)


def _strip_fence(text: str) -> str:
    text = text.strip()
    match = _FENCE.search(text)
    return match.group(1) if match and text.startswith("```") else text


class JsonOutputParser(BaseOutputParser):
    """JSON from the text (a surrounding ```` ```json ```` fence is removed). Streaming yields the object
    read so far each time it changes, a cut-off value completed (``'{"a": [1'`` reads as ``{"a": [1]}``).

    :raises OutputParserException: (when run) for text that is not JSON (``Invalid json output: <text>``,
        LangChain's message), or an input that is neither a string nor a message
    """

    streams_input = True

    def parse(self, text: str) -> Any:
        try:
            return json.loads(_strip_fence(text))
        except json.JSONDecodeError as exc:
            raise OutputParserException(f"Invalid json output: {text}") from exc

    async def _atransform(self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Any]:
        name = type(self).__name__
        text = ""
        last: Any = None
        async for chunk in chunks:
            text += _text(chunk, name)
            body = _strip_fence(text)
            if not body:
                continue
            try:
                parsed = _partial_json(body)
            except ValueError:
                continue
            if parsed is not None and parsed != last:
                last = parsed
                yield parsed
