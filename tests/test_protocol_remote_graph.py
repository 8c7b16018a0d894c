"""LangGraph's ``RemoteGraph`` streaming a streamflow server's graph with ``astream_events(version="v3")`` /
``stream_events(version="v3")``, as LangGraph's own integration suite drives a LangGraph Agent Server: the
output of a run, an interrupt, the resume in a second stream on the same thread (``Command(resume=...)``,
sent as the ``run.start`` input), and ``abort()`` (uvicorn on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from streamflow.server import create_app
from tests.server_support import Gate, serve
from tests.test_protocol_sdk import HI, build_chat

remote = pytest.importorskip("langgraph.pregel.remote")
from langgraph.types import Command  # noqa: E402
from langgraph_sdk import get_client, get_sync_client  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gate() -> Gate:
    return Gate()


@pytest.fixture
async def url(gate: Gate) -> AsyncIterator[str]:
    app = create_app({"chat": build_chat(), "ask": build_chat(ask=True), "gated": build_chat(gate)})
    async with serve(app, ws="websockets-sansio") as base:
        yield base


@pytest.fixture
async def client(url: str) -> AsyncIterator[Any]:
    async with get_client(url=url, api_key=None) as sdk:
        yield sdk


def _graph(name: str, client: Any) -> Any:
    """A RemoteGraph on the test's own client (closed after the test: RemoteGraph leaves the ones it makes open)."""
    return remote.RemoteGraph(name, client=client)


async def test_a_run_gives_its_output(client: Any) -> None:
    graph = _graph("chat", client)
    with anyio.fail_after(20):
        async with await graph.astream_events(HI, version="v3") as stream:
            output = await stream.output()
            interrupted = await stream.interrupted()
    assert output["steps"] == 2 and output["messages"][-1]["content"].startswith("streamed")
    assert interrupted is False


async def test_an_interrupt_then_a_resume_on_the_same_thread(client: Any) -> None:
    graph = _graph("ask", client)
    config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
    with anyio.fail_after(20):
        async with await graph.astream_events(HI, config=config, version="v3") as stream:
            async for _ in stream.values:
                if await stream.interrupted():
                    break
            interrupted = await stream.interrupted()
            interrupts = await stream.interrupts()
        async with await graph.astream_events(Command(resume=4), config=config, version="v3") as stream:
            output = await stream.output()
            still = await stream.interrupted()
    assert interrupted is True
    assert [i["value"] for i in interrupts] == [{"question": "how many?"}]
    assert output["answer"] == 4 and still is False


async def test_the_sync_stream_gives_its_output(url: str) -> None:
    def drive() -> tuple[Any, bool]:
        with get_sync_client(url=url, api_key=None) as sync_client:
            graph = remote.RemoteGraph("chat", sync_client=sync_client)
            with graph.stream_events(HI, version="v3") as stream:
                return stream.output, stream.interrupted

    with anyio.fail_after(20):
        output, interrupted = await anyio.to_thread.run_sync(drive)
    assert output["steps"] == 2 and interrupted is False


async def test_abort_cancels_the_run_on_the_server(client: Any, gate: Gate) -> None:
    graph = _graph("gated", client)
    config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
    with anyio.fail_after(20):
        async with await graph.astream_events(HI, config=config, version="v3") as stream:
            await gate.reached.wait()
            await stream.abort()
        state: Any = await client.threads.get_state(config["configurable"]["thread_id"])
    assert state["values"]["steps"] == 1  # the gated step never finished
