"""Running a task's sync code (a sync node's function, a sync tool) off the run's loop, cancellably.

Where it runs and what happens when the task awaiting it is cancelled: :mod:`streamflow.graph.cancellation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import anyio

from .. import workers
from .cancellation import AbandonedCall, Running
from .context import TaskContext

__all__ = ["run_sync_code"]

T = TypeVar("T")


async def run_sync_code(
    task: TaskContext, fn: Callable[[], T], kind: Literal["node", "tool"], name: str, call_id: str = ""
) -> T:
    """Run ``fn()`` (the sync code of ``task``: a node's function, or the tool call ``call_id``'s) off the
    run's loop and return its result.

    A node runs in the thread iterating ``stream()`` (``task.run.sync_runner``) when it is the only task of
    its run in flight, every enclosing subgraph's task aside: then nothing else of the run can produce a
    chunk while it runs, as LangGraph runs a task inline only when it is alone in its tick. Otherwise, and
    always for tools and under ``astream()``, in a worker thread, so that what others produce meanwhile
    reaches the caller as it is produced.

    Cancelling the awaiting task sets ``task.cancel_flag`` and, if ``fn`` is running, records it in
    ``task.run.abandoned`` (see the module docstring).

    :raises Exception: what ``fn`` raised, with its original type
    """
    run = task.run

    def abandoned(call: Running) -> None:
        record = AbandonedCall(kind, name, task.node, task.task_id, task.ns, task.step, call.thread or "")
        run.abandoned.append((record, call))

    try:
        runner = run.sync_runner
        if kind == "node" and runner is not None and run.tasks_in_flight == 1:
            result: T = await runner(fn, abandoned)
            return result
        return await workers.run_sync(fn, label=_label(task, kind, name, call_id), on_abandon=abandoned)
    except anyio.get_cancelled_exc_class():
        why = run.stop_reason or "the code awaiting it was cancelled"
        task.cancel_flag.set(f"{_label(task, kind, name, call_id)} was cancelled: {why}")
        raise


def _label(task: TaskContext, kind: str, name: str, call_id: str) -> str:
    """How a call is named in warnings, statistics and its :class:`~streamflow.errors.TaskCancelledError`."""
    where = f"(task {task.task_id}) of run {task.run.run_id}"
    if kind == "tool":
        return f"tool {name!r} (call {call_id}) in node {task.node!r} {where}"
    return f"node {name!r} {where}"
