"""A run's events on Redis Streams: the same views from any process.

A bridge (the top layer); it needs the ``redis`` extra (``pip install 'streamflow[redis]'``, redis-py's
asyncio client). In the process that executes a run, a :class:`RedisSink` forwards its events to the
stream ``<prefix>:run:<run_id>``; in any other process, :class:`RemoteRun` reads them back into the same
typed events and the same views (stream modes, filters, ``subgraphs``, resume from a ``seq``), and
:class:`RedisRunDirectory` lists the runs as :class:`~streamflow.run_info.RunInfo` records. A :class:`RunQueue`
carries runs to start from web processes to :class:`RedisWorker` processes, which execute them with a sink
and honour cancel requests. Keys and their layout: :mod:`streamflow.redis.directory`; the wire form:
:mod:`streamflow.redis.codec`; the remote run reader: :mod:`streamflow.redis.reader`.
"""

from ..run_info import RunInfo as RunInfo
from ..run_info import RunStatus as RunStatus
from .codec import check_payload as check_payload
from .codec import decode_event as decode_event
from .codec import encode_event as encode_event
from .directory import DEFAULT_PREFIX as DEFAULT_PREFIX
from .directory import RedisKeys as RedisKeys
from .directory import RedisRunDirectory as RedisRunDirectory
from .jobs import Job as Job
from .jobs import RunQueue as RunQueue
from .reader import RemoteMirror as RemoteMirror
from .reader import RemoteRun as RemoteRun
from .reader import RemoteSubscription as RemoteSubscription
from .reader import RemoteView as RemoteView
from .sink import RedisSink as RedisSink
from .sink import SinkStatistics as SinkStatistics
from .worker import RedisWorker as RedisWorker
from .worker import WorkerStatistics as WorkerStatistics

__all__ = [
    "DEFAULT_PREFIX",
    "Job",
    "RedisKeys",
    "RedisRunDirectory",
    "RedisSink",
    "RedisWorker",
    "RemoteMirror",
    "RemoteRun",
    "RemoteSubscription",
    "RemoteView",
    "RunInfo",
    "RunQueue",
    "RunStatus",
    "SinkStatistics",
    "WorkerStatistics",
    "check_payload",
    "decode_event",
    "encode_event",
]
