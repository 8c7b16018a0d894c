"""Runnables that pass their input on: :class:`RunnablePassthrough`, ``.assign`` (:class:`RunnableAssign`)
and :class:`RunnablePick` (LangChain's ``langchain_core.runnables.passthrough``)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .. import workers
from ..graph.context import _current
from .base import Runnable, RunnableAssign, RunnableParallel
from .context import StepContext
from .utils import END, add_chunk

__all__ = ["RunnablePassthrough"]


class RunnablePassthrough(Runnable[Any, Any]):
    """Returns its input unchanged; streaming passes each input chunk on as it comes.

    :param func: called with the whole input (for its side effect) once the input is complete; sync (run
        in a worker thread) or async
    :param afunc: an async twin of ``func``, used when given
    """

    streams_input = True

    def __init__(
        self,
        func: Callable[[Any], Any] | None = None,
        afunc: Callable[[Any], Awaitable[Any]] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.func = func
        self.afunc = afunc
        self.name = name

    @classmethod
    def assign(cls, **kwargs: Any) -> RunnableAssign:  # type: ignore[override]
        """A Runnable that takes a dict and returns it with the keys of ``kwargs`` added, each the output
        of its Runnable (or function, or dict) run on the input dict.

        :raises TypeError: for a value that is not a Runnable, a callable or a dict
        """
        return RunnableAssign(RunnableParallel(kwargs))

    async def _side_effect(self, value: Any, ctx: StepContext) -> None:
        fn = self.afunc or self.func
        if fn is None:
            return
        if inspect.iscoroutinefunction(fn):
            token = _current.set(ctx)
            try:
                await fn(value)
            finally:
                _current.reset(token)
        else:
            await workers.run_sync(lambda: fn(value), label=self.get_name())

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> Any:
        await self._side_effect(input, ctx)
        return input

    async def _atransform(self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Any]:
        if self.func is None and self.afunc is None:
            async for chunk in chunks:
                yield chunk
            return
        final: Any = END
        async for chunk in chunks:
            yield chunk
            final = add_chunk(final, chunk)
        if final is not END:
            await self._side_effect(final, ctx)
