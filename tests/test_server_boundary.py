"""The app's boundary over real HTTP (uvicorn on loopback): one test per defect a fuzzer found, the browser
rules (content type, cross-origin writes, trusted hosts, CORS, security headers) and what errors reveal.

Every refusal is a JSON answer ``{"status", "error", "message"}`` (a bad ``Host`` excepted: Starlette's plain
``Invalid host header``) and stores nothing: after it ``GET /runs`` lists no run.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import httpx
import pytest
import structlog
from structlog.testing import LogCapture

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.errors import InvalidArgumentError
from streamflow.graph import END, START, StateGraph
from streamflow.server import RunRegistry, create_app
from streamflow.server.boundary import DEFAULT_MAX_JSON_DEPTH, MAX_ID_LENGTH, Boundary, page_csp, parse_json
from streamflow.server.errors import HIDDEN, ErrorPolicy
from tests.server_support import Gate, read_stream, serve

pytestmark = pytest.mark.anyio

SECRET = "postgresql://app:hunter2@db.internal:5432/prod"
JSON = {"content-type": "application/json"}


class Box(TypedDict, total=False):
    text: Any


def echo_graph() -> Any:
    """Copies ``text`` to the output, as given."""
    return StateGraph(Box).add_node("echo", lambda state: {"text": state.get("text")}).add_edge(START, "echo").compile()


def gated_graph(gate: Gate) -> Any:
    async def wait(state: Box) -> Box:
        await gate.wait()
        return {"text": "opened"}

    return StateGraph(Box).add_node("wait", wait).add_edge(START, "wait").add_edge("wait", END).compile()


def leaking_graph() -> Any:
    def connect(state: Box) -> Box:
        raise ConnectionError(f"could not connect to {SECRET}")

    return StateGraph(Box).add_node("connect", connect).add_edge(START, "connect").compile()


def made_graph(value: Any) -> Any:
    """Writes ``value`` (which no client could send) to the state."""
    return StateGraph(Box).add_node("make", lambda state: {"text": value}).add_edge(START, "make").compile()


def strict(text: str) -> Any:
    """Parse JSON as a browser's ``JSON.parse`` does: no NaN or Infinity."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
