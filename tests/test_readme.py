"""The README's runnable examples run, and print what the README says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "<!-- runnable: tests/test_readme.py runs this block -->"
BLOCKS = re.findall(re.escape(MARK) + r"\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _promised(block: str) -> list[str]:
    """The output lines a block promises in trailing comments: whole-line ``# output`` comments after the
    code, or a ``# text`` after a print call."""
    lines = block.rstrip().splitlines()
    tail: list[str] = []
    for line in reversed(lines):
        if line.startswith("# "):
            tail.append(line[2:])
        else:
            break
    return list(reversed(tail))


def test_the_readme_has_runnable_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_readme_block_runs(block: str, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(block, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(README.parent)}  # this checkout's streamflow, whatever is installed
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "the block printed nothing"
    promised = _promised(block)
    if promised:
        assert proc.stdout.splitlines()[-len(promised) :] == promised
