"""``GraphOutput``: what ``invoke()``/``ainvoke()`` return with ``version="v2"`` (LangGraph 1.2's
``langgraph.types.GraphOutput``, also at :mod:`streamflow.types`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["GraphOutput"]

OutputT = TypeVar("OutputT")


@dataclass(frozen=True)
class GraphOutput(Generic[OutputT]):
    """The result of ``invoke(..., version="v2")``: ``value`` is the graph's final state (what
    ``invoke()`` returns with ``version="v1"``); ``interrupts`` the interrupts the run ended on
    (:class:`~streamflow.types.Interrupt` objects; ``()`` when it finished).

    Unlike LangGraph's, it has no deprecated dict access (``result[key]``, ``key in result``): read
    ``result.value``.
    """

    value: OutputT
    interrupts: tuple[Any, ...] = ()
