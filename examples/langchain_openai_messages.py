"""A LangChain model inside a streamflow graph: a node calls ``langchain_openai.ChatOpenAI`` and the run's
``messages`` mode streams its tokens, one by one, with LangGraph's metadata.

Nothing is set up for it: with langchain-core installed, streamflow's LangChain bridge is active, so the
langchain-core model finds the run through its config (implicitly, as in LangGraph) and publishes its tokens.

The model talks to an OpenAI-compatible server on loopback. By default this script starts a tiny one that
streams a fixed answer word by word (so it runs anywhere); pass ``--base-url http://127.0.0.1:8080/v1`` (and
``--model``) to use a real one instead, for example llama.cpp's (``python -m llama_cpp.server --model
<gguf>``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from langchain_openai import ChatOpenAI

from streamflow.graph import START, MessagesState, StateGraph

ANSWER = ["Streams ", "are ", "views ", "of ", "one ", "run."]


async def serve_words(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer one ``POST /v1/chat/completions`` with OpenAI's streaming wire format: one chunk per word."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    request = json.loads(await reader.readexactly(length))
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
    for word in [*ANSWER, None]:
        choice: dict[str, Any] = {"index": 0, "delta": {"content": word} if word else {}, "finish_reason": None}
        if word is None:
            choice["finish_reason"] = "stop"
        chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": request["model"]}
        writer.write(f"data: {json.dumps({**chunk, 'choices': [choice]})}\n\n".encode())
        await writer.drain()
    writer.write(b"data: [DONE]\n\n")
    await writer.drain()
    writer.close()


def build(model: ChatOpenAI) -> Any:
    async def answer(state: MessagesState) -> dict[str, Any]:
        question = state["messages"][-1].content
        return {"messages": [await model.ainvoke([("user", question)])]}

    return StateGraph(MessagesState).add_node("answer", answer).add_edge(START, "answer").compile()


async def main(base_url: str | None, model_name: str) -> None:
    server = None
    if base_url is None:
        server = await asyncio.start_server(serve_words, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        base_url = f"http://127.0.0.1:{port}/v1"
    model = ChatOpenAI(base_url=base_url, api_key="local", model=model_name, max_retries=0)  # type: ignore[arg-type]
    graph = build(model)
    text = ""
    question = {"messages": [("user", "What is a stream in streamflow?")]}
    async for token, metadata in graph.astream(question, stream_mode="messages"):
        if token.content:
            print(f"node: {metadata['langgraph_node']} provider: {metadata['ls_provider']} token: {token.content!r}")
            text += token.content
    print(f"answer: {text}")
    if server is not None:
        server.close()
        await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url", default=None, help="an OpenAI-compatible server's API root (default: a local one)"
    )
    parser.add_argument("--model", default="local-model", help="the model name the server expects")
    args = parser.parse_args()
    asyncio.run(main(args.base_url, args.model))
