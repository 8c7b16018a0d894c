"""RedisWorker and RunQueue in this process: jobs taken once, runs a worker cannot start, stop, bad input."""

from __future__ import annotations

from typing import Any, TypedDict

import anyio
import pytest

from streamflow.errors import InvalidArgumentError, RunFailedError
from streamflow.events import RunFailed
from streamflow.graph import START, StateGraph
from streamflow.redis import RedisRunDirectory, RedisWorker, RemoteRun, RunQueue
from streamflow.server import RedisRunSource

from .graphs import writer_graph

pytestmark = pytest.mark.anyio


async def test_a_worker_runs_queued_jobs_fails_those_it_cannot_start_and_stops(redis_url: str, prefix: str) -> None:
    worker = RedisWorker({"writer": lambda: writer_graph(5)}, redis_url, prefix=prefix, block=0.1)
    async with worker, RunQueue(redis_url, prefix=prefix) as queue, anyio.create_task_group() as tg:
        tg.start_soon(worker.serve)
        good = await queue.submit("writer", {"n": 0})
        missing = await queue.submit("nowhere", {"n": 0})
        refused = await queue.submit("writer", {"bogus": 1})
        async with RemoteRun(redis_url, good, prefix=prefix) as remote:
            assert await remote.result() == {"n": 5}
        async with RemoteRun(redis_url, missing, prefix=prefix) as remote:
            with pytest.raises(RunFailedError, match="unknown graph 'nowhere'; registered graphs: 'writer'"):
                await remote.result()
        async with RemoteRun(redis_url, refused, prefix=prefix) as remote, remote.subscribe() as sub:
            events = [e async for e in sub]
        assert [type(e) for e in events] == [RunFailed]
        assert isinstance(events[0], RunFailed) and events[0].error_type.endswith("InvalidUpdateError")
        worker.stop()
    stats = worker.statistics()
    assert (stats.taken, stats.running, stats.finished, stats.failed, stats.cancelled) == (3, 0, 1, 2, 0)
    async with RedisRunDirectory(redis_url, prefix=prefix) as directory:
        assert {i.run_id: i.status for i in await directory.list()} == {
            good: "finished",
            missing: "failed",
            refused: "failed",
        }


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda url: RedisWorker({"": writer_graph(1)}, url), "graph names must be non-empty strings"),
        (lambda url: RedisWorker({"w": 3}, url), "graph 'w' must be a compiled graph or a function"),  # type: ignore[dict-item]
        (lambda url: RedisWorker({"w": writer_graph(1)}, url, max_runs=0), "max_runs must be a positive number"),
        (lambda url: RedisWorker({"w": writer_graph(1)}, url, block=0), "block must be a positive number of seconds"),
        (lambda url: RunQueue(url, cancel_ttl=-1), "cancel_ttl must be a positive number of seconds"),
        (lambda url: RedisRunSource(url, []), "graphs must name at least one graph"),
        (lambda url: RedisRunSource(url, ["w"], queue_timeout=0), "queue_timeout must be a positive number"),
        (lambda url: RedisRunSource(6379, ["w"]), "redis must be a URL"),
    ],
)
async def test_bad_arguments_are_refused_at_the_boundary(redis_url: str, make: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        make(redis_url)


async def test_a_taken_run_id_and_a_bad_config_are_refused_when_queued(redis_url: str, prefix: str) -> None:
    async with RunQueue(redis_url, prefix=prefix) as queue:
        run_id = await queue.submit("writer", {"n": 0}, {"run_id": "mine"})
        assert run_id == "mine"
        with pytest.raises(InvalidArgumentError, match="run_id 'mine' is already taken"):
            await queue.submit("writer", {"n": 0}, {"run_id": "mine"})
        with pytest.raises(InvalidArgumentError, match="config must be a mapping"):
            await queue.submit("writer", {"n": 0}, [("run_id", "x")])  # type: ignore[arg-type]


@pytest.mark.parametrize("signals", ["SIGTERM", [15.0], [True], [-3]])
async def test_hand_over_on_takes_signal_numbers_only(redis_url: str, prefix: str, signals: Any) -> None:
    async with RedisWorker({"w": writer_graph(1)}, redis_url, prefix=prefix) as worker:
        with pytest.raises(InvalidArgumentError, match="hand_over_on must be a collection of signal numbers"):
            await worker.serve(hand_over_on=signals)


async def test_a_worker_handing_over_with_no_run_in_flight_just_returns(redis_url: str, prefix: str) -> None:
    worker = RedisWorker({"writer": lambda: writer_graph(5)}, redis_url, prefix=prefix, block=0.1)
    async with worker, RunQueue(redis_url, prefix=prefix) as queue, anyio.create_task_group() as tg:
        tg.start_soon(worker.serve)
        run_id = await queue.submit("writer", {"n": 0})
        async with RemoteRun(redis_url, run_id, prefix=prefix) as remote:
            assert await remote.result() == {"n": 5}
        worker.hand_over()
    stats = worker.statistics()
    assert (stats.finished, stats.handed_over, stats.running) == (1, 0, 0)


class Gated(TypedDict, total=False):
    n: int


async def test_a_run_another_worker_could_not_resume_finishes_on_the_worker_handing_over(
    redis_url: str, prefix: str
) -> None:
    """No checkpointer: handing the run over would fail it; it finishes here instead."""
    reached, gate = anyio.Event(), anyio.Event()

    async def wait(state: Gated) -> dict[str, Any]:
        reached.set()
        await gate.wait()
        return {"n": 1}

    graph = StateGraph(Gated).add_node("wait", wait).add_edge(START, "wait").compile(name="gated")
    worker = RedisWorker({"gated": graph}, redis_url, prefix=prefix, block=0.1)
    async with worker, RunQueue(redis_url, prefix=prefix) as queue, anyio.create_task_group() as tg:
        tg.start_soon(worker.serve)
        run_id = await queue.submit("gated", {"n": 0}, {"configurable": {"thread_id": "t"}})
        await reached.wait()
        worker.hand_over()
        gate.set()
        async with RemoteRun(redis_url, run_id, prefix=prefix) as remote:
            assert await remote.result() == {"n": 1}
    stats = worker.statistics()
    assert (stats.finished, stats.handed_over, stats.running) == (1, 0, 0)
