"""The sync v3 run stream: LangGraph's ``GraphRunStream``, the async one carried over the portal.

Layer 2 (views). ``graph.stream_events(input, version="v3")`` returns a :class:`GraphRunStream`: the
:class:`~streamflow.stream.AsyncGraphRunStream` of the same run, living on the shared portal thread's event loop
(kept running while the stream lives), read from the calling thread in batches. Iterating it or a projection
is a reader with its own subscription, as on the async stream; ``output`` / ``interrupted`` / ``interrupts``
are properties. Chat model streams (``run.messages``) and subgraph handles (``run.subgraphs``) are handed over
as their sync faces.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from ..channel import OverflowPolicy
from ..portal import PortalLease
from ..subscription import DEFAULT_BUFFER_SIZE
from .chat_stream import AsyncChatModelStream, ChatModelStream
from .consumer import ConsumerPolicy, Reader
from .protocol import ProtocolEvent
from .run_stream import AsyncGraphRunStream, AsyncSubgraphRunStream, _missing
from .tool_call_stream import ToolCallStream

__all__ = ["GraphRunStream", "Projection", "SubgraphRunStream"]

T = TypeVar("T")


def _sync_item(lease: PortalLease, settle: Callable[[], None]) -> Callable[[Any], Any]:
    def wrap(item: Any) -> Any:
        if isinstance(item, AsyncChatModelStream):
            return ChatModelStream(item, lease.call)
        if isinstance(item, AsyncSubgraphRunStream):
            return SubgraphRunStream(item, lease, settle)
        if isinstance(item, ToolCallStream):
            return item._for_sync(lease.call)
        return item

    return wrap


class _SyncReader(Iterator[Any]):
    """A reader on the portal's loop, read from this thread a batch of ready items per hop: it takes a step
    only when this thread asks for more, as LangGraph's caller-driven pump. Made at once (subscribed
    before the run begins, when it is made before the first item is asked for); closed when exhausted,
    by :meth:`close`, or when garbage-collected."""

    def __init__(self, lease: PortalLease, make: Callable[[], Reader], settle: Callable[[], None]) -> None:
        async def made() -> Reader:
            reader = make()
            prepare = getattr(reader, "_make", None)
            if prepare is not None:
                prepare()
            return reader

        self._lease = lease
        self._settle = settle
        self._wrap = _sync_item(lease, settle)
        self._reader = lease.call(made)
        self._batch: list[Any] = []
        self._finalizer = weakref.finalize(self, _close_soon, lease, self._reader)

    def __next__(self) -> Any:
        if not self._batch:
            try:
                batch = self._lease.call(self._reader.next_batch) if self._finalizer.alive else []
            except BaseException:
                self._finalizer.detach()
                self._settle()
                raise
            if not batch:
                self._finalizer.detach()
                self._settle()
                raise StopIteration
            batch.reverse()
            self._batch = batch
        return self._wrap(self._batch.pop())

    def close(self) -> None:
        """Leave: the reader's subscription is closed. Idempotent."""
        if self._finalizer.detach() is not None:
            self._lease.call(self._reader.aclose)


def _close_soon(lease: PortalLease, reader: Reader) -> None:
    if not lease.loop.is_closed():
        with contextlib.suppress(RuntimeError):  # the portal stopped meanwhile
            lease.loop.call_soon_threadsafe(reader.close)


def _read(lease: PortalLease, make: Callable[[], Reader], settle: Callable[[], None]) -> Iterator[Any]:
    return _SyncReader(lease, make, settle)


def _settle(lease: PortalLease, astream: AsyncGraphRunStream) -> None:
    """Once the run has ended (or was aborted), stop keeping the portal thread for it: later calls take it
    as any sync call does."""
    run = astream._run
    if astream._aborted or (run is not None and run.done):
        lease.release()


class Projection:
    """One projection of a sync run stream: ``for item in projection`` reads it; :meth:`subscribe` picks the
    backpressure (as :meth:`AsyncProjection.subscribe <streamflow.stream.AsyncProjection.subscribe>`)."""

    def __init__(self, lease: PortalLease, source: Any, key: str, settle: Callable[[], None]) -> None:
        self._lease = lease
        self._source = source
        self._settle = settle
        self.key = key

    def __iter__(self) -> Iterator[Any]:
        return self.subscribe()

    def subscribe(
        self,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "block",
        timeout: float | None = None,
    ) -> Iterator[Any]:
        """A reader with its own backpressure (see the async twin); ``Lagged`` signals come as items."""
        source = self._source
        policy = ConsumerPolicy(buffer_size, overflow, timeout)
        return _read(self._lease, lambda: source._reader(policy), self._settle)


def _sync_projections(
    owner: object,
    source: AsyncGraphRunStream | AsyncSubgraphRunStream,
    lease: PortalLease,
    settle: Callable[[], None],
) -> Mapping[str, Projection]:
    """The sync faces of ``source``'s projections by key; those ``source`` has as attributes are set on
    ``owner`` too."""
    extensions = MappingProxyType(
        {key: Projection(lease, projection, key, settle) for key, projection in source.extensions.items()}
    )
    for key in extensions:
        if key in source.__dict__:
            setattr(owner, key, extensions[key])
    return extensions


def _cleanup(lease: PortalLease, astream: AsyncGraphRunStream) -> None:
    run = astream._run
    if run is not None and not run.done and not lease.loop.is_closed():
        with contextlib.suppress(RuntimeError):  # the portal stopped meanwhile
            lease.loop.call_soon_threadsafe(run.cancel)
    lease.release()


