"""``langchain_openai.ChatOpenAI`` called in a streamflow node, over real HTTP on loopback: against a paced
OpenAI wire server (each token is sent only once the previous one reached the ``messages`` consumer), the
scripted wire server of ``tests/openai_wire.py`` (tool-call deltas), and llama.cpp's server with the packaged
Gemma model (when the ``local`` extra is installed)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

from tests.extras import require_extra

require_extra("langchain_openai", "langchain")

from langchain_openai import ChatOpenAI  # noqa: E402

from streamflow.graph import START, MessagesState, StateGraph  # noqa: E402
from streamflow.messages import AIMessage, AIMessageChunk  # noqa: E402
from tests.openai_wire import MODEL, WireServer, chunk, tool_call_reply  # noqa: E402
from tests.test_models_openai import llama_server  # noqa: E402, F401  (the fixture)

pytestmark = pytest.mark.anyio

WORDS = ["The ", "sea ", "is ", "wide."]


class PacedServer:
    """An OpenAI-compatible server streaming :data:`WORDS`, each word only after ``seen`` was set for the
    previous one (and cleared again)."""

    def __init__(self) -> None:
        self.seen = asyncio.Event()
        self.port = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        for i, word in enumerate(WORDS):
            if i:
                await self.seen.wait()
                self.seen.clear()
            writer.write(f"data: {json.dumps(chunk(word))}\n\n".encode())
            await writer.drain()
        writer.write(f"data: {json.dumps(chunk(finish='stop'))}\n\ndata: [DONE]\n\n".encode())
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> PacedServer:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def graph_of(model: ChatOpenAI) -> Any:
    async def answer(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke([("user", state["messages"][-1].content)])]}

    return StateGraph(MessagesState).add_node("answer", answer).add_edge(START, "answer").compile()


async def test_chat_openai_tokens_reach_the_messages_mode_one_by_one() -> None:
    async with PacedServer() as server:
        model = ChatOpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="x", model=MODEL, max_retries=0)  # type: ignore[arg-type]
        tokens: list[str] = []
        final: dict[str, Any] = {}
        stream = graph_of(model).astream({"messages": [("user", "sea?")]}, stream_mode=["messages", "values"])
        async for mode, item in stream:
            if mode == "values":
                final = item
                continue
            message, metadata = item
            assert isinstance(message, AIMessageChunk)
            assert (metadata["langgraph_node"], metadata["ls_provider"], metadata["ls_model_name"]) == (
                "answer",
                "openai",
                MODEL,
            )
            if message.content:
                tokens.append(message.text)
                server.seen.set()  # the server sends the next word only now
    assert tokens == WORDS
    assert isinstance(final["messages"][-1], AIMessage)
    assert final["messages"][-1].content == "".join(WORDS)


async def test_chat_openai_tool_call_deltas_stream_as_tool_call_chunks() -> None:
    async with WireServer(tool_call_reply([("call_1", "add", ['{"a": ', "1, ", '"b": 2}'])])) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key="x", model=MODEL, max_retries=0)  # type: ignore[arg-type]
        chunks = []
        final: dict[str, Any] = {}
        stream = graph_of(model).astream({"messages": [("user", "add")]}, stream_mode=["messages", "values"])
        async for mode, item in stream:
            if mode == "values":
                final = item
            elif isinstance(item[0], AIMessageChunk):
                chunks.append(item[0])
    pieces = [p["args"] for c in chunks for p in c.tool_call_chunks]
    assert pieces == ["", '{"a": ', "1, ", '"b": 2}']
    assert final["messages"][-1].tool_calls == [
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1", "type": "tool_call"}
    ]


@pytest.fixture(scope="module")
def llama_url(request: pytest.FixtureRequest) -> str:
    """The API root of llama.cpp's server: ``STREAMFLOW_LLAMA_URL`` when set (a server already running with
    the Gemma model), else one started by ``tests/test_models_openai.py``'s ``llama_server`` fixture."""
    url = os.environ.get("STREAMFLOW_LLAMA_URL")
    return url if url else str(request.getfixturevalue("llama_server"))


@pytest.mark.slow
def test_chat_openai_streams_gemma_tokens_from_llama_cpp(llama_url: str) -> None:
    model = ChatOpenAI(
        base_url=llama_url,
        api_key="x",  # type: ignore[arg-type]
        model="gemma-3-270m",
        temperature=0.0,
        extra_body={"max_tokens": 32},
    )
    tokens: list[str] = []
    arrivals: list[float] = []
    final: dict[str, Any] = {}
    for mode, item in graph_of(model).stream(
        {"messages": [("user", "Tell me about the sea.")]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            tokens.append(item[0].content)
            arrivals.append(time.monotonic())
        else:
            final = item
    assert len([t for t in tokens if t]) > 5
    assert "".join(tokens) == final["messages"][-1].content
    # one by one, as the model generates them, not all at once at the end
    assert len(set(arrivals)) > 5
