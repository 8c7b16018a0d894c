"""Shared fixtures: every async test runs on anyio's asyncio backend.

Hypothesis runs without its timing checks (no per-example deadline, no "generation is slow" health check):
the tests assert behaviour, never speed, which ``benchmarks/`` measures; on a loaded machine those checks fail
tests whose properties hold.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("streamflow", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("streamflow")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
