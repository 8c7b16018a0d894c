"""A saver that keeps checkpoints in the process's memory, as LangGraph's ``langgraph.checkpoint.memory``.

Values are stored serialized (as LangGraph's saver does), so a value the serializer cannot store fails at
``put`` and what comes back is a copy, never the object that was put.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from ._fronts import StringVersionSaver
from ._tuples import ListScope, Put, Stored, decode_tuple, first_matching, get_target, write_slots, writes_target
from .base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    SerializerProtocol,
    read_stored,
    writes_sort_key,
)

__all__ = ["InMemorySaver", "MemorySaver"]

_T = TypeVar("_T")


class InMemorySaver(StringVersionSaver):
    """Checkpoints in memory, lost with the process (LangGraph's ``InMemorySaver``; for tests and short-lived
    programs). Safe to use from several threads; its async methods run the sync ones directly.

    :param serde: the serializer (:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer` by
        default)

    Usable as a (sync or async) context manager, which does nothing, as LangGraph's.
    """

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._lock = threading.RLock()
        # thread id -> namespace -> checkpoint id -> (checkpoint without values, metadata, parent id)
        self.storage: defaultdict[str, dict[str, dict[str, tuple[Stored, Stored, str | None]]]] = defaultdict(dict)
        # (thread id, namespace, checkpoint id) -> (task id, index) -> (task id, channel, value, task path)
        self.writes: defaultdict[tuple[str, str, str], dict[tuple[str, int], tuple[str, str, Stored, str]]] = (
            defaultdict(dict)
        )
        # (thread id, namespace, channel, version) -> value
        self.blobs: dict[tuple[str, str, str, str | int | float], Stored] = {}

    def __enter__(self) -> InMemorySaver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def __aenter__(self) -> InMemorySaver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def _tuple(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> CheckpointTuple:
        where = (thread_id, checkpoint_ns, checkpoint_id)
        stored, metadata, parent_id = self.storage[thread_id][checkpoint_ns][checkpoint_id]
        checkpoint: Checkpoint = read_stored(self.serde, stored, where)
        values: dict[str, Any] = {}
        for channel, version in checkpoint["channel_versions"].items():
            blob = self.blobs.get((thread_id, checkpoint_ns, channel, version))
            if blob is not None and blob[0] != "empty":
                values[channel] = read_stored(self.serde, blob, where)
        stored_writes = self.writes.get(where, {})
        ordered = sorted(stored_writes, key=lambda key: writes_sort_key(stored_writes[key][3], *key))
        writes = (stored_writes[key][:3] for key in ordered)
        return decode_tuple(self.serde, where, {**checkpoint, "channel_values": values}, metadata, parent_id, writes)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`)."""
        thread_id, checkpoint_ns, checkpoint_id = get_target(config)
        with self._lock:
            checkpoints = self.storage.get(thread_id, {}).get(checkpoint_ns)
            if not checkpoints:
                return None
            checkpoint_id = checkpoint_id or max(checkpoints)
            if checkpoint_id not in checkpoints:
                return None
            return self._tuple(thread_id, checkpoint_ns, checkpoint_id)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """The matching checkpoints, newest first (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.list`)."""
        scope = ListScope.of(config, before)
        with self._lock:
            threads = list(self.storage) if scope.thread_id is None else [scope.thread_id]
            candidates = (
                (thread, checkpoint_ns, checkpoint_id)
                for thread in threads
                for checkpoint_ns, checkpoints in self.storage.get(thread, {}).items()
                if scope.checkpoint_ns is None or checkpoint_ns == scope.checkpoint_ns
                for checkpoint_id in sorted(checkpoints, reverse=True)
                if scope.admits(checkpoint_id)
            )
            found = [self._tuple(*where) for where in first_matching(candidates, self._metadata, filter, limit)]
        yield from found

    def _metadata(self, where: tuple[str, str, str]) -> Any:
        thread_id, checkpoint_ns, checkpoint_id = where
        return read_stored(self.serde, self.storage[thread_id][checkpoint_ns][checkpoint_id][1], where)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` (see :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put`)."""
        rest: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = rest.pop("channel_values")
        put = Put.of(self.serde, config, rest, metadata)
        blobs = {
            (put.thread_id, put.checkpoint_ns, channel, version): (
                self.serde.dumps_typed(values[channel]) if channel in values else ("empty", b"")
            )
            for channel, version in new_versions.items()
        }
        with self._lock:
            self.blobs.update(blobs)
            self.storage[put.thread_id].setdefault(put.checkpoint_ns, {})[put.checkpoint_id] = (
                put.checkpoint,
                put.metadata,
                put.parent_id,
            )
        return put.config

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        target = writes_target(config)
        rows = [
            (idx, replaces, (task_id, channel, self.serde.dumps_typed(value), task_path))
            for idx, replaces, channel, value in write_slots(writes)
        ]
        with self._lock:
            stored = self.writes[target]
            for idx, replaces, row in rows:
                if replaces or (task_id, idx) not in stored:
                    stored[(task_id, idx)] = row

    def delete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        with self._lock:
            self.storage.pop(thread_id, None)
            for key in [key for key in self.writes if key[0] == thread_id]:
                del self.writes[key]
            for blob in [blob for blob in self.blobs if blob[0] == thread_id]:
                del self.blobs[blob]

    async def _blocking(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Runs the sync method directly: nothing here blocks."""
        return fn(*args)


MemorySaver = InMemorySaver
"""LangGraph's older name of :class:`InMemorySaver`."""
