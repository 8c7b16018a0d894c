"""The layering rule, checked on the source: a module never imports one of a higher layer.

values (errors, events, messages, run_info) -> channel (filters, channel; portal, a utility that knows only async
iterables) -> views (modes, views, event_stream) -> runtime (graph, tools, models) -> bridges (server,
log_view, redis, and catalog, the graphs they serve by name).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "streamflow"

LAYERS = {
    "errors": 0,
    "events": 0,
    "messages": 0,
    "run_info": 0,
    "filters": 1,
    "channel": 1,
    "portal": 1,
    "modes": 2,
    "views": 2,
    "event_stream": 2,
    "graph": 3,
    "tools": 3,
    "models": 3,
    "catalog": 4,
    "server": 4,
    "log_view": 4,
    "redis": 4,
}


def _top(module: Path) -> str:
    return module.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported(module: Path) -> set[str]:
    """The top-level streamflow modules ``module`` imports (relative or absolute)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    depth_of_package = len(module.relative_to(PACKAGE).parts) - 1
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 < depth_of_package:  # a sibling inside the same subpackage
                    continue
                names = [node.module] if node.module else [alias.name for alias in node.names]
                out.update(name.split(".")[0] for name in names if name)
            elif node.module and node.module.startswith("streamflow."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("streamflow."))
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer() -> None:
    assert {_top(p) for p in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(module: Path) -> None:
    own = LAYERS[_top(module)]
    higher = sorted(name for name in _imported(module) if LAYERS.get(name, 0) > own)
    assert higher == [], f"{module.relative_to(PACKAGE)} (layer {own}) imports {higher}"
