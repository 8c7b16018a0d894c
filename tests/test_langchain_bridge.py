"""The LangChain bridge: langchain-core components called inside streamflow runs publish streamflow's events, and
messages convert both ways without loss (the differential cases against LangGraph are in
``tests/compat/test_langchain_bridge_cases.py``)."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.extras import require_extra

require_extra("langchain_core", "langchain")

from langchain_core import messages as lc  # noqa: E402
from langchain_core.callbacks import BaseCallbackHandler, dispatch_custom_event  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.language_models.fake_chat_models import (  # noqa: E402
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.outputs import ChatGenerationChunk  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.tools import tool as lc_tool  # noqa: E402

from streamflow.errors import InvalidArgumentError  # noqa: E402
from streamflow.events import (  # noqa: E402
    ChatModelFinished,
    ChatModelStarted,
    ChatModelToken,
    CustomEvent,
    ToolFinished,
    ToolStarted,
)
from streamflow.graph import START, MessagesState, StateGraph  # noqa: E402
from streamflow.integrations.langchain import (  # noqa: E402
    LangChainTool,
    from_langchain,
    to_langchain,
    to_langchain_messages,
)
from streamflow.messages import AIMessage, AIMessageChunk, HumanMessage, add_messages  # noqa: E402
from streamflow.models import FakeChatModel  # noqa: E402
from streamflow.redis.codec import decode_event, encode_event  # noqa: E402
from streamflow.runnables import RunnableLambda  # noqa: E402
from streamflow.tools import ToolNode, create_react_agent  # noqa: E402
from tests.strategies import chat_messages  # noqa: E402

pytestmark = pytest.mark.anyio

USAGE = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}


@lc_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def generic(text: str = "hello there world", **kwargs: Any) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=itertools.cycle([lc.AIMessage(content=text)]), **kwargs)


def one_node(node: Any) -> Any:
    return StateGraph(MessagesState).add_node("node", node).add_edge(START, "node").compile()


async def run_events(graph: Any) -> list[Any]:
    run = graph.start({"messages": [("user", "hi")]})
    await run.result()
    return list(run.events())


# -- conversions -----------------------------------------------------------------------------------


@given(chat_messages())
def test_a_streamflow_message_goes_to_langchain_and_back_unchanged(message: Any) -> None:
    there = to_langchain(message)
    back = from_langchain(there)
    assert type(back) is type(message)
    assert back == message


@given(chat_messages())
def test_a_langchain_message_with_text_content_comes_back_unchanged(message: Any) -> None:
    original = to_langchain(message)
    again = to_langchain(from_langchain(original))
    assert type(again) is type(original)
    assert again == original


def test_langchain_list_content_becomes_the_text_of_its_text_blocks() -> None:
    message = lc.AIMessage(content=[{"type": "text", "text": "a"}, {"type": "image", "url": "x"}, "b"])
    assert from_langchain(message).content == "ab"


def test_chunks_keep_their_pieces_usage_and_position() -> None:
    chunk = lc.AIMessageChunk(
        content="",
        id="m1",
        tool_call_chunks=[{"name": "add", "args": '{"a": 1', "id": "c1", "index": 0, "type": "tool_call_chunk"}],
        usage_metadata=USAGE,  # type: ignore[arg-type]
        chunk_position="last",
    )
    mine = from_langchain(chunk)
    assert isinstance(mine, AIMessageChunk)
    assert mine.tool_call_chunks == chunk.tool_call_chunks
    assert mine.tool_calls == chunk.tool_calls
    assert mine.usage_metadata == USAGE
    assert mine.chunk_position == "last"


def test_conversion_refuses_what_is_not_a_message() -> None:
    with pytest.raises(InvalidArgumentError, match="langchain-core HumanMessage"):
        from_langchain(Document(page_content="x"))
    with pytest.raises(InvalidArgumentError, match="pass a streamflow message"):
        to_langchain(lc.HumanMessage(content="x"))  # type: ignore[arg-type]


def test_to_langchain_messages_takes_a_streamflow_state() -> None:
    state = add_messages([], [("user", "hi"), AIMessage(content="yo", id="a1")])
    out = to_langchain_messages([*state, ("user", "more")])
    assert [type(m).__name__ for m in out] == ["HumanMessage", "AIMessage", "HumanMessage"]
    assert out[1].id == "a1"


def test_add_messages_takes_langchain_messages() -> None:
    merged = add_messages([HumanMessage(content="hi", id="h1")], [lc.AIMessage(content="yo", id="a1")])
    assert merged == [HumanMessage(content="hi", id="h1"), AIMessage(content="yo", id="a1")]


# -- a chat model in a node ------------------------------------------------------------------------


class Paced(GenericFakeChatModel):
    """Yields its next token only once the consumer has seen the previous one (``seen`` is set per token)."""

    seen: Any = None

    async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> AsyncIterator[Any]:
        for i, word in enumerate(["one", "two", "three"]):
            if i:
                await self.seen.wait()
                self.seen.clear()
            chunk = ChatGenerationChunk(message=lc.AIMessageChunk(content=word))
            if run_manager is not None:
                await run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk


async def test_tokens_reach_the_messages_mode_one_by_one() -> None:
    seen = asyncio.Event()
    model = Paced(messages=iter([]), seen=seen)

    async def node(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke("hi")]}

    got = []
    async for message, metadata in one_node(node).astream({"messages": [("user", "hi")]}, stream_mode="messages"):
        got.append((type(message).__name__, message.content, metadata["langgraph_node"]))
        seen.set()  # the model yields its next token only now: each one arrived before the next was made
    assert got == [
        ("AIMessageChunk", "one", "node"),
        ("AIMessageChunk", "two", "node"),
        ("AIMessageChunk", "three", "node"),
        ("AIMessageChunk", "", "node"),
    ]


def test_a_sync_node_streams_langchain_tokens_through_stream() -> None:
    model = generic("a b c")

    def node(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke("hi")]}

    chunks = [m for m, _ in one_node(node).stream({"messages": [("user", "hi")]}, stream_mode="messages")]
    assert [c.content for c in chunks] == ["a", " ", "b", " ", "c"]
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert chunks[-1].chunk_position == "last"


async def test_model_events_carry_the_task_the_provider_and_the_usage() -> None:
    model = FakeMessagesListChatModel(responses=[lc.AIMessage(content="whole", usage_metadata=USAGE)])

    async def node(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke("hi")]}

    events = await run_events(one_node(node))
    started = next(e for e in events if isinstance(e, ChatModelStarted))
    finished = next(e for e in events if isinstance(e, ChatModelFinished))
    assert (started.node, started.provider, started.streamed) == ("node", "fakemessageslistchatmodel", True)
    assert started.messages == [HumanMessage(content="hi")]
    assert started.call_id == finished.call_id
    assert isinstance(finished.message, AIMessage)
    assert finished.message.usage_metadata == USAGE
    assert not any(isinstance(e, ChatModelToken) for e in events)  # a model that answers whole


async def test_nostream_and_disable_streaming_publish_no_tokens() -> None:
    quiet = generic().with_config(tags=["nostream"])
    whole = generic(disable_streaming=True)

    async def node(state: Any) -> dict[str, Any]:
        await quiet.ainvoke("hi")
        await whole.ainvoke("hi")
        return {}

    events = await run_events(one_node(node))
    assert not any(isinstance(e, ChatModelToken) for e in events)
    started = [e for e in events if isinstance(e, ChatModelStarted)]
    assert [e.streamed for e in started] == [False, True]
    assert "nostream" in started[0].tags


async def test_token_events_cross_the_wire_form() -> None:
    async def node(state: Any) -> dict[str, Any]:
        return {"messages": [await generic("x y").ainvoke("hi")]}

    for event in await run_events(one_node(node)):
        assert decode_event(encode_event(event)) == event


# -- tools, custom events, chains --------------------------------------------------------------------


def test_a_sync_node_calling_a_langchain_tool_and_dispatching_events_publishes_them() -> None:
    def node(state: Any) -> dict[str, Any]:
        total = add.invoke({"a": 1, "b": 2})
        dispatch_custom_event("progress", {"total": total})
        return {}

    async def go() -> list[Any]:
        return await run_events(one_node(node))

    events = asyncio.run(go())
    started = next(e for e in events if isinstance(e, ToolStarted))
    finished = next(e for e in events if isinstance(e, ToolFinished))
    custom = next(e for e in events if isinstance(e, CustomEvent))
    assert (started.name, started.input, started.node) == ("add", {"a": 1, "b": 2}, "node")
    assert (finished.output, finished.tool_call_id) == (3, started.tool_call_id)
    assert (custom.name, custom.data, custom.node) == ("progress", {"total": 3}, "node")


async def test_tool_node_runs_a_langchain_tool_with_one_set_of_tool_events() -> None:
    node = ToolNode([add])
    assert isinstance(node.tools_by_name["add"], LangChainTool)
    assert node.tools_by_name["add"].args_schema["required"] == ["a", "b"]
    call: Any = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1", "type": "tool_call"}
    graph = StateGraph(MessagesState).add_node("tools", node).add_edge(START, "tools").compile()
    run = graph.start({"messages": [AIMessage(content="", tool_calls=[call])]})
    state = await run.result()
    assert state["messages"][-1].content == "5"
    assert state["messages"][-1].tool_call_id == "call-1"
    tool_events = [e for e in run.events() if isinstance(e, ToolStarted)]
    assert [(e.name, e.tool_call_id) for e in tool_events] == [("add", "call-1")]


def test_create_react_agent_takes_a_langchain_tool() -> None:
    call = {"name": "add", "args": {"a": 4, "b": 5}, "id": "call-9", "type": "tool_call"}
    model = FakeChatModel([AIMessage(content="", tool_calls=[call]), "nine"])  # type: ignore[list-item]
    agent = create_react_agent(model, [add])
    out = agent.invoke({"messages": [("user", "add 4 and 5")]})
    assert [m.content for m in out["messages"][-2:]] == ["9", "nine"]


async def test_a_langchain_runnable_is_a_step_of_a_streamflow_chain() -> None:
    chain: Any = (
        RunnableLambda(lambda x: {"q": x}) | ChatPromptTemplate.from_messages([("user", "{q}")]) | generic("a b")
    )
    chunks = [c async for c in chain.astream("hi")]
    assert [c.content for c in chunks] == ["a", " ", "b"]
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    names = [(e["event"], e["name"]) async for e in chain.astream_events("hi", version="v2")]
    assert ("on_prompt_start", "ChatPromptTemplate") in names
    assert ("on_chat_model_stream", "GenericFakeChatModel") in names


def test_a_langchain_object_that_is_no_runnable_is_refused_in_a_chain() -> None:
    with pytest.raises(TypeError, match="Document of LangChain is not a Runnable"):
        RunnableLambda(lambda x: x) | Document(page_content="x")


# -- errors ------------------------------------------------------------------------------------------


class Raising(BaseCallbackHandler):
    raise_error = True

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        raise RuntimeError("the handler broke")


async def test_a_raising_callback_handler_fails_the_call_and_the_model_call_records_it() -> None:
    model = generic(callbacks=[Raising()])

    async def node(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke("hi")]}

    run = one_node(node).start({"messages": [("user", "hi")]})
    with pytest.raises(RuntimeError, match="the handler broke"):
        await run.result()
    finished = [e for e in run.events() if isinstance(e, ChatModelFinished)]
    assert [(e.error_type, e.error_message) for e in finished] == [("builtins.RuntimeError", "the handler broke")]


async def test_a_model_error_is_recorded_and_raised() -> None:
    class Broken(GenericFakeChatModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            raise ValueError("no answer")

    async def node(state: Any) -> dict[str, Any]:
        return {"messages": [await Broken(messages=iter([])).ainvoke("hi")]}

    run = one_node(node).start({"messages": [("user", "hi")]})
    with pytest.raises(ValueError, match="no answer"):
        await run.result()
    finished = [e for e in run.events() if isinstance(e, ChatModelFinished)]
    assert [e.error_type for e in finished] == ["builtins.ValueError"]


def test_outside_a_run_a_langchain_model_is_left_alone() -> None:
    assert generic("a b").invoke("hi").content == "a b"


# -- activation --------------------------------------------------------------------------------------


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip()


def test_the_bridge_loads_when_langchain_core_is_imported_and_not_before() -> None:
    code = (
        "import sys, streamflow\n"
        "print('streamflow.integrations.langchain' in sys.modules, 'langchain_core' in sys.modules)\n"
        "import langchain_core.messages\n"
        "print('streamflow.integrations.langchain' in sys.modules)\n"
    )
    assert _python(code).splitlines() == ["False False", "True"]


def test_without_langchain_core_nothing_of_it_is_imported() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'langchain_core': raise ImportError('not installed')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import streamflow\n"
        "from streamflow.graph import StateGraph, START, MessagesState\n"
        "g = StateGraph(MessagesState).add_node('n', lambda s: {}).add_edge(START, 'n').compile()\n"
        "g.invoke({'messages': []})\n"
        "print(sorted(m for m in sys.modules if 'langchain' in m))\n"
    )
    assert _python(code) == "[]"


@given(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=5))
def test_token_boundaries_are_the_models(words: list[str]) -> None:
    text = " ".join(words)
    model = GenericFakeChatModel(messages=itertools.cycle([lc.AIMessage(content=text)]))
    expected = [c.content for c in model.stream("hi")]

    def node(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke("hi")]}

    got = [m.content for m, _ in one_node(node).stream({"messages": [("user", "hi")]}, stream_mode="messages")]
    assert got[: len(expected)] == expected


class ToolCallingFake(FakeMessagesListChatModel):
    """A langchain-core fake chat model that takes tools (as a real provider's does)."""

    bound_tools: Any = None

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        self.bound_tools = tools
        return self


@pytest.mark.parametrize("factory", ["create_react_agent", "create_agent"])
def test_a_langchain_chat_model_is_an_agents_model(factory: str) -> None:
    from streamflow.agents import create_agent

    call = {"name": "add", "args": {"a": 4, "b": 5}, "id": "call-9", "type": "tool_call"}
    model = ToolCallingFake(responses=[lc.AIMessage(content="", tool_calls=[call]), lc.AIMessage(content="nine")])
    agent = create_react_agent(model, [add]) if factory == "create_react_agent" else create_agent(model, [add])
    chunks = list(agent.stream({"messages": [("user", "add 4 and 5")]}, stream_mode=["messages", "values"]))
    final = [c for mode, c in chunks if mode == "values"][-1]
    assert [m.content for m in final["messages"][-2:]] == ["9", "nine"]
    assert isinstance(final["messages"][-1], AIMessage)
    assert model.bound_tools[0]["function"]["name"] == "add"
    shown = [c[0].content for mode, c in chunks if mode == "messages"]
    assert "nine" in shown


async def test_leaving_the_stream_early_cancels_the_langchain_model_call() -> None:
    model = generic("a b c d e f g h")
    ended: list[str] = []

    async def node(state: Any) -> dict[str, Any]:
        try:
            return {"messages": [await model.ainvoke("hi")]}
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    stream = one_node(node).astream({"messages": [("user", "hi")]}, stream_mode="messages")
    async for message, _metadata in stream:
        assert message.content == "a"
        break
    await stream.aclose()
    assert ended == ["cancelled"]


async def test_a_model_inside_an_adapted_tool_has_the_tool_call_as_its_parent() -> None:
    model = generic("inner")

    @lc_tool
    async def ask(question: str) -> str:
        """Ask the inner model."""
        return str((await model.ainvoke(question)).content)

    call: Any = {"name": "ask", "args": {"question": "q"}, "id": "call-2", "type": "tool_call"}
    graph = StateGraph(MessagesState).add_node("tools", ToolNode([ask])).add_edge(START, "tools").compile()
    run = graph.start({"messages": [AIMessage(content="", tool_calls=[call])]})
    state = await run.result()
    assert state["messages"][-1].content == "inner"
    tool = next(e for e in run.events() if isinstance(e, ToolStarted))
    started = next(e for e in run.events() if isinstance(e, ChatModelStarted))
    assert started.parent_ids[-1] == tool.call_id
    assert started.parent_ids[:-1] == tool.parent_ids
