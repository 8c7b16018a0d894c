"""LangGraph's ``langgraph.runtime`` names that streamflow provides, at the mirrored path.

Re-exports only: each name is the object of :mod:`streamflow.graph.runtime`, where they are documented.
``BaseUser`` is not provided.
"""

from .graph.runtime import ExecutionInfo as ExecutionInfo
from .graph.runtime import RunControl as RunControl
from .graph.runtime import Runtime as Runtime
from .graph.runtime import ServerInfo as ServerInfo
from .graph.runtime import get_runtime as get_runtime

__all__ = ["ExecutionInfo", "RunControl", "Runtime", "ServerInfo", "get_runtime"]
