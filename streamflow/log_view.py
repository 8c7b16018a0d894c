"""A structlog view of a run: every event (or the kinds chosen) written through a structlog logger.

A bridge: it subscribes to a run's channel like any other view and never configures structlog; the
application's structlog configuration decides where the lines go. streamflow itself logs through
``structlog.get_logger("streamflow")``, which is also this view's default logger.

Each event becomes one log call named after its kind (``"task_started"``, ``"chat_model_token"`` ...), with
``run_id``, ``seq``, ``ns``, ``node`` and ``step`` as fields, plus the event's own short fields (``task_id``,
``call_id``, ``name``, ``error_type``, ``error_message``, ``reason``, ``streamed``); payloads (state, inputs,
outputs, chunks) are left out. A :class:`~streamflow.channel.Lagged` signal is logged as
``"events_lagged"`` at warning level with ``missed``, ``first_seq`` and ``last_seq``, so a view that fell
behind says so.

Levels by kind (:data:`DEFAULT_LEVELS`): failures at ``error``, cancellation at ``warning``, per-token and
per-write events (``chat_model_token``, ``run_chunk``, ``runnable_chunk``, ``custom_data``, ``state_values``,
``state_update``) at ``debug``,
the rest at ``info``. ``levels`` overrides any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import structlog

from .channel import DEFAULT_BUFFER_SIZE, Channel, Lagged, OverflowPolicy, Subscription
from .errors import InvalidArgumentError
from .events import KINDS, Event, kind_of

__all__ = ["DEFAULT_LEVELS", "LEVELS", "LogView"]

LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")
"""The level names a kind can be logged at."""

DEFAULT_LEVELS: Mapping[str, str] = {
    "run_failed": "error",
    "task_failed": "error",
    "tool_failed": "error",
    "run_cancelled": "warning",
    "chat_model_token": "debug",
    "run_chunk": "debug",
    "runnable_chunk": "debug",
    "custom_data": "debug",
    "state_values": "debug",
    "state_update": "debug",
}
"""Kinds logged at another level than ``info``."""

_ROUTING = ("run_id", "seq", "ts", "ns", "node", "step", "tags", "metadata")
_SCALARS = (str, int, float, bool)


def _short_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields of ``cls`` that are logged besides the routing ones: ids, names, errors, flags."""
    wanted = {"task_id", "call_id", "name", "error_type", "error_message", "reason", "streamed", "model_name"}
    return tuple(f.name for f in attrs.fields(cls) if f.name in wanted and f.name not in _ROUTING)


class LogView:
    """Logs the events of one subscription through a structlog logger (see the module docstring).

    Build it with :meth:`attach`, then ``await view.run()`` (in a task next to the run) until the run ends.

    :param subscription: where the events come from
    :param logger: a structlog logger (default ``structlog.get_logger("streamflow")``)
    :param levels: event kind -> level name, overriding :data:`DEFAULT_LEVELS`
    :raises UnknownEventKindError: for an unknown kind in ``levels``
    :raises InvalidArgumentError: for a level that is not one of :data:`LEVELS`
    """

    def __init__(
        self,
        subscription: Subscription,
        *,
        logger: Any = None,
        levels: Mapping[str, str] | None = None,
    ) -> None:
        merged = {**DEFAULT_LEVELS, **(levels or {})}
        for kind, level in merged.items():
            kind_of(kind)
            if level not in LEVELS:
                raise InvalidArgumentError(
                    f"unknown log level {level!r} for kind {kind!r}; allowed: {', '.join(LEVELS)}"
                )
        self.subscription = subscription
        self.logger = logger if logger is not None else structlog.get_logger("streamflow")
        self.levels = {cls: merged.get(tag, "info") for tag, cls in KINDS.items()}
        self._fields = {cls: _short_fields(cls) for cls in KINDS.values()}
        self.logged = 0
        """Log calls made so far (events and lag signals)."""

    @classmethod
    def attach(
        cls,
        source: Any,
        *,
        logger: Any = None,
        levels: Mapping[str, str] | None = None,
        kinds: Iterable[str | type[Event]] | None = None,
        nodes: Iterable[str] | None = None,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "drop_oldest",
        after_seq: int | None = None,
    ) -> LogView:
        """Subscribe to ``source`` (a :class:`~streamflow.graph.Run`, a
        :class:`~streamflow.runnables.run.RunnableRun` or a :class:`~streamflow.channel.Channel`)
        now, so no event published after this call is missed, and return the view.

        By default the view drops its oldest events rather than slow the run (``overflow="drop_oldest"``),
        and logs how many it missed; ``"block"`` logs everything at the cost of pausing the run.

        :param kinds: only these event kinds (terminal kinds are always taken)
        :param nodes: only events of these nodes
        :raises InvalidArgumentError: for bad levels or subscription arguments (see ``Channel.subscribe``)
        :raises UnknownEventKindError: for an unknown kind in ``kinds`` or ``levels``
        """
        channel: Channel = source if isinstance(source, Channel) else source.channel
        sub = channel.subscribe(
            kinds=kinds, nodes=nodes, buffer_size=buffer_size, overflow=overflow, after_seq=after_seq
        )
        try:
            return cls(sub, logger=logger, levels=levels)
        except BaseException:
            sub.close()
            raise

    def log(self, item: Event | Lagged) -> None:
        """Log one event or lag signal."""
        self.logged += 1
        if isinstance(item, Lagged):
            self.logger.warning("events_lagged", missed=item.missed, first_seq=item.first_seq, last_seq=item.last_seq)
            return
        cls = item.__class__
        fields: dict[str, Any] = {
            "run_id": item.run_id,
            "seq": item.seq,
            "ns": item.ns,
            "node": item.node,
            "step": item.step,
        }
        for name in self._fields[cls]:
            value = getattr(item, name)
            if value is not None and isinstance(value, _SCALARS):
                fields[name] = value
        getattr(self.logger, self.levels[cls])(cls.kind, **fields)

    async def run(self) -> int:
        """Log every event until the run ends (or the subscription is closed); return the log calls made."""
        async with self.subscription as sub:
            async for item in sub:
                self.log(item)
        return self.logged

    def close(self) -> None:
        """Detach from the run. Idempotent."""
        self.subscription.close()
