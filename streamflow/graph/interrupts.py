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

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import GraphInterrupt, InvalidArgumentError, MissingExtraError, NotInRunError, mark_invalid_resume
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

    def __init__(
        self, graph_ns: tuple[str, ...], node: str, task_id: str, answers: list[Any], run_resume: RunResume | None
    ) -> None:
        self._where = (graph_ns, node, task_id)
        self._ns: str | None = None
        self.answers = answers
        self.calls = 0
        self.run_resume = run_resume
        if run_resume is not None and run_resume.map is not None:
            next_id = interrupt_id(self.ns, len(answers))
            if next_id in run_resume.map:
                self.answers = [*answers, run_resume.map[next_id]]
        self.used: list[Any] | None = None
        """The answers this run handed out (saved with the task's interrupt, so a later resume keeps them)."""

    @property
    def ns(self) -> str:
        """The task's checkpoint namespace, ``"<outer parts>|<node>:<task id>"`` (made when first read: most
        tasks never call ``interrupt()``)."""
        ns = self._ns
        if ns is None:
            graph_ns, node, task_id = self._where
            ns = self._ns = "|".join((*graph_ns, f"{node}:{task_id}"))
        return ns

    def ask(self, value: Any, response_schema: Any = None, validate: Callable[[Any], Any] | None = None) -> Any:
        """The answer to this task's next ``interrupt(value)`` call (passed through ``validate`` when given:
        what it returns), or :class:`~streamflow.errors.GraphInterrupt` when it has none yet.

        :raises GraphInterrupt: for a call without an answer, its interrupt carrying ``response_schema``
        :raises Exception: what ``validate`` raises for the answer (the answer is then not recorded, so the
            interrupt can be answered again)
        """
        index = self.calls
        self.calls += 1
        if index < len(self.answers):
            answer = self.answers[index]
            validated = answer if validate is None else validate(answer)
            self.used = self.answers[: index + 1]
            return validated
        if self.run_resume is not None and index == len(self.answers):
            found, answer = self.run_resume.take()
            if found:
                validated = answer if validate is None else validate(answer)
                self.answers.append(answer)
                self.used = list(self.answers)
                return validated
        raise GraphInterrupt(
            (Interrupt(value, interrupt_id(self.ns, len(self.answers)), response_schema=response_schema),)
        )


def interrupt(value: Any, *, response_schema: Mapping[str, Any] | type[Any] | None = None) -> Any:
    """Pause the run for an answer from outside, as LangGraph's ``interrupt``: called in a node (sync or
    async), in a tool run by ``ToolNode``, or in a node of a subgraph.

    The first call raises :class:`~streamflow.errors.GraphInterrupt` (let it propagate: the run ends after
    the current step with an :class:`Interrupt` of ``value`` in its output). Once the run is resumed with
    ``Command(resume=answer)`` (or ``Command(resume={interrupt_id: answer})``), the task runs again from the
    start and the same call returns ``answer``. Several calls in one task are answered in order.

    :param value: what the run shows the person or program asked (anything the checkpointer can store)
    :param response_schema: the answer expected, for clients to build a form from: a JSON Schema dict,
        carried on the :class:`Interrupt` as it is (the answer is not checked), or, as in LangGraph, a
        pydantic model, ``TypedDict`` or dataclass, whose JSON Schema the :class:`Interrupt` carries and which
        checks the answer (with ``pydantic.TypeAdapter``): the call then returns the validated object
    :returns: the resume value for this call (validated, with a ``response_schema`` type)
    :raises GraphInterrupt: when this call has no answer yet
    :raises pydantic.ValidationError: when the answer does not fit a ``response_schema`` type; the task fails
        after the step's other tasks finish, the answer is not kept and the interrupt still waits (a new
        resume answers it again); :func:`~streamflow.errors.is_invalid_resume` tells this error apart
    :raises NotInRunError: outside a graph run's task
    :raises InvalidArgumentError: for a ``response_schema`` that is neither a dict nor a type pydantic can
        make a schema of
    :raises MissingExtraError: for a ``response_schema`` type when pydantic is not installed
    """
    from .context import current_task

    task = current_task()
    scratch = None if task is None else task.scratchpad
    if scratch is None:
        raise NotInRunError("interrupt() was called outside a graph run: call it inside a node or a tool a node runs")
    if response_schema is None or isinstance(response_schema, Mapping):
        return scratch.ask(value, None if response_schema is None else dict(response_schema))
    try:
        adapter = _adapter(response_schema)
    except TypeError:  # unhashable: no type
        raise InvalidArgumentError(
            "interrupt(response_schema=...) takes a JSON Schema dict, a pydantic model, a TypedDict or a "
            f"dataclass; got {response_schema!r}"
        ) from None
    return scratch.ask(value, adapter.json_schema(), functools.partial(_validated, adapter))


_adapters: dict[Any, Any] = {}
"""The ``pydantic.TypeAdapter`` made for each ``response_schema`` type so far."""


def _adapter(schema: Any) -> Any:
    """The ``pydantic.TypeAdapter`` of a ``response_schema`` type (made once per type).

    :raises TypeError: for an unhashable ``schema`` (no type)
    :raises MissingExtraError: when pydantic is not installed
    :raises InvalidArgumentError: when pydantic cannot make a schema of ``schema``
    """
    try:
        import pydantic
    except ImportError as exc:  # pragma: no cover - the test environment has pydantic
        raise MissingExtraError("interrupt(response_schema=<a type>)", "pydantic", "pydantic") from exc
    adapter = _adapters.get(schema)
    if adapter is not None:
        return adapter
    try:
        adapter = pydantic.TypeAdapter(schema)
        adapter.json_schema()
    except Exception as exc:  # pydantic's errors, and the SyntaxError or NameError of a string it takes as a name
        raise InvalidArgumentError(
            f"interrupt(response_schema=...) takes a JSON Schema dict, a pydantic model, a TypedDict or a "
            f"dataclass; pydantic cannot make a schema of {schema!r}: {exc}"
        ) from exc
    _adapters[schema] = adapter
    return adapter


def _validated(adapter: Any, answer: Any) -> Any:
    """``answer`` validated by ``adapter``; its ``ValidationError`` marked as an invalid resume."""
    import pydantic

    try:
        return adapter.validate_python(answer)
    except pydantic.ValidationError as exc:
        mark_invalid_resume(exc)
        raise
