"""The calling API every Runnable has: ``invoke``, ``batch``, ``stream``, ``transform``, ``astream_events``
and their async twins, on top of the two calls a Runnable implements (:meth:`RunnableCalls._call` and
:meth:`RunnableCalls._call_stream`, see :class:`~streamflow.runnables.base.Runnable`).

Outside a run each method starts one (:mod:`streamflow.runnables.run`) and is a view of it; inside a run
(a chain step, a graph node, a tool) it is a call of that run. The sync methods are the async ones carried
through the portal (:mod:`streamflow.portal`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

from ..errors import SyncInAsyncContextError
from ..event_stream import EventStreamSpec
from ..graph.context import RunContext, check_cancelled, current_task
from ..portal import call_sync, iterate_sync, iterate_sync_running_calls
from .context import StepContext
from .log import RunLogPatch, run_log
from .run import OUTPUT_CHUNKS, RunnableRun, RunTarget, drive
from .utils import END, all_or_none, closing, one

__all__ = ["RunnableCalls"]

Input = TypeVar("Input")
Output = TypeVar("Output")


class RunnableCalls(Generic[Input, Output]):
    """LangChain's calling methods, for :class:`~streamflow.runnables.base.Runnable`."""

    async def _call(
        self,
        input: Input,
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Output:
        raise NotImplementedError

    def _call_stream(
        self,
        chunks: AsyncIterator[Input],
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Output]:
        raise NotImplementedError

    def _unbind(self, config: Mapping[str, Any] | None) -> tuple[RunTarget, dict[str, Any], dict[str, Any]]:
        raise NotImplementedError

    # -- invoke ------------------------------------------------------------------------------------

    async def ainvoke(self, input: Input, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Output:
        """Run on ``input`` and return the whole output.

        Outside a run this starts a run of its own (its events: :mod:`streamflow.runnables.run`); inside
        one (a chain step, a graph node, a tool) it is a call of that run, whose views see its events.

        :param config: a :class:`~streamflow.runnables.config.RunnableConfig` (``tags``, ``metadata``,
            ``run_name``, ``run_id``, ``configurable`` ...)
        :raises InvalidArgumentError: for a malformed ``config``
        :raises Exception: what the Runnable (or a step of it) raised, unchanged
        """
        task = current_task()
        if task is not None:
            return await self._call(input, StepContext.of_task(task), task.local_call_tags(), config, **kwargs)
        runnable, cfg, bound = self._unbind(config)
        run = RunnableRun(runnable, input, cfg, stream=False, kwargs={**bound, **kwargs})
        try:
            return cast(Output, await run.result())
        finally:
            if not run.done:
                await asyncio.shield(run.aclose())

    def invoke(self, input: Input, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Output:
        """Sync :meth:`ainvoke`: through the portal from plain sync code; from sync code running inside a
        run (a sync node or function in a worker thread), on that run's loop.

        :raises SyncInAsyncContextError: when called on a thread that runs an event loop (use ``ainvoke``)
        :raises TaskCancelledError: when the calling sync code's run or task was cancelled
        """
        check_cancelled()
        task = current_task()
        if task is not None:
            if not task.run.on_loop():
                return cast(Output, task.run.call_from_thread(_ainvoke_with, self, input, config, kwargs))
            raise SyncInAsyncContextError("invoke() called on the event loop thread of a run; use await ainvoke()")
        return cast(Output, call_sync(_ainvoke_with, self, input, config, kwargs, async_alternative="ainvoke()"))

    # -- batch -------------------------------------------------------------------------------------

    async def abatch(
        self,
        inputs: Sequence[Input],
        config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """:meth:`ainvoke` on each input at the same time (at most ``config["max_concurrency"]`` at once);
        the outputs in the inputs' order.

        :param config: one config for every input, or a list of one per input
        :param return_exceptions: put an input's exception in its place instead of raising it
        :raises ValueError: when a list of configs is not as long as ``inputs``
        :raises Exception: the first input's exception, unless ``return_exceptions``
        """
        configs = _configs(config, len(inputs))
        if not inputs:
            return []
        limit = configs[0].get("max_concurrency")
        gate = asyncio.Semaphore(limit) if limit else None

        async def call_one(value: Input, cfg: Mapping[str, Any]) -> Any:
            if gate is None:
                return await self.ainvoke(value, cfg, **kwargs)
            async with gate:
                return await self.ainvoke(value, cfg, **kwargs)

        results = await all_or_none(
            (call_one(v, c) for v, c in zip(inputs, configs, strict=True)), return_exceptions=return_exceptions
        )
        return cast(list[Output], list(results))

    def batch(
        self,
        inputs: Sequence[Input],
        config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """Sync :meth:`abatch`, through the portal.

        :raises SyncInAsyncContextError: when called on a thread that runs an event loop (use ``abatch``)
        """
        check_cancelled()

        async def run() -> list[Output]:
            return await self.abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)

        return call_sync(run, async_alternative="abatch()")

    # -- stream ------------------------------------------------------------------------------------

    async def astream(
        self, input: Input, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> AsyncIterator[Output]:
        """Run on ``input`` and yield the output as it is produced: one chunk for a Runnable that cannot
        stream, the chunks of the last step for a sequence.

        Outside a run this is the view of a new run's ``RunChunk`` events (a ``block`` view: the run waits
        while the caller handles a chunk); leaving early cancels the run. Inside a run it is a call of
        that run, as :meth:`ainvoke`.

        :raises InvalidArgumentError: for a malformed ``config``
        :raises Exception: what the Runnable raised, after the chunks produced before it
        """
        task = current_task()
        if task is not None:
            async with closing(
                self._call_stream(one(input), StepContext.of_task(task), task.local_call_tags(), config, **kwargs)
            ) as s:
                async for chunk in s:
                    yield chunk
            return
        runnable, cfg, bound = self._unbind(config)
        view = drive(runnable, one(input), input, cfg, lambda run: run.view(OUTPUT_CHUNKS), kwargs={**bound, **kwargs})
        async with closing(view) as chunks:
            async for chunk in chunks:
                yield chunk

    def stream(self, input: Input, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[Output]:
        """Sync :meth:`astream`: the same async view carried to this thread through the portal, in batches.
        Breaking out cancels the run. From sync code inside a run (a worker thread) it is a call of that
        run, each chunk fetched from the run's loop as the caller asks for it.

        :raises SyncInAsyncContextError: when called on a thread that runs an event loop (use ``astream``)
        """
        check_cancelled()
        task = current_task()
        if task is not None:
            if not task.run.on_loop():
                return _items_from_thread(task.run, self.astream(input, config, **kwargs))
            raise SyncInAsyncContextError("stream() called on the event loop thread of a run; use astream()")
        runnable, cfg, bound = self._unbind(config)
        args = {**bound, **kwargs}
        return iterate_sync_running_calls(
            lambda _caller, batch_size: drive(
                runnable,
                one(input),
                input,
                cfg,
                lambda run: run.view(OUTPUT_CHUNKS),
                kwargs=args,
                batch_size=batch_size,
            ),
            async_alternative="astream()",
        )

    async def atransform(
        self, input: AsyncIterator[Input], config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> AsyncIterator[Output]:
        """:meth:`astream` for an input that comes as a stream of chunks (added up with ``+`` by a
        Runnable that cannot take them one by one)."""
        task = current_task()
        if task is not None:
            async with closing(
                self._call_stream(input, StepContext.of_task(task), task.local_call_tags(), config, **kwargs)
            ) as s:
                async for chunk in s:
                    yield chunk
            return
        runnable, cfg, bound = self._unbind(config)
        view = drive(runnable, input, None, cfg, lambda run: run.view(OUTPUT_CHUNKS), kwargs={**bound, **kwargs})
        async with closing(view) as chunks:
            async for chunk in chunks:
                yield chunk

    def transform(
        self, input: Iterator[Input], config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[Output]:
        """Sync :meth:`atransform` through the portal; ``input`` is iterated on the portal's loop thread.

        :raises SyncInAsyncContextError: when called on a thread that runs an event loop
        """
        check_cancelled()

        async def chunks() -> AsyncIterator[Input]:
            for chunk in input:
                yield chunk

        return iterate_sync(lambda: self.atransform(chunks(), config, **kwargs), async_alternative="atransform()")

    # -- a run to watch -----------------------------------------------------------------------------

    def start(self, input: Input, config: Mapping[str, Any] | None = None, **kwargs: Any) -> RunnableRun:
        """Start a streaming run of this Runnable on ``input`` now, in the running event loop, and return it:
        attach any views to it (``run.stream_events()``, ``run.subscribe()``, a structlog ``LogView``)
        right away and they see every event, then ``await run.result()`` (like ``graph.start()``).

        :raises RuntimeError: when no event loop is running
        :raises InvalidArgumentError: for a malformed ``config``
        """
        runnable, cfg, bound = self._unbind(config)
        return RunnableRun(runnable, input, cfg, stream=True, kwargs={**bound, **kwargs})

    # -- astream_events ------------------------------------------------------------------------------

    def astream_events(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        version: str = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Run on ``input`` (streaming) and yield LangChain's ``astream_events`` dicts for it and every call
        inside it (``{"event", "name", "run_id", "parent_ids", "tags", "metadata", "data"}``); shapes,
        filters and versions: :mod:`streamflow.event_stream`. A view of the run's channel, like
        :meth:`astream`; leaving early cancels the run.

        :raises UnknownStreamModeError: (at once) for a ``version`` other than ``"v1"`` or ``"v2"``
        :raises InvalidArgumentError: (at once) for a filter that is a single string or holds a non-string
        :raises Exception: what the Runnable raised, after the events before it
        """
        spec = EventStreamSpec.parse(
            version,
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
        )
        runnable, cfg, bound = self._unbind(config)
        return drive(runnable, one(input), input, cfg, lambda run: run.view(spec), kwargs={**bound, **kwargs})

    # -- astream_log ---------------------------------------------------------------------------------

    def astream_log(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        diff: bool = True,
        with_streamed_output_list: bool = True,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[RunLogPatch]:
        """Run on ``input`` (streaming) and yield LangChain's run log: :class:`~streamflow.runnables.log.RunLogPatch`
        es of JSON-patch operations, or with ``diff=False`` the whole :class:`~streamflow.runnables.log.RunLog`
        after each. A projection of the same events as :meth:`astream_events` (:mod:`streamflow.runnables.log`).

        :param with_streamed_output_list: append each output chunk to ``/streamed_output`` (else only
            ``/final_output`` is replaced)
        :param include_names: the filters choose which calls inside the run get a ``/logs`` entry, as in
            LangChain (a chat model's type is ``"llm"`` there); the run itself is always logged
        :raises InvalidArgumentError: (at once) for a filter that is a single string or holds a non-string
        :raises Exception: what the Runnable raised, after the patches before it
        """
        spec = EventStreamSpec.parse(
            "v2",
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
        )
        accepts = spec.accepts()

        def keep(name: str, kind: str, tags: list[str]) -> bool:
            return accepts(name, "llm" if kind == "chat_model" else kind, tags)

        events = self.astream_events(input, config, version="v2", **kwargs)
        return run_log(events, keep, diff=diff, with_streamed_output_list=with_streamed_output_list)


async def _ainvoke_with(runnable: RunnableCalls[Any, Any], input: Any, config: Any, kwargs: dict[str, Any]) -> Any:
    return await runnable.ainvoke(input, config, **kwargs)


async def _next(chunks: AsyncIterator[Any]) -> Any:
    return await anext(chunks, END)


async def _close(chunks: AsyncIterator[Any]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def _items_from_thread(run: RunContext, chunks: AsyncIterator[Any]) -> Iterator[Any]:
    """The items of ``chunks`` (an async iterator of ``run``'s loop) for sync code in another thread: one
    step on the loop per item; leaving early closes it there."""
    done = False
    try:
        while True:
            item = run.call_from_thread(_next, chunks)
            if item is END:
                done = True
                return
            yield item
    finally:
        if not done and not run.channel.closed:
            run.call_from_thread(_close, chunks)


def _configs(config: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None, n: int) -> list[Mapping[str, Any]]:
    if config is None or isinstance(config, Mapping):
        return [config or {}] * n
    configs = list(config)
    if len(configs) != n:
        raise ValueError(f"batch got {len(configs)} configs for {n} inputs; give one config, or one per input")
    return configs
