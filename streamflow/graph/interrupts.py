"""Pausing a run inside a node: :func:`interrupt`, the :class:`Interrupt` it records, and the resume values a
run with ``Command(resume=...)`` hands back to it (LangGraph's ``langgraph.types.interrupt``).

A node (or a tool run by ``ToolNode``, or a node of a subgraph) calls ``interrupt(value)``. The first time,
the call raises :class:`~streamflow.errors.GraphInterrupt`: the task stops, the step's other tasks finish,
and the run ends after that step with the interrupt in its output and in the thread's checkpoint (the
interrupted task's writes are not applied; its siblings' are kept as pending writes, so a resume does not
run them again). A run with ``Command(resume=answer)`` as input runs the interrupted task again from its
start, and this time ``interrupt()`` returns ``answer``. A node calling ``interrupt()`` several times has
its calls matched with answers by order: each resume answers the next unanswered call.

Interrupt ids: see :func:`streamflow.interrupts.interrupt_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import GraphInterrupt, InvalidArgumentError, NotInRunError
from ..interrupts import Interrupt, interrupt_id, is_resume_map

__all__ = ["Interrupt", "RunResume", "Scratchpad", "interrupt"]


class RunResume:
    """What a run resumed with ``Command(resume=...)`` answers: one value (handed to the first
    ``interrupt()`` call without an answer, once, in any task of any graph level) or a map of answers by
    interrupt id."""

    def __init__(self, resume: Any) -> None:
        self.map: dict[str, Any] | None = None
        self._value: Any = None
        self._has_value = False
        if is_resume_map(resume):
            self.map = dict(resume)
        else:
            self._value = resume
            self._has_value = True

    def take(self) -> tuple[bool, Any]:
        """``(True, value)`` the first time for a single resume value, ``(False, None)`` after that or for
        a map."""
        if not self._has_value:
            return False, None
        self._has_value = False
        return True, self._value


class Scratchpad:
    """The interrupt bookkeeping of one task: its checkpoint namespace, the answers it already has (by call
    order), how many ``interrupt()`` calls it made this time, and the run's resume."""

    def __init__(self, ns: str, answers: list[Any], run_resume: RunResume | None) -> None:
        self.ns = ns
        self.answers = list(answers)
        self.calls = 0
        self.run_resume = run_resume
        if run_resume is not None and run_resume.map is not None:
            next_id = interrupt_id(ns, len(self.answers))
            if next_id in run_resume.map:
                self.answers.append(run_resume.map[next_id])
        self.used: list[Any] | None = None
        """The answers this run handed out (saved with the task's interrupt, so a later resume keeps them)."""

    def ask(self, value: Any, response_schema: Any = None) -> Any:
        index = self.calls
        self.calls += 1
        if index < len(self.answers):
            self.used = self.answers[: index + 1]
            return self.answers[index]
        if self.run_resume is not None and index == len(self.answers):
            found, answer = self.run_resume.take()
            if found:
                self.answers.append(answer)
                self.used = list(self.answers)
                return answer
        raise GraphInterrupt(
            (Interrupt(value, interrupt_id(self.ns, len(self.answers)), response_schema=response_schema),)
        )


def interrupt(value: Any, *, response_schema: Mapping[str, Any] | None = None) -> Any:
    """Pause the run for an answer from outside, as LangGraph's ``interrupt``: called in a node (sync or
    async), in a tool run by ``ToolNode``, or in a node of a subgraph.

    The first call raises :class:`~streamflow.errors.GraphInterrupt` (let it propagate: the run ends after
    the current step with an :class:`Interrupt` of ``value`` in its output). Once the run is resumed with
    ``Command(resume=answer)`` (or ``Command(resume={interrupt_id: answer})``), the task runs again from the
    start and the same call returns ``answer``. Several calls in one task are answered in order.

    :param value: what the run shows the person or program asked (anything the checkpointer can store)
    :param response_schema: a JSON Schema dict describing the expected answer, carried on the
        :class:`Interrupt` as it is (streamflow does not validate the answer against it)
    :returns: the resume value for this call
    :raises GraphInterrupt: when this call has no answer yet
    :raises NotInRunError: outside a graph run's task
    :raises InvalidArgumentError: for a ``response_schema`` that is not a dict (LangGraph also takes a type
        to validate with; streamflow does not)
    """
    from .context import current_task

    task = current_task()
    scratch = None if task is None else task.scratchpad
    if scratch is None:
        raise NotInRunError("interrupt() was called outside a graph run: call it inside a node or a tool a node runs")
    if response_schema is not None and not isinstance(response_schema, Mapping):
        raise InvalidArgumentError(
            f"interrupt(response_schema=...) takes a JSON Schema dict or None; got {type(response_schema).__name__}"
        )
    return scratch.ask(value, None if response_schema is None else dict(response_schema))
