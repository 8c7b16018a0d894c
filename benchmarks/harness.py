"""Scenario registry and timing harness for the benchmark suite.

A scenario is a function ``fn(n) -> Sample`` (or an ``async def`` returning one) registered with
:func:`scenario`. It does ``n`` units of work (its own meaning of "unit": events published, deliveries
per consumer, objects built ...), times only the part it means to measure with ``time.perf_counter()``
and returns how many operations it did in how many seconds. Async scenarios run each repeat in a fresh
event loop (``asyncio.run``), so no state leaks from one repeat to the next.

The harness:

* orders the selected scenarios so that every scenario a result is divided by (its ``baseline``, its
  ``compare`` references and its ``targets``) is measured first, in the same process and the same run;
* warms every scenario up once with a small ``n``;
* starts every repeat with a full garbage collection and freezes what survived it (``gc.freeze()``, undone
  after the repeat), so that the collections made during a repeat walk what that repeat allocated, not the
  modules the suite imported and what earlier scenarios keep alive;
* then runs *rounds*: each round runs every selected scenario once, in that order. Interleaving rounds
  (rather than running all repeats of one scenario back to back) spreads a burst of noise from other
  processes over every scenario instead of skewing one ratio;
* keeps the best repeat (highest ops/s) as the result. On a shared machine noise only ever makes a run
  slower, so the best repeat is the closest estimate of what the code costs; the median is kept too;
* skips a scenario that raises :class:`ScenarioSkipped` (something it needs cannot be had here, such as
  another project's server): its row says why, and the ratios to it are ``-``.

Later modules add scenarios by importing :func:`scenario` (``from benchmarks.harness import scenario``);
``python -m benchmarks`` imports every module of the ``benchmarks`` package, so a new module is picked up
without touching the CLI.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import json
import math
import pkgutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

__all__ = [
    "REGISTRY",
    "Result",
    "RunConfig",
    "Sample",
    "Scenario",
    "ScenarioSkipped",
    "Target",
    "format_table",
    "load_modules",
    "resolve",
    "run",
    "scenario",
    "to_records",
    "write_json",
]


@dataclass(frozen=True)
class Sample:
    """What one repeat of a scenario measured: ``ops`` operations in ``seconds`` of wall-clock time."""

    ops: int
    seconds: float
    extra: str = ""
    """Further measurements of this repeat, in words (e.g. a latency percentile); shown in the notes for
    the best repeat."""

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else math.inf


ScenarioFn = Callable[[int], Sample | Awaitable[Sample]]


@dataclass(frozen=True)
class Target:
    """A goal: this scenario's ops/s must be at least ``minimum`` times ``ref``'s ops/s (same run)."""

    ref: str
    minimum: float


@dataclass(frozen=True)
class Scenario:
    """A registered benchmark scenario (see :func:`scenario`)."""

    name: str
    fn: ScenarioFn
    unit: str
    n: int
    quick_n: int
    baseline: str | None = None
    compare: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()
    repeats: int | None = None
    description: str = ""
    module: str = ""

    def refs(self) -> tuple[str, ...]:
        """Every scenario this one's numbers are divided by."""
        out: list[str] = []
        for ref in (self.baseline, *self.compare, *(t.ref for t in self.targets)):
            if ref is not None and ref not in out:
                out.append(ref)
        return tuple(out)

    def run_once(self, n: int) -> Sample:
        """Run one repeat with ``n`` units of work (in a fresh event loop for async scenarios), after a full
        collection, with what survived it frozen."""
        gc.collect()
        gc.freeze()
        try:
            result = self.fn(n)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
        finally:
            gc.unfreeze()
        if not isinstance(result, Sample):
            raise TypeError(f"scenario {self.name!r} returned {result!r}, expected a Sample")
        return result


async def _await(awaitable: Awaitable[Sample]) -> Sample:
    return await awaitable


REGISTRY: dict[str, Scenario] = {}
"""Every registered scenario by name, in registration order."""


