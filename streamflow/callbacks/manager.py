"""LangChain's ``langchain_core.callbacks.manager`` path for the custom-event functions (re-exports of
:mod:`streamflow.graph.context`, see :mod:`streamflow.callbacks`)."""

from ..graph.context import adispatch_custom_event as adispatch_custom_event
from ..graph.context import dispatch_custom_event as dispatch_custom_event

__all__ = ["adispatch_custom_event", "dispatch_custom_event"]
