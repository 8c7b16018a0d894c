"""``SEEDS.md`` stays true: every compat case it names (``file::test_name``, ``file::test_name[param]`` or
``file::case-id``) exists, a case is annotated ``(differs)`` exactly when it carries a ``differs`` mark, every
example row names at least one case, and the totals are the tables'.

``python -m tests.compat.test_seeds`` rewrites the annotations and the totals from the tables and the marks.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .test_review import known_cases

SEEDS = Path(__file__).with_name("SEEDS.md")
NAMED = re.compile(r"`(test_\w+)\.py::([\w.\-]+)(?:\[((?:[^\]`]|\](?!`))+)\])?`( \(differs\))?")
PAGE = re.compile(r"^## (.+?) \(", re.M)
ROW = re.compile(r"^\| ([A-Z]\d+) \| (.*) \| (.*) \|$", re.M)
TOTALS = re.compile(r"(?<=## Totals\n\n).*?(?=\n## )", re.S)


@dataclass(frozen=True)
class Case:
    module: str
    name: str
    param: str | None


def _param_ids(func: Any) -> dict[str, str | None]:
    """The ids pytest gives the cases of ``func``'s single ``parametrize`` mark -> their ``differs`` reason."""
    out: dict[str, str | None] = {}
    for mark in getattr(func, "pytestmark", ()):
        if mark.name != "parametrize":
            continue
        names, values = mark.args[0], mark.args[1]
        ids = mark.kwargs.get("ids")
        for index, value in enumerate(values):
            reason = None
            if hasattr(value, "id") and hasattr(value, "marks"):  # a pytest.param
                reason = next((str(m.args[0]) for m in value.marks if m.name == "differs"), None)
                value = value.values[0] if value.id is None else value.id
            if callable(ids):
                out[str(ids(value))] = reason
            elif ids is not None:
                out[str(ids[index])] = reason
            elif isinstance(value, (str, int, float, bool)):
                out[str(value)] = reason
            else:
                out[f"{names}{index}"] = reason
    return out


def cases(text: str) -> dict[Case, str | None]:
    """Every case ``text`` names -> its ``differs`` reason (None without one)."""
    found: dict[Case, str | None] = {}
    missing = []
    for module_name, name, param, _ in NAMED.findall(text):
        case = Case(module_name, name, param.replace("\\|", "|") or None)
        module = importlib.import_module(f"{__package__}.{module_name}")
        known = known_cases(module)
        if name not in known:
            missing.append(f"{module_name}.py::{name}")
            continue
        reason = known[name]
        if case.param is not None:
            params = _param_ids(getattr(module, name))
            if case.param not in params:
                missing.append(f"{module_name}.py::{name}[{case.param}]")
                continue
            reason = reason or params[case.param]
        found[case] = reason
    assert not missing, f"SEEDS.md names cases that do not exist: {missing}"
    return found


def _case(match: re.Match[str]) -> Case:
    param = match.group(3)
    return Case(match.group(1), match.group(2), param.replace("\\|", "|") if param else None)


def annotated(text: str, known: dict[Case, str | None]) -> str:
    """``text`` with ``(differs)`` after exactly the cases that have a ``differs`` mark."""

    def mark(match: re.Match[str]) -> str:
        suffix = " (differs)" if known.get(_case(match)) is not None else ""
        param = f"[{match.group(3)}]" if match.group(3) else ""
        return f"`{match.group(1)}.py::{match.group(2)}{param}`{suffix}"

    return NAMED.sub(mark, text)


def pages(text: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Each page's title and its example rows ``(id, example, cases)``."""
    body = text.split("\n## Totals\n", 1)[1]
    starts = list(PAGE.finditer(body))
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(body)
        out.append((start.group(1), ROW.findall(body[start.start() : end])))
    return out


def totals(text: str, known: dict[Case, str | None]) -> str:
    """The Totals table computed from the page tables and the marks."""
    lines = ["| Page | Examples | All their cases pass | With a `differs` case |", "|---|---|---|---|"]
    all_rows = all_differ = 0
    for title, rows in pages(text):
        differ = sum(any(known.get(_case(m)) is not None for m in NAMED.finditer(row[2])) for row in rows)
        lines.append(f"| {title} | {len(rows)} | {len(rows) - differ} | {differ} |")
        all_rows += len(rows)
        all_differ += differ
    lines.append(f"| All | {all_rows} | {all_rows - all_differ} | {all_differ} |")
    return "\n".join(lines) + "\n"


def rewritten(text: str) -> str:
    known = cases(text)
    text = annotated(text, known)
    return TOTALS.sub(lambda _: totals(text, known), text, count=1)


def test_seeds_names_existing_cases_with_their_marks_and_totals() -> None:
    text = SEEDS.read_text()
    known = cases(text)
    assert len(known) > 40
    for title, rows in pages(text):
        assert rows, f"no examples listed for {title}"
        empty = [row[0] for row in rows if not NAMED.search(row[2])]
        assert not empty, f"examples of {title} without a case: {empty}"
    assert [title for title, _ in pages(text)] == [
        "Concepts: Streaming",
        "How to stream chat model responses",
        "How to stream responses from an LLM",
        "LangChain v1: Streaming",
    ]
    assert text == rewritten(text), "SEEDS.md is out of date: run python -m tests.compat.test_seeds"


if __name__ == "__main__":
    SEEDS.write_text(rewritten(SEEDS.read_text()))
