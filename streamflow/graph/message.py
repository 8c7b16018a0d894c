"""LangGraph's ``langgraph.graph.message`` names that streamflow provides, at the mirrored path.

Re-exports only: :class:`MessagesState` and :func:`add_messages` are the objects of
:mod:`streamflow.messages`.
"""

from ..messages import MessagesState as MessagesState
from ..messages import add_messages as add_messages

__all__ = ["MessagesState", "add_messages"]
