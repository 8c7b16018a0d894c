"""The app's routes fuzzed with hypothesis: whatever a client sends, the answer is never a 5xx, never a
traceback, always JSON a browser can parse (or an SSE stream of such JSON ending with a terminal message),
never an error message the app did not choose to expose; and afterwards every run the app lists can be read
back by its URL (one bad run must not break ``GET /runs`` for everyone).

The app is driven in-process (``httpx.ASGITransport``): a fresh app per example, so examples stay independent.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, TypedDict

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.graph import START, StateGraph
from streamflow.server import RunRegistry, create_app
from tests.strategies import content_types, path_segments, query_values, request_bodies

pytestmark = pytest.mark.anyio

SECRET = "hunter2@db.internal"
GRAPHS = ["echo", "failing"]
TERMINAL = {"end", "error", "cancelled"}


class Box(TypedDict, total=False):
    text: Any


def echo() -> Any:
    return StateGraph(Box).add_node("echo", lambda state: {"text": state.get("text")}).add_edge(START, "echo").compile()


def failing() -> Any:
    def fail(state: Box) -> Box:
        raise RuntimeError(f"cannot reach {SECRET}")

    return StateGraph(Box).add_node("fail", fail).add_edge(START, "fail").compile()


ROUTES = [
    ("GET", "/"),
    ("GET", "/graphs"),
    ("POST", "/runs"),
    ("GET", "/runs"),
    ("GET", "/runs/{id}"),
    ("GET", "/runs/{id}/stream"),
    ("POST", "/runs/{id}/cancel"),
    ("POST", "/threads"),
    ("GET", "/threads/{id}"),
    ("POST", "/threads/{id}/runs"),
    ("GET", "/threads/{id}/state"),
    ("GET", "/threads/{id}/history"),
    ("DELETE", "/runs/{id}"),
]
QUERY_NAMES = ["stream_mode", "subgraphs", "node", "tag", "last_event_id", "status", "limit", "before", "graph"]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, template = draw(st.sampled_from(ROUTES))
    path = template.replace("{id}", draw(path_segments))
    params = draw(st.lists(st.tuples(st.sampled_from(QUERY_NAMES), query_values), max_size=3))
    headers: dict[str, str] = {}
    body = draw(request_bodies(GRAPHS)) if method == "POST" else None
    content_type = draw(content_types)
    if content_type is not None:
        headers["content-type"] = content_type
    if draw(st.booleans()):
        headers["last-event-id"] = draw(query_values).encode("ascii", "replace").decode()
    return {"method": method, "url": path, "params": params, "headers": headers, "content": body}


def strict(text: str) -> Any:
    """Parse as a browser's ``JSON.parse``: no NaN or Infinity."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in an answer is not JSON")

    return json.loads(text, parse_constant=refuse)


def check_answer(response: httpx.Response) -> None:
    text = response.text
    assert response.status_code < 500, (response.status_code, text[:500])
    assert "Traceback" not in text and SECRET not in text, text[:500]
    media = response.headers.get("content-type", "")
    if media.startswith("application/json"):
        body = strict(text)
        if response.status_code >= 400:
            assert set(body) == {"status", "error", "message"} and body["status"] == response.status_code
    elif media.startswith("text/event-stream"):
        events = [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]
        for line in text.splitlines():
            if line.startswith("data: "):
                strict(line.removeprefix("data: "))
        assert events and events[0] == "metadata" and events[-1] in TERMINAL, events
    else:
        # the page (HTML), 204 for a stream the client has all of, Starlette's slash redirects
        assert response.status_code in (200, 204, 307) or media.startswith("text/plain"), (response.status_code, media)
    text.encode("utf-8")  # what was sent is valid UTF-8


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(requests(), min_size=1, max_size=6))
async def test_no_request_gets_a_5xx_a_traceback_or_a_poisoned_listing(batch: list[dict[str, Any]]) -> None:
    async with RunRegistry({"echo": echo, "failing": failing}, checkpointer=InMemorySaver()) as registry:
        transport = httpx.ASGITransport(app=create_app(registry), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=10) as http:
            for request in batch:
                check_answer(await http.request(**request))
            listing = await http.get("/runs")
            check_answer(listing)
            assert listing.status_code == 200
            for run in strict(listing.text)["runs"]:
                path = f"/runs/{urllib.parse.quote(run['run_id'], safe='')}"
                info = await http.get(path)
                check_answer(info)
                assert info.status_code == 200 and strict(info.text)["run_id"] == run["run_id"]
                stream = await http.get(f"{path}/stream", params={"stream_mode": "values,tasks,debug"})
                check_answer(stream)
                assert stream.status_code == 200


@pytest.mark.parametrize("depth", [65, 470, 971, 100_000])
async def test_the_fuzzers_deep_bodies_once_more(depth: int) -> None:
    """The nesting depths found to fail (the Redis source near 470, the app near 970), each a 400."""
    async with RunRegistry({"echo": echo}) as registry:
        transport = httpx.ASGITransport(app=create_app(registry), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            body = b'{"graph": "echo", "input": {"text": ' + b"[" * depth + b"]" * depth + b"}}"
            response = await http.post("/runs", content=body, headers={"content-type": "application/json"})
            check_answer(response)
            assert response.status_code == 400 and strict(response.text)["error"] == "InvalidJSON"
