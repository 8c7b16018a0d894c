"""Owners and limits over real HTTP (uvicorn on loopback): two principals each see, stream and cancel only
their own runs and threads; authorize hooks per action; 413 for a long body, 429 for a principal's live runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given, settings
from starlette.requests import Request

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.errors import InvalidArgumentError, TooManyRunsError
from streamflow.server import LocalRunSource, RunRegistry, create_app
from streamflow.server.auth import Auth, AuthContext, User
from streamflow.server.limits import DEFAULT_MAX_BODY, Limits, RunLimiter
from tests.server_support import Gate, read_stream, serve
from tests.strategies import owner_ops
from tests.test_server_http import QUESTION, build_graph

pytestmark = pytest.mark.anyio

TOKENS = {
    "alice-token": {"identity": "alice", "permissions": ["runs"]},
    "bob-token": {"identity": "bob", "permissions": ["runs", "admin"]},
}


def who(request: Request) -> dict[str, Any] | None:
    """The authenticate hook of these tests: a bearer token from :data:`TOKENS`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return TOKENS.get(token) if scheme == "Bearer" else None


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class Served:
    """An app with auth on loopback: a client per principal and one without credentials."""

    def __init__(self, url: str, registry: RunRegistry) -> None:
        self.registry = registry
        self.alice = httpx.AsyncClient(base_url=url, headers=bearer("alice-token"), timeout=10)
        self.bob = httpx.AsyncClient(base_url=url, headers=bearer("bob-token"), timeout=10)
        self.anonymous = httpx.AsyncClient(base_url=url, timeout=10)

    async def aclose(self) -> None:
        for client in (self.alice, self.bob, self.anonymous):
            await client.aclose()


@pytest.fixture
async def gate() -> Gate:
    return Gate()


@pytest.fixture
async def served(gate: Gate) -> AsyncIterator[Served]:
    async with serve_with(Auth(who), gate) as served:
        yield served


class serve_with:
    """``async with serve_with(auth, gate, limits=...) as served``: the demo graphs served with ``auth``."""

    def __init__(self, auth: Auth | None, gate: Gate, *, limits: Limits | None = None) -> None:
        self.registry = RunRegistry(
            {"demo": lambda: build_graph(), "gated": lambda: build_graph(gate)}, checkpointer=InMemorySaver()
        )
        self.app = create_app(self.registry, auth=auth, limits=limits)
        self._served: Served | None = None

    async def __aenter__(self) -> Served:
        self._serve = serve(self.app)
        url = await self._serve.__aenter__()
        self._served = Served(url, self.registry)
        return self._served

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._served is not None
        await self._served.aclose()
        await self.registry.aclose()
        await self._serve.__aexit__(*exc_info)


async def start(client: httpx.AsyncClient, graph: str = "demo") -> str:
    response = await client.post("/runs", json={"graph": graph, "input": QUESTION})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["status"] == response.status_code
    return response.status_code, body["error"]


# -- authentication ------------------------------------------------------------------------------------


async def test_every_route_but_the_page_needs_credentials(served: Served) -> None:
    for method, path in [
        ("GET", "/graphs"),
        ("GET", "/runs"),
        ("POST", "/runs"),
        ("GET", "/runs/r-1"),
        ("GET", "/runs/r-1/stream"),
        ("POST", "/runs/r-1/cancel"),
        ("POST", "/threads"),
        ("GET", "/threads/t-1"),
        ("POST", "/threads/t-1/runs"),
        ("GET", "/threads/t-1/state"),
        ("GET", "/threads/t-1/history"),
    ]:
        response = await served.anonymous.request(method, path)
        assert error_of(response) == (401, "NotAuthenticatedError"), (method, path)
    wrong = await served.anonymous.get("/runs", headers=bearer("nobody"))
    assert error_of(wrong) == (401, "NotAuthenticatedError")
    assert (await served.anonymous.get("/")).status_code == 200  # the page holds no data
    assert (await served.alice.get("/graphs")).json() == {"graphs": ["demo", "gated"]}


