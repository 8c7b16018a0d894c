"""Asking before a tool call over real HTTP, without a browser: the demo agents of ``examples/`` on threads.

A run whose config has ``configurable.approve_tools`` pauses before each tool call with
``interrupt({"tool", "args"})``; the page (and these tests) answer with ``{"command": {"resume": {"type":
"approve"}}}`` or ``{"type": "reject"}`` on ``POST /threads/{id}/runs``. Other tests check
the agents' side of it (the answers they accept, the scripted models that follow the conversation, the
declined path) and the thread flow the page uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from streamflow.messages import AIMessage, HumanMessage, ToolCall, ToolMessage
from streamflow.server import create_app
from streamflow.server.errors import DEFAULT_EXPOSED, ErrorPolicy
from streamflow.tools import create_react_agent, tool
from tests.server_support import Message, chunks, load_example, read_stream, serve

pytestmark = pytest.mark.anyio

serve_agent = load_example("serve_agent")
agent_demo = load_example("agent_demo")

MODES = ["messages", "tasks", "custom", "updates"]
APPROVE = {"configurable": {"approve_tools": True}}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app serving the scripted agent (``"agent"``) and the demo agent on its scripted model
    (``"demo"``), each built afresh for every run, threads kept in the app's default saver."""
    app = create_app(
        {
            "agent": lambda: serve_agent.build_agent(token_delay=0.0, step_delay=0.0),
            "demo": lambda: agent_demo.build_agent(agent_demo.fake_model()),
        },
        errors=ErrorPolicy(expose=(*DEFAULT_EXPOSED, ValueError)),  # the agents' answers to a bad resume
    )
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


async def new_thread(http: httpx.AsyncClient) -> str:
    response = await http.post("/threads", json={})
    assert response.status_code == 201
    thread_id: str = response.json()["thread_id"]
    return thread_id


async def run_on(http: httpx.AsyncClient, thread_id: str, body: dict[str, Any]) -> list[Message]:
    """Start a run on the thread (as the page does, with its stream modes) and read its whole stream."""
    response = await http.post(f"/threads/{thread_id}/runs", json={**body, "stream_mode": MODES})
    assert response.status_code == 201, response.text
    return chunks(await read_stream(http, response.json()["stream_url"]))


async def ask(http: httpx.AsyncClient, thread_id: str, graph: str, question: str, config: Any = None) -> list[Message]:
    input = {"messages": [{"role": "user", "content": question}]}
    return await run_on(http, thread_id, {"graph": graph, "input": input, "config": config or {}})


async def answer(http: httpx.AsyncClient, thread_id: str, decision: str) -> list[Message]:
    """Answer the thread's question as the page's buttons do (the same config as the question's run)."""
    return await run_on(http, thread_id, {"command": {"resume": {"type": decision}}, "config": APPROVE})


def answer_text(messages: list[Message]) -> str:
    """The model's streamed tokens (not the tools'), as the page shows them."""
    return "".join(
        m.data["data"][0]["content"]
        for m in messages
        if m.event == "messages" and m.data["data"][1]["langgraph_node"] == "agent"
    )


def questions(messages: list[Message]) -> list[Any]:
    """The values of the interrupts the run's ``updates`` announced."""
    return [
        asked["value"]
        for m in messages
        if m.event == "updates" and "__interrupt__" in m.data["data"]
        for asked in m.data["data"]["__interrupt__"]
    ]


def progress(messages: list[Message]) -> list[int]:
    return [m.data["data"]["progress"]["done"] for m in messages if m.event == "custom"]


async def state(http: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    response = await http.get(f"/threads/{thread_id}/state")
    assert response.status_code == 200
    snapshot: dict[str, Any] = response.json()
    return snapshot


def tool_messages(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["name"], m["content"]) for m in snapshot["values"]["messages"] if m["type"] == "tool"]


# -- the agents' side, with or without interrupts ---------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"), [({"type": "approve"}, True), ({"type": "reject"}, False), (True, True), (False, False)]
)
def test_answers_the_agents_accept(given: Any, expected: bool) -> None:
    assert agent_demo.approved(given) is expected


@pytest.mark.parametrize("given", [{"type": "maybe"}, "approve", None, {"decision": "approve"}, 1])
def test_another_answer_is_refused_naming_the_ones_allowed(given: Any) -> None:
    with pytest.raises(ValueError, match=r"answered with \{'type': 'approve'\} or \{'type': 'reject'\}") as info:
        agent_demo.approved(given)
    assert repr(given) in str(info.value)


