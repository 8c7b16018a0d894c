"""Loads the LangChain bridge when, and only when, ``langchain_core`` is imported.

``import streamflow`` calls :func:`install`: with ``langchain_core`` already imported the bridge loads at
once; otherwise a finder waits on ``sys.meta_path`` for langchain-core's own import to finish, loads the
bridge then and removes itself. Without langchain-core, nothing is ever imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["install"]

TARGET = "langchain_core"
BRIDGE = "streamflow.integrations.langchain"


def _load_bridge() -> None:
    importlib.import_module(BRIDGE)


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self.inner, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.inner  # the module keeps its own loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner
        self.inner.exec_module(module)
        _load_bridge()

    def __getattr__(self, name: str) -> Any:  # the rest of the loader's API (resources, source ...)
        return getattr(self.inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)
        spec: importlib.machinery.ModuleSpec | None = None
        for finder in list(sys.meta_path):  # whoever finds it (the path finder, an editable install's ...)
            find = getattr(finder, "find_spec", None)
            spec = None if find is None else find(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    """Load the bridge now if langchain-core is imported, else when it is (see the module's docstring)."""
    if TARGET in sys.modules:
        _load_bridge()
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
