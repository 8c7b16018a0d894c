"""One consumer's chain of transformers over a run's envelopes (LangGraph's ``StreamMux``, per consumer).

Layer 2 (views). A :class:`Pipeline` holds fresh transformer instances (made by the run stream's factories
with the pipeline's scope), merges their projections into ``extensions``, and pushes each envelope through
them in order (those that read its method at its depth: a built-in says which it reads, decided once per
method and depth): a transformer returning False keeps it out of the main log; what a named channel is pushed
becomes an envelope of the main log at once. ``seq`` is given as an envelope enters the root pipeline's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .chat_stream import Pump
from .protocol import ProtocolEvent, envelope
from .stream_channel import StreamChannel
from .transformer import StreamTransformer, transformer_reads, transformer_reads_all, transformer_requires_async

__all__ = ["HandleFactory", "Pipeline", "TransformerFactory"]

TransformerFactory = Callable[[tuple[str, ...]], StreamTransformer]
"""``factory(scope) -> StreamTransformer``; a transformer class is one."""

HandleFactory = Callable[["Pipeline", tuple[str, ...], str | None, str | None], Any]
"""``(parent pipeline, namespace, graph name, trigger task id) -> subgraph handle``."""

Step = tuple[Callable[[ProtocolEvent], Any], bool]
"""A transformer's ``process`` (``False``) or ``aprocess`` (``True``, awaited)."""


class Route(NamedTuple):
    """The steps envelopes of one method and depth go through."""

    steps: tuple[Step, ...]
    awaits: bool
    """Whether one of them is awaited."""


