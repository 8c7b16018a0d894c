"""What a built graph is made of, as the runtime walks it: :class:`NodeSpec`, :class:`Branch`, :class:`GraphSpec`.

The builder (:mod:`streamflow.graph.builder`) makes these, the compiled graph holds them and the executor
(:mod:`streamflow.graph.pregel`) reads them; this module imports none of those, so the graph package's
modules import each other without a cycle: specs <- pregel <- run <- compiled <- builder.
"""

from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Literal, Self, get_args, get_origin

import attrs

from .context import StreamWriter
from .runtime import injected_params
from .state import NodeInput, StateSchema, is_instance_schema

__all__ = ["Branch", "GraphSpec", "NodeSpec", "inferred_input_schema", "node_name", "referenced_graph"]


def node_name(name: Any) -> Any:
    """A node name as the graph keeps it: a ``str`` Enum member becomes its value (``NodeName.BAZ`` ->
    ``"baz"``, as LangGraph names the node); anything else comes back unchanged."""
    if isinstance(name, enum.Enum) and isinstance(name, str):
        return name.value
    return name


_NOT_LOOKED: Any = object()


def referenced_graph(fn: Any) -> GraphSpec | None:
    """The first graph (a :class:`GraphSpec`, such as a compiled graph) not compiled with ``checkpointer=False``
    among the globals and closure variables function ``fn`` reads, those it reads through a closure last
    (LangGraph's order); None for none, or when ``fn`` is no Python function (a callable object, a builtin)."""
    target = getattr(fn, "__wrapped__", fn)
    if inspect.ismethod(target):
        target = target.__func__
    if not inspect.isfunction(target):
        return None
    try:
        found = inspect.getclosurevars(target)
    except (TypeError, ValueError):
        return None
    for value in {**found.globals, **found.nonlocals}.values():
        if isinstance(value, GraphSpec) and getattr(value, "checkpointer", None) is not False:
            return value
    return None


@attrs.define(slots=True, eq=False)
class NodeSpec:
    """A node as the runtime calls it; how to call it is worked out once, here."""

    name: str
    """The node's name."""
    fn: Any
    """A sync or async callable, or, for a subgraph, the compiled subgraph (a :class:`GraphSpec`)."""
    is_async: bool = False
    """``fn`` is an async function (or a subgraph, which runs on the run's event loop)."""
    is_subgraph: bool = False
    """``fn`` is a :class:`GraphSpec`, run as a subgraph under the node's namespace."""
    takes_config: bool = False
    """The callable declares a ``config`` parameter."""
    writer_param: str | None = None
    """Name of the parameter the stream writer is passed as, if any."""
    injected: tuple[str, ...] = ()
    """Which of ``runtime``, ``store`` and ``previous`` the callable declares (see
    :func:`~streamflow.graph.runtime.injected_params`)."""
    input: NodeInput | None = None
    """The node's own input schema (given to ``add_node`` or read from its first parameter's type hint), or
    None: the node receives the graph's state schema."""
    defer: bool = False
    """``add_node(..., defer=True)``: once triggered, the node waits until a superstep would have no other
    task (LangGraph's deferred node)."""
    _subgraph: Any = attrs.field(default=_NOT_LOOKED, init=False, repr=False)

    def subgraph(self) -> GraphSpec | None:
        """The graph whose checkpoints a task of this node keeps under the task's namespace, as LangGraph finds
        a node's subgraph: the graph a subgraph node runs, or for a plain node the first compiled graph its
        function refers to by name (a global or closure variable it reads, as in ``subgraph.invoke(...)``,
        looked up once, on the first call); None when there is none or it was compiled with
        ``checkpointer=False``."""
        if self._subgraph is _NOT_LOOKED:
            found = self.fn if self.is_subgraph else referenced_graph(self.fn)
            self._subgraph = None if getattr(found, "checkpointer", None) is False else found
        return self._subgraph  # type: ignore[no-any-return]

    @classmethod
    def of(cls, name: str, fn: Callable[..., Any]) -> NodeSpec:
        """Read how to call ``fn``: whether it is async, takes ``config``, takes the stream writer (a
        parameter named ``writer`` or annotated :data:`~streamflow.graph.StreamWriter`), and takes ``runtime``,
        ``store`` or ``previous``.

        :raises TypeError: when ``fn`` is not callable (with LangGraph's sentence, ``"Expected a Runnable,
            callable or dict.Instead got an unsupported type: <class 'int'>"``)
        """
        if not callable(fn):
            raise TypeError(
                f"Expected a Runnable, callable or dict.Instead got an unsupported type: {type(fn)} (node {name!r} "
                f"must be a function or a compiled graph, got {fn!r})"
            )
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004
        )
        params: Mapping[str, inspect.Parameter]
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        try:
            hints = typing.get_type_hints(fn)
        except Exception:
            hints = {}
        writer_param = None
        for pname in params:
            if pname == "writer" or hints.get(pname) is StreamWriter:
                writer_param = pname
        return cls(
            name,
            fn,
            is_async=is_async,
            takes_config="config" in params,
            writer_param=writer_param,
            injected=injected_params(fn),
        )

    @classmethod
    def of_subgraph(cls, name: str, graph: GraphSpec) -> NodeSpec:
        """A node that runs ``graph`` as a subgraph."""
        return cls(name, graph, is_async=True, is_subgraph=True)


