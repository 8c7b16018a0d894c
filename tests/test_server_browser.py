"""The web page in a real browser: Playwright driving Debian's Chromium against the served app.

The agent's tool holds at half progress on a gate the test opens, so "mid-run" is a state, not a moment:
the test reloads the page there and checks that the stream resumes with no gap and no duplicate (the
answer text must come out exactly once).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.graph import get_stream_writer
from streamflow.messages import AIMessage, ToolCall
from streamflow.models import FakeChatModel
from streamflow.server import RunRegistry, create_app
from streamflow.tools import create_react_agent, tool
from tests.server_support import Gate, serve

pytestmark = pytest.mark.anyio

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWER = "Resumed streams lose nothing: every token arrives once."

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

async_playwright: Any = pytest.importorskip("playwright.async_api").async_playwright


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


async def test_ask_watch_tokens_nodes_progress_and_resume_after_reload(tmp_path: Path) -> None:
    gate = Gate()
    registry = RunRegistry({"agent": lambda: agent(gate)}, checkpointer=InMemorySaver())
    async with registry, serve(create_app(registry)) as url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(url + "/")
            await page.wait_for_selector("body[data-ready=true]")
            await page.fill("#question", "Does a reload lose tokens?")
            await page.click("#ask")

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
            await page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            assert (tmp_path / "page.png").stat().st_size > 0
        finally:
            await browser.close()
