"""Declarative subscriber filters, compiled once when a subscription is made.

An :class:`EventFilter` is a value: which event kinds, nodes, tags and namespaces a subscriber wants. The
channel indexes subscriptions by kind (so a publish only visits subscribers of that kind) and runs the rest
of the filter as one small callable built at subscribe time; a remote transport can apply the same value
at the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .errors import InvalidArgumentError
from .events import KINDS, TERMINAL_KINDS, Event, kind_of

__all__ = ["EventFilter", "Predicate"]

Predicate = Callable[[Event], bool]


def _frozen_or_none(values: Iterable[Any] | None) -> frozenset[Any] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return frozenset((values,))
    return frozenset(values)


def _ns_tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise InvalidArgumentError(f"ns_prefix must be a tuple of namespace parts, not the string {value!r}")
    return tuple(value)


_NOT_COMPILED: Any = object()


@attrs.frozen
class EventFilter:
    """Which events a subscriber takes. Every criterion left at None admits everything.

    Events that end a run (``terminal`` kinds) pass every filter, so every subscriber learns how the run
    ended.
    """

    kinds: frozenset[type[Event]] | None = attrs.field(default=None, converter=_frozen_or_none)
    """Event classes or ``type`` tags to take (e.g. ``{"custom_data", "state_update"}``)."""
    nodes: frozenset[str] | None = attrs.field(default=None, converter=_frozen_or_none)
    """Take only events whose ``node`` is one of these."""
    tags: frozenset[str] | None = attrs.field(default=None, converter=_frozen_or_none)
    """Take only events carrying at least one of these tags."""
    ns_prefix: tuple[str, ...] | None = attrs.field(default=None, converter=_ns_tuple)
    """Take only events whose namespace starts with this tuple (``()`` is the root)."""
    subgraphs: bool = True
    """When False, take only events of the namespace ``ns_prefix`` itself (the root by default), not of
    the subgraphs below it."""
    _compiled: Any = attrs.field(default=_NOT_COMPILED, init=False, eq=False, repr=False)
    """What :meth:`compile` made without a predicate, once made (the same for every subscriber)."""

    def __attrs_post_init__(self) -> None:
        if self.kinds is not None:
            object.__setattr__(self, "kinds", frozenset(kind_of(k) for k in self.kinds))

    def routed_kinds(self) -> frozenset[type[Event]]:
        """The event classes this filter routes on: its kinds plus the terminal ones, or every kind."""
        if self.kinds is None:
            return frozenset(KINDS.values())
        return self.kinds | TERMINAL_KINDS

    def compile(self, predicate: Predicate | None = None) -> Predicate | None:
        """Build the check run on each routed event, or None when routing by kind is enough.

        ``predicate`` (optional) is ANDed with the declared criteria; terminal events skip it too.
        """
        if predicate is None:
            compiled = self._compiled
            if compiled is _NOT_COMPILED:
                compiled = self._compile(None)
                object.__setattr__(self, "_compiled", compiled)
            return compiled  # type: ignore[no-any-return]
        return self._compile(predicate)

    def _compile(self, predicate: Predicate | None) -> Predicate | None:
        prefix = self.ns_prefix if self.ns_prefix is not None else ()
        if not self.subgraphs and self.nodes is None and self.tags is None and predicate is None:
            return lambda e: e.ns == prefix or e.terminal  # the common view: one namespace, nothing else
        checks: list[Predicate] = []
        if self.nodes is not None:
            nodes = self.nodes
            checks.append(lambda e: e.node in nodes)
        if self.tags is not None:
            tags = self.tags
            checks.append(lambda e: not tags.isdisjoint(e.tags))
        if not self.subgraphs:
            checks.append(lambda e: e.ns == prefix)
        elif prefix:
            n = len(prefix)
            checks.append(lambda e: e.ns[:n] == prefix)
        if predicate is not None:
            checks.append(predicate)
        if not checks:
            return None
        if len(checks) == 1:
            only = checks[0]
            return lambda e: e.terminal or only(e)
        every = tuple(checks)
        return lambda e: e.terminal or all(c(e) for c in every)
