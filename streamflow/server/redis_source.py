"""Serving runs that execute in worker processes: a run source backed by Redis.

Needs the ``redis`` extra next to ``server``. With a :class:`RedisRunSource`, ``create_app`` queues each
``POST /runs`` for the workers (:class:`~streamflow.redis.RedisWorker`, in other processes) and serves
every other route from Redis: run info from the directory, SSE streams read back from the run's Redis
stream with the same messages as for a local run (:mod:`streamflow.server.stream`), cancel through the
cancel channel. What differs, and why:

* a run is ``queued`` until a worker starts it; its stream sends ``metadata`` at once and its first events
  once the run started. A run no worker takes within ``queue_timeout`` seconds ends the stream with an
  ``error`` message of status ``"unknown"``.
* the streams of one run share one reader of its Redis stream (:mod:`streamflow.server.mirror`), which
  decodes each event once and keeps the latest ``mirror_replay_size`` of them for streams that attach or
  fall behind. A stream whose ``after_seq`` is older than that reads Redis on its own until it caught up, so
  a slow client never loses events while the Redis stream keeps them. The streams asking for the same
  modes, filters and error policy share one encoder, so each event is framed once for them, and read its
  messages from one frame log (:mod:`streamflow.server.frames`), each at its own cursor. Events the
  stream trimmed (the sink's ``maxlen``) before the client read them come as a ``lag`` message.
* a run whose worker died, or a Redis unreachable for ``stall_timeout`` seconds, ends the stream with an
  ``error`` message of status ``"unknown"`` naming the cause (the run's outcome cannot be known).
* threads (``/threads/...``) are served when the source is given the ``checkpointer`` its workers share and
  the graphs themselves: a run on a thread is queued like any other (its config names the thread), the key
  ``<prefix>:thread:<thread_id>`` names the thread's last run so that every web process refuses a second
  run while one is queued or running, the hash ``<prefix>:threadinfo:<thread_id>`` records a thread created
  here (its metadata, owner and last run) for every web process of the prefix, and the state is read from
  the saver here.
* run info has ``subscribers`` null (viewers may be in any process); ``POST /runs/{id}/cancel`` waits at most
  ``cancel_timeout`` seconds for the run to stop, then answers 202 with the info as it is.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..catalog import GraphCatalog, GraphSource
from ..channel import Subscription
from ..checkpoint.base import BaseCheckpointSaver
from ..errors import (
    InvalidArgumentError,
    NoTerminalEventError,
    StreamTrimmedError,
    ThreadConflictError,
    TransportUnavailableError,
    UnknownRunError,
)
from ..events import Event
from ..graph import CompiledStateGraph
from ..graph.run import parse_config
from ..redis.checks import check_positive
from ..redis.directory import DEFAULT_PREFIX, RedisClientUser, RedisRunDirectory
from ..redis.jobs import RunQueue
from ..redis.reader import RemoteMirror, RemoteRun, RemoteSubscription
from ..run_info import ENDED, RunInfo, RunStatus
from .frames import FrameLog
from .mirror import MirrorPool, MirrorStatistics, SharedRun
from .stream import WRITE_BATCH, ChunkEncoder, SharedEncoder, SSEStreamBase, StreamRequest, lag_message, lost_message
from .threads import ThreadEntry

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["TRIMMED", "MirrorStatistics", "RedisRunSource", "RemoteRunStream"]

TRIMMED = "trimmed from the run's Redis stream (retention) before this client read them"
"""The ``reason`` of a ``lag`` message for events the Redis stream no longer holds."""

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# KEYS[1]: the thread's key; ARGV[1]: the directory entry key of a run without its id. The thread's last run
# is still going when its entry says queued or running, or while it is being queued (no status yet, the key
# still under the expiry its claim set).
_THREAD_BUSY = """
local current = redis.call('get', KEYS[1])
if not current then return false end
local status = redis.call('hget', ARGV[1] .. current, 'status')
if status == 'queued' or status == 'running' then return current end
if not status and redis.call('pttl', KEYS[1]) > 0 then return current end
return false
"""
# then ARGV[2]: the new run's id, ARGV[3]: how long the claim lasts before the run is queued (ms)
_THREAD_CLAIM = """
local current = redis.call('get', KEYS[1])
if current then
  local status = redis.call('hget', ARGV[1] .. current, 'status')
  if status == 'queued' or status == 'running' then return current end
  if not status and redis.call('pttl', KEYS[1]) > 0 then return current end
