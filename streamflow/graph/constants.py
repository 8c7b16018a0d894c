"""The names a graph is built with: ``START``, ``END``, ``Send`` and ``Command`` (LangGraph's, with the same
values)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, Final, Generic, Literal, TypeVar

import attrs

__all__ = ["END", "RESERVED_CHARS", "START", "Command", "Send", "annotated_keys"]

START: Final = "__start__"
"""The virtual node a run enters by: ``add_edge(START, "first")``."""
END: Final = "__end__"
"""The virtual node a path ends in: ``add_edge("last", END)`` or a conditional path returning ``END``."""
RESERVED_CHARS: Final = (":", "|")
"""Characters a node name may not contain (they separate namespace parts)."""


@attrs.frozen
class Send:
    """Ask for one extra task of ``node`` in the next superstep, called with ``arg`` instead of the state.

    Returned by a conditional edge's path function, usually one per item, for map-reduce
    (LangGraph's ``langgraph.types.Send``).
    """

    node: str
    """Name of the node to run."""
    arg: Any
    """The node's input for that task."""


N = TypeVar("N", bound=Hashable)


@dataclasses.dataclass(kw_only=True, slots=True, frozen=True)
class Command(Generic[N]):
    """What a node (or a tool run by ``ToolNode``) returns to update the state and choose where the run goes
    next, as LangGraph's ``langgraph.types.Command``.

    A node may return one ``Command``, or a list mixing commands and plain updates; each is applied in order.

    :param graph: None for the graph the node belongs to; :attr:`PARENT` applies ``update`` and ``goto`` in the
        closest parent graph instead, as if the node that runs this graph there had returned them (a node of
        the root graph gets :class:`~streamflow.errors.ParentCommand` raised to the caller, as in LangGraph)
    :param update: the node's update: a dict of state keys, a list of ``(key, value)`` pairs (a key may come
        more than once: each value goes through the key's reducer), an object with annotated attributes
        (a dataclass instance), or the new value of a root state
    :param resume: the value an interrupted run resumes with; only meaningful as a run's input
    :param goto: where to go next, in addition to the static edges: a node name, a :class:`Send`, or a list
        of them (``END`` is allowed and adds nothing)
    """

    graph: str | None = None
    update: Any | None = None
    resume: dict[str, Any] | Any | None = None
    goto: Send | Sequence[Send | N] | N = ()

    PARENT: ClassVar[Literal["__parent__"]] = "__parent__"
    """The value of ``graph`` that sends the command to the closest parent graph."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in dataclasses.asdict(self).items() if value)
        return f"Command({shown})"

    def _update_as_tuples(self) -> Sequence[tuple[str, Any]]:
        """``update`` as ``(key, value)`` pairs, as LangGraph reads it: a dict's items, a list of pairs as
        given, an object's annotated attributes, any other value as the root state's (``__root__``)."""
        update = self.update
        if isinstance(update, dict):
            return list(update.items())
        if isinstance(update, (list, tuple)) and all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) for item in update
        ):
            return update
        keys = annotated_keys(type(update))
        if keys:
            missing = object()
            found = ((key, getattr(update, key, missing)) for key in keys)
            return [(key, value) for key, value in found if value is not missing]
        if update is not None:
            return [("__root__", update)]
        return []


def annotated_keys(cls: type[Any]) -> tuple[str, ...]:
    """The names annotated on ``cls`` and its bases, base classes first (LangGraph reads an update object's
    keys so)."""
    keys: list[str] = []
    for base in reversed(cls.__mro__):
        keys.extend(key for key in inspect.get_annotations(base) if key not in keys)
    return tuple(keys)
