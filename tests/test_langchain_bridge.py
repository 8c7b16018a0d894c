"""The LangChain bridge: langchain-core components called inside streamflow runs publish streamflow's events, and
messages convert both ways without loss (the differential cases against LangGraph are in
``tests/compat/test_langchain_bridge_cases.py``)."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
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
from langchain_core.messages import convert_to_messages, trim_messages  # noqa: E402
from langchain_core.outputs import ChatGenerationChunk  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder  # noqa: E402
from langchain_core.tools import tool as lc_tool  # noqa: E402

from streamflow.checkpoint.serde.jsonplus import JsonPlusSerializer  # noqa: E402
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
from streamflow.messages import (  # noqa: E402
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    add_messages,
    merge_chunks,
)
from streamflow.models import FakeChatModel  # noqa: E402
from streamflow.redis.codec import decode_event, encode_event  # noqa: E402
from streamflow.runnables import RunnableLambda  # noqa: E402
from streamflow.server.encoding import to_json  # noqa: E402
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
def test_a_langchain_message_goes_to_streamflow_and_back_unchanged(message: Any) -> None:
    original = to_langchain(message)
    again = to_langchain(from_langchain(original))
    assert type(again) is type(original)
    assert again == original
    assert again.model_dump() == original.model_dump()


@given(chat_messages())
def test_a_converted_message_has_langchains_text_and_content_blocks(message: Any) -> None:
    theirs = to_langchain(message)
    assert message.text == theirs.text
    if isinstance(message, AIMessageChunk):
        return  # a chunk's blocks depend on how it was built; tests/test_messages_parity.py compares them
    if any(isinstance(b, dict) and b.get("type") == "image_url" for b in message.content):
        return  # provider formats: see test_provider_formats_are_non_standard_blocks
    assert message.content_blocks == theirs.content_blocks


def test_provider_formats_are_non_standard_blocks() -> None:
    block = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    assert HumanMessage(content=[block]).content_blocks == [{"type": "non_standard", "value": block}]


def test_every_langchain_field_crosses_both_ways() -> None:
    content: list[Any] = [{"type": "text", "text": "a"}, {"type": "image", "url": "x"}, "b"]
    kwargs = {"refusal": None, "audio": {"id": "au-1"}}
    cases = [
        lc.HumanMessage(content=content, id="h", name="ann", additional_kwargs=kwargs, response_metadata={"k": 1}),
        lc.SystemMessage(content=content, additional_kwargs=kwargs),
        lc.AIMessage(content=content, additional_kwargs=kwargs, response_metadata={"model_name": "m"}),
        lc.ToolMessage(content=content, tool_call_id="c1", artifact={"rows": [1, 2]}, status="error"),
        lc.AIMessageChunk(content=content, additional_kwargs=kwargs, chunk_position="last"),
    ]
    for message in cases:
        mine = from_langchain(message)
        assert mine.content == content
        assert mine.text == message.text == "ab"
        assert mine.additional_kwargs == message.additional_kwargs
        assert mine.response_metadata == message.response_metadata
        assert to_langchain(mine) == message
    assert from_langchain(cases[3]).artifact == {"rows": [1, 2]}  # type: ignore[attr-defined]


def test_chunks_add_up_list_content_and_additional_kwargs_as_langchains() -> None:
    pieces: list[Any] = [
        ("", {}),
        ([{"type": "text", "text": "he", "index": 0}], {"function_call": {"name": "f", "arguments": ""}}),
        ([{"type": "text", "text": "llo", "index": 0}], {"function_call": {"arguments": '{"a"'}}),
        ([{"type": "thinking", "thinking": "hm", "index": 1}], {"function_call": {"arguments": ": 1}"}}),
        (" end", {"n": 2}),
        ([{"type": "thinking", "thinking": "m", "index": 1}], {"n": 3}),
    ]
    theirs = [lc.AIMessageChunk(content=c, additional_kwargs=k) for c, k in pieces]
    mine = [from_langchain(m) for m in theirs]
    for n in range(1, len(pieces) + 1):
        lc_sum = theirs[0]
        sf_sum = mine[0]
        for a, b in zip(theirs[1:n], mine[1:n], strict=True):
            lc_sum, sf_sum = lc_sum + a, sf_sum + b  # type: ignore[operator]
        assert to_langchain(sf_sum) == lc_sum
    assert lc_sum.additional_kwargs["function_call"] == {"name": "f", "arguments": '{"a": 1}'}
    whole = sf_sum.to_message()  # type: ignore[attr-defined]
    assert whole.content == lc_sum.content and whole.additional_kwargs == lc_sum.additional_kwargs


_block = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "thinking"]), "text": st.text(max_size=3)},
    optional={"index": st.integers(0, 1) | st.just("lc_1"), "id": st.sampled_from(["", "b1", "b2"])},
)
_kwargs = st.dictionaries(
    st.sampled_from(["a", "b", "index", "id"]),
    st.one_of(st.none(), st.text(max_size=3), st.integers(0, 3), st.fixed_dictionaries({"k": st.text(max_size=2)})),
    max_size=2,
)
_pieces = st.lists(
    st.tuples(st.text(max_size=3) | st.lists(st.text(max_size=2) | _block, max_size=2), _kwargs),
    min_size=1,
    max_size=5,
)


@given(_pieces)
def test_chunks_add_up_as_langchains_whatever_their_content_and_kwargs(pieces: list[Any]) -> None:
    theirs = [lc.AIMessageChunk(content=c, additional_kwargs=k) for c, k in pieces]
    try:
        expected: Any = theirs[0]
        for chunk in theirs[1:]:
            expected = expected + chunk
    except TypeError:
        expected = TypeError
    try:
        total: Any = from_langchain(theirs[0])
        for chunk in theirs[1:]:
            total = total + from_langchain(chunk)
        got: Any = to_langchain(total)
        in_one_pass: Any = to_langchain(merge_chunks(from_langchain(c) for c in theirs))  # type: ignore[misc]
    except TypeError:
        got = in_one_pass = TypeError
    assert got == expected
    assert in_one_pass == expected


def test_a_chunks_shared_empty_additional_kwargs_cannot_change() -> None:
    chunk = AIMessageChunk(content="x")
    with pytest.raises(TypeError, match="assign a new dict"):
        chunk.additional_kwargs["k"] = 1
    chunk.additional_kwargs = {"k": 1}
    assert AIMessageChunk(content="y").additional_kwargs == {}


def test_a_message_dict_or_tuple_refuses_content_that_is_neither_text_nor_blocks() -> None:
    with pytest.raises(InvalidArgumentError, match="content must be a str or a list"):
        add_messages([], [{"role": "user", "content": 3}])
    with pytest.raises(InvalidArgumentError, match="content must be a str or a list"):
        add_messages([], [("assistant", None)])
    assert add_messages([], [{"role": "assistant", "content": None, "id": "a"}]) == [AIMessage(content="", id="a")]


@given(chat_messages())
def test_every_message_field_is_kept_by_the_checkpoint_serializer(message: Any) -> None:
    serde = JsonPlusSerializer()
    assert serde.loads_typed(serde.dumps_typed(message)) == message


@given(chat_messages())
def test_every_message_field_crosses_the_wire_form_and_sse(message: Any) -> None:
    event = ChatModelFinished(run_id="r", seq=1, message=message)
    assert decode_event(encode_event(event)) == event
    encoded = json.loads(to_json(message))
    fields = {a.name for a in attrs.fields(type(message))}
    assert set(encoded) == fields | {"type"}
    assert encoded["content"] == message.content
    assert encoded["additional_kwargs"] == message.additional_kwargs


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


# -- langchain-core takes streamflow messages ------------------------------------------------------


def sf_conversation() -> list[Any]:
    call: Any = {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1", "type": "tool_call"}
    return add_messages(
        [],
        [
            SystemMessage(content="be brief", id="s"),
            ("user", "hi"),
            AIMessage(content="", tool_calls=[call], id="a", additional_kwargs={"k": "v"}),
            ToolMessage(content="3", tool_call_id="c1", id="t", artifact=[3]),
            HumanMessage(content=[{"type": "text", "text": "and"}, {"type": "image", "url": "u"}], id="h2"),
        ],
    )


def test_langchain_core_converts_streamflow_messages_wherever_it_takes_messages() -> None:
    state = sf_conversation()
    expected = [to_langchain(m) for m in state]
    assert convert_to_messages(state) == expected
    assert convert_to_messages([*state, ("user", "x")])[:-1] == expected
    fixed: Any = SystemMessage(content="fixed")
    prompt = ChatPromptTemplate.from_messages([fixed, MessagesPlaceholder("history")])
    shown = prompt.invoke({"history": state}).to_messages()
    assert shown == [to_langchain(fixed), *expected]
    assert trim_messages(state, max_tokens=1, token_counter=len, strategy="last") == expected[-1:]


async def test_a_langchain_chat_model_takes_a_streamflow_state_in_every_call() -> None:
    seen: list[Any] = []

    class Recording(GenericFakeChatModel):
        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
            seen.append(messages)
            return super()._generate(messages, stop, run_manager, **kw)

    model = Recording(messages=itertools.cycle([lc.AIMessage(content="ok")]))
    state = sf_conversation()
    expected = [to_langchain(m) for m in state]
    model.invoke(state)
    await model.ainvoke(state)
    list(model.stream(state))
    [c async for c in model.astream(state)]
    model.batch([state, state[:2]])
    assert len(seen) == 6
    assert seen[:4] == [expected] * 4
    assert sorted(seen[4:], key=len) == [expected[:2], expected]


def test_other_values_still_meet_langchain_cores_own_errors() -> None:
    with pytest.raises(NotImplementedError, match="Unsupported message type"):
        convert_to_messages([3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="Message dict must contain"):
        convert_to_messages([{"no": "role"}])


def test_the_langchain_core_patch_is_installed_once() -> None:
    from langchain_core.messages import utils
    from langchain_core.prompts import chat

    from streamflow.integrations.langchain import activate

    before = (utils._convert_to_message, chat._convert_to_message_template)
    activate()
    assert (utils._convert_to_message, chat._convert_to_message_template) == before
    wrapper: Any = utils._convert_to_message
    assert not hasattr(wrapper.__wrapped__, "__wrapped__")


def test_a_node_calls_a_langchain_model_with_its_state_as_on_langgraph() -> None:
    def call(state: Any) -> dict[str, Any]:
        return {"messages": [generic("fine thanks").invoke(state["messages"])]}

    out = one_node(call).invoke({"messages": [("user", "hi"), ("assistant", "hello"), ("user", "how are you")]})
    assert [type(m).__name__ for m in out["messages"]] == ["HumanMessage", "AIMessage", "HumanMessage", "AIMessage"]
    assert out["messages"][-1].content == "fine thanks"


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


def test_every_task_of_a_run_sees_the_runs_config_and_the_caller_never_does() -> None:
    from langchain_core.runnables.config import var_child_runnable_config

    from streamflow.graph import END

    class Counter(MessagesState):
        n: int

    seen: list[Any] = []

    async def first(state: Counter) -> dict[str, Any]:
        seen.append(var_child_runnable_config.get())
        return {"n": 1}

    def second(state: Counter) -> dict[str, Any]:  # a sync node: another thread
        seen.append(var_child_runnable_config.get())
        return {"n": 2}

    graph = (
        StateGraph(Counter)
        .add_node("first", first)
        .add_node("second", second)
        .add_edge(START, "first")
        .add_edge("first", "second")
        .add_edge("second", END)
        .compile()
    )

    async def main() -> tuple[Any, Any]:
        before = var_child_runnable_config.get()
        await graph.ainvoke({"messages": [], "n": 0})
        await graph.ainvoke({"messages": [], "n": 0})
        return before, var_child_runnable_config.get()

    before, after = asyncio.run(main())
    assert before is None
    assert after is None
    assert len(seen) == 4
    assert all(config is not None and "callbacks" in config for config in seen)
    assert seen[0] is seen[1]  # one run, one config
    assert seen[2] is seen[3]
    assert seen[0] is not seen[2]  # each run its own
