"""langchain-core components inside graph nodes, on LangGraph and on streamflow: the same graph code, with the
same langchain-core objects (``GenericFakeChatModel``, ``FakeListChatModel``, ``FakeMessagesListChatModel``,
``FakeListLLM``, a ``@tool``, a retriever, a prompt), must give the same ``messages`` chunks (token boundaries,
ids, ``chunk_position``, ``usage_metadata`` and the metadata dict key for key), the same ``tools`` records and
the same ``astream_events`` sequence.

Two documented differences are normalised: streamflow's ``messages`` chunks are streamflow's ``AIMessageChunk``
(compared by their fields, not their class), and ``lc_versions`` also names streamflow's version on streamflow.
A node hands the langchain-core model its state's messages as LangGraph code does (``model.invoke(
state["messages"])``, a prompt template's ``MessagesPlaceholder``): on streamflow they are streamflow's messages,
which langchain-core takes as its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.callbacks import adispatch_custom_event
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, FakeListLLM
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from .conftest import Lib, load, normalise, reference

pytestmark = pytest.mark.anyio

USAGE = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Shelf(BaseRetriever):
    """A retriever answering every query with one document holding it."""

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return [Document(page_content=f"about {query}")]


def generic(text: str = "hello there world", **kwargs: Any) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=itertools.cycle([AIMessage(content=text)]), **kwargs)


class Echo(BaseChatModel):
    """Answers with what it was given: each message's type, content, ``additional_kwargs``, name and id."""

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        seen = [[m.type, m.content, m.additional_kwargs, m.name, m.id] for m in messages]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=repr(seen)))])


MODELS: dict[str, Callable[[], Any]] = {
    "generic": generic,
    "generic nostream": lambda: generic().with_config(tags=["nostream"]),
    "generic disable_streaming": lambda: generic(disable_streaming=True),
    "generic tagged": lambda: generic(tags=["mine"]),
    "list": lambda: FakeListChatModel(responses=["abc", "de"]),
    "messages list": lambda: FakeMessagesListChatModel(
        responses=[AIMessage(content="whole answer", usage_metadata=USAGE)]
    ),
    "echo": Echo,
    "prompt chain": lambda: (
        ChatPromptTemplate.from_messages([("system", "be brief"), MessagesPlaceholder("messages")]) | Echo()
    ),
}

CONVERSATION = [
    ("user", "hi"),
    {"role": "assistant", "content": "", "additional_kwargs": {"refusal": "no"}, "id": "a-1"},
    {"role": "user", "content": [{"type": "text", "text": "see"}, {"type": "image", "url": "u"}], "name": "ann"},
]
"""A run's input: a tuple, an AI message with ``additional_kwargs`` and a named message with content blocks."""

CALLS = ["invoke", "ainvoke", "stream", "astream", "invoke with config"]


def graph(lib: Lib, model: Any, call: str) -> Any:
    """START -> ``node``: a node calling ``model`` once with its state's messages (the whole state for a prompt
    chain), as ``call`` says, returning its answer."""
    chain = isinstance(model, type(MODELS["prompt chain"]()))

    def prompt(state: Any) -> Any:
        return state if chain else state["messages"]

    def invoke(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(prompt(state))]}

    def invoke_with_config(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [model.invoke(prompt(state), config)]}

    async def ainvoke(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(prompt(state))]}

    def stream(state: Any) -> dict[str, Any]:
        whole = None
        for chunk in model.stream(prompt(state)):
            whole = chunk if whole is None else whole + chunk
        return {"messages": [whole]}

    async def astream(state: Any) -> dict[str, Any]:
        whole = None
        async for chunk in model.astream(prompt(state)):
            whole = chunk if whole is None else whole + chunk
        return {"messages": [whole]}

    nodes: dict[str, Callable[..., Any]] = {
        "invoke": invoke,
        "ainvoke": ainvoke,
        "stream": stream,
        "astream": astream,
        "invoke with config": invoke_with_config,
    }
    return lib.StateGraph(lib.MessagesState).add_node("node", nodes[call]).add_edge(lib.START, "node").compile()


def shown(item: Any) -> Any:
    """A ``messages`` item as compared: the message's fields (its class's name without the library), the
    metadata without ``lc_versions``."""
    message, metadata = item
    fields = {
        "chunk": type(message).__name__.endswith("Chunk"),
        "content": message.content,
        "id": message.id,
        "tool_calls": message.tool_calls,
        "usage_metadata": message.usage_metadata,
        "chunk_position": getattr(message, "chunk_position", None),
        "response_metadata": message.response_metadata,
    }
    meta = {k: v for k, v in metadata.items() if k != "lc_versions"}
    return normalise((fields, meta))


async def messages_of(lib: Lib, model: Any, call: str) -> list[Any]:
    g = graph(lib, model, call)
    return [shown(item) async for item in g.astream({"messages": CONVERSATION}, stream_mode="messages")]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("name", list(MODELS))
