"""The rules every saver applies the same way, whatever keeps its data: what ``put`` stores and returns,
which checkpoint ``get_tuple`` reads and ``put_writes`` writes to, which checkpoints ``list`` admits,
where a pending write is stored and whether it replaces a stored one, which rows pass a metadata filter
within a limit, and how stored values become a :class:`~streamflow.checkpoint.base.CheckpointTuple`. Pure
code: no I/O, no locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import attrs

from .base import (
    WRITES_IDX_MAP,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    SerializerProtocol,
    checkpoint_config,
    get_checkpoint_id,
    get_checkpoint_metadata,
    metadata_matches,
    read_stored,
    required_checkpoint_id,
    thread_of,
)

__all__: list[str] = []

T = TypeVar("T")

Stored = tuple[str, bytes]
"""A value as the serializer's ``dumps_typed`` gives it: ``(type, bytes)``."""


class Put(NamedTuple):
    """Where ``put`` stores a checkpoint, with what metadata, and the config it returns."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: Stored
    """The checkpoint (or the part of it the saver keeps in its checkpoint record), serialized."""
    metadata: Stored
    """The metadata to store (:func:`~streamflow.checkpoint.base.get_checkpoint_metadata`), serialized."""
    config: dict[str, Any]

    @classmethod
    def of(
        cls,
        serde: SerializerProtocol,
        config: RunnableConfig,
        checkpoint: Checkpoint | dict[str, Any],
        metadata: CheckpointMetadata,
    ) -> Put:
        """What ``put(config, checkpoint, metadata, ...)`` stores, ``checkpoint`` serialized as given.

        :raises InvalidArgumentError: a config without ``configurable.thread_id``
        :raises CheckpointSerializationError: the checkpoint or the metadata cannot be serialized
        """
        thread_id, checkpoint_ns = thread_of(config, "put")
        checkpoint_id = checkpoint["id"]
        return cls(
            thread_id,
            checkpoint_ns,
            checkpoint_id,
            get_checkpoint_id(config),
            serde.dumps_typed(checkpoint),
            serde.dumps_typed(get_checkpoint_metadata(config, metadata)),
            checkpoint_config(thread_id, checkpoint_ns, checkpoint_id),
        )


def get_target(config: RunnableConfig) -> tuple[str, str, str | None]:
    """``(thread id, namespace, checkpoint id)`` ``get_tuple(config)`` reads; the id is None for the newest.

    :raises InvalidArgumentError: a config without ``configurable.thread_id``
    """
    thread_id, checkpoint_ns = thread_of(config, "get_tuple")
    return thread_id, checkpoint_ns, get_checkpoint_id(config)


def writes_target(config: RunnableConfig) -> tuple[str, str, str]:
    """``(thread id, namespace, checkpoint id)`` of the checkpoint ``put_writes(config, ...)`` writes to.

    :raises InvalidArgumentError: a config without ``configurable.thread_id`` or ``checkpoint_id``
    """
    thread_id, checkpoint_ns = thread_of(config, "put_writes")
    return thread_id, checkpoint_ns, required_checkpoint_id(config)


@attrs.frozen
class ListScope:
    """What ``list``'s ``config`` and ``before`` select; None where they select everything."""

    thread_id: str | None
    checkpoint_ns: str | None
    checkpoint_id: str | None
    before_id: str | None

    @classmethod
    def of(cls, config: RunnableConfig | None, before: RunnableConfig | None) -> ListScope:
        """The scope of ``list(config, before=before)``.

        :raises InvalidArgumentError: ``config`` is given without ``configurable.thread_id``
        """
        before_id = get_checkpoint_id(before) if before is not None else None
        if config is None:
            return cls(None, None, None, before_id)
        thread_id, _ = thread_of(config, "list")
        return cls(thread_id, config["configurable"].get("checkpoint_ns"), get_checkpoint_id(config), before_id)

    def admits(self, checkpoint_id: str) -> bool:
        """Whether a checkpoint id of a selected thread and namespace is selected."""
        if self.checkpoint_id and checkpoint_id != self.checkpoint_id:
            return False
        return not self.before_id or checkpoint_id < self.before_id


def write_slots(writes: Sequence[tuple[str, Any]]) -> Iterator[tuple[int, bool, str, Any]]:
    """``(index, replaces, channel, value)`` for each of a task's writes: a write to a special channel of
    :data:`~streamflow.checkpoint.base.WRITES_IDX_MAP` is stored under that channel's index and replaces a
    stored one; an ordinary write is stored under its position and is ignored when one is stored there."""
    for idx, (channel, value) in enumerate(writes):
        special = WRITES_IDX_MAP.get(channel)
        if special is None:
            yield idx, False, channel, value
        else:
            yield special, True, channel, value


def first_matching(
    items: Iterable[T], metadata_of: Callable[[T], Any], filter: Mapping[str, Any] | None, limit: int | None
) -> list[T]:
    """The items whose metadata (``metadata_of(item)``, read only when there is a filter) passes ``list``'s
    ``filter`` (:func:`~streamflow.checkpoint.base.metadata_matches`), at most ``limit`` of them, in order."""
    out: list[T] = []
    for item in items:
        if limit is not None and len(out) >= limit:
            break
        if not filter or metadata_matches(metadata_of(item), filter):
            out.append(item)
    return out


def decode_tuple(
    serde: SerializerProtocol,
    where: tuple[str, str, str],
    checkpoint: Any,
    metadata: Stored,
    parent_id: str | None,
    writes: Iterable[tuple[str, str, Stored]],
) -> CheckpointTuple:
    """The tuple of the checkpoint ``where`` (thread, namespace, id): ``checkpoint`` already read back, its
    stored metadata and pending writes ``(task id, channel, stored value)`` read here.

    :raises CheckpointReadError: a stored value cannot be read back
    """
    thread_id, checkpoint_ns, _ = where
    return CheckpointTuple(
        config=checkpoint_config(*where),
        checkpoint=checkpoint,
        metadata=read_stored(serde, metadata, where),
        parent_config=checkpoint_config(thread_id, checkpoint_ns, parent_id) if parent_id else None,
        pending_writes=[(task_id, channel, read_stored(serde, value, where)) for task_id, channel, value in writes],
    )
