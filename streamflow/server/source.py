"""Where the HTTP app finds its runs: the :class:`RunSource` interface and its in-process implementation.

The app (:mod:`streamflow.server.app`) only parses requests and writes responses; starting, finding,
listing, cancelling and streaming runs is the run source's business. Two implement it:

* :class:`LocalRunSource`: runs executing in this process, held by a
  :class:`~streamflow.server.registry.RunRegistry`.
* :class:`~streamflow.server.redis_source.RedisRunSource`: runs executing in worker processes, queued and read
  back through Redis (needs the ``redis`` extra).

Run info is one record, :class:`~streamflow.run_info.RunInfo`, whichever source reads it; the app writes
its JSON form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

import attrs

from ..events import error_type_name
from ..run_info import RunError, RunInfo, RunStatus
from .registry import RunRegistry
from .stream import RunStream, StreamRequest

__all__ = ["LocalRunSource", "RunSource", "SSEStream"]


class SSEStream(Protocol):
    """One client's SSE stream of one run: bytes of whole SSE messages (shapes in
    :mod:`streamflow.server.stream`)."""

    @property
    def over(self) -> bool:
        """True when the run has ended and the client already has its last event."""
        ...

    @property
    def after_seq(self) -> int:
        """The ``seq`` of the last event sent (or the client's ``after_seq`` before any)."""
        ...

    def __aiter__(self) -> AsyncIterator[bytes]:
        """The messages, ``metadata`` first and a terminal message last."""
        ...

    def close(self) -> None:
        """Detach from the run (a client disconnect); the run goes on. Idempotent."""
        ...


class RunSource(Protocol):
    """What the HTTP app needs of the place its runs live. Every method runs in the app's event loop."""

    @property
    def graph_names(self) -> list[str]:
        """The names of the graphs runs can be started of, sorted."""
        ...

    async def start(
        self, graph: str, input: Any, config: Mapping[str, Any] | None, *, owner: str | None = None
    ) -> RunInfo:
        """Start (or queue) a run of ``graph`` and return its info, with ``owner`` recorded on the run.

        :raises UnknownGraphError: for a graph name the source does not serve
        :raises InvalidUpdateError: for an input the graph's state schema does not accept
        :raises InvalidArgumentError: for a malformed config or a ``run_id`` already taken
        :raises RegistryFullError: when the source cannot take another run now
        """
        ...

    async def list(
        self, status: RunStatus | Iterable[RunStatus] | None = None, *, owner: str | None = None
    ) -> list[RunInfo]:
        """The runs' info, oldest first, only those with one of ``status`` when given, and only those of
        ``owner`` when given.

        :raises InvalidArgumentError: for a status that is not a :data:`~streamflow.run_info.RunStatus`
        """
        ...

    async def owner_of(self, run_id: str) -> str | None:
        """The ``owner`` recorded on the run (None for a run started without one).

        :raises UnknownRunError: for a run the source has no trace of
        """
        ...

    async def live_runs(self, owner: str) -> int:
        """How many runs of ``owner`` are queued or running now (runs)."""
        ...

    async def get(self, run_id: str) -> RunInfo:
        """The run's info with its ``output`` once it finished, or its ``error`` once it failed.

        :raises UnknownRunError: for a run the source has no trace of
        """
        ...

    async def cancel(self, run_id: str) -> RunInfo:
        """Cancel the run if it is still going, wait (a bounded time for a remote run) until it stopped,
        and return its info.

        :raises UnknownRunError: for a run the source has no trace of
        """
        ...

    async def request_cancel(self, run_id: str) -> bool:
        """Ask for the run to be cancelled without waiting; True when it was still going.

        :raises UnknownRunError: for a run the source has no trace of
        """
        ...

    async def open_stream(self, run_id: str, request: StreamRequest) -> SSEStream:
        """A client's stream of the run, from after ``request.after_seq`` (its last event id; 0 for all).

        :raises UnknownRunError: for a run the source has no trace of
        :raises InvalidArgumentError: for a ``after_seq`` beyond the run's last ``seq``
        """
        ...

    async def aclose(self) -> None:
        """Release what the source holds (a local source cancels its live runs)."""
        ...


class LocalRunSource:
    """Runs executing in this process, held by ``registry`` (see :class:`RunSource` for the methods).

    :param registry: the registry that starts and holds the runs; :meth:`aclose` closes it when ``owned``
    """

    def __init__(self, registry: RunRegistry, *, owned: bool = False) -> None:
        self.registry = registry
        self.owned = owned

    @property
    def graph_names(self) -> list[str]:
        """The registered graph names, sorted."""
        return self.registry.graph_names

    async def start(
        self, graph: str, input: Any, config: Mapping[str, Any] | None, *, owner: str | None = None
    ) -> RunInfo:
        """Start a run in this process (see :meth:`RunRegistry.start` for what it raises)."""
        run = self.registry.start(graph, input, config, owner=owner)
        return self.registry.info(run.run_id)

    async def list(
        self, status: RunStatus | Iterable[RunStatus] | None = None, *, owner: str | None = None
    ) -> list[RunInfo]:
        """The held runs' info, oldest first (``queued`` matches none: local runs start at once), only
        ``owner``'s when given.

        :raises InvalidArgumentError: for a status that is not a :data:`~streamflow.run_info.RunStatus`
        """
        return self.registry.list(status=status, owner=owner)

    async def owner_of(self, run_id: str) -> str | None:
        """The run's ``owner``.

        :raises UnknownRunError: when the registry does not hold the run
        """
        return self.registry.entry(run_id).owner

    async def live_runs(self, owner: str) -> int:
        """How many of ``owner``'s runs are still going in the registry (runs)."""
        return self.registry.live_runs(owner)

    async def get(self, run_id: str) -> RunInfo:
        """The run's info with its ``output`` or ``error``.

        :raises UnknownRunError: when the registry does not hold the run
        """
        entry = self.registry.entry(run_id)
        info = entry.info()
        run = entry.run
        if info.status == "finished":
            return attrs.evolve(info, output=await run.result())
        if info.status == "failed" and run.error is not None:
            error = run.error
            return attrs.evolve(
                info, error=RunError(type=type(error).__name__, message=str(error), error_type=error_type_name(error))
            )
        return info

    async def cancel(self, run_id: str) -> RunInfo:
        """Cancel the run, wait until it stopped, return its info.

        :raises UnknownRunError: when the registry does not hold the run
        """
        return await self.registry.cancel(run_id)

    async def request_cancel(self, run_id: str) -> bool:
        """Cancel the run without waiting; True when it was still going.

        :raises UnknownRunError: when the registry does not hold the run
        """
        run = self.registry.get(run_id)
        if run.done:
            return False
        run.cancel()
        return True

    async def open_stream(self, run_id: str, request: StreamRequest) -> RunStream:
        """A :class:`~streamflow.server.stream.RunStream` of the run.

        :raises UnknownRunError: when the registry does not hold the run
        :raises InvalidArgumentError: for a ``after_seq`` beyond the run's last ``seq``
        """
        entry = self.registry.entry(run_id)
        return RunStream(entry.run, entry.graph, request, entry.frames)

    async def aclose(self) -> None:
        """Close the registry when this source owns it (cancelling live runs). Idempotent."""
        if self.owned:
            await self.registry.aclose()
