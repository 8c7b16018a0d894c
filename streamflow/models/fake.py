"""A scripted chat model for tests and demos: answers from a list, chunked as configured."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Literal

import anyio
import anyio.lowlevel

from ..messages import AIMessage, AIMessageChunk, BaseMessage
from .base import BaseChatModel

__all__ = ["YIELD_EVERY", "FakeChatModel"]

YIELD_EVERY = 64
"""Without a delay, the model lets the event loop run other tasks once every this many chunks, as a model
waiting on the network would: consumers keep up with it instead of the run buffering thousands of chunks."""


class FakeChatModel(BaseChatModel):
    """Answers with ``responses`` in turn (cycling), each a string or an :class:`AIMessage` (with
    ``tool_calls``).

    :param chunk_size: characters of text per chunk (> 0); tool-call arguments are streamed in pieces of the
        same size
    :param delay: seconds to sleep before each chunk (0 for none: then it checkpoints every
        :data:`YIELD_EVERY` chunks)
    :param disable_streaming: LangChain's (:attr:`BaseChatModel.disable_streaming`)

    Like LangChain's fake chat models (``GenericFakeChatModel``, ``FakeListChatModel``) it names no provider
    and no model: its ``messages`` metadata has ``ls_provider`` derived from the class name by LangChain's
    rule (``"fakechatmodel"``; a subclass ``ChatScripted`` gets ``"scripted"``, as a ``GenericFakeChatModel``
    subclass of that name does) and no ``ls_model_name``. Its final chunk has ``chunk_position="last"``.
    """

    def __init__(
        self,
        responses: Sequence[str | AIMessage],
        *,
        chunk_size: int = 4,
        delay: float = 0.0,
        tags: Sequence[str] = (),
        name: str | None = None,
        disable_streaming: bool | Literal["tool_calling"] = False,
    ) -> None:
        super().__init__(tags=tags, name=name, disable_streaming=disable_streaming)
        if not responses:
            raise ValueError("FakeChatModel needs at least one response")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive number of characters, got {chunk_size!r}")
        self.responses = list(responses)
        self.chunk_size = chunk_size
        self.delay = delay
        self.calls = 0

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        response = self.responses[self.calls % len(self.responses)]
        self.calls += 1
        message = AIMessage(content=response) if isinstance(response, str) else response
        size = self.chunk_size
        text = message.text
        delay = self.delay
        calls = message.tool_calls
        # the final chunk says so (chunk_position="last"), as LangChain's fake models' do
        last_start = -1 if calls or not text else len(text) - 1 - (len(text) - 1) % size
        for n, start in enumerate(range(0, len(text), size)):
            if delay:
                await anyio.sleep(delay)
            elif not n % YIELD_EVERY:
                await anyio.lowlevel.checkpoint()
            if start == last_start:
                yield AIMessageChunk(content=text[start : start + size], chunk_position="last")
            else:
                yield AIMessageChunk(content=text[start : start + size])
        for index, call in enumerate(calls):
            args = json.dumps(call["args"])
            pieces = [args[i : i + size] for i in range(0, len(args), size)] or [""]
            final = len(pieces) - 1 if index == len(calls) - 1 else -1
            for n, piece in enumerate(pieces):
                first = n == 0
                yield AIMessageChunk(
                    chunk_position="last" if n == final else None,
                    tool_call_chunks=[
                        {
                            "name": call["name"] if first else None,
                            "args": piece,
                            "id": call["id"] if first else None,
                            "index": index,
                        }
                    ],
                )
