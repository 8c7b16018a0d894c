"""Runnables on the bus: a chain's run is a channel with typed events, leaving a stream cancels it, a
failure is raised once, calls made inside steps (models, graphs, custom events) belong to the same run, and
graphs and chains compose both ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypedDict

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.events import RunChunk, RunnableFinished, RunnableStarted, RunStarted
from streamflow.graph import END, START, StateGraph, adispatch_custom_event
from streamflow.messages import AIMessage
from streamflow.models import FakeChatModel
from streamflow.output_parsers import JsonOutputParser, StrOutputParser
from streamflow.prompts import ChatPromptTemplate, MessagesPlaceholder, PromptTemplate
from streamflow.runnables import (
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnableSequence,
)
from streamflow.runnables.run import RunnableRun

pytestmark = pytest.mark.anyio


class S(TypedDict):
    x: int


def _graph() -> Any:
    g = StateGraph(S)
    g.add_node("inc", lambda s: {"x": s["x"] + 1})
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    return g.compile()


async def test_a_run_publishes_typed_events_on_its_channel() -> None:
    chain: Any = RunnableLambda(lambda x: x + 1) | RunnableLambda(lambda x: x * 2)
    run = RunnableRun(chain, 1, {"tags": ["t"]}, stream=True)
    sub = run.channel.subscribe(overflow="block")
    assert await run.result() == 4
    kinds = [type(e) async for e in sub]
    assert kinds[0] is RunStarted and kinds[-1].__name__ == "RunFinished"
    assert kinds.count(RunnableStarted) == kinds.count(RunnableFinished) == 2
    assert kinds.count(RunChunk) == 1


async def test_leaving_astream_early_cancels_the_run() -> None:
    reached = []

    async def endless(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        i = 0
        try:
            while True:
                yield i
                i += 1
                await asyncio.sleep(0)
        finally:
            reached.append(i)

    generator: Any = RunnableGenerator(endless)
    stream = generator.astream(0)
    seen = [chunk async for chunk, _ in zip_first(stream, 5)]
    await stream.aclose()
    assert seen == [0, 1, 2, 3, 4]
    assert reached, "the generator was closed"


async def zip_first(stream: AsyncIterator[Any], n: int) -> AsyncIterator[tuple[Any, int]]:
    i = 0
    async for chunk in stream:
        yield chunk, i
        i += 1
        if i == n:
            return


def test_sync_stream_break_cancels_and_an_error_is_raised_once() -> None:
    def boom(x: int) -> int:
        raise ValueError(f"bad {x}")

    chain: Any = RunnableLambda(lambda x: x) | RunnableLambda(boom)
    with pytest.raises(ValueError, match="bad 3") as info:
        list(chain.stream(3))
    assert info.value.__context__ is None or not isinstance(info.value.__context__, ValueError)
    passing: Any = RunnableLambda(lambda x: x) | RunnablePassthrough()
    for chunk in passing.stream(1):
        assert chunk == 1
        break


def test_batch_and_return_exceptions() -> None:
    def check(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return x

    runnable: Any = RunnableLambda(check)
    assert runnable.batch([1, 2, 3]) == [1, 2, 3]
    out = runnable.batch([1, -1], return_exceptions=True)
    assert out[0] == 1 and isinstance(out[1], ValueError)
    with pytest.raises(ValueError, match="one config, or one per input"):
        runnable.batch([1, 2], [{}, {}, {}])


def test_config_param_bind_and_with_config() -> None:
    def tagged(x: int, config: dict[str, Any]) -> Any:
        return config["tags"]

    tags: Any = RunnableLambda(tagged).with_config(tags=["a"])
    assert tags.invoke(1) == ["a"]

    def scaled(x: int, *, factor: int = 1) -> int:
        return x * factor

    scale: Any = RunnableLambda(scaled).bind(factor=3)
    assert scale.invoke(2) == 6


def test_sync_function_in_a_step_may_call_a_model_synchronously() -> None:
    model = FakeChatModel(["pong"])
    chain: Any = RunnableLambda(lambda q: model.invoke(q).content) | StrOutputParser()
    assert chain.invoke("ping") == "pong"


async def test_custom_events_and_models_inside_steps_belong_to_the_run() -> None:
    async def step(x: str) -> str:
        await adispatch_custom_event("progress", {"at": x})
        return x

    chain: Any = (
        RunnableLambda(step) | ChatPromptTemplate.from_template("{q}") | FakeChatModel(["ok"]) | StrOutputParser()
    )
    events = [e async for e in chain.astream_events("hi", version="v2")]
    root = events[0]["run_id"]
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert custom and custom[0]["data"] == {"at": "hi"} and custom[0]["parent_ids"] == [root]
    model_start = next(e for e in events if e["event"] == "on_chat_model_start")
    assert model_start["parent_ids"] == [root] and model_start["tags"] == ["seq:step:3"]
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream" and e["run_id"] == root]
    assert "".join(streamed) == "ok"


async def test_a_graph_is_a_step_and_a_chain_is_a_node() -> None:
    chain: Any = RunnableLambda(lambda v: {"x": v}) | _graph() | (lambda s: s["x"] * 10)
    assert await chain.ainvoke(1) == 20
    streamed: Any = RunnableLambda(lambda v: {"x": v}) | _graph()
    assert [c async for c in streamed.astream(1)] == [{"inc": {"x": 2}}]  # its updates, as LangGraph's
    assert [c async for c in (streamed | RunnableLambda(lambda s: s)).astream(1)] == [{"inc": {"x": 2}}]
    names = [(e["event"], e["name"]) async for e in streamed.astream_events(3)]
    assert ("on_chain_start", "LangGraph") in names and ("on_chain_start", "inc") in names
    g = StateGraph(S)
    g.add_node("double", RunnableLambda(lambda s: {"x": s["x"] * 2}) | RunnablePassthrough())
    g.add_edge(START, "double")
    g.add_edge("double", END)
    graph = g.compile()
    assert await graph.ainvoke({"x": 4}) == {"x": 8}
    inner = [e["name"] async for e in graph.astream_events({"x": 1}) if e["event"] == "on_chain_start"]
    assert inner[:2] == ["LangGraph", "double"] and "RunnableSequence" in inner


def test_prompts_and_parsers() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "be {mood}"), MessagesPlaceholder("history"), ("human", "{q}")]
    )
    value = prompt.invoke({"mood": "kind", "history": [("ai", "hello")], "q": "why?"})
    assert [(m.type, m.content) for m in value.to_messages()] == [
        ("system", "be kind"),
        ("ai", "hello"),
        ("human", "why?"),
    ]
    assert PromptTemplate.from_template("a {b}").format(b=1) == "a 1"
    assert list(JsonOutputParser().transform(iter(['{"a": [1', ", 2]}"]))) == [{"a": [1]}, {"a": [1, 2]}]
    model = FakeChatModel([AIMessage(content='```json\n{"k": "v"}\n```')])
    assert (model | JsonOutputParser()).invoke("x") == {"k": "v"}


def test_generators_sync_and_parallel_streams() -> None:
    def words(chunks: Iterator[str]) -> Iterator[str]:
        for chunk in chunks:
            yield from chunk.split()

    generator: Any = RunnableGenerator(words)
    assert list(generator.transform(iter(["a b", "c"]))) == ["a", "b", "c"]
    par: Any = RunnableParallel(a=RunnablePassthrough(), b=lambda x: x * 2)
    chunks = list(par.stream(2))
    total: dict[str, Any] = {}
    for chunk in chunks:
        total.update(chunk)
    assert total == {"a": 2, "b": 4} == par.invoke(2)
    with pytest.raises(ValueError, match="at least 2 steps"):
        RunnableSequence(RunnablePassthrough())


async def test_a_bare_model_streams_events_and_batches() -> None:
    model = FakeChatModel(["a b"], chunk_size=2)
    events = [e async for e in model.astream_events("hello", version="v2")]
    assert [e["event"] for e in events] == [
        "on_chat_model_start",
        "on_chat_model_stream",
        "on_chat_model_stream",
        "on_chat_model_end",
    ]
    assert events[0]["data"] == {"input": "hello"} and all(e["parent_ids"] == [] for e in events)
    assert events[-1]["data"]["output"].content == "a b" and "input" not in events[-1]["data"]
    assert [m.content for m in await model.abatch(["x", "y"])] == ["a b", "a b"]


def test_sync_code_in_a_step_streams_another_chain() -> None:
    inner: Any = ChatPromptTemplate.from_template("{q}") | FakeChatModel(["one two"], chunk_size=4) | StrOutputParser()

    def collect(q: str) -> list[str]:
        chunks = []
        for chunk in inner.stream({"q": q}):
            chunks.append(chunk)
        first = inner.stream({"q": q})
        chunks.append(next(iter(first)))  # left early: closed on the run's loop
        first.close()
        return chunks

    collector: Any = RunnableLambda(collect)
    assert collector.invoke("x") == ["one ", "two", "one "]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet="xy", min_size=1, max_size=3), min_size=1, max_size=5))
def test_parallel_chunks_add_up_to_its_invoke_output(words: list[str]) -> None:
    async def echo(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for chunk in chunks:
            yield chunk

    par: Any = RunnableParallel(same=RunnableGenerator(echo), up=lambda s: s.upper())
    text = "".join(words)
    total: Any = None
    for chunk in par.stream(text):
        total = chunk if total is None else total + chunk
    assert dict(total) == par.invoke(text) == {"same": text, "up": text.upper()}


async def test_a_started_chain_run_has_the_views_a_graph_run_has() -> None:
    from structlog.testing import capture_logs

    from streamflow.log_view import LogView

    chain: Any = ChatPromptTemplate.from_template("{q}") | FakeChatModel(["hi there"]) | StrOutputParser()
    run = chain.start({"q": "x"})
    events = run.stream_events(include_types=["parser"])
    with capture_logs() as logs:
        log = LogView.attach(run, overflow="block")
        async with anyio.create_task_group() as tg:
            tg.start_soon(log.run)
            assert await run.result() == "hi there"
    names = [e["event"] async for e in events]
    assert names[0] == "on_parser_start" and names[-1] == "on_parser_end"
    kinds = [entry["event"] for entry in logs]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and "runnable_chunk" in kinds


async def test_a_failing_branch_cancels_its_siblings() -> None:
    stopped = []

    async def waits(x: int) -> int:
        try:
            await asyncio.Event().wait()  # never set: only cancellation ends it
        finally:
            stopped.append(x)
        return x

    def fails(x: int) -> int:
        raise ValueError("branch failed")

    par: Any = RunnableParallel(slow=waits, bad=fails)
    with pytest.raises(ValueError, match="branch failed"):
        await par.ainvoke(1)
    assert stopped == [1]
    batched: Any = RunnableLambda(waits)
    failing: Any = RunnableLambda(fails)
    with pytest.raises(ValueError, match="branch failed"):
        both: Any = RunnableParallel(a=batched, b=failing)
        await both.abatch([2])
    assert stopped == [1, 2]


@pytest.mark.parametrize(
    "module",
    [
        "streamflow.runnables",
        "streamflow.prompts",
        "streamflow.output_parsers",
        "streamflow.models",
        "streamflow.graph",
    ],
)
def test_each_entry_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    code = (
        f"import {module}; from streamflow.graph import CompiledStateGraph; from streamflow.runnables import Runnable; "
    )
    code += "assert issubclass(CompiledStateGraph, Runnable)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False)
    assert proc.returncode == 0, proc.stderr
