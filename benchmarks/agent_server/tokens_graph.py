"""The graph ``benchmarks/protocol_sse.py`` streams from LangGraph's Agent Server (``langgraph dev``, loaded
through ``langgraph.json`` beside this file).

One node calls a chat model that answers as many tokens as the last input message says (its text is an int,
optionally followed by a pause in seconds: ``"2000"``, ``"250 0.02"``), each token the time it was made
(``time.time()`` in seconds, as text), and waits that pause after each (without one, it only yields to the
event loop, as a model reading from a network would). ``protocol_sse.py`` serves the same graph on
streamflow; the clients read each token's text to measure its delay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.graph import START, MessagesState, StateGraph


class TimestampTokens(BaseChatModel):
    """A chat model answering ``"<count> [<pause>]"`` (the last message) tokens, each the time it was made."""

    @property
    def _llm_type(self) -> str:
        return "timestamp-tokens"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=""))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError("this model streams only asynchronously")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        count, _, pause = str(messages[-1].content).partition(" ")
        for _ in range(int(count)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=f"{time.time():.6f}"))
            await asyncio.sleep(float(pause or 0))


async def speak(state: MessagesState) -> dict[str, Any]:
    return {"messages": [await TimestampTokens().ainvoke(state["messages"])]}


graph = StateGraph(MessagesState).add_node("speak", speak).add_edge(START, "speak").compile()
