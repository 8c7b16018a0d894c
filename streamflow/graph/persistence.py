"""A graph run's thread: the checkpoints it reads and saves, and the state snapshots built from them.

A compiled graph with a checkpointer (``compile(checkpointer=saver)``) keeps its state per thread
(``config["configurable"]["thread_id"]``), as LangGraph does: a run starts from the thread's newest
checkpoint (or the one ``checkpoint_id`` names), saves an ``"input"`` checkpoint before applying its input
and a ``"loop"`` checkpoint after the input and after each superstep, and saves each finished task's writes
against the checkpoint its step started from (``put_writes``), so a run that failed mid-step resumes
(``invoke(None, config)``) without running the tasks that had finished. With ``durability="async"`` (the
default) those writes are saved with the next checkpoint, in one call (``aput_step``), or when the run ends;
on a saver that stages its writes (the SQL savers) the saves are written in the background while the run
goes on (:class:`~streamflow.checkpoint._behind.WriteBehind`), and the run ends once they are written.

What a checkpoint holds (channel names as LangGraph's): the state keys that have a value, ``branch:to:<node>``
(None) for each node triggered to run next, ``join:<a>+<b>:<node>`` (the sources seen so far) for a fan-in
edge half reached, and ``__pregel_tasks`` (``[node, arg]`` pairs) for the ``Send`` packets of the next step.

This module gathers the names: :mod:`~streamflow.graph.thread_config` (the config keys, checkpoint channel
names and task ids), :mod:`~streamflow.graph.thread` (a run's :class:`Thread`, which reads and saves the
checkpoints) and :mod:`~streamflow.graph.snapshots` (:class:`StateSnapshot` and what builds it).
"""

from __future__ import annotations

from .snapshots import PregelTask as PregelTask
from .snapshots import StateSnapshot as StateSnapshot
from .snapshots import StateUpdate as StateUpdate
from .snapshots import snapshot_of as snapshot_of
from .task_writes import NO_WRITES
from .thread import Thread as Thread
from .thread_config import DURABILITY_KEY as DURABILITY_KEY
from .thread_config import Durability as Durability
from .thread_config import require_thread as require_thread
from .thread_config import subgraph_ns_part as subgraph_ns_part
from .thread_config import task_id_for as task_id_for
from .thread_config import with_durability as with_durability

__all__ = [
    "DURABILITY_KEY",
    "Durability",
    "NO_WRITES",
    "PregelTask",
    "StateSnapshot",
    "StateUpdate",
    "Thread",
    "require_thread",
    "snapshot_of",
    "subgraph_ns_part",
    "task_id_for",
    "with_durability",
]
