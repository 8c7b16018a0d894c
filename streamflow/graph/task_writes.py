"""What the writes saved against a checkpoint say about each task of the step after it.

While a step runs, each task's writes are saved against the checkpoint the step started from (the
checkpoint's pending writes): its state writes one by one (a key written twice is saved twice, in order),
or ``__no_writes__`` when it wrote nothing, and the control writes ``__interrupt__`` (the questions it
paused on), ``__resume__`` (the answers it got so far) and ``__error__``. As LangGraph reads them
(``langgraph.pregel._task_status``): a task finished exactly when it has a write that is not a control
write; its interrupts wait for an answer only while it has not finished. Writes saved under the null task
id (a ``Command`` input's update and goto) belong to no task.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..checkpoint.base import ERROR, INTERRUPT, RESUME

__all__ = ["CONTROL_WRITES", "NO_WRITES", "NULL_TASK_ID", "TaskStatus", "folded_writes", "task_statuses"]

NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
"""The task id writes that belong to no task are saved under (a resume ``Command``'s update), as LangGraph's:
they are part of the checkpoint's state for every reader."""

NO_WRITES = "__no_writes__"
"""The channel a task that wrote nothing records its end under, so a resume knows it finished."""

CONTROL_WRITES = frozenset((ERROR, INTERRUPT, RESUME))
"""The channels that say what happened to a task rather than what it wrote."""


@attrs.frozen
class TaskStatus:
    """One task's status, read from the writes saved for its step."""

    output: tuple[tuple[str, Any], ...] = ()
    """Its writes other than control writes (``__no_writes__`` included), in the order saved; empty until it
    finished."""
    interrupts: tuple[Any, ...] = ()
    """The interrupts it last paused on, answered or not."""
    error: Any = None
    """The error it failed with (the exception's repr, as saved), or None."""

    @property
    def finished(self) -> bool:
        """Whether the task ran to its end (it saved at least one write that is not a control write)."""
        return bool(self.output)

    @property
    def pending_interrupts(self) -> tuple[Any, ...]:
        """The interrupts still waiting for an answer: ``()`` once the task finished."""
        return () if self.output else self.interrupts

    def writes(self) -> list[tuple[str, Any]]:
        """Its state writes: :attr:`output` without the ``__no_writes__`` marker."""
        return [(channel, value) for channel, value in self.output if channel != NO_WRITES]


def task_statuses(pending_writes: Iterable[Sequence[Any]] | None) -> dict[str, TaskStatus]:
    """The status of every task that saved a write in ``pending_writes`` (``(task id, channel, value)``
    triples, as a checkpoint tuple holds them), by task id; writes under :data:`NULL_TASK_ID` are left out."""
    output: dict[str, list[tuple[str, Any]]] = {}
    interrupts: dict[str, tuple[Any, ...]] = {}
    errors: dict[str, Any] = {}
    for task_id, channel, value in pending_writes or ():
        if task_id == NULL_TASK_ID:
            continue
        output.setdefault(task_id, [])
        if channel == INTERRUPT:
            interrupts[task_id] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        elif channel == ERROR:
            errors.setdefault(task_id, value)
        elif channel not in CONTROL_WRITES:
            output[task_id].append((channel, value))
    return {
        task_id: TaskStatus(tuple(writes), interrupts.get(task_id, ()), errors.get(task_id))
        for task_id, writes in output.items()
    }


def folded_writes(writes: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A task's writes as one dict, as LangGraph shows a task's result: a key written once maps to its value,
    a key written more than once to ``{"$writes": [value, ...]}`` (in write order)."""
    values: dict[str, list[Any]] = {}
    for key, value in writes:
        values.setdefault(key, []).append(value)
    return {key: found[0] if len(found) == 1 else {"$writes": found} for key, found in values.items()}
