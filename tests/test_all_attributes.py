"""What the package's modules promise about their names: every public module lists its names in ``__all__``,
each once and each one it has; every exception class streamflow defines lives in ``streamflow.errors``."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import streamflow.errors
from streamflow.errors import MissingExtraError

PACKAGE = Path(streamflow.errors.__file__).resolve().parent


def _module_names() -> list[str]:
    """Every module of the package, by dotted name (a package by its own name, not ``__init__``)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


MODULES = _module_names()
PUBLIC_MODULES = [name for name in MODULES if not any(part.startswith("_") for part in name.split("."))]


def _import(name: str) -> ModuleType:
    """Import ``name``; skip (saying which extra) when it needs an optional extra that is not installed."""
    try:
        return importlib.import_module(name)
    except MissingExtraError as exc:
        pytest.skip(f"{name} needs the {exc.extra!r} extra: {exc}")


def test_modules_are_found() -> None:
    assert {"streamflow", "streamflow.errors", "streamflow.graph", "streamflow.graph.builder"} <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_lists_only_what_exists_and_each_name_once(name: str) -> None:
    module = _import(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    listed = list(module.__all__)
    assert all(isinstance(item, str) for item in listed), f"{name}.__all__ holds a non-string: {listed}"
    missing = [item for item in listed if not hasattr(module, item)]
    assert missing == [], f"{name}.__all__ lists {missing}, which {name} does not have"
    twice = sorted(item for item, count in Counter(listed).items() if count > 1)
    assert twice == [], f"{name}.__all__ lists {twice} more than once"


def _classes_defined_in(module: ModuleType) -> Iterator[type]:
    """The classes ``module`` defines (not those it imports), and the classes nested in them."""
    todo = [value for value in vars(module).values() if isinstance(value, type) and value.__module__ == module.__name__]
    while todo:
        cls = todo.pop()
        yield cls
        todo.extend(
            value for value in vars(cls).values() if isinstance(value, type) and value.__module__ == cls.__module__
        )


@pytest.mark.parametrize("name", MODULES)
def test_every_exception_class_lives_in_errors(name: str) -> None:
    module = _import(name)
    elsewhere = sorted(
        cls.__qualname__
        for cls in _classes_defined_in(module)
        if issubclass(cls, BaseException) and cls.__module__ != "streamflow.errors"
    )
    assert elsewhere == [], f"{name} defines the exception class(es) {elsewhere}; define them in streamflow.errors"


def test_the_errors_tree_names_every_exception() -> None:
    """The tree drawn in ``streamflow.errors``' docstring has a line for every exception it defines."""
    doc = streamflow.errors.__doc__ or ""
    defined = [
        cls.__name__
        for cls in _classes_defined_in(streamflow.errors)
        if issubclass(cls, BaseException) and cls.__module__ == "streamflow.errors"
    ]
    exported = [name for name in streamflow.errors.__all__ if isinstance(getattr(streamflow.errors, name), type)]
    assert sorted(defined) == sorted(exported)
    # besides the exceptions, only the functions that read or set the invalid-resume mark
    assert set(streamflow.errors.__all__) - set(exported) == {"is_invalid_resume", "mark_invalid_resume"}
    drawn = set(re.findall(r"[├└]── (\w+)", doc)) | set(re.findall(r"^ {4}(\w+)\(Exception\)", doc, re.MULTILINE))
    undrawn = sorted(set(defined) - drawn)
    assert undrawn == [], f"the tree in streamflow.errors' docstring does not show {undrawn}"


def test_tool_arguments_error_is_still_importable_from_tools() -> None:
    from streamflow.tools import ToolArgumentsError

    assert ToolArgumentsError is streamflow.errors.ToolArgumentsError
