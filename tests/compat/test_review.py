"""``REVIEW.md`` stays true: every compat case it names (``file::case-id`` or ``file::test_name``) exists."""

import importlib
import re
from pathlib import Path
from typing import Any

REVIEW = Path(__file__).with_name("REVIEW.md")
NAMED = re.compile(r"`(test_\w+)\.py::([\w.\-]+)`")


def known_names(module: Any) -> set[str]:
    """The ids of the ``pytest.param`` cases in ``module``'s lists, and its test function names."""
    names = {name for name, value in vars(module).items() if name.startswith("test_") and callable(value)}
    for value in vars(module).values():
        if isinstance(value, list):
            names.update(param.id for param in value if isinstance(getattr(param, "id", None), str))
    return names


def test_review_names_existing_cases() -> None:
    named = NAMED.findall(REVIEW.read_text())
    compat = {path.stem for path in Path(__file__).parent.glob("test_*.py")}
    named = [(module, case) for module, case in named if module in compat]
    assert len(named) > 50
    known = {module: known_names(importlib.import_module(f"{__package__}.{module}")) for module, _ in named}
    missing = sorted(f"{module}.py::{case}" for module, case in named if case not in known[module])
    assert not missing, f"REVIEW.md names cases that do not exist: {missing}"
