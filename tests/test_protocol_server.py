"""The agent-protocol routes at the wire: command envelopes, the error shapes and statuses of bad input, unknown
threads and other principals' threads, the WebSocket's connection commands, ``since`` replay, and the thread
log and subscription filter underneath (uvicorn on loopback, httpx and websockets clients)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from streamflow.errors import InvalidArgumentError, ReplayUnavailableError
from streamflow.server import PROTOCOL_VERSION, create_app
from streamflow.server.auth import Auth
from streamflow.server.limits import Limits
from streamflow.server.protocol_log import CHANNELS, LogEntry, ProtocolFilter, ThreadLog
from streamflow.server.protocol_stream import _frames
from streamflow.server.stream import WRITE_BATCH
from tests.server_support import Gate, Ticker, serve
from tests.test_protocol_sdk import HI, build_chat, build_nested

langgraph_sdk = pytest.importorskip("langgraph_sdk")
from langgraph_sdk.stream.subscription import matches_subscription  # noqa: E402
from langgraph_sdk.stream.transport import ProtocolSseTransport, ProtocolWebSocketTransport  # noqa: E402

pytestmark = pytest.mark.anyio

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


def who(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return TOKENS.get(token) if scheme == "Bearer" else None


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class Served:
    """The app on loopback, an httpx client, and the gate the ``gated`` graph waits at."""

    def __init__(self, url: str, client: httpx.AsyncClient, gate: Gate) -> None:
        self.url = url
        self.client = client
        self.gate = gate

    async def command(
        self, thread_id: str, method: str, params: Any = None, *, id: int = 1, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"id": id, "method": method}
        if params is not None:
            body["params"] = params
        return await self.client.post(f"/threads/{thread_id}/commands", json=body, headers=headers)

    async def events(self, thread_id: str, body: dict[str, Any], count: int) -> list[dict[str, Any]]:
        """The first ``count`` events of the thread's SSE stream opened with ``body``."""
        out: list[dict[str, Any]] = []
        async with self.client.stream("POST", f"/threads/{thread_id}/stream/events", json=body) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    out.append(json.loads(line[len("data: ") :]))
                    if len(out) == count:
                        break
        return out

    async def finished_run(self, thread_id: str, graph: str = "chat") -> list[dict[str, Any]]:
        """Run ``graph`` on a new thread through to its end; return the run's events (all channels)."""
        response = await self.command(thread_id, "run.start", {"assistant_id": graph, "input": HI})
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = []
        async with self.client.stream(
            "POST", f"/threads/{thread_id}/stream/events", json={"channels": list(CHANNELS)}
        ) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: ") :]))
                    data = events[-1]["params"]["data"]
                    if events[-1]["method"] == "lifecycle" and data["event"] in ("completed", "failed", "interrupted"):
                        break
        return events


def _app(gate: Gate, auth: Auth | None = None, limits: Limits | None = None) -> Any:
    graphs = {"chat": build_chat(), "gated": build_chat(gate), "ask": build_chat(ask=True), "nested": build_nested()}
    return create_app(graphs, auth=auth, limits=limits)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    gate = Gate()
    async with serve(_app(gate), ws="websockets-sansio") as url, httpx.AsyncClient(base_url=url) as client:
        yield Served(url, client, gate)


# -- commands --------------------------------------------------------------------------------------------


async def test_run_start_answers_a_success_envelope_whose_seq_a_stream_resumes_after(served: Served) -> None:
    first = await served.finished_run("t-one")
    response = await served.command("t-one", "run.start", {"assistant_id": "chat", "input": HI}, id=9)
    body = response.json()
    assert response.status_code == 200
    assert body["type"] == "success" and body["id"] == 9 and body["result"]["run_id"]
    assert body["meta"] == {"applied_through_seq": first[-1]["seq"]}
    resumed = await served.events("t-one", {"channels": ["lifecycle"], "since": first[-1]["seq"]}, 1)
    assert resumed[0]["seq"] > first[-1]["seq"]
    assert resumed[0]["params"]["data"] == {"event": "running", "graph_name": "chat"}
    assert PROTOCOL_VERSION == "0.0.20"