class GraphRunStream:
    """A run of a graph read from sync code as LangGraph's v3 projections (see the module docstring and
    :class:`~streamflow.stream.AsyncGraphRunStream`). Leaving it unclosed and unreferenced aborts its run.

    :raises SyncInAsyncContextError: (when made) in a thread that runs an event loop
    """

    values: Projection
    messages: Projection
    lifecycle: Projection
    subgraphs: Projection
    updates: Projection
    custom: Projection
    checkpoints: Projection
    debug: Projection
    tasks: Projection

    def __init__(self, astream: AsyncGraphRunStream) -> None:
        self._lease = lease = PortalLease("astream_events(version='v3')")
        self._astream = astream
        self._finalizer = weakref.finalize(self, _cleanup, lease, astream)
        self._settle = functools.partial(_settle, lease, astream)
        astream._on_end = lease.release  # the run ended: the portal thread may go idle
        self.extensions: Mapping[str, Projection] = _sync_projections(self, astream, lease, self._settle)

    def __getattr__(self, name: str) -> Projection:
        _missing(self, name, self.__dict__.get("extensions", {}))

    def __iter__(self) -> Iterator[ProtocolEvent]:
        """The main event log (see :meth:`AsyncGraphRunStream.subscribe`)."""
        return self.subscribe()

    def subscribe(
        self,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "block",
        timeout: float | None = None,
    ) -> Iterator[ProtocolEvent]:
        """A reader of the main event log with its own backpressure (see the async twin)."""
        astream = self._astream
        policy = ConsumerPolicy(buffer_size, overflow, timeout)
        items: Iterator[ProtocolEvent] = _read(self._lease, lambda: astream._log_reader(policy), self._settle)
        return items

    def interleave(self, *names: str) -> Iterator[tuple[str, Any]]:
        """The items of several projections as ``(name, item)``, in the order they were made.

        :raises KeyError: for a name no transformer gave
        :raises TypeError: for a projection that is not a ``StreamChannel``
        """
        for name in names:
            if name not in self.extensions:
                raise KeyError(name)
        return self._interleaved(names)

    def _interleaved(self, names: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        wrap = _sync_item(self._lease, self._settle)
        astream = self._astream
        for name, item in _read(self._lease, lambda: astream._interleave_reader(names), self._settle):
            yield name, wrap(item)

    def abort(self) -> None:
        """Stop the run (see :meth:`AsyncGraphRunStream.abort`). Idempotent."""
        self._lease.call(self._astream.abort)
        self._settle()

    def __enter__(self) -> GraphRunStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()

    @property
    def output(self) -> Any:
        """Run to the end and return the last state (see :meth:`AsyncGraphRunStream.output`).

        :raises Exception: what the run failed with
        """
        return self._settled(self._astream.output)

    @property
    def interrupted(self) -> bool:
        """Run to the end and return whether the run paused on an interrupt.

        :raises Exception: what the run failed with
        """
        return self._settled(self._astream.interrupted)

    @property
    def interrupts(self) -> list[Any]:
        """Run to the end and return the interrupts it paused on.

        :raises Exception: what the run failed with
        """
        return self._settled(self._astream.interrupts)

    def _settled(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` on the portal's loop, then let the portal go idle if the run has ended."""
        try:
            return self._lease.call(fn)
        finally:
            self._settle()


class SubgraphRunStream:
    """The sync face of an :class:`~streamflow.stream.AsyncSubgraphRunStream`."""

    def __init__(self, handle: AsyncSubgraphRunStream, lease: PortalLease, settle: Callable[[], None]) -> None:
        self._handle = handle
        self._lease = lease
        self._settle = settle
        self.extensions: Mapping[str, Projection] = _sync_projections(self, handle, lease, settle)

    def __getattr__(self, name: str) -> Projection:
        _missing(self, name, self.__dict__.get("extensions", {}))

    @property
    def path(self) -> tuple[str, ...]:
        """The subgraph's namespace."""
        return self._handle.path

    @property
    def graph_name(self) -> str | None:
        """The name of the node that runs the subgraph."""
        return self._handle.graph_name

    @property
    def trigger_call_id(self) -> str | None:
        """The id of the parent task that runs it."""
        return self._handle.trigger_call_id

    @property
    def status(self) -> str:
        """As :attr:`AsyncSubgraphRunStream.status`."""
        return self._handle.status

    @property
    def error(self) -> str | None:
        """As :attr:`AsyncSubgraphRunStream.error`."""
        return self._handle.error

    def __iter__(self) -> Iterator[ProtocolEvent]:
        """The subgraph's main event log."""
        handle = self._handle
        items: Iterator[ProtocolEvent] = _read(self._lease, lambda: handle._log_reader(ConsumerPolicy()), self._settle)
        return items

    @property
    def output(self) -> Any:
        """As :meth:`AsyncSubgraphRunStream.output`."""
        return self._lease.call(self._handle.output)

    @property
    def interrupted(self) -> bool:
        """As :meth:`AsyncSubgraphRunStream.interrupted`."""
        interrupted: bool = self._lease.call(self._handle.interrupted)
        return interrupted

    @property
    def interrupts(self) -> list[Any]:
        """As :meth:`AsyncSubgraphRunStream.interrupts`."""
        interrupts: list[Any] = self._lease.call(self._handle.interrupts)
        return interrupts

    def abort(self) -> None:
        """As :meth:`AsyncSubgraphRunStream.abort`."""
        self._lease.call(self._handle.abort)
