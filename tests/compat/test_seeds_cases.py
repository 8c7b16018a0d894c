"""The code examples of LangChain's four streaming pages, run on langchain-core/LangGraph/LangChain and on
streamflow with only their imports changed and a scripted model in place of the hosted one; what they print
must be the same. ``SEEDS.md`` maps every example of the pages to the case(s) that run it, here or in the
other files of this package.

The pages: the streaming concepts page (python.langchain.com/docs/concepts/streaming), "How to stream chat
model responses" (docs/how_to/chat_streaming), "How to stream responses from an LLM" (docs/how_to/streaming_llm)
and LangChain v1's streaming page (docs.langchain.com/oss/python/langchain/streaming).

Printed text is compared after :func:`same`: UUIDs become ``<id0>``, ``<id1>``... in order of first
appearance (run ids, message ids, checkpoint namespaces), and an ``lc_versions`` entry, which names each
library's own version, becomes ``<versions>``. Nothing else is normalised: message ``repr``/``str``, event
dict key order, tags and metadata are compared as printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from .conftest import Lib, load, normalise, reference
from .scripted import Turn, call, scripted_model
from .test_agents_cases import QUESTION, agents, get_weather, weather_with_progress
from .test_agents_cases import _tokens as tool_call_tokens

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VERSIONS = re.compile(r"'lc_versions': \{[^{}]*\}")

SONG = "Here is a 1 verse song about goldfish on the moon:\n\nFloating up in the starry night,"


def both() -> list[Lib]:
    return [reference(), load("streamflow")]


def same(text: str) -> str:
    """``text`` with UUIDs numbered in order of first appearance and ``lc_versions`` entries placeholders."""
    ids: dict[str, str] = {}
    text = _UUID.sub(lambda m: ids.setdefault(m.group(0), f"<id{len(ids)}>"), text)
    return _VERSIONS.sub("'lc_versions': <versions>", text)


def printed(page: Callable[..., Any], *args: Any) -> str:
    """What ``page(*args)`` prints (run to the end when it is a coroutine), normalised by :func:`same`."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = page(*args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return same(out.getvalue())


def _tokens(lib: Lib, text: str, calls: list[dict[str, Any]]) -> Iterator[Any]:
    for part in [p for p in re.split(r"(\s)", text) if p]:
        yield lib.AIMessageChunk(content=part)


def chat(lib: Lib, text: str = SONG) -> Any:
    """The scripted chat model of ``lib`` (class ``Scripted`` on both) answering ``text`` at every call, in
    whitespace-split tokens."""
    return scripted_model(lib, [(text, [])], _tokens, joiner="")


# -- "How to stream chat model responses" ---------------------------------------------------------


def test_chat_page_sync_stream_prints_the_same() -> None:
    def page(lib: Lib) -> None:
        chat_model = chat(lib)
        for chunk in chat_model.stream("Write me a 1 verse song about goldfish on the moon"):
            print(chunk.content, end="|", flush=True)

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert out[0].startswith("Here| |is| |a|")


def test_chat_page_async_stream_prints_the_same() -> None:
    async def page(lib: Lib) -> None:
        chat_model = chat(lib)
        async for chunk in chat_model.astream("Write me a 1 verse song about goldfish on the moon"):
            print(chunk.content, end="|", flush=True)

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert "|\n|\n|Floating|" in out[0]


def test_chat_page_astream_events_print_the_same() -> None:
    async def page(lib: Lib) -> None:
        chat_model = chat(lib)
        idx = 0
        async for event in chat_model.astream_events("Write me a 1 verse song about goldfish on the moon"):
            idx += 1
            if idx >= 5:  # Truncate the output
                print("...Truncated")
                break
            print(event)

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert out[0].count("'event': 'on_chat_model_stream'") == 3


# -- "How to stream responses from an LLM" --------------------------------------------------------


def song_llm(lib: Lib, text: str = SONG) -> Any:
    """A string LLM of ``lib`` (class ``Song`` on both) answering ``text`` in whitespace-led words."""
    pieces = [w if i == 0 else " " + w for i, w in enumerate(text.split(" "))]
    if lib.name == "langgraph":
        from langchain_core.language_models.llms import LLM
        from langchain_core.outputs import GenerationChunk

        class Song(LLM):
            @property
            def _llm_type(self) -> str:
                return "song"

            def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
                return text

            def _stream(self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any) -> Iterator[Any]:
                for piece in pieces:
                    chunk = GenerationChunk(text=piece)
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk

        return Song()
    from streamflow.language_models import BaseLLM

    class Song(BaseLLM):  # type: ignore[no-redef]
        async def _astream_text(self, prompt: str) -> AsyncIterator[str]:
            for piece in pieces:
                yield piece

    return Song()