def test_the_scripted_model_follows_the_conversation() -> None:
    model = agent_demo.fake_model()
    first = model.reply([HumanMessage(content="How tall is Everest?")])
    assert isinstance(first, AIMessage)
    assert [(c["name"], c["id"]) for c in first.tool_calls] == [("lookup", "call_1")]
    result = ToolMessage(content="8849 m", tool_call_id="call_1", name="lookup")
    looked_up = [HumanMessage(content="How tall is Everest?"), first, result]
    second = model.reply(looked_up)
    assert isinstance(second, AIMessage)
    assert [(c["name"], c["id"]) for c in second.tool_calls] == [("calculator", "call_2")]
    computed = ToolMessage(content="8.849", tool_call_id="call_2", name="calculator")
    done = [*looked_up, second, computed, AIMessage(content="8.849 km")]
    assert model.reply(done[:-1]) == "Mount Everest is 8849 metres tall, which is 8.849 kilometres."
    again = model.reply([*done, HumanMessage(content="And K2?")])
    assert isinstance(again, AIMessage)
    assert [(c["name"], c["id"]) for c in again.tool_calls] == [("lookup", "call_3")]


async def test_after_a_declined_call_the_agent_answers_without_the_tool() -> None:
    agent = serve_agent.build_agent(token_delay=0.0, step_delay=0.0)
    call: ToolCall = {"name": "research", "args": {"topic": "streaming"}, "id": "call_1", "type": "tool_call"}
    declined = agent_demo.DECLINED.format(tool="research")
    history = [
        HumanMessage(content="What are streams?"),
        AIMessage(content="", tool_calls=[call]),
        ToolMessage(content=declined, tool_call_id="call_1", name="research"),
    ]
    out = await agent.ainvoke({"messages": history})
    assert out["messages"][-1].content == serve_agent.DECLINED_ANSWER.format(tool="research")
    assert declined == "The user declined the call to research; the tool was not run."


async def test_without_the_flag_a_thread_runs_the_tools_unasked_question_after_question(
    http: httpx.AsyncClient,
) -> None:
    thread_id = await new_thread(http)
    for _ in range(2):  # the second question continues the conversation on the same thread
        messages = await ask(http, thread_id, "agent", "What are streams?", {"configurable": {"approve_tools": False}})
        assert messages[-1].event == "end"
        assert questions(messages) == []
        assert progress(messages) == list(range(1, serve_agent.STEPS + 1))
        assert answer_text(messages) == serve_agent.ANSWER
    snapshot = await state(http, thread_id)
    assert tool_messages(snapshot) == [("research", "notes on streaming")] * 2
    calls = [c["id"] for m in snapshot["values"]["messages"] if m["type"] == "ai" for c in m["tool_calls"]]
    assert calls == ["call_1", "call_2"]


# -- asking and answering over HTTP (needs interrupt()) ----------------------------------------------


async def test_ask_approve_the_tool_call_then_ask_again_and_reject(http: httpx.AsyncClient) -> None:
    thread_id = await new_thread(http)

    asked = await ask(http, thread_id, "agent", "What are streams?", APPROVE)
    assert asked[-1].event == "end"
    assert questions(asked) == [{"tool": "research", "args": {"topic": "streaming"}}]
    assert progress(asked) == []  # paused before the tool's first line ran
    paused = await state(http, thread_id)
    assert [i["value"] for i in paused["interrupts"]] == [{"tool": "research", "args": {"topic": "streaming"}}]
    assert paused["next"] == ["tools"]
    assert (await http.get(f"/threads/{thread_id}")).json()["status"] == "idle"

    resumed = await answer(http, thread_id, "approve")
    assert resumed[-1].event == "end"
    assert questions(resumed) == []
    assert progress(resumed) == list(range(1, serve_agent.STEPS + 1))
    assert answer_text(resumed) == serve_agent.ANSWER
    finished = await state(http, thread_id)
    assert finished["interrupts"] == [] and finished["next"] == []
    assert tool_messages(finished) == [("research", "notes on streaming")]

    asked_again = await ask(http, thread_id, "agent", "And now?", APPROVE)
    assert questions(asked_again) == [{"tool": "research", "args": {"topic": "streaming"}}]
    rejected = await answer(http, thread_id, "reject")
    assert rejected[-1].event == "end"
    assert progress(rejected) == []  # the tool did not run
    assert answer_text(rejected) == "I did not use the research tool: you declined the call, so I answer without notes."
    final = await state(http, thread_id)
    assert tool_messages(final) == [
        ("research", "notes on streaming"),
        ("research", "The user declined the call to research; the tool was not run."),
    ]
    assert final["values"]["messages"][-1]["content"] == answer_text(rejected)


