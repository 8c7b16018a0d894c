"""LangGraph's ``langgraph.constants`` names that streamflow provides, at the mirrored path.

Re-exports only, with LangGraph's values: ``START`` and ``END`` (the virtual first and last nodes, from
:mod:`streamflow.graph`) and ``TAG_NOSTREAM`` (the tag that keeps a chat model's tokens off the ``messages``
stream; :data:`streamflow.modes.NOSTREAM`).
"""

from .graph.constants import END as END
from .graph.constants import START as START
from .modes import NOSTREAM as TAG_NOSTREAM

__all__ = ["END", "START", "TAG_NOSTREAM"]
