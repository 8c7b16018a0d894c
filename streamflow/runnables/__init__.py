"""LangChain's ``langchain_core.runnables`` names, at the mirrored path (``streamflow.runnables``).

Every Runnable's call is a run on a channel (or a call inside the run that made it), with the same typed
events as a graph run; ``astream()`` and ``astream_events()`` are views of it. See
:mod:`streamflow.runnables.base` for the semantics and :mod:`streamflow.runnables.run` for the events.
"""

# A compiled graph is a Runnable: the graph package is loaded first, so that whichever of the two a program
# imports first, the graph's module finds the Runnable base class complete.
from ..graph import context as _graph_context  # noqa: F401  # isort: skip
from .base import Runnable as Runnable
from .base import RunnableAssign as RunnableAssign
from .base import RunnableBinding as RunnableBinding
from .base import RunnableGenerator as RunnableGenerator
from .base import RunnableLambda as RunnableLambda
from .base import RunnableParallel as RunnableParallel
from .base import RunnablePick as RunnablePick
from .base import RunnableSequence as RunnableSequence
from .base import coerce_to_runnable as coerce_to_runnable
from .config import RunnableConfig as RunnableConfig
from .config import ensure_config as ensure_config
from .config import merge_configs as merge_configs
from .log import RunLog as RunLog
from .log import RunLogPatch as RunLogPatch
from .passthrough import RunnablePassthrough as RunnablePassthrough
from .utils import AddableDict as AddableDict

RunnableMap = RunnableParallel
"""LangChain's older name of :class:`RunnableParallel`."""

__all__ = [
    "AddableDict",
    "Runnable",
    "RunLog",
    "RunLogPatch",
    "RunnableAssign",
    "RunnableBinding",
    "RunnableConfig",
    "RunnableGenerator",
    "RunnableLambda",
    "RunnableMap",
    "RunnableParallel",
    "RunnablePassthrough",
    "RunnablePick",
    "RunnableSequence",
    "coerce_to_runnable",
    "ensure_config",
    "merge_configs",
]
