"""The async v3 run stream: LangGraph's ``AsyncGraphRunStream``, as views of the run's channel.

Layer 2 (views). ``await graph.astream_events(input, version="v3")`` returns an :class:`AsyncGraphRunStream`.
The run is made when the first reader subscribes and begins when a reader first waits for an item (or
``output()`` is awaited): every reader made before that sees the run from its first event, and a reader
that joins later sees it from then on. A stream dropped while its run goes on cancels the run.

Each reader is a :class:`~streamflow.stream.consumer.Consumer` with its own subscription: ``async for`` over
``run``, ``run.values``, ``run.messages``, ... may happen any number of times, at the same time, each seeing
everything (no ``tee``), each with its own backpressure (:meth:`AsyncProjection.subscribe`: by default the run
waits for the reader, as LangGraph's caller-driven pump; ``overflow="drop_oldest"`` never holds it up and
yields a :class:`~streamflow.channel.Lagged` signal with the exact count of events missed). A projection
nobody reads holds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from ..channel import Channel, OverflowPolicy, Subscription
from ..errors import ChannelClosedError, RunCancelledError
from ..subscription import DEFAULT_BUFFER_SIZE
from .consumer import Consumer, ConsumerPolicy, Reader
from .pipeline import Pipeline, TransformerFactory
from .protocol import ProtocolEvent
from .stream_channel import StreamChannel

if TYPE_CHECKING:
    from .transformers import SubgraphStatus

__all__ = ["AsyncGraphRunStream", "AsyncProjection", "AsyncSubgraphRunStream", "StreamedRun"]


class StreamedRun(Protocol):
    """What a run stream needs of a run (a graph's ``Run`` has it)."""

    @property
    def channel(self) -> Channel: ...

    @property
    def done(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> BaseException | None: ...

    @property
    def interrupts(self) -> list[Any]: ...

    def begin(self) -> None: ...

    async def wait(self) -> None: ...

    async def result(self) -> Any: ...

    async def aclose(self) -> None: ...

    def cancel(self) -> None: ...


async def _call_when_done(run: StreamedRun, callback: Callable[[], None]) -> None:
    await run.wait()
    callback()


def _stop_abandoned(loop: asyncio.AbstractEventLoop, run: StreamedRun) -> None:
    """A run stream dropped while its run goes on cancels the run (on the run's loop, from any thread)."""
    if run.done or loop.is_closed():
        return
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
        loop.call_soon_threadsafe(run.cancel)


def _missing(obj: Any, name: str, keys: Any) -> NoReturn:
    raise AttributeError(
        f"{type(obj).__name__!r} object has no attribute {name!r} "
        f"(registered projections: {', '.join(sorted(keys)) or 'none'})"
    )


class AsyncProjection:
    """One projection of a run stream (``run.values``, ``run.extensions[key]`` ...): ``async for item in
    projection`` reads it with the default policy; :meth:`subscribe` chooses another."""

    def __init__(self, stream: AsyncGraphRunStream, key: str) -> None:
        self._stream = stream
        self.key = key

    def __aiter__(self) -> AsyncIterator[Any]:
        return self.subscribe()

    def subscribe(
        self,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "block",
        timeout: float | None = None,
    ) -> AsyncIterator[Any]:
        """A reader of this projection with its own subscription.

        :param buffer_size: events its subscription buffers (> 0)
        :param overflow: ``"block"`` (the run waits for it), ``"drop_oldest"`` (it never holds the run up and
            yields a :class:`~streamflow.channel.Lagged` signal with the count of events it missed) or ``"error"``
        :param timeout: for ``"block"``: seconds it may hold the run up before it is disconnected
        :raises InvalidArgumentError: (at the first step) for bad backpressure arguments
        :raises Exception: (after its items) what the run failed with
        """
        return _iterate(self._reader(ConsumerPolicy(buffer_size, overflow, timeout)))

    def _reader(self, policy: ConsumerPolicy) -> Reader:
        key = self.key
        return _LazyReader(self._stream, lambda pipeline, out: pipeline.channel(key)._attach(out), policy)


class AsyncGraphRunStream:
    """A run of a graph read as LangGraph's v3 projections (see the module docstring).

    Always there: ``values`` (state after each step), ``messages`` (an
    :class:`~streamflow.stream.AsyncChatModelStream` per model call), ``lifecycle`` (subgraph starts and ends),
    ``subgraphs`` (an :class:`AsyncSubgraphRunStream` per child subgraph); opt-in transformers add ``updates``,
    ``custom``, ``checkpoints``, ``debug``, ``tasks`` and user projections (all in ``extensions``).

    :raises RuntimeError: (when made) for a transformer that needs the async lane on a sync stream
    :raises TypeError: (when made) when a transformer's ``init()`` does not return a dict
    :raises ValueError: (when made) when two transformers give the same projection key
    """

    values: AsyncProjection
    messages: AsyncProjection
    lifecycle: AsyncProjection
    subgraphs: AsyncProjection
    updates: AsyncProjection
    custom: AsyncProjection
    checkpoints: AsyncProjection
    debug: AsyncProjection
    tasks: AsyncProjection

    def __init__(
        self,
        start: Callable[[], StreamedRun],
        factories: Sequence[TransformerFactory],
        *,
        scope: tuple[str, ...] = (),
        is_async: bool = True,
    ) -> None:
        self._on_end: Callable[[], None] | None = None
        self._watcher: asyncio.Future[None] | None = None
        self._start = start
        self._factories = tuple(factories)
        self._scope = scope
        self._is_async = is_async
        self._run: StreamedRun | None = None
        self._aborted = False
        probe = self._pipeline()
        self.extensions: Mapping[str, AsyncProjection] = MappingProxyType(
            {key: AsyncProjection(self, key) for key in probe.extensions}
        )
        for key in probe.native_keys:
            setattr(self, key, self.extensions[key])

    def __getattr__(self, name: str) -> AsyncProjection:
        extensions = self.__dict__.get("extensions", {})
        _missing(self, name, extensions)

    def _pipeline(self) -> Pipeline:
        return Pipeline(self._factories, self._scope, is_async=self._is_async, make_handle=_make_handle)

    # -- the run ----------------------------------------------------------------------------------

    def _started(self) -> StreamedRun | None:
        """The run, made now (waiting to begin) if it was not; None once aborted before it was made."""
        if self._run is None and not self._aborted:
            run = self._run = self._start()
            loop = asyncio.get_running_loop()
            weakref.finalize(self, _stop_abandoned, loop, run)
            if self._on_end is not None:
                self._watcher = asyncio.ensure_future(_call_when_done(run, self._on_end))
        return self._run

    def _begin(self) -> None:
        """Let the run go: a reader waits for an item, or ``output()`` for the end."""
        run = self._started()
        if run is not None:
            run.begin()

    def _subscribe(self, kinds: frozenset[Any], policy: ConsumerPolicy) -> Subscription | None:
        run = self._started()
        if run is None:
            return None
        try:
            return run.channel.subscribe(
                kinds=kinds,
                ns_prefix=self._scope or None,
                buffer_size=policy.buffer_size,
                overflow=policy.overflow,
                timeout=policy.timeout,
            )
        except ChannelClosedError:
            return None

    def _was_aborted(self) -> bool:
        return self._aborted

    async def _failure(self) -> BaseException | None:
        run = self._run
        if run is None or self._aborted:
            return None
        await run.wait()
        if self._was_aborted():
            return None
        if run.error is not None:
            return run.error
        if run.status == "cancelled":
            return RunCancelledError("the run was cancelled")
        return None

    async def _finish(self) -> StreamedRun | None:
        """Wait for the run to end (starting it if need be); return it, None when it was aborted.

        :raises Exception: what the run failed with
        """
        run = self._started()
        if run is None:
            return None
        run.begin()
        await run.wait()
        error = await self._failure()
        if error is not None:
            raise error
        return None if self._aborted else run

    # -- readers ----------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ProtocolEvent]:
        """The main event log: every envelope of the run, numbered by ``seq`` (see :meth:`subscribe`)."""
        return self.subscribe()

    def subscribe(
        self,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: OverflowPolicy = "block",
        timeout: float | None = None,
    ) -> AsyncIterator[ProtocolEvent]:
        """A reader of the main event log with its own subscription; arguments and errors as for
        :meth:`AsyncProjection.subscribe` (a ``drop_oldest`` reader also gets ``Lagged`` signals)."""
        return _iterate(self._log_reader(ConsumerPolicy(buffer_size, overflow, timeout)))

    def _log_reader(self, policy: ConsumerPolicy) -> Reader:
        return _LazyReader(self, lambda pipeline, out: pipeline.logs.append(out), policy)

    def interleave(self, *names: str) -> AsyncIterator[tuple[str, Any]]:
        """The items of several projections as ``(name, item)``, in the order they were made.

        :raises KeyError: (at the first step) for a name no transformer gave
        :raises TypeError: (at the first step) for a projection that is not a ``StreamChannel``
        """

        return _iterate(self._interleave_reader(names))

    def _interleave_reader(self, names: Sequence[str]) -> Reader:
        def attach(pipeline: Pipeline, out: deque[Any]) -> None:
            for name in names:
                pipeline.channel(name)._attach(out, name)

        return _LazyReader(self, attach, ConsumerPolicy())

    async def abort(self) -> None:
        """Stop the run: cancel it (its running nodes and subgraphs with it) and end every reader without an
        error. Idempotent; before the run started, it never starts."""
        if self._aborted:
            return
        self._aborted = True
        if self._run is not None:
            await self._run.aclose()

    async def __aenter__(self) -> AsyncGraphRunStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.abort()

    async def output(self) -> Any:
        """Run to the end and return the final state of the stream's own graph (None when it was aborted).

        :raises Exception: what the run failed with
        """
        run = await self._finish()
        return None if run is None else await run.result()

    async def interrupted(self) -> bool:
        """Run to the end and return whether the run paused on an interrupt.

        :raises Exception: what the run failed with
        """
        run = await self._finish()
        return run is not None and bool(run.interrupts)

    async def interrupts(self) -> list[Any]:
        """Run to the end and return the interrupts (``Interrupt`` values) it paused on.

        :raises Exception: what the run failed with
        """
        run = await self._finish()
        return [] if run is None else list(run.interrupts)


def _make_handle(parent: Pipeline, ns: tuple[str, ...], graph_name: str | None, trigger: str | None) -> Any:
    return AsyncSubgraphRunStream(parent.child(ns), ns, graph_name, trigger)


async def _iterate(reader: Reader) -> AsyncGenerator[Any, None]:
    """``reader`` as an async generator: leaving it early (``break``, ``aclose()``) closes the reader, as
    the event loop finalizes an abandoned one."""
    try:
        while batch := await reader.next_batch():
            for item in batch:
                yield item
    finally:
        reader.close()


class _LazyReader(Reader):
    """A :class:`Reader` whose consumer (its subscription, and the run if it is the first) is made at its
    first step, so that making an iterator does not start the run."""

    def __init__(
        self, stream: AsyncGraphRunStream, attach: Callable[[Pipeline, deque[Any]], None], policy: ConsumerPolicy
    ) -> None:
        self._stream = stream
        self._attach = attach
        self._policy = policy
        self._made = False
        super().__init__(deque(), _Unstarted())

    def _make(self) -> None:
        if not self._made:
            self._made = True
            stream = self._stream
            pipeline = stream._pipeline()
            self._attach(pipeline, self._out)
            self._source = Consumer(
                pipeline, self._out, stream._subscribe, stream._failure, self._policy, begin=stream._begin
            )

    async def _wait(self) -> bool:
        if self._stream._aborted:  # abort() ends every reader at once, dropping what it had not taken
            self._out.clear()
            self.close()
            return False
        self._make()
        return await super()._wait()


class _Unstarted:
    """The source of a reader that never took a step."""

    finished = True
    error = None

    async def advance(self) -> bool:
        return False

    async def advance_ready(self) -> bool:
        return False

    def close(self) -> None:
        pass


class _HandleSource:
    """Feeds a reader of a subgraph handle: the reader of ``run.subgraphs`` that found the handle."""

    def __init__(self, handle: AsyncSubgraphRunStream, out: deque[Any]) -> None:
        self._handle = handle
        self._out = out

    @property
    def finished(self) -> bool:
        return self._handle._closed

    @property
    def error(self) -> BaseException | None:
        return self._handle._close_error

    async def advance(self) -> bool:
        pump = self._handle._pipeline.pump
        return pump is not None and await pump()

    async def advance_ready(self) -> bool:
        return False

    def close(self) -> None:
        for channel in self._handle._pipeline.extensions.values():
            if isinstance(channel, StreamChannel):
                channel._detach(self._out)
        logs = self._handle._pipeline.logs
        logs[:] = [log for log in logs if log is not self._out]


class _HandleProjection:
    """A projection of a subgraph handle, fed by the reader that found the handle."""

    def __init__(self, handle: AsyncSubgraphRunStream, key: str) -> None:
        self._handle = handle
        self.key = key

    def __aiter__(self) -> AsyncIterator[Any]:
        return _iterate(self._reader(ConsumerPolicy()))

    def _reader(self, policy: ConsumerPolicy) -> Reader:
        key = self.key
        return self._handle._read(lambda pipeline, out: pipeline.channel(key)._attach(out))


class AsyncSubgraphRunStream:
    """A subgraph of a run, found by ``run.subgraphs``: the projections of a run stream, scoped to it.

    Its projections are fed by the reader of ``run.subgraphs`` that found it (reading them drives that
    reader), from the moment it was found: read them within the loop body that got the handle.
    """

    values: _HandleProjection
    messages: _HandleProjection
    lifecycle: _HandleProjection
    subgraphs: _HandleProjection
    fed_lazily = True
    """Its projections are fed by later events of its reader (a reader hands it over before going on)."""

    def __init__(
        self, pipeline: Pipeline, path: tuple[str, ...], graph_name: str | None, trigger_call_id: str | None
    ) -> None:
        self._pipeline = pipeline
        self.path = path
        """The subgraph's namespace."""
        self.graph_name = graph_name
        """The name of the node that runs the subgraph."""
        self.trigger_call_id = trigger_call_id
        """The id of the parent task that runs it."""
        self.status: SubgraphStatus = "started"
        """``"started"``, then ``"completed"``, ``"failed"`` or ``"interrupted"``."""
        self.error: str | None = None
        """The error message of a failed subgraph."""
        self._closed = False
        self._close_error: BaseException | None = None
        self._scope_list = list(path)
        self._latest: Any = None
        self._interrupts: list[Any] = []
        self.extensions: Mapping[str, _HandleProjection] = MappingProxyType(
            {key: _HandleProjection(self, key) for key in pipeline.extensions}
        )
        for key in pipeline.native_keys:
            setattr(self, key, self.extensions[key])

    def __getattr__(self, name: str) -> _HandleProjection:
        _missing(self, name, self.__dict__.get("extensions", {}))

    def _mark_terminal(self, status: SubgraphStatus, error: str | None) -> bool:
        if self._closed or self.status != "started":
            return False
        self.status = status
        if error is not None and self.error is None:
            self.error = error
        return True

    async def _feed(self, event: ProtocolEvent) -> None:
        if self._closed:
            return
        params = event["params"]
        if event["method"] == "values" and params["namespace"] == self._scope_list:
            self._latest = params["data"]
            self._interrupts.extend(params.get("interrupts", ()))
        await self._pipeline.push(event)

    async def _close(self, err: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        if err is None and self.status == "failed":
            err = RuntimeError(self.error or "Subgraph failed")
        if err is not None:
            self._close_error = err
            await self._pipeline.fail(err)
        else:
            await self._pipeline.close()

    def _read(self, attach: Callable[[Pipeline, deque[Any]], None]) -> Reader:
        out: deque[Any] = deque()
        attach(self._pipeline, out)
        return Reader(out, _HandleSource(self, out))

    def __aiter__(self) -> AsyncIterator[ProtocolEvent]:
        """The subgraph's main event log (envelopes share the root's ``seq``)."""
        return _iterate(self._log_reader(ConsumerPolicy()))

    def _log_reader(self, policy: ConsumerPolicy) -> Reader:
        return self._read(lambda pipeline, out: pipeline.logs.append(out))

    async def _drive(self) -> None:
        pump = self._pipeline.pump
        while not self._closed and pump is not None and await pump():
            pass
        if self._close_error is not None:
            raise self._close_error

    async def output(self) -> Any:
        """Drive the run until the subgraph ended; return its last state.

        :raises Exception: what the subgraph (or the run) failed with
        """
        await self._drive()
        return self._latest

    async def interrupted(self) -> bool:
        """Drive the run until the subgraph ended; return whether it paused on an interrupt."""
        await self._drive()
        return bool(self._interrupts) or self.status == "interrupted"

    async def interrupts(self) -> list[Any]:
        """Drive the run until the subgraph ended; return the interrupts it paused on."""
        await self._drive()
        return self._interrupts

    async def abort(self) -> None:
        """Stop feeding this handle's projections (its readers end); the run goes on."""
        if not self._closed:
            self._closed = True
            await self._pipeline.close()
