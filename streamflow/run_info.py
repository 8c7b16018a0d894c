"""What is known of a run at one moment: its status and its info record, one shape wherever a run lives.

A value module (the lowest layer, beside :mod:`streamflow.events`): no I/O, no asyncio. The run registry
(:mod:`streamflow.server.registry`), the Redis directory (:mod:`streamflow.redis.directory`), the HTTP
app's run sources and :attr:`streamflow.graph.Run.status` all speak of a run with these names:

:data:`RunStatus`
    ``"queued"`` (submitted to worker processes, none has started it yet), ``"running"``, ``"finished"``,
    ``"failed"`` or ``"cancelled"``. A run in this process is never ``queued``: it starts at once.
:class:`RunInfo`
    one frozen record of a run's identity, status, times (seconds since the epoch), ``seq`` bounds and,
    where the reader knows them, its subscribers, output or error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, get_args

import attrs

from .errors import InvalidArgumentError

__all__ = ["ENDED", "RUN_STATUSES", "RunError", "RunInfo", "RunStatus", "check_statuses"]

RunStatus = Literal["queued", "running", "finished", "failed", "cancelled"]
"""The status of a run (see the module docstring for each value)."""
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
"""Every :data:`RunStatus`, in the order a run goes through them."""
ENDED: frozenset[RunStatus] = frozenset({"finished", "failed", "cancelled"})
"""The statuses of a run that is over."""


def check_statuses(status: str | Iterable[str] | None) -> frozenset[RunStatus] | None:
    """The statuses asked for (one, or several), or None for all.

    :raises InvalidArgumentError: for a value that is not a :data:`RunStatus`; the message lists those
    """
    if status is None:
        return None
    wanted = frozenset((status,) if isinstance(status, str) else status)
    bad = wanted - set(RUN_STATUSES)
    if bad:
        raise InvalidArgumentError(f"unknown run status {sorted(bad)}; allowed: {', '.join(RUN_STATUSES)}")
    return frozenset(s for s in RUN_STATUSES if s in wanted)


@attrs.frozen
class RunError:
    """Why a run failed, as a client can be told it."""

    type: str
    """The class name of the exception the run failed with (``"ValueError"``), without its module."""
    message: str
    """The exception's message (``str(exc)``), or what the app's error policy lets a client read of it."""
    error_type: str = ""
    """The exception's qualified class name (``"builtins.ValueError"``, as events name it); ``""`` where
    unknown. Not part of the JSON form: the app's error policy decides by it."""


@attrs.frozen
class RunInfo:
    """A run as its registry or directory knows it, at one moment.

    Every reader fills the same fields; ``subscribers``, ``output`` and ``error`` only where it knows them.
    """

    run_id: str
    """The run's id."""
    graph: str
    """The name the run's graph is served under."""
    status: RunStatus
    """Where the run is (see :data:`RunStatus`)."""
    created_at: float
    """When the run was created, in seconds since the epoch: started in this process, or queued for a
    worker (it keeps that time once a worker starts it)."""
    finished_at: float | None
    """When the run ended (finished, failed or cancelled), in seconds since the epoch; None until then."""
    last_seq: int
    """The ``seq`` of the run's last event so far (0 before the first)."""
    first_retained_seq: int | None
    """The ``seq`` of the oldest event still retained for replay (the run's replay buffer, or its Redis
    stream); None when none is retained."""
    subscribers: int | None = None
    """Subscribers attached to the run's channel now; None where the reader cannot know (a run in another
    process, whose viewers may be anywhere)."""
    output: Any = None
    """The final state of a run that finished, where the reader read it (a run source's ``get``); None
    otherwise, and in listings."""
    error: RunError | None = None
    """Why a run that failed failed, where the reader read it (a run source's ``get``); None otherwise."""
    owner: str | None = None
    """The identity of the principal that started the run through an HTTP app with authentication (see
    :mod:`streamflow.server.auth`); None for a run started without one."""

    def to_dict(self, *, outcome: bool = False) -> dict[str, Any]:
        """The JSON form: every field but ``output``, ``error`` and ``owner`` (``subscribers`` null where
        unknown); ``owner`` too when the run has one; with ``outcome``, also ``output`` for a finished run or
        ``error`` (``{"type", "message"}``) for a failed one."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "graph": self.graph,
            "status": self.status,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "last_seq": self.last_seq,
            "first_retained_seq": self.first_retained_seq,
            "subscribers": self.subscribers,
        }
        if self.owner is not None:
            out["owner"] = self.owner
        if outcome:
            if self.status == "finished":
                out["output"] = self.output
            elif self.status == "failed" and self.error is not None:
                out["error"] = {"type": self.error.type, "message": self.error.message}
        return out
