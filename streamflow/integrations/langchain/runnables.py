"""A langchain-core Runnable as a step of a streamflow chain (``streamflow_step | langchain_runnable``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from langchain_core.runnables import Runnable as LangChainRunnableBase

from ...graph.context import _current
from ...runnables.base import Runnable, SelfPublishingRunnable
from ...runnables.context import StepContext
from ...runnables.utils import END, closing, gather
from .config import langchain_config
from .messages import from_langchain_value

__all__ = ["LangChainRunnable", "adapt_runnable"]


class LangChainRunnable(SelfPublishingRunnable[Any, Any]):
    """A langchain-core Runnable as a streamflow chain step. It publishes no events of its own: the
    langchain-core run does, through the bridge's callback handler (``on_chain_*``, ``on_chat_model_*`` ...
    under the step's tags, ``seq:step:<n>`` included). Messages it returns or streams are streamflow's.

    :param runnable: the langchain-core Runnable
    """

    streams_input = True

    def __init__(self, runnable: LangChainRunnableBase[Any, Any]) -> None:
        self.runnable = runnable
        self.name = runnable.get_name()

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> Any:
        return from_langchain_value(await self.runnable.ainvoke(input, langchain_config(ctx)))  # type: ignore[arg-type]

    async def _atransform(self, chunks: AsyncIterator[Any], ctx: StepContext, **kwargs: Any) -> AsyncIterator[Any]:
        final = await gather(chunks)
        if final is END:
            return
        stream = self.runnable.astream(final, langchain_config(ctx))  # type: ignore[arg-type]
        async with closing(stream):
            while True:  # each step of the stream runs with this call as the current task (its callbacks')
                token = _current.set(ctx)
                try:
                    chunk = await anext(stream, END)
                finally:
                    _current.reset(token)
                if chunk is END:
                    return
                yield from_langchain_value(chunk)

    def __repr__(self) -> str:
        return f"LangChainRunnable({self.runnable!r})"


def adapt_runnable(value: Any) -> Runnable[Any, Any] | None:
    """The adapter :func:`streamflow.runnables.base.register_runnable_adapter` takes: a
    :class:`LangChainRunnable` for a langchain-core Runnable, None for what is not langchain-core's.

    :raises TypeError: for another langchain-core object (a message, a document ...), naming what a step may be
    """
    if isinstance(value, LangChainRunnableBase):
        return LangChainRunnable(value)
    module = type(value).__module__
    if module.split(".")[0] in ("langchain_core", "langchain", "langchain_openai") and not callable(value):
        raise TypeError(
            f"Expected a Runnable, callable or dict.Instead got an unsupported type: {type(value)} (a "
            f"{type(value).__name__} of LangChain is not a Runnable: a chain step is a streamflow or "
            "langchain-core Runnable, a function or a dict of them)"
        )
    return None
