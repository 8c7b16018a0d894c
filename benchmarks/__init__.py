"""streamflow's benchmark suite: ``python -m benchmarks [--quick] [--only NAME[,NAME...]] [--json FILE]``.

Scenarios register themselves with :func:`benchmarks.harness.scenario`; see ``benchmarks/README.md``.
"""

from .harness import Sample as Sample
from .harness import scenario as scenario

__all__ = ["Sample", "scenario"]
