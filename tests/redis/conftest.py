"""Fixtures for the Redis bridge: the real local server, a key prefix per test, and a server of a test's own
that the fault tests stop and start.

When Redis is unreachable the tests are skipped on a developer's machine and fail under CI (``CI`` set):
CI starts Redis itself (``.ci/redis-up``), so an unreachable one there is a broken setup, not a reason to
pass.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST, PORT = "127.0.0.1", 6379
URL = f"redis://{HOST}:{PORT}/0"
START_COMMAND = [
    "redis-server",
    "--daemonize", "yes",
    "--bind", "127.0.0.1", "-::1",
    "--port", str(PORT),
    "--save", "",
    "--appendonly", "no",
    "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def client() -> redis.Redis:
    """A sync client that fails at once when the server is down (no retries with backoff)."""
    return redis.Redis(host=HOST, port=PORT, socket_connect_timeout=0.5, socket_timeout=2, retry=Retry(NoBackoff(), 0))


def answers() -> bool:
    """Whether a Redis server answers PING at HOST:PORT right now."""
    try:
        with client() as c:
            return bool(c.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def wait_until(check: object, what: str, deadline_s: float = 20.0) -> None:
    """Poll ``check()`` (an external process's state) until it is true, failing after ``deadline_s``."""
    assert callable(check)
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting until {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not answers():
        message = f"no Redis answers at {HOST}:{PORT} (start it with: {' '.join(START_COMMAND)})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards."""
    name = f"sftest-{uuid.uuid4().hex[:12]}"
    yield name
    if answers():
        with client() as c:
            keys = list(c.scan_iter(match=f"{name}:*", count=1000))
            if keys:
                c.delete(*keys)


class RedisServer:
    """A Redis server process of the test's own, on a free loopback port, which the test may stop and start
    (the fault tests): stopping the machine's shared server would break whatever else talks to it."""

    def __init__(self, workdir: str) -> None:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://{HOST}:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def _client(self) -> redis.Redis:
        return redis.Redis(
            host=HOST, port=self.port, socket_connect_timeout=0.5, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def answers(self) -> bool:
        """Whether this server answers PING right now."""
        try:
            with self._client() as c:
                return bool(c.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def start(self) -> None:
        """Start the server (empty: it keeps nothing on disk) and wait until it answers."""
        if self._process is None or self._process.poll() is not None:
            command = ["redis-server", "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly", "no"]
            command += ["--dir", self._workdir]
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, f"the test's Redis answers on port {self.port}")

    def stop(self) -> None:
        """Stop the server (it closes every connection as it goes down) and wait until it has exited."""
        process = self._process
        if process is None:
            return
        process.terminate()
        process.wait(timeout=20)
        self._process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of the test's own (:class:`RedisServer`), running; stopped when the test ends, however
    it ends."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (the fault tests run a server of their own)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(str(tmp_path))
    server.start()
    try:
        yield server
    finally:
        server.stop()


POSTGRES = os.environ.get("STREAMFLOW_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    """A connection string to a schema of its own on the test PostgreSQL (dropped afterwards)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"no PostgreSQL at {POSTGRES!r}: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES!r}: {exc}")
    schema = f"sf_takeover_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES} options='-c search_path={schema}'"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
