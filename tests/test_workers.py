"""The worker pool for sync user code: daemon threads, reused, abandoned on cancel, and a bound on the abandoned."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator

import anyio
import pytest
from structlog.testing import capture_logs

from streamflow import workers

from .helpers import SIGNAL_TIMEOUT, NothingLeftBehind, Signal

_var: contextvars.ContextVar[str] = contextvars.ContextVar("test_workers_var", default="unset")


class Boom(Exception):
    """A sync function's own failure."""


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    left = NothingLeftBehind()
    yield
    left.check()


def test_results_errors_and_context_reach_the_caller_from_a_reused_daemon_thread() -> None:
    def where() -> tuple[str, bool, str]:
        thread = threading.current_thread()
        return thread.name, thread.daemon, _var.get()

    def fail() -> None:
        raise Boom("sync failure")

    async def main() -> list[tuple[str, bool, str]]:
        _var.set("from the caller")
        first = await workers.run_sync(where)
        with pytest.raises(Boom, match="sync failure"):
            await workers.run_sync(fail)
        return [first, await workers.run_sync(where)]

    first, second = asyncio.run(main())
    assert first == second  # the idle thread was reused
    name, daemon, value = first
    assert name.startswith(f"{workers.WORKER_THREAD_NAME}-")
    assert daemon
    assert value == "from the caller"
    assert workers.statistics().threads == 1
    workers.stop_idle_workers()
    assert workers.statistics() == workers.WorkerStatistics(threads=0, busy=0, abandoned=(), waiting=0)


def test_cancelling_the_caller_abandons_a_running_call_and_reports_it() -> None:
    entered = Signal("the call started")
    release = Signal("the call was released")
    abandoned: list[workers.WorkerCall] = []

    def stuck() -> str:
        entered.set()
        release.wait()
        return "dropped"

    async def main() -> None:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: workers.run_sync(stuck, label="stuck", on_abandon=abandoned.append))
                await entered.wait_async()
                scope.cancel()

    asyncio.run(main())  # returns while the call still runs
    [call] = abandoned
    assert (call.label, call.running, call.abandoned) == ("stuck", True, True)
    assert call.thread is not None and call.thread.startswith(workers.WORKER_THREAD_NAME)
    stats = workers.statistics()
    assert (stats.busy, stats.abandoned) == (1, ("stuck",))
    assert workers.wait_abandoned(0) == 1  # no time given: it still runs
    release.set()
    assert workers.wait_abandoned(SIGNAL_TIMEOUT) == 0
    assert call.wait(0)
    assert not call.running
    assert workers.statistics().busy == 0


def test_a_new_call_waits_while_max_abandoned_calls_still_run_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "MAX_ABANDONED", 1)
    entered = Signal("the first call started")
    release = Signal("the first call was released")
    ran: list[str] = []

    def stuck() -> None:
        entered.set()
        release.wait()

    async def main() -> None:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: workers.run_sync(stuck, label="stuck"))
                await entered.wait_async()
                scope.cancel()
        assert workers.statistics().abandoned == ("stuck",)

        async def second() -> None:
            ran.append(await workers.run_sync(lambda: "second", label="second"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            assert ran == []
            assert workers.statistics().waiting == 1
            release.set()
        assert ran == ["second"]

    with capture_logs() as logs:
        asyncio.run(main())
    assert [entry for entry in logs if entry["event"] == "worker_call_waits_for_abandoned"] == [
        {
            "event": "worker_call_waits_for_abandoned",
            "log_level": "warning",
            "call": "second",
            "max_abandoned": 1,
            "abandoned": 1,
            "oldest": ["stuck"],
        }
    ]
    assert workers.statistics().waiting == 0


def test_a_call_waiting_for_an_abandoned_one_can_be_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "MAX_ABANDONED", 1)
    entered = Signal("the first call started")
    release = Signal("the first call was released")

    def stuck() -> None:
        entered.set()
        release.wait()

    async def main() -> None:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: workers.run_sync(stuck))
                await entered.wait_async()
                scope.cancel()
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: workers.run_sync(lambda: pytest.fail("a cancelled waiting call ran")))
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
        assert workers.statistics().waiting == 0

    with capture_logs():
        asyncio.run(main())
    release.set()
    assert workers.wait_abandoned(SIGNAL_TIMEOUT) == 0
