"""``run.tool_calls`` of LangGraph 1.2's v3 run streams (``langgraph.prebuilt.ToolCallTransformer``) on LangGraph
and on streamflow: the same handles, deltas, outputs, errors and main log once normalised.

After LangGraph's ``test_tool_call_transformer.py`` (its tests of public behaviour; ``V3_REVIEW.md`` maps each
test to its case). Its unit tests push hand-made ``tools`` envelopes into a transformer; here the same envelopes
come from a real graph, edited where needed by a ``before_builtins`` transformer (the public way to rewrite
envelopes ahead of the projections). A tool streams its deltas with ``ToolRuntime.emit_output_delta`` on
LangGraph and with ``get_stream_writer()`` on streamflow (its ``tools`` mode makes a tool's stream writer
values ``tool-output-delta`` events). Every case runs twice: sync (from a worker thread) and async.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .conftest import Lib, load, reference
from .test_stream_v3_cases import Api, run_case

pytestmark = pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")


def prebuilt(lib: Lib) -> Any:
    return importlib.import_module("langgraph.prebuilt" if lib.name == "langgraph" else "streamflow.prebuilt")


def _langgraph_streamer(deltas: Callable[[str], list[str]]) -> tuple[Any, Any]:
    from langgraph.prebuilt import ToolRuntime

    def run_sync(text: str, runtime: ToolRuntime) -> str:
        for chunk in deltas(text):
            runtime.emit_output_delta(chunk)
        return text

    async def run_async(text: str, runtime: ToolRuntime) -> str:
        return run_sync(text, runtime)

    for fn in (run_sync, run_async):
        fn.__annotations__["runtime"] = ToolRuntime
    return run_sync, run_async


def _streamflow_streamer(lib: Lib, deltas: Callable[[str], list[str]]) -> tuple[Any, Any]:
    def run_sync(text: str) -> str:
        writer = lib.get_stream_writer()
        for chunk in deltas(text):
            writer(chunk)
        return text

    async def run_async(text: str) -> str:
        return run_sync(text)

    return run_sync, run_async


def streaming_tool(lib: Lib, name: str, deltas: Callable[[str], list[str]], *, is_async: bool = False) -> Any:
    """A tool ``name(text)`` that streams ``deltas(text)`` and returns ``text``."""
    pair = _langgraph_streamer(deltas) if lib.name == "langgraph" else _streamflow_streamer(lib, deltas)
    fn: Any = pair[1] if is_async else pair[0]
    fn.__name__ = name
    fn.__doc__ = "streams chunks."
    return lib.tool(fn)


def echo_tool(lib: Lib) -> Any:
    def echo(text: str) -> str:
        """echo."""
        return text

    return lib.tool(echo)


def boom_tool(lib: Lib) -> Any:
    def boom() -> str:
        """raises."""
        raise ValueError("nope")

    return lib.tool(boom)


def tool_graph(lib: Lib, tools: list[Any], calls: list[dict[str, Any]], **compile_kwargs: Any) -> Any:
    """``caller`` (returns an AI message with ``calls``) then a ``ToolNode`` of ``tools``."""

    def caller(state: Any) -> dict[str, Any]:
        return {"messages": [lib.AIMessage(content="", tool_calls=calls)]}

    b = lib.StateGraph(lib.MessagesState)
    b.add_node("caller", caller)
    b.add_node("tools", lib.ToolNode(tools))
    b.add_edge(lib.START, "caller")
    b.add_edge("caller", "tools")
    b.add_edge("tools", lib.END)
    return b.compile(**compile_kwargs)


INPUT: dict[str, Any] = {"messages": []}


def handle_state(tc: Any) -> dict[str, Any]:
    return {
        "id": tc.tool_call_id,
        "name": tc.tool_name,
        "input": tc.input,
        "output": tc.output,
        "error": tc.error,
        "completed": tc.completed,
        "repr": repr(tc),
    }


async def read_calls(api: Api, source: Any) -> tuple[list[Any], str | None]:
    """Each handle of ``source`` with its deltas (read in the loop body) and its state after, then the error
    that ended ``source`` (``"ValueError: nope"``) or None."""
    out: list[Any] = []

    def record(tc: Any, deltas: list[Any]) -> None:
        out.append({**handle_state(tc), "deltas": deltas})

    try:
        if api.mode == "async":
            async for tc in source:
                record(tc, [d async for d in tc.output_deltas])
        else:

            def take() -> None:
                for tc in source:
                    record(tc, list(tc.output_deltas))

            await api._sync(take)
    except Exception as exc:
        return out, f"{type(exc).__name__}: {exc}"
    return out, None


def tools_data(envelopes: list[Any]) -> list[Any]:
    return [(e["params"]["namespace"], e["params"]["data"]) for e in envelopes if e["method"] == "tools"]


async def required_modes(api: Api) -> Any:
    """``test_required_stream_modes_declares_tools``, ``test_stream_modes_union_includes_tools``."""
    p = prebuilt(api.lib)
    graph = tool_graph(api.lib, [echo_tool(api.lib)], [{"name": "echo", "args": {"text": "x"}, "id": "tc1"}])
    plain = await api.open(graph, INPUT)
    plain_log = await api.items(plain)
    run = await api.open(graph, INPUT, transformers=[p.ToolCallTransformer])
    calls = await read_calls(api, run.tool_calls)
    return (
        p.ToolCallTransformer.required_stream_modes,
        "tool_calls" in plain.extensions,
        tools_data(plain_log),
        "tool_calls" in run.extensions,
        calls,
    )


async def streaming(api: Api) -> Any:
    """``test_tool_started_yields_handle``, ``test_delta_accumulates_on_active_stream``,
    ``test_finish_closes_stream``, ``test_finish_unwraps_tool_message_output``,
    ``test_sync_streaming_tool_populates_tool_calls``, ``test_async_streaming_tool_populates_tool_calls`` (an
    async tool on the async run stream only: LangGraph's sync ``ToolNode`` refuses one)."""
    p = prebuilt(api.lib)
    tools = [
        streaming_tool(api.lib, "streamer", lambda text: ["one", "two"]),
        streaming_tool(api.lib, "astreamer", lambda text: [text, text + "!"], is_async=True),
    ]
    out = []
    for name in ("streamer", "astreamer") if api.mode == "async" else ("streamer",):
        graph = tool_graph(api.lib, tools, [{"name": name, "args": {"text": "hi"}, "id": "tc1"}])
        run = await api.open(graph, INPUT, transformers=[p.ToolCallTransformer])
        out.append(await read_calls(api, run.tool_calls))
    return out


async def compiled(api: Api) -> Any:
    """The transformer given to ``compile(transformers=...)``; the ``tools`` envelopes stay in the main log
    (``test_tools_event_passes_through_main_log``)."""
    p = prebuilt(api.lib)
    graph = tool_graph(
        api.lib,
        [echo_tool(api.lib)],
        [{"name": "echo", "args": {"text": "x"}, "id": "tc1"}],
        transformers=[p.ToolCallTransformer],
    )
    run = await api.open(graph, INPUT)
    log = await api.items(run)
    again = await api.open(graph, INPUT)
    return tools_data(log), await read_calls(api, again.tool_calls)


async def concurrent(api: Api) -> Any:
    """``test_concurrent_tool_calls_do_not_bleed``: two streaming calls of one message, each only its own
    deltas (whether a LangGraph handle read after the other one's gets its deltas at all races its thread
    pool, so the case compares that none bleeds, not how many arrive)."""
    p = prebuilt(api.lib)
    tool = streaming_tool(api.lib, "streamer", lambda text: [text + "1", text + "2"])
    calls = [{"name": "streamer", "args": {"text": t}, "id": t.lower()} for t in ("A", "B")]
    run = await api.open(tool_graph(api.lib, [tool], calls), INPUT, transformers=[p.ToolCallTransformer])
    handles, error = await read_calls(api, run.tool_calls)
    own = [
        (h["input"], h["output"], h["completed"], all(d in (h["output"] + "1", h["output"] + "2") for d in h["deltas"]))
        for h in handles
    ]
    return sorted(own, key=repr), error


async def failed(api: Api) -> Any:
    """``test_error_closes_stream``, ``test_tool_error_populates_error_field``."""
    p = prebuilt(api.lib)
    graph = tool_graph(api.lib, [boom_tool(api.lib)], [{"name": "boom", "args": {}, "id": "tc1"}])
    run = await api.open(graph, INPUT, transformers=[p.ToolCallTransformer])
    return await read_calls(api, run.tool_calls)


def rewriting(api: Api, rewrite: Callable[[dict[str, Any]], None]) -> Any:
    """A ``before_builtins`` transformer that calls ``rewrite(params)`` on each ``tools`` envelope."""

    class Rewrite(api.stream.StreamTransformer):  # type: ignore[misc, name-defined]
        before_builtins = True

        def init(self) -> dict[str, Any]:
            return {}

        def process(self, event: Any) -> bool:
            if event["method"] == "tools":
                rewrite(event["params"])
            return True

    return Rewrite


async def serialized_output(api: Api) -> Any:
    """``test_finish_unwraps_serialized_tool_message_output``: a serialized tool message's content."""
    p = prebuilt(api.lib)

    def serialize(params: dict[str, Any]) -> None:
        data = params["data"]
        if data.get("event") == "tool-finished":
            data["output"] = {
                "lc": 1,
                "type": "constructor",
                "id": ["langchain_core", "messages", "ToolMessage"],
                "kwargs": {"content": "serialized done", "tool_call_id": data["tool_call_id"]},
            }

    graph = tool_graph(api.lib, [echo_tool(api.lib)], [{"name": "echo", "args": {"text": "x"}, "id": "tc1"}])
    run = await api.open(graph, INPUT, transformers=[rewriting(api, serialize), p.ToolCallTransformer])
    return await read_calls(api, run.tool_calls)


async def out_of_scope(api: Api) -> Any:
    """``test_out_of_scope_event_skipped``, ``test_in_scope_event_projected_when_scope_set``: ``tools``
    envelopes of another namespace are not the root's calls (and stay in the main log)."""
    p = prebuilt(api.lib)

    def move(params: dict[str, Any]) -> None:
        params["namespace"] = ["child:abc"]

    graph = tool_graph(api.lib, [echo_tool(api.lib)], [{"name": "echo", "args": {"text": "x"}, "id": "tc1"}])
    run = await api.open(graph, INPUT, transformers=[rewriting(api, move), p.ToolCallTransformer])
    calls = await read_calls(api, run.tool_calls)
    log_run = await api.open(graph, INPUT, transformers=[rewriting(api, move), p.ToolCallTransformer])
    log = await api.items(log_run)
    return calls, tools_data(log)


async def subgraph_scope(api: Api) -> Any:
    """``test_in_scope_event_projected_when_scope_set``: a subgraph's calls are its handle's ``tool_calls``,
    not the root's (a sync handle's call is compared by its start only: LangGraph's sync child handle does not
    feed a call's later events to it)."""
    lib = api.lib
    p = prebuilt(lib)
    inner = tool_graph(lib, [echo_tool(lib)], [{"name": "echo", "args": {"text": "x"}, "id": "tc1"}])
    b = lib.StateGraph(lib.MessagesState)
    b.add_node("child", inner)
    b.add_edge(lib.START, "child")
    graph = b.compile(transformers=[p.ToolCallTransformer])
    run = await api.open(graph, INPUT)
    out = []
    if api.mode == "async":
        async for handle in run.subgraphs:
            calls, _ = await read_calls(api, handle.tool_calls)
            out.append([(h["id"], h["name"], h["input"]) for h in calls])
    else:

        def take() -> None:
            for handle in run.subgraphs:
                out.append([(tc.tool_call_id, tc.tool_name, tc.input) for tc in handle.tool_calls])

        await api._sync(take)
    root = await api.open(graph, INPUT)
    return out, await read_calls(api, root.tool_calls)


CASES = [
    pytest.param(required_modes, id="tool-calls-required-modes"),
    pytest.param(streaming, id="tool-calls-streaming"),
    pytest.param(compiled, id="tool-calls-compiled"),
    pytest.param(concurrent, id="tool-calls-concurrent"),
    pytest.param(failed, id="tool-calls-error"),
    pytest.param(serialized_output, id="tool-calls-serialized-output"),
    pytest.param(out_of_scope, id="tool-calls-scope"),
    pytest.param(subgraph_scope, id="tool-calls-subgraph"),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CASES)
def test_v3_tools_case(case: Callable[[Api], Awaitable[Any]], mode: str) -> None:
    expected = run_case(reference(), mode, case)
    assert run_case(load("streamflow"), mode, case) == expected
