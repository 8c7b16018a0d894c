"""LangGraph's own Python client (``langgraph_sdk``) against the app's agent-protocol routes: a real uvicorn
server on loopback, ``client.threads.stream(...)`` over SSE and over the WebSocket, async and sync.

Each test drives a run through the client as a LangGraph Agent Server user would: streams its channels
(values, messages, updates, custom data, lifecycle), survives a dropped connection with no gap and no
duplicate, answers an interrupt, and cancels a run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import anyio
import httpx
import pytest

from streamflow.config import get_stream_writer
from streamflow.graph import END, START, StateGraph
from streamflow.graph.message import add_messages
from streamflow.messages import AIMessage
from streamflow.models.fake import FakeChatModel
from streamflow.server import create_app
from streamflow.tools import ToolNode, create_react_agent
from streamflow.types import interrupt
from tests.helpers import fetch
from tests.server_support import Gate, Proxy, serve

langgraph_sdk = pytest.importorskip("langgraph_sdk")

pytestmark = pytest.mark.anyio

TRANSPORTS = ["sse", "websocket"]
ALL_CHANNELS = ["values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom"]
ANSWER = "streamed from the fake model"


class Chat(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    steps: int
    answer: Any


def build_chat(gate: Gate | None = None, *, ask: bool = False) -> Any:
    """chat (custom ``before``, a streamed model call) -> wait ([gate], custom ``after``) [-> ask (interrupt)]."""
    model = FakeChatModel([ANSWER], chunk_size=5)

    async def chat(state: Chat) -> dict[str, Any]:
        get_stream_writer()({"name": "progress", "stage": "before"})
        reply = await model.ainvoke(state["messages"])
        return {"messages": [reply], "steps": state.get("steps", 0) + 1}

    async def wait(state: Chat) -> dict[str, Any]:
        if gate is not None:
            await gate.wait()
        get_stream_writer()({"name": "progress", "stage": "after"})
        return {"steps": state["steps"] + 1}

    def ask_user(state: Chat) -> dict[str, Any]:
        return {"answer": interrupt({"question": "how many?"})}

    builder = StateGraph(Chat).add_node("chat", chat).add_node("wait", wait).add_edge(START, "chat")
    builder.add_edge("chat", "wait")
    if ask:
        builder.add_node("ask", ask_user).add_edge("wait", "ask").add_edge("ask", END)
    else:
        builder.add_edge("wait", END)
    return builder.compile(name="chat")


class Count(TypedDict):
    x: int


def build_nested() -> Any:
    """inner (a subgraph: step adds 1) as the only node of the outer graph."""
    inner = StateGraph(Count).add_node("step", lambda s: {"x": s["x"] + 1}).add_edge(START, "step").compile()
    return StateGraph(Count).add_node("inner", inner).add_edge(START, "inner").add_edge("inner", END).compile()


def build_agent() -> Any:
    """A ReAct agent whose model calls ``fetch`` once, then answers "done"."""
    call = AIMessage(
        content="", tool_calls=[{"name": "fetch", "args": {"url": "http://x"}, "id": "call-a", "type": "tool_call"}]
    )
    return create_react_agent(FakeChatModel([call, "done"]), ToolNode([fetch]))


HI = {"messages": [{"role": "user", "content": "hi"}], "steps": 0}


@pytest.fixture
async def gate() -> Gate:
    return Gate()


@pytest.fixture
async def url(gate: Gate) -> AsyncIterator[str]:
    app = create_app(
        {
            "chat": build_chat(),
            "gated": build_chat(gate),
            "ask": build_chat(ask=True),
            "nested": build_nested(),
            "agent": build_agent(),
        }
    )
    async with serve(app, ws="websockets-sansio") as base:
        yield base


@pytest.fixture
async def client(url: str) -> AsyncIterator[Any]:
    async with langgraph_sdk.get_client(url=url, api_key=None) as sdk:
        yield sdk


async def _until_terminal(events: AsyncIterator[Any]) -> list[dict[str, Any]]:
    """The raw events up to and including the root lifecycle's ``completed`` or ``failed`` (the WebSocket's
    answer to its subscribe command, which the client passes on too, left out)."""
    out: list[dict[str, Any]] = []
    async for event in events:
        if event.get("type") != "event":
            continue
        out.append(event)
        params = event.get("params") or {}
        root = event.get("method") == "lifecycle" and not params.get("namespace")
        if root and params["data"]["event"] in ("completed", "failed"):
            break
    return out


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_run_streams_values_messages_updates_custom_and_lifecycle(client: Any, transport: str) -> None:
    async with client.threads.stream(assistant_id="chat", transport=transport) as thread:
        started = await thread.run.start(input=HI)
        raw = thread.events  # every channel, from the run's first event
        got: list[tuple[str, Any]] = []
        with anyio.fail_after(20):
            async for name, item in thread.interleave_projections(["values", "messages", "updates", "progress"]):
                got.append((name, item))
            events = await _until_terminal(raw)
            output = await thread.output
            texts = [(await item.text, item.node) for name, item in got if name == "messages"]
    assert started["run_id"]
    assert texts == [(ANSWER, "chat")]
    assert [item for name, item in got if name == "progress"] == [
        {"name": "progress", "stage": "before"},
        {"name": "progress", "stage": "after"},
    ]
    updates = [item for name, item in got if name == "updates"]
    assert [next(iter(update)) for update in updates] == ["chat", "wait"]
    values = [item for name, item in got if name == "values"]
    assert [v["steps"] for v in values] == [0, 1, 2]
    assert values[-1] == output
    assert output["steps"] == 2 and output["messages"][-1]["content"] == ANSWER
    lifecycle = [e["params"]["data"]["event"] for e in events if e["method"] == "lifecycle"]
    assert lifecycle == ["running", "completed"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert [e["event_id"] for e in events] == [str(s) for s in seqs]
    assert {e["method"] for e in events} >= {"values", "updates", "messages", "custom", "tasks", "checkpoints"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_dropped_connection_resumes_with_no_gap_and_no_duplicate(url: str, gate: Gate, transport: str) -> None:
    async with (
        Proxy(url) as proxy,
        langgraph_sdk.get_client(url=proxy.url, api_key=None) as client,
        client.threads.stream(assistant_id="gated", transport=transport) as thread,
    ):
        await thread.run.start(input=HI)
        seen: list[dict[str, Any]] = []
        cut = 0

        async def consume() -> None:
            nonlocal cut
            async for event in thread.subscribe(ALL_CHANNELS):
                seen.append(event)
                data = event["params"]["data"]
                if event["method"] == "custom" and data == {"name": "progress", "stage": "before"}:
                    await gate.reached.wait()
                    cut = proxy.cut()  # mid-run: the run is held at the gate
                    gate.open()

        accepted_before = proxy.accepted
        with anyio.fail_after(20):
            await consume()
            output = await thread.output
    assert cut >= 1
    assert proxy.accepted > accepted_before  # the client connected again
    seqs = [event["seq"] for event in seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no duplicate
    stages = [e["params"]["data"]["stage"] for e in seen if e["method"] == "custom"]
    assert stages == ["before", "after"]
    assert seen[-1]["method"] == "lifecycle" and seen[-1]["params"]["data"]["event"] == "completed"
    assert output["steps"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_interrupt_is_answered_with_input_respond(client: Any, transport: str) -> None:
    async with client.threads.stream(assistant_id="ask", transport=transport) as thread:
        await thread.run.start(input=HI)
        with anyio.fail_after(20):
            async for _ in thread.values:  # ends when the pause reaches the client
                pass
            assert thread.interrupted
            pending = list(thread.interrupts)
            resumed = await thread.run.respond(7)
            output = await thread.output
    assert [p["value"] for p in pending] == [{"question": "how many?"}]
    assert pending[0]["namespace"] == []
    assert resumed["run_id"]
    assert output["answer"] == 7 and output["steps"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_run_is_cancelled_with_runs_cancel(client: Any, gate: Gate, transport: str) -> None:
    async with client.threads.stream(assistant_id="gated", transport=transport) as thread:
        started = await thread.run.start(input=HI)
        with anyio.fail_after(20):
            await gate.reached.wait()
            await client.runs.cancel(thread.thread_id, started["run_id"])
            with pytest.raises(RuntimeError, match="Run errored: cancelled"):
                await thread.output
        state = await client.threads.get_state(thread.thread_id)
    assert state["values"]["steps"] == 1  # the step before the gate is saved; the cancelled one is not


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_sync_client_streams_and_answers_an_interrupt(url: str, transport: str) -> None:
    def drive() -> tuple[list[Any], list[Any], Any]:
        with (
            langgraph_sdk.get_sync_client(url=url, api_key=None) as client,
            client.threads.stream(assistant_id="ask", transport=transport) as thread,
        ):
            thread.run.start(input=HI)
            values = list(thread.values)  # ends when the pause reaches the client
            assert thread.interrupted
            pending = list(thread.interrupts)
            thread.run.respond(3)
            return values, pending, thread.output

    with anyio.fail_after(30):
        values, pending, output = await anyio.to_thread.run_sync(drive)
    assert values  # the thread's state when the client subscribed, then its values events until the pause
    assert [p["value"] for p in pending] == [{"question": "how many?"}]
    assert output["answer"] == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_subgraphs_are_discovered_with_their_namespace_and_status(client: Any, transport: str) -> None:
    async with client.threads.stream(assistant_id="nested", transport=transport) as thread:
        await thread.run.start(input={"x": 1})
        with anyio.fail_after(20):
            handles = [handle async for handle in thread.subgraphs]
            output = await thread.output
    assert [(h.graph_name, h.status) for h in handles] == [("inner", "completed")]
    assert handles[0].namespace[0].startswith("inner:") and handles[0].trigger_call_id
    assert output == {"x": 2}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tool_calls_stream_their_input_deltas_and_output(client: Any, transport: str) -> None:
    async with client.threads.stream(assistant_id="agent", transport=transport) as thread:
        await thread.run.start(input={"messages": [{"role": "user", "content": "go"}]})
        with anyio.fail_after(20):
            handles = [handle async for handle in thread.tool_calls]
            deltas = [delta async for delta in handles[0].deltas]
            output = await handles[0].output
            final = await thread.output
    assert [(h.tool_call_id, h.name, h.input) for h in handles] == [("call-a", "fetch", {"url": "http://x"})]
    assert deltas == ["<html>", "body", "</html>"]
    assert output["type"] == "tool" and output["content"] == "<html>body</html>"
    assert final["messages"][-1]["content"] == "done"


async def test_an_unknown_assistant_is_refused_with_the_protocol_error(client: Any) -> None:
    async with client.threads.stream(assistant_id="nope") as thread:
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await thread.run.start(input=HI)
    assert caught.value.response.status_code == 404
    body = caught.value.response.json()
    assert body["type"] == "error" and body["error"] == "invalid_argument" and body["id"] == 1
    assert "nope" in body["message"]


async def test_a_second_run_on_the_same_thread_continues_its_seq(client: Any) -> None:
    async with client.threads.stream(assistant_id="chat") as thread:
        await thread.run.start(input=HI)
        with anyio.fail_after(20):
            first = await _until_terminal(thread.events)
            await thread.output
    async with client.threads.stream(thread.thread_id, assistant_id="chat") as again:
        started = await again.run.start(input={"messages": [{"role": "user", "content": "again"}]})
        with anyio.fail_after(20):
            second = await _until_terminal(again.events)
    assert started["run_id"]
    assert second[0]["seq"] == first[-1]["seq"] + 1
    assert [e["seq"] for e in second] == list(range(second[0]["seq"], second[0]["seq"] + len(second)))
