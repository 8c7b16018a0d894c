"""LangChain v1's ``langchain.agents``, at the mirrored path: :func:`create_agent` and its
:class:`AgentState` (:mod:`streamflow.agents.factory`)."""

from .factory import AgentState as AgentState
from .factory import create_agent as create_agent

__all__ = ["AgentState", "create_agent"]
