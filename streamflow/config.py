"""LangGraph's ``langgraph.config`` names that streamflow provides, at the mirrored path.

Re-exports only: each name is the object of :mod:`streamflow.graph` (whose ``get_config`` and
``get_stream_writer`` raise :class:`~streamflow.errors.NotInRunError` outside a run's task).
"""

from .graph.context import StreamWriter as StreamWriter
from .graph.context import get_config as get_config
from .graph.context import get_stream_writer as get_stream_writer

__all__ = ["StreamWriter", "get_config", "get_stream_writer"]