def _declared_callable(fn: Any) -> Any:
    """The function whose signature LangGraph reads for ``fn``'s input schema: ``fn`` itself when it is a
    function or method, its ``__call__`` when that is a method (a callable instance), else None."""
    if inspect.isfunction(fn) or inspect.ismethod(fn):
        return fn
    call = getattr(fn, "__call__", None)  # noqa: B004
    return call if inspect.ismethod(call) else None


def inferred_input_schema(fn: Any) -> type[Any] | None:
    """The input schema a node or path function declares, as LangGraph reads it: the type hint of the first
    parameter of a function, method or callable instance (not a ``functools.partial``), when that is a
    TypedDict, dataclass or pydantic model with at least one key; else None."""
    target = _declared_callable(fn)
    if target is None:
        return None
    try:
        first = next(iter(inspect.signature(target).parameters))
        hint = typing.get_type_hints(target).get(first)
    except Exception:
        return None
    if not isinstance(hint, type) or not (is_instance_schema(hint) or issubclass(hint, dict)):
        return None
    try:
        return hint if typing.get_type_hints(hint) else None
    except Exception:
        return None


@attrs.define(slots=True, eq=False)
class Branch:
    """A conditional edge: after ``source`` runs, ``path(state)`` picks where to go."""

    source: str
    """The node after which the path runs."""
    path: Callable[..., Any]
    """The path function (sync or async), called with the state."""
    path_map: dict[Hashable, str] | None
    """Return value -> node name, or None to take return values as node names."""
    is_async: bool
    """``path`` is an async function."""
    name: str
    """The path function's name (used in trigger names and errors)."""
    injected: tuple[str, ...] = attrs.field(init=False)
    """Which of ``runtime``, ``store`` and ``previous`` the path function declares (LangGraph passes them to
    path functions too)."""
    input: NodeInput | None = attrs.field(default=None, kw_only=True)
    """The path function's own input schema (its first parameter's type hint), or None: it receives what its
    source node receives (see :meth:`view`)."""

    def view(self, state: Mapping[str, Any], source: NodeSpec | None, whole: Any, output: Any = None) -> Any:
        """What the path function is called with, as LangGraph 1.2 reads ``state`` (the state the source task
        sees once its own update is applied): its own
        input schema's keys; else its source node's input schema's keys (``whole``, the state schema's view,
        when the source has none), under which LangGraph puts the source's ``output`` (the update it returned,
        or the graph input for ``START``) when both are dicts, so the output's other keys show through."""
        if self.input is not None:
            return self.input.view(state)
        value = source.input.view(state) if source is not None and source.input is not None else whole
        if isinstance(value, dict) and isinstance(output, dict):
            value = {**output, **value}
        return value

    @injected.default
    def _injected(self) -> tuple[str, ...]:
        return injected_params(self.path)

    def targets(self) -> tuple[str, ...] | None:
        """Every node this branch may go to, when known (a path map or a ``Literal`` return annotation)."""
        if self.path_map is not None:
            return tuple(self.path_map.values())
        try:
            ret = typing.get_type_hints(self.path).get("return")
        except Exception:
            return None
        if ret is not None and get_origin(ret) is Literal:
            return tuple(str(node_name(a)) for a in get_args(ret))
        return None


@attrs.define(slots=True, eq=False)
class GraphSpec:
    """A checked graph's structure, with the edges indexed by the node they leave from: what the executor
    walks. ``CompiledStateGraph``, made by ``StateGraph.compile()``, is one (with the ways to run it)."""

    name: str
    """The graph's name (the ``name`` of its ``RunStarted`` event)."""
    schema: StateSchema
    """The state schema."""
    nodes: Mapping[str, NodeSpec]
    """Every node, by name, in the order they were added."""
    edges_from: Mapping[str, tuple[str, ...]]
    """Node -> the nodes its plain edges go to."""
    joins_with: Mapping[str, tuple[tuple[int, tuple[tuple[str, ...], str]], ...]]
    """Node -> ``(index, (starts, target))`` of each fan-in edge it is one of the starts of."""
    branches_from: Mapping[str, tuple[Branch, ...]]
    """Node -> the conditional edges leaving it."""

    @classmethod
    def of(
        cls,
        name: str,
        schema: StateSchema,
        nodes: Mapping[str, NodeSpec],
        edges: Iterable[tuple[str, str]],
        joins: Iterable[tuple[tuple[str, ...], str]],
        branches: Iterable[Branch],
    ) -> Self:
        """Index the builder's edges (``(start, end)``), fan-in edges (``(starts, end)``) and branches by the
        node they leave from. Nothing is checked here: ``StateGraph.compile()`` checks first."""
        edges_from: dict[str, tuple[str, ...]] = {}
        for a, b in edges:
            edges_from[a] = (*edges_from.get(a, ()), b)
        joins_with: dict[str, tuple[tuple[int, tuple[tuple[str, ...], str]], ...]] = {}
        for index, (starts, target) in enumerate(joins):
            for a in starts:
                joins_with[a] = (*joins_with.get(a, ()), (index, (starts, target)))
        branches_from: dict[str, tuple[Branch, ...]] = {}
        for br in branches:
            branches_from[br.source] = (*branches_from.get(br.source, ()), br)
        return cls(name, schema, dict(nodes), edges_from, joins_with, branches_from)