async def ask_the_demo_and_approve_the_lookup(http: httpx.AsyncClient) -> str:
    """Ask the demo agent with approval on and approve its lookup; it then asks about the calculator."""
    thread_id = await new_thread(http)
    asked = await ask(http, thread_id, "demo", "How tall is Mount Everest in kilometres?", APPROVE)
    assert questions(asked) == [{"tool": "lookup", "args": {"query": "Mount Everest"}}]
    assert answer_text(asked) == "Let me look that up."
    assert [m for m in asked if m.event == "custom"] == []

    looked_up = await answer(http, thread_id, "approve")
    assert questions(looked_up) == [{"tool": "calculator", "args": {"expression": "8849 / 1000"}}]
    assert [m.data["data"]["tool"] for m in looked_up if m.event == "custom"] == ["lookup", "lookup"]
    assert tool_messages(await state(http, thread_id)) == [
        ("lookup", "Mount Everest is 8849 metres tall, the highest mountain above sea level.")
    ]
    return thread_id


async def test_the_demo_agent_asks_before_its_first_tool_and_then_before_the_next(http: httpx.AsyncClient) -> None:
    await ask_the_demo_and_approve_the_lookup(http)


async def test_the_demo_agent_answers_without_the_tool_declined_at_the_second_question(
    http: httpx.AsyncClient,
) -> None:
    thread_id = await ask_the_demo_and_approve_the_lookup(http)
    declined = await answer(http, thread_id, "reject")
    assert declined[-1].event == "end"
    assert [m for m in declined if m.event == "custom"] == []
    assert answer_text(declined) == (
        "I did not use the calculator tool: you declined it, so I cannot answer from the notes."
    )


async def test_an_answer_that_is_neither_approve_nor_reject_fails_the_run_naming_the_answers(
    http: httpx.AsyncClient,
) -> None:
    thread_id = await new_thread(http)
    await ask(http, thread_id, "agent", "What are streams?", APPROVE)
    failed = await run_on(http, thread_id, {"command": {"resume": {"type": "maybe"}}, "config": APPROVE})
    assert failed[-1].event == "error"
    assert failed[-1].data["error_type"] == "builtins.ValueError"
    assert "{'type': 'approve'} or {'type': 'reject'}" in failed[-1].data["error_message"]
    assert progress(failed) == []


def two_calls_agent() -> Any:
    """An agent whose model asks for two ``research`` calls at once (two tasks, so two questions), then
    answers with what the tool messages said."""

    @tool
    async def research(topic: str) -> str:
        """Look a topic up."""
        declined = agent_demo.ask_before_tool("research", {"topic": topic})
        return declined if declined is not None else f"notes on {topic}"

    calls: list[ToolCall] = [
        {"name": "research", "args": {"topic": topic}, "id": "", "type": "tool_call"} for topic in ("cats", "dogs")
    ]
    model = agent_demo.ScriptedAgentModel(
        [AIMessage(content="", tool_calls=calls), "Done."], declined="Done without {tool}.", chunk_size=8
    )
    return create_react_agent(model, [research])


async def test_two_questions_at_once_are_answered_together_by_interrupt_id() -> None:
    async with serve(create_app({"pair": two_calls_agent})) as url, httpx.AsyncClient(base_url=url) as http:
        thread_id = await new_thread(http)
        asked = await ask(http, thread_id, "pair", "Cats or dogs?", APPROVE)
        assert sorted(v["args"]["topic"] for v in questions(asked)) == ["cats", "dogs"]
        interrupts = (await state(http, thread_id))["interrupts"]
        ids = {i["value"]["args"]["topic"]: i["id"] for i in interrupts}
        resume = {ids["cats"]: {"type": "approve"}, ids["dogs"]: {"type": "reject"}}
        resumed = await run_on(http, thread_id, {"command": {"resume": resume}, "config": APPROVE})
        assert resumed[-1].event == "end"
        assert sorted(tool_messages(await state(http, thread_id))) == [
            ("research", "The user declined the call to research; the tool was not run."),
            ("research", "notes on cats"),
        ]
