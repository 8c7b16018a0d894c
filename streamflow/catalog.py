"""Graphs served by name: where a run registry, a Redis worker and a web process look a graph up.

A bridge-layer helper (it knows the runtime's compiled graphs, nothing of HTTP or Redis). A
:class:`GraphCatalog` holds graph name -> compiled graph, or a function building a fresh one per run (for
per-run state such as a scripted model); a web process that only queues runs for workers may know the
graphs by name alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import InvalidArgumentError, UnknownGraphError
from .graph import CompiledStateGraph

__all__ = ["GraphCatalog", "GraphSource"]

GraphSource = CompiledStateGraph | Callable[[], CompiledStateGraph]
"""A compiled graph, or a function building a fresh one for each run."""


class GraphCatalog:
    """Graphs by name (see the module docstring).

    :param graphs: graph name -> compiled graph or a function building one, or names alone (then
        :meth:`build` cannot build them and :meth:`check_input` checks only the name)
    :raises InvalidArgumentError: for a name that is not a non-empty string, or a graph that is neither
        compiled nor callable
    """

    __slots__ = ("_graphs",)

    def __init__(self, graphs: Mapping[str, GraphSource] | Iterable[str]) -> None:
        sources: dict[str, GraphSource | None] = dict(graphs) if isinstance(graphs, Mapping) else dict.fromkeys(graphs)
        for name, source in sources.items():
            if not isinstance(name, str) or not name:
                raise InvalidArgumentError(f"graph names must be non-empty strings, got {name!r}")
            if source is not None and not isinstance(source, CompiledStateGraph) and not callable(source):
                raise InvalidArgumentError(
                    f"graph {name!r} must be a compiled graph or a function returning one, got {type(source).__name__}"
                )
        self._graphs = sources

    @property
    def names(self) -> list[str]:
        """The graph names, sorted."""
        return sorted(self._graphs)

    def __contains__(self, name: object) -> bool:
        return name in self._graphs

    def __len__(self) -> int:
        return len(self._graphs)

    def _source(self, name: str) -> GraphSource | None:
        if name not in self._graphs:
            known = ", ".join(map(repr, self.names)) or "none"
            raise UnknownGraphError(f"unknown graph {name!r}; registered graphs: {known}")
        return self._graphs[name]

    def build(self, name: str) -> CompiledStateGraph:
        """Return the compiled graph registered as ``name`` (a factory is called for a fresh one).

        :raises UnknownGraphError: when no graph is registered under ``name``
        :raises InvalidArgumentError: when the graph is known by name only, or its factory returns something
            other than a compiled graph
        """
        source = self._source(name)
        if source is None:
            raise InvalidArgumentError(f"graph {name!r} is known by name only here; it cannot be built")
        graph = source if isinstance(source, CompiledStateGraph) else source()
        if not isinstance(graph, CompiledStateGraph):
            raise InvalidArgumentError(f"the factory of graph {name!r} returned {type(graph).__name__}, not a graph")
        return graph

    def check_input(self, name: str, input: Any) -> CompiledStateGraph | None:
        """Check that ``name`` is registered and that ``input`` fits its graph's state schema; return the
        graph built for it, or None for a graph known by name only (whose input is not checked).

        :raises UnknownGraphError: when no graph is registered under ``name``
        :raises InvalidUpdateError: for an input the graph's state schema does not accept
        :raises InvalidArgumentError: when the graph's factory returns something other than a compiled graph
        """
        if self._source(name) is None:
            return None
        graph = self.build(name)
        graph.schema.check_update(input, "the graph input")
        return graph
