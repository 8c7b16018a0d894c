"""A scripted tool-calling chat model written against each library's ``BaseChatModel``, for the differential
cases of agents: it answers with a list of turns in turn, the same way on both libraries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .conftest import Lib

Turn = tuple[str | None, list[dict[str, Any]]]
"""One answer of the scripted model: its text (None: the contents of its input messages, joined) and its tool
calls."""

Pieces = Callable[[Lib, str, list[dict[str, Any]]], Iterable[Any]]
"""How an answer streams: ``pieces(lib, text, calls)`` gives the ``AIMessageChunk``\\ s of ``lib`` for it."""


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A tool call as a chat model's message holds it."""
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def scripted_model(lib: Lib, turns: list[Turn], pieces: Pieces, *, joiner: str) -> Any:
    """A chat model of ``lib`` that answers with ``turns`` in turn (cycling), a text of None being the contents
    of the messages it got joined by ``joiner``; it streams an answer as ``pieces`` cuts it, and its
    ``bind_tools`` returns itself."""
    count = [0]

    def answer(messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
        text, calls = turns[count[0] % len(turns)]
        count[0] += 1
        return (joiner.join(str(m.content) for m in messages) if text is None else text), calls

    def chunks(messages: list[Any]) -> Iterable[Any]:
        text, calls = answer(messages)
        return pieces(lib, text, calls)

    class Scripted(lib.BaseChatModel):  # type: ignore[name-defined,misc]
        # LangChain's hooks
        @property
        def _llm_type(self) -> str:
            return "scripted"

        def _generate(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
            from langchain_core.outputs import ChatGeneration, ChatResult

            text, calls = answer(messages)
            return ChatResult(generations=[ChatGeneration(message=lib.AIMessage(content=text, tool_calls=calls))])

        def _stream(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any) -> Iterator[Any]:
            from langchain_core.outputs import ChatGenerationChunk

            for chunk in chunks(messages):
                yield ChatGenerationChunk(message=chunk)

        # streamflow's hook
        async def _astream_chunks(self, messages: list[Any]) -> Any:
            for chunk in chunks(messages):
                yield chunk

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    return Scripted()
