"""``REVIEW.md`` stays true: every compat case it names (``file::case-id`` or ``file::test_name``) exists, a
case is annotated ``(differs)`` exactly when it carries a ``differs`` mark, and the totals are the table's.

``python -m tests.compat.test_review`` rewrites the annotations and the totals from the table and the marks.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REVIEW = Path(__file__).with_name("REVIEW.md")
NAMED = re.compile(r"`(test_\w+)\.py::([\w.\-]+)`( \(differs\))?")
ROW = re.compile(r"^\| `(test_\w+\.py::\w+)` \| (.*?) \| (.*?) \| (.*?) \|$", re.M)
TOTALS = re.compile(r"(?<=## Totals\n\n).*?(?=\n### What the feature names mean)", re.S)


@dataclass(frozen=True)
class Case:
    module: str
    case: str


def _params(module: Any) -> Iterator[Any]:
    for value in vars(module).values():
        if isinstance(value, list):
            yield from (param for param in value if isinstance(getattr(param, "id", None), str))


def known_cases(module: Any) -> dict[str, str | None]:
    """Each case id (``pytest.param`` ids in ``module``'s lists, and its test function names) -> the reason of
    its ``differs`` mark, or None."""
    cases: dict[str, str | None] = {
        name: _reason(getattr(value, "pytestmark", ()))
        for name, value in vars(module).items()
        if name.startswith("test_") and callable(value)
    }
    for param in _params(module):
        cases[param.id] = _reason(param.marks)
    return cases


def _reason(marks: Any) -> str | None:
    for mark in marks:
        if getattr(mark, "name", None) == "differs":
            return str(mark.args[0])
    return None


def _compat_modules() -> set[str]:
    return {path.stem for path in Path(__file__).parent.glob("test_*.py")}


def _cases(text: str) -> dict[Case, str | None]:
    """Every case ``text`` names -> its ``differs`` reason (None without one)."""
    compat = _compat_modules()
    named = {Case(module, case) for module, case, _ in NAMED.findall(text) if module in compat}
    modules = {c.module: known_cases(importlib.import_module(f"{__package__}.{c.module}")) for c in named}
    missing = sorted(f"{c.module}.py::{c.case}" for c in named if c.case not in modules[c.module])
    assert not missing, f"REVIEW.md names cases that do not exist: {missing}"
    return {c: modules[c.module][c.case] for c in named}


def annotated(text: str, cases: dict[Case, str | None]) -> str:
    """``text`` with ``(differs)`` after exactly the cases that have a ``differs`` mark."""

    def mark(match: re.Match[str]) -> str:
        case = Case(match.group(1), match.group(2))
        suffix = " (differs)" if cases.get(case) is not None else ""
        return f"`{match.group(1)}.py::{match.group(2)}`{suffix}"

    return NAMED.sub(mark, text)


def totals(text: str, cases: dict[Case, str | None]) -> str:
    """The Totals section computed from the table rows and the marks."""
    rows = ROW.findall(text.split("\n## Tests\n", 1)[1].split("\n## Tests that run no graph", 1)[0])
    reproduced = [r for r in rows if r[1].strip() != "—"]
    in_part = [r for r in reproduced if r[2].strip() != "—"]

    def row_cases(row: tuple[str, ...]) -> list[Case]:
        return [Case(m, c) for m, c, _ in NAMED.findall(row[1]) if Case(m, c) in cases]

    differing = [r for r in reproduced if any(cases[c] is not None for c in row_cases(r))]
    reasons: Counter[str] = Counter()
    reason_tests: Counter[str] = Counter()
    reasons.update(r for r in cases.values() if r is not None)
    for row in differing:
        for reason in {cases[c] for c in row_cases(row)} - {None}:
            reason_tests[str(reason)] += 1
    first: Counter[str] = Counter()
    needing: Counter[str] = Counter()
    for row in rows:
        needs = [n.strip() for n in row[2].split(",") if n.strip() not in ("", "—")]
        needing.update(needs)
        if row[1].strip() == "—" and needs:
            first[needs[0]] += 1
    lines = [
        f"- Tests reviewed (run a graph): **{len(rows)}** (the tests of these files that run no graph are "
        "listed at the end)",
        f"- Reproduced by at least one case: **{len(reproduced)}** ({len(reproduced) - len(in_part)} fully, "
        f"{len(in_part)} in part)",
        f"- Reproduced and all their cases pass on streamflow: **{len(reproduced) - len(differing)}**",
        f"- Reproduced with at least one `differs` case: **{len(differing)}**",
        f"- Not reproducible (need a missing feature): **{len(rows) - len(reproduced)}**",
        f"- Distinct cases named: {len(cases)} ({sum(r is not None for r in cases.values())} of them with a "
        "`differs` mark)",
        "",
        "### Differences, by reason (cases / reviewed tests)",
        "",
        "| Reason | Cases | Tests |",
        "|---|---|---|",
        *(f"| {reason} | {count} | {reason_tests[reason]} |" for reason, count in sorted(reasons.items())),
        "",
        "### Not reproduced, by the first missing feature (tests)",
        "",
        "| Feature | Tests blocked first by it | Tests needing it |",
        "|---|---|---|",
        *(
            f"| {feature} | {first[feature]} | {count} |"
            for feature, count in sorted(needing.items(), key=lambda item: (-first[item[0]], -item[1], item[0]))
        ),
        "",
    ]
    return "\n".join(lines)


def rewritten(text: str) -> str:
    cases = _cases(text)
    text = annotated(text, cases)
    return TOTALS.sub(lambda _: totals(text, cases), text, count=1)


def test_review_names_existing_cases_with_their_marks_and_totals() -> None:
    text = REVIEW.read_text()
    assert len(_cases(text)) > 50
    assert text == rewritten(text), "REVIEW.md is out of date: run python -m tests.compat.test_review"


if __name__ == "__main__":
    REVIEW.write_text(rewritten(REVIEW.read_text()))