async def test_subgraphs_have_their_own_lifecycle_and_namespaced_events(served: Served) -> None:
    response = await served.command("t-nested", "run.start", {"assistant_id": "nested", "input": {"x": 1}})
    assert response.status_code == 200
    with anyio.fail_after(10):
        events = await served.events("t-nested", {"channels": ["lifecycle"]}, 4)
    shown = [(e["params"]["namespace"], e["params"]["data"]["event"]) for e in events]
    inner = events[1]["params"]["namespace"]
    assert len(inner) == 1 and inner[0].startswith("inner:")
    assert shown == [([], "running"), (inner, "started"), (inner, "completed"), ([], "completed")]
    assert events[1]["params"]["data"]["graph_name"] == "inner"
    with anyio.fail_after(10):
        below = await served.events("t-nested", {"channels": ["updates"], "namespaces": [["inner"]], "depth": 0}, 1)
    assert below[0]["params"]["namespace"] == inner and below[0]["params"]["data"] == {"step": {"x": 2}}


async def test_runs_started_on_a_thread_over_the_rest_routes_reach_its_stream(served: Served) -> None:
    created = await served.client.post("/threads", json={"thread_id": "t-rest"})
    assert created.status_code == 201
    first = await served.client.post("/threads/t-rest/runs", json={"graph": "chat", "input": HI})
    assert first.status_code == 201
    config = {"configurable": {"thread_id": "t-rest"}}
    with anyio.fail_after(10):
        events = await served.events("t-rest", {"channels": ["lifecycle"], "since": 0}, 2)
        second = await served.client.post("/runs", json={"graph": "chat", "input": HI, "config": config})
        assert second.status_code == 201
        events += await served.events("t-rest", {"channels": ["lifecycle"], "since": events[-1]["seq"]}, 2)
    assert [e["params"]["data"]["event"] for e in events] == ["running", "completed"] * 2
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))


async def test_state_commands_read_the_threads_checkpoints(served: Served) -> None:
    await served.finished_run("t-state")
    state = (await served.command("t-state", "state.get", {"namespace": [], "keys": ["steps"]})).json()
    assert state["type"] == "success"
    assert state["result"]["values"] == {"steps": 2}
    assert state["result"]["checkpoint"]["id"]
    listed = (await served.command("t-state", "state.listCheckpoints", {"limit": 2})).json()
    checkpoints = listed["result"]["checkpoints"]
    assert len(checkpoints) == 2
    assert checkpoints[0]["id"] == state["result"]["checkpoint"]["id"]
    assert [c["step"] for c in checkpoints] == [2, 1]


async def test_run_cancel_stops_the_threads_run(served: Served) -> None:
    started = await served.command("t-cancel", "run.start", {"assistant_id": "gated", "input": HI})
    run_id = started.json()["result"]["run_id"]
    with anyio.fail_after(10):
        await served.gate.reached.wait()
    response = await served.command("t-cancel", "run.cancel", {})
    assert response.status_code == 200
    assert response.json()["result"] == {"run_id": run_id, "status": "cancelled"}
    with anyio.fail_after(10):
        events = await served.events("t-cancel", {"channels": ["lifecycle"]}, 2)
    assert [e["params"]["data"]["event"] for e in events] == ["running", "failed"]
    assert events[1]["params"]["data"]["error"].startswith("cancelled")
    again = await served.command("t-cancel", "run.cancel", {})
    assert again.status_code == 404 and again.json()["error"] == "no_such_run"


