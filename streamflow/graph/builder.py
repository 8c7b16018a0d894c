"""``StateGraph``: build a graph of nodes and edges, then ``compile()`` it (LangGraph's builder API)."""

from __future__ import annotations

import inspect
import itertools
import types
import typing
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from ..checkpoint.base import BaseCheckpointSaver
from ..errors import InvalidArgumentError, InvalidGraphError
from .compiled import CompiledStateGraph
from .constants import END, RESERVED_CHARS, START, Command
from .specs import Branch, GraphSpec, NodeSpec, inferred_input_schema, node_name
from .state import StateSchema
from .thread_config import check_breakpoints

__all__ = ["StateGraph"]

_UNSUPPORTED = ("metadata", "retry_policy", "retry", "cache_policy", "error_handler", "timeout", "trace_policy")
"""LangGraph ``add_node`` keywords streamflow does not honour: refused when given a value."""


def _refuse_unsupported(kwargs: dict[str, Any]) -> None:
    """Refuse ``add_node`` keywords streamflow does not support (when given a value) or does not know.

    :raises InvalidArgumentError: for a supported-by-LangGraph keyword given a value other than None
    :raises TypeError: for a keyword LangGraph does not take either
    """
    unknown = sorted(k for k in kwargs if k not in _UNSUPPORTED)
    if unknown:
        raise TypeError(
            f"add_node() got unexpected keyword argument(s) {unknown}; it takes defer, input_schema and destinations"
        )
    given = [k for k in _UNSUPPORTED if kwargs.get(k) not in (None, {}, ())]
    if given:
        raise InvalidArgumentError(
            f"add_node(): {', '.join(given)} not supported by streamflow (LangGraph's add_node takes them); "
            "supported keywords are defer, input_schema and destinations"
        )


def _default_name(action: Any) -> str:
    """The name LangGraph gives a node added without one: a graph's (or Runnable's) name, else ``__name__``,
    else the class name."""
    if isinstance(action, GraphSpec):
        return action.name
    get_name = getattr(action, "get_name", None)
    if callable(get_name) and callable(getattr(action, "invoke", None)):
        return str(get_name())
    tool_name = getattr(action, "name", None)
    if isinstance(tool_name, str) and tool_name and callable(getattr(action, "ainvoke", None)):
        return tool_name  # a tool, named as its Runnable is
    return str(getattr(action, "__name__", type(action).__name__))