async def test_the_hook_may_raise_its_own_refusal_and_be_async() -> None:
    from streamflow.errors import NotAuthenticatedError

    async def strict(request: Request) -> User:
        if "authorization" not in request.headers:
            raise NotAuthenticatedError("send an Authorization header")
        return User("carol", permissions=["runs"])

    async with serve_with(Auth(strict), Gate()) as served:
        refused = await served.anonymous.get("/runs")
        assert refused.json()["message"] == "send an Authorization header"
        run_id = await start(served.bob)  # any header will do for this hook
        assert (await served.bob.get(f"/runs/{run_id}")).json()["owner"] == "carol"


# -- owners ------------------------------------------------------------------------------------------


async def test_each_principal_lists_reads_streams_and_cancels_only_its_own_runs(served: Served, gate: Gate) -> None:
    alices = [await start(served.alice, "gated"), await start(served.alice)]
    bobs = [await start(served.bob, "gated")]

    listed = {
        name: [r["run_id"] for r in (await client.get("/runs")).json()["runs"]]
        for name, client in (("alice", served.alice), ("bob", served.bob))
    }
    assert listed == {"alice": alices, "bob": bobs}
    assert {r["owner"] for r in (await served.alice.get("/runs")).json()["runs"]} == {"alice"}
    assert [i.owner for i in served.registry.list()] == ["alice", "alice", "bob"]

    never = await served.bob.get("/runs/no-such-run")
    assert error_of(never) == (404, "UnknownRunError")
    for run_id in alices:
        for method, path in [("GET", ""), ("GET", "/stream"), ("POST", "/cancel")]:
            response = await served.bob.request(method, f"/runs/{run_id}{path}")
            assert error_of(response) == (404, "UnknownRunError"), path
            # the same answer as for an id that never existed: nothing says the run is there
            assert response.json()["message"] == never.json()["message"].replace("no-such-run", run_id)
    assert served.registry.get(alices[0]).status == "running"  # bob's cancel did not reach it

    own = await served.alice.get(f"/runs/{alices[1]}/stream", params={"stream_mode": "values"})
    assert own.status_code == 200
    messages = await read_stream(served.alice, f"/runs/{alices[1]}/stream")
    assert messages[-1].event == "end"

    cancelled = await served.bob.post(f"/runs/{bobs[0]}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    gate.open()
    assert (await served.alice.post(f"/runs/{alices[0]}/cancel")).json()["owner"] == "alice"


async def test_a_run_started_without_a_principal_is_nobodys_over_http(served: Served) -> None:
    run = served.registry.start("demo", QUESTION)
    await run.wait()
    assert (await served.alice.get("/runs")).json() == {"runs": []}
    assert (await served.alice.get(f"/runs/{run.run_id}")).status_code == 404


async def test_authorize_hooks_per_action_see_the_user_and_the_value(gate: Gate) -> None:
    seen: list[tuple[str, str, str, dict[str, Any]]] = []
    auth = Auth(who)

    @auth.on
    def record(ctx: AuthContext, value: dict[str, Any]) -> None:
        seen.append((ctx.user.identity, ctx.resource, ctx.action, value))

    @auth.on("cancel")
    async def admins_cancel(ctx: AuthContext, value: dict[str, Any]) -> bool:
        seen.append((ctx.user.identity, ctx.resource, ctx.action, value))
        return "admin" in ctx.permissions

    async with serve_with(auth, gate) as served:
        run_id = await start(served.alice, "gated")
        await served.alice.get("/runs", params={"status": "running"})
        await served.alice.get(f"/runs/{run_id}")
        refused = await served.alice.post(f"/runs/{run_id}/cancel")
        assert error_of(refused) == (403, "NotAuthorizedError")
        assert refused.json()["message"] == "'alice' may not cancel runs here"
        assert served.registry.get(run_id).status == "running"
        await served.bob.get(f"/runs/{run_id}")  # not bob's: no hook runs for it
        bobs = await start(served.bob, "gated")
        assert (await served.bob.post(f"/runs/{bobs}/cancel")).status_code == 200
        gate.open()
        await served.registry.get(run_id).wait()

    assert seen == [
        ("alice", "runs", "create", {"graph": "gated", "input": QUESTION, "config": None}),
        ("alice", "runs", "list", {"status": ["running"]}),
        ("alice", "runs", "read", {"run_id": run_id}),
        ("alice", "runs", "cancel", {"run_id": run_id}),
        ("bob", "runs", "create", {"graph": "gated", "input": QUESTION, "config": None}),
        ("bob", "runs", "cancel", {"run_id": bobs}),
    ]


async def test_a_refused_create_starts_nothing(gate: Gate) -> None:
    auth = Auth(who, on={"create": lambda ctx, value: value["graph"] != "gated"})
    async with serve_with(auth, gate) as served:
        refused = await served.alice.post("/runs", json={"graph": "gated", "input": QUESTION})
        assert error_of(refused) == (403, "NotAuthorizedError")
        assert served.registry.list() == []
        await start(served.alice)


async def test_threads_are_their_creators_own(served: Served) -> None:
    created = await served.alice.post("/threads", json={"thread_id": "t-alice", "metadata": {"topic": "x"}})
    assert created.status_code == 201
    run = await served.alice.post("/threads/t-alice/runs", json={"graph": "demo", "input": QUESTION})
    assert run.status_code == 201, run.text
    run_id = run.json()["run_id"]
    await read_stream(served.alice, f"/runs/{run_id}/stream")
    assert (await served.alice.get("/threads/t-alice/state")).status_code == 200

    never = await served.bob.get("/threads/no-such-thread")
    assert error_of(never) == (404, "UnknownThreadError")
    for method, path in [
        ("GET", ""),
        ("GET", "/state"),
        ("GET", "/history"),
        ("POST", "/runs"),
    ]:
        body = {"graph": "demo", "input": QUESTION} if method == "POST" else None
        response = await served.bob.request(method, f"/threads/t-alice{path}", json=body)
        assert error_of(response) == (404, "UnknownThreadError"), path
        assert response.json()["message"] == never.json()["message"].replace("no-such-thread", "t-alice")
    taken = await served.bob.post("/threads", json={"thread_id": "t-alice"})
    assert error_of(taken) == (409, "ThreadConflictError")
    assert (await served.bob.get(f"/runs/{run_id}")).status_code == 404

    # the owner reaches the checkpoints, so a later process knows whose the thread is
    saver = served.registry.checkpointer
    assert saver is not None
    saved = await saver.aget_tuple({"configurable": {"thread_id": "t-alice", "checkpoint_ns": ""}})
    assert saved is not None and dict(saved.metadata)["owner"] == "alice"


async def test_a_plain_run_naming_a_thread_needs_the_thread_to_be_ones_own(served: Served) -> None:
    await served.bob.post("/threads", json={"thread_id": "t-bob"})
    await served.alice.post("/threads", json={"thread_id": "t-alice"})
    for thread in ("t-bob", "t-nobody"):
        body = {"graph": "demo", "input": QUESTION, "config": {"configurable": {"thread_id": thread}}}
        response = await served.alice.post("/runs", json=body)
        assert error_of(response) == (404, "UnknownThreadError"), thread
    body = {"graph": "demo", "input": QUESTION, "config": {"configurable": {"thread_id": "t-alice"}}}
    run_id = (await served.alice.post("/runs", json=body)).json()["run_id"]
    await read_stream(served.alice, f"/runs/{run_id}/stream")
    saver = served.registry.checkpointer
    assert saver is not None
    saved = await saver.aget_tuple({"configurable": {"thread_id": "t-alice", "checkpoint_ns": ""}})
    assert saved is not None and dict(saved.metadata)["owner"] == "alice"
    assert served.registry.list(owner="bob") == []


async def test_a_thread_of_an_earlier_process_stays_its_owners(gate: Gate) -> None:
    async with serve_with(Auth(who), gate) as first:
        assert (await first.alice.post("/threads", json={"thread_id": "kept"})).status_code == 201
        run = await first.alice.post("/threads/kept/runs", json={"graph": "demo", "input": QUESTION})
        await read_stream(first.alice, f"/runs/{run.json()['run_id']}/stream")
        saver = first.registry.checkpointer
    later = serve_with(Auth(who), gate)
    later.registry.checkpointer = saver  # the same saver, a new app: it meets the thread in the saver
    async with later as second:
        assert (await second.bob.post("/threads", json={"thread_id": "kept"})).status_code == 409
        assert (await second.bob.get("/threads/kept")).status_code == 404
        assert (await second.alice.get("/threads/kept")).status_code == 200


async def test_resuming_a_thread_is_its_own_action() -> None:
    from tests.test_server_threads import build_approval

    seen: list[tuple[str, str, dict[str, Any]]] = []

    def only_bob_resumes(ctx: AuthContext, value: dict[str, Any]) -> bool:
        seen.append((ctx.user.identity, ctx.resource, value))
        return ctx.user.identity == "bob"

    app = create_app({"approval": build_approval()}, auth=Auth(who, on={"resume": only_bob_resumes}))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=bearer("bob-token")) as bob:
        alice = httpx.AsyncClient(base_url=url, headers=bearer("alice-token"))
        async with alice:
            for client, thread in ((alice, "ask-a"), (bob, "ask-b")):
                await client.post("/threads", json={"thread_id": thread})
                started = (await client.post(f"/threads/{thread}/runs", json={"input": {"request": "rm"}})).json()
                await read_stream(client, started["stream_url"])
            resume = {"command": {"resume": "yes"}}
            refused = await alice.post("/threads/ask-a/runs", json=resume)
            assert error_of(refused) == (403, "NotAuthorizedError")
            assert error_of(await bob.post("/threads/ask-a/runs", json=resume)) == (404, "UnknownThreadError")
            resumed = await bob.post("/threads/ask-b/runs", json=resume)
            assert resumed.status_code == 201, resumed.text
            await read_stream(bob, resumed.json()["stream_url"])
            assert (await bob.get("/threads/ask-b/state")).json()["values"]["answer"] == "rm: yes"
    value = {"graph": None, "command": {"resume": "yes"}, "config": None}
    assert seen == [
        ("alice", "runs", {"thread_id": "ask-a", **value}),
        ("bob", "runs", {"thread_id": "ask-b", **value}),
    ]