def test_llm_page_sync_and_async_stream_print_the_same() -> None:
    async def page(lib: Lib) -> None:
        llm = song_llm(lib)
        async for chunk in llm.astream("Write me a 1 verse song about sparkling water."):
            print(chunk, end="|", flush=True)

    def sync_page(lib: Lib) -> None:
        llm = song_llm(lib)
        for chunk in llm.stream("Write me a 1 verse song about sparkling water."):
            print(chunk, end="|", flush=True)

    out = [(printed(page, lib), printed(sync_page, lib)) for lib in both()]
    assert out[1] == out[0]
    assert out[0][0] == out[0][1] and out[0][0].startswith("Here| is| a|")


def v1_song_events_printed(show: Callable[[Any], Any]) -> list[str]:
    """The v1 events page's loop (its first four events, then "...Truncated") with ``print(*show(event))``,
    as each library prints it."""

    async def page(lib: Lib) -> None:
        llm = song_llm(lib)
        idx = 0
        async for event in llm.astream_events("Write me a 1 verse song about goldfish on the moon", version="v1"):
            idx += 1
            if idx >= 5:  # Truncate the output
                print("...Truncated")
                break
            print(*show(event))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LangChain's deprecation of v1
        return [printed(page, lib) for lib in both()]


def test_llm_page_v1_events_print_the_same() -> None:
    out = v1_song_events_printed(lambda event: (event,))
    assert out[1] == out[0]
    assert out[0].startswith("{'event': 'on_llm_start', 'run_id': '<id0>', 'name': 'Song', 'tags': [], 'metadata': {}")


def test_llm_page_v1_events_name_the_same_events_and_data() -> None:
    out = v1_song_events_printed(
        lambda event: (event["event"], event["name"], event["tags"], event["parent_ids"], event["data"])
    )
    assert out[1] == out[0]
    assert "on_llm_stream Song [] [] {'chunk': ' is'}" in out[0]


# -- the streaming concepts page ------------------------------------------------------------------


def story_graph(lib: Lib, model: Any) -> Any:
    """START -> ``think`` (writes custom data, then calls ``model.invoke``, as the page's auto-streaming
    example) -> END, on ``MessagesState``."""

    def think(state: Any) -> dict[str, Any]:
        lib.get_stream_writer()({"progress": "calling the model"})
        ai_message = model.invoke(state["messages"])
        return {"messages": [ai_message]}

    builder = lib.StateGraph(lib.MessagesState)
    builder.add_node("think", think)
    builder.add_edge(lib.START, "think")
    return builder.compile()


COMPONENTS: dict[str, tuple[Callable[[Lib], Any], Any]] = {
    "chat model": (lambda lib: chat(lib, "a short joke"), "tell me a joke"),
    "prompt | model | parser": (
        lambda lib: (
            lib.ChatPromptTemplate.from_template("tell me a joke about {topic}")
            | chat(lib, "a short joke")
            | lib.StrOutputParser()
        ),
        {"topic": "parrot"},
    ),
    "compiled graph": (lambda lib: story_graph(lib, chat(lib, "a short joke")), {"messages": [("user", "hi")]}),
    "graph as the last step of a chain": (
        lambda lib: (
            lib.RunnableLambda(lambda topic: {"messages": [("user", topic)]})
            | story_graph(lib, chat(lib, "a short joke"))
        ),
        "parrot",
    ),
}


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_concepts_page_stream_prints_each_chunk_the_same(component: str) -> None:
    build, some_input = COMPONENTS[component]

    def page(lib: Lib) -> None:
        for chunk in build(lib).stream(some_input):
            print(chunk)

    async def async_page(lib: Lib) -> None:
        async for chunk in build(lib).astream(some_input):
            print(chunk)

    out = [(printed(page, lib), printed(async_page, lib)) for lib in both()]
    assert out[1] == out[0]
    assert out[0][0] == out[0][1]


