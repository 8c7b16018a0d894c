"""The names a graph is built with: ``START``, ``END`` and ``Send`` (LangGraph's, with the same values)."""

from __future__ import annotations

from typing import Any, Final

import attrs

__all__ = ["END", "RESERVED_CHARS", "START", "Send"]

START: Final = "__start__"
"""The virtual node a run enters by: ``add_edge(START, "first")``."""
END: Final = "__end__"
"""The virtual node a path ends in: ``add_edge("last", END)`` or a conditional path returning ``END``."""
RESERVED_CHARS: Final = (":", "|")
"""Characters a node name may not contain (they separate namespace parts)."""


@attrs.frozen
class Send:
    """Ask for one extra task of ``node`` in the next superstep, called with ``arg`` instead of the state.

    Returned by a conditional edge's path function, usually one per item, for map-reduce
    (LangGraph's ``langgraph.types.Send``).
    """

    node: str
    """Name of the node to run."""
    arg: Any
    """The node's input for that task."""
