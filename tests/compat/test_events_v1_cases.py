"""``astream_events(version="v1")`` on langchain-core/LangGraph and on streamflow: every event dict printed
whole, in order (keys in LangChain's v1 order, ``data`` shapes, metadata), for a chat model, a string LLM, a
prompt, a parser, chains of them, a ``RunnablePassthrough.assign`` chain, a graph calling a chat model, and
the tools and the run of a graph with a ``ToolNode``.
Printed text is compared after :func:`~tests.compat.test_seeds_cases.same` (UUIDs numbered, ``lc_versions``
a placeholder).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Lib, load, reference
from .test_agents_cases import get_weather
from .test_models_cases import dispatchers
from .test_seeds_cases import chat, printed, song_llm, story_graph, weather_model


def both() -> list[Lib]:
    return [reference(), load("streamflow")]


RUNNABLES: dict[str, tuple[Callable[[Lib], Any], Any]] = {
    "chat model": (lambda lib: chat(lib, "a b c"), "hi"),
    "string LLM": (lambda lib: song_llm(lib, "a b c"), "hi"),
    "prompt": (lambda lib: lib.ChatPromptTemplate.from_template("tell {x}"), {"x": 1}),
    "parser": (lambda lib: lib.StrOutputParser(), "abc"),
    "prompt | chat model | parser": (
        lambda lib: lib.ChatPromptTemplate.from_template("tell {x}") | chat(lib, "a b") | lib.StrOutputParser(),
        {"x": 1},
    ),
    "prompt | string LLM | parser": (
        lambda lib: lib.PromptTemplate.from_template("tell {x}") | song_llm(lib, "a b") | lib.StrOutputParser(),
        {"x": 1},
    ),
    "assign | lambda": (
        lambda lib: lib.RunnablePassthrough.assign(y=lambda d: d["x"] + 1) | lib.RunnableLambda(lambda d: d["y"]),
        {"x": 1},
    ),
    "graph calling a chat model": (lambda lib: story_graph(lib, chat(lib, "a b")), {"messages": [("user", "hi")]}),
}


@pytest.mark.parametrize("case", sorted(RUNNABLES))
def test_v1_events_print_the_same(case: str) -> None:
    build, value = RUNNABLES[case]

    async def page(lib: Lib) -> None:
        async for event in build(lib).astream_events(value, version="v1"):
            print(event)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LangChain's deprecation of v1
        out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert "'parent_ids': [{" not in out[0] and out[0].count("\n") >= 3


def test_v1_root_chat_model_has_the_run_metadata_and_the_summed_output() -> None:
    async def page(lib: Lib) -> None:
        events = [e async for e in chat(lib, "a b").astream_events("hi", version="v1", config={"metadata": {"m": 1}})]
        print(events[0]["metadata"], list(events[0]))
        print(events[-1]["data"]["output"].content, list(events[-1]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert out[0].splitlines() == [
        "{'m': 1} ['event', 'run_id', 'name', 'tags', 'metadata', 'data', 'parent_ids']",
        "a b ['event', 'name', 'run_id', 'tags', 'metadata', 'data', 'parent_ids']",
    ]


def tool_graph(lib: Lib) -> Any:
    """START -> ``agent`` (the v1 page's scripted model, asking for ``get_weather`` then answering) ->
    ``tools_condition`` -> ``tools`` (a ``ToolNode``) -> ``agent``."""
    model = weather_model(lib).bind_tools([get_weather])

    def agent(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", lib.ToolNode([get_weather]))
    builder.add_edge(lib.START, "agent")
    builder.add_conditional_edges("agent", lib.tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile()


def test_v1_tool_and_graph_run_events_print_the_same() -> None:
    """A tool's v1 events under ``ToolNode`` (LangGraph's metadata: ``ls_integration``, the task's keys and
    ``checkpoint_ns``; ``input`` then ``output``), and the graph run's own (its end's output the last
    ``{node: update}`` chunk), printed whole."""

    async def page(lib: Lib) -> None:
        async for event in tool_graph(lib).astream_events({"messages": [("user", "weather?")]}, version="v1"):
            if event["event"].startswith("on_tool_") or event["name"] == "LangGraph":
                print(event)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert "'event': 'on_tool_end', 'name': 'get_weather'" in out[0]
    assert out[0].splitlines()[-1].startswith("{'event': 'on_chain_end', 'name': 'LangGraph', 'run_id': '<id0>'")


def test_v1_leaves_custom_events_out_and_filters_as_langchain() -> None:
    """v1 has no ``on_custom_event`` (LangChain's run log does not record them); ``include_types`` keeps the
    root run's events only when its type is included."""

    async def page(lib: Lib) -> None:
        _, adispatch = dispatchers(lib)

        async def step(x: int) -> str:
            await adispatch("progress", {"x": x})
            return f"got {x}"

        chain = lib.RunnableLambda(step) | lib.StrOutputParser()
        for kwargs in ({}, {"include_types": ["parser"]}, {"exclude_names": ["step"]}):
            async for event in chain.astream_events(1, version="v1", **kwargs):
                print(kwargs, event["event"], event["name"], event["data"])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert "on_custom_event" not in out[0] and "{'include_types': ['parser']} on_parser_start" in out[0]


@pytest.mark.parametrize("stream_mode", ["values", ["updates", "values"]], ids=repr)
def test_v1_graph_run_with_a_stream_mode_prints_the_same(stream_mode: Any) -> None:
    """``stream_mode`` shapes the graph's own chunks, and its end's output is their sum (the last chunk)."""

    async def page(lib: Lib) -> None:
        graph = story_graph(lib, chat(lib, "a b"))
        async for event in graph.astream_events({"messages": [("user", "hi")]}, version="v1", stream_mode=stream_mode):
            if event["name"] == "LangGraph":
                print(event)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert out[0].count("'event': 'on_chain_stream'") >= 2
