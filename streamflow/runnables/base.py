"""The Runnable protocol and its core compositions (LangChain's ``langchain_core.runnables.base``).

A :class:`Runnable` is a unit of work with LangChain's methods: ``invoke``/``ainvoke``, ``batch``/``abatch``,
``stream``/``astream``, ``transform``/``atransform`` and ``astream_events``; ``|`` composes them into a
:class:`RunnableSequence` (a dict becomes a :class:`RunnableParallel`, a function a :class:`RunnableLambda`,
a generator function a :class:`RunnableGenerator`).

Every call is a run on a channel, as a graph's: a call made outside any run starts one
(:mod:`streamflow.runnables.run`); a call made inside one (a chain step, a graph node, a tool) publishes its
``RunnableStarted``/``RunnableChunk``/``RunnableFinished`` events on that run's channel. ``astream()`` and
``astream_events()`` are views of that channel; the sync methods carry the async ones through the portal.

Streaming follows LangChain: a sequence streams its last step's output; a step that can transform a stream
(:attr:`Runnable.streams_input`: lambdas, generators, passthroughs, parallels, parsers, chat models) starts
once its first input chunk is there and passes chunks on as they come; any other step first adds its input
chunks up with ``+`` and then runs on the whole.

Subclasses implement :meth:`Runnable._ainvoke` (the whole output for one input) and, when they stream,
:meth:`Runnable._atransform`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar, cast

from .. import workers
from ..graph.context import _current, enter_task, leave_task
from .calls import RunnableCalls
from .config import merge_configs
from .context import Accumulator, Call, StepContext
from .utils import END, AddableDict, Tee, all_or_none, closing, gather, merge_streams, one

__all__ = [
    "Runnable",
    "RunnableAssign",
    "RunnableBinding",
    "RunnableGenerator",
    "RunnableLambda",
    "RunnableParallel",
    "RunnablePick",
    "RunnableSequence",
    "SelfPublishingRunnable",
    "coerce_to_runnable",
    "register_runnable_adapter",
]

Input = TypeVar("Input")
Output = TypeVar("Output")


class Runnable(RunnableCalls[Input, Output]):
    """A unit of work that can be invoked, batched, streamed and composed (LangChain's ``Runnable``)."""

    run_type: ClassVar[str] = "chain"
    """LangChain's run type: ``astream_events`` names this Runnable's events ``on_<run_type>_*``."""
    streams_input: ClassVar[bool] = False
    """Whether :meth:`_atransform` takes the input chunk by chunk; otherwise the chunks are added up first."""
    streams_output: ClassVar[bool] = True
    """False for a Runnable that answers whole where LangChain's would stream (a string LLM without
    streaming): its run's ``RunStarted.streams`` says so."""
    name: str | None = None
    """The name of this Runnable in events (default: :meth:`get_name`'s)."""

    # -- what subclasses implement -----------------------------------------------------------------

    async def _ainvoke(self, input: Input, ctx: StepContext, **kwargs: Any) -> Output:
        """The whole output for ``input``, in the call's context ``ctx``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _ainvoke")

    def _atransform(self, chunks: AsyncIterator[Input], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Output]:
        """The output chunks for a stream of input chunks (only when :attr:`streams_input`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _atransform")

    # -- names -------------------------------------------------------------------------------------

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """This Runnable's name: ``name``, else :attr:`name`, else its class's; ``suffix`` appended."""
        out = name or self.name or type(self).__name__
        if suffix:
            out = f"{out}{suffix}" if out[:1].isupper() else f"{out}_{suffix}"
        return out

    def _run_name(self, config: Mapping[str, Any] | None) -> str:
        if config:
            name = config.get("run_name")
            if name:
                return str(name)
        return self.get_name()

    # -- bodies: the call's work, in its context, without its own events -----------------------------

    async def _invoke_body(self, input: Input, ctx: StepContext, **kwargs: Any) -> Output:
        entered = enter_task(ctx)
        try:
            return await self._ainvoke(input, ctx, **kwargs)
        finally:
            leave_task(entered)

    async def _stream_body(
        self, chunks: AsyncIterator[Input], ctx: StepContext, **kwargs: Any
    ) -> AsyncIterator[Output]:
        if self.streams_input:
            async with closing(self._atransform(chunks, ctx, **kwargs)) as outs:
                async for out in outs:
                    yield out
            return
        final = await gather(chunks)
        if final is not END:
            yield await self._invoke_body(final, ctx, **kwargs)

    # -- calls inside a run: the body with this call's events ----------------------------------------

    async def _call(
        self,
        input: Input,
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Output:
        """Run this Runnable on ``input`` as a call inside ``parent``'s run, publishing its events."""
        call = Call(parent, self._run_name(config), self.run_type, local_tags, config, input, False)
        try:
            out = await self._invoke_body(input, call.ctx, **kwargs)
        except BaseException as exc:
            call.fail(input, exc)
            raise
        call.finish(input, out)
        return out

    async def _call_stream(
        self,
        chunks: AsyncIterator[Input],
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Output]:
        """Run this Runnable on a stream of input chunks as a call inside ``parent``'s run, yielding (and
        publishing) its output chunks. A Runnable that does not stream its input adds the chunks up and
        makes one :meth:`_call`."""
        if not self.streams_input:
            final = await gather(chunks)
            if final is not END:
                yield await self._call(final, parent, local_tags, config, **kwargs)
            return
        first = await anext(chunks, END)  # the step before starts first, as in LangChain
        seen = Accumulator()
        if first is not END:
            seen.add(first)

        async def fed() -> AsyncIterator[Input]:
            if first is END:
                return
            yield first
            async for chunk in chunks:
                seen.add(chunk)
                yield chunk

        call = Call(parent, self._run_name(config), self.run_type, local_tags, config, None, True)
        made = Accumulator()
        feed = fed()
        gen = self._atransform(feed, call.ctx, **kwargs)
        try:
            async for out in gen:
                await call.chunk(out)
                made.add(out)
                yield out
            async for _ in feed:  # the input the transform left, for the record
                pass
        except BaseException as exc:
            call.fail(seen.value, exc)
            raise
        finally:
            aclose = getattr(gen, "aclose", None)
            if aclose is not None:
                await aclose()
        call.finish(seen.value, made.value)

    def _unbind(self, config: Mapping[str, Any] | None) -> tuple[Runnable[Any, Any], dict[str, Any], dict[str, Any]]:
        """The Runnable a run of this one runs, its config and its bound keyword arguments."""
        return self, dict(config or {}), {}

    # -- composition ---------------------------------------------------------------------------------

    def __or__(self, other: Any) -> RunnableSequence[Input, Any]:
        return RunnableSequence(self, coerce_to_runnable(other))

    def __ror__(self, other: Any) -> RunnableSequence[Any, Output]:
        return RunnableSequence(coerce_to_runnable(other), self)

    def pipe(self, *others: Any, name: str | None = None) -> RunnableSequence[Input, Any]:
        """``self | others[0] | others[1] ...`` as one sequence named ``name``.

        :raises TypeError: for an item that is not a Runnable, a callable or a dict
        """
        return RunnableSequence(self, *(coerce_to_runnable(o) for o in others), name=name)

    def with_config(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> RunnableBinding[Input, Output]:
        """This Runnable with ``config`` (and the config keys given as keyword arguments) merged into the
        config of every call (``tags``, ``metadata``, ``run_name`` ...)."""
        return RunnableBinding(self, config=merge_configs(config, kwargs))

    def bind(self, **kwargs: Any) -> RunnableBinding[Input, Output]:
        """This Runnable with ``kwargs`` passed to every call (a lambda's function receives them as keyword
        arguments; a chat model as call options)."""
        return RunnableBinding(self, kwargs=kwargs)

    def assign(self, **kwargs: Any) -> RunnableSequence[Input, dict[str, Any]]:
        """``self | RunnablePassthrough.assign(**kwargs)``: this Runnable's dict output with more keys."""
        return self | RunnableAssign(RunnableParallel(kwargs))

    def pick(self, keys: str | list[str]) -> RunnableSequence[Input, Any]:
        """``self | RunnablePick(keys)``: one key's value, or a dict of some keys, of this Runnable's output."""
        return self | RunnablePick(keys)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# -- coercion ----------------------------------------------------------------------------------------


def coerce_to_runnable(thing: Any) -> Runnable[Any, Any]:
    """``thing`` as a Runnable: itself, a :class:`RunnableGenerator` for a generator function, a
    :class:`RunnableLambda` for another callable, a :class:`RunnableParallel` for a dict (LangChain's rule);
    another library's Runnable through the adapters registered with :func:`register_runnable_adapter`.

    :raises TypeError: for anything else (LangChain's message and type)
    """
    if isinstance(thing, Runnable):
        return thing
    for adapt in _runnable_adapters:
        adapted = adapt(thing)
        if adapted is not None:
            return adapted
    if inspect.isasyncgenfunction(thing) or inspect.isgeneratorfunction(thing):
        return RunnableGenerator(thing)
    if callable(thing):
        return RunnableLambda(thing)
    if isinstance(thing, dict):
        return RunnableParallel(thing)
    raise TypeError(f"Expected a Runnable, callable or dict.Instead got an unsupported type: {type(thing)}")


_runnable_adapters: list[Callable[[Any], Runnable[Any, Any] | None]] = []


def register_runnable_adapter(adapt: Callable[[Any], Runnable[Any, Any] | None]) -> None:
    """Have :func:`coerce_to_runnable` (so ``|`` and the chain constructors) take another library's
    Runnables: ``adapt`` returns a :class:`Runnable` standing for an object it knows, None for anything else,
    or raises ``TypeError`` naming what is allowed for an object of its library that is no Runnable. A bridge
    registers one (the LangChain bridge); registering the same function twice is a no-op."""
    if adapt not in _runnable_adapters:
        _runnable_adapters.append(adapt)


# -- sequence ----------------------------------------------------------------------------------------


class SelfPublishingRunnable(Runnable[Input, Output]):
    """A Runnable that publishes its own events when it runs as a call inside a run (a chat model its start,
    tokens and end; a langchain-core Runnable through the bridge's callbacks): a call gives it a child
    context of the caller's step and publishes no chain events around it."""

    async def _call(
        self,
        input: Input,
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Output:
        ctx, _ = parent.child(local_tags, config)
        return await self._invoke_body(input, ctx, **kwargs)

    async def _call_stream(
        self,
        chunks: AsyncIterator[Input],
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Output]:
        ctx, _ = parent.child(local_tags, config)
        async with closing(self._atransform(chunks, ctx, **kwargs)) as outs:
            async for chunk in outs:
                yield chunk


class RunnableSequence(Runnable[Input, Output]):
    """Steps run one after the other, each one's output the next one's input (``a | b | c``).

    Streaming (``astream``) streams the last step's output: each step that can transform a stream starts
    on its first input chunk and passes its chunks on; a step that cannot adds its input up first. Each
    step's events carry the tag ``seq:step:<n>`` (1 for the first), as in LangChain.

    :raises ValueError: for fewer than two steps
    :raises TypeError: for a step that is not a Runnable, a callable or a dict
    """

    streams_input = True

    def __init__(self, *steps: Any, name: str | None = None) -> None:
        flat: list[Runnable[Any, Any]] = []
        for step in steps:
            runnable = coerce_to_runnable(step)
            if isinstance(runnable, RunnableSequence) and runnable.name is None:
                flat.extend(runnable.steps)
            else:
                flat.append(runnable)
        if len(flat) < 2:
            raise ValueError(f"RunnableSequence must have at least 2 steps, got {len(flat)}")
        self.steps: list[Runnable[Any, Any]] = flat
        self.name = name

    @property
    def first(self) -> Runnable[Input, Any]:
        return self.steps[0]

    @property
    def middle(self) -> list[Runnable[Any, Any]]:
        return self.steps[1:-1]

    @property
    def last(self) -> Runnable[Any, Output]:
        return self.steps[-1]

    def __or__(self, other: Any) -> RunnableSequence[Input, Any]:
        if isinstance(other, RunnableSequence) and other.name is None:
            return RunnableSequence(*self.steps, *other.steps, name=self.name)
        return RunnableSequence(*self.steps, coerce_to_runnable(other), name=self.name)

    def __ror__(self, other: Any) -> RunnableSequence[Any, Output]:
        return RunnableSequence(coerce_to_runnable(other), *self.steps, name=self.name)

    async def _ainvoke(self, input: Input, ctx: StepContext, **kwargs: Any) -> Output:
        value: Any = input
        for i, step in enumerate(self.steps):
            value = await step._call(value, ctx, (f"seq:step:{i + 1}",))
        return cast(Output, value)

    async def _atransform(self, chunks: AsyncIterator[Input], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Output]:
        pipeline: AsyncIterator[Any] = chunks
        for i, step in enumerate(self.steps):
            if i:
                pipeline = _pass_first_later(pipeline)
            pipeline = step._call_stream(pipeline, ctx, (f"seq:step:{i + 1}",))
        async with closing(pipeline) as chunks_out:
            async for chunk in chunks_out:
                yield chunk

    def __repr__(self) -> str:
        return "\n| ".join(repr(s) for s in self.steps)


async def _pass_first_later(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """``chunks``, the first one handed on after one pass of the event loop: what it set going in the step
    that made it (the mapper of an ``.assign()``) starts before the next step does, as in LangChain, whose
    next step awaits its start callback there."""
    async with closing(chunks):
        first = await anext(chunks, END)
        if first is END:
            return
        await asyncio.sleep(0)
        yield first
        async for chunk in chunks:
            yield chunk


# -- functions ---------------------------------------------------------------------------------------


def _takes(func: Callable[..., Any], param: str) -> bool:
    try:
        return param in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _func_name(func: Callable[..., Any], default: str) -> str:
    name = getattr(func, "__name__", None)
    return name if name and name != "<lambda>" else default


class RunnableLambda(Runnable[Input, Output]):
    """A function as a Runnable (LangChain's ``RunnableLambda``).

    ``func`` may be sync (run in a worker thread, as LangChain runs it in an executor), async, or a
    (sync or async) generator function, whose yielded values are the output chunks (added up with ``+``
    for ``invoke``). A function with a ``config`` parameter gets the call's config. A Runnable returned
    by the function is run on the same input. Its name: ``name``, else the function's (``RunnableLambda``
    for a lambda).

    :param afunc: an async twin used by the async methods (``func`` then serves the sync ones, which here
        are the async ones through the portal: ``afunc`` is used whenever given)
    :raises TypeError: when ``func`` is not callable
    """

    streams_input = True

    def __init__(
        self,
        func: Callable[..., Any],
        afunc: Callable[..., Awaitable[Any]] | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(func):
            raise TypeError(f"RunnableLambda needs a callable, got {type(func).__name__}: {func!r}")
        self.func = func
        self.afunc = afunc
        self.name = name or _func_name(afunc or func, "RunnableLambda")
        target = afunc or func
        self._async = inspect.iscoroutinefunction(target)
        self._agen = inspect.isasyncgenfunction(target)
        self._gen = inspect.isgeneratorfunction(target)
        self._config = _takes(target, "config")
        self._target = target

    def _args(self, ctx: StepContext, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self._config:
            return {**kwargs, "config": ctx.config()}
        return kwargs

    async def _outputs(self, input: Any, ctx: StepContext, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """What the function gives for ``input``: its yielded values, or its one result."""
        fn: Any = self._target
        args = self._args(ctx, kwargs)
        if self._agen:
            async with closing(_items_as(ctx, fn(input, **args))) as outs:
                async for item in outs:
                    yield item
        elif self._gen:
            # sync code in a worker thread sees this call as its task (custom events, stream writer)
            gen = fn(input, **args)  # runs no code of the function yet
            while True:
                token = _current.set(ctx)
                try:
                    item = await workers.run_sync(lambda: next(gen, END), label=self.get_name())
                finally:
                    _current.reset(token)
                if item is END:
                    return
                yield item
        elif self._async:
            entered = enter_task(ctx)
            try:
                out = await fn(input, **args)
            finally:
                leave_task(entered)
            yield out
        else:
            entered = enter_task(ctx)
            try:
                out = await workers.run_sync(lambda: fn(input, **args), label=self.get_name())
            finally:
                leave_task(entered)
            yield out

    async def _ainvoke(self, input: Input, ctx: StepContext, **kwargs: Any) -> Output:
        total = Accumulator()
        async for out in self._outputs(input, ctx, kwargs):
            total.add(out)
        out = total.value
        if isinstance(out, Runnable):
            return cast(Output, await out._call(input, ctx))
        return cast(Output, out)

    async def _atransform(self, chunks: AsyncIterator[Input], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Output]:
        final = await gather(chunks)
        if final is END:
            return
        async for out in self._outputs(final, ctx, kwargs):
            if isinstance(out, Runnable):
                async with closing(out._call_stream(one(final), ctx)) as inners:
                    async for inner in inners:
                        yield inner
            else:
                yield out

    def __repr__(self) -> str:
        return f"RunnableLambda({self.get_name()})"


class RunnableGenerator(Runnable[Input, Output]):
    """A generator function over the input chunks as a Runnable (LangChain's ``RunnableGenerator``):
    ``transform(chunks)`` yields the output chunks. A sync generator function gets a sync iterator of the
    input chunks and runs in a worker thread; an async one gets an async iterator. ``invoke`` adds the
    output chunks up with ``+``.

    :param atransform: an async generator function used by the async methods when given
    :raises TypeError: when no generator function is given
    """

    streams_input = True

    def __init__(
        self,
        transform: Callable[..., Any],
        atransform: Callable[..., AsyncIterator[Any]] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        target = atransform or transform
        if not (inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target)):
            raise TypeError(
                f"RunnableGenerator needs a generator function (sync or async), got {target!r}; "
                "use RunnableLambda for a plain function"
            )
        self.transform_fn = transform
        self._target = target
        self._agen = inspect.isasyncgenfunction(target)
        self.name = name or _func_name(target, "RunnableGenerator")

    async def _ainvoke(self, input: Input, ctx: StepContext, **kwargs: Any) -> Output:
        total = Accumulator()
        async for out in self._atransform(one(input), ctx, **kwargs):
            total.add(out)
        return cast(Output, total.value)

    async def _atransform(self, chunks: AsyncIterator[Input], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Output]:
        fn: Any = self._target
        if self._agen:
            async with closing(_items_as(ctx, fn(chunks, **kwargs))) as outs:
                async for item in outs:
                    yield item
        else:
            items = [chunk async for chunk in chunks]
            sync_gen = iter(fn(iter(items), **kwargs))
            while True:
                item = await workers.run_sync(lambda: next(sync_gen, END), label=self.get_name())
                if item is END:
                    return
                yield item

    def __repr__(self) -> str:
        return f"RunnableGenerator({self.get_name()})"


async def _items_as(ctx: StepContext, gen: Any) -> AsyncIterator[Any]:
    """The items of the async generator ``gen`` (a user's function's), each step of it run with ``ctx`` as the
    current task (its custom events, stream writer); leaving early, or its end, closes it."""
    try:
        while True:
            token = _current.set(ctx)
            try:
                item = await anext(gen, END)
            finally:
                _current.reset(token)
            if item is END:
                return
            yield item
    finally:
        await gen.aclose()


# -- parallel ----------------------------------------------------------------------------------------


class RunnableParallel(Runnable[Input, dict[str, Any]]):
    """Runnables run at the same time on the same input, their outputs in a dict by key (LangChain's
    ``RunnableParallel``; a dict in ``|`` becomes one). Streaming yields ``{key: chunk}`` dicts as any
    branch produces a chunk. Each branch's events carry the tag ``map:key:<key>``.

    :raises TypeError: for a value that is not a Runnable, a callable or a dict
    """

    streams_input = True

    def __init__(self, steps__: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        merged = {**(steps__ or {}), **kwargs}
        self.steps__: dict[str, Runnable[Input, Any]] = {k: coerce_to_runnable(v) for k, v in merged.items()}

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return super().get_name(suffix, name=name or self.name or f"RunnableParallel<{','.join(self.steps__)}>")

    async def _ainvoke(self, input: Input, ctx: StepContext, **kwargs: Any) -> dict[str, Any]:
        keys = list(self.steps__)
        outs = await all_or_none(self.steps__[k]._call(input, ctx, (f"map:key:{k}",)) for k in keys)
        return dict(zip(keys, outs, strict=True))

    async def _atransform(
        self, chunks: AsyncIterator[Input], ctx: StepContext, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        keys = list(self.steps__)
        tee = Tee(chunks, len(keys))
        streams = {
            k: self.steps__[k]._call_stream(reader, ctx, (f"map:key:{k}",))
            for k, reader in zip(keys, tee.readers, strict=True)
        }
        try:
            async for key, chunk in merge_streams(streams):
                yield AddableDict({key: chunk})
        finally:
            for stream in streams.values():
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k}: {v!r}" for k, v in self.steps__.items()) + "}"


def _need_dict(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("The input to RunnablePassthrough.assign() must be a dict.")
    return value


class RunnableAssign(Runnable[dict[str, Any], dict[str, Any]]):
    """The input dict with more keys: the outputs of ``mapper``'s branches run on it
    (``RunnablePassthrough.assign(...)``). Streaming yields the input's other keys as they come, then the
    new keys' chunks.

    :raises ValueError: (when run) for an input that is not a dict (LangChain's message)
    """

    streams_input = True

    def __init__(self, mapper: RunnableParallel[Any], *, name: str | None = None) -> None:
        self.mapper = mapper
        self.name = name

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return super().get_name(suffix, name=name or self.name or f"RunnableAssign<{','.join(self.mapper.steps__)}>")

    async def _ainvoke(self, input: dict[str, Any], ctx: StepContext, **kwargs: Any) -> dict[str, Any]:
        value = _need_dict(input)
        return {**value, **await self.mapper._call(value, ctx)}

    async def _atransform(
        self, chunks: AsyncIterator[dict[str, Any]], ctx: StepContext, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        keys = set(self.mapper.steps__)
        tee = Tee(chunks, 2)
        through, into_map = tee.readers
        mapped = self.mapper._call_stream(into_map, ctx)
        first = asyncio.ensure_future(anext(mapped, END))
        try:
            async for chunk in through:
                rest = AddableDict({k: v for k, v in _need_dict(chunk).items() if k not in keys})
                if rest:
                    yield rest
            item = await first
            if item is not END:
                yield item
                async for item in mapped:
                    yield item
        finally:
            if not first.done():
                first.cancel()
                await asyncio.wait([first])
            await mapped.aclose()  # type: ignore[attr-defined]


class RunnablePick(Runnable[dict[str, Any], Any]):
    """One key's value of a dict input (``keys`` a string), or a dict of some of its keys (a list of
    strings; keys the input lacks are left out, None when it has none of them)."""

    def __init__(self, keys: str | list[str], *, name: str | None = None) -> None:
        self.keys = keys
        self.name = name

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        keys = self.keys if isinstance(self.keys, str) else ",".join(self.keys)
        return super().get_name(suffix, name=name or self.name or f"RunnablePick<{keys}>")

    def _pick(self, value: Any) -> Any:
        mapping = _need_dict(value) if not isinstance(value, Mapping) else value
        if isinstance(self.keys, str):
            return mapping.get(self.keys)
        picked = {k: mapping[k] for k in self.keys if k in mapping}
        return AddableDict(picked) if picked else None

    async def _ainvoke(self, input: dict[str, Any], ctx: StepContext, **kwargs: Any) -> Any:
        return self._pick(input)


# -- binding -----------------------------------------------------------------------------------------


class RunnableBinding(Runnable[Input, Output]):
    """A Runnable with a config and keyword arguments bound to every call (``with_config``, ``bind``).
    It runs as its bound Runnable (same events, same name unless ``run_name`` is bound)."""

    def __init__(
        self,
        bound: Runnable[Input, Output],
        *,
        config: Mapping[str, Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(bound, RunnableBinding):
            config = merge_configs(bound.config, config)
            kwargs = {**bound.kwargs, **(kwargs or {})}
            bound = bound.bound
        self.bound: Runnable[Input, Output] = bound
        self.config: dict[str, Any] = dict(config or {})
        self.kwargs: dict[str, Any] = dict(kwargs or {})

    @property
    def run_type(self) -> str:  # type: ignore[override]
        return self.bound.run_type

    @property
    def streams_input(self) -> bool:  # type: ignore[override]
        return self.bound.streams_input

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return self.bound.get_name(suffix, name=name)

    def _unbind(self, config: Mapping[str, Any] | None) -> tuple[Runnable[Any, Any], dict[str, Any], dict[str, Any]]:
        return self.bound, merge_configs(self.config, config), dict(self.kwargs)

    async def _call(
        self,
        input: Input,
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Output:
        merged = merge_configs(self.config, config)
        return await self.bound._call(input, parent, local_tags, merged, **{**self.kwargs, **kwargs})

    def _call_stream(
        self,
        chunks: AsyncIterator[Input],
        parent: StepContext,
        local_tags: tuple[str, ...] = (),
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Output]:
        merged = merge_configs(self.config, config)
        return self.bound._call_stream(chunks, parent, local_tags, merged, **{**self.kwargs, **kwargs})

    def __repr__(self) -> str:
        return f"RunnableBinding(bound={self.bound!r}, config={self.config!r}, kwargs={self.kwargs!r})"