async def app_url(gate: Gate) -> AsyncIterator[tuple[httpx.AsyncClient, RunRegistry, str]]:
    registry = RunRegistry(
        {
            "echo": echo_graph,
            "gated": lambda: gated_graph(gate),
            "leaking": leaking_graph,
            "nan": lambda: made_graph({"ratio": math.nan, "big": math.inf, "small": -math.inf}),
            "surrogate": lambda: made_graph("half a pair: \ud83d, whole: \U0001f600"),
        },
        checkpointer=InMemorySaver(),
    )
    async with registry, serve(create_app(registry)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client, registry, url


@pytest.fixture
def http(app_url: tuple[httpx.AsyncClient, RunRegistry, str]) -> httpx.AsyncClient:
    return app_url[0]


@pytest.fixture
async def gate() -> Gate:
    return Gate()


async def assert_refused(response: httpx.Response, status: int, error: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = strict(response.text)
    assert body["status"] == status and body["error"] == error, body
    assert all(word in body["message"] for word in words), body
    assert "Traceback" not in response.text
    return body


async def assert_nothing_stored(http: httpx.AsyncClient) -> None:
    listing = await http.get("/runs")
    assert listing.status_code == 200 and strict(listing.text) == {"runs": []}


def post_raw(http: httpx.AsyncClient, path: str, text: str) -> Any:
    return http.post(path, content=text.encode("utf-8", "surrogatepass"), headers=JSON)


# -- the fuzzer's defects ------------------------------------------------------------------------------


async def test_a_lone_surrogate_run_id_is_refused_and_the_listing_stays_readable(http: httpx.AsyncClient) -> None:
    escaped = '{"graph": "echo", "input": {}, "config": {"run_id": "run-\\ud800"}}'
    await assert_refused(await post_raw(http, "/runs", escaped), 400, "InvalidJSON", "the body['config']['run_id']")
    raw = '{"graph": "echo", "input": {}, "config": {"run_id": "run-\ud800"}}'  # the UTF-8 bytes of a surrogate
    await assert_refused(await post_raw(http, "/runs", raw), 400, "InvalidJSON")
    await assert_nothing_stored(http)


async def test_a_lone_surrogate_in_an_input_is_refused_with_nothing_stored(http: httpx.AsyncClient) -> None:
    body = '{"graph": "echo", "input": {"text": "a\\udc00b"}}'
    await assert_refused(
        await post_raw(http, "/runs", body), 400, "InvalidJSON", "the body['input']['text']", "\\udc00"
    )
    key = '{"graph": "echo", "input": {"\\ud800": 1}}'
    await assert_refused(await post_raw(http, "/runs", key), 400, "InvalidJSON", "a key of the body['input']")
    await assert_refused(await post_raw(http, "/threads", '{"metadata": {"m": "\\ud800"}}'), 400, "InvalidJSON")
    await assert_nothing_stored(http)
    pair = await http.post("/runs", json={"graph": "echo", "input": {"text": "\U0001f600 é"}})  # a real pair is fine
    assert pair.status_code == 201


async def test_a_surrogate_a_graph_makes_is_streamed_as_an_escape_and_the_stream_ends(http: httpx.AsyncClient) -> None:
    run_id = (await http.post("/runs", json={"graph": "surrogate", "input": {}})).json()["run_id"]
    messages = await read_stream(http, f"/runs/{run_id}/stream", params={"stream_mode": "values"})
    assert [m.event for m in messages][-1] == "end"
    assert messages[-1].data["output"] == {"text": "half a pair: \ud83d, whole: \U0001f600"}
    info = await http.get(f"/runs/{run_id}")
    assert info.status_code == 200 and "\\ud83d" in info.text and info.json()["output"]["text"].startswith("half")


@pytest.mark.parametrize("depth", [DEFAULT_MAX_JSON_DEPTH + 1, 970, 100_000])
async def test_json_nested_too_deeply_is_a_400_json_answer(http: httpx.AsyncClient, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    body = await assert_refused(
        await post_raw(http, "/runs", f'{{"graph": "echo", "input": {{"text": {nested}}}}}'), 400, "InvalidJSON"
    )
    assert f"deeper than {DEFAULT_MAX_JSON_DEPTH} levels" in body["message"]
    await assert_nothing_stored(http)


async def test_json_nested_to_the_limit_is_taken(http: httpx.AsyncClient) -> None:
    inner = DEFAULT_MAX_JSON_DEPTH - 2  # the body object and its input object are two levels
    nested = "[" * inner + "]" * inner
    response = await post_raw(http, "/runs", f'{{"graph": "echo", "input": {{"text": {nested}}}}}')
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
async def test_nan_and_infinity_are_refused(http: httpx.AsyncClient, number: str) -> None:
    body = f'{{"graph": "echo", "input": {{"text": {number}}}}}'
    await assert_refused(await post_raw(http, "/runs", body), 400, "InvalidJSON", number)
    await assert_nothing_stored(http)


async def test_nan_a_graph_makes_is_sent_as_valid_json(http: httpx.AsyncClient) -> None:
    run_id = (await http.post("/runs", json={"graph": "nan", "input": {}})).json()["run_id"]
    async with http.stream("GET", f"/runs/{run_id}/stream", params={"stream_mode": "values"}) as response:
        lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    parsed = [strict(line.removeprefix("data: ")) for line in lines]  # what the page's JSON.parse can read
    assert parsed[-1]["output"] == {"text": {"ratio": "NaN", "big": "Infinity", "small": "-Infinity"}}
    assert strict((await http.get(f"/runs/{run_id}")).text)["output"]["text"]["ratio"] == "NaN"


@pytest.mark.parametrize(
    ("run_id", "shown"),
    [
        ("x" * 200_000, "200002 characters"),
        ("a" * (MAX_ID_LENGTH + 1), "characters"),
        ("runs/1", "'runs/1'"),
        ("../cancel", "'../cancel'"),
        ("has space", "'has space'"),
        ("é", "'é'"),
        (".hidden", "'.hidden'"),
        (42, "42"),
        ({"id": 1}, "{'id': 1}"),
        (["r"], "['r']"),
        (True, "True"),
    ],
)
async def test_a_run_id_must_be_a_short_url_safe_string(http: httpx.AsyncClient, run_id: Any, shown: str) -> None:
    response = await http.post("/runs", json={"graph": "echo", "input": {}, "config": {"run_id": run_id}})
    body = await assert_refused(response, 422, "InvalidBody", "config['run_id']", shown)
    assert len(body["message"]) < 400
    await assert_nothing_stored(http)


async def test_a_run_id_within_the_rule_is_reachable_by_url(http: httpx.AsyncClient) -> None:
    run_id = "Run_1.v2~a:b-" + "z" * (MAX_ID_LENGTH - 13)
    assert len(run_id) == MAX_ID_LENGTH
    started = await http.post("/runs", json={"graph": "echo", "input": {}, "config": {"run_id": run_id}})
    assert started.status_code == 201 and started.json()["run_id"] == run_id
    assert (await http.get(f"/runs/{run_id}")).json()["run_id"] == run_id
    assert (await http.post(f"/runs/{run_id}/cancel")).status_code == 200


async def test_thread_ids_follow_the_same_rule(http: httpx.AsyncClient) -> None:
    await assert_refused(await http.post("/threads", json={"thread_id": "a/b"}), 422, "InvalidBody", "'thread_id'")
    config = {"configurable": {"thread_id": "t\u00a01"}}
    await assert_refused(
        await http.post("/runs", json={"graph": "echo", "input": {}, "config": config}),
        422,
        "InvalidBody",
        "config['configurable']['thread_id']",
    )
    assert (await http.post("/threads", json={"thread_id": "t-1"})).status_code == 201


async def test_redis_unreachable_is_a_503_json_answer() -> None:
    pytest.importorskip("redis")
    from streamflow.server import RedisRunSource

    source = RedisRunSource("redis://127.0.0.1:1/0", ["echo"])  # nothing listens on port 1
    async with source, serve(create_app(source)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        for response in (
            await http.post("/runs", json={"graph": "echo", "input": {}}),
            await http.get("/runs"),
            await http.get("/runs/r-1"),
            await http.post("/runs/r-1/cancel"),
        ):
            body = await assert_refused(response, 503, "ServiceUnavailable", "unreachable")
            assert response.headers["retry-after"] == "1"
            assert "127.0.0.1:1" not in body["message"]  # the store's address is the server's to know


# -- the browser boundary ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
async def test_a_body_that_is_not_json_is_refused(http: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    for path in ("/runs", "/threads", "/threads/t-1/runs"):
        response = await http.post(path, content=b'{"graph": "echo", "input": {}}', headers=headers)
        await assert_refused(response, 415, "UnsupportedMediaType", "application/json")
    await assert_nothing_stored(http)


async def test_json_media_types_are_taken(http: httpx.AsyncClient) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "application/vnd.run+json"):
        response = await http.post(
            "/runs", content=b'{"graph": "echo", "input": {}}', headers={"content-type": content_type}
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
        {"origin": "http://127.0.0.1:1", "sec-fetch-site": "same-site"},  # another port is another origin
        {"origin": "http://evil.example"},  # a browser that sends no Sec-Fetch-Site
        {"origin": "null"},  # a sandboxed frame or a file:// page
    ],
)
async def test_a_cross_origin_cancel_or_start_is_refused(
    app_url: tuple[httpx.AsyncClient, RunRegistry, str], gate: Gate, headers: dict[str, str]
) -> None:
    http, registry, _ = app_url
    run_id = (await http.post("/runs", json={"graph": "gated", "input": {}})).json()["run_id"]
    await assert_refused(await http.post(f"/runs/{run_id}/cancel", headers=headers), 403, "CrossOriginRequest")
    await assert_refused(
        await http.post("/runs", json={"graph": "echo", "input": {}}, headers=headers), 403, "CrossOriginRequest"
    )
    assert [(info.run_id, info.status) for info in registry.list()] == [(run_id, "running")]
    gate.open()


async def test_same_origin_and_non_browser_writes_pass(
    app_url: tuple[httpx.AsyncClient, RunRegistry, str], gate: Gate
) -> None:
    http, _, url = app_url
    host = url.removeprefix("http://")
    for headers in (
        {"origin": url, "sec-fetch-site": "same-origin"},
        {"origin": url},
        {"sec-fetch-site": "none"},  # typed in the address bar, a bookmark
        {},
    ):
        run_id = (await http.post("/runs", json={"graph": "gated", "input": {}}, headers=headers)).json()["run_id"]
        cancelled = await http.post(f"/runs/{run_id}/cancel", headers={**headers, "host": host})
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_cors_is_off_by_default(http: httpx.AsyncClient) -> None:
    preflight = await http.options(
        "/runs", headers={"origin": "http://other.example", "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers
    listing = await http.get("/runs", headers={"origin": "http://other.example"})
    assert listing.status_code == 200 and "access-control-allow-origin" not in listing.headers


async def test_cors_when_configured_allows_its_origins_to_read_and_write() -> None:
    origin = "https://app.example"
    cors = {"allow_origins": [origin], "allow_methods": ["GET", "POST"], "allow_headers": ["content-type"]}
    app = create_app({"echo": echo_graph}, boundary=Boundary(cors=cors))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        preflight = await http.options(
            "/runs",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
        started = await http.post(
            "/runs", json={"graph": "echo", "input": {}}, headers={"origin": origin, "sec-fetch-site": "cross-site"}
        )
        assert started.status_code == 201 and started.headers["access-control-allow-origin"] == origin
        other = {"origin": "https://other.example", "sec-fetch-site": "cross-site"}
        refused = await http.post("/runs", json={"graph": "echo", "input": {}}, headers=other)
        await assert_refused(refused, 403, "CrossOriginRequest")


async def test_an_untrusted_host_is_refused(http: httpx.AsyncClient) -> None:
    for host in ("evil.example", "attacker.example:8000", "127.0.0.1.nip.io"):
        response = await http.get("/runs", headers={"host": host})
        assert response.status_code == 400 and response.text == "Invalid host header"
        refused = await http.post("/runs", json={"graph": "echo", "input": {}}, headers={"host": host})
        assert refused.status_code == 400
    await assert_nothing_stored(http)
    for host in ("127.0.0.1", "localhost:8000", "[::1]:80"):
        assert (await http.get("/graphs", headers={"host": host})).status_code == 200


async def test_allowed_hosts_are_configurable() -> None:
    app = create_app({"echo": echo_graph}, boundary=Boundary(allowed_hosts=["api.example", "*.internal.example"]))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        assert (await http.get("/graphs")).status_code == 400  # 127.0.0.1 is no longer listed
        for host in ("api.example", "a.internal.example"):
            assert (await http.get("/graphs", headers={"host": host})).status_code == 200
    anywhere = create_app({"echo": echo_graph}, boundary=Boundary(allowed_hosts=["*"]))
    async with serve(anywhere) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        assert (await http.get("/graphs", headers={"host": "whatever.example"})).status_code == 200


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"allowed_hosts": []}, "non-empty"),
        ({"allowed_hosts": ["a.*.example"]}, "wildcards"),
        ({"allowed_hosts": ["*example.com"]}, "wildcards"),
        ({"cors": {"allow_origin": ["x"]}}, "'allow_origin'"),
        ({"cors": ["x"]}, "mapping"),
        ({"cors": {"allow_origins": "https://app.example"}}, "list of origins"),
        ({"cors": {"allow_origin_regex": "(unclosed"}}, "not a regular expression"),
        ({"max_json_depth": 0}, "positive int"),
        ({"max_json_depth": True}, "positive int"),
    ],
)
def test_bad_boundary_settings_are_refused(options: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidArgumentError, match=words):
        Boundary(**options)


def test_create_app_checks_the_types_of_boundary_and_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="boundary must be a Boundary"):
        create_app({"echo": echo_graph}, boundary={"allowed_hosts": ["*"]})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="errors an ErrorPolicy"):
        create_app({"echo": echo_graph}, errors=["*"])  # type: ignore[arg-type]


