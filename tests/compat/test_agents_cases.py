"""LangChain v1's ``create_agent`` and ``init_chat_model`` against streamflow's: the same code, compared.

The four examples of LangChain v1's streaming page (agent progress, LLM tokens, custom updates, several
modes) run on both libraries with one scripted tool-calling model written against each library's
``BaseChatModel`` (text streamed in whitespace-split tokens, tool-call arguments in pieces of 4 characters)
and must print the same lines; more cases check the graph's shape, the system prompt, parallel tool
calls, tools returning directly, naming and bad input.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Annotated, Any

import pytest

from .conftest import Lib, load, normalise, reference
from .scripted import Turn, call, scripted_model


def agents(lib: Lib) -> Any:
    """``create_agent`` and ``init_chat_model`` of ``lib`` (LangChain v1's for the reference)."""
    if lib.name == "streamflow":
        return SimpleNamespace(
            create_agent=importlib.import_module("streamflow.agents").create_agent,
            init_chat_model=importlib.import_module("streamflow.chat_models").init_chat_model,
        )
    try:
        return SimpleNamespace(
            create_agent=importlib.import_module("langchain.agents").create_agent,
            init_chat_model=importlib.import_module("langchain.chat_models").init_chat_model,
        )
    except ImportError as exc:
        message = f"langchain is not installed (pip install 'streamflow[compare]'): {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def both() -> list[Lib]:
    return [reference(), load("streamflow")]


def scripted(lib: Lib, turns: list[Turn]) -> Any:
    """A chat model of ``lib`` answering with ``turns`` in turn (a text of None: the contents of its input
    messages joined by ``|``): text in whitespace-split tokens, then each tool call's arguments as JSON in
    pieces of 4 characters; ``bind_tools`` returns the model."""
    return scripted_model(lib, turns, _tokens, joiner="|")


def _tokens(lib: Lib, text: str, calls: list[dict[str, Any]]) -> Iterator[Any]:
    for part in [p for p in re.split(r"(\s)", text) if p]:
        yield lib.AIMessageChunk(content=part)
    for index, c in enumerate(calls):
        args = json.dumps(c["args"])
        for n, start in enumerate(range(0, len(args), 4)):
            first = n == 0
            piece = {
                "name": c["name"] if first else None,
                "args": args[start : start + 4],
                "id": c["id"] if first else None,
                "index": index,
            }
            yield lib.AIMessageChunk(content="", tool_call_chunks=[piece])


def get_weather(city: str) -> str:
    """Get weather for a given city."""
    return f"It's always sunny in {city}!"


def weather_with_progress(lib: Lib) -> Any:
    def get_weather(city: str) -> str:
        """Get weather for a given city."""
        writer = lib.get_stream_writer()
        writer(f"Looking up data for city: {city}")
        writer(f"Acquired data for city: {city}")
        return f"It's always sunny in {city}!"

    return get_weather


SF = call("get_weather", {"city": "San Francisco"}, "call_OW2NYNsNSKhRZpjW0wm2Aszd")
WEATHER_TURNS: list[Turn] = [("", [SF]), ("It's always sunny in San Francisco!", [])]
QUESTION = {"messages": [{"role": "user", "content": "What is the weather in SF?"}]}


def weather_agent(lib: Lib, tool: Any = get_weather) -> Any:
    return agents(lib).create_agent(model=scripted(lib, WEATHER_TURNS), tools=[tool])


# -- the v1 streaming page's examples, printed -------------------------------------------------------


def test_agent_progress_prints_the_same() -> None:
    printed = []
    for lib in both():
        lines = []
        for chunk in weather_agent(lib).stream(QUESTION, stream_mode="updates"):
            for step, data in chunk.items():
                lines.append(f"step: {step}")
                lines.append(f"content: {data['messages'][-1].content_blocks}")
        printed.append(lines)
    assert printed[1] == printed[0]
    assert printed[0][0] == "step: model"
    tool_text = "content: [{'type': 'text', 'text': \"It's always sunny in San Francisco!\"}]"
    assert printed[0][2:4] == ["step: tools", tool_text]


def test_llm_tokens_print_the_same() -> None:
    printed = []
    for lib in both():
        lines = []
        for token, metadata in weather_agent(lib).stream(QUESTION, stream_mode="messages"):
            lines.append(f"node: {metadata['langgraph_node']}")
            lines.append(f"content: {token.content_blocks}")
        printed.append(lines)
    assert printed[1] == printed[0]
    assert "content: [{'type': 'tool_call_chunk', 'id': None, 'name': None, 'args': 'ty\":', 'index': 0}]" in printed[0]


def test_custom_updates_print_the_same() -> None:
    printed = []
    for lib in both():
        agent = weather_agent(lib, weather_with_progress(lib))
        printed.append([str(chunk) for chunk in agent.stream(QUESTION, stream_mode="custom")])
    assert (
        printed[1]
        == printed[0]
        == [
            "Looking up data for city: San Francisco",
            "Acquired data for city: San Francisco",
        ]
    )


def test_multiple_modes_stream_the_same() -> None:
    out = []
    for lib in both():
        agent = weather_agent(lib, weather_with_progress(lib))
        out.append(normalise(list(agent.stream(QUESTION, stream_mode=["updates", "custom"]))))
    assert out[1] == out[0]
    assert [mode for mode, _ in out[0]] == ["updates", "custom", "custom", "updates", "updates"]


async def messages_and_updates() -> list[Any]:
    out = []
    for lib in both():
        agent = weather_agent(lib)
        seen: list[tuple[Any, ...]] = []
        async for mode, chunk in agent.astream(QUESTION, stream_mode=["messages", "updates"]):
            if mode == "messages":
                token, metadata = chunk
                seen.append((mode, token.content_blocks, metadata["langgraph_node"], metadata["langgraph_step"]))
            else:
                seen.append((mode, normalise(chunk)))
        out.append(normalise(seen))
    return out


@pytest.mark.anyio
async def test_astream_messages_and_updates_together_give_the_same_chunks() -> None:
    out = await messages_and_updates()
    assert sorted(map(repr, out[1])) == sorted(map(repr, out[0]))


@pytest.mark.anyio
async def test_astream_messages_and_updates_together_in_the_same_order() -> None:
    out = await messages_and_updates()
    assert out[1] == out[0]


# -- the graph and its behaviour ---------------------------------------------------------------------


def test_graph_nodes_and_name_match() -> None:
    shapes = []
    for lib in both():
        with_tools = weather_agent(lib)
        without = agents(lib).create_agent(model=scripted(lib, [("hi", [])]))
        shapes.append((nodes(with_tools), nodes(without), with_tools.name, without.name))
    assert shapes[1] == shapes[0]
    assert shapes[0][:2] == (["model", "tools"], ["model"])


def nodes(graph: Any) -> list[str]:
    return sorted(n for n in graph.nodes if not n.startswith("__"))


CASES: dict[str, tuple[list[Turn], dict[str, Any]]] = {
    "no tools, system prompt": ([(None, [])], {"tools": None, "system_prompt": "Be brief."}),
    "system message, echoed": ([(None, [])], {"system_prompt": "sys"}),
    "two calls at once": (
        [("", [call("get_weather", {"city": "A"}, "c1"), call("get_weather", {"city": "B"}, "c2")]), (None, [])],
        {},
    ),
    "named answers": ([("", [SF]), ("done", [])], {"name": "weather_bot"}),
    "return direct": ([("", [call("final", {"answer": "42"}, "c9")]), ("never", [])], {}),
    "bad arguments become a message": ([("", [call("get_weather", {"town": "X"}, "c3")]), (None, [])], {}),
}


def final(answer: str) -> str:
    """Give the final answer."""
    return f"final: {answer}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_invoke_and_updates_match(case: str) -> None:
    turns, kwargs = CASES[case]
    out = []
    for lib in both():
        tools = kwargs.get("tools", [get_weather, lib.tool(final, return_direct=True)])
        extra = {k: v for k, v in kwargs.items() if k != "tools"}
        build = agents(lib).create_agent
        result = build(model=scripted(lib, turns), tools=tools, **extra).invoke(QUESTION)
        updates = list(build(model=scripted(lib, turns), tools=tools, **extra).stream(QUESTION))
        out.append(normalise((result, sorted(map(repr, normalise(updates))))))
    assert out[1] == out[0]


def test_checkpointer_keeps_the_conversation() -> None:
    out = []
    for lib in both():
        agent = agents(lib).create_agent(
            model=scripted(lib, [(None, [])]), tools=[get_weather], checkpointer=lib.InMemorySaver()
        )
        config = {"configurable": {"thread_id": "t"}}
        agent.invoke({"messages": [{"role": "user", "content": "one"}]}, config)
        out.append(normalise(agent.invoke({"messages": [{"role": "user", "content": "two"}]}, config)))
    assert out[1] == out[0]


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["nosuchprovider:model-x", "anthropic:claude-sonnet-4-5", "mystery-model"])
def test_unknown_provider_is_a_value_error_on_both(model: str) -> None:
    for lib in both():
        with pytest.raises((ValueError, ImportError)):
            agents(lib).init_chat_model(model)
    with pytest.raises(ValueError, match="local, openai"):
        agents(load("streamflow")).init_chat_model(model)


