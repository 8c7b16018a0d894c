"""Runnables, prompts and parsers on langchain-core and on streamflow: the same code, compared.

Outputs, streamed chunks and ``astream_events`` sequences (event names, run names, tags, data, and how many
parents each event has; run ids and model metadata aside) must be equal. The chat model is scripted on both
sides: it answers one text, streamed in whitespace-split tokens (langchain-core's ``GenericFakeChatModel``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import Lib, load, normalise, reference

pytestmark = pytest.mark.anyio


def scripted(lib: Lib, text: str) -> Any:
    """A chat model answering ``text`` in whitespace-split tokens, on either library."""
    if lib.name == "langgraph":
        from langchain_core.language_models import GenericFakeChatModel
        from langchain_core.messages import AIMessage

        return GenericFakeChatModel(messages=iter([AIMessage(content=text)]))
    from streamflow.messages import AIMessageChunk
    from streamflow.models.base import BaseChatModel

    class Tokens(BaseChatModel):
        async def _astream_chunks(self, messages: list[Any]) -> AsyncIterator[AIMessageChunk]:
            parts = [p for p in re.split(r"(\s)", text) if p]
            for i, part in enumerate(parts):
                yield AIMessageChunk(content=part, chunk_position="last" if i == len(parts) - 1 else None)

    return Tokens(name="GenericFakeChatModel")


def shape(event: dict[str, Any]) -> dict[str, Any]:
    """What is compared of an ``astream_events`` dict."""
    data = {k: _text(v) for k, v in event["data"].items()}
    out = {
        "event": event["event"],
        "name": event["name"],
        "tags": event["tags"],
        "parents": len(event["parent_ids"]),
        "data": normalise(data),
    }
    if not event["event"].startswith("on_chat_model"):  # a model's has each library's ls_* keys
        out["metadata"] = event["metadata"]
    return out


def _text(value: Any) -> Any:
    """Messages and prompt values as their type and text (the two libraries' classes differ)."""
    if hasattr(value, "to_messages"):
        return {"prompt": [_text(m) for m in value.to_messages()]}
    if hasattr(value, "content") and hasattr(value, "type"):
        return {"message": value.content}
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


async def events(runnable: Any, input: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return [shape(e) async for e in runnable.astream_events(input, **kwargs)]


def both() -> tuple[Lib, Lib]:
    return reference(), load("streamflow")


# -- cases: (name, build(lib) -> runnable, input) --------------------------------------------------


def _add_one(x: int) -> int:
    return x + 1


async def _double(x: int) -> int:
    return x * 2


async def _upper_words(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    async for chunk in chunks:
        yield chunk.upper()


CHAINS: dict[str, tuple[Callable[[Lib], Any], Any]] = {
    "two lambdas": (lambda lib: lib.RunnableLambda(_add_one) | lib.RunnableLambda(_double), 1),
    "function coerced": (lambda lib: lib.RunnableLambda(_add_one) | _double, 3),
    "prompt model parser": (
        lambda lib: (
            lib.ChatPromptTemplate.from_template("tell me about {topic}")
            | scripted(lib, "hello there big world")
            | lib.StrOutputParser()
        ),
        {"topic": "cats"},
    ),
    "parser then generator": (
        lambda lib: (
            lib.ChatPromptTemplate.from_messages([("system", "be {mood}"), ("human", "{q}")])
            | scripted(lib, "a b c")
            | lib.StrOutputParser()
            | lib.RunnableGenerator(_upper_words)
        ),
        {"mood": "kind", "q": "hi"},
    ),
    "passthrough assign": (
        lambda lib: lib.RunnablePassthrough.assign(plus=lambda d: d["x"] + 1) | lib.RunnableLambda(lambda d: d["plus"]),
        {"x": 1},
    ),
    "named with config": (
        lambda lib: (lib.RunnableLambda(_add_one) | lib.RunnableLambda(_double)).with_config(
            run_name="named", tags=["t1"], metadata={"m": 1}
        ),
        2,
    ),
    "string prompt": (lambda lib: lib.PromptTemplate.from_template("a {b} c") | lib.RunnableLambda(str), {"b": "x"}),
    "json parser": (
        lambda lib: scripted(lib, '{"a": [1, 2], "b": "x y"}') | lib.JsonOutputParser(),
        "go",
    ),
}


@pytest.mark.parametrize("case", sorted(CHAINS))
async def test_invoke_and_stream_match(case: str) -> None:
    build, value = CHAINS[case]
    out = []
    for lib in both():
        chain = build(lib)
        out.append((_text(await chain.ainvoke(value)), [_text(c) async for c in build(lib).astream(value)]))
    assert normalise(out[1]) == normalise(out[0])


@pytest.mark.parametrize("case", sorted(CHAINS))
async def test_astream_events_v2_match(case: str) -> None:
    build, value = CHAINS[case]
    reference_events, ours = [await events(build(lib), value, version="v2") for lib in both()]
    assert ours == reference_events


async def test_astream_events_v1_has_no_parents() -> None:
    build, value = CHAINS["two lambdas"]
    ours = await events(build(load("streamflow")), value, version="v1")
    assert {e["parents"] for e in ours} == {0}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = await events(build(reference()), value, version="v1")
    assert [(e["event"], e["name"]) for e in ours] == [(e["event"], e["name"]) for e in theirs]


async def test_parallel_and_batch_match() -> None:
    out = []
    for lib in both():
        par = lib.RunnableLambda(_add_one) | {"a": _double, "b": lib.RunnablePassthrough()}
        sync = lib.RunnableLambda(_add_one) | {"a": _add_one, "b": lib.RunnablePassthrough()}
        out.append(
            (await par.ainvoke(1), await par.abatch([1, 2, 3]), await sync.abatch([4, 5], {"max_concurrency": 1}))
        )
    assert out[1] == out[0]


def test_sync_stream_matches() -> None:
    out = []
    for lib in both():
        build, value = CHAINS["prompt model parser"]
        out.append(list(build(lib).stream(value)))
    assert out[1] == out[0]


# -- bad input: the same exception types ------------------------------------------------------------


def test_non_runnable_in_pipe_is_a_type_error() -> None:
    for lib in both():
        with pytest.raises(TypeError, match="Expected a Runnable, callable or dict"):
            lib.RunnableLambda(_add_one) | 5
        with pytest.raises(TypeError, match="unsupported type: <class 'int'>"):
            5 | lib.RunnableLambda(_add_one)


def test_missing_prompt_variable_names_it() -> None:
    for lib in both():
        with pytest.raises(KeyError, match=r"missing variables \{'y'\}"):
            lib.ChatPromptTemplate.from_template("hi {x} {y}").invoke({"x": 1})
        with pytest.raises(TypeError, match="Expected mapping type as input to ChatPromptTemplate"):
            lib.ChatPromptTemplate.from_template("hi {x} {y}").invoke(3)


def test_parser_fed_a_non_string_is_a_value_error() -> None:
    for lib in both():
        with pytest.raises(ValueError, match="int"):
            lib.StrOutputParser().invoke(5)
        with pytest.raises(ValueError, match="Invalid json output: nope"):
            lib.JsonOutputParser().invoke("nope")
    with pytest.raises(ValueError, match="StrOutputParser takes a string or a message, got int: 5"):
        load("streamflow").StrOutputParser().invoke(5)


def test_assign_needs_a_dict() -> None:
    for lib in both():
        with pytest.raises(ValueError, match=r"The input to RunnablePassthrough.assign\(\) must be a dict."):
            lib.RunnablePassthrough.assign(a=_add_one).invoke(3)


# -- invariants ------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(max_size=5), min_size=1, max_size=6), st.integers(1, 4))
def test_passthrough_sequence_streams_exactly_its_input(chunks: list[str], steps: int) -> None:
    from streamflow.runnables import RunnablePassthrough, RunnableSequence

    chain: Any = RunnableSequence(*(RunnablePassthrough() for _ in range(steps + 1)))
    assert list(chain.transform(iter(chunks))) == chunks


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="ab \n", min_size=1, max_size=4), min_size=1, max_size=8))
def test_streamed_chunks_add_up_to_the_invoke_output(tokens: list[str]) -> None:
    lib = load("streamflow")
    text = "".join(tokens)
    chain = lib.ChatPromptTemplate.from_template("{q}") | scripted(lib, text) | lib.StrOutputParser()
    assert "".join(chain.stream({"q": "x"})) == chain.invoke({"q": "x"}) == text


