"""Command line: ``python -m benchmarks [--quick] [--only NAME[,NAME...]] [--json FILE]``.

Prints one table (name, unit, ops/s, ratio to baseline, notes). Targets are reported PASS/FAIL in the
notes; they never change the exit status (a noisy machine must not fail a build). The exit status is 2
for a bad argument and 1 when a scenario raised.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import harness


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run streamflow's benchmarks; every ratio is measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer events and repeats (whole run < 20 s)")
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME...]",
        action="append",
        default=[],
        help="run only these scenarios (names or globs such as 'channel_*'), plus the baselines they are "
        "compared with; may be repeated",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as a JSON list of records")
    parser.add_argument("--repeats", type=int, metavar="N", help="repeats per scenario (default 7, 3 with --quick)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run every scenario once with a tiny size, to check that it works (numbers are meaningless)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)

    harness.load_modules()
    if args.list:
        for sc in harness.REGISTRY.values():
            vs = f" (vs {sc.baseline})" if sc.baseline else ""
            print(f"{sc.name:<22} {sc.unit:<14} {sc.module}{vs}: {sc.description}")
        return 0
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    patterns = [p.strip() for group in args.only for p in group.split(",") if p.strip()]
    try:
        selected = harness.resolve(patterns)
    except (KeyError, ValueError) as exc:
        parser.error(str(exc.args[0]) if exc.args else str(exc))
    config = harness.RunConfig.make(quick=args.quick, smoke=args.smoke, repeats=args.repeats)

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    print(f"streamflow benchmarks ({mode}: {len(selected)} scenarios, {config.repeats} repeats, best kept)")
    print(harness.environment())
    started = time.perf_counter()
    try:
        results = harness.run(selected, config, progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
    except Exception as exc:
        print(f"error: a scenario failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    print()
    print(harness.format_table(results))
    print(f"\n{time.perf_counter() - started:.1f} s")
    if args.json:
        harness.write_json(args.json, harness.to_records(results, config=config))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