def test_create_agent_with_an_unknown_provider_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"(?s)Unsupported provider='anthropic'.*local, openai"):
        agents(load("streamflow")).create_agent("anthropic:claude-sonnet-4-5", tools=[get_weather])


# -- what the tools read from the graph ----------------------------------------------------------------


def count_tool(lib: Lib) -> Any:
    """A tool reading the agent's state (``InjectedState``): the number of messages so far and the last one's
    type."""

    def count_messages(note: str, state: dict[str, Any]) -> str:
        """Count the messages so far."""
        messages = state["messages"]
        return f"{note}: {len(messages)} messages, last {type(messages[-1]).__name__}"

    # What a user writes as ``Annotated[dict, InjectedState]``, with the library under test's names.
    count_messages.__annotations__["state"] = Annotated[dict, lib.InjectedState]
    return lib.tool(count_messages)


def test_tools_read_the_agents_state() -> None:
    """Each tool call is sent to ``tools`` alone, without the state (LangChain's ``Send("tools", [call])``):
    an ``InjectedState`` parameter still gets the state the node would get from an edge."""
    turns: list[Turn] = [
        ("", [call("count_messages", {"note": "a"}, "c1"), call("count_messages", {"note": "b"}, "c2")]),
        ("", [call("count_messages", {"note": "c"}, "c3")]),
        (None, []),
    ]
    out = []
    for lib in both():
        agent = agents(lib).create_agent(model=scripted(lib, turns), tools=[count_tool(lib)])
        result = agent.invoke(QUESTION)
        out.append([m.content for m in result["messages"] if isinstance(m, lib.ToolMessage)])
    assert out[1] == out[0]
    assert out[0] == ["a: 2 messages, last AIMessage", "b: 2 messages, last AIMessage", "c: 5 messages, last AIMessage"]


