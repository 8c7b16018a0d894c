"""Messages and ``@tool`` against langchain-core: the same code runs on both and gives the same result.

Needs the ``compare`` extra (langchain-core and LangGraph); without it the module skips, unless ``CI`` is
set (CI installs the extra, so there a missing package is an error).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import streamflow.messages as sf_messages
import streamflow.tools as sf_tools
from streamflow.errors import InvalidArgumentError


def _import(name: str) -> ModuleType:
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{name} is not installed (the 'compare' extra)")


lc_messages = _import("langchain_core.messages")
lc_tools = _import("langchain_core.tools")
lg_message = _import("langgraph.graph.message")

LIBS: dict[str, tuple[Any, Callable[..., Any]]] = {
    "langchain": (lc_messages, lg_message.add_messages),
    "streamflow": (sf_messages, sf_messages.add_messages),
}

CALL = {"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}


def _both(run: Callable[[Any, Callable[..., Any]], Any]) -> tuple[Any, Any]:
    return run(*LIBS["langchain"]), run(*LIBS["streamflow"])


def _shape(messages: list[Any]) -> list[tuple[str, str, str | None]]:
    return [(m.type, m.content, getattr(m, "tool_call_id", None)) for m in messages]


def test_every_message_class_takes_content_positionally() -> None:
    def run(m: Any, _: Any) -> list[Any]:
        made = [
            m.HumanMessage("hi"),
            m.SystemMessage("be brief"),
            m.AIMessage("", tool_calls=[CALL]),
            m.AIMessageChunk("piece"),
            m.ToolMessage("3", tool_call_id="c1"),
        ]
        return [(x.type, x.content, [dict(c) for c in getattr(x, "tool_calls", [])]) for x in made]

    ours, theirs = _both(run)
    assert ours == theirs
    assert theirs[2][2] == [CALL]


MESSAGE_LIKES: list[Any] = [
    "plain text",
    ("user", "u"),
    ("human", "h"),
    ("ai", "a"),
    ("assistant", "as"),
    ("system", "s"),
    ("developer", "d"),
    {"role": "user", "content": "du"},
    {"role": "assistant", "content": "da"},
    {"role": "tool", "content": "dt", "tool_call_id": "c1"},
    {"type": "human", "content": "th"},
]


@pytest.mark.parametrize("item", MESSAGE_LIKES, ids=repr)
def test_add_messages_coerces_message_likes_as_langgraph(item: Any) -> None:
    theirs, ours = _both(lambda _, add: _shape(add([], [item])))
    assert ours == theirs


def test_a_lone_tuple_is_one_message_on_both_sides() -> None:
    theirs, ours = _both(lambda _, add: _shape(add([("user", "a")], ("ai", "b"))))
    assert ours == theirs == [("human", "a", None), ("ai", "b", None)]


@pytest.mark.parametrize(
    "item",
    [("robot", "x"), ("tool", "no call id"), {"role": "tool", "content": "no call id"}, ("user", "a", "b")],
    ids=repr,
)
def test_bad_message_likes_are_refused_on_both_sides(item: Any) -> None:
    with pytest.raises((ValueError, KeyError, NotImplementedError)):
        lg_message.add_messages([], [item])
    with pytest.raises(InvalidArgumentError):
        sf_messages.add_messages([], [item])


def _chunk(**piece: Any) -> dict[str, Any]:
    return {"name": None, "args": "", "id": None, **piece}


CHUNK_SEQUENCES: dict[str, list[list[dict[str, Any]]]] = {
    "index-none-kept-apart": [
        [_chunk(name="a", args='{"x": 1}', id="c1", index=None)],
        [_chunk(name="b", args='{"y": 2}', id="c2", index=None)],
    ],
    "index-none-without-ids": [
        [_chunk(name="a", args="{}", index=None)],
        [_chunk(args='{"y": 2}', index=None)],
    ],
    "same-index-merged": [
        [_chunk(name="add", args='{"a": ', id="c1", index=0)],
        [_chunk(args="1}", index=0)],
    ],
    "same-index-other-id-kept-apart": [
        [_chunk(name="a", args="{}", id="c1", index=0)],
        [_chunk(name="b", args="{}", id="c2", index=0)],
    ],
    "same-index-id-arrives-later": [
        [_chunk(name="a", args='{"a"', index=0)],
        [_chunk(args=": 1}", id="c9", index=0)],
    ],
    "name-pieces-joined": [
        [_chunk(name="ad", args="{", id="c1", index=0)],
        [_chunk(name="d", args="}", index=0)],
    ],
    "interleaved-indexes": [
        [_chunk(name="a", args='{"p": ', id="c1", index=0)],
        [_chunk(name="b", args='{"q": 2}', id="c2", index=1)],
        [_chunk(args="1}", index=0)],
        [_chunk(name="c", args="{}", id="c3", index=None)],
    ],
}

KEYS = ("name", "args", "id", "index")


@pytest.mark.parametrize("pieces", list(CHUNK_SEQUENCES.values()), ids=list(CHUNK_SEQUENCES))
def test_tool_call_chunks_add_up_as_langchain_core(pieces: list[list[dict[str, Any]]]) -> None:
    def run(m: Any, _: Any) -> tuple[Any, ...]:
        chunks = [m.AIMessageChunk(content="", tool_call_chunks=p) for p in pieces]
        total = chunks[0]
        for chunk in chunks[1:]:
            total = total + chunk
        merged = [{k: c.get(k) for k in KEYS} for c in total.tool_call_chunks]
        whole = total.to_message() if hasattr(total, "to_message") else total
        # a call without an id gets a fresh one from streamflow (ToolMessages need it), None from LangChain
        calls = [
            (c["name"], c["args"], c["id"] if c["id"] in {"c1", "c2", "c3", "c9"} else None) for c in whole.tool_calls
        ]
        return merged, calls

    theirs, ours = _both(run)
    assert ours == theirs


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.parametrize(
    "decorate",
    [
        pytest.param(lambda tool: tool(add), id="bare"),
        pytest.param(lambda tool: tool()(add), id="empty-parentheses"),
        pytest.param(lambda tool: tool("plus")(add), id="name"),
        pytest.param(lambda tool: tool(description="Sum.")(add), id="description"),
        pytest.param(lambda tool: tool("plus", description="Sum.")(add), id="name-and-description"),
    ],
)
def test_tool_decorator_forms_as_langchain(decorate: Callable[[Any], Any]) -> None:
    theirs = decorate(lc_tools.tool)
    ours = decorate(sf_tools.tool)
    assert (ours.name, ours.description) == (theirs.name, theirs.description)
    assert ours.func is theirs.func is add


def test_tool_refuses_what_is_neither_a_function_nor_a_name() -> None:
    with pytest.raises(InvalidArgumentError, match="function or a tool name"):
        sf_tools.tool(3)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="decorates a function"):
        sf_tools.tool("x")(3)  # type: ignore[arg-type]


USAGES: dict[str, list[dict[str, Any] | None]] = {
    "none": [None, None],
    "one-side": [{"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}, None],
    "summed-with-details": [
        {"input_tokens": 5, "output_tokens": 0, "total_tokens": 5, "input_token_details": {"cache_read": 3}},
        None,
        {"input_tokens": 0, "output_tokens": 10, "total_tokens": 10, "output_token_details": {"reasoning": 4}},
        {"input_tokens": 0, "output_tokens": 1, "total_tokens": 1, "output_token_details": {"reasoning": 1}},
    ],
}


@pytest.mark.parametrize("usages", list(USAGES.values()), ids=list(USAGES))
def test_usage_metadata_adds_up_as_langchain_core(usages: list[dict[str, Any] | None]) -> None:
    def run(m: Any, _: Any) -> tuple[Any, Any]:
        chunks = [m.AIMessageChunk(str(n), usage_metadata=u) for n, u in enumerate(usages)]
        total = chunks[0]
        for chunk in chunks[1:]:
            total = total + chunk
        whole = total.to_message() if hasattr(total, "to_message") else m.AIMessage(total.content, **_usage(total))
        return total.usage_metadata, whole.usage_metadata

    theirs, ours = _both(run)
    assert ours == theirs


def _usage(chunk: Any) -> dict[str, Any]:
    return {"usage_metadata": chunk.usage_metadata}


# -- content_blocks and chunk_position (langchain-core 1.x) ----------------------------------------------

PIECE = {"name": "add", "args": '{"a": 1}', "id": "c1", "index": 0}

CONTENT_BLOCK_MESSAGES: dict[str, Callable[[Any], Any]] = {
    "human-text": lambda m: m.HumanMessage("hi"),
    "human-empty": lambda m: m.HumanMessage(""),
    "system": lambda m: m.SystemMessage("be brief"),
    "tool": lambda m: m.ToolMessage("3", tool_call_id="c1"),
    "ai-text": lambda m: m.AIMessage("answer"),
    "ai-empty": lambda m: m.AIMessage(""),
    "ai-tool-calls": lambda m: m.AIMessage("", tool_calls=[CALL, {**CALL, "id": "c2", "args": {"b": 2}}]),
    "ai-text-and-tool-call": lambda m: m.AIMessage("let me add", tool_calls=[CALL]),
    "ai-tool-call-without-id": lambda m: m.AIMessage("x", tool_calls=[{**CALL, "id": None}]),
    "chunk-text": lambda m: m.AIMessageChunk("pie"),
    "chunk-empty": lambda m: m.AIMessageChunk(""),
    "chunk-tool-piece": lambda m: m.AIMessageChunk("", tool_call_chunks=[PIECE]),
    "chunk-tool-piece-no-index": lambda m: m.AIMessageChunk("", tool_call_chunks=[{**PIECE, "index": None}]),
    "chunk-partial-piece": lambda m: m.AIMessageChunk("", tool_call_chunks=[{**PIECE, "args": '{"a": '}]),
    "chunk-last-tool-piece": lambda m: m.AIMessageChunk("", tool_call_chunks=[PIECE], chunk_position="last"),
    "chunk-text-and-tool-piece": lambda m: m.AIMessageChunk("t", tool_call_chunks=[PIECE]),
    "chunk-given-tool-calls": lambda m: m.AIMessageChunk("", tool_calls=[CALL]),
    "chunk-given-tool-calls-and-text": lambda m: m.AIMessageChunk("t", tool_calls=[CALL]),
    "chunk-given-tool-calls-last": lambda m: m.AIMessageChunk("", tool_calls=[CALL], chunk_position="last"),
    "chunk-given-invalid-tool-call": lambda m: m.AIMessageChunk(
        "", invalid_tool_calls=[{"name": "x", "args": "{", "id": "i1", "error": None, "type": "invalid_tool_call"}]
    ),
    "human-blocks": lambda m: m.HumanMessage(["a", {"type": "text", "text": "b"}, {"type": "image", "url": "u"}]),
    "human-provider-block": lambda m: m.HumanMessage([{"type": "thinking", "thinking": "hm"}, {"x": 1}]),
    "ai-blocks-and-tool-call": lambda m: m.AIMessage([{"type": "reasoning", "reasoning": "r"}], tool_calls=[CALL]),
    "ai-blocks-holding-the-tool-call": lambda m: m.AIMessage(
        [{"type": "tool_call", "id": "c1", "name": "add", "args": {"a": 1}}], tool_calls=[CALL]
    ),
    "tool-blocks": lambda m: m.ToolMessage([{"type": "text", "text": "3"}], tool_call_id="c1"),
    "ai-reasoning-content": lambda m: m.AIMessage("a", additional_kwargs={"reasoning_content": "think"}),
    "ai-reasoning-block-and-content": lambda m: m.AIMessage(
        [{"type": "reasoning", "reasoning": "r"}], additional_kwargs={"reasoning_content": "think"}
    ),
    "ai-v1-output": lambda m: m.AIMessage(
        [{"type": "text", "text": "a"}, {"type": "thinking"}], response_metadata={"output_version": "v1"}
    ),
    "chunk-reasoning-content": lambda m: m.AIMessageChunk("", additional_kwargs={"reasoning_content": "th"}),
    "chunk-piece-and-reasoning": lambda m: m.AIMessageChunk(
        "", tool_call_chunks=[PIECE], additional_kwargs={"reasoning_content": "th"}
    ),
    "chunk-v1-output": lambda m: m.AIMessageChunk([{"type": "x"}], response_metadata={"output_version": "v1"}),
    "chunk-blocks-holding-the-tool-call": lambda m: m.AIMessageChunk(
        [{"type": "tool_call", "id": "c1", "name": "add", "args": {"a": 1}}],
        tool_call_chunks=[PIECE],
        chunk_position="last",
    ),
    "chunk-blocks-summed": lambda m: (
        m.AIMessageChunk("x")
        + m.AIMessageChunk([{"type": "text", "text": "a", "index": 0}])
        + m.AIMessageChunk([{"type": "text", "text": "b", "index": 0}], additional_kwargs={"k": "v"})
        + m.AIMessageChunk("y", additional_kwargs={"k": "w"})
    ),
    "chunk-tool-pieces-summed": lambda m: (
        m.AIMessageChunk("", tool_call_chunks=[{**PIECE, "args": '{"a"'}])
        + m.AIMessageChunk("", tool_call_chunks=[{**PIECE, "name": None, "id": None, "args": ": 1}"}])
        + m.AIMessageChunk("", chunk_position="last")
    ),
}


@pytest.mark.parametrize("make", list(CONTENT_BLOCK_MESSAGES.values()), ids=list(CONTENT_BLOCK_MESSAGES))
def test_content_blocks_as_langchain_core(make: Callable[[Any], Any]) -> None:
    theirs, ours = _both(lambda m, _: make(m).content_blocks)
    assert ours == theirs


@pytest.mark.parametrize("make", list(CONTENT_BLOCK_MESSAGES.values()), ids=list(CONTENT_BLOCK_MESSAGES))
def test_text_content_and_additional_kwargs_as_langchain_core(make: Callable[[Any], Any]) -> None:
    theirs, ours = _both(lambda m, _: (make(m).text, make(m).content, make(m).additional_kwargs))
    assert ours == theirs


def test_content_blocks_is_a_new_list_each_time() -> None:
    message = sf_messages.AIMessage("a", tool_calls=[CALL])  # type: ignore[list-item]
    first = message.content_blocks
    first.clear()
    assert [b["type"] for b in message.content_blocks] == ["text", "tool_call"]


POSITIONS: dict[str, list[str | None]] = {
    "none": [None, None],
    "last-at-the-end": [None, "last"],
    "last-first": ["last", None],
    "single-last": ["last"],
}


@pytest.mark.parametrize("positions", list(POSITIONS.values()), ids=list(POSITIONS))
def test_chunk_position_of_a_sum_as_langchain_core(positions: list[str | None]) -> None:
    def run(m: Any, _: Any) -> tuple[Any, Any]:
        chunks = [m.AIMessageChunk(str(n), chunk_position=p) for n, p in enumerate(positions)]
        total = chunks[0]
        for chunk in chunks[1:]:
            total = total + chunk
        return total.chunk_position, total.content

    theirs, ours = _both(run)
    assert ours == theirs


def test_to_message_drops_the_chunk_position() -> None:
    whole = sf_messages.AIMessageChunk("x", chunk_position="last").to_message()
    assert type(whole) is sf_messages.AIMessage and not hasattr(whole, "chunk_position")
    assert sf_messages.merge_chunks([]).chunk_position is None


PARTIAL_ARGS = ['{"a": 1}', '{"a": ', '{"a": 1, "b', '{"s": "abc', '{"a": [1, {"b": 2', "x", "", None, "[1, 2"]
PARTIAL_ARGS += ['{"a": tru', '{"s": "a\\', "{]"]


@pytest.mark.parametrize("args", PARTIAL_ARGS)
def test_a_chunk_parses_its_tool_call_pieces_as_langchain_core(args: str | None) -> None:
    piece = {"name": "add", "args": args, "id": "c1", "index": 0}
    ours = sf_messages.AIMessageChunk(content="", tool_call_chunks=[piece])
    theirs = lc_messages.AIMessageChunk(content="", tool_call_chunks=[piece])
    assert ours.tool_calls == theirs.tool_calls
    assert ours.invalid_tool_calls == theirs.invalid_tool_calls


def test_a_sum_of_chunks_holds_the_calls_of_its_merged_pieces() -> None:
    chunk = sf_messages.AIMessageChunk
    first = chunk(content="", tool_call_chunks=[{"name": "add", "args": '{"a": ', "id": "c1", "index": 0}])
    second = chunk(content="", tool_call_chunks=[{"name": None, "args": "2}", "id": None, "index": 0}])
    assert first.tool_calls == [{"name": "add", "args": {}, "id": "c1", "type": "tool_call"}]
    assert (first + second).tool_calls == [{"name": "add", "args": {"a": 2}, "id": "c1", "type": "tool_call"}]
