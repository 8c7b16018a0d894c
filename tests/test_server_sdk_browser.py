"""The SDK page (``GET /sdk``, LangChain's JS SDK in the browser) in Debian's Chromium against the served app.

The page speaks the agent streaming protocol v3 through ``@langchain/langgraph-sdk``'s ``ThreadStream``: a
question is a ``run.start`` on the page's thread, the approve and reject buttons of a question the run asked
are an ``input.respond``. Over SSE and over the WebSocket, the tests watch the tokens arrive one by one (a
``MutationObserver`` records every text the answer showed), the lifecycle of each run, the question asked before
the tool call, and the resumed run's answer.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from streamflow.server import create_app
from tests.browser_support import CHROMIUM, FLAGS, playwright_or_skip
from tests.server_support import load_example, serve

pytestmark = pytest.mark.anyio

TRANSPORTS = ["sse", "websocket"]
QUESTION = 'Call tool research with {"topic":"streaming"}?'

async_playwright: Any = playwright_or_skip()

# Every text the answer box shows, in order: the page replaces the box's text node at each token.
RECORD_ANSWERS = """
window.answers = [];
new MutationObserver((records) => {
  for (const record of records) for (const node of record.addedNodes) window.answers.push(node.data ?? "");
}).observe(document.getElementById("answer"), { childList: true });
"""


@asynccontextmanager
async def page_on(app: Any, transport: str) -> AsyncIterator[tuple[Any, str, list[str]]]:
    """The SDK page of ``app`` served on loopback, open in a headless Chromium with ``transport``; yields the
    page, the app's URL and the page's console and error messages."""
    async with serve(app, ws="websockets-sansio") as url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = await browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            await page.goto(f"{url}/sdk?transport={transport}")
            await page.wait_for_selector("body[data-ready=true]")
            await page.evaluate(RECORD_ANSWERS)
            yield page, url, console
        finally:
            await browser.close()


async def _ask(page: Any, question: str, *, approve: bool) -> None:
    await page.set_checked("#approve", approve)
    await page.fill("#question", question)
    await page.click("#ask")


async def _root_lifecycle(page: Any) -> list[str]:
    items = page.locator('#lifecycle li[data-namespace=""]')
    return [str(event) for event in await items.evaluate_all("els => els.map(e => e.dataset.event)")]


async def _tool_messages(http: httpx.AsyncClient, thread_id: str) -> list[str]:
    values = (await http.get(f"/threads/{thread_id}/state")).json()["values"]
    return [m["content"] for m in values["messages"] if m["type"] == "tool"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tokens_stream_in_and_the_buttons_answer_the_question_and_resume_the_run(transport: str) -> None:
    serve_agent = load_example("serve_agent")
    app = create_app({"agent": lambda: serve_agent.build_agent(token_delay=0.0, step_delay=0.0)})
    async with page_on(app, transport) as (page, url, console), httpx.AsyncClient(base_url=url) as http:
        assert await page.text_content("#transport") == transport
        thread_id = await page.text_content("#thread-id") or ""
        await _ask(page, "What are streams?", approve=True)

        card = page.locator(".question")
        await card.locator("button.approve").wait_for()
        await page.locator("#status", has_text="interrupted").wait_for()
        assert await card.locator(".text").text_content() == QUESTION
        assert await page.text_content("#answer") == ""  # the model asked for the tool; no answer yet
        assert await page.locator("#tools li").evaluate_all("els => els.map(e => [e.className, e.textContent])") == [
            ["paused", "research: paused for a question"]  # the tool asked before it did anything
        ]
        (asked,) = (await http.get(f"/threads/{thread_id}/state")).json()["interrupts"]
        assert asked["value"] == {"tool": "research", "args": {"topic": "streaming"}}
        assert await card.get_attribute("data-interrupt") == asked["id"]

        await card.locator("button.approve").click()
        await page.locator("#status", has_text="completed").wait_for()
        assert await card.locator(".answered").text_content() == "approved"
        assert await page.text_content("#answer") == serve_agent.ANSWER
        assert await page.locator("#tools li").all_text_contents() == ["research: notes on streaming"]
        assert await _root_lifecycle(page) == ["running", "interrupted", "running", "completed"]
        answers: list[str] = await page.evaluate("window.answers")
        streamed = [text for text in answers if text]
        assert streamed[-1] == serve_agent.ANSWER and len(streamed) == int(await page.text_content("#tokens") or 0)
        assert len(streamed) > 5 and all(b.startswith(a) and b != a for a, b in itertools.pairwise(streamed))
        assert await _tool_messages(http, thread_id) == ["notes on streaming"]

        await _ask(page, "And without the tool?", approve=True)
        await page.locator("#status", has_text="interrupted").wait_for()
        second = card.nth(1)
        await second.locator("button.reject").click()
        await page.locator("#status", has_text="completed").wait_for()
        assert await second.locator(".answered").text_content() == "rejected"
        assert await page.text_content("#answer") == serve_agent.DECLINED_ANSWER.format(tool="research")
        declined = "The user declined the call to research; the tool was not run."
        assert await page.locator("#tools li").all_text_contents() == [f"research: {declined}"]  # not researched
        assert await page.text_content("#thread-id") == thread_id
        assert await _tool_messages(http, thread_id) == ["notes on streaming", declined]
        assert not [line for line in console if "Content Security Policy" in line or "pageerror" in line], console


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_question_without_tools_to_approve_streams_its_answer_on_a_new_conversation(transport: str) -> None:
    serve_agent = load_example("serve_agent")
    app = create_app({"agent": lambda: serve_agent.build_agent(token_delay=0.0, step_delay=0.0)})
    async with page_on(app, transport) as (page, _url, console):
        first = await page.text_content("#thread-id")
        await _ask(page, "What are streams?", approve=False)
        await page.locator("#status", has_text="completed").wait_for()
        assert await page.text_content("#answer") == serve_agent.ANSWER
        assert await page.locator(".question").count() == 0
        assert await _root_lifecycle(page) == ["running", "completed"]

        await page.click("#new-thread")
        await page.wait_for_function(
            "first => ![first, '-'].includes(document.getElementById('thread-id').textContent)", arg=first
        )
        assert await page.text_content("#answer") == "" and await _root_lifecycle(page) == []
        await _ask(page, "Again?", approve=False)
        await page.locator("#status", has_text="completed").wait_for()
        assert await page.text_content("#answer") == serve_agent.ANSWER
        assert not [line for line in console if "pageerror" in line], console


async def test_two_questions_at_once_resume_in_one_answer_once_both_are_answered() -> None:
    from tests.test_server_approval import two_calls_agent

    async with page_on(create_app({"pair": two_calls_agent}), "sse") as (page, url, _console):
        commands: list[Any] = []
        page.on("request", lambda r: commands.append(r.post_data_json) if r.url.endswith("/commands") else None)
        await _ask(page, "Cats or dogs?", approve=True)
        await page.locator("#status", has_text="interrupted").wait_for()
        cats = page.locator(".question", has_text='"cats"')
        dogs = page.locator(".question", has_text='"dogs"')
        await cats.locator("button.approve").click()
        await cats.locator(".answered", has_text="approved").wait_for()
        assert await page.text_content("#status") == "interrupted"  # the other question is still open
        await dogs.locator("button.reject").click()

        await page.locator("#status", has_text="completed").wait_for()
        assert await page.text_content("#answer") == "Done without research."
        assert await _root_lifecycle(page) == ["running", "interrupted", "running", "completed"]
        async with httpx.AsyncClient(base_url=url) as http:
            thread_id = await page.text_content("#thread-id") or ""
            assert sorted(await _tool_messages(http, thread_id)) == [
                "The user declined the call to research; the tool was not run.",
                "notes on cats",
            ]
        (respond,) = [command["params"] for command in commands if command["method"] == "input.respond"]
        assert sorted(entry["response"]["type"] for entry in respond["responses"]) == ["approve", "reject"]
        assert respond["config"] == {"configurable": {"approve_tools": True}}