async def test_an_interrupt_is_answered_by_id_and_a_wrong_id_is_refused(served: Served) -> None:
    events = await served.finished_run("t-ask", "ask")
    asked = [e for e in events if e["method"] == "input.requested"]
    assert [e["params"]["data"]["value"] for e in asked] == [{"question": "how many?"}]
    assert events[-1]["params"]["data"] == {"event": "interrupted"}
    interrupt_id = asked[0]["params"]["data"]["interrupt_id"]
    wrong = await served.command(
        "t-ask", "input.respond", {"interrupt_id": "nope", "namespace": [], "response": 1}, id=4
    )
    assert wrong.status_code == 422
    assert wrong.json() == {"type": "error", "id": 4, "error": "no_such_interrupt", "message": wrong.json()["message"]}
    ok = await served.command(
        "t-ask",
        "input.respond",
        {"responses": [{"interrupt_id": interrupt_id, "namespace": [], "response": 5}]},
    )
    assert ok.status_code == 200 and ok.json()["result"]["run_id"]


async def test_run_start_on_a_paused_thread_answers_its_interrupt(served: Served) -> None:
    await served.finished_run("t-paused", "ask")
    resumed = await served.finished_run("t-paused", "ask")  # run.start again: its input answers the interrupt
    assert resumed[-1]["params"]["data"] == {"event": "completed"}
    state = (await served.command("t-paused", "state.get", {"namespace": [], "keys": ["answer"]})).json()
    assert state["result"]["values"] == {"answer": HI}


MALFORMED: list[tuple[Any, int, str]] = [
    ([1, 2], 422, "invalid_argument"),
    ({"method": "run.start", "params": {}}, 422, "invalid_argument"),
    ({"id": -1, "method": "run.start"}, 422, "invalid_argument"),
    ({"id": True, "method": "run.start"}, 422, "invalid_argument"),
    ({"id": 1, "method": "", "params": {}}, 422, "invalid_argument"),
    ({"id": 1, "method": "run.start", "params": []}, 422, "invalid_argument"),
    ({"id": 1, "method": "run.start", "params": {}, "extra": 1}, 422, "invalid_argument"),
    ({"id": 1, "method": "run.start", "params": {"input": {}}}, 422, "invalid_argument"),
    (
        {"id": 1, "method": "run.start", "params": {"assistant_id": "chat", "input": {}, "x": 1}},
        422,
        "invalid_argument",
    ),
    ({"id": 1, "method": "run.start", "params": {"assistant_id": "chat", "config": []}}, 422, "invalid_argument"),
    ({"id": 1, "method": "run.start", "params": {"assistant_id": "nope", "input": {}}}, 404, "invalid_argument"),
    ({"id": 1, "method": "input.respond", "params": {"namespace": [], "response": 1}}, 422, "invalid_argument"),
    ({"id": 1, "method": "input.respond", "params": {"responses": []}}, 422, "invalid_argument"),
    ({"id": 1, "method": "state.get", "params": {"namespace": ["sub"]}}, 501, "not_supported"),
    ({"id": 1, "method": "state.listCheckpoints", "params": {"limit": 0}}, 422, "invalid_argument"),
    ({"id": 7, "method": "run.explode", "params": {}}, 400, "unknown_command"),
    ({"id": 1, "method": "subscription.subscribe", "params": {"channels": ["values"]}}, 501, "not_supported"),
    ({"id": 1, "method": "agent.getTree", "params": {}}, 501, "not_supported"),
]


@pytest.mark.parametrize(("body", "status", "code"), MALFORMED)
async def test_bad_commands_get_the_protocol_error_envelope(served: Served, body: Any, status: int, code: str) -> None:
    await served.finished_run("t-bad")
    response = await served.client.post("/threads/t-bad/commands", json=body)
    answer = response.json()
    assert response.status_code == status, answer
    assert set(answer) == {"type", "id", "error", "message"}
    assert answer["type"] == "error" and answer["error"] == code and answer["message"]
    expected_id = body.get("id") if isinstance(body, dict) and isinstance(body.get("id"), int) else None
    assert answer["id"] == (None if isinstance(expected_id, bool) or (expected_id or 0) < 0 else expected_id)


