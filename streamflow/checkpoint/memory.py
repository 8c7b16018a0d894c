"""A saver that keeps checkpoints in the process's memory, as LangGraph's ``langgraph.checkpoint.memory``.

Values are stored serialized (as LangGraph's saver does), so a value the serializer cannot store fails at
``put`` and what comes back is a copy, never the object that was put.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from types import TracebackType
from typing import Any

from .base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    SerializerProtocol,
    checkpoint_config,
    get_checkpoint_id,
    get_checkpoint_metadata,
    metadata_matches,
    next_version,
    read_stored,
    required_checkpoint_id,
    thread_of,
    writes_sort_key,
)

__all__ = ["InMemorySaver", "MemorySaver"]

_Stored = tuple[str, bytes]


class InMemorySaver(BaseCheckpointSaver[str]):
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
        self.storage: defaultdict[str, dict[str, dict[str, tuple[_Stored, _Stored, str | None]]]] = defaultdict(dict)
        # (thread id, namespace, checkpoint id) -> (task id, index) -> (task id, channel, value, task path)
        self.writes: defaultdict[tuple[str, str, str], dict[tuple[str, int], tuple[str, str, _Stored, str]]] = (
            defaultdict(dict)
        )
        # (thread id, namespace, channel, version) -> value
        self.blobs: dict[tuple[str, str, str, str | int | float], _Stored] = {}

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
        return CheckpointTuple(
            config=checkpoint_config(*where),
            checkpoint={**checkpoint, "channel_values": values},
            metadata=read_stored(self.serde, metadata, where),
            parent_config=checkpoint_config(thread_id, checkpoint_ns, parent_id) if parent_id else None,
            pending_writes=[
                (task_id, channel, read_stored(self.serde, value, where))
                for task_id, channel, value, _ in (stored_writes[key] for key in ordered)
            ],
        )

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses, or None (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.get_tuple`)."""
        thread_id, checkpoint_ns = thread_of(config, "get_tuple")
        with self._lock:
            checkpoints = self.storage.get(thread_id, {}).get(checkpoint_ns)
            if not checkpoints:
                return None
            checkpoint_id = get_checkpoint_id(config) or max(checkpoints)
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
        if config is not None:
            thread_id, _ = thread_of(config, "list")
            only_ns = config["configurable"].get("checkpoint_ns")
            only_id = get_checkpoint_id(config)
        before_id = get_checkpoint_id(before) if before is not None else None
        with self._lock:
            threads = [thread_id] if config is not None else list(self.storage)
            found: list[CheckpointTuple] = []
            for thread in threads:
                for checkpoint_ns, checkpoints in self.storage.get(thread, {}).items():
                    if config is not None and only_ns is not None and checkpoint_ns != only_ns:
                        continue
                    for checkpoint_id in sorted(checkpoints, reverse=True):
                        if config is not None and only_id and checkpoint_id != only_id:
                            continue
                        if before_id and checkpoint_id >= before_id:
                            continue
                        where = (thread, checkpoint_ns, checkpoint_id)
                        if filter and not metadata_matches(
                            read_stored(self.serde, checkpoints[checkpoint_id][1], where), filter
                        ):
                            continue
                        if limit is not None and len(found) >= limit:
                            break
                        found.append(self._tuple(*where))
        yield from found

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` (see :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put`)."""
        thread_id, checkpoint_ns = thread_of(config, "put")
        rest: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = rest.pop("channel_values")
        blobs = {
            (thread_id, checkpoint_ns, channel, version): (
                self.serde.dumps_typed(values[channel]) if channel in values else ("empty", b"")
            )
            for channel, version in new_versions.items()
        }
        stored = (
            self.serde.dumps_typed(rest),
            self.serde.dumps_typed(get_checkpoint_metadata(config, metadata)),
            get_checkpoint_id(config),
        )
        with self._lock:
            self.blobs.update(blobs)
            self.storage[thread_id].setdefault(checkpoint_ns, {})[checkpoint["id"]] = stored
        return checkpoint_config(thread_id, checkpoint_ns, checkpoint["id"])

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes (see
        :meth:`~streamflow.checkpoint.base.BaseCheckpointSaver.put_writes`)."""
        thread_id, checkpoint_ns = thread_of(config, "put_writes")
        checkpoint_id = required_checkpoint_id(config)
        rows = [
            ((task_id, WRITES_IDX_MAP.get(channel, idx)), (task_id, channel, self.serde.dumps_typed(value), task_path))
            for idx, (channel, value) in enumerate(writes)
        ]
        with self._lock:
            stored = self.writes[(thread_id, checkpoint_ns, checkpoint_id)]
            for key, row in rows:
                if key[1] >= 0 and key in stored:
                    continue
                stored[key] = row

    def delete_thread(self, thread_id: str) -> None:
        """Delete ``thread_id``'s checkpoints and writes (nothing when it has none)."""
        with self._lock:
            self.storage.pop(thread_id, None)
            for key in [key for key in self.writes if key[0] == thread_id]:
                del self.writes[key]
            for blob in [blob for blob in self.blobs if blob[0] == thread_id]:
                del self.blobs[blob]

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple` (runs it directly: nothing here blocks)."""
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of :meth:`list`."""
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put`."""
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Async twin of :meth:`put_writes`."""
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        self.delete_thread(thread_id)

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """The version after ``current``: a zero-padded counter and a random fraction (LangGraph's format)."""
        return next_version(current)


MemorySaver = InMemorySaver
"""LangGraph's older name of :class:`InMemorySaver`."""