end
redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
return false
"""
_THREAD_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return 0
"""
_THREAD_KEEP = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('persist', KEYS[1]) end
return 0
"""


class RedisRunSource(RedisClientUser):
    """Runs executing in worker processes, queued and read through Redis (a
    :class:`~streamflow.server.source.RunSource`; the module docstring says where it differs from a local
    one). Use it from one event loop, and close it (``async with`` or :meth:`aclose`) when the app stops.

    :param redis: a ``redis.asyncio.Redis`` client, or a URL to make one (closed by :meth:`aclose`)
    :param graphs: the graphs the workers run: graph name -> compiled graph (or a factory), so that a run's
        input is checked against the graph's state schema before it is queued, or only their names
    :param prefix: the key prefix shared with the workers
    :param queue_timeout: how long a stream waits for a queued run to start (seconds)
    :param cancel_timeout: how long ``cancel`` waits for the run to stop (seconds)
    :param stall_timeout: how long a stream waits with no event and no heartbeat from the run's worker, or
        with Redis unreachable, before it ends with an error (seconds)
    :param list_limit: most runs ``list`` returns (the newest)
    :param poll_interval: how often a queued or cancelled run's status is read again (seconds)
    :param mirror_replay_size: how many of a run's latest events its shared reader keeps for streams that
        attach or fall behind later (events; a stream whose ``after_seq`` is older reads Redis on its own).
        Each stream may buffer up to this many events more than its ``buffer_size``, and each shared
        encoder keeps the messages of the latest ``2 * mirror_replay_size + buffer_size + 64`` events.
    :param mirror_idle_timeout: how long a run still going keeps its shared reader after its last stream
        left (seconds)
    :param checkpointer: the saver the workers' graphs keep their threads in (PostgreSQL, say), for graphs
        given here compiled without one; with it the app serves the thread routes (None: it answers them 501)
    :raises InvalidArgumentError: for no graphs, a bad ``redis``, ``prefix`` or ``checkpointer``, or a number
        out of range
    """

    def __init__(
        self,
        redis: Redis | str,
        graphs: Mapping[str, GraphSource] | Iterable[str],
        *,
        prefix: str = DEFAULT_PREFIX,
        queue_timeout: float = 60.0,
        cancel_timeout: float = 10.0,
        stall_timeout: float = 30.0,
        list_limit: int = 1000,
        poll_interval: float = 0.05,
        mirror_replay_size: int = 4096,
        mirror_idle_timeout: float = 5.0,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ) -> None:
        if checkpointer is not None and not isinstance(checkpointer, BaseCheckpointSaver):
            raise InvalidArgumentError(
                "checkpointer must be a checkpoint saver (BaseCheckpointSaver) or None, "
                f"got {type(checkpointer).__name__}"
            )
        self._checkpointer = checkpointer
        self.graphs = GraphCatalog(graphs)
        """The graphs runs can be queued for, by name (their inputs are checked where the graphs were given)."""
        if not self.graphs:
            raise InvalidArgumentError(f"graphs must name at least one graph; got {graphs!r}")
        for name, value in (
            ("queue_timeout", queue_timeout),
            ("cancel_timeout", cancel_timeout),
            ("stall_timeout", stall_timeout),
            ("poll_interval", poll_interval),
            ("mirror_idle_timeout", mirror_idle_timeout),
        ):
            check_positive(name, value, "seconds")
        check_positive("list_limit", list_limit, "runs", integer=True)
        check_positive("mirror_replay_size", mirror_replay_size, "events", integer=True)
        self._connect(redis)
        self.queue = RunQueue(self._client, prefix=prefix)
        self.directory = RedisRunDirectory(self._client, prefix=prefix)
        self.keys = self.queue.keys
        self.queue_timeout = float(queue_timeout)
        self.cancel_timeout = float(cancel_timeout)
        self.stall_timeout = float(stall_timeout)
        self.list_limit = list_limit
        self.poll_interval = float(poll_interval)
        self.mirror_replay_size = mirror_replay_size
        self.mirrors = MirrorPool(self._open_mirror, idle_timeout=float(mirror_idle_timeout))
        """The runs' shared readers in this process (one per run streamed now)."""

    @property
    def graph_names(self) -> list[str]:
        """The graph names runs can be queued for, sorted."""
        return self.graphs.names

    # -- threads (see streamflow.server.threads.ThreadRuns) ---------------------------------------------

    @property
    def checkpointer(self) -> BaseCheckpointSaver[Any] | None:
        """The saver the workers keep threads in, for graphs given without one (None: no thread routes)."""
        return self._checkpointer

    def has_graph(self, name: str) -> bool:
        """Whether runs of ``name`` can be queued."""
        return name in self.graphs

    def thread_graph(self, name: str) -> CompiledStateGraph:
        """The graph ``name`` (as given) bound to :attr:`checkpointer` when compiled without a saver: what
        reads its threads' state here.

        :raises UnknownGraphError: for a graph name not in ``graphs``
        :raises InvalidArgumentError: for a graph given by name only (threads need the graph itself)
        """
        try:
            graph = self.graphs.build(name)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(
                f"{exc}: threads need the graph itself; give RedisRunSource the compiled graphs the workers run"
            ) from None
        saver = self._checkpointer
        if saver is None or isinstance(graph.checkpointer, BaseCheckpointSaver) or graph.checkpointer:
            return graph
        return graph.with_checkpointer(saver)

    async def thread_run(self, thread_id: str) -> str | None:
        """The id of the run queued or running on thread ``thread_id`` (by any web process), or None."""
        found: Any = await self._client.eval(_THREAD_BUSY, 1, self.keys.thread(thread_id), self.keys.info(""))
        return found.decode() if found else None

    async def start_on_thread(
        self, thread_id: str, graph: str, input: Any, config: Mapping[str, Any], *, check_input: bool, owner: str | None
    ) -> str:
        """Queue a run on thread ``thread_id``, unless one is queued or running on it (checked and claimed in
        one step, for every web process of the prefix); return its id.

        :raises ThreadConflictError: when the thread has a run queued or running
        :raises UnknownGraphError: for a graph name not in ``graphs``
        :raises InvalidUpdateError: for an input the graph's state schema does not accept
        :raises InvalidArgumentError: for a malformed config, or a ``run_id`` already taken
        :raises NotSerializableError: for an input or config the wire form cannot carry
        """
        parse_config(config)
        if check_input:
            self.graphs.check_input(graph, input)
        elif graph not in self.graphs:
            self.graphs.check_input(graph, None)  # raises UnknownGraphError
        run_id = str(config.get("run_id") or uuid.uuid4())
        key = self.keys.thread(thread_id)
        claim_ms = max(1000, int(self.queue_timeout * 1000))
        busy: Any = await self._client.eval(_THREAD_CLAIM, 1, key, self.keys.info(""), run_id, claim_ms)
        if busy:
            raise ThreadConflictError(
                f"thread {thread_id!r} already has run {busy.decode()!r} going; one thread runs one run at a "
                "time: wait for it to end or cancel it, then start the next"
            )
        try:
            await self.queue.submit(graph, input, {**config, "run_id": run_id}, owner=owner)
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(*_UNREACHABLE):
                await self._client.eval(_THREAD_RELEASE, 1, key, run_id)
            raise
        await self._client.eval(_THREAD_KEEP, 1, key, run_id)
        return run_id

    async def add_thread(self, entry: ThreadEntry) -> bool:
        """Record a thread created by this web process in ``<prefix>:threadinfo:<thread_id>``, where the other
        web processes of the prefix find it; False when a thread of that id is recorded already."""
        key = self.keys.thread_info(entry.thread_id)
        if not await self._client.hsetnx(key, "thread_id", entry.thread_id):
            return False
        fields = {"created_at": repr(entry.created_at), "metadata": json.dumps(entry.metadata)}
        if entry.owner is not None:
            fields["owner"] = entry.owner
        await self._client.hset(key, mapping=fields)  # type: ignore[arg-type]
        return True

    async def find_thread(self, thread_id: str) -> ThreadEntry | None:
        """The thread a web process of the prefix recorded (:meth:`add_thread`), or None."""
        found: Any = await self._client.hgetall(self.keys.thread_info(thread_id))
        if not found or b"created_at" not in found:
            return None
        text = {k.decode(): v.decode() for k, v in found.items()}
        return ThreadEntry(
            thread_id,
            float(text["created_at"]),
            json.loads(text.get("metadata", "{}")),
            graph=text.get("graph"),
            run_id=text.get("run_id"),
            owner=text.get("owner"),
        )

    async def update_thread(self, entry: ThreadEntry) -> None:
        """Record the thread's last run (``graph``, ``run_id``) for the other web processes, if it is recorded."""
        key = self.keys.thread_info(entry.thread_id)
        if entry.graph is not None and entry.run_id is not None and await self._client.exists(key):
            await self._client.hset(key, mapping={"graph": entry.graph, "run_id": entry.run_id})

    # -- runs ----------------------------------------------------------------------------------------

    async def start(
        self, graph: str, input: Any, config: Mapping[str, Any] | None, *, owner: str | None = None
    ) -> RunInfo:
        """Check the run, queue it for the workers with ``owner`` recorded in its directory entry, and return
        its info (status ``queued``).

        :raises UnknownGraphError: for a graph name not in ``graphs``
        :raises InvalidUpdateError: for an input the graph's state schema does not accept (when the graph
            itself was given)
        :raises InvalidArgumentError: for a malformed config, or a ``run_id`` already taken under the prefix
        :raises NotSerializableError: for an input or config the wire form cannot carry
        :raises ThreadConflictError: for a run on a thread (``configurable.thread_id``) that has a run queued or
            running, when the source serves threads (it was given a ``checkpointer``)
        """
        parse_config(config)
        configurable = (config or {}).get("configurable")
        thread_id = configurable.get("thread_id") if isinstance(configurable, Mapping) else None
        if thread_id is not None and self._checkpointer is not None:  # one run at a time on a thread
            run_id = await self.start_on_thread(
                str(thread_id), graph, input, config or {}, check_input=True, owner=owner
            )
        else:
            self.graphs.check_input(graph, input)
            run_id = await self.queue.submit(graph, input, config, owner=owner)
        return await self.directory.require(run_id)

    async def list(
        self, status: RunStatus | Iterable[RunStatus] | None = None, *, owner: str | None = None
    ) -> list[RunInfo]:
        """The info of the newest ``list_limit`` runs (with one of ``status`` when given, of ``owner`` when
        given), oldest first.

        :raises InvalidArgumentError: for a status that is not a :data:`~streamflow.run_info.RunStatus`
        """
        infos = await self.directory.list(limit=self.list_limit, status=status, owner=owner)
        return infos[::-1]

    async def owner_of(self, run_id: str) -> str | None:
        """The run's ``owner``, from its directory entry.

        :raises UnknownRunError: when Redis has no entry for the run
        """
        return await self.directory.owner_of(run_id)

    async def live_runs(self, owner: str) -> int:
        """How many runs ``owner`` queued are queued or running now, by their directory entries (runs)."""
        return await self.directory.live_runs(owner)

    async def get(self, run_id: str) -> RunInfo:
        """The run's info, with its ``output`` or ``error`` once it ended so (read from its terminal event).

        :raises UnknownRunError: when Redis has no entry for the run
        """
        return await self.directory.require(run_id, outcome=True)

    async def request_cancel(self, run_id: str) -> bool:
        """Ask the workers to cancel the run; True when it had not ended.

        :raises UnknownRunError: when Redis has no entry for the run
        """
        info = await self.directory.require(run_id)
        if info.status in ENDED:
            return False
        await self.queue.request_cancel(run_id)
        await self.queue.end_orphaned(run_id)  # a run no worker executes any more: cancelled here
        return True

    async def cancel(self, run_id: str) -> RunInfo:
        """Ask for the run to be cancelled, wait up to ``cancel_timeout`` seconds for it to end, and return
        its info (still ``queued`` or ``running`` when it did not end in time).

        :raises UnknownRunError: when Redis has no entry for the run
        """
        info = await self.directory.require(run_id)
        if info.status not in ENDED:
            await self.queue.request_cancel(run_id)
            if await self.queue.end_orphaned(run_id):  # no worker executes it any more: cancelled here
                info = await self.directory.require(run_id)
            with anyio.move_on_after(self.cancel_timeout):
                while info.status not in ENDED:
                    await anyio.sleep(self.poll_interval)
                    info = await self.directory.require(run_id)
        return info

    async def open_stream(self, run_id: str, request: StreamRequest) -> RemoteRunStream:
        """A client's SSE stream of the run, read from Redis (messages as in :mod:`streamflow.server.stream`).

        :raises UnknownRunError: when Redis has no entry for the run
        :raises InvalidArgumentError: for a ``after_seq`` beyond the run's last ``seq``
        """
        info = await self.directory.require(run_id)
        if request.after_seq > info.last_seq:
            raise InvalidArgumentError(
                f"the last event id {request.after_seq} is beyond run {run_id!r}'s last event (seq {info.last_seq})"
            )
        return RemoteRunStream(self, info, request)

    def reader(self, run_id: str) -> RemoteRun:
        """A :class:`~streamflow.redis.RemoteRun` of ``run_id`` on this source's client, prefix and
        ``stall_timeout`` (nothing is read before it is used; closing it leaves the client open).

        :raises InvalidArgumentError: for a ``run_id`` that cannot name a run
        """
        return RemoteRun(self._client, run_id, prefix=self.keys.prefix, stall_timeout=self.stall_timeout)

    async def _wait_started(self, run_id: str) -> None:
        """Wait while the run is queued.

        :raises NoTerminalEventError: when no worker started it within ``queue_timeout`` seconds
        :raises UnknownRunError: when its entry is gone (expired)
        """
        with anyio.move_on_after(self.queue_timeout):
            while (await self.directory.require(run_id)).status == "queued":
                await anyio.sleep(self.poll_interval)
            return
        raise NoTerminalEventError(
            f"run {run_id!r} is still queued after {self.queue_timeout:g} s: no worker took it (is a worker "
            f"serving prefix {self.keys.prefix!r} running?)",
            0,
        )

    async def _open_mirror(self, run_id: str) -> RemoteMirror:
        """The run's mirror from the oldest event Redis holds, once a worker started it (see
        :meth:`_wait_started` for what it raises)."""
        await self._wait_started(run_id)
        _, first = await self.directory.seq_bounds(run_id)
        return self.reader(run_id).mirror(after_seq=(first or 1) - 1, replay_size=self.mirror_replay_size)

    def mirror_statistics(self) -> MirrorStatistics:
        """The counters of the runs' shared readers in this process."""
        return self.mirrors.statistics()

    # -- closing -------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop every shared reader (their streams end), then close the client if it was made here from a
        URL. Idempotent."""
        self.mirrors.close()
        await super().aclose()


class RemoteRunStream(SSEStreamBase):
    """One client's SSE stream of a run executing in a worker (made by :meth:`RedisRunSource.open_stream`).

    It attaches to the run's shared reader in this process (:mod:`streamflow.server.mirror`) and subscribes
    to its mirror channel from ``after_seq + 1``, replaying from the mirror's replay buffer, so all clients of a
    run cost one Redis reader and one decode per event, and the streams asking for the same modes, filters
    and error policy share one encoder (each event is projected and framed once for all of them) and read
    its messages from one frame log while they are no further behind than it holds. A client
    too slow for its buffer (``buffer_size`` events plus the mirror's ``replay_size``, ``drop_oldest``) catches
    up from the replay buffer; when its ``after_seq`` is older than the mirror
    retains, it reads Redis on its own from its ``after_seq`` (nothing is lost while Redis keeps the events) and
    joins the mirror again once it caught up. Resumes after ``after_seq`` with no gap and no duplicate: the
    events up to ``after_seq`` go through the projections unsent, so ``messages`` resumes where the client left
    off. Writes are batched and fair as for a local run (:mod:`streamflow.server.stream`).

    :param source: the source that made it (its shared readers, directory and client)
    :param info: the run's info when the stream was opened
    :param request: what the client asked for
    """

    def __init__(self, source: RedisRunSource, info: RunInfo, request: StreamRequest) -> None:
        super().__init__(info.run_id, info.graph, request)
        self._source = source
        self._over = info.status in ENDED and request.after_seq >= info.last_seq
        self._sub: Subscription | RemoteSubscription | None = None
        self._shared: SharedRun | None = None
        self._primed = request.after_seq == 0  # the encoder has seen every event up to ``after_seq`` Redis still holds
        self._shared_encoder: SharedEncoder | None = None  # the run's encoder for this request, while in step with it
        self._may_share = True  # this stream's own encoder has seen nothing yet
        self._mirror: RemoteMirror | None = None  # the mirror the shared encoder's events come from

    @property
    def over(self) -> bool:
        """True when the run had ended and the client already had its last event when the stream was made."""
        return self._over

    def _joinable(self, mirror: RemoteMirror) -> bool:
        """Whether the mirror has read up to ``after_seq`` and its replay buffer holds what this stream needs
        next (and, while the encoder is not primed, every event up to ``after_seq`` as well)."""
        first = mirror.first_retained_seq
        return first <= self._after_seq + 1 <= mirror.channel.last_seq + 1 and (
            self._primed or first == mirror.start_seq
        )

    def _skip_trimmed(self, first_available: int) -> bytes | None:
        """The ``lag`` message for the events before ``first_available`` that Redis trimmed before this
        client read them (None when there are none); ``after_seq`` moves past them."""
        if first_available <= self._after_seq + 1:
            return None
        lag = lag_message(self._after_seq + 1, first_available - 1, TRIMMED)
        self._after_seq = first_available - 1
        self._primed = True  # nothing left to prime with: the events up to ``after_seq`` are gone
        return lag

    async def __aiter__(self) -> AsyncIterator[bytes]:
        source = self._source
        yield self.metadata()
        self._shared = shared = source.mirrors.attach(self.run_id)
        try:
            mirror: RemoteMirror | None = await shared.ready()
            assert mirror is not None
            if (lag := self._skip_trimmed(mirror.start_seq)) is not None:
                yield lag
            while not self._ended:
                if mirror is not None and self._joinable(mirror):
                    if self._may_share:
                        self._share(shared, mirror)
                    if not self._primed:
                        self._prime(mirror.channel.retained())
                        self._primed = True
                    if self._shared_encoder is not None and self._frame_log(shared, mirror) is not None:
                        async with contextlib.aclosing(self._read_log()) as parts:
                            async for part in parts:
                                yield part
                        if self._ended or self._detached:
                            break
                        if not self._joinable(mirror):
                            continue
                    self._lagged = False
                    # room for as many events as the mirror keeps: a client falling behind by less holds
                    # references to events the mirror keeps anyway, and is never lagged to subscribe again
                    self._sub = sub = self._follow(mirror.channel, mirror.replay_size)
                    try:
                        while (chunk := await self._next_write(sub)) is not None:
                            yield chunk
                    finally:
                        sub.close()
                    if self._ended or self._lagged:  # lagged: catch up from the replay buffer, or from Redis
                        continue
                    await mirror.finished()  # the mirror closed before the terminal event
                    if not isinstance(mirror.error, StreamTrimmedError):
                        raise mirror.error or TransportUnavailableError(
                            f"the reader of run {self.run_id!r} was closed (the server is stopping)"
                        )
                    mirror = None  # its reader fell behind Redis's retention: this stream reads on its own
                else:
                    self._unshare()
                    source.mirrors.count_private_read()
                    async with contextlib.aclosing(self._read_privately(mirror)) as chunks:
                        async for chunk in chunks:
                            yield chunk
        except (NoTerminalEventError, TransportUnavailableError, UnknownRunError, *_UNREACHABLE) as exc:
            yield lost_message(exc, self._after_seq, self.request.errors)
        finally:
            self.close()

    def _share(self, shared: SharedRun, mirror: RemoteMirror) -> None:
        """Take the run's shared encoder for this request when this stream's own encoder would be in the same
        state: it has seen nothing, and every event from the mirror's first on is to be primed (or there is
        none before ``after_seq``)."""
        self._may_share = False
        origin = mirror.start_seq - 1
        if self._primed and self._after_seq != origin:
            return
        # as many as a stream in step may still have to send: its buffer and its backlog at most
        keep = 2 * self._source.mirror_replay_size + self.request.buffer_size + WRITE_BATCH
        encoder = shared.encoder(self.request, origin, keep)
        if encoder.origin != origin or not encoder.catch_up(mirror.channel.retained(), self._after_seq):
            return
        self._shared_encoder = encoder
        self._mirror = mirror
        self._encode = self._encode_shared
        self._primed = True

    def _frame_log(self, shared: SharedRun, mirror: RemoteMirror) -> FrameLog | None:
        """The shared encoder's frame log, when it holds every message after ``after_seq`` (else None: this
        stream reads the mirror with a subscription of its own)."""
        capacity = self.request.buffer_size + mirror.replay_size
        assert self._shared_encoder is not None
        log = shared.frames.frame_log(self.request, self._shared_encoder, mirror.channel, self._after_seq, capacity)
        if log is None or log.complete_after > self._after_seq:
            return None
        return self._start_reading(log)

    def _encode_shared(self, event: Event) -> bytes | None:
        """The messages of ``event`` from the shared encoder; when it no longer keeps them (this stream is
        further behind than it keeps), from an encoder of this stream's own, primed from the mirror."""
        if self._shared_encoder is None:  # left it earlier in this batch
            return self._encoder.encode(event)
        found, message = self._shared_encoder.encode(event)
        if found:
            return message
        self._unshare()
        assert self._mirror is not None
        self._encoder.prime_until(self._mirror.channel.retained(), event.seq - 1, self._filter)
        self._primed = True
        return self._encoder.encode(event)

    def _unshare(self) -> None:
        """Go on with an encoder of this stream's own (unprimed) instead of the shared one."""
        self._may_share = False
        if self._shared_encoder is None:
            return
        self._shared_encoder = None
        self._encoder = ChunkEncoder(self.request.spec, self.request.errors)
        self._encode = self._encoder.encode
        self._primed = False

    async def _read_privately(self, mirror: RemoteMirror | None) -> AsyncGenerator[bytes, None]:
        """Read Redis with a reader of this stream's own, from after ``after_seq`` (priming the encoder first
        with the events up to it that Redis holds). Returns when the stream is over (``_ended``, or the
        reader was stopped), or once the mirror's replay buffer holds what comes next."""
        remote = self._source.reader(self.run_id)
        _, first = await self._source.directory.seq_bounds(self.run_id)
        if (lag := self._skip_trimmed(first or 1)) is not None:
            yield lag
        if not self._primed:
            async with contextlib.aclosing(remote.history(first or 1, self._after_seq)) as pages:
                async for page in pages:
                    self._prime(page)
            self._primed = True
        while True:
            self._lagged = False  # a lag of the mirror's subscription may have brought the stream here
            # block: a slow client only delays its own reader, which reads Redis at the client's pace
            self._sub = sub = remote.subscribe(
                self._filter, buffer_size=self.request.buffer_size, overflow="block", after_seq=self._after_seq
            )
            try:
                while (chunk := await self._next_write(sub)) is not None:
                    yield chunk
                    if mirror is not None and self._joinable(mirror):
                        return  # caught up with the mirror: the shared reader takes over
                if not self._ended:
                    self._ended = True  # the reader was stopped: nothing more will come
                return
            except StreamTrimmedError as exc:
                lag = self._skip_trimmed(exc.first_available)
            finally:
                sub.close()
            if lag is not None:
                yield lag

    def close(self) -> None:
        """Stop reading and detach from the run's shared reader (what a client disconnect does).
        Idempotent; the run goes on."""
        self._detached = True
        if self._sub is not None:
            self._sub.close()
        self._stop_reading()
        if self._shared is not None:
            shared, self._shared = self._shared, None
            self._source.mirrors.release(shared)