# -- the seed pages' examples ----------------------------------------------------------------------


async def test_bare_model_astream_events_match_and_break_early() -> None:
    out = []
    for lib in both():
        chat = scripted(lib, "goldfish on the moon")
        seen = []
        idx = 0
        async for event in chat.astream_events("Write me a 1 verse song about goldfish on the moon"):
            idx += 1
            if idx >= 5:  # truncate the output, as the page does
                break
            seen.append(shape(event))
        out.append(seen)
    assert out[1] == out[0]


@pytest.mark.parametrize(
    "filters",
    [
        {"include_types": ["parser"]},
        {"include_names": ["StrOutputParser", "GenericFakeChatModel"]},
        {"include_tags": ["seq:step:2"]},
        {"exclude_types": ["chain", "prompt"]},
    ],
    ids=repr,
)
async def test_chain_events_filtered_match(filters: dict[str, Any]) -> None:
    build, value = CHAINS["prompt model parser"]
    reference_events, ours = [await events(build(lib), value, version="v2", **filters) for lib in both()]
    assert ours == reference_events


async def test_chat_model_stream_events_of_a_chain_print_the_tokens() -> None:
    printed = []
    for lib in both():
        prompt = lib.ChatPromptTemplate.from_template("tell me a joke about {topic}")
        chain = prompt | scripted(lib, "why did the parrot talk") | lib.StrOutputParser()
        out = []
        async for event in chain.astream_events({"topic": "parrot"}):
            if event["event"] == "on_chat_model_stream":
                out.append(event["data"]["chunk"].content)
        printed.append("|".join(out))
    assert printed[1] == printed[0]