async def test_a_body_that_is_not_json_is_refused(served: Served) -> None:
    response = await served.client.post(
        "/threads/t/commands", content=b'{"id": 1,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error" and response.json()["error"] == "invalid_argument"


async def test_a_resume_on_a_thread_that_is_not_interrupted_is_refused(served: Served) -> None:
    await served.finished_run("t-done")
    response = await served.command("t-done", "input.respond", {"interrupt_id": "x", "namespace": [], "response": 1})
    assert response.status_code == 422 and response.json()["error"] == "invalid_argument"
    assert "not interrupted" in response.json()["message"]


async def test_an_unknown_thread_is_404_on_every_route(served: Served) -> None:
    state = await served.command("t-unknown", "state.get", {"namespace": []})
    respond = await served.command("t-unknown", "input.respond", {"interrupt_id": "x", "namespace": [], "response": 1})
    stream = await served.client.post("/threads/t-unknown/stream/events", json={"channels": ["values"]})
    for response in (state, respond, stream):
        assert response.status_code == 404
        assert response.json()["type"] == "error" and "t-unknown" in response.json()["message"]
    code, frame = await _refused_socket(served.url, "t-unknown")
    assert code == 4404 and frame["type"] == "error" and frame["id"] is None


STREAM_BODIES: list[tuple[Any, int]] = [
    ({}, 422),
    ({"channels": []}, 422),
    ({"channels": ["values", "noise"]}, 422),
    ({"channels": ["custom:"]}, 422),
    ({"channels": ["values"], "namespaces": "root"}, 422),
    ({"channels": ["values"], "namespaces": [[1]]}, 422),
    ({"channels": ["values"], "depth": -1}, 422),
    ({"channels": ["values"], "since": "3"}, 422),
    ({"channels": ["values"], "since": 10_000}, 400),
    ({"channels": ["values"], "filter": {}}, 422),
    ([["values"]], 422),
]


@pytest.mark.parametrize(("body", "status"), STREAM_BODIES)
async def test_bad_stream_requests_get_the_protocol_error_envelope(served: Served, body: Any, status: int) -> None:
    await served.finished_run("t-stream")
    response = await served.client.post("/threads/t-stream/stream/events", json=body)
    assert response.status_code == status
    assert response.json()["type"] == "error" and response.json()["error"] == "invalid_argument"


# -- auth ------------------------------------------------------------------------------------------------


async def test_another_principals_thread_answers_as_an_unknown_one() -> None:
    gate = Gate()
    async with serve(_app(gate, Auth(who)), ws="websockets-sansio") as url, httpx.AsyncClient(base_url=url) as client:
        served = Served(url, client, gate)
        mine = await served.command(
            "t-alice", "run.start", {"assistant_id": "ask", "input": HI}, headers=bearer("alice-token")
        )
        assert mine.status_code == 200
        anonymous = await served.command("t-alice", "state.get", {"namespace": []})
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "permission_denied"
        bob = bearer("bob-token")
        refused = [
            await served.command("t-alice", "state.get", {"namespace": []}, headers=bob),
            await served.command(
                "t-alice", "input.respond", {"interrupt_id": "x", "namespace": [], "response": 1}, headers=bob
            ),
            await served.command("t-alice", "run.start", {"assistant_id": "chat", "input": HI}, headers=bob),
            await client.post("/threads/t-alice/stream/events", json={"channels": ["values"]}, headers=bob),
        ]
        for response in refused:
            assert response.status_code == 404
            assert response.json()["type"] == "error" and "t-alice" in response.json()["message"]
        code, _ = await _refused_socket(url, "t-alice", bob)
        assert code == 4404
        code, _ = await _refused_socket(url, "t-alice")
        assert code == 4401
        own = await served.command("t-alice", "state.get", {"namespace": []}, headers=bearer("alice-token"))
        assert own.status_code == 200


async def test_a_principal_at_its_run_limit_gets_429_with_retry_after() -> None:
    gate = Gate()
    app = _app(gate, Auth(who), Limits(max_live_runs=1, retry_after=7))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=bearer("alice-token")) as client:
        served = Served(url, client, gate)
        first = await served.command("t-1", "run.start", {"assistant_id": "gated", "input": HI})
        assert first.status_code == 200
        second = await served.command("t-2", "run.start", {"assistant_id": "chat", "input": HI}, id=2)
        assert second.status_code == 429 and second.headers["retry-after"] == "7"
        assert second.json()["type"] == "error" and second.json()["id"] == 2
        gate.open()


