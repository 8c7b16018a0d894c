"""The checkpoint saver protocol, as LangGraph's ``langgraph.checkpoint.base``: the same names, shapes and
meaning, so a saver written for LangGraph's protocol reads the same here.

A *checkpoint* (:class:`Checkpoint`) is a graph's state at one point: its channel values and versions. A
saver keeps checkpoints per thread and namespace, each with its :class:`CheckpointMetadata`, the id of its
parent checkpoint, and the *pending writes* that tasks made against it (:meth:`BaseCheckpointSaver.put_writes`)
before the next checkpoint. They are addressed by a config of LangGraph's shape::

    {"configurable": {"thread_id": "t1", "checkpoint_ns": "", "checkpoint_id": "1f0..."}}

``checkpoint_ns`` defaults to ``""`` (the root graph); without ``checkpoint_id``, reads take the thread's
newest checkpoint. Checkpoint ids are version-6 UUIDs (:func:`~streamflow.checkpoint.id.uuid6`), so their
string order is the order they were made in.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, NamedTuple, NotRequired, Protocol, TypedDict, TypeVar

import anyio.to_thread

from ..errors import CheckpointReadError, InvalidArgumentError
from .id import uuid6
from .serde.base import SerializerProtocol, UntypedSerializerProtocol, maybe_add_typed_methods
from .serde.jsonplus import JsonPlusSerializer

__all__ = [
    "BaseCheckpointSaver",
    "ChannelVersions",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "EXCLUDED_METADATA_KEYS",
    "ERROR",
    "INTERRUPT",
    "LATEST_VERSION",
    "PendingWrite",
    "RESUME",
    "RunnableConfig",
    "SCHEDULED",
    "SerializerProtocol",
    "V",
    "WRITES_IDX_MAP",
    "copy_checkpoint",
    "create_checkpoint",
    "empty_checkpoint",
    "get_checkpoint_id",
    "get_checkpoint_metadata",
    "get_serializable_checkpoint_metadata",
    "writes_sort_key",
]

_T = TypeVar("_T")
_random = random.random

V = TypeVar("V", int, float, str)
"""The type of a saver's channel versions (LangGraph's type variable)."""

RunnableConfig = Mapping[str, Any]
"""A run's config: the savers read its ``configurable`` mapping (``thread_id``, ``checkpoint_ns``,
``checkpoint_id``) and, for metadata, its ``metadata``."""

PendingWrite = tuple[str, str, Any]
"""One pending write as a saver returns it: ``(task_id, channel, value)``."""

ChannelVersions = dict[str, str | int | float]
"""Channel name -> its version (increasing; :meth:`BaseCheckpointSaver.get_next_version` makes them)."""

ERROR = "__error__"
SCHEDULED = "__scheduled__"
INTERRUPT = "__interrupt__"
RESUME = "__resume__"

WRITES_IDX_MAP = {ERROR: -1, SCHEDULED: -2, INTERRUPT: -3, RESUME: -4}
"""The index under which a write to one of these special channels is stored (LangGraph's values): a task's
later write to the same special channel replaces the earlier one, where an ordinary write (stored under its
position in the task's writes) is kept the first time and ignored when written again."""

EXCLUDED_METADATA_KEYS = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)
"""Config keys that :func:`get_checkpoint_metadata` does not copy into a checkpoint's metadata."""

LATEST_VERSION = 2
"""The checkpoint format version ``empty_checkpoint`` and ``create_checkpoint`` write (LangGraph's ``v``)."""


class CheckpointMetadata(TypedDict, total=False):
    """What a saver stores beside a checkpoint (LangGraph's keys; more keys may be present).

    ``source``: ``"input"`` (made from a run's input), ``"loop"`` (inside the run), ``"update"`` (a manual
    state update) or ``"fork"`` (a copy of another checkpoint); ``step``: ``-1`` for the input checkpoint,
    then 0, 1, ...; ``parents``: checkpoint namespace -> id of the parent graphs' checkpoints; ``run_id``.
    """

    source: Literal["input", "loop", "update", "fork"]
    step: int
    parents: dict[str, str]
    run_id: str


class Checkpoint(TypedDict):
    """A graph's state at one point (LangGraph's keys).

    ``v``: format version; ``id``: unique, and sorting as the checkpoints were made; ``ts``: ISO 8601 time;
    ``channel_values``: channel -> value; ``channel_versions``: channel -> version; ``versions_seen``: node
    -> channel -> the version it last saw; ``updated_channels``: the channels this step updated, or None.
    """

    v: int
    id: str
    ts: str
    channel_values: dict[str, Any]
    channel_versions: ChannelVersions
    versions_seen: dict[str, ChannelVersions]
    updated_channels: list[str] | None
    pending_sends: NotRequired[list[Any]]


class CheckpointTuple(NamedTuple):
    """A checkpoint as a saver returns it: its config (with ``thread_id``, ``checkpoint_ns`` and
    ``checkpoint_id``), the checkpoint, its metadata, its parent's config (None for a thread's first) and its
    pending writes, ordered by :func:`writes_sort_key`."""

    config: RunnableConfig
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: RunnableConfig | None = None
    pending_writes: list[PendingWrite] | None = None


class ChannelProtocol(Protocol):
    """What :func:`create_checkpoint` needs of a channel: its value as a checkpoint stores it."""

    def checkpoint(self) -> Any: ...


def copy_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    """A copy of ``checkpoint`` whose dicts can be changed without changing the original's."""
    return Checkpoint(
        v=checkpoint["v"],
        id=checkpoint["id"],
        ts=checkpoint["ts"],
        channel_values=dict(checkpoint["channel_values"]),
        channel_versions=dict(checkpoint["channel_versions"]),
        versions_seen={node: dict(seen) for node, seen in checkpoint["versions_seen"].items()},
        pending_sends=list(checkpoint.get("pending_sends", [])),
        updated_channels=checkpoint.get("updated_channels"),
    )


def empty_checkpoint() -> Checkpoint:
    """A checkpoint with no channels, a new id and the current time (LangGraph's function)."""
    return Checkpoint(
        v=LATEST_VERSION,
        id=str(uuid6(clock_seq=-2)),
        ts=dt.datetime.now(dt.UTC).isoformat(),
        channel_values={},
        channel_versions={},
        versions_seen={},
        pending_sends=[],
        updated_channels=None,
    )


def create_checkpoint(
    checkpoint: Checkpoint, channels: Mapping[str, ChannelProtocol] | None, step: int, *, id: str | None = None
) -> Checkpoint:
    """A new checkpoint after ``checkpoint``, with a new id (``id`` when given) and the current time
    (LangGraph's function).

    :param channels: the channels whose ``checkpoint()`` values become the channel values (only channels
        ``checkpoint`` has a version for; one that raises ``LookupError`` is empty and left out); None keeps
        ``checkpoint``'s values
    :param step: the step the id is made for (its UUID sequence field, as LangGraph does)
    """
    if channels is None:
        values = checkpoint["channel_values"]
    else:
        values = {}
        for name, channel in channels.items():
            if name not in checkpoint["channel_versions"]:
                continue
            try:
                values[name] = channel.checkpoint()
            except LookupError:
                continue
    return Checkpoint(
        v=LATEST_VERSION,
        id=id or str(uuid6(clock_seq=step)),
        ts=dt.datetime.now(dt.UTC).isoformat(),
        channel_values=values,
        channel_versions=checkpoint["channel_versions"],
        versions_seen=checkpoint["versions_seen"],
        pending_sends=checkpoint.get("pending_sends", []),
        updated_channels=None,
    )


def writes_sort_key(task_path: str, task_id: str = "", idx: int = 0) -> tuple[str, str, int]:
    """The order of one step's pending writes, as LangGraph applies them: by task path, task id, index."""
    return (task_path, task_id, idx)


def _configurable(config: RunnableConfig | None, what: str) -> Mapping[str, Any]:
    configurable = config.get("configurable") if isinstance(config, Mapping) else None
    if not isinstance(configurable, Mapping):
        raise InvalidArgumentError(
            f"{what} needs a config of the shape {{'configurable': {{'thread_id': ..., 'checkpoint_ns': ..., "
            f"'checkpoint_id': ...}}}}; got {config!r}"
        )
    return configurable


def thread_of(config: RunnableConfig, what: str) -> tuple[str, str]:
    """``(thread_id, checkpoint_ns)`` of ``config`` (``checkpoint_ns`` defaults to ``""``).

    :raises InvalidArgumentError: a config without ``configurable``, or without a ``thread_id`` there; a
        ``checkpoint_ns`` that is not a string
    """
    configurable = _configurable(config, what)
    thread_id = configurable.get("thread_id")
    if thread_id is None or thread_id == "":
        raise InvalidArgumentError(
            f"{what} needs config['configurable']['thread_id'] (a string naming the thread); got {config!r}"
        )
    checkpoint_ns = configurable.get("checkpoint_ns") or ""
    if not isinstance(checkpoint_ns, str):
        raise InvalidArgumentError(f"config['configurable']['checkpoint_ns'] must be a string; got {checkpoint_ns!r}")
    return str(thread_id), checkpoint_ns


def get_checkpoint_id(config: RunnableConfig) -> str | None:
    """``config["configurable"]["checkpoint_id"]``, or None when it has none."""
    configurable = config.get("configurable")
    return configurable.get("checkpoint_id") or None if isinstance(configurable, Mapping) else None


def get_checkpoint_metadata(config: RunnableConfig, metadata: CheckpointMetadata) -> CheckpointMetadata:
    """``metadata`` plus the scalar (str, int, float, bool) entries of the config's ``metadata`` and
    ``configurable`` that it lacks, leaving out :data:`EXCLUDED_METADATA_KEYS` and keys starting ``__``; NUL
    characters are removed from strings (LangGraph's function: what its savers store as metadata)."""
    merged: dict[str, Any] = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in metadata.items()}
    for source in (config.get("metadata"), config.get("configurable")):
        if not source:
            continue
        for key, value in source.items():
            if key in merged or key in EXCLUDED_METADATA_KEYS or key.startswith("__"):
                continue
            if isinstance(value, str):
                merged[key] = value.replace("\x00", "")
            elif isinstance(value, int | float | bool):
                merged[key] = value
    return merged  # type: ignore[return-value]