def scenario(
    name: str,
    *,
    unit: str = "events/s",
    baseline: str | None = None,
    compare: str | Iterable[str] = (),
    targets: dict[str, float] | None = None,
    n: int = 200_000,
    quick_n: int | None = None,
    repeats: int | None = None,
) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register ``fn(n) -> Sample`` (sync or async) as the scenario ``name``.

    :param unit: what ops/s counts, e.g. ``"events/s"`` or ``"deliveries/s"``
    :param baseline: the scenario the ``ratio`` column divides by (measured first, in the same run)
    :param compare: further scenarios to report a ratio against (in the notes and as ``compare_ratio``)
    :param targets: ``{ref: minimum ratio}``; each is reported PASS/FAIL in the notes (never an exit code)
    :param n: units of work per repeat in a full run; size it so a repeat takes 0.1-0.5 s
    :param quick_n: units of work per repeat under ``--quick`` (default ``n // 5``)
    :param repeats: repeats for this scenario (default: the run's setting)
    """
    compare_refs = (compare,) if isinstance(compare, str) else tuple(compare)

    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise ValueError(f"benchmark scenario {name!r} is registered twice")
        REGISTRY[name] = Scenario(
            name=name,
            fn=fn,
            unit=unit,
            n=n,
            quick_n=quick_n if quick_n is not None else max(1, n // 5),
            baseline=baseline,
            compare=compare_refs,
            targets=tuple(Target(ref, minimum) for ref, minimum in (targets or {}).items()),
            repeats=repeats,
            description=inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0].replace("\n", " "),
            module=fn.__module__,
        )
        return fn

    return register


def load_modules(package: str = "benchmarks", *, skip: Sequence[str] = ("__main__", "harness")) -> list[str]:
    """Import every module of ``package`` (except ``skip``) so their scenarios register.

    A module that fails to import (an optional dependency missing, say) is reported on stderr and skipped.
    :returns: the names of the modules that could not be imported
    """
    pkg = importlib.import_module(package)
    failed: list[str] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name in skip or info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{package}.{info.name}")
        except ImportError as exc:
            failed.append(info.name)
            print(f"warning: benchmarks.{info.name} skipped: {exc}", file=sys.stderr)
    return failed


def resolve(patterns: Sequence[str] | None) -> list[Scenario]:
    """Select scenarios by name or glob (all when ``patterns`` is empty), add what they are divided by,
    and order the lot so every reference comes before the scenarios that use it.

    :raises KeyError: for a pattern that matches nothing, or a reference to an unregistered scenario
    """
    if patterns:
        wanted: list[str] = []
        for pattern in patterns:
            hits = [name for name in REGISTRY if fnmatchcase(name, pattern)]
            if not hits:
                raise KeyError(f"no benchmark scenario matches {pattern!r}; known: {', '.join(REGISTRY)}")
            wanted.extend(h for h in hits if h not in wanted)
    else:
        wanted = list(REGISTRY)
    ordered: list[Scenario] = []
    visiting: set[str] = set()

    def visit(name: str, user: str | None) -> None:
        if any(s.name == name for s in ordered):
            return
        if name not in REGISTRY:
            raise KeyError(f"scenario {user!r} refers to {name!r}, which is not registered")
        if name in visiting:
            raise ValueError(f"benchmark scenarios refer to each other in a cycle through {name!r}")
        visiting.add(name)
        for ref in REGISTRY[name].refs():
            visit(ref, name)
        visiting.discard(name)
        ordered.append(REGISTRY[name])

    for name in wanted:
        visit(name, None)
    return ordered


@dataclass(frozen=True)
class RunConfig:
    """How much work a run does."""

    quick: bool = False
    repeats: int = 5
    warmup: bool = True
    scale: float = 1.0
    """Multiplies every scenario's ``n`` (``--smoke`` uses a tiny one)."""

    @classmethod
    def make(cls, *, quick: bool = False, smoke: bool = False, repeats: int | None = None) -> RunConfig:
        if smoke:
            return cls(quick=True, repeats=repeats or 1, warmup=False, scale=0.05)
        if quick:
            return cls(quick=True, repeats=repeats or 3)
        return cls(quick=False, repeats=repeats or 7)

    def size(self, sc: Scenario) -> int:
        return max(1, int((sc.quick_n if self.quick else sc.n) * self.scale))


class ScenarioSkipped(Exception):
    """Raised by a scenario that cannot run here; its message says why (shown in the scenario's row)."""


@dataclass
class Result:
    """The outcome of one scenario over all its repeats."""

    scenario: Scenario
    n: int
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None
    """Why the scenario did not run (it raised :class:`ScenarioSkipped`), else None."""

    @property
    def best(self) -> float:
        return max(s.ops_per_s for s in self.samples)

    @property
    def median(self) -> float:
        return statistics.median(s.ops_per_s for s in self.samples)

    @property
    def spread(self) -> float:
        """(best - median) / best: how much the noise cost the typical repeat."""
        best = self.best
        return (best - self.median) / best if best else 0.0


def run(
    scenarios: Sequence[Scenario],
    config: RunConfig,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Result]:
    """Measure ``scenarios`` (already ordered by :func:`resolve`) and return their results by name.

    :raises ScenarioFailedError: naming the scenario and the round, when a scenario raises
    """
    results = {sc.name: Result(sc, config.size(sc)) for sc in scenarios}

    def attempt(sc: Scenario, n: int, when: str) -> Sample | None:
        try:
            return _run_once(sc, n, when)
        except ScenarioSkipped as exc:
            results[sc.name].skipped = str(exc) or type(exc).__name__
            if progress is not None:
                progress(f"{sc.name} skipped: {results[sc.name].skipped}")
            return None

    if config.warmup:
        for sc in scenarios:
            attempt(sc, max(1, results[sc.name].n // 20), "warm-up")
    rounds = max(sc.repeats or config.repeats for sc in scenarios) if scenarios else 0
    for r in range(rounds):
        for sc in scenarios:
            res = results[sc.name]
            if r < (sc.repeats or config.repeats) and res.skipped is None:
                sample = attempt(sc, res.n, f"round {r + 1}")
                if sample is not None:
                    res.samples.append(sample)
        if progress is not None:
            progress(f"round {r + 1}/{rounds} done")
    for res in results.values():
        if res.skipped is not None:
            res.samples.clear()
    return results


class ScenarioFailedError(RuntimeError):
    """A scenario raised; the message names it, the round and the original error (its ``__cause__``)."""


def _run_once(sc: Scenario, n: int, when: str) -> Sample:
    try:
        return sc.run_once(n)
    except ScenarioSkipped:
        raise
    except Exception as exc:
        raise ScenarioFailedError(f"{sc.name} ({when}, n={n}): {type(exc).__name__}: {exc}") from exc


def _ratio(results: dict[str, Result], name: str, ref: str | None) -> float | None:
    if ref is None or ref not in results or not results[ref].samples or not results[name].samples:
        return None
    denominator = results[ref].best
    return results[name].best / denominator if denominator else None


def _notes(results: dict[str, Result], res: Result) -> str:
    sc = res.scenario
    if res.skipped is not None:
        return f"skipped: {res.skipped}"
    parts: list[str] = []
    for target in sc.targets:
        ratio = _ratio(results, sc.name, target.ref)
        verdict = "n/a" if ratio is None else ("PASS" if ratio >= target.minimum else "FAIL")
        shown = "-" if ratio is None else f"{ratio:.2f}x"
        parts.append(f"{verdict} {shown} {target.ref} (target >= {target.minimum:g}x)")
    targeted = {t.ref for t in sc.targets} | {sc.baseline}
    for ref in sc.compare:
        if ref not in targeted:
            ratio = _ratio(results, sc.name, ref)
            parts.append(f"{ratio:.2f}x {ref}" if ratio is not None else f"- {ref}")
    if sc.baseline is None and not sc.targets:
        parts.append("baseline")
    best_extra = max(res.samples, key=lambda s: s.ops_per_s).extra if res.samples else ""
    if best_extra:
        parts.append(best_extra)
    parts.append(f"best of {len(res.samples)}, n={res.n:,}, spread {res.spread:.0%}")
    return "; ".join(parts)


def _human(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.2f}{suffix}"
    return f"{value:.1f}"


def format_table(results: dict[str, Result]) -> str:
    """Render the results as a plain-text table: name, unit, ops/s, ratio to baseline, notes."""
    header = ("name", "unit", "ops/s", "ratio", "notes")
    rows: list[tuple[str, ...]] = [header]
    for name, res in results.items():
        ratio = _ratio(results, name, res.scenario.baseline)
        ratio_text = "-" if ratio is None else f"{ratio:.2f}x {res.scenario.baseline}"
        ops_text = _human(res.best) if res.samples else "-"
        rows.append((name, res.scenario.unit, ops_text, ratio_text, _notes(results, res)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3].ljust(widths[3])]
        lines.append("  ".join([*cells, row[4]]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in [*widths, len("notes")]))
    return "\n".join(lines)


def to_records(results: dict[str, Result], *, config: RunConfig | None = None) -> list[dict[str, Any]]:
    """The results as JSON-ready records ``{name, unit, ops_per_s, baseline_ratio, ...}``."""
    records = []
    for name, res in results.items():
        sc = res.scenario
        compare_ratios = {ref: _ratio(results, name, ref) for ref in sc.compare}
        first_compare = sc.compare[0] if sc.compare else None
        records.append(
            {
                "name": name,
                "unit": sc.unit,
                "ops_per_s": res.best if res.samples else None,
                "skipped": res.skipped,
                "baseline_ratio": _ratio(results, name, sc.baseline),
                "baseline": sc.baseline,
                "baseline_ops_per_s": (
                    results[sc.baseline].best if sc.baseline in results and results[sc.baseline].samples else None
                ),
                "compare": first_compare,
                "compare_ratio": compare_ratios.get(first_compare) if first_compare else None,
                "compare_ratios": compare_ratios,
                "targets": [
                    {
                        "ref": t.ref,
                        "minimum": t.minimum,
                        "ratio": _ratio(results, name, t.ref),
                        "passed": (r := _ratio(results, name, t.ref)) is not None and r >= t.minimum,
                    }
                    for t in sc.targets
                ],
                "median_ops_per_s": res.median if res.samples else None,
                "samples_ops_per_s": [s.ops_per_s for s in res.samples],
                "repeats": len(res.samples),
                "n": res.n,
                "quick": config.quick if config else None,
                "module": sc.module,
                "description": sc.description,
            }
        )
    return records


def write_json(path: str, records: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(records, fh, indent=2)
        fh.write("\n")


def environment() -> str:
    """One line on the interpreter and machine, printed above the table."""
    import os
    import platform

    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cpus, "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}"
    )
