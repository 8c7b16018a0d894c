"""State schemas: the keys of a graph's state, their reducers, and how updates are applied.

A schema is a ``TypedDict``, a dataclass or a pydantic model (``pydantic.BaseModel``). Nodes of a dataclass
or pydantic schema receive an instance built from the state (pydantic validates it); a pydantic input schema
validates the state the graph input makes before anything is streamed, raising pydantic's
``ValidationError``, as in LangGraph. ``Annotated[type, reducer]`` gives a key a reducer
``reducer(current, update) -> new``; other keys are overwritten, and two writes to such a key in one
superstep are an error (as in LangGraph).

A type with no annotations (``list``, ``int``, ``Annotated[list, operator.add]``) makes a root state, as in
LangGraph: the state is that one value (kept under the key ``"__root__"``), nodes receive it and return its
new value (or None for no update).

Besides the state schema, a graph may have an input schema, an output schema and nodes with schemas of
their own: every key any of them declares is a key of the state (a channel, in LangGraph's words).
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import attrs

from ..errors import InvalidArgumentError, InvalidUpdateError
from ..modes import StateCoercion

__all__ = ["ROOT", "NodeInput", "StateSchema", "is_state_schema"]

ROOT = "__root__"
"""The key a root state (a schema with no keys, such as ``Annotated[list, operator.add]``) is kept under."""

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


def _check_reducer(reducer: Reducer, key: str) -> None:
    """Refuse a reducer that does not take two positional arguments, as LangGraph's ``StateGraph()`` does.

    :raises InvalidArgumentError: LangGraph's ``"Invalid reducer signature. Expected (a, b) -> c. Got
        (left)"``, naming the key
    """
    try:
        params = inspect.signature(reducer).parameters.values()
    except (TypeError, ValueError):
        return  # a builtin without a signature: nothing to check
    positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if positional != 2:
        raise InvalidArgumentError(
            f"Invalid reducer signature. Expected (a, b) -> c. Got {inspect.signature(reducer)} (the reducer "
            f"of state key {key!r} must take the current value and the update)"
        )


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


def is_pydantic_model(schema: Any) -> bool:
    """``schema`` is a pydantic model class (pydantic is imported only where a program uses it)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)


def is_instance_schema(schema: Any) -> bool:
    """Nodes receive an instance of ``schema`` (a dataclass or a pydantic model), not a dict."""
    return isinstance(schema, type) and (dataclasses.is_dataclass(schema) or is_pydantic_model(schema))


def _is_keyed(schema: Any) -> bool:
    """``schema`` is a TypedDict, a dataclass or a pydantic model (a schema with keys)."""
    if not isinstance(schema, type):
        return False
    if is_instance_schema(schema):
        return True
    return issubclass(schema, dict) and hasattr(schema, "__annotations__")


def _fields_of(instance: Any) -> dict[str, Any] | None:
    """The fields of a dataclass or pydantic model instance, by name (None for anything else)."""
    if dataclasses.is_dataclass(instance) and not isinstance(instance, type):
        return {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}
    if is_pydantic_model(type(instance)):
        return {name: getattr(instance, name) for name in type(instance).model_fields}
    return None


def _is_root(schema: Any) -> bool:
    """``schema`` is a type without annotations, or ``Annotated[type, ...]`` of one (a root state)."""
    if get_origin(schema) is Annotated:
        schema = get_args(schema)[0]
    base = get_origin(schema) or schema
    return isinstance(base, type) and not hasattr(base, "__annotations__")


def _annotated(cls: type[Any]) -> bool:
    """``cls`` or a base declares annotations (its instances are read attribute by attribute as updates)."""
    return any(inspect.get_annotations(base) for base in cls.__mro__ if base is not object)


def is_state_schema(schema: Any) -> bool:
    """``schema`` can be a state schema: a TypedDict, a dataclass, a pydantic model, or a root type (see the
    module)."""
    return _is_keyed(schema) or _is_root(schema)


def _read(schema: Any, what: str) -> tuple[tuple[str, ...], dict[str, Reducer], dict[str, Any]]:
    """``(keys, reducers, initial values)`` that ``schema`` declares.

    :raises InvalidArgumentError: when ``schema`` is neither a TypedDict, a dataclass, a pydantic model nor a
        root type, or
        declares a reducer that does not take two positional arguments
    """
    if is_pydantic_model(schema):
        hints = get_type_hints(schema, include_extras=True)
        items = [(name, hints.get(name, Any)) for name in schema.model_fields]
    elif _is_keyed(schema):
        hints = get_type_hints(schema, include_extras=True)
        items = list(hints.items())
    elif _is_root(schema):
        items = [(ROOT, schema)]
    else:
        raise InvalidArgumentError(
            f"{what} must be a TypedDict, a dataclass, a pydantic model, or a type for a root state (such as "
            f"list or Annotated[list, operator.add]), got {schema!r}"
        )
    reducers: dict[str, Reducer] = {}
    initial: dict[str, Any] = {}
    for key, hint in items:
        reducer, start = _reducer_of(hint)
        if reducer is not None:
            _check_reducer(reducer, key)
            reducers[key] = reducer
            if start is not _MISSING:
                initial[key] = start
    return tuple(k for k, _ in items), reducers, initial


