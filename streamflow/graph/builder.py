"""``StateGraph``: build a graph of nodes and edges, then ``compile()`` it (LangGraph's builder API)."""

from __future__ import annotations

import inspect
import itertools
import types
import typing
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from ..errors import InvalidGraphError
from .compiled import CompiledStateGraph
from .constants import END, RESERVED_CHARS, START, Command
from .specs import Branch, GraphSpec, NodeSpec, inferred_input_schema, node_name
from .state import StateSchema

__all__ = ["StateGraph"]


class StateGraph:
    """A graph whose nodes read a shared state and return updates to it.

    :param state_schema: a ``TypedDict`` or dataclass; ``Annotated[type, reducer]`` keys merge updates with
        ``reducer(current, update)``, other keys are overwritten. A type without annotations (``list``,
        ``Annotated[list, operator.add]``) makes the state that one value: nodes receive it and return its
        new value (as in LangGraph).
    :param context_schema: the type of the run context (``invoke(..., context=...)``, a node's
        ``runtime.context``): a dataclass or pydantic model (a dict context is made into one), a TypedDict, or
        None; not checked, as in LangGraph. ``config_schema=`` is its deprecated name (a DeprecationWarning)
    :param input_schema: the keys the graph input may set (default: ``state_schema``'s); other keys of the
        input are dropped
    :param output_schema: the keys a run's result has (what ``invoke`` returns; default: ``state_schema``'s)
    :param input: deprecated name of ``input_schema`` (warns ``DeprecationWarning``, as LangGraph does)
    :param output: deprecated name of ``output_schema`` (warns ``DeprecationWarning``)

    Every key an input, output or node schema declares is a key of the state: nodes may write it, and the
    ``values`` stream mode shows it once it has a value (as in LangGraph).

    :raises InvalidArgumentError: when a schema is neither a TypedDict, a dataclass nor a type without
        annotations, or a root state schema comes with input or output schemas that have keys
    :raises TypeError: for another keyword argument

    Every builder method returns the builder, so calls chain (as in LangGraph).
    """

    def __init__(
        self,
        state_schema: Any,
        context_schema: type[Any] | None = None,
        *,
        input_schema: Any | None = None,
        output_schema: Any | None = None,
        **kwargs: Any,
    ) -> None:
        for old, new in (("config_schema", "context_schema"), ("input", "input_schema"), ("output", "output_schema")):
            if old not in kwargs:
                continue
            warnings.warn(
                f"`{old}` is deprecated and will be removed. Please use `{new}` instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            value = kwargs.pop(old)
            if old == "config_schema" and context_schema is None:
                context_schema = value
            elif old == "input" and input_schema is None:
                input_schema = value
            elif old == "output" and output_schema is None:
                output_schema = value
        if kwargs:
            raise TypeError(
                f"StateGraph() got unexpected keyword argument(s) {sorted(kwargs)}; it takes state_schema, "
                "context_schema, input_schema and output_schema"
            )
        self.context_schema = context_schema
        self.schema = StateSchema.of(state_schema, input_schema=input_schema, output_schema=output_schema)
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[tuple[str, str]] = []
        self.joins: list[tuple[tuple[str, ...], str]] = []
        self.branches: list[Branch] = []
        self.destinations: dict[str, tuple[str, ...]] = {}
        """Where each node's ``Command(goto=...)`` may go, as ``add_node(..., destinations=...)`` or its
        ``Command[Literal[...]]`` return annotation says (checked by :meth:`compile`)."""

    def add_node(
        self,
        node: str | Callable[..., Any] | CompiledStateGraph,
        action: Callable[..., Any] | CompiledStateGraph | None = None,
        *,
        input_schema: type[Any] | None = None,
        destinations: dict[str, str] | tuple[str, ...] | None = None,
    ) -> StateGraph:
        """Add a node: ``add_node("name", fn)`` or ``add_node(fn)`` (named after the function).

        ``fn`` is a sync function (run in a worker thread), an async function, or a compiled graph (run as a
        subgraph). It is called with the state, plus ``config``, ``writer`` (or any parameter annotated
        ``StreamWriter``), ``runtime`` (a :class:`~streamflow.runtime.Runtime`), ``store`` and ``previous``
        (None) when it declares them, and returns a dict of state updates, None, or a
        :class:`~streamflow.types.Command` (or a list of them) to update the state and choose where to go. A
        ``str`` Enum member as the name names the node by its value (as in LangGraph).

        ``destinations`` (a tuple of names, or a dict of names to labels) names the nodes a node's
        ``Command(goto=...)`` may go to, as does a ``Command[Literal["a", "b"]]`` return annotation; LangGraph
        draws the graph with them. Here, as there, :meth:`compile` checks that they are nodes (or END); they
        do not limit where the node's commands go.

        ``input_schema`` (a TypedDict or dataclass) is what the node (a subgraph too) receives: the state's
        values of its keys only. Without it, a plain function whose first parameter is annotated with a
        TypedDict or dataclass gets that as its input schema (as in LangGraph). Its keys become keys of the
        state, so any node may write them.

        :raises InvalidArgumentError: for an ``input_schema`` that is neither a TypedDict nor a dataclass
        :raises InvalidGraphError: for a duplicate name, a reserved name (``START``, ``END``) or a name
            containing ``:`` or ``|``, or a missing action
        :raises TypeError: for an action that is neither callable nor a compiled graph (as LangGraph raises)
        """
        if action is None and not isinstance(node, str):
            action = node
            node = getattr(action, "name", None) or getattr(action, "__name__", None) or ""
        name = str(node_name(node))
        if name in (START, END):
            raise InvalidGraphError(f"node name {name!r} is reserved; choose another name")
        if any(c in name for c in RESERVED_CHARS) or not name:
            raise InvalidGraphError(
                f"node name {name!r} is not allowed: it must be non-empty and contain none of {RESERVED_CHARS}"
            )
        if name in self.nodes:
            raise InvalidGraphError(f"a node named {name!r} already exists; node names must be unique")
        if action is None:
            raise InvalidGraphError(f"node {name!r} has no action: add_node({name!r}, fn) with a function or graph")
        schema = input_schema
        if isinstance(action, GraphSpec):
            spec = NodeSpec.of_subgraph(name, action)
        else:
            spec = NodeSpec.of(name, action)
            if schema is None and not self.schema.root:
                schema = inferred_input_schema(action)
        if schema is not None and schema is not self.schema.schema:
            spec.input = self.schema.node_input(schema)
        self.nodes[name] = spec
        ends = _command_ends(action) if destinations is None else tuple(destinations)
        if ends:
            self.destinations[name] = ends
        return self

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        """Run ``end_key`` in the superstep after ``start_key`` ran; with a list of starts, after all of them
        ran (fan-in). Nodes are checked at :meth:`compile`; ``str`` Enum members stand for their values.

        :raises InvalidGraphError: for a fan-in edge with no start
        """
        end_key = node_name(end_key)
        if isinstance(start_key, str):
            self.edges.append((node_name(start_key), end_key))
        else:
            starts = tuple(node_name(s) for s in start_key)
            if not starts:
                raise InvalidGraphError(f"add_edge([], {end_key!r}): a fan-in edge needs at least one start")
            if len(starts) == 1:
                self.edges.append((starts[0], end_key))
            else:
                self.joins.append((starts, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """After ``source`` runs, call ``path(state)`` (sync or async; with ``runtime=`` when it declares a
        ``runtime`` parameter, as in LangGraph) and go where it says.

        ``path`` returns a node name, ``END``, a ``Send``, or a list of those. ``path_map`` maps its return
        values to node names (a list means the names themselves). ``str`` Enum members stand for their
        values. Targets are checked at :meth:`compile`.
        """
        source = node_name(source)
        mapping: dict[Hashable, str] | None
        if path_map is None:
            mapping = None
        elif isinstance(path_map, Mapping):
            mapping = {key: node_name(target) for key, target in path_map.items()}
        else:
            mapping = {}
            for target in path_map:
                mapping[target] = mapping[node_name(target)] = node_name(target)
        name = getattr(path, "__name__", None) or type(path).__name__
        if name == "<lambda>":
            name = "condition"
        is_async = inspect.iscoroutinefunction(path)
        self.branches.append(Branch(source, path, mapping, is_async, name))
        return self

    def add_sequence(
        self,
        nodes: Sequence[Callable[..., Any] | CompiledStateGraph | tuple[str, Callable[..., Any] | CompiledStateGraph]],
    ) -> StateGraph:
        """Add ``nodes`` and an edge from each to the next, so they run one after the other.

        Each item is a function or compiled graph (named as :meth:`add_node` names it) or a ``(name, action)``
        pair. No edge is added from ``START`` or to ``END``.

        :raises InvalidGraphError: for an empty sequence, or a name :meth:`add_node` refuses (a duplicate: give
            two lambdas distinct names with ``(name, fn)`` pairs)
        :raises TypeError: for ``nodes`` that is a string or mapping, or an item that is neither a callable, a
            compiled graph nor a ``(name, action)`` pair (as LangGraph raises)
        """
        if isinstance(nodes, (str, Mapping)) or not isinstance(nodes, Sequence):
            raise TypeError(
                f"add_sequence takes a list of nodes (functions, compiled graphs or (name, action) pairs), "
                f"got {type(nodes).__name__}"
            )
        if not nodes:
            raise InvalidGraphError("add_sequence([]): a sequence needs at least one node")
        names: list[str] = []
        for item in nodes:
            if isinstance(item, tuple):
                if len(item) != 2 or not isinstance(item[0], str):
                    raise TypeError(f"add_sequence: a tuple item must be a (name, action) pair, got {item!r}")
                name, action = item
            elif callable(item) or isinstance(item, GraphSpec):
                action = item
                name = getattr(item, "name", None) or getattr(item, "__name__", None) or ""
            else:
                raise TypeError(
                    f"add_sequence: {item!r} is not a node; pass a function, a compiled graph or a (name, action) pair"
                )
            self.add_node(name, action)
            names.append(str(node_name(name)))
        for a, b in itertools.pairwise(names):
            self.add_edge(a, b)
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        """Same as ``add_edge(START, key)``."""
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """Same as ``add_conditional_edges(START, path, path_map)``: ``path(input state)`` picks the first
        node(s)."""
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        """Same as ``add_edge(key, END)``."""
        return self.add_edge(key, END)

    def compile(self, *, name: str | None = None) -> CompiledStateGraph:
        """Check the graph and return it ready to run.

        :param name: the graph's name, as its runs' ``RunStarted`` events and ``astream_events`` show it
            (default ``"LangGraph"``, as in LangGraph)

        A node that no edge reaches is accepted (it never runs), as LangGraph accepts it.

        :raises InvalidGraphError: for an edge from or to an unknown node, no edge from ``START``, or a path
            map or a node's destinations naming an unknown node; the message names it
        """
        known = set(self.nodes)
        hint = f"; known nodes: {sorted(known)}"

        def check_source(node: str, what: str) -> None:
            if node != START and node not in known:
                raise InvalidGraphError(f"{what} starts at unknown node {node!r}{hint}")

        def check_target(node: str, what: str) -> None:
            if node != END and node not in known:
                raise InvalidGraphError(f"{what} goes to unknown node {node!r}{hint}")

        for a, b in self.edges:
            if a == END:
                raise InvalidGraphError(f"edge {a!r} -> {b!r}: END has no outgoing edges")
            if b == START:
                raise InvalidGraphError(f"edge {a!r} -> {b!r}: START cannot be an edge's target")
            check_source(a, f"edge {a!r} -> {b!r}")
            check_target(b, f"edge {a!r} -> {b!r}")
        for starts, b in self.joins:
            for a in starts:
                if a in (START, END):
                    raise InvalidGraphError(f"fan-in edge {list(starts)} -> {b!r} cannot start at {a!r}")
                check_source(a, f"fan-in edge {list(starts)} -> {b!r}")
            check_target(b, f"fan-in edge {list(starts)} -> {b!r}")
        for br in self.branches:
            check_source(br.source, f"conditional edge {br.name!r} from {br.source!r}")
            for t in br.targets() or ():
                check_target(t, f"conditional edge {br.name!r} from {br.source!r}")
        for source, ends in self.destinations.items():
            for t in ends:
                check_target(t, f"a Command of node {source!r} (its destinations)")

        if not any(a == START for a, _ in self.edges) and not any(b.source == START for b in self.branches):
            raise InvalidGraphError(
                "the graph has no entry point: add an edge from START, e.g. add_edge(START, "
                f"{next(iter(self.nodes), 'node')!r})"
            )
        graph = CompiledStateGraph.of(
            name or "LangGraph", self.schema.copy(), self.nodes, self.edges, self.joins, self.branches
        )
        graph.context_schema = self.context_schema
        return graph


def _command_ends(action: Any) -> tuple[str, ...]:
    """The node names of ``action``'s ``Command[Literal[...]]`` return annotation (alone or in a union), as
    LangGraph reads a node's destinations from it; () when it has none or its hints cannot be resolved."""
    try:
        hints = typing.get_type_hints(action if inspect.isroutine(action) else type(action).__call__)
    except Exception:  # unresolvable hints: LangGraph ignores them too
        return ()
    returned = hints.get("return")
    options = (
        typing.get_args(returned)
        if isinstance(returned, types.UnionType) or (typing.get_origin(returned) is typing.Union)
        else (returned,)
    )
    for option in options:
        args = typing.get_args(option) if typing.get_origin(option) is Command else ()
        if args and typing.get_origin(args[0]) is typing.Literal:
            return tuple(str(node_name(value)) for value in typing.get_args(args[0]))
    return ()
