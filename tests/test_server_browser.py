"""The web page in a real browser: Playwright driving Debian's Chromium against the served app.

The agent's tool holds at half progress on a gate the test opens, so "mid-run" is a state, not a moment:
the test reloads the page there and checks that the stream resumes with no gap and no duplicate (the
answer text must come out exactly once).

With "ask before tools" ticked, the scripted agent of ``examples/serve_agent.py`` asks before its tool call:
the page shows the question, the test approves it and watches the resumed run finish, then asks again and
rejects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.graph import get_stream_writer
from streamflow.messages import AIMessage, ToolCall
from streamflow.models import FakeChatModel
from streamflow.server import RunRegistry, create_app
from streamflow.tools import create_react_agent, tool
from tests.browser_support import CHROMIUM, FLAGS, playwright_or_skip
from tests.server_support import Gate, load_example, serve

pytestmark = pytest.mark.anyio

ANSWER = "Resumed streams lose nothing: every token arrives once."

async_playwright: Any = playwright_or_skip()


def agent(gate: Gate) -> Any:
    @tool
    async def research(topic: str) -> str:
        """Look a topic up, reporting progress."""
        write = get_stream_writer()
        for done in (1, 2):
            write({"progress": {"label": "research", "done": done, "total": 4}})
        await gate.wait()
        for done in (3, 4):
            write({"progress": {"label": "research", "done": done, "total": 4}})
        return f"notes on {topic}"

    call: ToolCall = {"name": "research", "args": {"topic": "resume"}, "id": "call-1", "type": "tool_call"}
    model = FakeChatModel([AIMessage(tool_calls=[call]), ANSWER], chunk_size=3, delay=0.01)
    return create_react_agent(model, [research])


async def _launch(pw: Any) -> Any:
    """A headless Chromium of ``pw`` (a started ``async_playwright()``)."""
    return await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)


async def _open(page: Any, url: str) -> None:
    """Load the app's page at ``url`` and wait until its script is ready."""
    await page.goto(url + "/")
    await page.wait_for_selector("body[data-ready=true]")


async def _ask(page: Any, question: str, *, approve: bool = False) -> None:
    """Ask ``question`` on the page (with tool calls to approve first when ``approve``)."""
    if approve:
        await page.check("#approve")
    await page.fill("#question", question)
    await page.click("#ask")


async def test_ask_watch_tokens_nodes_progress_and_resume_after_reload(tmp_path: Path) -> None:
    gate = Gate()
    registry = RunRegistry({"agent": lambda: agent(gate)}, checkpointer=InMemorySaver())
    async with registry, serve(create_app(registry)) as url, async_playwright() as pw:
        browser = await _launch(pw)
        try:
            page = await browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            await _open(page, url)
            await _ask(page, "Does a reload lose tokens?")

            bar = page.locator('.bar[data-label="research"] .pct')
            await bar.filter(has_text="50%").wait_for()
            await page.locator('#nodes li[data-node="tools"].running').wait_for()
            (run,) = registry.list()
            assert run.status == "running"
            assert await page.text_content("#run-id") == run.run_id
            live = registry.live_run_on(await page.text_content("#thread-id") or "")
            assert live is not None and live.run_id == run.run_id

            await page.reload()  # mid-run: the tool waits on the gate
            await page.wait_for_selector("body[data-ready=true]")
            await bar.filter(has_text="50%").wait_for()
            await page.locator("#debug", has_text=re.compile(r"resumed_after=[1-9]")).wait_for()
            gate.open()

            await page.locator("#status", has_text="finished").wait_for()
            await bar.filter(has_text="100%").wait_for()
            assert await page.text_content("#answer") == ANSWER
            nodes = await page.locator("#nodes li").evaluate_all("els => els.map(e => [e.dataset.node, e.className])")
            assert nodes == [["agent", "done"], ["tools", "done"], ["agent", "done"]]
            debug = await page.text_content("#debug") or ""
            assert "end" in debug and "lag" not in debug
            assert not [line for line in console if "Content Security Policy" in line], console
            await page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            assert (tmp_path / "page.png").stat().st_size > 0
        finally:
            await browser.close()


async def test_without_threads_the_page_asks_with_plain_runs() -> None:
    """An app whose runs execute elsewhere answers 501 to ``POST /threads`` (simulated here by taking its
    thread registry away); the page then starts plain runs, as before threads."""
    serve_agent = load_example("serve_agent")
    app = create_app({"agent": lambda: serve_agent.build_agent(token_delay=0.0, step_delay=0.0)})
    app.state.threads = None
    async with serve(app) as url, async_playwright() as pw:
        browser = await _launch(pw)
        try:
            page = await browser.new_page()
            await _open(page, url)
            runs = ["-"]
            for question in ("What are streams?", "And again?"):
                await _ask(page, question)
                await page.wait_for_function("last => $('run-id').textContent !== last", arg=runs[-1])
                await page.locator("#status", has_text="finished").wait_for()
                runs.append(await page.text_content("#run-id") or "")
                assert await page.text_content("#answer") == serve_agent.ANSWER
                assert await page.text_content("#thread-id") == "-"
            assert len(set(runs)) == 3
        finally:
            await browser.close()