def test_concepts_page_chat_model_chunks_are_ai_message_chunks() -> None:
    out = []
    for lib in both():
        chunks = list(chat(lib, "a b").stream("x"))
        total = chunks[0]
        for chunk in chunks[1:]:
            total = total + chunk
        out.append(([type(c).__name__ for c in chunks], same(repr(total))))
    assert out[1] == out[0]
    assert set(out[0][0]) == {"AIMessageChunk"}


MODES = ["values", "updates", "messages", "custom", ["updates", "custom", "messages"]]


@pytest.mark.parametrize("stream_mode", MODES, ids=repr)
def test_concepts_page_graph_stream_modes_print_the_same(stream_mode: Any) -> None:
    def page(lib: Lib) -> None:
        graph = story_graph(lib, chat(lib, "a short joke"))
        for chunk in graph.stream({"messages": [("user", "hi")]}, stream_mode=stream_mode):
            print(chunk)

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]


def test_concepts_page_auto_streaming_node_invoke_streams_tokens() -> None:
    def page(lib: Lib) -> None:
        graph = story_graph(lib, chat(lib, "a short joke"))
        for chunk, metadata in graph.stream({"messages": [("user", "hi")]}, stream_mode="messages"):
            print(type(chunk).__name__, repr(chunk.content), metadata["langgraph_node"])

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert out[0].splitlines()[:3] == [
        "AIMessageChunk 'a' think",
        "AIMessageChunk ' ' think",
        "AIMessageChunk 'short' think",
    ]


def test_concepts_page_astream_events_print_the_same() -> None:
    async def page(lib: Lib) -> None:
        model = chat(lib, "Why did the parrot talk? It had a lot to say.")
        prompt = lib.ChatPromptTemplate.from_template("tell me a joke about {topic}")
        parser = lib.StrOutputParser()
        chain = prompt | model | parser
        async for event in chain.astream_events({"topic": "parrot"}):
            kind = event["event"]
            if kind == "on_chat_model_stream":
                print(event, end="|", flush=True)

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert "'tags': ['seq:step:2']" in out[0]


def test_concepts_page_all_events_of_the_chain_print_the_same() -> None:
    async def page(lib: Lib) -> None:
        chain = (
            lib.ChatPromptTemplate.from_template("tell me a joke about {topic}")
            | chat(lib, "Why did the parrot talk?")
            | lib.StrOutputParser()
        )
        async for event in chain.astream_events({"topic": "parrot"}):
            print(event)

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert "'event': 'on_chat_model_end', 'data': {'output': AIMessageChunk(" in out[0]


def agent_events(lib: Lib, kinds: tuple[str, ...], names: tuple[str, ...] = ()) -> str:
    """What the page's event loop prints for the v1 page's agent: the events of ``kinds`` (of the runs
    named ``names``, when given), one line each."""

    async def page() -> None:
        agent = agents(lib).create_agent(model=weather_model(lib), tools=[get_weather])
        async for event in agent.astream_events(QUESTION):
            if event["event"] in kinds and (not names or event["name"] in names):
                print(event["event"], event["name"], event["tags"], event["data"])

    return printed(page)


def test_concepts_page_events_of_an_agent_print_the_same() -> None:
    kinds = ("on_chat_model_start", "on_chat_model_end", "on_tool_start", "on_tool_end")
    out = [agent_events(lib, kinds) for lib in both()]
    assert out[1] == out[0]
    assert "on_tool_start get_weather ['seq:step:1']" in out[0]


def test_concepts_page_agent_node_events_print_the_same() -> None:
    kinds = ("on_chain_start", "on_chain_end")
    out = [agent_events(lib, kinds) for lib in both()]
    assert out[1] == out[0]
    assert "on_chain_end model ['graph:step:1'] {'output': [Command(update={'messages': [AIMessage(" in out[0]
    assert "on_chain_start tools ['graph:step:2'] {'input': [{'name': 'get_weather', 'args': {" in out[0]


def test_concepts_page_agent_run_and_model_node_starts_print_the_same() -> None:
    out = [agent_events(lib, ("on_chain_start",), ("LangGraph", "model")) for lib in both()]
    assert out[1] == out[0]


