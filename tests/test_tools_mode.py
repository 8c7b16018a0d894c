"""The ``tools`` stream mode, tool call ids, and ``parent_ids`` of model and tool calls."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest

from streamflow.events import ChatModelStarted, CustomData, TaskStarted, ToolStarted
from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.messages import AIMessage, MessagesState, ToolMessage
from streamflow.models import FakeChatModel
from streamflow.tools import ToolNode, create_react_agent, tool
from tests.helpers import fetch


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


def _calls(*calls: tuple[str, dict[str, Any], str]) -> AIMessage:
    return AIMessage(tool_calls=[{"name": n, "args": a, "id": i, "type": "tool_call"} for n, a, i in calls])


def _agent(*responses: AIMessage | str) -> Any:
    tools = ToolNode([fetch, explode], handle_tool_errors=True)
    return create_react_agent(FakeChatModel(list(responses)), tools)


def _finished(record: dict[str, Any]) -> dict[str, Any]:
    """A ``tool-finished`` record with its ToolMessage output as ``(content, tool_call_id, status)``."""
    message = record["output"]
    assert isinstance(message, ToolMessage)
    return {**record, "output": (message.content, message.tool_call_id, message.status)}


def test_tools_mode_yields_started_output_deltas_and_finished_for_a_call() -> None:
    agent = _agent(_calls(("fetch", {"url": "http://x"}, "call-a")), "done")
    records = list(agent.stream({"messages": ["go"]}, stream_mode="tools"))
    # as LangGraph's: a tool run for a model's tool call finishes with its ToolMessage
    assert [*records[:-1], _finished(records[-1])] == [
        {"event": "tool-started", "tool_call_id": "call-a", "tool_name": "fetch", "input": {"url": "http://x"}},
        {"event": "tool-output-delta", "tool_call_id": "call-a", "delta": "<html>"},
        {"event": "tool-output-delta", "tool_call_id": "call-a", "delta": "body"},
        {"event": "tool-output-delta", "tool_call_id": "call-a", "delta": "</html>"},
        {"event": "tool-finished", "tool_call_id": "call-a", "output": ("<html>body</html>", "call-a", "success")},
    ]


@pytest.mark.parametrize("with_pydantic", [True, False], ids=["pydantic", "no-pydantic"])
def test_tools_mode_reports_a_raising_tool_and_bad_arguments_as_tool_errors(
    with_pydantic: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not with_pydantic:
        monkeypatch.setitem(sys.modules, "pydantic", None)  # what `import pydantic` finds without the extra
    agent = _agent(_calls(("explode", {"reason": "r"}, "call-x")), _calls(("fetch", {"url": 3}, "call-y")), "ok")
    records = list(agent.stream({"messages": ["go"]}, stream_mode="tools"))
    bad = records.pop()
    assert records == [
        {"event": "tool-started", "tool_call_id": "call-x", "tool_name": "explode", "input": {"reason": "r"}},
        {"event": "tool-error", "tool_call_id": "call-x", "message": "boom: r"},
        {"event": "tool-started", "tool_call_id": "call-y", "tool_name": "fetch", "input": {"url": 3}},
    ]
    assert bad["event"] == "tool-error" and bad["tool_call_id"] == "call-y"
    if with_pydantic:  # pydantic's ValidationError text, as LangChain's tools give it
        assert bad["message"].startswith("1 validation error for fetch\nurl\n  Input should be a valid string [")
    else:
        assert bad["message"] == "tool 'fetch' got invalid arguments: url: Input should be a valid string"


def test_concurrent_calls_keep_their_own_output_deltas() -> None:
    agent = _agent(_calls(("fetch", {"url": "a"}, "c1"), ("fetch", {"url": "b"}, "c2")), "done")
    records = list(agent.stream({"messages": ["go"]}, stream_mode="tools"))
    for call_id in ("c1", "c2"):
        mine = [r["event"] for r in records if r["tool_call_id"] == call_id]
        assert mine == ["tool-started", *["tool-output-delta"] * 3, "tool-finished"]
        deltas = [r["delta"] for r in records if r["tool_call_id"] == call_id and "delta" in r]
        assert deltas == ["<html>", "body", "</html>"]


def test_tool_writes_still_reach_the_custom_mode_while_node_writes_are_not_tool_deltas() -> None:
    @tool
    def noisy() -> str:
        """Writes one value."""
        get_stream_writer()("from the tool")
        return "ok"

    async def node(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()("from the node")
        await noisy.ainvoke({}, tool_call_id="t1")
        return {}

    graph = StateGraph(MessagesState).add_node("n", node).add_edge(START, "n").compile()
    items = list(graph.stream({"messages": []}, stream_mode=["custom", "tools"]))
    assert items == [
        ("custom", "from the node"),
        ("tools", {"event": "tool-started", "tool_call_id": "t1", "tool_name": "noisy", "input": {}}),
        ("custom", "from the tool"),
        ("tools", {"event": "tool-output-delta", "tool_call_id": "t1", "delta": "from the tool"}),
        ("tools", {"event": "tool-finished", "tool_call_id": "t1", "output": "ok"}),
    ]


def test_a_tool_called_without_a_model_tool_call_id_gets_its_call_id() -> None:
    async def node(state: MessagesState) -> dict[str, Any]:
        await fetch.ainvoke({"url": "u"})
        return {}

    graph = StateGraph(MessagesState).add_node("n", node).add_edge(START, "n").compile()
    records = list(graph.stream({"messages": []}, stream_mode="tools"))
    ids = {r["tool_call_id"] for r in records}
    assert len(ids) == 1 and len(records) == 5
    uuid.UUID(ids.pop())


def test_tools_outside_a_run_just_run() -> None:
    import anyio

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    assert anyio.run(add.ainvoke, {"a": 1, "b": 2}) == 3


@pytest.mark.anyio
async def test_parent_ids_of_model_and_tool_calls_name_run_task_and_enclosing_tool_call() -> None:
    inner_model = FakeChatModel(["inner"])

    @tool
    async def ask(question: str) -> str:
        """Asks a model from inside a tool."""
        return (await inner_model.ainvoke(question)).text

    agent = create_react_agent(FakeChatModel([_calls(("ask", {"question": "q"}, "call-ask")), "done"]), [ask])
    async with agent.start({"messages": ["go"]}) as run:
        sub = run.subscribe(kinds=["chat_model_started", "tool_started", "task_started", "custom_data"])
        await run.result()
        events = [e async for e in sub]
    tasks = {(e.node, e.task_id) for e in events if e.kind == "task_started"}
    tool_started = next(e for e in events if isinstance(e, ToolStarted))
    models = [e for e in events if isinstance(e, ChatModelStarted)]
    assert tool_started.parent_ids == (run.run_id, tool_started.task_id)
    assert tool_started.tool_call_id == "call-ask" and tool_started.call_id != "call-ask"
    agent_call, inner_call, final_call = models
    assert agent_call.parent_ids == (run.run_id, agent_call.task_id)
    assert ("agent", agent_call.task_id) in tasks
    assert inner_call.node == "tools"
    assert inner_call.parent_ids == (run.run_id, tool_started.task_id, tool_started.call_id)
    assert final_call.parent_ids[0] == run.run_id and final_call.task_id != agent_call.task_id
    assert not [e for e in events if isinstance(e, CustomData)]


@pytest.mark.anyio
async def test_parent_ids_inside_a_subgraph_include_the_subgraph_task() -> None:
    model = FakeChatModel(["x"])

    async def inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke("hi")]}

    sub = StateGraph(MessagesState).add_node("inner", inner).add_edge(START, "inner").compile()
    graph = StateGraph(MessagesState).add_node("outer", sub).add_edge(START, "outer").compile()
    async with graph.start({"messages": []}) as run:
        events = run.subscribe(kinds=["chat_model_started", "task_started"])
        await run.result()
        got = [e async for e in events]
    outer = next(e for e in got if isinstance(e, TaskStarted) and e.node == "outer")
    inner_task = next(e for e in got if isinstance(e, TaskStarted) and e.node == "inner")
    started = next(e for e in got if isinstance(e, ChatModelStarted))
    assert started.parent_ids == (run.run_id, outer.task_id, inner_task.task_id)