def confirm_tool(lib: Lib) -> Any:
    """A tool that asks to confirm its city (``interrupt``) and reads the agent's state."""

    def confirm(city: str, state: dict[str, Any]) -> str:
        """Confirm a city."""
        answer = lib.interrupt(f"confirm {city}?")
        return f"{answer} {city} after {len(state['messages'])} messages"

    confirm.__annotations__["state"] = Annotated[dict, lib.InjectedState]
    return lib.tool(confirm)


def test_a_tool_interrupted_and_resumed_reads_the_state() -> None:
    out = []
    for lib in both():
        turns: list[Turn] = [("", [call("confirm", {"city": "Paris"}, "c1")]), (None, [])]
        agent = agents(lib).create_agent(
            model=scripted(lib, turns), tools=[confirm_tool(lib)], checkpointer=lib.InMemorySaver()
        )
        config = {"configurable": {"thread_id": "t"}}
        first = agent.invoke(QUESTION, config)
        resumed = agent.invoke(lib.Command(resume="yes"), config)
        tool_messages = [m.content for m in resumed["messages"] if isinstance(m, lib.ToolMessage)]
        out.append(([i.value for i in first["__interrupt__"]], tool_messages))
    assert out[1] == out[0]
    assert out[0] == (["confirm Paris?"], ["yes Paris after 2 messages"])
