"""Tests that need an optional extra: skipped with the reason when it is missing, unless ``CI`` is set,
where a missing extra is a failure (CI installs every extra the tests use)."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def require_extra(module: str, extra: str) -> ModuleType:
    """Import ``module`` or, when it is missing, skip the calling test (module) or fail it under ``CI``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"needs the {extra!r} extra (pip install -e '.[{extra}]'): {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