# -- limits ------------------------------------------------------------------------------------------


async def test_a_body_over_the_maximum_is_refused_before_it_is_read(gate: Gate) -> None:
    async with serve_with(None, gate, limits=Limits(max_body=2_000)) as served:
        big = {"graph": "demo", "input": {"messages": [{"role": "user", "content": "x" * 5_000}]}}
        response = await served.anonymous.post("/runs", json=big)
        assert error_of(response) == (413, "RequestTooLargeError")
        assert "2000 bytes" in response.json()["message"]

        async def chunked() -> AsyncIterable[bytes]:  # no Content-Length: counted as it is read
            yield b'{"graph": "demo", "input": {"messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"x" * 500
            yield b'"}]}}'

        streamed = await served.anonymous.post("/runs", content=chunked(), headers={"content-type": "application/json"})
        assert error_of(streamed) == (413, "RequestTooLargeError")
        assert served.registry.list() == []
        assert (await served.anonymous.post("/runs", json={"graph": "demo", "input": QUESTION})).status_code == 201


async def test_the_default_body_limit_applies_without_auth() -> None:
    async with serve_with(None, Gate()) as served:
        response = await served.anonymous.post(
            "/runs", content=b"x" * (DEFAULT_MAX_BODY + 1), headers={"content-type": "application/json"}
        )
        assert error_of(response) == (413, "RequestTooLargeError")