async def test_security_headers_on_the_page_and_the_api(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    api = await http.get("/graphs")
    error = await http.get("/runs/nope")
    for response in (page, api, error):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    csp = page.headers["content-security-policy"]
    assert csp == page_csp(page.text) and "'sha256-" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self'" in csp and api.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_page_csp_hashes_each_inline_block() -> None:
    csp = page_csp("<style>b{}</style><script>go()</script><script>more()</script>")
    assert csp.count("'sha256-") == 3 and "script-src 'sha256-" in csp


def test_parse_json_names_what_is_wrong() -> None:
    assert parse_json(b'{"a": [1, 2.5, "\\ud83d\\ude00"]}') == {"a": [1, 2.5, "\U0001f600"]}
    for raw, words in (
        (b"\xff", "not valid JSON"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": "\\ud800"}', "the body['a']"),
        (b"[[[1]]]", "deeper than 2"),
    ):
        with pytest.raises(InvalidArgumentError, match=words.replace("[", r"\[")):
            parse_json(raw, max_depth=2)


# -- what errors reveal --------------------------------------------------------------------------------


@pytest.fixture
def logs() -> Any:
    old = structlog.get_config()
    capture = LogCapture()
    structlog.configure(processors=[capture])
    try:
        yield capture
    finally:
        structlog.configure(**old)


async def test_a_node_error_message_reaches_no_viewer_and_the_log_has_it(http: httpx.AsyncClient, logs: Any) -> None:
    created = await http.post("/threads", json={"thread_id": "leak"})
    assert created.status_code == 201
    started = await http.post("/threads/leak/runs", json={"graph": "leaking", "input": {}})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    modes = ["values", "updates", "tasks", "debug", "custom", "messages"]
    messages = await read_stream(http, f"/runs/{run_id}/stream", params={"stream_mode": modes})
    seen = [json.dumps(m.data) for m in messages] + [
        (await http.get(f"/runs/{run_id}")).text,
        (await http.get("/threads/leak/state")).text,
    ]
    seen.append((await http.get("/threads/leak/history")).text)
    assert all("hunter2" not in text and "db.internal" not in text for text in seen)
    assert messages[-1].data["error_type"] == "builtins.ConnectionError"
    assert messages[-1].data["error_message"] == HIDDEN
    failed_tasks = [m.data["data"] for m in messages if m.event == "tasks" and "error" in m.data["data"]]
    assert failed_tasks and all(HIDDEN in task["error"] for task in failed_tasks)
    assert (await http.get(f"/runs/{run_id}")).json()["error"] == {"type": "ConnectionError", "message": HIDDEN}
    (failure,) = [e for e in logs.entries if e["event"] == "run_failed"]
    assert failure["run_id"] == run_id and SECRET in str(failure["exc_info"])


async def test_an_app_chooses_the_errors_it_exposes() -> None:
    for policy, shown in (
        (ErrorPolicy(expose=["builtins.ConnectionError"]), True),
        (ErrorPolicy(expose=[ConnectionError]), True),
        (ErrorPolicy(expose=["builtins.*"]), True),
        (ErrorPolicy(expose=["*"]), True),
        (ErrorPolicy(expose=[OSError]), False),  # an exact type, not a base class
        (ErrorPolicy(expose=[]), False),
    ):
        app = create_app({"leaking": leaking_graph}, errors=policy)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            run_id = (await http.post("/runs", json={"graph": "leaking", "input": {}})).json()["run_id"]
            last = (await read_stream(http, f"/runs/{run_id}/stream"))[-1]
            assert (SECRET in last.data["error_message"]) is shown, (policy, last)
            assert (SECRET in (await http.get(f"/runs/{run_id}")).json()["error"]["message"]) is shown


def test_streamflow_errors_are_exposed_by_default_and_bad_entries_refused() -> None:
    policy = ErrorPolicy()
    assert policy.exposes("streamflow.errors.GraphRecursionError")
    assert not policy.exposes("builtins.ValueError") and not policy.exposes("streamflowx.errors.E")
    assert policy.task_error("GraphRecursionError('limit 25')") == "GraphRecursionError('limit 25')"
    assert policy.task_error(f"ValueError({SECRET!r})") == f"ValueError({HIDDEN!r})"
    assert policy.task_error(None) is None
    for bad in (3, "", " ", int):
        with pytest.raises(InvalidArgumentError, match="exception classes or qualified names"):
            ErrorPolicy(expose=[bad])  # type: ignore[list-item]


async def test_an_unexpected_failure_is_a_500_json_answer_without_detail(logs: Any) -> None:
    class BrokenRegistry(RunRegistry):
        def list(self, **kwargs: Any) -> Any:
            raise RuntimeError(f"lost {SECRET}")

    registry = BrokenRegistry({"echo": echo_graph})
    async with registry, serve(create_app(registry)) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.get("/runs")
    body = await assert_refused(response, 500, "RuntimeError", HIDDEN)
    assert SECRET not in response.text and body["message"] == HIDDEN
    (failure,) = [e for e in logs.entries if e["event"] == "request_failed"]
    assert failure["path"] == "/runs" and SECRET in str(failure["exc_info"])
