"""The HTTP bridge works without the Redis bridge: it imports it only when asked for ``RedisRunSource``."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_server_imports_no_redis_until_asked() -> None:
    proc = run_python(
        """
        import sys
        import streamflow.server
        assert "redis" not in sys.modules and "streamflow.redis" not in sys.modules, sorted(sys.modules)
        from streamflow.server import RedisRunSource
        assert "streamflow.redis" in sys.modules
        print(RedisRunSource.__name__)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["RedisRunSource"]


def test_without_the_redis_extra_asking_for_the_redis_source_names_the_extra() -> None:
    proc = run_python(
        """
        import sys
        sys.modules["redis"] = None  # as if redis-py were not installed
        import streamflow.server
        from streamflow.errors import MissingExtraError
        try:
            streamflow.server.RedisRunSource
        except MissingExtraError as exc:
            print(exc.extra)
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    extra, message = proc.stdout.splitlines()
    assert extra == "redis"
    assert "pip install 'streamflow[redis]'" in message