async def test_messages_mode_gives_langgraphs_chunks_and_metadata(name: str, call: str) -> None:
    lg, sf = reference(), load("streamflow")
    expected = await messages_of(lg, MODELS[name](), call)
    got = await messages_of(sf, MODELS[name](), call)
    assert got == expected
    assert expected, "the case shows something"


GRAPH_KEYS = ("ls_integration", "checkpoint_ns", "lc_versions")
"""Metadata keys LangGraph's ``astream_events`` give every run inside a node (from its node's config) that
streamflow gives neither its own components' runs nor langchain-core's (see :data:`NODE_RUNS`)."""

NODE_RUNS = pytest.mark.differs(
    "astream_events: inside a node, LangGraph tags every run with seq:step:1 (the node is the first step of "
    "its task's sequence) and gives it ls_integration='langgraph' and checkpoint_ns; streamflow shows its own "
    "models' and tools' runs, and langchain-core's, without them (chat models: each library's ls_* keys)"
)


def event_shape(event: dict[str, Any], *, exact: bool = False) -> dict[str, Any]:
    """What is compared of an ``astream_events`` dict: its kind, name, number of parents, data (messages as
    their type and text) and metadata (a chat model's aside); its tags and every metadata key too when
    ``exact``, else not the tags nor :data:`GRAPH_KEYS`."""
    metadata = {k: v for k, v in event["metadata"].items() if exact or k not in GRAPH_KEYS}
    out = {
        "event": event["event"],
        "name": event["name"],
        "parents": len(event["parent_ids"]),
        "data": normalise(_text(event["data"])),
        "metadata": None if event["event"].startswith("on_chat_model") and not exact else normalise(metadata),
    }
    if exact:
        out["tags"] = event["tags"]
    return out


def _text(value: Any) -> Any:
    if hasattr(value, "to_messages"):
        return {"prompt": [_text(m) for m in value.to_messages()]}
    if hasattr(value, "content") and hasattr(value, "type"):
        return {"message": value.content, "type": value.type.removesuffix("Chunk")}
    if isinstance(value, Document):
        return {"document": value.page_content}
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return value


def busy_node(lib: Lib) -> Any:
    """A node calling a chat model, a prompt-and-model chain, a tool, a retriever, a string LLM and
    ``adispatch_custom_event``."""
    model = generic("one two")
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | generic("three")
    llm = FakeListLLM(responses=["an llm answer"])

    async def node(state: Any) -> dict[str, Any]:
        await model.ainvoke("hi")
        await chain.ainvoke({"q": "x"})
        total = await add.ainvoke({"a": 1, "b": 2})
        await Shelf().ainvoke("cats")
        await llm.ainvoke("a prompt")
        await adispatch_custom_event("progress", {"total": total})
        return {"messages": [lib.AIMessage(content=f"total {total}", id="answer-1")]}

    return lib.StateGraph(lib.MessagesState).add_node("node", node).add_edge(lib.START, "node").compile()


async def busy_events(lib: Lib, *, exact: bool = False) -> list[dict[str, Any]]:
    g = busy_node(lib)
    return [event_shape(e, exact=exact) async for e in g.astream_events({"messages": [("user", "hi")]}, version="v2")]


async def test_astream_events_show_every_langchain_run_as_langgraph_does() -> None:
    expected = await busy_events(reference())
    got = await busy_events(load("streamflow"))
    assert [e["event"] for e in got] == [e["event"] for e in expected]
    assert got == expected
    assert {e["event"] for e in got} >= {
        "on_chat_model_stream",
        "on_prompt_end",
        "on_tool_end",
        "on_retriever_end",
        "on_llm_end",
        "on_custom_event",
        "on_chain_end",
    }


@NODE_RUNS
async def test_astream_events_tags_and_graph_metadata_inside_a_node(lib: Lib) -> None:
    assert await busy_events(lib, exact=True) == await busy_events(reference(), exact=True)


async def test_tools_mode_records_a_langchain_tool_called_in_a_node() -> None:
    lg, sf = reference(), load("streamflow")
    out = []
    for lib in (lg, sf):
        g = busy_node(lib)
        out.append(normalise([c async for c in g.astream({"messages": [("user", "hi")]}, stream_mode="tools")]))
    assert out[1] == out[0]
    assert [c["event"] for c in out[0]] == ["tool-started", "tool-finished"]


async def test_a_langchain_tool_in_tool_node_answers_as_on_langgraph() -> None:
    lg, sf = reference(), load("streamflow")
    out = []
    for lib in (lg, sf):
        call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1", "type": "tool_call"}
        g = (
            lib.StateGraph(lib.MessagesState)
            .add_node("tools", lib.ToolNode([add]))
            .add_edge(lib.START, "tools")
            .compile()
        )
        start = {"messages": [lib.AIMessage(content="", tool_calls=[call], id="ask-1")]}
        chunks = [c async for c in g.astream(start, stream_mode=["updates", "tools"])]
        out.append(normalise(chunks))
    assert out[1] == out[0]