# -- the WebSocket ---------------------------------------------------------------------------------------


def _ws_url(url: str, thread_id: str) -> str:
    return url.replace("http://", "ws://") + f"/threads/{thread_id}/stream/events"


async def _refused_socket(url: str, thread_id: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with connect(_ws_url(url, thread_id), additional_headers=headers) as socket:
        frame = json.loads(await socket.recv())
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, frame


async def test_the_websocket_serves_commands_and_subscriptions(served: Served) -> None:
    first = await served.finished_run("t-ws")
    last = first[-1]["seq"]
    async with connect(_ws_url(served.url, "t-ws")) as socket:
        await socket.send("{not json")
        assert json.loads(await socket.recv())["error"] == "invalid_argument"
        await socket.send(
            json.dumps({"id": 1, "method": "subscription.unsubscribe", "params": {"subscription_id": "x"}})
        )
        missing = json.loads(await socket.recv())
        assert missing["id"] == 1 and missing["error"] == "no_such_subscription"
        subscribe = {"channels": ["lifecycle", "values"], "since": last}
        await socket.send(json.dumps({"id": 2, "method": "subscription.subscribe", "params": subscribe}))
        answer = json.loads(await socket.recv())
        assert answer["type"] == "success" and answer["id"] == 2
        assert answer["result"] == {"subscription_id": "sub-1", "replayed_events": 0}
        await socket.send(json.dumps({"id": 3, "method": "run.start", "params": {"assistant_id": "chat", "input": HI}}))
        frames: list[dict[str, Any]] = []
        with anyio.fail_after(10):
            while not frames or frames[-1].get("params", {}).get("data", {}).get("event") != "completed":
                frames.append(json.loads(await socket.recv()))
    started = next(f for f in frames if f.get("id") == 3)
    assert started["type"] == "success" and started["meta"] == {"applied_through_seq": last}
    events = [f for f in frames if f.get("type") == "event"]
    assert {e["method"] for e in events} == {"lifecycle", "values"}
    assert events[0]["seq"] > last
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})


async def test_subscription_reconnect_resends_after_the_last_event_id(served: Served) -> None:
    last = (await served.finished_run("t-re"))[-1]["seq"]
    async with connect(_ws_url(served.url, "t-re")) as socket:
        reconnect = {"id": 1, "method": "subscription.reconnect", "params": {"run_id": "r", "last_event_id": "1"}}
        await socket.send(json.dumps(reconnect))
        assert json.loads(await socket.recv())["result"] == {"restored": False, "missed_events": last - 1}
        subscribe = {"id": 2, "method": "subscription.subscribe", "params": {"channels": list(CHANNELS), "since": last}}
        await socket.send(json.dumps(subscribe))
        assert json.loads(await socket.recv())["id"] == 2
        again = {"id": 3, "method": "subscription.reconnect", "params": {"run_id": "r", "last_event_id": str(last - 2)}}
        await socket.send(json.dumps(again))
        with anyio.fail_after(10):
            frames = [json.loads(await socket.recv()) for _ in range(3)]
        bad = {"id": 4, "method": "subscription.reconnect", "params": {"run_id": "r", "last_event_id": "x"}}
        await socket.send(json.dumps(bad))
        refused = json.loads(await socket.recv())
    answer = next(f for f in frames if f["type"] == "success")
    assert answer["id"] == 3 and answer["result"] == {"restored": True, "missed_events": 2}
    assert [f["seq"] for f in frames if f["type"] == "event"] == [last - 1, last]
    assert refused["id"] == 4 and refused["error"] == "invalid_argument"


