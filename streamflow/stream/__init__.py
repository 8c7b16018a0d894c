"""LangGraph 1.2's v3 run streams (``langgraph.stream``), as views of a run's channel.

``graph.stream_events(input, version="v3")`` returns a :class:`GraphRunStream`, and
``await graph.astream_events(input, version="v3")`` an :class:`AsyncGraphRunStream`: iterating one yields the
run's :class:`ProtocolEvent` envelopes; its projections (``values``, ``messages``, ``lifecycle``,
``subgraphs``, and those of opt-in transformers: ``updates``, ``custom``, ``checkpoints``, ``debug``,
``tasks``, or a user :class:`StreamTransformer`'s) yield typed items. Unlike LangGraph's single-subscriber
projections, every iteration here is a subscription of its own to the run's channel: any number of readers,
each seeing everything from when it joined, each with its own backpressure (and an explicit
:class:`~streamflow.channel.Lagged` signal when it chose to lag), and nothing held for a projection nobody reads.

Layer 2 (views): the runtime's graph methods build these streams; nothing here imports the runtime.
"""

from .chat_stream import AsyncChatModelStream as AsyncChatModelStream
from .chat_stream import ChatModelStream as ChatModelStream
from .consumer import ConsumerPolicy as ConsumerPolicy
from .protocol import ProtocolEvent as ProtocolEvent
from .run_stream import AsyncGraphRunStream as AsyncGraphRunStream
from .run_stream import AsyncProjection as AsyncProjection
from .run_stream import AsyncSubgraphRunStream as AsyncSubgraphRunStream
from .stream_channel import StreamChannel as StreamChannel
from .sync_run_stream import GraphRunStream as GraphRunStream
from .sync_run_stream import Projection as Projection
from .sync_run_stream import SubgraphRunStream as SubgraphRunStream
from .transformer import StreamTransformer as StreamTransformer
from .transformers import CheckpointsTransformer as CheckpointsTransformer
from .transformers import CustomTransformer as CustomTransformer
from .transformers import DebugTransformer as DebugTransformer
from .transformers import LifecyclePayload as LifecyclePayload
from .transformers import LifecycleTransformer as LifecycleTransformer
from .transformers import MessagesTransformer as MessagesTransformer
from .transformers import SubgraphStatus as SubgraphStatus
from .transformers import SubgraphTransformer as SubgraphTransformer
from .transformers import TasksTransformer as TasksTransformer
from .transformers import UpdatesTransformer as UpdatesTransformer
from .transformers import ValuesTransformer as ValuesTransformer

__all__ = [
    "AsyncChatModelStream",
    "AsyncGraphRunStream",
    "AsyncProjection",
    "AsyncSubgraphRunStream",
    "ChatModelStream",
    "CheckpointsTransformer",
    "ConsumerPolicy",
    "CustomTransformer",
    "DebugTransformer",
    "GraphRunStream",
    "LifecyclePayload",
    "LifecycleTransformer",
    "MessagesTransformer",
    "Projection",
    "ProtocolEvent",
    "StreamChannel",
    "StreamTransformer",
    "SubgraphRunStream",
    "SubgraphStatus",
    "SubgraphTransformer",
    "TasksTransformer",
    "UpdatesTransformer",
    "ValuesTransformer",
]

BUILTIN_FACTORIES = (ValuesTransformer, MessagesTransformer, LifecycleTransformer, SubgraphTransformer)
"""The transformers every v3 run stream has, in order, ahead of the compiled and call-site ones."""