def _runnable_action(runnable: Any) -> Callable[[Any], Any]:
    """A node action for an object with ``ainvoke`` that is not callable (a tool, as LangGraph runs a
    Runnable node): called with the state, it returns what ``ainvoke(state)`` returns."""
    ainvoke = runnable.ainvoke

    async def run(state: Any) -> Any:
        return await ainvoke(state)

    run.__name__ = _default_name(runnable)
    return run


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

    :raises InvalidArgumentError: when a schema is neither a TypedDict, a dataclass, a pydantic model nor a type
        without annotations, a root state schema comes with input or output schemas that have keys, or a reducer
        does not take two positional arguments (LangGraph's ``"Invalid reducer signature. Expected (a, b) ->
        c. Got (left)"``, naming the key)
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
        node: str | Callable[..., Any] | CompiledStateGraph | Any,
        action: Callable[..., Any] | CompiledStateGraph | Any | None = None,
        *,
        defer: bool = False,
        input_schema: type[Any] | None = None,
        destinations: Mapping[str, str] | tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> StateGraph:
        """Add a node: ``add_node("name", fn)`` or ``add_node(fn)``.

        ``fn`` is a sync function (run in a worker thread), an async function, a callable instance, or a
        compiled graph (run as a subgraph). It is called with the state, plus ``config``, ``writer`` (or any
        parameter annotated ``StreamWriter``), ``runtime`` (a :class:`~streamflow.runtime.Runtime`), ``store``
        and ``previous`` (None) when it declares them, and returns a dict of state updates, None, or a
        :class:`~streamflow.types.Command` (or a list of them) to update the state and choose where to go.

        Without a name, the node is named as LangGraph names it: a compiled graph by its name, anything else by
        its ``__name__`` (``"<lambda>"`` for a lambda), or else by its class name (a callable instance, a
        ``functools.partial`` is ``"partial"``). A ``str`` Enum member as the name names the node by its value.

        ``input_schema`` (a TypedDict or dataclass) is what the node (a subgraph too) receives: the state's
        values of its keys only. Without it, a function, method or callable instance whose first parameter is
        annotated with a TypedDict or dataclass gets that as its input schema (as in LangGraph). Its keys become
        keys of the state, so any node may write them. ``input=`` is its deprecated name (a DeprecationWarning).

        ``defer=True`` holds the node back until the run is about to end: once it is triggered, it runs in the
        first superstep that would otherwise have no task (as LangGraph 1.x defers it).

        ``destinations`` (a tuple of names, or a dict of names to labels) names the nodes a node's
        ``Command(goto=...)`` may go to, as does a ``Command[Literal["a", "b"]]`` return annotation; LangGraph
        draws the graph with them. Here, as there, :meth:`compile` checks that they are nodes (or END); they
        do not limit where the node's commands go.

        :raises InvalidArgumentError: for an ``input_schema`` that is neither a TypedDict nor a dataclass, or
            one of LangGraph's ``metadata``, ``retry_policy``/``retry``, ``cache_policy``, ``error_handler``,
            ``timeout`` or ``trace_policy`` given a value: they are not supported (the message names them)
        :raises InvalidGraphError: for a duplicate name (``"Node `a` already present."``), a reserved name
            (``START``, ``END``: ``"Node `__end__` is reserved."``), a name containing ``:`` or ``|``, an
            empty name, or a missing action (LangGraph's sentences, plus what is allowed)
        An object that is not callable but has ``ainvoke`` (a tool) runs as LangGraph runs a Runnable node:
        ``ainvoke(state)``, named by its ``name``.

        :raises TypeError: for an action that is neither callable nor a compiled graph (as LangGraph raises),
            or a keyword LangGraph's ``add_node`` does not take either
        """
        if "input" in kwargs:
            warnings.warn(
                "`input` is deprecated and will be removed. Please use `input_schema` instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            value = kwargs.pop("input")
            if input_schema is None:
                input_schema = value
        _refuse_unsupported(kwargs)
        if action is None and not isinstance(node, str):
            action = node
            node = _default_name(action)
        name = str(node_name(node))
        if name in (START, END):
            raise InvalidGraphError(f"Node `{name}` is reserved. START and END cannot name a node; choose another")
        for character in RESERVED_CHARS:
            if character in name:
                raise InvalidGraphError(
                    f"'{character}' is a reserved character and is not allowed in the node names (node {name!r})."
                )
        if not name:
            raise InvalidGraphError("a node name must not be empty")
        if name in self.nodes:
            raise InvalidGraphError(
                f"Node `{name}` already present. A node named {name!r} already exists; node names must be unique"
            )
        if action is None:
            raise InvalidGraphError(f"node {name!r} has no action: add_node({name!r}, fn) with a function or graph")
        schema = input_schema
        if isinstance(action, GraphSpec):
            spec = NodeSpec.of_subgraph(name, action)
        else:
            if not callable(action) and callable(getattr(action, "ainvoke", None)):
                action = _runnable_action(action)
            spec = NodeSpec.of(name, action)
            if schema is None and not self.schema.root:
                schema = inferred_input_schema(action)
        if schema is not None and schema is not self.schema.schema:
            spec.input = self.schema.node_input(schema)
        spec.defer = bool(defer)
        self.nodes[name] = spec
        ends = _command_ends(action) if destinations is None else tuple(destinations)
        if ends:
            self.destinations[name] = ends
        return self

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        """Run ``end_key`` in the superstep after ``start_key`` ran; with a list of starts, after all of them
        ran (fan-in). ``str`` Enum members stand for their values. A plain edge's nodes are checked at
        :meth:`compile`; a fan-in edge's when it is added, as in LangGraph.

        :raises InvalidGraphError: for an edge from ``END`` (``"END cannot be a start node"``) or to ``START``
            (``"START cannot be an end node"``); for a fan-in edge with no start, or with a start or end that
            is not a node yet (``"Need to add_node `a` first"``) (LangGraph's sentences)
        """
        end_key = node_name(end_key)
        if end_key == START:
            raise InvalidGraphError(f"START cannot be an end node (edge {start_key!r} -> {end_key!r})")
        if isinstance(start_key, str):
            start: str = node_name(start_key)
            if start == END:
                raise InvalidGraphError(f"END cannot be a start node (edge {start!r} -> {end_key!r})")
            self.edges.append((start, end_key))
            return self
        starts = tuple(node_name(s) for s in start_key)
        if not starts:
            raise InvalidGraphError(f"add_edge([], {end_key!r}): a fan-in edge needs at least one start")
        for one in starts:
            if one == END:
                raise InvalidGraphError(f"END cannot be a start node (fan-in edge {list(starts)} -> {end_key!r})")
            if one not in self.nodes:
                raise InvalidGraphError(
                    f"Need to add_node `{one}` first (fan-in edge {list(starts)} -> {end_key!r}); known nodes: "
                    f"{sorted(self.nodes)}"
                )
        if end_key != END and end_key not in self.nodes:
            raise InvalidGraphError(
                f"Need to add_node `{end_key}` first (fan-in edge {list(starts)} -> {end_key!r}); known nodes: "
                f"{sorted(self.nodes)}"
            )
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
        ``runtime`` parameter, as in LangGraph) and go where it says. As LangGraph routes inside the source's
        task, ``path`` runs in it: its ``runtime``, ``get_runtime()`` and ``get_config()`` are the source
        task's (LangGraph's hidden ``__start__`` task's, step 0, for ``START``).

        ``path`` returns a node name, ``END``, a ``Send``, or a list of those. ``path_map`` maps its return
        values to node names (a list means the names themselves). ``str`` Enum members stand for their
        values. Targets are checked at :meth:`compile`.

        As in LangGraph, ``path`` runs inside ``source``'s task, once the node returned: it receives the state
        before the step with that task's own update applied (not the updates of the step's other tasks), and
        what it gives its stream writer comes before the task's update. It reads that state through a schema: the
        TypedDict or dataclass its first parameter is annotated with (whose keys become state keys), else
        ``source``'s own input schema, else the state schema.

        :raises InvalidGraphError: when ``source`` already has a conditional edge of the same name (the path
            function's ``__name__``; ``"condition"`` for a lambda, a callable instance or a partial):
            ``"Branch with name `route` already exists for node `a`"``, as LangGraph raises
        :raises InvalidArgumentError: for a first-parameter annotation the state cannot take (a root state
            with keys, say)
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
        name = getattr(path, "__name__", None)
        if not isinstance(name, str) or name == "<lambda>":
            name = "condition"
        if any(br.source == source and br.name == name for br in self.branches):
            raise InvalidGraphError(
                f"Branch with name `{name}` already exists for node `{source}`; give the path function another "
                "name (lambdas, callable instances and partials are all named 'condition')"
            )
        is_async = inspect.iscoroutinefunction(path) or inspect.iscoroutinefunction(
            getattr(path, "__call__", None)  # noqa: B004
        )
        branch = Branch(source, path, mapping, is_async, name)
        schema = None if self.schema.root else inferred_input_schema(path)
        if schema is not None:
            branch.input = self.schema.node_input(schema)
        self.branches.append(branch)
        return self

    def add_sequence(
        self,
        nodes: Sequence[Callable[..., Any] | CompiledStateGraph | tuple[str, Callable[..., Any] | CompiledStateGraph]],
    ) -> StateGraph:
        """Add ``nodes`` and an edge from each to the next, so they run one after the other.

        Each item is a function or compiled graph (named as :meth:`add_node` names it) or a ``(name, action)``
        pair. No edge is added from ``START`` or to ``END``.

        :raises InvalidGraphError: for an empty sequence (``"Sequence requires at least one node."``), a
            duplicate name (``"Node names must be unique: ..."``: give two lambdas distinct names with ``(name,
            fn)`` pairs), or a name :meth:`add_node` refuses (LangGraph's sentences)
        :raises TypeError: for ``nodes`` that is a string or mapping, or an item that is neither a callable, a
            compiled graph nor a ``(name, action)`` pair (as LangGraph raises)
        """
        if isinstance(nodes, (str, Mapping)) or not isinstance(nodes, Sequence):
            raise TypeError(
                f"add_sequence takes a list of nodes (functions, compiled graphs or (name, action) pairs), "
                f"got {type(nodes).__name__}"
            )
        if not nodes:
            raise InvalidGraphError("Sequence requires at least one node. add_sequence([]) has none")
        names: list[str] = []
        for item in nodes:
            if isinstance(item, tuple):
                if len(item) != 2 or not isinstance(item[0], str):
                    raise TypeError(f"add_sequence: a tuple item must be a (name, action) pair, got {item!r}")
                name, action = item
            elif callable(item) or isinstance(item, GraphSpec):
                action = item
                name = _default_name(item)
            else:
                raise TypeError(
                    f"add_sequence: {item!r} is not a node; pass a function, a compiled graph or a (name, action) pair"
                )
            if str(node_name(name)) in self.nodes:
                raise InvalidGraphError(
                    f"Node names must be unique: node with the name '{node_name(name)}' already exists. Give two "
                    "callables with the same name (two lambdas, say) distinct names with (name, action) pairs"
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

    def compile(
        self,
        checkpointer: Any = None,
        *,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        name: str | None = None,
        transformers: Sequence[Any] | None = None,
    ) -> CompiledStateGraph:
        """Check the graph and return it ready to run.

        :param checkpointer: a :class:`~streamflow.checkpoint.base.BaseCheckpointSaver` the graph keeps its
            threads in (see :mod:`streamflow.graph.persistence`): every run then needs
            ``config["configurable"]["thread_id"]``. For a subgraph, None (the default) keeps checkpoints
            with the enclosing graph's saver, under the subgraph's namespace, while it runs (as LangGraph),
            False keeps none, and True keeps them under the node's name (its stream namespace too), so the
            subgraph continues its state run after run. A root graph with None or False keeps no
            checkpoints; one with True refuses to run (LangGraph's ``RuntimeError``).

        :param interrupt_before: node names (or ``"*"`` for every node) before which a run pauses, as
            LangGraph's breakpoints: the run ends with the step's tasks pending in its checkpoint, and
            ``invoke(None, config)`` (or ``Command(resume=...)``) goes on from there. Without a checkpointer
            the run just ends there.
        :param interrupt_after: the same, after those nodes ran (their step's checkpoint saved)
        :param name: the graph's name, as its runs' ``RunStarted`` events and ``astream_events`` show it
            (default ``"LangGraph"``, as in LangGraph)
        :param transformers: :class:`~streamflow.stream.StreamTransformer` classes or ``factory(scope)``
            callables added to every v3 run stream of the graph (``stream_events(version="v3")``), after the
            built-in ones; checked when a v3 stream is made

        A node that no edge reaches is accepted (it never runs), as LangGraph accepts it.

        :raises InvalidGraphError: with LangGraph's sentence, checked in LangGraph's order, followed by the
            culprit and the known nodes: an edge or conditional edge from an unknown node (``"Found edge
            starting at unknown node 'x'"``), no edge from ``START`` (``"Graph must have an entrypoint: add at
            least one edge from START to another node"``), a path map naming an unknown node (``"At 'a' node,
            'route' branch found unknown target 'x'"``), an edge to an unknown node (``"Found edge ending at
            unknown node `x`"``)
        :raises InvalidArgumentError: for a ``checkpointer`` that is neither a saver, None, True nor False, or
            an ``interrupt_before``/``interrupt_after`` naming no node (``"Interrupt node `x` not found"``)
        """
        if checkpointer is not None and not isinstance(checkpointer, (bool, BaseCheckpointSaver)):
            raise InvalidArgumentError(
                f"compile(checkpointer=...) takes a checkpoint saver (BaseCheckpointSaver), None, True or False; "
                f"got {type(checkpointer).__name__}"
            )
        known = set(self.nodes)
        hint = f"; known nodes: {sorted(known)}"
        sources: dict[str, str] = {}
        for a, b in self.edges:
            sources.setdefault(a, f"edge {a!r} -> {b!r}")
        for starts, b in self.joins:
            for a in starts:
                sources.setdefault(a, f"fan-in edge {list(starts)} -> {b!r}")
        for br in self.branches:
            sources.setdefault(br.source, f"conditional edge {br.name!r} from {br.source!r}")
        for source, what in sources.items():
            if source != START and source not in known:
                raise InvalidGraphError(f"Found edge starting at unknown node '{source}' ({what}){hint}")
        if START not in sources:
            raise InvalidGraphError(
                "Graph must have an entrypoint: add at least one edge from START to another node, e.g. "
                f"add_edge(START, {next(iter(self.nodes), 'node')!r})"
            )
        for br in self.branches:
            for t in br.targets() or ():
                if t != END and t not in known:
                    raise InvalidGraphError(
                        f"At '{br.source}' node, '{br.name}' branch found unknown target '{t}'{hint}"
                    )
        ends = [(b, f"edge {a!r} -> {b!r}") for a, b in self.edges]
        ends += [(b, f"fan-in edge {list(starts)} -> {b!r}") for starts, b in self.joins]
        ends += [(b, f"a Command of node {a!r} (its destinations)") for a, bs in self.destinations.items() for b in bs]
        for b, what in ends:
            if b != END and b not in known:
                raise InvalidGraphError(f"Found edge ending at unknown node `{b}` ({what}){hint}")
        graph = CompiledStateGraph.of(
            name or "LangGraph", self.schema.copy(), self.nodes, self.edges, self.joins, self.branches
        )
        graph.context_schema = self.context_schema
        graph.checkpointer = checkpointer
        graph.stream_transformers = tuple(transformers or ())
        graph.interrupt_before, graph.interrupt_after = check_breakpoints(self.nodes, interrupt_before, interrupt_after)
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
