"""Cross-site requests from a real browser: Chromium loads a page of a second origin (another loopback port,
reached as ``localhost`` so it is another site too) that tries to start and cancel runs of the app with
``fetch()`` and form posts, and to read its answers. None gets through: the app refuses each write it
receives (403 cross-origin, or the browser never sends it because CORS is off), nothing is started, the run
keeps running, and no answer is readable by the page. With CORS configured for that origin, the same page
starts a run.

A DNS-rebinding page is a page whose host name resolves to loopback: Chromium maps ``rebind.test`` to
127.0.0.1 here, and the app refuses the untrusted ``Host``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamflow.graph import END, START, StateGraph
from streamflow.server import RunRegistry, create_app
from streamflow.server.boundary import Boundary
from tests.browser_support import CHROMIUM, FLAGS, playwright_or_skip
from tests.server_support import Gate, serve

pytestmark = pytest.mark.anyio

async_playwright: Any = playwright_or_skip()


class Box(TypedDict, total=False):
    text: Any


def graphs(gate: Gate) -> dict[str, Any]:
    async def wait(state: Box) -> Box:
        await gate.wait()
        return {"text": "opened"}

    gated = StateGraph(Box).add_node("wait", wait).add_edge(START, "wait").add_edge("wait", END).compile()
    echo = StateGraph(Box).add_node("echo", lambda state: {"text": "echo"}).add_edge(START, "echo").compile()
    return {"gated": gated, "echo": echo}


class Recorder:
    """Wraps an ASGI app and records what reached it: ``(method, path, status)`` of each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, record)


ATTACKS = """
const results = {};
async function attempt(name, action) {
  try { results[name] = await action(); } catch (e) { results[name] = "blocked: " + e.name; }
}
function submitForm(action, fields, enctype) {
  return new Promise(resolve => {
    const frame = document.createElement("iframe");
    frame.name = "sink-" + Math.random().toString(36).slice(2);
    document.body.appendChild(frame);
    const form = document.createElement("form");
    form.method = "POST"; form.action = action; form.target = frame.name;
    if (enctype) form.enctype = enctype;
    for (const [k, v] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = k; input.value = v; form.appendChild(input);
    }
    document.body.appendChild(form);
    frame.addEventListener("load", () => resolve("submitted"), { once: true });
    form.submit();
  });
}
async function run() {
  const body = JSON.stringify({ graph: "echo", input: {} });
  await attempt("text_plain_start", async () => (await fetch(APP + "/runs",
    { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body })).type);
  await attempt("json_start", async () => (await fetch(APP + "/runs",
    { method: "POST", headers: { "content-type": "application/json" }, body })).status);
  await attempt("no_cors_cancel", async () => (await fetch(APP + "/runs/" + RUN + "/cancel",
    { method: "POST", mode: "no-cors" })).type);
  await attempt("read_runs", async () => (await (await fetch(APP + "/runs")).text()).slice(0, 40));
  await attempt("form_cancel", () => submitForm(APP + "/runs/" + RUN + "/cancel", {}, null));
  await attempt("form_start", () => submitForm(APP + "/runs",
    { '{"graph": "echo", "input": {}, "pad": "': '"}' }, "text/plain"));
  document.body.dataset.results = JSON.stringify(results);
  document.body.dataset.done = "true";
}
run();
"""


def attacker_app(app_url: str, run_id: str) -> Starlette:
    """The second origin: one page whose script attacks ``app_url``."""

    async def page(request: Request) -> HTMLResponse:
        script = f"const APP = {json.dumps(app_url)}; const RUN = {json.dumps(run_id)};\n{ATTACKS}"
        return HTMLResponse(f"<!doctype html><html><body><script>{script}</script></body></html>")

    return Starlette(routes=[Route("/", page)])


@asynccontextmanager
async def browser(*extra_flags: str) -> AsyncIterator[Any]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *extra_flags], headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


async def attack(app_url: str, run_id: str) -> dict[str, Any]:
    """Serve the attacker's page on another loopback port, open it as ``localhost``, and return what its
    attempts saw."""
    async with serve(attacker_app(app_url, run_id)) as other, browser() as chromium:
        page = await chromium.new_page()
        await page.goto(other.replace("127.0.0.1", "localhost") + "/")
        await page.wait_for_selector("body[data-done=true]", state="attached")
        results: dict[str, Any] = json.loads(await page.get_attribute("body", "data-results") or "{}")
        return results


async def test_a_page_of_another_site_can_neither_start_nor_cancel_nor_read_runs() -> None:
    gate = Gate()
    registry = RunRegistry(graphs(gate))
    recorder = Recorder(create_app(registry))
    async with registry, serve(recorder) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        run_id = (await http.post("/runs", json={"graph": "gated", "input": {}})).json()["run_id"]
        recorder.seen.clear()

        results = await attack(url, run_id)
        # every fetch fails in the page: the no-cors ones are sent, refused by the app and their opaque answers
        # withheld by the browser (Cross-Origin-Resource-Policy); the JSON one's preflight is refused, so it is
        # never sent; the GET is answered but without a CORS header the page cannot read it
        assert results == {
            "text_plain_start": "blocked: TypeError",
            "json_start": "blocked: TypeError",
            "no_cors_cancel": "blocked: TypeError",
            "read_runs": "blocked: TypeError",
            "form_cancel": "submitted",
            "form_start": "submitted",
        }
        writes = sorted((method, path, status) for method, path, status in recorder.seen if method == "POST")
        assert writes == sorted(
            [
                ("POST", "/runs", 403),  # the text/plain fetch
                ("POST", f"/runs/{run_id}/cancel", 403),  # the no-cors fetch
                ("POST", f"/runs/{run_id}/cancel", 403),  # the form
                ("POST", "/runs", 403),  # the text/plain form
            ]
        )
        assert ("OPTIONS", "/runs", 405) in recorder.seen  # the JSON fetch's preflight, answered without CORS
        assert [(info.run_id, info.status) for info in registry.list()] == [(run_id, "running")]
        gate.open()


async def test_with_cors_for_that_origin_the_same_page_starts_and_cancels_runs() -> None:
    gate = Gate()
    registry = RunRegistry(graphs(gate))
    cors = {  # the second origin's port is only known once it is served: allow any localhost port
        "allow_origin_regex": r"http://localhost:\d+",
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["content-type"],
    }
    app = create_app(registry, boundary=Boundary(cors=cors))
    async with registry, serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        run_id = (await http.post("/runs", json={"graph": "gated", "input": {}})).json()["run_id"]
        results = await attack(url, run_id)
        assert results["json_start"] == 201
        assert results["read_runs"].startswith('{"runs":')
        by_graph = {info.graph: info.status for info in registry.list()}
        # the trusted origin's cancel went through; its text/plain bodies were still refused (415): one echo run
        assert by_graph == {"gated": "cancelled", "echo": "finished"}
        assert len(registry.list()) == 2


async def test_a_dns_rebinding_page_gets_no_answer() -> None:
    registry = RunRegistry(graphs(Gate()))
    async with registry, serve(create_app(registry)) as url:
        port = url.rsplit(":", 1)[1]
        async with browser("--host-resolver-rules=MAP rebind.test 127.0.0.1") as chromium:
            page = await chromium.new_page()
            response = await page.goto(f"http://rebind.test:{port}/graphs")
            assert response is not None and response.status == 400
            assert await page.text_content("body") == "Invalid host header"
            same_app = await page.goto(f"{url}/graphs")  # the app itself, by its loopback name, still answers
            assert same_app is not None and same_app.status == 200
