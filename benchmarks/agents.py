"""Scenarios for LangChain v1's ``create_agent``, with langchain's same agent measured side by side when it is
installed.

``agent_tokens_messages``
    tokens/s of a ``create_agent`` run consumed with ``astream(stream_mode="messages")``: the model first asks
    for one tool call, then streams a scripted answer of ``n`` tokens (no delay); every non-empty text token
    of the ``model`` node is counted and the count must be ``n``. The notes give the delay from a token
    leaving the model to the consumer receiving it, p50 and p99.

The ``lc_`` twin runs langchain's ``create_agent`` with a scripted langchain-core chat model that streams the
same tool call, then ``"a a a ..."`` token by token (``n`` tokens are ``n // 2`` words and as many spaces,
less one).
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

from .chains import _expected, _percentiles
from .harness import Sample, scenario

HAVE_LANGCHAIN = importlib.util.find_spec("langchain") is not None and importlib.util.find_spec("langchain.agents")
_TARGET = 5.0
_CALL = {"name": "lookup", "args": {"q": "x"}, "id": "call_1"}


def lookup(q: str) -> str:
    """Look something up."""
    return f"found {q}"


def _sf_agent(n: int, stamps: list[float]) -> Any:
    from streamflow.agents import create_agent
    from streamflow.messages import AIMessage
    from streamflow.models import FakeChatModel

    class Timed(FakeChatModel):
        async def _astream_chunks(self, messages: Any) -> Any:
            async for chunk in super()._astream_chunks(messages):
                if chunk.content:
                    stamps.append(time.perf_counter())
                yield chunk

    model = Timed([AIMessage(content="", tool_calls=[_CALL]), "a" * n], chunk_size=1)
    return create_agent(model, tools=[lookup])


def _lc_agent(n: int, stamps: list[float]) -> Any:
    import json

    from langchain.agents import create_agent
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    words = (n + 1) // 2
    calls = [0]

    class Timed(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "timed"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
            raise NotImplementedError("streamed only")

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
            calls[0] += 1
            if calls[0] == 1:
                piece = {"name": _CALL["name"], "args": json.dumps(_CALL["args"]), "id": _CALL["id"], "index": 0}
                yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[piece]))
                return
            for i in range(2 * words - 1):
                text = "a" if i % 2 == 0 else " "
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                stamps.append(time.perf_counter())
                yield chunk

    return create_agent(Timed(), tools=[lookup])


def _messages(build: Any, langchain: bool) -> Any:
    async def bench(n: int) -> Sample:
        sent: list[float] = []
        received: list[float] = []
        agent = build(n, sent)
        count = 0
        clock = time.perf_counter
        start = clock()
        async for token, metadata in agent.astream(
            {"messages": [{"role": "user", "content": "go"}]}, stream_mode="messages"
        ):
            if metadata["langgraph_node"] == "model" and isinstance(token.content, str) and token.content:
                received.append(clock())
                count += 1
        elapsed = clock() - start
        expected = _expected(n, langchain)
        assert count == expected, f"expected {expected} tokens, got {count}"
        return Sample(count, elapsed, _percentiles(sent, received))

    return bench


if HAVE_LANGCHAIN:
    scenario("lc_agent_tokens_messages", unit="tokens/s", n=5_000, quick_n=2_000, repeats=3)(_messages(_lc_agent, True))

scenario(
    "agent_tokens_messages",
    unit="tokens/s",
    n=50_000,
    quick_n=10_000,
    baseline="lc_agent_tokens_messages" if HAVE_LANGCHAIN else "queue_1to1",
    targets={"lc_agent_tokens_messages": _TARGET} if HAVE_LANGCHAIN else None,
)(_messages(_sf_agent, False))
