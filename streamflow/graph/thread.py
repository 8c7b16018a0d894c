"""One graph level's checkpoints during one run (:class:`Thread`): the checkpoint it continues from and its
pending writes, and the checkpoints, task writes, errors and interrupts it saves, as the durability asks
(see :mod:`streamflow.graph.persistence`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import anyio
import attrs

from ..checkpoint._behind import WriteBehind
from ..checkpoint.base import (
    ERROR,
    INTERRUPT,
    RESUME,
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointTuple,
    get_checkpoint_metadata,
)
from ..checkpoint.id import uuid6_str
from ..errors import CheckpointSerializationError
from .snapshots import _with_null_triggers
from .task_writes import NO_WRITES, NULL_TASK_ID, task_statuses
from .thread_config import START_CHANNEL, require_thread

__all__ = ["Kept", "Thread"]

_now = dt.datetime.now
_UTC = dt.UTC


@attrs.define(slots=True, frozen=True)
class Kept:
    """A checkpoint kept with ``durability="exit"`` and not built yet (see :meth:`Thread.keep_later`)."""

    checkpoint_id: str
    source: str
    step: int
    build: Callable[[], tuple[dict[str, Any], Iterable[str]]]
    """Its channel values and the channels its step changed, worked out when it is built."""


@attrs.define(slots=True, eq=False)
class Thread:
    """One graph level's checkpoints during one run."""

    saver: BaseCheckpointSaver[Any]
    thread_id: str
    checkpoint_ns: str
    run_config: Mapping[str, Any]
    _saved: CheckpointTuple | None = None
    """The checkpoint the run continues from, then the last one it saved (read it as :attr:`saved`)."""
    versions: dict[str, Any] = attrs.field(factory=dict)
    exit_only: bool = False
    keep_at_exit: bool = True
    """With ``exit_only``: whether the last checkpoint is saved when the run ends (a subgraph's is not)."""
    parents: dict[str, str] = attrs.field(factory=dict)
    """The checkpoint ids of the enclosing graphs' current checkpoints, by their namespace (LangGraph's
    ``parents`` metadata; empty for a root graph)."""
    """``durability="exit"``: checkpoints are saved when the run ends only (the last one)."""
    persisted: dict[str, Any] | None = None
    """The config of the thread's newest checkpoint in the saver (the parent of the next one saved)."""
    deferred: tuple[Checkpoint, dict[str, Any]] | None = None
    deferred_writes: list[tuple[str, Sequence[tuple[str, Any]]]] = attrs.field(factory=list)
    batched: bool = False
    """``durability="async"``: a step's task writes are saved with the next checkpoint, in one call to the
    saver (:meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.aput_step`), or when the run ends."""
    step_writes: list[tuple[str, Sequence[tuple[str, Any]]]] = attrs.field(factory=list)
    """With ``batched``: the writes of the tasks that finished since the last checkpoint, not saved yet."""
    bumps: dict[str, None] = attrs.field(factory=dict)
    """With ``exit_only``: the channels changed since the last checkpoint saved, in order; each gets one new
    version when the next one is saved (a version only has to grow from one saved checkpoint to the next)."""
    run_metadata: dict[str, Any] | None = None
    """What a saved checkpoint's metadata takes from the run's config, worked out once."""
    behind: WriteBehind | None = None
    """With ``batched``, in a graph run on a saver that stages its writes: the saves are written in the
    background while the run goes on (:meth:`write_behind`); :meth:`flush` waits for them."""
    kept: Kept | None = None
    """With ``exit_only``: the newest checkpoint, kept and not built yet (built when :attr:`saved` is read)."""
    seen_now: dict[str, Any] | None = None
    """The ``versions_seen`` of the newest checkpoint, kept up to date step by step (None: as
    :attr:`saved`'s)."""

    @property
    def saved(self) -> CheckpointTuple | None:
        """The checkpoint the run continues from, then the last one it saved or kept."""
        if self.kept is not None:
            self._build()
        return self._saved

    @saved.setter
    def saved(self, value: CheckpointTuple | None) -> None:
        self._saved = value
        self.kept = None

    @property
    def checkpoint_id(self) -> str | None:
        """The id of :attr:`saved` (None without one), without building a kept checkpoint."""
        if self.kept is not None:
            return self.kept.checkpoint_id
        saved = self._saved
        return None if saved is None else str(saved.config["configurable"]["checkpoint_id"])

    @classmethod
    async def open(
        cls, saver: BaseCheckpointSaver[Any], config: Mapping[str, Any], durability: str = "async"
    ) -> Thread:
        """The thread ``config`` names, with its newest checkpoint (or the one ``checkpoint_id`` names: when
        the thread has no such checkpoint, the run starts as on a new thread, as in LangGraph).

        :raises InvalidArgumentError: for a config without ``thread_id``
        :raises CheckpointReadError: for a checkpoint the saver cannot read back
        """
        thread_id, ns, checkpoint_id = require_thread(config)
        address: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
        if checkpoint_id is not None:
            address["checkpoint_id"] = checkpoint_id
        saved = await saver.aget_tuple({"configurable": address})
        thread = cls(saver, thread_id, ns, config, saved, exit_only=durability == "exit")
        thread.batched = durability == "async"
        if saved is not None:
            thread.versions = dict(saved.checkpoint["channel_versions"])
            thread.persisted = dict(saved.config)
        return thread

    def write_behind(self) -> None:
        """With ``durability="async"`` on a saver that stages its writes (the SQL savers): save in the
        background from now on, as LangGraph's run saves a checkpoint while its next step runs (a save
        serializes at once, so a value the serializer cannot store still fails where it is saved; an error
        writing is raised by the next save or by :meth:`flush`). The run's caller must :meth:`flush`."""
        if self.batched and self.saver.stages_writes:
            self.behind = WriteBehind(self.saver)

    def child(
        self, checkpoint_ns: str, run_config: Mapping[str, Any], saver: BaseCheckpointSaver[Any] | None
    ) -> Thread:
        """The thread of a subgraph run under ``checkpoint_ns`` in this thread's current step: checkpoints of
        its own (new each time: a subgraph's task id is new each step), with this one's as its parent."""
        parents = dict(self.parents)
        checkpoint_id = self.checkpoint_id
        if checkpoint_id is not None:
            parents[self.checkpoint_ns] = checkpoint_id
        thread = Thread(
            saver or self.saver,
            self.thread_id,
            checkpoint_ns,
            run_config,
            None,
            exit_only=self.exit_only,
            parents=parents,
            keep_at_exit=False,  # with durability="exit", a subgraph's checkpoints are not kept (as in LangGraph)
            batched=self.batched,
        )
        if self.behind is not None:
            thread.write_behind()
        return thread

    @property
    def step(self) -> int:
        """The step of the checkpoint the run continues from (-2 on a new thread, so its input is -1)."""
        if self.saved is None:
            return -2
        return int(self.saved.metadata.get("step", -2))

    @property
    def channel_values(self) -> dict[str, Any]:
        """The checkpoint's channels, with the nodes a ``Command(goto=...)`` input triggered against it
        (``branch:to:<node>`` writes under :data:`NULL_TASK_ID`)."""
        if self.saved is None:
            return {}
        return _with_null_triggers(self.saved.checkpoint["channel_values"], self.saved.pending_writes)

    def pending(self) -> dict[str, list[tuple[str, Any]]]:
        """The state writes of the tasks that finished against the current checkpoint, by task id, in the
        order saved (a key written twice is there twice; ``[]`` for a task that wrote none)."""
        if self.saved is None:
            return {}
        return {
            task_id: status.writes()
            for task_id, status in task_statuses(self.saved.pending_writes).items()
            if status.finished
        }

    def null_writes(self, keys: Iterable[str]) -> list[tuple[str, Any]]:
        """The writes to state ``keys`` saved under :data:`NULL_TASK_ID` against the current checkpoint."""
        if self.saved is None:
            return []
        known = set(keys)
        return [(c, v) for t, c, v in self.saved.pending_writes or () if t == NULL_TASK_ID and c in known]

    async def put_null_writes(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """Save ``pairs`` (a ``Command`` input's update and goto triggers) under :data:`NULL_TASK_ID` against
        the current checkpoint, where every reader of it finds them, this run's included."""
        assert self.saved is not None
        await self.put_writes(NULL_TASK_ID, list(pairs))
        kept = [w for w in self.saved.pending_writes or () if w[0] != NULL_TASK_ID]
        self.saved = self.saved._replace(pending_writes=[*kept, *((NULL_TASK_ID, c, v) for c, v in pairs)])

    def answers(self, task_id: str) -> list[Any]:
        """The resume values task ``task_id`` of the current step was given so far (in ``interrupt()`` call
        order), saved with its last interrupt."""
        if self.kept is not None or self._saved is None:  # a kept checkpoint has no writes yet
            return []
        for tid, channel, value in self._saved.pending_writes or ():
            if tid == task_id and channel == RESUME:
                return list(value) if isinstance(value, list) else [value]
        return []

    def pending_interrupts(self) -> dict[str, Any]:
        """The interrupts the current checkpoint's tasks paused on and that no finished write answered, by id."""
        if self.saved is None:
            return {}
        out: dict[str, Any] = {}
        for status in task_statuses(self.saved.pending_writes).values():
            for item in status.pending_interrupts:
                out[str(getattr(item, "id", ""))] = item
        return out

    async def put_interrupt(self, task_id: str, interrupts: Sequence[Any], answers: list[Any] | None) -> None:
        """Save that task ``task_id`` paused on ``interrupts`` (LangGraph's ``__interrupt__`` write), with the
        resume values it was given so far (``__resume__``), against the current checkpoint.

        :raises CheckpointSerializationError: for an interrupt value the serializer cannot store
        """
        saved = self.saved
        if saved is None:
            return
        pairs: list[tuple[str, Any]] = [(INTERRUPT, list(interrupts))]
        if answers:
            pairs.append((RESUME, list(answers)))
        if self.exit_only:
            self.deferred_writes.append((task_id, pairs))
            return
        with anyio.CancelScope(shield=True):
            await self._put_writes(saved.config, pairs, task_id)

    @property
    def step_source(self) -> str | None:
        """The ``source`` of the checkpoint the run continues from."""
        return None if self.saved is None else self.saved.metadata.get("source")

    @property
    def addressed(self) -> bool:
        """Whether the run's config named the checkpoint it continues from (time travel; never for a
        subgraph's thread)."""
        configurable = self.run_config.get("configurable") or {}
        return self.saved is not None and not self.parents and bool(configurable.get("checkpoint_id"))

    async def load(self) -> None:
        """Read this (subgraph's) thread's newest checkpoint: one is there when the task running the subgraph
        ran before against the same enclosing checkpoint and did not finish (a resume).

        :raises CheckpointReadError: for a checkpoint the saver cannot read back
        """
        address = {"configurable": {"thread_id": self.thread_id, "checkpoint_ns": self.checkpoint_ns}}
        self.saved = await self.saver.aget_tuple(address)
        self.seen_now = None
        if self.saved is not None:
            self.versions = dict(self.saved.checkpoint["channel_versions"])
            self.persisted = dict(self.saved.config)

    async def put_error(self, task_id: str, error: BaseException) -> None:
        """Save that a task failed with ``error`` (LangGraph's ``__error__`` write: the exception's repr)."""
        saved = self.saved
        if saved is None:
            return
        pairs = [(ERROR, repr(error))]
        if self.exit_only:
            self.deferred_writes.append((task_id, pairs))
            return
        with anyio.CancelScope(shield=True):
            await self._put_writes(saved.config, pairs, task_id)

    def next_id(self, step: int) -> str:
        """A new checkpoint id for ``step``."""
        return uuid6_str(step)

    async def save(
        self,
        checkpoint_id: str,
        source: str,
        step: int,
        channel_values: dict[str, Any],
        updated: Iterable[str],
        wrote: Iterable[str] = (),
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """Save a checkpoint; return ``(config, metadata, parent config)``. ``wrote`` names the nodes whose
        writes made it (their ``versions_seen`` entry records the step, for ``update_state``'s ``as_node``).

        :raises CheckpointSerializationError: for a value the saver's serializer cannot store; the message
            names the channel (state key) holding it
        """
        if self.exit_only:
            return self.keep(checkpoint_id, source, step, channel_values, updated, wrote)
        versions = self.versions
        changed = self._changed(channel_values, updated)
        checkpoint = self._checkpoint(checkpoint_id, step, channel_values, changed, wrote)
        metadata: dict[str, Any] = {"source": source, "step": step, "parents": dict(self.parents)}
        parent = None if self.persisted is None else dict(self.persisted)
        address: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": self.checkpoint_ns}
        self.saver.bump_versions(versions, changed)
        metadata = self._completed(checkpoint, metadata)
        if self.persisted is not None:
            address["checkpoint_id"] = self.persisted["configurable"]["checkpoint_id"]
        new_versions = {k: versions[k] for k in changed if k in channel_values}
        writes, self.step_writes = self.step_writes, []
        config = await self._put({"configurable": address}, checkpoint, metadata, new_versions, writes)
        self.persisted = dict(config)
        self.saved = CheckpointTuple(dict(config), checkpoint, metadata, parent, [])  # type: ignore[arg-type]
        return dict(config), metadata, parent

    def keep(
        self,
        checkpoint_id: str,
        source: str,
        step: int,
        channel_values: dict[str, Any],
        updated: Iterable[str],
        wrote: Iterable[str] = (),
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """:meth:`save` with ``durability="exit"`` (:attr:`exit_only`), which needs no waiting: the checkpoint
        is kept here, the last one saved when the run ends (see :meth:`flush`), which adds what only a saved
        checkpoint needs then: its channel versions, its time and the run's metadata."""
        self.keep_later(checkpoint_id, source, step, lambda: (channel_values, updated), (), wrote)
        saved = self.saved
        assert saved is not None
        return saved.config, saved.metadata, saved.parent_config  # type: ignore[return-value]

    def keep_later(
        self,
        checkpoint_id: str,
        source: str,
        step: int,
        build: Callable[[], tuple[dict[str, Any], Iterable[str]]],
        updated: Collection[str],
        wrote: Iterable[str] = (),
    ) -> None:
        """:meth:`keep`, the checkpoint built only when it is read (:attr:`saved`) or saved (:meth:`flush`): a
        run with ``durability="exit"`` keeps one each step and saves the last. ``build`` gives its channel
        values and the channels its step changed; ``updated`` names the state keys the step wrote (each gets a
        new version when the checkpoint saved next is built, whether this one is built or not)."""
        bumps = self.bumps
        for key in updated:
            bumps[key] = None
        self._note_writers(step, wrote)
        self.kept = Kept(checkpoint_id, source, step, build)
        if self.deferred_writes:  # the writes made against the checkpoint kept before are not saved
            self.deferred_writes = []

    def _build(self) -> None:
        """Build :attr:`kept` (see :meth:`keep_later`): the checkpoint to save when the run ends, its parent
        the thread's newest checkpoint in the saver (the one before the run)."""
        kept = self.kept
        assert kept is not None
        self.kept = None
        values, updated = kept.build()
        changed = self._changed(values, updated)
        self.bumps.update(changed)
        checkpoint = Checkpoint(
            v=4,
            id=kept.checkpoint_id,
            ts="",
            channel_values=values,
            channel_versions={},
            versions_seen=dict(self._seen_now()),
            updated_channels=[k for k in changed if k in values] or None,
        )
        metadata: dict[str, Any] = {"source": kept.source, "step": kept.step, "parents": self.parents}
        self.deferred = (checkpoint, metadata)
        config = {
            "configurable": {
                "thread_id": self.thread_id,
                "checkpoint_ns": self.checkpoint_ns,
                "checkpoint_id": kept.checkpoint_id,
            }
        }
        self._saved = CheckpointTuple(config, checkpoint, metadata, self.persisted, [])  # type: ignore[arg-type]

    def _changed(self, channel_values: dict[str, Any], updated: Iterable[str]) -> dict[str, None]:
        """The channels a checkpoint of ``channel_values`` changes: ``updated``, and those without a version."""
        versions = self.versions
        bumps = self.bumps
        changed = dict.fromkeys(updated)
        for key in channel_values:
            if key not in versions and key not in bumps:
                changed[key] = None
        return changed

    def _checkpoint(
        self,
        checkpoint_id: str,
        step: int,
        channel_values: dict[str, Any],
        changed: Iterable[str],
        wrote: Iterable[str],
    ) -> Checkpoint:
        """A new checkpoint of ``channel_values`` (its versions and time are filled in when it is saved);
        ``changed`` names the channels the step updated, ``wrote`` the nodes whose writes made it."""
        seen = self._note_writers(step, wrote)
        return Checkpoint(
            v=4,
            id=checkpoint_id,
            ts="",
            channel_values=channel_values,
            channel_versions={},
            versions_seen=dict(seen),
            updated_channels=[k for k in changed if k in channel_values] or None,
        )

    def _completed(self, checkpoint: Checkpoint, metadata: dict[str, Any]) -> dict[str, Any]:
        """Complete ``checkpoint`` to be saved now: its channel versions (new ones for the channels in
        :attr:`bumps`) and time; return its ``metadata`` with the run's (``get_checkpoint_metadata``)."""
        versions = self.versions
        if self.bumps:
            self.saver.bump_versions(versions, self.bumps)
            self.bumps.clear()
        checkpoint["channel_versions"] = {k: versions[k] for k in checkpoint["channel_values"]}
        checkpoint["ts"] = _now(_UTC).isoformat()
        if self.run_metadata is None:
            self.run_metadata = dict(get_checkpoint_metadata(self.run_config, {}))
        for key, value in self.run_metadata.items():
            metadata.setdefault(key, value)
        return metadata

    async def _put(
        self,
        address: Mapping[str, Any],
        checkpoint: Checkpoint,
        metadata: Mapping[str, Any],
        versions: dict[str, Any],
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]] = (),
    ) -> Mapping[str, Any]:
        """Save ``checkpoint`` as the child of ``address``'s, with ``writes`` (task id, pairs) against that
        one first (in one call to the saver when there are any)."""
        try:
            if self.behind is not None:
                staged, config = self.saver.stage_step(address, checkpoint, metadata, versions, writes)  # type: ignore[arg-type]
                self.behind.add(staged)
                return config
            if writes:
                return await self.saver.aput_step(address, checkpoint, metadata, versions, writes)  # type: ignore[arg-type]
            return await self.saver.aput(address, checkpoint, metadata, versions)  # type: ignore[arg-type]
        except CheckpointSerializationError as exc:
            for _task_id, pairs in writes:
                named = self._named(exc, dict(pairs))
                if named is not exc:
                    raise named from exc
            raise self._named(exc, checkpoint["channel_values"]) from exc

    async def flush(self) -> None:
        """With ``durability="exit"``: save the run's last checkpoint and the writes made against it (the
        run ended, finished or failed); when it saved none (it ended in the step it continued), the writes made
        against the checkpoint it continued from. Nothing otherwise.

        With ``durability="async"``: save the writes of the tasks that finished after the last checkpoint
        (the run ended before the next one).

        :raises CheckpointSerializationError: for a value the serializer cannot store, naming its state key
        """
        if self.step_writes:
            writes, self.step_writes = self.step_writes, []
            if self.saved is not None:
                with anyio.CancelScope(shield=True):
                    for task_id, pairs in writes:
                        await self._put_writes(self.saved.config, pairs, task_id)
        if self.behind is not None and not self.behind.done_nowait():
            with anyio.CancelScope(shield=True):
                await self.behind.wait()
        if self.kept is not None:
            self._build()
        if self.deferred is None:
            if self.deferred_writes and self.saved is not None:
                # the run ended in the step it continued: its writes go with the checkpoint it continued from
                writes, self.deferred_writes = self.deferred_writes, []
                with anyio.CancelScope(shield=True):
                    for task_id, pairs in writes:
                        await self._put_writes(self.saved.config, pairs, task_id)
            return
        if not self.keep_at_exit:
            self.deferred, self.deferred_writes = None, []
            return
        checkpoint, metadata = self.deferred
        writes, self.deferred, self.deferred_writes = self.deferred_writes, None, []
        metadata = self._completed(checkpoint, metadata)
        address: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": self.checkpoint_ns}
        if self.persisted is not None:
            address["checkpoint_id"] = self.persisted["configurable"]["checkpoint_id"]
        versions = dict(checkpoint["channel_versions"])
        saver = self.saver
        if saver.stages_writes:  # the checkpoint and the writes against it in one transaction
            batch, config = self._staged_with_writes({"configurable": address}, checkpoint, metadata, versions, writes)
            if not saver.write_staged_nowait(batch):
                with anyio.CancelScope(shield=True):
                    await saver.awrite_staged(batch)
        else:
            with anyio.CancelScope(shield=True):
                config = await self._put({"configurable": address}, checkpoint, metadata, versions)
                for task_id, pairs in writes:
                    await self._put_writes(config, pairs, task_id)
        self.persisted = dict(config)

    def _staged_with_writes(
        self,
        address: Mapping[str, Any],
        checkpoint: Checkpoint,
        metadata: Mapping[str, Any],
        versions: dict[str, Any],
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> tuple[list[Any], Mapping[str, Any]]:
        """``checkpoint`` as the child of ``address``'s and ``writes`` (task id, pairs) against it, staged by a
        saver that stages its writes, to be written in one call; and the config of the checkpoint."""
        saver = self.saver
        try:
            staged, config = saver.stage_step(address, checkpoint, metadata, versions, ())  # type: ignore[arg-type]
        except CheckpointSerializationError as exc:
            raise self._named(exc, checkpoint["channel_values"]) from exc
        batch = [staged]
        for task_id, pairs in writes:
            try:
                batch.append(saver.stage_writes(config, pairs, task_id))
            except CheckpointSerializationError as exc:
                raise self._named(exc, dict(pairs)) from exc
        return batch, config

    def _note_writers(self, step: int, wrote: Iterable[str]) -> dict[str, Any]:
        """Note in :attr:`seen_now` that the nodes ``wrote`` wrote in ``step``; return it."""
        seen = self._seen_now()
        for node in wrote:
            seen[node] = {"__step__": step}
        return seen

    def _seen_now(self) -> dict[str, Any]:
        """:attr:`seen_now`, from :attr:`saved`'s ``versions_seen`` when not set: per node, the step it last
        wrote in (under ``"__step__"``)."""
        seen = self.seen_now
        if seen is None:
            saved = self._saved
            seen = self.seen_now = {} if saved is None else dict(saved.checkpoint.get("versions_seen") or {})
        return seen

    def last_writer(self) -> str | None:
        """The node whose writes made the thread's last checkpoint, or None when none did or several did in one
        step (LangGraph's ``as_node`` inference)."""
        seen = {} if self.saved is None else self.saved.checkpoint.get("versions_seen") or {}
        steps = sorted((entry.get("__step__", -2), node) for node, entry in seen.items() if isinstance(entry, Mapping))
        if not steps or (len(steps) > 1 and steps[-1][0] == steps[-2][0]):
            return None
        return str(steps[-1][1])

    def _named(self, exc: CheckpointSerializationError, values: Mapping[str, Any]) -> CheckpointSerializationError:
        """``exc`` with the state key whose value the serializer refused named first (for the graph input,
        held under ``__start__``, the input's key)."""
        for key, value in values.items():
            if self._stores(value):
                continue
            where = f"state key {key!r}"
            if key == START_CHANNEL:
                where = "the graph input"
                if isinstance(value, Mapping):
                    bad = [k for k, v in value.items() if not self._stores(v)]
                    where = f"state key {bad[0]!r} of the graph input" if bad else where
            return CheckpointSerializationError(f"{where}, thread {self.thread_id!r}: {exc}", type_name=exc.type_name)
        return exc

    def _stores(self, value: Any) -> bool:
        try:
            self.saver.serde.dumps_typed(value)
        except CheckpointSerializationError:
            return False
        return True

    async def put_writes(
        self, task_id: str, writes: Mapping[str, Any] | Sequence[tuple[str, Any]] | None, *, step: bool = False
    ) -> None:
        """Save a finished task's writes (an update, or ``(key, value)`` pairs when it wrote a key more than
        once) against the current checkpoint. ``step``: they are a task's of the
        running step; with ``durability="async"`` they are then kept to be saved with the next checkpoint
        (or when the run ends: :meth:`flush`), in one call to the saver.

        :raises CheckpointSerializationError: for a value the serializer cannot store, naming its state key
        """
        if self.keep_writes(task_id, writes, step=step):
            return
        saved = self.saved
        assert saved is not None  # keep_writes is True without one
        with anyio.CancelScope(shield=True):  # a sibling failing now must not lose these writes
            await self._put_writes(saved.config, _pairs(writes), task_id)

    def keep_writes(
        self, task_id: str, writes: Mapping[str, Any] | Sequence[tuple[str, Any]] | None, *, step: bool = False
    ) -> bool:
        """:meth:`put_writes` when it needs no waiting: the writes are kept to be saved later (with
        ``durability="exit"``, or a step's task writes with ``durability="async"``), or there is no checkpoint
        to save them against; False, with nothing done, when they are to be saved now (call
        :meth:`put_writes`)."""
        if self.kept is None and self._saved is None:
            return True
        if self.exit_only:
            self.deferred_writes.append((task_id, _pairs(writes)))
            return True
        if step and self.batched:
            self.step_writes.append((task_id, _pairs(writes)))
            return True
        return False

    async def _put_writes(self, config: Mapping[str, Any], pairs: Sequence[tuple[str, Any]], task_id: str) -> None:
        try:
            if self.behind is not None:
                self.behind.add(self.saver.stage_writes(config, pairs, task_id))
                return
            await self.saver.aput_writes(config, pairs, task_id)
        except CheckpointSerializationError as exc:
            raise self._named(exc, dict(pairs)) from exc


def _pairs(writes: Mapping[str, Any] | Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    """A task's writes as ``(key, value)`` pairs (:data:`NO_WRITES` for a task that wrote nothing)."""
    if not writes:
        return [(NO_WRITES, None)]
    return list(writes.items()) if isinstance(writes, Mapping) else list(writes)
