"""What a run does around a pause: ``interrupt_before``/``interrupt_after`` breakpoints, the tasks a resumed
run replays from their saved writes instead of running them again, the interrupts a step stops with, and
the input of a resuming ``Command``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import (
    EmptyInputError,
    GraphInterrupt,
    InvalidGraphError,
    InvalidUpdateError,
    UnknownInterruptError,
)
from ..events import (
    EMPTY_METADATA,
    Interrupted,
    Resumed,
    StateUpdate,
    StateValues,
    TaskStarted,
)
from ..interrupts import is_resume_map
from .constants import END, Command, Send
from .context import RunContext
from .interrupts import RunResume
from .routing import _task_path
from .saving import _Saving
from .specs import GraphSpec
from .tasks import _command_writes, _only, _Task, _updates
from .thread_config import BREAKPOINT_KEYS, SENDS

__all__: list[str] = []


def _breakpoints(graph: GraphSpec, run: RunContext, ns: tuple[str, ...]) -> tuple[Any, Any]:
    """``(interrupt_before, interrupt_after)`` of a graph level: the compiled ones, replaced at the root by
    those the run was given (``invoke(..., interrupt_before=...)``)."""
    before = getattr(graph, "interrupt_before", None)
    after = getattr(graph, "interrupt_after", None)
    if not ns:
        configurable = run.config.get("configurable") or {}
        before = configurable.get(BREAKPOINT_KEYS[0], before)
        after = configurable.get(BREAKPOINT_KEYS[1], after)
    return before, after


def _hits(breakpoints: Any, tasks: Sequence[_Task]) -> bool:
    """Whether a task of ``tasks`` runs a node of ``breakpoints`` (``"*"``: any)."""
    return any(breakpoints == "*" or t.node.name in breakpoints for t in tasks)


async def _breakpoint(run: RunContext, ns: tuple[str, ...], step: int, result: Any) -> Any:
    """Stop at an ``interrupt_before``/``interrupt_after`` breakpoint, as LangGraph does: an
    :class:`~streamflow.events.Interrupted` without interrupts (``{"__interrupt__": ()}`` in ``updates``);
    the root graph returns its result, a subgraph raises an empty :class:`~streamflow.errors.GraphInterrupt`.

    :raises GraphInterrupt: under a namespace ``ns``
    """
    if ns:
        raise GraphInterrupt(())  # LangGraph streams a subgraph's breakpoint at the root only
    if run.channel.wants(Interrupted):
        await run.channel.publish(Interrupted(ns=ns, step=step, tags=run.tags))
    run.interrupts = []
    return result


def _replayed(task: _Task, writes: list[tuple[str, Any]]) -> None:
    """Mark ``task`` done with the ``writes`` it saved in an earlier run of its step (it does not run again,
    as LangGraph matches saved writes to tasks by task id)."""
    task.update = dict(writes) or None
    if len(task.update or ()) < len(writes):
        task.writes = writes
    task.done = True


async def _replay_cached(
    graph: GraphSpec, run: RunContext, ns: tuple[str, ...], step: int, shown: tuple[str, ...], task: _Task
) -> None:
    """Stream a task whose writes a resumed run found saved (it does not run again) as LangGraph does: its
    ``TaskStarted``, then its update marked ``cached`` (no ``TaskFinished``)."""
    channel = run.channel
    if channel.wants(TaskStarted):
        await channel.publish(
            TaskStarted(
                ns=ns,
                node=task.node.name,
                step=step,
                task_id=task.id,
                tags=run.tags,
                input=task.input,
                triggers=task.triggers,
                path=task.path,
                metadata=run.call_metadata or EMPTY_METADATA,
            )
        )
    if channel.wants(StateUpdate):
        shown_update = graph.schema.unwrap(_only(task.update, shown))
        await channel.publish(
            StateUpdate(
                ns=ns, node=task.node.name, step=step, task_id=task.id, tags=run.tags, update=shown_update, cached=True
            )
        )


async def _paused(
    graph: GraphSpec,
    run: RunContext,
    ns: tuple[str, ...],
    step: int,
    shown: tuple[str, ...],
    state: dict[str, Any],
    tasks: list[_Task],
    paused: list[_Task],
    result: Any,
) -> Any:
    """End a run whose step ``step`` had tasks that paused on ``interrupt()``, as LangGraph does: no new
    checkpoint (the step runs again on resume; its finished tasks' writes are pending writes of the
    checkpoint it started from). A subgraph (or a graph run inside a node) raises
    :class:`~streamflow.errors.GraphInterrupt` to the task running it; the root graph shows the state with
    the finished tasks' writes applied (a last ``values`` chunk when they wrote a shown key), records the
    interrupts on ``run`` and returns its result.

    :raises GraphInterrupt: under a namespace ``ns``, with every interrupt of the step in task order
    """
    interrupts = tuple(i for t in sorted(paused, key=_task_path) for i in t.interrupts or ())
    if ns:
        raise GraphInterrupt(interrupts)
    schema = graph.schema
    done = sorted((t for t in tasks if t.update), key=_task_path)
    if done:
        schema.apply(state, _updates(done))
        if run.channel.wants(StateValues) and any(k in shown for t in done for k in t.update or ()):
            await run.channel.publish(StateValues(ns=ns, step=step, tags=run.tags, values=schema.values(state, shown)))
        if any(k in schema.output_keys for t in done for k in t.update or ()):
            result = schema.output(state)
    if not interrupts and run.channel.wants(Interrupted):  # a subgraph stopped at a breakpoint
        await run.channel.publish(Interrupted(ns=ns, step=step, tags=run.tags))
    run.interrupts = list(interrupts)
    return result


async def _resume_input(saving: _Saving, command: Command[Any], run: RunContext, state: dict[str, Any]) -> None:
    """Prepare a run on a thread with checkpoints whose input is ``command``, as LangGraph continues the thread:
    apply its ``update`` to ``state`` and trigger the nodes its ``goto`` names (both saved with the checkpoint
    under no task, as LangGraph saves them); for a
    ``resume``, check its answers against the interrupts the thread waits on, hand them to the run and
    publish :class:`~streamflow.events.Resumed`. The thread's pending tasks then run (again).

    :raises UnknownInterruptError: for a resume map naming an interrupt id the thread does not wait on
    :raises RuntimeError: for one resume value while several interrupts wait (LangGraph's message)
    :raises InvalidUpdateError: for a ``Command`` with ``graph`` (``"There is no parent graph"``)
    :raises InvalidGraphError: for a ``goto`` naming no node
    :raises EmptyInputError: for a ``Command`` with neither ``update`` nor ``resume`` (LangGraph's)
    :raises InvalidUpdateError: for an ``update`` the state schema does not take
    """
    goto = command.goto
    targets: list[Any] = [goto] if isinstance(goto, (str, Send)) else list(goto)
    if command.graph is not None:
        raise InvalidUpdateError("There is no parent graph")  # LangGraph's, for a Command input
    if command.update is None and command.resume is None and not targets:
        raise EmptyInputError("Received empty Command input")  # LangGraph's
    nodes = saving.graph.nodes
    for target in targets:
        name = target.node if isinstance(target, Send) else target
        if (name == END and isinstance(target, Send)) or (name != END and name not in nodes):
            raise InvalidGraphError(
                f"Command(goto={target!r}) given as input names no node; known nodes: {sorted(nodes)} (or END)"
            )
    resume = command.resume
    waiting = saving.thread.pending_interrupts()
    if is_resume_map(resume):
        unknown = sorted(set(resume or {}) - set(waiting))
        if unknown:
            raise UnknownInterruptError(
                f"Command(resume=...) names interrupt id(s) {unknown} that thread {saving.thread.thread_id!r} "
                f"is not waiting on; the pending interrupt ids are {sorted(waiting)}",
                interrupt_ids=unknown,
                pending_ids=sorted(waiting),
            )
    elif resume is not None and len(waiting) > 1:
        raise RuntimeError(
            "When there are multiple pending interrupts, you must specify the interrupt id when resuming. "
            "Docs: https://docs.langchain.com/oss/python/langgraph/interrupts#handling-multiple-interrupts."
        )
    if command.update is not None:
        # saved against the checkpoint under no task, as LangGraph does, so a later resume from it keeps it
        pairs = _command_writes(saving.graph.schema, command, "the resume Command")
        saving.graph.schema.apply(state, [("the resume Command", {key: value}) for key, value in pairs])
    else:
        pairs = []
    triggers: list[tuple[str, Any]] = [
        (f"branch:to:{target}", None) for target in targets if isinstance(target, str) and target != END
    ]
    sends = [[target.node, target.arg] for target in targets if isinstance(target, Send)]
    if sends:
        triggers.append((SENDS, sends))
    if pairs or triggers:
        await saving.thread.put_null_writes([*pairs, *triggers])
    if resume is not None:
        if len(waiting) == 1 and not is_resume_map(resume):
            # the one value answers the one interrupt waiting, whichever task asks first this time
            run.resume = RunResume({next(iter(waiting)): resume})
        else:
            run.resume = RunResume(resume)
        if run.channel.wants(Resumed):
            await run.channel.publish(Resumed(tags=run.tags, resume=resume))