async def test_a_principal_at_its_live_run_maximum_gets_429_and_others_still_start(gate: Gate) -> None:
    async with serve_with(Auth(who), gate, limits=Limits(max_live_runs=2, retry_after=7)) as served:
        first = await start(served.alice, "gated")
        await served.alice.post("/threads", json={"thread_id": "t"})
        on_thread = await served.alice.post("/threads/t/runs", json={"graph": "gated", "input": QUESTION})
        assert on_thread.status_code == 201  # a run on a thread counts too
        refused = await served.alice.post("/runs", json={"graph": "demo", "input": QUESTION})
        assert error_of(refused) == (429, "TooManyRunsError")
        assert refused.headers["retry-after"] == "7"
        assert "maximum per principal is 2" in refused.json()["message"]
        assert error_of(await served.alice.post("/threads/t/runs", json={"input": QUESTION}))[0] in (409, 429)
        await start(served.bob, "gated")  # bob is not held back by alice's runs
        await served.alice.post(f"/runs/{first}/cancel")
        await start(served.alice)  # one ended: room again
        gate.open()


async def test_concurrent_starts_of_one_principal_never_pass_its_maximum(gate: Gate) -> None:
    async with serve_with(Auth(who), gate, limits=Limits(max_live_runs=3)) as served:
        codes: list[int] = []

        async def one() -> None:
            response = await served.alice.post("/runs", json={"graph": "gated", "input": QUESTION})
            codes.append(response.status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)
        assert sorted(codes) == [201] * 3 + [429] * 17
        assert served.registry.live_runs("alice") == 3
        gate.open()


