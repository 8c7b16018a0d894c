"""A worker subprocess of a test: a module of ``tests.redis`` run with this interpreter from the repository root,
its stdout read line by line and its stderr kept in a temporary file for the assertion messages."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]


class PeerProcess:
    """``python -m module *args`` in a subprocess (``PYTHONPATH`` set to the repository root).

    :cvar returncodes: the exit statuses :meth:`stop` accepts
    """

    returncodes: ClassVar[tuple[int, ...]] = (0,)

    def __init__(self, module: str, *args: str) -> None:
        self.command = [module, *args]
        """The module and its arguments, for messages."""
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop(), with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    def line(self, deadline_s: float = 60) -> str:
        """The next line the process prints, stripped ("" when it printed none by ``deadline_s`` seconds: a
        deadline for another process, not a timed assert)."""
        assert self.proc.stdout is not None
        readable, _, _ = select.select([self.proc.stdout], [], [], deadline_s)
        return self.proc.stdout.readline().strip() if readable else ""

    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        self._log.seek(0)
        return self._log.read()

    def kill(self) -> None:
        """SIGKILL it and wait for it to end."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM it if it runs, wait for it to end, and assert its exit status is one of ``returncodes``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        log = self.stderr()
        self._log.close()
        if log:  # shown with the test's captured output when it fails: what the worker said
            print(f"--- stderr of {' '.join(self.command)} (exit {self.proc.returncode}) ---\n{log[-8000:]}")
        assert self.proc.returncode in self.returncodes, log