async def test_a_browsers_websocket_from_another_origin_is_refused(served: Served) -> None:
    await served.finished_run("t-origin")
    with pytest.raises(InvalidStatus) as refused:
        async with connect(_ws_url(served.url, "t-origin"), origin=Origin("http://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    async with connect(_ws_url(served.url, "t-origin"), origin=Origin(served.url)) as socket:
        await socket.send(json.dumps({"id": 1, "method": "state.get", "params": {"namespace": []}}))
        assert json.loads(await socket.recv())["type"] == "success"


# -- since replay through LangGraph's transports ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["sse", "websocket"])
async def test_since_replays_every_later_event_once_through_the_sdk_transports(served: Served, kind: str) -> None:
    events = await served.finished_run("t-since")
    last = events[-1]["seq"]
    transport_type = ProtocolSseTransport if kind == "sse" else ProtocolWebSocketTransport
    async with httpx.AsyncClient(base_url=served.url) as client:
        transport = transport_type(client=client, thread_id="t-since")
        try:
            for since in (0, 1, last // 2, last - 1, last):
                handle = transport.open_event_stream({"channels": list(CHANNELS), "since": since})
                got: list[int] = []
                with anyio.fail_after(10):
                    await handle.ready
                    if since < last:
                        async for event in handle.events:
                            if event.get("type") == "event":
                                got.append(event["seq"])
                                if event["seq"] == last:
                                    break
                await handle.close()
                assert got == list(range(since + 1, last + 1))
        finally:
            await transport.close()


# -- the log and the filter ------------------------------------------------------------------------------

NAMESPACES = st.lists(st.sampled_from(["a", "a:1", "a:2", "b:1", "c"]), max_size=3)
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["values", "updates", "messages", "tools", "lifecycle", "input.requested", "custom", "tasks"]),
        NAMESPACES,
        st.sampled_from([{"name": "progress"}, {"name": "other"}, {"x": 1}, 3]),
    ),
    max_size=25,
)
SUBSCRIPTIONS = st.fixed_dictionaries(
    {"channels": st.lists(st.sampled_from([*CHANNELS, "custom:progress"]), min_size=1, max_size=4)},
    optional={"namespaces": st.lists(NAMESPACES, max_size=2), "depth": st.integers(0, 2)},
)


def _filled(events: list[tuple[str, list[str], Any]], max_events: int = 100) -> ThreadLog:
    log = ThreadLog("t", max_events=max_events)
    log.begin_run("r")
    for method, namespace, data in events:
        log.append("r", method, namespace, 0, data)
    return log


@given(events=EVENTS, subscription=SUBSCRIPTIONS)
def test_the_filter_agrees_with_langgraphs_client(events: list[tuple[str, list[str], Any]], subscription: Any) -> None:
    keep = ProtocolFilter.parse(subscription)
    for entry in _filled(events).after(0):
        assert keep(entry) == matches_subscription(entry.event, subscription)  # type: ignore[arg-type]


@given(events=EVENTS, subscription=SUBSCRIPTIONS, data=st.data())
async def test_following_the_log_after_a_seq_gives_every_later_match_once(
    events: list[tuple[str, list[str], Any]], subscription: Any, data: st.DataObject
) -> None:
    log = _filled(events)
    since = data.draw(st.integers(0, log.last_seq))
    keep = ProtocolFilter.parse(subscription)
    expected = [entry.seq for entry in log.after(0) if entry.seq > since and keep(entry)]
    got: list[int] = []
    follower = log.follow(since, keep)
    if expected:
        with anyio.fail_after(5):
            while len(got) < len(expected):
                got.extend(entry.seq for entry in await anext(follower))
    await follower.aclose()
    assert got == expected
    assert log.readers == 0