async def test_without_auth_runs_have_no_owner_and_no_principal_limit(gate: Gate) -> None:
    async with serve_with(None, gate, limits=Limits(max_live_runs=1)) as served:
        for _ in range(3):
            body = (await served.anonymous.post("/runs", json={"graph": "gated", "input": QUESTION})).json()
            assert "owner" not in body
        assert len((await served.anonymous.get("/runs")).json()["runs"]) == 3
        gate.open()


@settings(max_examples=40, deadline=None)
@given(ops=owner_ops)
def test_owners_live_counts_and_listings_follow_a_model(ops: list[tuple[str, Any]]) -> None:
    """Against a plain model of who started what: a start is refused exactly when its owner has
    ``max_live_runs`` runs going, and each owner's listing and live count are its own runs."""

    async def main() -> None:
        gate = Gate()
        registry = RunRegistry({"gated": lambda: build_graph(gate)})
        source = LocalRunSource(registry)
        limiter = RunLimiter(2, 1)
        started: list[tuple[str, str]] = []  # (owner, run_id), in order
        live: set[str] = set()
        async with registry:
            for op, arg in ops:
                if op == "start":
                    going = sum(1 for owner, run_id in started if owner == arg and run_id in live)
                    try:
                        async with limiter.admit(source, arg):
                            info = await source.start("gated", QUESTION, None, owner=arg)
                    except TooManyRunsError:
                        assert going == 2
                    else:
                        assert going < 2
                        started.append((arg, info.run_id))
                        live.add(info.run_id)
                elif started:
                    _, run_id = started[arg % len(started)]
                    await source.cancel(run_id)
                    live.discard(run_id)
                for owner in ("alice", "bob", "carol"):
                    mine = [run_id for who, run_id in started if who == owner]
                    assert [i.run_id for i in await source.list(owner=owner)] == mine
                    assert await source.live_runs(owner) == len(set(mine) & live)

    asyncio.run(main())


# -- the API's own checks --------------------------------------------------------------------------


def test_bad_auth_and_limits_are_refused_where_they_are_given() -> None:
    with pytest.raises(InvalidArgumentError, match="no authenticate hook"):
        create_app({"demo": build_graph}, auth=Auth())
    with pytest.raises(InvalidArgumentError, match=r"must be a streamflow\.server\.auth\.Auth"):
        create_app({"demo": build_graph}, auth=who)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="unknown auth actions \\['delete'\\]"):
        Auth(who).on("delete")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="unknown auth actions"):
        Auth(who, on={"update": lambda ctx, value: True})
    with pytest.raises(InvalidArgumentError, match="max_body must be a positive number of bytes"):
        Limits(max_body=0)
    with pytest.raises(InvalidArgumentError, match="max_live_runs must be a positive number of runs"):
        Limits(max_live_runs=True)
    with pytest.raises(InvalidArgumentError, match="retry_after"):
        Limits(retry_after=-1)
    with pytest.raises(InvalidArgumentError, match=r"must be a streamflow\.server\.limits\.Limits"):
        create_app({"demo": build_graph}, limits={"max_body": 10})  # type: ignore[arg-type]


def test_users_come_from_what_an_authenticate_hook_may_return() -> None:
    assert User.from_value("alice") == User("alice", "alice", (), True)
    assert User.from_value({"identity": "bob", "permissions": ["a"], "display_name": "Bob"}) == User(
        "bob", "Bob", ("a",)
    )
    for bad, match in [
        ({"permissions": []}, "needs an 'identity'"),
        ({"identity": "x", "role": "y"}, "unknown user keys \\['role'\\]"),
        ({"identity": ""}, "non-empty string"),
        ({"identity": "x", "permissions": "admin"}, "list of strings"),
        (42, "must return a User"),
    ]:
        with pytest.raises(InvalidArgumentError, match=match):
            User.from_value(bad)  # type: ignore[arg-type]
