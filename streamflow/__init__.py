"""streamflow: an async-first event bus for LLM and agent pipelines.

A run writes typed events (:mod:`streamflow.events`) onto its own broadcast channel
(:mod:`streamflow.channel`); everything a user sees is a filtered subscriber view of that channel. The sync
API is the async one carried across a thread portal (:mod:`streamflow.portal`).

Layers, lowest first; a lower layer never imports a higher one: events -> channel -> views/modes ->
runtime (graph, runnables, tools, models) -> bridges (sync portal, SSE, Redis).
"""

from .channel import (
    Channel as Channel,
)
from .channel import (
    ChannelStatistics as ChannelStatistics,
)
from .channel import (
    Lagged as Lagged,
)
from .channel import (
    Subscription as Subscription,
)
from .channel import (
    SubscriptionStatistics as SubscriptionStatistics,
)
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .events import *  # noqa: F403
from .events import __all__ as _events_all
from .filters import EventFilter as EventFilter
from .portal import iterate_sync as iterate_sync

__all__ = [
    "Channel",
    "ChannelStatistics",
    "EventFilter",
    "Lagged",
    "Subscription",
    "SubscriptionStatistics",
    "iterate_sync",
    *_errors_all,
    *_events_all,
]

from .integrations._autoload import install as _install_bridges

_install_bridges()
