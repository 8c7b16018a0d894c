"""A run of a Runnable on a channel of its own: what a call made outside any run starts.

``invoke()``, ``astream()``, ``astream_events()`` ... of a Runnable called outside a run start a
:class:`RunnableRun`: a channel with the run's id, a ``RunStarted`` event (``run_type`` the Runnable's:
``"chain"``, ``"prompt"``, ``"parser"``...), one ``RunChunk`` per output chunk when it streams, the events of
every call made inside it, and ``RunFinished`` (or ``RunFailed``, ``RunCancelled``). ``astream()`` is the view
of its ``RunChunk`` events, ``astream_events()`` the ``astream_events`` view of all of them: the same views,
on the same kind of channel, as a graph run's.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, ClassVar, Final, Protocol

import anyio

from ..channel import DEFAULT_BUFFER_SIZE, Channel, Subscription
from ..errors import RunCancelledError
from ..event_stream import EventStreamSpec
from ..events import Event, RunChunk, RunStarted
from ..graph.cancellation import NEVER_CANCELLED
from ..graph.context import RunContext, Writer
from ..metadata import run_metadata
from ..modes import Projection, Shaper
from ..views import View, ViewShape
from .config import check_config
from .context import Accumulator, StepContext
from .run_view import view_items
from .utils import closing


class RunTarget(Protocol):
    """What a run needs of the Runnable it runs (:class:`~streamflow.runnables.base.Runnable` has it)."""

    @property
    def run_type(self) -> str: ...

    @property
    def streams_output(self) -> bool: ...

    def get_name(self) -> str: ...

    def _stream_body(self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Any]: ...

    async def _invoke_body(self, input: Any, ctx: StepContext, **kwargs: Any) -> Any: ...


__all__ = ["OUTPUT_CHUNKS", "OutputChunks", "RunTarget", "RunnableRun", "drive"]

OWN_EVENTS: Final = frozenset({"chat_model"})
"""Run types whose call publishes events of its own (a chat model's): the run's root call has no parent."""


class OutputChunks:
    """The view of a Runnable run's output: each ``RunChunk``'s chunk, as ``astream()`` yields it."""

    identity: ClassVar[bool] = True
    kinds: ClassVar[frozenset[type[Event]]] = frozenset({RunChunk})

    def table(self) -> dict[type[Event], tuple[tuple[str, Projection], ...]]:
        return {RunChunk: (("output", _chunk_of),)}

    def shaper(self) -> Shaper:
        return lambda mode, ns, chunk: chunk


def _chunk_of(event: RunChunk) -> Any:
    return event.chunk


OUTPUT_CHUNKS: Final = OutputChunks()


async def _one(value: Any) -> AsyncIterator[Any]:
    yield value


class RunnableRun:
    """One run of a Runnable, started at once on the running event loop (views attached right after see
    every event).

    :param stream: True to run it as ``astream()`` does (every step that can passes its output on chunk
        by chunk, and each output chunk is a ``RunChunk``); False as ``ainvoke()`` does
    :raises InvalidArgumentError: for a bad config (see :func:`~streamflow.runnables.config.check_config`)
    """

    def __init__(
        self,
        runnable: RunTarget,
        input: Any,
        config: Mapping[str, Any] | None,
        *,
        stream: bool,
        chunks: AsyncIterator[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        cfg = check_config(config)
        tags = tuple(dict.fromkeys(cfg.get("tags") or ()))
        metadata = run_metadata(cfg.get("metadata") or {}, cfg.get("configurable"))
        run_id = str(cfg.pop("run_id", None) or uuid.uuid4())
        name = cfg.pop("run_name", None) or runnable.get_name()
        self.run_id = run_id
        self.name = name
        self.runnable = runnable
        self.channel = Channel(run_id, replay_size=0)
        loop = asyncio.get_running_loop()
        self.context = RunContext(
            channel=self.channel,
            run_id=run_id,
            config=cfg,
            tags=tags,
            metadata=metadata,
            recursion_limit=cfg.get("recursion_limit", 25),
            loop_thread=threading.get_ident(),
            loop=loop,
        )
        self.root = StepContext(
            run=self.context,
            ns=(),
            node=name,
            step=0,
            task_id=run_id,
            triggers=(),
            path=(),
            writer=Writer(self.context, (), name, 0, run_id, NEVER_CANCELLED),
            cancel_flag=NEVER_CANCELLED,
            parents=() if runnable.run_type in OWN_EVENTS else (run_id,),
            inheritable=tags,
            meta=metadata,
            config_={**cfg, "tags": list(tags), "metadata": dict(metadata)},
        )
        self._input = input
        self._chunks = chunks
        self._kwargs = dict(kwargs or {})
        self._stream = stream
        self._output: Any = None
        self._error: BaseException | None = None
        self._task = loop.create_task(self._main())

    def __del__(self) -> None:
        task = getattr(self, "_task", None)
        if task is not None and not task.done():
            warnings.warn(
                f"run {self.run_id!r} was garbage-collected while still running: await run.result() or run.aclose()",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    async def _main(self) -> None:
        channel = self.channel
        ctx = self.context
        runnable = self.runnable
        reason: str | None = None
        try:
            await channel.publish(
                RunStarted(
                    name=self.name,
                    input=self._input,
                    run_type=runnable.run_type,
                    tags=ctx.tags,
                    metadata=ctx.metadata,
                    streams=runnable.streams_output,
                )
            )
            if self._stream:
                total = Accumulator()
                publish_nowait = channel.publish_nowait
                chunks = _one(self._input) if self._chunks is None else self._chunks
                async with closing(runnable._stream_body(chunks, self.root, **self._kwargs)) as outs:
                    async for chunk in outs:
                        total.add(chunk)
                        if channel.wants(RunChunk):
                            event = RunChunk(chunk=chunk)
                            try:
                                publish_nowait(event)
                            except anyio.WouldBlock:  # a full view, or events queued first: wait for our turn
                                await channel.publish(event)
                output = total.value
            else:
                output = await runnable._invoke_body(self._input, self.root, **self._kwargs)
        except asyncio.CancelledError:
            reason = ctx.close_cancelled()
            raise
        except BaseException as exc:
            self._error = exc
            reason = ctx.close_failed(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self._output = output
            ctx.close_finished(output)
        finally:
            ctx.end(reason)

    def view(self, spec: ViewShape, *, buffer_size: int = DEFAULT_BUFFER_SIZE) -> View:
        """Attach the run's primary consumer: a ``block`` view of ``spec`` (the run waits while its buffer,
        ``buffer_size`` events, is full)."""
        kinds = spec.kinds if hasattr(spec, "kinds") else None
        sub = self.channel.subscribe(kinds=kinds, buffer_size=buffer_size, overflow="block")
        return View(sub, spec)

    def subscribe(self, **kwargs: Any) -> Subscription:
        """Attach a raw subscriber (typed events), with any filter and policy: the arguments, defaults and
        errors of :meth:`Channel.subscribe <streamflow.channel.Channel.subscribe>`."""
        return self.channel.subscribe(**kwargs)

    def stream_events(self, version: str = "v2", *, buffer_size: int = DEFAULT_BUFFER_SIZE, **filters: Any) -> View:
        """Attach an ``astream_events`` view (LangChain's dicts) beside the run's consumer; it never stalls
        the run (``drop_oldest``: a view that falls ``buffer_size`` events behind gets a ``Lagged`` signal).

        :raises UnknownStreamModeError: for an unknown ``version``
        :raises InvalidArgumentError: for a bad filter (``include_names=`` ... as ``astream_events`` takes)
        """
        spec = EventStreamSpec.parse(version, **filters)
        return View(self.channel.subscribe(kinds=spec.kinds, buffer_size=buffer_size, overflow="drop_oldest"), spec)

    @property
    def done(self) -> bool:
        """Whether the run has ended."""
        return self._task.done()

    async def result(self) -> Any:
        """Wait for the run and return its output.

        :raises Exception: what the run raised, unchanged
        :raises RunCancelledError: when the run was cancelled
        """
        if not self._task.done():
            await asyncio.wait([self._task])
        if self._task.cancelled():
            raise RunCancelledError(f"run {self.run_id} was cancelled")
        if self._error is not None:
            raise self._error
        return self._output

    async def aclose(self) -> None:
        """Cancel the run if it still runs and wait until it has stopped."""
        if not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])


def drive(
    runnable: RunTarget,
    chunks: AsyncIterator[Any],
    input: Any,
    config: Mapping[str, Any] | None,
    open_view: Callable[[RunnableRun], View],
    *,
    kwargs: Mapping[str, Any] | None = None,
    batch_size: int = 0,
) -> AsyncGenerator[Any, None]:
    """Start a streaming run of ``runnable`` on ``chunks`` (``input`` is what its ``RunStarted`` shows) when the
    first item is asked for, attach ``open_view(run)`` and yield its items (lists of up to ``batch_size`` items
    when it is > 0); then raise what the run raised. Leaving early cancels the run and waits for it
    (:func:`~streamflow.runnables.run_view.view_items`)."""

    def start() -> RunnableRun:
        return RunnableRun(runnable, input, config, stream=True, chunks=chunks, kwargs=kwargs)

    return view_items(start, open_view, batch_size)
