"""State graphs that stream (LangGraph's API): build with :class:`StateGraph`, run the compiled graph."""

from ..messages import MessagesState as MessagesState
from ..messages import add_messages as add_messages
from .builder import StateGraph as StateGraph
from .cancellation import AbandonedCall as AbandonedCall
from .compiled import CompiledStateGraph as CompiledStateGraph
from .constants import END as END
from .constants import START as START
from .constants import Send as Send
from .context import (
    StreamWriter as StreamWriter,
)
from .context import (
    adispatch_custom_event as adispatch_custom_event,
)
from .context import (
    check_cancelled as check_cancelled,
)
from .context import (
    dispatch_custom_event as dispatch_custom_event,
)
from .context import (
    get_config as get_config,
)
from .context import (
    get_stream_writer as get_stream_writer,
)
from .run import Run as Run
from .run import RunStatistics as RunStatistics

__all__ = [
    "END",
    "START",
    "AbandonedCall",
    "CompiledStateGraph",
    "MessagesState",
    "Run",
    "RunStatistics",
    "Send",
    "StateGraph",
    "StreamWriter",
    "add_messages",
    "adispatch_custom_event",
    "check_cancelled",
    "dispatch_custom_event",
    "get_config",
    "get_stream_writer",
]