@given(events=EVENTS, subscription=SUBSCRIPTIONS, data=st.data())
async def test_a_follower_gets_what_is_appended_while_it_follows_once_and_in_order(
    events: list[tuple[str, list[str], Any]], subscription: Any, data: st.DataObject
) -> None:
    before = data.draw(st.integers(0, len(events)))
    log = _filled(events[:before])
    since = data.draw(st.integers(0, log.last_seq))
    keep = ProtocolFilter.parse(subscription)
    got: list[int] = []
    follower = log.follow(since, keep)

    async def read() -> None:
        async for batch in follower:
            got.extend(entry.seq for entry in batch)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            for method, namespace, payload in events[before:]:
                log.append("r", method, namespace, 0, payload)
                if data.draw(st.booleans()):
                    await anyio.lowlevel.checkpoint()  # the follower may or may not have caught up
            expected = [entry.seq for entry in log.after(since) if keep(entry)]
            while len(got) < len(expected):
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    assert got == expected
    assert log.readers == 0


async def test_the_log_refuses_a_replay_it_no_longer_retains() -> None:
    log = _filled([("values", [], {})] * 5, max_events=3)
    assert (log.first_seq, log.last_seq, len(log)) == (3, 5, 3)
    assert [e.seq for e in log.after(2)] == [3, 4, 5]
    with pytest.raises(ReplayUnavailableError):
        log.after(1)
    follower = log.follow(0, ProtocolFilter.parse({"channels": ["values"]}))
    with pytest.raises(ReplayUnavailableError):
        await anext(follower)
    with pytest.raises(InvalidArgumentError, match="newest event is seq 5"):
        await anext(log.follow(6, ProtocolFilter.parse({"channels": ["values"]})))
    with pytest.raises(InvalidArgumentError, match="max_events"):
        ThreadLog("t", max_events=0)
    frames = _frames(log, ProtocolFilter.parse({"channels": ["values"]}), 1)  # the SSE stream says so, and ends
    frame = json.loads((await anext(frames)).partition(b"data: ")[2])
    assert frame["type"] == "error" and frame["id"] is None and frame["error"] == "invalid_argument"
    assert "evicted" in frame["message"]
    with pytest.raises(StopAsyncIteration):
        await anext(frames)


async def test_a_long_replay_is_written_in_batches_that_let_other_tasks_run() -> None:
    log = _filled([("custom", [], {"i": i}) for i in range(1000)], max_events=1000)
    frames = _frames(log, ProtocolFilter.parse({"channels": ["custom"]}), 0)
    writes: list[bytes] = []
    async with Ticker() as ticker:
        while sum(write.count(b"event: message") for write in writes) < 1000:
            writes.append(await anext(frames))
            turns = ticker.count
    await frames.aclose()
    assert [write.count(b"event: message") for write in writes] == [WRITE_BATCH] * 15 + [1000 - 15 * WRITE_BATCH]
    assert turns >= len(writes) - 1  # the other task ran between two full writes
    assert writes[0].startswith(b"id: 1\nevent: message\ndata: {")


async def test_the_app_keeps_as_many_events_per_thread_as_asked() -> None:
    app = create_app({"chat": build_chat()}, protocol_events=5)
    assert app.state.protocol.log("t").max_events == 5
    bad: Any
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidArgumentError, match="protocol_events"):
            create_app({"chat": build_chat()}, protocol_events=bad)


def test_entries_carry_their_channel() -> None:
    log = _filled([("custom", ["a:1"], {"name": "progress"}), ("input.requested", [], {"interrupt_id": "i"})])
    entries: list[LogEntry] = log.after(0)
    assert [(e.channel, e.namespace, e.event["event_id"]) for e in entries] == [
        ("custom:progress", ("a:1",), "1"),
        ("input", (), "2"),
    ]
    assert json.loads(entries[0].payload) == entries[0].event