def get_serializable_checkpoint_metadata(config: RunnableConfig, metadata: CheckpointMetadata) -> CheckpointMetadata:
    """:func:`get_checkpoint_metadata` without the ``writes`` key older LangGraph versions put in metadata
    (LangGraph's function)."""
    merged: dict[str, Any] = dict(get_checkpoint_metadata(config, metadata))
    merged.pop("writes", None)
    return merged  # type: ignore[return-value]


def checkpoint_config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> dict[str, Any]:
    """The config addressing one checkpoint, as the savers return it."""
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint_id}}


def metadata_matches(metadata: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Whether every key of ``filter`` is in ``metadata`` with an equal value (how ``list`` filters)."""
    return not filter or all(key in metadata and metadata[key] == value for key, value in filter.items())


def next_version(current: str | int | float | None) -> str:
    """The version after ``current``: a zero-padded counter and a random fraction, so versions compare as
    strings (the string versions LangGraph's own savers make)."""
    return f"{_version_number(current) + 1:032}.{_random():016}"


def _version_number(current: str | int | float | None) -> int:
    """The counter of a channel version (0 for none): a string version's part before its fraction."""
    if current is None:
        return 0
    if isinstance(current, str):
        return int(current.partition(".")[0])
    return int(current)


def bump_string_versions(versions: dict[str, Any], keys: Iterable[str]) -> None:
    """Give each of ``keys`` its version after the one in ``versions`` (None when absent), in place, as
    :func:`next_version` makes them, one random fraction for them all (a version is compared with the same
    channel's only)."""
    fraction = f".{_random():016}"
    for key in keys:
        versions[key] = f"{_version_number(versions.get(key)) + 1:032}{fraction}"


class BaseCheckpointSaver(Generic[V]):
    """The base of every checkpoint saver (LangGraph's class of the same name).

    :param serde: the serializer for channel values, metadata and writes; :class:`JsonPlusSerializer` when
        not given (an object with ``dumps``/``loads`` only is accepted and wrapped)

    A subclass implements ``get_tuple``, ``list``, ``put``, ``put_writes`` and ``delete_thread`` and/or
    their async twins (``aget_tuple``, ``alist``, ``aput``, ``aput_writes``, ``adelete_thread``). Here the
    async twins of a saver that only has the sync methods run them in a worker thread (LangGraph's base
    raises ``NotImplementedError`` instead).

    Every saver raises :class:`~streamflow.errors.InvalidArgumentError` for a config without
    ``configurable.thread_id``, :class:`~streamflow.errors.CheckpointSerializationError` for a value its
    serializer cannot store, and :class:`~streamflow.errors.CheckpointReadError` (naming thread and
    checkpoint) for a stored checkpoint it cannot read back, never returning an empty thread instead.
    """

    serde: SerializerProtocol = JsonPlusSerializer()

    stages_writes: ClassVar[bool] = False
    """Whether the saver implements :meth:`stage_step`, :meth:`stage_writes` and :meth:`awrite_staged` (the
    SQL savers do): a graph run with ``durability="async"`` then serializes each save as it is made and
    writes them in the background while the run goes on, those that queue up meanwhile in one call."""

    def __init__(self, *, serde: SerializerProtocol | UntypedSerializerProtocol | None = None) -> None:
        self.serde = maybe_add_typed_methods(serde or self.serde)

    @property
    def config_specs(self) -> list[Any]:
        """Configuration fields the saver reads (none; kept for LangGraph's protocol)."""
        return []

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        """The checkpoint ``config`` addresses (the thread's newest without ``checkpoint_id``), or None."""
        found = self.get_tuple(config)
        return found.checkpoint if found is not None else None

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple ``config`` addresses (the newest of its thread and namespace without
        ``checkpoint_id``), or None when there is none."""
        return self._on_loop(self.aget_tuple(config), "get_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """The checkpoints of ``config``'s thread (every thread when None), newest first.

        :param config: a thread (and, when given, only its ``checkpoint_ns``; only its ``checkpoint_id``)
        :param filter: keep checkpoints whose metadata has each key with an equal value
        :param before: keep checkpoints older than this config's ``checkpoint_id``
        :param limit: at most this many
        """
        raise NotImplementedError

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` in ``config``'s thread and namespace, as the child of ``config``'s
        ``checkpoint_id`` (if any).

        :param new_versions: the channels whose values changed since the parent, with their new versions
        :returns: the config addressing the stored checkpoint
        """
        return self._on_loop(self.aput(config, checkpoint, metadata, new_versions), "put")

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's writes ``(channel, value)`` as pending writes of the checkpoint ``config`` addresses
        (it must name a ``checkpoint_id``). A write already stored for the same task and index is kept, except
        on the special channels of :data:`WRITES_IDX_MAP`, which are replaced."""
        self._on_loop(self.aput_writes(config, writes, task_id, task_path), "put_writes")

    def put_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> RunnableConfig:
        """Store the writes ``(task_id, [(channel, value), ...])`` of a step's tasks as pending writes of the
        checkpoint ``config`` addresses, then ``checkpoint`` as its child: what :meth:`put_writes` for each
        task and then :meth:`put` do (this default calls them). The SQL savers do it in one transaction, so
        either all of it is stored or none. Not in LangGraph: a graph run with ``durability="async"`` saves
        a step this way.

        :returns: the config addressing the stored checkpoint, as :meth:`put`
        :raises CheckpointSerializationError: for a value the serializer cannot store
        """
        for task_id, pairs in writes:
            self.put_writes(config, pairs, task_id)
        return self.put(config, checkpoint, metadata, new_versions)

    def stage_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> tuple[Any, RunnableConfig]:
        """What :meth:`put_step` stores, serialized now and written later by :meth:`awrite_staged`. Not in
        LangGraph; implemented when :attr:`stages_writes` is true.

        :returns: ``(staged, config)``: the staged save, opaque, and the config :meth:`put_step` would return
        :raises CheckpointSerializationError: for a value the serializer cannot store
        :raises NotImplementedError: by default
        """
        raise NotImplementedError(f"{type(self).__name__} does not stage its writes")

    def stage_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> Any:
        """What :meth:`put_writes` stores, serialized now and written later by :meth:`awrite_staged` (the
        staged save, opaque). Not in LangGraph; implemented when :attr:`stages_writes` is true.

        :raises CheckpointSerializationError: for a value the serializer cannot store
        :raises InvalidArgumentError: for a config that names no checkpoint
        :raises NotImplementedError: by default
        """
        raise NotImplementedError(f"{type(self).__name__} does not stage its writes")

    async def awrite_staged(self, staged: Sequence[Any]) -> None:
        """Write saves made by :meth:`stage_step` and :meth:`stage_writes`, in their order, in one
        transaction (all of them are stored or none). Not in LangGraph; implemented when
        :attr:`stages_writes` is true.

        :raises NotImplementedError: by default
        :raises Exception: what the database driver raises when the transaction fails
        """
        raise NotImplementedError(f"{type(self).__name__} does not stage its writes")

    def write_staged_nowait(self, staged: Sequence[Any]) -> bool:
        """What :meth:`awrite_staged` does, done now if that needs no waiting (for a lock, a thread or the
        network); False, with nothing written, when it would wait (always, by default: then await
        :meth:`awrite_staged`). Not in LangGraph.

        :raises Exception: what the database driver raises when the transaction fails
        """
        return False

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and write of ``thread_id``, in every namespace (nothing when it has none)."""
        self._on_loop(self.adelete_thread(thread_id), "delete_thread")

    async def aget(self, config: RunnableConfig) -> Checkpoint | None:
        """Async twin of :meth:`get`."""
        found = await self.aget_tuple(config)
        return found.checkpoint if found is not None else None

    def _on_loop(self, coroutine: Coroutine[Any, Any, _T], what: str) -> _T:
        """The result of ``coroutine``, an async method's, for its sync twin ``what``: how the sync methods a
        saver does not implement run its async ones (a saver with only async methods overrides this).

        :raises NotImplementedError: by default (the sync method is not implemented)
        """
        coroutine.close()
        raise NotImplementedError(f"{type(self).__name__} does not implement {what}")

    async def _blocking(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` as the async twins run the sync methods: in a worker thread (a saver whose sync
        methods never block overrides this to call them directly)."""
        return await anyio.to_thread.run_sync(fn, *args)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple`."""
        return await self._blocking(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of :meth:`list`."""
        found = await self._blocking(lambda: list(self.list(config, filter=filter, before=before, limit=limit)))
        for item in found:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put`."""
        return await self._blocking(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Async twin of :meth:`put_writes`."""
        await self._blocking(self.put_writes, config, writes, task_id, task_path)

    async def aput_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        writes: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
    ) -> RunnableConfig:
        """Async twin of :meth:`put_step` (this default calls :meth:`aput_writes` for each task, then
        :meth:`aput`)."""
        for task_id, pairs in writes:
            await self.aput_writes(config, pairs, task_id)
        return await self.aput(config, checkpoint, metadata, new_versions)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        await self._blocking(self.delete_thread, thread_id)

    def bump_versions(self, versions: dict[str, Any], keys: Iterable[str]) -> None:
        """Give each of ``keys`` in ``versions`` its next version (:meth:`get_next_version` of its version
        there, None when absent), in place: how a graph run versions the channels a checkpoint changed. Not
        in LangGraph."""
        next_version = self.get_next_version
        for key in keys:
            versions[key] = next_version(versions.get(key))

    def get_next_version(self, current: V | None, channel: None = None) -> V:
        """The version after ``current`` for a channel: ``1`` after None, ``current + 1`` after a number
        (LangGraph's default; the bundled savers make string versions instead).

        :raises NotImplementedError: for a string ``current``, which this default cannot increase
        """
        if isinstance(current, str):
            raise NotImplementedError
        if current is None:
            return 1  # type: ignore[return-value]
        return current + 1


def read_stored(serde: SerializerProtocol, data: tuple[str, bytes], where: tuple[str, str, str]) -> Any:
    """``serde.loads_typed(data)``, a failure reported as the checkpoint ``where`` (thread, namespace, id)
    that cannot be read.

    :raises CheckpointReadError: the bytes cannot be read back
    """
    try:
        return serde.loads_typed(data)
    except Exception as exc:
        raise CheckpointReadError(*where, f"{type(exc).__name__}: {exc}") from exc


def required_checkpoint_id(config: RunnableConfig) -> str:
    """``config``'s ``checkpoint_id``, which ``put_writes`` needs.

    :raises InvalidArgumentError: the config names no checkpoint
    """
    checkpoint_id = get_checkpoint_id(config)
    if not checkpoint_id:
        raise InvalidArgumentError(
            "put_writes needs config['configurable']['checkpoint_id'], the checkpoint the writes belong to "
            f"(the config put returned); got {config!r}"
        )
    return str(checkpoint_id)