@attrs.define(slots=True, eq=False)
class NodeInput:
    """What a node with a schema of its own receives: the keys of that schema (as a dict, or an instance
    when the schema is a dataclass)."""

    schema: type[Any]
    """The node's input schema."""
    keys: tuple[str, ...]
    """Its keys, in declaration order."""

    def view(self, state: Mapping[str, Any]) -> Any:
        """The node's input: the entries of ``state`` it declares.

        :raises pydantic.ValidationError: when the schema is a pydantic model the values do not fit
        """
        values = {k: state[k] for k in self.keys if k in state}
        if is_instance_schema(self.schema):
            return self.schema(**values)
        return values


@attrs.define(slots=True, eq=False)
class StateSchema:
    """What a graph's schemas declare, read once when the graph is built."""

    schema: Any
    """The state schema: a TypedDict, a dataclass, a pydantic model, or a root type."""
    keys: tuple[str, ...] = attrs.field(on_setattr=lambda schema, _, keys: schema._keys_changed(keys))
    """Every state key (channel): the state schema's, then the input, output and node schemas' new ones."""
    reducers: dict[str, Reducer]
    """Keys with a reducer."""
    initial: dict[str, Any]
    """Starting values: reducer keys whose type builds an empty value. (A dataclass schema's defaults are no
    state values: they fill in the instance a node receives, as in LangGraph.)"""
    is_instance: bool
    """The schema is a dataclass or a pydantic model (nodes receive an instance of it), not a TypedDict (nodes
    receive a dict)."""
    state_keys: tuple[str, ...] = ()
    """The state schema's keys: what nodes without a schema of their own, and conditional edges, receive."""
    input_keys: tuple[str, ...] = ()
    """The input schema's keys: the graph input is filtered to these."""
    output_keys: tuple[str, ...] = ()
    """The output schema's keys: a run's result (what ``invoke`` returns) has these."""
    root: bool = False
    """The state is one value (kept under :data:`ROOT`), not a mapping of keys."""
    input_model: Any = None
    """The input schema when it is a pydantic model (the state the graph input makes is validated by it)."""
    coercion: StateCoercion | None = None
    """How v2 parts and ``invoke(version="v2")`` show the state when the state or output schema is a dataclass
    or pydantic model (None: as dicts)."""
    _key_set: frozenset[str] = attrs.field(init=False, repr=False)
    """:attr:`keys` as a set, for :meth:`takes_as_is` (kept up to date when :attr:`keys` is set)."""

    @_key_set.default
    def _key_set_default(self) -> frozenset[str]:
        return frozenset(self.keys)

    def _keys_changed(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        self._key_set = frozenset(keys)
        return keys

    @classmethod
    def of(cls, schema: Any, *, input_schema: Any | None = None, output_schema: Any | None = None) -> StateSchema:
        """Read ``schema`` (and the graph's input and output schemas, which default to it).

        :raises InvalidArgumentError: when a schema is neither a TypedDict, a dataclass, a pydantic model nor a
            root type, or
            when a root state schema comes with an input or output schema that has keys (or the other way
            round)
        """
        keys, reducers, initial = _read(schema, "a state schema")
        state = cls(schema, keys, reducers, initial, is_instance_schema(schema), keys, keys, keys, root=keys == (ROOT,))
        if input_schema is not None:
            state.input_keys = state.add(input_schema, "the input schema")
        given = schema if input_schema is None else input_schema
        state.input_model = given if is_pydantic_model(given) else None
        output = schema if output_schema is None else output_schema
        if not state.root and (is_instance_schema(schema) or is_instance_schema(output)):
            state.coercion = StateCoercion(
                output if is_instance_schema(output) else None, schema if is_instance_schema(schema) else None
            )
        if output_schema is not None:
            state.output_keys = state.add(output_schema, "the output schema")
        return state

    def add(self, schema: Any, what: str) -> tuple[str, ...]:
        """Add the keys ``schema`` declares that the state does not have yet (with their reducers and start
        values) and return all its keys.

        :raises InvalidArgumentError: when ``schema`` is not a schema, or mixes a root state with keys
        """
        keys, reducers, initial = _read(schema, what)
        if (keys == (ROOT,)) != self.root:
            raise InvalidArgumentError(
                f"{what} {schema!r} and the state schema {self.schema!r} must both be root types or both have "
                "keys (TypedDict or dataclass)"
            )
        new = [k for k in keys if k not in self.keys]
        self.keys = (*self.keys, *new)
        for k in new:
            if k in reducers:
                self.reducers[k] = reducers[k]
            if k in initial:
                self.initial[k] = initial[k]
        return keys

    def node_input(self, schema: Any) -> NodeInput:
        """Add a node's input schema's keys to the state; return what the node receives.

        :raises InvalidArgumentError: when ``schema`` is neither a TypedDict nor a dataclass (or is a root type
            while the state has keys)
        """
        return NodeInput(schema, self.add(schema, "a node's input schema"))

    def copy(self) -> StateSchema:
        """A copy that later :meth:`add` calls on this one leave unchanged."""
        return attrs.evolve(self, reducers=dict(self.reducers), initial=dict(self.initial))

    def takes_as_is(self, update: dict[str, Any]) -> bool:
        """Whether :meth:`check_update` takes the dict ``update`` as it is (or None when it is empty): the
        state has keys (it is not a root state) and every key of ``update`` is a state key. A cheap check
        that raises nothing; call :meth:`check_update` when it is False."""
        return not self.root and self._key_set.issuperset(update)

    def check_update(self, update: Any, who: str) -> dict[str, Any] | None:
        """Return ``update`` as a dict of state keys (or None for no update: None, or an empty mapping).

        For a root state any value but None is the new value, returned as ``{ROOT: update}``. An instance of
        a class with annotations (a dataclass) updates the state keys it has attributes for, in state key order
        (as LangGraph reads it).

        :raises InvalidUpdateError: when ``update`` is not a mapping (or an instance of a class with
            annotations) or has a key outside the state; the message names ``who`` and the allowed keys
        """
        if update is None:
            return None
        if self.root:
            return {ROOT: update}
        if not isinstance(update, Mapping) and _annotated(type(update)):
            missing = object()
            found = {k: getattr(update, k, missing) for k in self.keys}
            return {k: v for k, v in found.items() if v is not missing} or None
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
        if not update:
            return None
        return update if type(update) is dict else dict(update)

    def check_input(self, graph_input: Any) -> dict[str, Any] | None:
        """Return the graph input as a dict of the input schema's keys (or None for no input); keys it does
        not have are dropped, as LangGraph drops them. A root state takes any value but None as is.

        :raises InvalidUpdateError: when ``graph_input`` is not a mapping (or a dataclass or pydantic model
            instance)
        """
        if graph_input is None or self.root:
            return self.check_update(graph_input, "the graph input")
        fields = _fields_of(graph_input)
        if fields is not None:
            graph_input = fields
        if isinstance(graph_input, Mapping):
            keys = self.input_keys
            graph_input = {k: v for k, v in graph_input.items() if k in keys}
        return self.check_update(graph_input, "the graph input")

    def check_input_state(self, state: Mapping[str, Any]) -> None:
        """Validate the state the graph input made (its input schema's keys) by a pydantic input schema, as
        LangGraph does before it streams anything; nothing for other schemas.

        :raises pydantic.ValidationError: when the values do not make an instance of the input schema
        """
        if self.input_model is not None:
            self.input_model(**{k: v for k, v in state.items() if k in self.input_keys})

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
                            f"At key '{key}': Can receive only one value per step. Use an Annotated key to "
                            f"handle multiple values. ({written[key]} and {who} both wrote it in one superstep; "
                            "give it a reducer: Annotated[type, reducer])"
                        )
                    written[key] = who
                    state[key] = value
                elif key in state:
                    state[key] = reducer(state[key], value)
                else:
                    state[key] = value

    def ordered(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of ``state`` of the state schema's keys, in its order (as LangGraph gives a node)."""
        return {k: state[k] for k in self.state_keys if k in state}

    def values(self, state: Mapping[str, Any], keys: Iterable[str]) -> Any:
        """The state as a ``values`` chunk shows it: the entries of ``keys`` that have a value, in that order
        (the root value for a root state)."""
        if self.root:
            return state.get(ROOT)
        return {k: state[k] for k in keys if k in state}

    def output(self, state: Mapping[str, Any]) -> Any:
        """The state as a run's result: the output schema's keys that have a value (the root value for a
        root state)."""
        if self.root:
            return state.get(ROOT)
        return {k: state[k] for k in self.output_keys if k in state}

    def view(self, state: Mapping[str, Any]) -> Any:
        """The state as a node receives it: a dict of the state schema's keys, an instance of a dataclass
        schema, or the root value."""
        if self.root:
            return state.get(ROOT)
        if self.is_instance:
            return self.schema(**{k: v for k, v in state.items() if k in self.state_keys})
        return self.ordered(state)

    def unwrap(self, update: dict[str, Any] | None) -> Any:
        """An update as a node gave it: the root value for a root state, else ``update`` itself."""
        if self.root and update is not None:
            return update[ROOT]
        return update

    def project(self, values: Any) -> Any:
        """The entries of ``values`` whose key the state has (a subgraph's output, as its parent takes it);
        anything else, for a root state or ``values`` that is not a mapping, unchanged."""
        if self.root or not isinstance(values, Mapping):
            return values
        keys = self.keys
        return {k: v for k, v in values.items() if k in keys}
