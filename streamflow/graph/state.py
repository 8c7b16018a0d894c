"""State schemas: the keys of a graph's state, their reducers, and how updates are applied.

A schema is a ``TypedDict`` or a dataclass. ``Annotated[type, reducer]`` gives a key a reducer
``reducer(current, update) -> new``; other keys are overwritten, and two writes to such a key in one
superstep are an error (as in LangGraph).
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import attrs

from ..errors import InvalidArgumentError, InvalidUpdateError

__all__ = ["StateSchema"]

Reducer = Callable[[Any, Any], Any]
_MISSING = object()
_CONCRETE: dict[Any, type[Any]] = {
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Set: set,
    collections.abc.MutableSet: set,
    collections.abc.Mapping: dict,
    collections.abc.MutableMapping: dict,
}
"""Abstract collection types a reducer key may be declared with -> the type its empty start value has (as in
LangGraph, so ``Annotated[Sequence[BaseMessage], add_messages]`` starts from ``[]`` and the reducer sees the
graph input too)."""


def _reducer_of(hint: Any) -> tuple[Reducer | None, Any]:
    """Return ``(reducer or None, initial value or _MISSING)`` for one key's type hint."""
    if get_origin(hint) is not Annotated:
        return None, _MISSING
    base, *extras = get_args(hint)
    reducers = [x for x in extras if callable(x)]
    if not reducers:
        return None, _MISSING
    origin = get_origin(base) or base
    origin = _CONCRETE.get(origin, origin)
    try:
        initial = origin() if isinstance(origin, type) else _MISSING
    except Exception:
        initial = _MISSING
    return reducers[-1], initial


@attrs.define(slots=True, eq=False)
class StateSchema:
    """What a state schema declares, read once when the graph is built."""

    schema: type[Any]
    """The TypedDict or dataclass."""
    keys: tuple[str, ...]
    """The state keys, in declaration order."""
    reducers: dict[str, Reducer]
    """Keys with a reducer."""
    initial: dict[str, Any]
    """Starting values: reducer keys whose type builds an empty value, dataclass defaults."""
    is_dataclass: bool
    """The schema is a dataclass (nodes receive an instance of it), not a TypedDict (nodes receive a dict)."""

    @classmethod
    def of(cls, schema: type[Any]) -> StateSchema:
        """Read ``schema``.

        :raises InvalidArgumentError: when ``schema`` is neither a TypedDict nor a dataclass
        """
        is_dc = dataclasses.is_dataclass(schema) and isinstance(schema, type)
        if not is_dc and not (
            isinstance(schema, type) and issubclass(schema, dict) and hasattr(schema, "__annotations__")
        ):
            raise InvalidArgumentError(f"a state schema must be a TypedDict or a dataclass, got {schema!r}")
        hints = get_type_hints(schema, include_extras=True)
        keys = tuple(hints)
        reducers: dict[str, Reducer] = {}
        initial: dict[str, Any] = {}
        for key, hint in hints.items():
            reducer, start = _reducer_of(hint)
            if reducer is not None:
                reducers[key] = reducer
                if start is not _MISSING:
                    initial[key] = start
        if is_dc:
            for f in dataclasses.fields(schema):
                if f.default is not dataclasses.MISSING:
                    initial[f.name] = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    initial[f.name] = f.default_factory()
        return cls(schema, keys, reducers, initial, is_dc)

    def check_update(self, update: Any, who: str) -> dict[str, Any] | None:
        """Return ``update`` as a dict (or None for no update).

        :raises InvalidUpdateError: when ``update`` is not a mapping (or a dataclass instance of the
            schema) or has a key outside the schema; the message names ``who`` and the allowed keys
        """
        if update is None:
            return None
        if self.is_dataclass and isinstance(update, self.schema):
            return {f.name: getattr(update, f.name) for f in dataclasses.fields(update)}
        if not isinstance(update, Mapping):
            raise InvalidUpdateError(
                f"{who} returned {type(update).__name__} {update!r}; expected a dict with keys among "
                f"{list(self.keys)} (or None for no update)"
            )
        bad = [k for k in update if k not in self.keys]
        if bad:
            raise InvalidUpdateError(
                f"{who} returned an update with unknown key(s) {bad}; the state schema "
                f"{getattr(self.schema, '__name__', self.schema)} allows {list(self.keys)}"
            )
        return update if type(update) is dict else dict(update)

    def check_input(self, graph_input: Any) -> dict[str, Any] | None:
        """Return the graph input as a dict of the schema's keys (or None for no input); keys the schema does
        not have are dropped, as LangGraph drops them.

        :raises InvalidUpdateError: when ``graph_input`` is not a mapping (or a dataclass instance of the
            schema)
        """
        if isinstance(graph_input, Mapping) and not (self.is_dataclass and isinstance(graph_input, self.schema)):
            keys = self.keys
            graph_input = {k: v for k, v in graph_input.items() if k in keys}
        return self.check_update(graph_input, "the graph input")

    def start(self) -> dict[str, Any]:
        """A new state holding the initial values."""
        return {k: copy.copy(v) for k, v in self.initial.items()}

    def apply(self, state: dict[str, Any], updates: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Apply ``(writer name, update)`` pairs to ``state`` in order, with the reducers.

        :raises InvalidUpdateError: when two writers set the same key without a reducer in one step
        """
        reducers = self.reducers
        written: dict[str, str] = {}
        for who, update in updates:
            for key, value in update.items():
                reducer = reducers.get(key)
                if reducer is None:
                    if key in written:
                        raise InvalidUpdateError(
                            f"{written[key]} and {who} both wrote state key {key!r} in one superstep; a key "
                            f"takes one value per step unless it has a reducer: Annotated[type, reducer]"
                        )
                    written[key] = who
                    state[key] = value
                elif key in state:
                    state[key] = reducer(state[key], value)
                else:
                    state[key] = value

    def ordered(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``state`` with its keys in schema order (as LangGraph prints state)."""
        return {k: state[k] for k in self.keys if k in state}

    def view(self, state: Mapping[str, Any]) -> Any:
        """The state as a node receives it: a dict copy, or a dataclass instance for a dataclass schema."""
        if self.is_dataclass:
            return self.schema(**{k: v for k, v in state.items() if k in self.keys})
        return dict(state)

    def project(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of ``values`` whose key this schema has (a subgraph's input or output)."""
        keys = self.keys
        return {k: v for k, v in values.items() if k in keys}