def _chain_with_graph(lib: Lib) -> Any:
    graph = story_graph(lib, chat(lib, "a short joke"))
    return lib.RunnableLambda(lambda topic: {"messages": [("user", topic)]}) | graph | lib.RunnableLambda(repr)


def test_concepts_page_graph_in_the_middle_of_a_chain_passes_on_its_last_update() -> None:
    out = []
    for lib in both():
        chain = _chain_with_graph(lib)
        out.append((same(chain.invoke("parrot")), [same(c) for c in chain.stream("parrot")]))
    assert out[1] == out[0]
    assert out[0][1][0].startswith("{'think': {'messages': [AIMessage(")


def test_concepts_page_graph_in_a_chain_has_the_same_events() -> None:
    """The same events (as a multiset: the step after the graph starts at another point of the graph's run,
    LangGraph's depending on how its loop interleaves)."""

    async def events(lib: Lib) -> list[str]:
        seen = [e async for e in _chain_with_graph(lib).astream_events("parrot")]
        return sorted(same(str({k: v for k, v in e.items() if k != "metadata"})) for e in seen)

    out = [asyncio.run(events(lib)) for lib in both()]
    assert normalise(out[1]) == normalise(out[0])


# -- LangChain v1's streaming page ----------------------------------------------------------------


def weather_model(lib: Lib) -> Any:
    """The v1 page's model, scripted: it asks for ``get_weather("San Francisco")``, then answers."""
    turns: list[Turn] = [
        ("", [call("get_weather", {"city": "San Francisco"}, "call_KTNQIftMrl9vgNwEfAJMVu7r")]),
        ("San Francisco weather: It's always sunny in San Francisco!\n\n", []),
    ]
    return scripted_model(lib, turns, tool_call_tokens, joiner="")


def test_v1_page_multiple_modes_print_the_same() -> None:
    def page(lib: Lib) -> None:
        agent = agents(lib).create_agent(model=weather_model(lib), tools=[weather_with_progress(lib)])
        for stream_mode, chunk in agent.stream(QUESTION, stream_mode=["updates", "custom"]):
            print(f"stream_mode: {stream_mode}")
            print(f"content: {chunk}")
            print("\n")

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert "content: {'tools': {'messages': [ToolMessage(content=\"It's always sunny in San Francisco!\", " in out[0]


def test_v1_page_agent_progress_prints_the_same_messages() -> None:
    def page(lib: Lib) -> None:
        agent = agents(lib).create_agent(model=weather_model(lib), tools=[get_weather])
        for chunk in agent.stream(QUESTION, stream_mode="updates"):
            for step, data in chunk.items():
                print(f"step: {step}")
                print(f"content: {data['messages'][-1].content_blocks}")
                print(f"message: {data['messages'][-1]!r}")

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]


TOOL_OUTSIDE_A_RUN = pytest.mark.differs(
    "deliberate (README): a tool calling get_stream_writer() invoked outside a run raises NotInRunError (a "
    "RuntimeError naming where to call it); LangGraph raises KeyError('__pregel_runtime')"
)


@TOOL_OUTSIDE_A_RUN
def test_v1_page_tool_with_a_stream_writer_outside_a_run(lib: Lib) -> None:
    with pytest.raises(KeyError):
        lib.tool(weather_with_progress(lib)).invoke({"city": "SF"})


def test_v1_page_stream_writer_outside_a_run_is_a_runtime_error() -> None:
    for lib in both():
        get_weather_with_progress = weather_with_progress(lib)
        with pytest.raises(RuntimeError):
            get_weather_with_progress("SF")
        with pytest.raises((RuntimeError, KeyError)):
            lib.tool(get_weather_with_progress).invoke({"city": "SF"})


def test_v1_page_disable_streaming_model_gives_whole_messages() -> None:
    def page(lib: Lib) -> None:
        model = chat(lib, "a b c")
        model.disable_streaming = True
        agent = agents(lib).create_agent(model=model, tools=[get_weather])
        for token, metadata in agent.stream(QUESTION, stream_mode="messages"):
            print(f"node: {metadata['langgraph_node']}")
            print(f"content: {token.content_blocks}")
            print(type(token).__name__)

    out = [printed(page, lib) for lib in both()]
    assert out[1] == out[0]
    assert out[0].splitlines() == ["node: model", "content: [{'type': 'text', 'text': 'a b c'}]", "AIMessage"]
