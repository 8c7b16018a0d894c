"""LangChain's ``langchain_core.callbacks`` names that streamflow provides, at the mirrored path.

Re-exports only: :func:`dispatch_custom_event` and :func:`adispatch_custom_event` are those of
:mod:`streamflow.graph.context`. They publish a ``CustomEvent`` on the run of the calling graph node, tool
or Runnable (sync functions in worker threads too), which ``astream_events`` shows as ``on_custom_event``.
streamflow has no callback handlers of its own: every view is a subscriber of the run's channel (langchain-core's
callbacks, of langchain-core components called inside a run, are turned into events by
:mod:`streamflow.integrations.langchain`).
"""

from ..graph.context import adispatch_custom_event as adispatch_custom_event
from ..graph.context import dispatch_custom_event as dispatch_custom_event

__all__ = ["adispatch_custom_event", "dispatch_custom_event"]
