"""Owners and limits for runs executing in worker processes: a web app with auth serving a
:class:`~streamflow.server.RedisRunSource`, a real worker subprocess, two principals over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis.asyncio

from streamflow.server import RedisRunSource, create_app
from streamflow.server.auth import Auth
from streamflow.server.limits import Limits
from tests.server_support import read_stream, serve
from tests.test_server_auth import bearer, error_of, who

from .test_served_from_worker import INPUTS, Worker
from .worker_peer import graphs

pytestmark = pytest.mark.anyio


class Principals:
    def __init__(self, url: str, source: RedisRunSource) -> None:
        self.source = source
        self.alice = httpx.AsyncClient(base_url=url, headers=bearer("alice-token"), timeout=30)
        self.bob = httpx.AsyncClient(base_url=url, headers=bearer("bob-token"), timeout=30)

    async def start(self, client: httpx.AsyncClient, graph: str = "gated") -> httpx.Response:
        return await client.post("/runs", json={"graph": graph, "input": INPUTS[graph]})


@pytest.fixture
def worker(redis_url: str, prefix: str) -> Iterator[Worker]:
    started = Worker(redis_url, prefix)
    yield started
    started.stop()


@pytest.fixture
async def web(redis_url: str, prefix: str, worker: Worker) -> AsyncIterator[Principals]:
    source = RedisRunSource(
        redis_url, graphs(redis_url, prefix), prefix=prefix, stall_timeout=3, queue_timeout=20, cancel_timeout=10
    )
    app = create_app(source, auth=Auth(who), limits=Limits(max_live_runs=2, retry_after=3))
    async with source, serve(app) as url:
        principals = Principals(url, source)
        async with principals.alice, principals.bob:
            yield principals


async def test_each_principal_sees_streams_and_cancels_only_its_own_runs_in_workers(
    web: Principals, redis_url: str, prefix: str
) -> None:
    alice = (await web.start(web.alice)).json()["run_id"]
    bob = (await web.start(web.bob, "demo")).json()["run_id"]

    # the owner lives in the run's directory entry, where every web process reads it
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await client.hget(f"{prefix}:runinfo:{alice}", "owner") == b"alice"
    finally:
        await client.aclose()

    assert [r["run_id"] for r in (await web.alice.get("/runs")).json()["runs"]] == [alice]
    assert [r["run_id"] for r in (await web.bob.get("/runs")).json()["runs"]] == [bob]
    never = await web.bob.get("/runs/no-such-run")
    for method, path in [("GET", ""), ("GET", "/stream"), ("POST", "/cancel")]:
        response = await web.bob.request(method, f"/runs/{alice}{path}")
        assert error_of(response) == (404, "UnknownRunError"), path
        assert response.json()["message"] == never.json()["message"].replace("no-such-run", alice)
    assert (await web.alice.get(f"/runs/{alice}")).json()["status"] in ("queued", "running")  # not cancelled

    messages = await read_stream(web.bob, f"/runs/{bob}/stream")
    assert messages[-1].event == "end"
    assert (await web.bob.get(f"/runs/{bob}")).json()["owner"] == "bob"

    cancelled = await web.alice.post(f"/runs/{alice}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_a_principal_at_its_maximum_of_runs_in_workers_gets_429(web: Principals) -> None:
    first = (await web.start(web.alice)).json()["run_id"]
    await web.start(web.alice)
    refused = await web.start(web.alice)
    assert error_of(refused) == (429, "TooManyRunsError")
    assert refused.headers["retry-after"] == "3"
    assert (await web.start(web.bob)).status_code == 201
    assert await web.source.live_runs("alice") == 2
    await web.alice.post(f"/runs/{first}/cancel")
    assert await web.source.live_runs("alice") == 1  # the cancelled run left alice's set
    assert (await web.start(web.alice)).status_code == 201


async def test_a_run_naming_a_thread_is_refused_with_auth_where_threads_cannot_be_checked(web: Principals) -> None:
    body = {"graph": "demo", "input": INPUTS["demo"], "config": {"configurable": {"thread_id": "t-bob"}}}
    response = await web.alice.post("/runs", json=body)
    assert error_of(response) == (422, "InvalidArgumentError")
    assert "thread_id is not allowed here" in response.json()["message"]