class Pipeline:
    """The transformers of one consumer at one scope.

    :param factories: the transformer factories, in order (``before_builtins`` ones are moved first)
    :param scope: the namespace the pipeline works in (``()`` for the root)
    :param is_async: False for a sync run stream, which refuses transformers that need the async lane
    :param make_handle: builds subgraph handles for :class:`~streamflow.stream.SubgraphTransformer`
    :param assign_seq: whether envelopes entering the log get a ``seq`` (the root pipeline's do)
    :raises RuntimeError: for a transformer that needs the async lane on a sync run stream
    :raises TypeError: when a transformer's ``init()`` does not return a dict
    :raises ValueError: when two transformers give the same projection key
    """

    def __init__(
        self,
        factories: Sequence[TransformerFactory],
        scope: tuple[str, ...] = (),
        *,
        is_async: bool = True,
        make_handle: HandleFactory | None = None,
        assign_seq: bool = True,
    ) -> None:
        self.scope = scope
        self.is_async = is_async
        self.extensions: dict[str, Any] = {}
        self.native_keys: set[str] = set()
        self.logs: list[deque[Any]] = []
        """Where main-log envelopes go: one deque per reader of this pipeline's main log."""
        self.pump: Pump | None = None
        self.pump_ahead: Pump | None = None
        """Take a step of the consumer only when it needs no waiting (see :meth:`Consumer.pull_ahead
        <streamflow.stream.consumer.Consumer.pull_ahead>`)."""
        self._factories = tuple(factories)
        self._make_handle = make_handle
        self._assign_seq = assign_seq
        self._seq = 0
        self._transformers: list[StreamTransformer] = []
        self._steps: list[Step] = []
        """Per transformer: its ``aprocess`` (awaited) when it overrides it, else its ``process``."""
        self._routes: dict[tuple[str, bool], Route] = {}
        """``(method, nested)`` -> the steps an envelope of that method reaches (``nested``: its namespace is
        below the pipeline's scope), made at the first such envelope."""
        self._routed = True
        """Whether envelopes go to the transformers that read them only (see :meth:`_route`)."""
        self.handed_over = [0]
        """Lazily fed objects (chat model streams, subgraph handles) made so far, shared with child pipelines:
        a consumer stops its step after the event that made one, so its reader attaches before the next."""
        self._channels: list[StreamChannel[Any]] = []
        self._owners: dict[str, str] = {}
        built = [factory(scope) for factory in self._factories]
        for transformer in [t for t in built if t.before_builtins] + [t for t in built if not t.before_builtins]:
            self._register(transformer)

    @property
    def modes(self) -> frozenset[str]:
        """The stream modes the transformers need."""
        return frozenset(mode for t in self._transformers for mode in t.required_stream_modes)

    def _register(self, transformer: StreamTransformer) -> None:
        if transformer_requires_async(transformer) and not self.is_async:
            raise RuntimeError(
                f"{type(transformer).__name__} requires an async run — it overrides aprocess/afinalize/afail "
                "or sets requires_async=True. Use astream(), not stream()."
            )
        projection = transformer.init()
        if not isinstance(projection, dict):
            raise TypeError(f"StreamTransformer.init() must return a dict, got {type(projection).__name__}")
        conflicts = sorted(set(projection) & set(self.extensions))
        if conflicts:
            owners = ", ".join(f"{key!r} (owned by {self._owners[key]})" for key in conflicts)
            raise ValueError(
                f"Transformer {type(transformer).__name__} returned projection keys that conflict with "
                f"already-registered keys: {owners}"
            )
        native = bool(getattr(transformer, "_native", False))
        if transformer.before_builtins and transformer_reads_all(transformer):
            self._routed = False  # it may edit what a later transformer routes on: every envelope reaches all
        self._transformers.append(transformer)
        if type(transformer).aprocess is StreamTransformer.aprocess:
            self._steps.append((transformer.process, False))
        else:
            self._steps.append((transformer.aprocess, True))
        for key, value in projection.items():
            self._owners[key] = type(transformer).__name__
            if isinstance(value, StreamChannel):
                self._channels.append(value)
                if value.name is not None:
                    value._wire_fn = self._forwarder(value.name if native else f"custom:{value.name}")
        self.extensions.update(projection)
        if native:
            self.native_keys.update(projection)
        transformer._on_register(self)

    def _forwarder(self, method: str) -> Callable[[Any], None]:
        def forward(item: Any) -> None:
            self._emit(envelope(method, [], int(time.time() * 1000), item))

        return forward

    def _emit(self, event: ProtocolEvent) -> None:
        if self._assign_seq:
            self._seq += 1
            event["seq"] = self._seq
        for log in self.logs:
            log.append(event)

    def channel(self, key: str) -> StreamChannel[Any]:
        """The channel of projection ``key``.

        :raises KeyError: when no transformer gave ``key``
        :raises TypeError: when ``key``'s projection is not a :class:`StreamChannel`
        """
        value = self.extensions[key]
        if not isinstance(value, StreamChannel):
            raise TypeError(f"projection {key!r} is a {type(value).__name__}, not a StreamChannel")
        return value

    def bind_pump(self, pump: Pump, ahead: Pump | None = None) -> None:
        """Give the transformers that hand out lazily fed objects (chat model streams) the consumer's pump
        (and the pump that takes a step only when it needs no waiting)."""
        self.pump = pump
        self.pump_ahead = ahead
        for transformer in self._transformers:
            bind = getattr(transformer, "_bind_apump", None)
            if bind is not None:
                bind(pump)

    def make_handle(self, ns: tuple[str, ...], graph_name: str | None, trigger_call_id: str | None) -> Any:
        """A handle for the child subgraph at ``ns`` (see :class:`~streamflow.stream.SubgraphTransformer`)."""
        if self._make_handle is None:
            return None
        self.handed_over[0] += 1
        return self._make_handle(self, ns, graph_name, trigger_call_id)

    def note_handed_over(self) -> None:
        """A transformer made a lazily fed object (see :attr:`handed_over`)."""
        self.handed_over[0] += 1

    def has_open_handles(self) -> bool:
        """Whether a subgraph handle this pipeline made is still fed (its reader must keep going for it)."""
        return any(not handle._closed for t in self._transformers for handle in getattr(t, "_handles", {}).values())

    def child(self, scope: tuple[str, ...]) -> Pipeline:
        """A pipeline of fresh transformers at ``scope``, fed by this one's consumer."""
        child = Pipeline(
            self._factories, scope, is_async=self.is_async, make_handle=self._make_handle, assign_seq=False
        )
        if self.pump is not None:
            child.bind_pump(self.pump, self.pump_ahead)
        return child

    def _route(self, event: ProtocolEvent) -> Route:
        """The steps ``event`` goes through: those of the transformers that read envelopes of its method at
        its depth (a built-in transformer says which it reads; any other reads all), in order. A transformer
        left out would have kept the envelope and done nothing with it. Every step, when a transformer that
        reads all runs before the built-ins (it may edit the method or namespace they read)."""
        key = (event["method"], len(event["params"]["namespace"]) > len(self.scope))
        route = self._routes.get(key)
        if route is None:
            method, nested = key
            steps = tuple(
                step
                for transformer, step in zip(self._transformers, self._steps, strict=True)
                if not self._routed or transformer_reads(transformer, method, nested)
            )
            route = self._routes[key] = Route(steps, any(is_async for _, is_async in steps))
        return route

    def push_ready(self, event: ProtocolEvent) -> bool:
        """:meth:`push` ``event`` now, when none of the transformers it reaches needs awaiting; return False
        (``event`` untouched) when one does."""
        route = self._route(event)
        if route.awaits:
            return False
        keep = True
        for step, _ in route.steps:
            if not step(event):
                keep = False
        if keep:
            self._emit(event)
        return True

    async def push(self, event: ProtocolEvent) -> None:
        """Run ``event`` through every transformer that reads it (see :meth:`_route`), then into the log unless
        one returned False."""
        keep = True
        for step, is_async in self._route(event).steps:
            if not (await step(event) if is_async else step(event)):
                keep = False
        if keep:
            self._emit(event)

    def _scheduled(self) -> list[asyncio.Task[Any]]:
        return [
            task for t in self._transformers for task in getattr(t, "_stream_scheduled_tasks", ()) if not task.done()
        ]

    async def close(self) -> None:
        """The run ended: await scheduled tasks, finalize every transformer, close every channel.

        :raises Exception: the first error of a scheduled task (``on_error="raise"``) or of a finalize hook
        """
        pending = self._scheduled()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        failures = [exc for t in self._transformers for exc in getattr(t, "_stream_scheduled_failures", ())]
        first: BaseException | None = failures[0] if failures else None
        for transformer in self._transformers:
            try:
                await transformer.afinalize()
            except Exception as exc:  # the remaining transformers still close
                first = first or exc
        for channel in self._channels:
            if not channel.closed:
                channel.close()
        if first is not None:
            raise first

    async def fail(self, err: BaseException) -> None:
        """The run failed with ``err``: cancel scheduled tasks, tell every transformer, fail every channel."""
        pending = self._scheduled()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for transformer in self._transformers:
            with contextlib.suppress(Exception):  # every transformer is told; the run's error is raised
                await transformer.afail(err)
        for channel in self._channels:
            if not channel.closed:
                channel.fail(err)