async def test_ask_approve_the_tool_call_watch_it_resume_then_ask_again_and_reject(tmp_path: Path) -> None:
    serve_agent = load_example("serve_agent")
    app = create_app({"agent": lambda: serve_agent.build_agent(token_delay=0.0, step_delay=0.0)})
    async with serve(app) as url, async_playwright() as pw, httpx.AsyncClient(base_url=url) as http:
        browser = await _launch(pw)
        try:
            page = await browser.new_page()
            await _open(page, url)
            await _ask(page, "What are streams?", approve=True)

            card = page.locator(".question")
            await card.locator("button.approve").wait_for()
            await page.locator("#status", has_text="interrupted").wait_for()
            assert await card.locator(".text").text_content() == 'Call tool research with {"topic":"streaming"}?'
            assert await page.locator(".bar").count() == 0  # the tool has not started
            thread_id = await page.text_content("#thread-id") or ""
            asked_run = await page.text_content("#run-id")
            assert [i["value"] for i in (await http.get(f"/threads/{thread_id}/state")).json()["interrupts"]] == [
                {"tool": "research", "args": {"topic": "streaming"}}
            ]

            await card.locator("button.approve").click()
            await page.locator("#status", has_text="finished").wait_for()
            assert await page.text_content("#run-id") != asked_run  # the resume is a new run on the thread
            assert await page.text_content("#thread-id") == thread_id
            assert await page.text_content("#answer") == serve_agent.ANSWER
            assert await page.locator('.bar[data-label="research"] .pct').text_content() == "100%"
            assert await card.locator(".answered").text_content() == "approved"
            nodes = await page.locator("#nodes li").evaluate_all("els => els.map(e => [e.dataset.node, e.className])")
            assert nodes == [["agent", "done"], ["tools", "paused"], ["tools", "done"], ["agent", "done"]]
            await page.screenshot(path=str(tmp_path / "approved.png"), full_page=True)

            await _ask(page, "And without the tool?")
            await card.locator("button.reject").wait_for()
            await page.locator("#status", has_text="interrupted").wait_for()
            await card.locator("button.reject").click()
            await page.locator("#status", has_text="finished").wait_for()
            assert await page.text_content("#answer") == serve_agent.DECLINED_ANSWER.format(tool="research")
            assert await card.locator(".answered").text_content() == "rejected"
            assert await page.locator(".bar").count() == 0  # the tool never ran
            assert await page.text_content("#thread-id") == thread_id

            values = (await http.get(f"/threads/{thread_id}/state")).json()["values"]
            assert [m["content"] for m in values["messages"] if m["type"] == "tool"] == [
                "notes on streaming",
                "The user declined the call to research; the tool was not run.",
            ]
        finally:
            await browser.close()


async def test_two_questions_at_once_resume_once_both_are_answered() -> None:
    from tests.test_server_approval import two_calls_agent

    async with serve(create_app({"pair": two_calls_agent})) as url, async_playwright() as pw:
        browser = await _launch(pw)
        try:
            page = await browser.new_page()
            await _open(page, url)
            await _ask(page, "Cats or dogs?", approve=True)
            await page.locator("#status", has_text="interrupted").wait_for()
            cats = page.locator(".question", has_text='"cats"')
            dogs = page.locator(".question", has_text='"dogs"')
            asked_run = await page.text_content("#run-id")

            await cats.locator("button.approve").click()
            await cats.locator(".answered", has_text="approved").wait_for()
            assert await page.text_content("#status") == "interrupted"  # the other question is still open
            assert await page.text_content("#run-id") == asked_run
            await dogs.locator("button.reject").click()

            await page.locator("#status", has_text="finished").wait_for()
            assert await dogs.locator(".answered").text_content() == "rejected"
            assert await page.text_content("#answer") == "Done without research."
            assert await page.text_content("#run-id") != asked_run
        finally:
            await browser.close()


async def test_the_page_works_for_a_principal_logged_in_by_a_cookie() -> None:
    """A login hook reading a session cookie: the page's requests and its EventSource carry the cookie (same
    origin), so the page works unchanged; another principal does not see what it started."""
    from starlette.requests import Request

    from streamflow.server.auth import Auth

    sessions = {"s-alice": "alice", "s-bob": "bob"}

    def login(request: Request) -> str | None:
        return sessions.get(request.cookies.get("session", ""))

    serve_agent = load_example("serve_agent")
    app = create_app({"agent": lambda: serve_agent.build_agent(token_delay=0.0, step_delay=0.0)}, auth=Auth(login))
    async with serve(app) as url, async_playwright() as pw, httpx.AsyncClient(base_url=url) as http:
        browser = await _launch(pw)
        try:
            context = await browser.new_context()
            await context.add_cookies([{"name": "session", "value": "s-alice", "url": url}])
            page = await context.new_page()
            await _open(page, url)
            await _ask(page, "What are streams?", approve=True)
            card = page.locator(".question")
            await card.locator("button.approve").wait_for()
            await card.locator("button.approve").click()  # a resume, as alice
            await page.locator("#status", has_text="finished").wait_for()
            assert await page.text_content("#answer") == serve_agent.ANSWER
            thread_id = await page.text_content("#thread-id") or ""
            run_id = await page.text_content("#run-id") or ""

            alice, bob = {"cookie": "session=s-alice"}, {"cookie": "session=s-bob"}
            assert (await http.get(f"/runs/{run_id}", headers=alice)).json()["owner"] == "alice"
            assert (await http.get(f"/threads/{thread_id}", headers=alice)).status_code == 200
            assert (await http.get(f"/runs/{run_id}", headers=bob)).status_code == 404
            assert (await http.get(f"/threads/{thread_id}/state", headers=bob)).status_code == 404
            assert (await http.get("/runs", headers=bob)).json() == {"runs": []}
            assert (await http.get("/runs")).status_code == 401
        finally:
            await browser.close()
