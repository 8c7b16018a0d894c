"""LangGraph's ``langgraph.prebuilt`` names that streamflow provides, at the mirrored path.

Re-exports only: :class:`ToolNode`, :class:`InjectedState`, :func:`tools_condition` and
:func:`create_react_agent` are the objects of :mod:`streamflow.tools`, and :class:`ToolCallTransformer`
(``run.tool_calls`` of a v3 run stream) that of :mod:`streamflow.stream.tool_calls`, where they also stay
importable.
"""

from ..stream.tool_calls import ToolCallTransformer as ToolCallTransformer
from ..tools import InjectedState as InjectedState
from ..tools import ToolNode as ToolNode
from ..tools import create_react_agent as create_react_agent
from ..tools import tools_condition as tools_condition

__all__ = ["InjectedState", "ToolCallTransformer", "ToolNode", "create_react_agent", "tools_condition"]
