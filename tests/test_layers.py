"""The module structure, checked on the source: no module imports one of a higher layer, and no import cycle.

values (errors, events, messages, metadata, run_info) -> channel (filters, fairness, subscription, thread_inbox,
channel; portal and workers, utilities that know only async iterables and threads) -> views (modes, views,
event_stream) -> runtime (graph, tools, models, checkpoint; types, config, constants, prebuilt, language_models,
agents, chat_models and callbacks, which re-export or build on its names at LangGraph's and LangChain's paths)
-> bridges (server, log_view, otel_view, otel_export, redis, and catalog, the graphs they serve by name).

The import graph counts every import in a module: at its top, inside a function (a lazy import) and under
``if TYPE_CHECKING:``. Those last two do not fail at import time, but they are the same dependency: a cycle
through them is a structure that only works because of where its imports were put.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Mapping, Set
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

PACKAGE = Path(__file__).resolve().parent.parent / "streamflow"

LAYERS = {
    "errors": 0,
    "events": 0,
    "messages": 0,
    "metadata": 0,
    "run_info": 0,
    "interrupts": 0,
    "prompt_values": 0,
    "filters": 1,
    "fairness": 1,
    "subscription": 1,
    "thread_inbox": 1,
    "channel": 1,
    "portal": 1,
    "workers": 1,
    "modes": 2,
    "views": 2,
    "event_stream": 2,
    "stream": 2,
    "graph": 3,
    "tools": 3,
    "models": 3,
    "types": 3,
    "config": 3,
    "constants": 3,
    "prebuilt": 3,
    "runnables": 3,
    "prompts": 3,
    "output_parsers": 3,
    "language_models": 3,
    "agents": 3,
    "chat_models": 3,
    "callbacks": 3,
    "runtime": 3,
    "checkpoint": 3,
    "catalog": 4,
    "integrations": 4,
    "server": 4,
    "log_view": 4,
    "otel_view": 4,
    "otel_export": 4,
    "redis": 4,
}


def _module_name(path: Path) -> str:
    """``streamflow/graph/run.py`` -> ``streamflow.graph.run``; ``streamflow/graph/__init__.py`` ->
    ``streamflow.graph``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


FILES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(source: str, module: str, *, is_package: bool, known: Set[str]) -> set[str]:
    """The modules among ``known`` that the source of ``module`` imports, anywhere in it.

    ``from P import n`` counts as importing ``P.n`` when that is a module, else ``P``; relative imports are
    resolved against ``module`` (its own package when ``is_package``).
    """
    package = module if is_package else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                out.add(submodule if submodule in known else target)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return (out & known) - {module}


def import_graph() -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports."""
    known = set(FILES)
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, is_package=path.name == "__init__.py", known=known)
        for name, path in FILES.items()
    }


def find_cycle(graph: Mapping[str, Set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]`` (each imports the next), or None when it is acyclic.

    Edges to names that are not keys of ``graph`` are ignored.
    """
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        todo = [iter(sorted(graph[root]))]
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                todo.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            elif nxt in graph and nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                todo.append(iter(sorted(graph[nxt])))
    return None


GRAPH = import_graph()
SUBPACKAGES = sorted(name for name, path in FILES.items() if path.name == "__init__.py")


def _top(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


MODULES = sorted(name for name in FILES if name != "streamflow")


def test_every_module_has_a_layer() -> None:
    assert {_top(name) for name in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("module", MODULES)
def test_no_module_imports_a_higher_layer(module: str) -> None:
    own = LAYERS[_top(module)]
    higher = sorted({_top(name) for name in GRAPH[module]} - {_top(module)})
    higher = [name for name in higher if LAYERS.get(name, 0) > own]
    assert higher == [], f"{module} (layer {own}) imports {higher}"


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_no_import_cycle(package: str) -> None:
    """``streamflow`` as a whole, and each subpackage on its own (its modules and the imports between them)."""
    inside = {name: deps for name, deps in GRAPH.items() if name == package or name.startswith(f"{package}.")}
    cycle = find_cycle(inside)
    assert cycle is None, f"import cycle in {package}: {' -> '.join(cycle)}"


def test_imports_of_counts_lazy_type_checking_and_relative_imports() -> None:
    source = """
from typing import TYPE_CHECKING
import streamflow.events
from ..channel import Channel
from . import constants
from .context import get_config
from .. import errors, Lagged
if TYPE_CHECKING:
    from .compiled import CompiledStateGraph
def later():
    from .run import Run
"""
    known = {
        "streamflow",
        "streamflow.channel",
        "streamflow.errors",
        "streamflow.events",
        "streamflow.graph",
        "streamflow.graph.compiled",
        "streamflow.graph.constants",
        "streamflow.graph.context",
        "streamflow.graph.run",
        "streamflow.graph.specs",
    }
    assert imports_of(source, "streamflow.graph.specs", is_package=False, known=known) == {
        "streamflow",
        "streamflow.channel",
        "streamflow.errors",
        "streamflow.events",
        "streamflow.graph.compiled",
        "streamflow.graph.constants",
        "streamflow.graph.context",
        "streamflow.graph.run",
    }
    # In a package's __init__, one dot is the package itself.
    assert imports_of("from .run import Run", "streamflow.graph", is_package=True, known=known) == {
        "streamflow.graph.run"
    }


def test_find_cycle_names_the_cycle() -> None:
    graph = {"builder": {"compiled"}, "compiled": {"run"}, "run": {"pregel"}, "pregel": {"builder"}, "x": {"run"}}
    assert find_cycle(graph) == ["builder", "compiled", "run", "pregel", "builder"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "outside"}, "b": set()}) is None


@given(
    st.integers(min_value=1, max_value=12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
        )
    )
)
def test_find_cycle_finds_a_cycle_exactly_when_there_is_one(case: tuple[int, set[tuple[int, int]]]) -> None:
    n, edges = case
    graph: dict[str, set[str]] = {str(i): set() for i in range(n)}
    for a, b in edges:
        graph[str(a)].add(str(b))
    cycle = find_cycle(graph)
    has_cycle = not _topologically_sortable(graph)
    assert (cycle is not None) == has_cycle
    if cycle is not None:
        assert cycle[0] == cycle[-1]
        assert len(set(cycle[:-1])) == len(cycle) - 1
        assert all(b in graph[a] for a, b in itertools.pairwise(cycle))


def _topologically_sortable(graph: Mapping[str, Set[str]]) -> bool:
    """Kahn's algorithm: a graph is acyclic exactly when repeatedly removing nodes without incoming edges
    removes them all."""
    incoming = {name: 0 for name in graph}
    for deps in graph.values():
        for dep in deps:
            incoming[dep] += 1
    ready = [name for name, count in incoming.items() if count == 0]
    removed = 0
    while ready:
        name = ready.pop()
        removed += 1
        for dep in graph[name]:
            incoming[dep] -= 1
            if incoming[dep] == 0:
                ready.append(dep)
    return removed == len(graph)
