"""Threads over HTTP: the threads an app created, runs started on them, and their state read from the saver.

A :class:`ThreadRegistry` sits beside a :class:`~streamflow.server.registry.RunRegistry`. It remembers, in
memory, the threads this app created (id, creation time, metadata, the graph and run last started on it); the
state itself lives in the checkpointer, so a thread id the saver has checkpoints of (from an earlier process,
or another app on the same database) is found too, and taken in on first use.

Where the threads' runs execute is a :class:`ThreadRuns`: a :class:`~streamflow.server.registry.RunRegistry`
(runs in this process, through :class:`LocalThreadRuns`), or a
:class:`~streamflow.server.redis_source.RedisRunSource` given the saver its workers share (runs in worker
processes; the state is read from that saver here).

A run on a thread is a run whose config has ``configurable.thread_id`` (and the graph's
name as ``configurable.graph_id``, which LangGraph copies into the run's metadata, so each checkpoint says
which graph wrote it); a graph registered without a checkpointer of its own uses the registry's. One thread
runs one run at a time (:class:`~streamflow.errors.ThreadConflictError` for a second).

:func:`snapshot_to_dict` is the JSON form of a :class:`~streamflow.types.StateSnapshot` the routes answer
with.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from ..checkpoint.base import BaseCheckpointSaver
from ..errors import (
    InvalidArgumentError,
    ThreadConflictError,
    UnknownCheckpointError,
    UnknownInterruptError,
    UnknownThreadError,
)
from ..graph import CompiledStateGraph
from ..graph.persistence import StateSnapshot
from ..interrupts import is_resume_map
from .registry import RunRegistry

__all__ = ["LocalThreadRuns", "ThreadEntry", "ThreadRegistry", "ThreadRuns", "snapshot_to_dict"]


@runtime_checkable
class ThreadRuns(Protocol):
    """What a :class:`ThreadRegistry` needs of the place its threads' runs execute. Every method runs in the
    app's event loop."""

    @property
    def graph_names(self) -> list[str]:
        """The names of the graphs runs can be started of, sorted."""
        ...

    @property
    def checkpointer(self) -> BaseCheckpointSaver[Any] | None:
        """The saver of the threads of graphs compiled without one (None: only graphs with their own)."""
        ...

    def has_graph(self, name: str) -> bool:
        """Whether ``name`` is a graph runs can be started of."""
        ...

    def thread_graph(self, name: str) -> CompiledStateGraph:
        """The graph ``name`` bound to the saver its threads live in (to read their state).

        :raises UnknownGraphError: when no graph is registered under ``name``
        :raises InvalidArgumentError: when the graph cannot be built here
        """
        ...

    async def thread_run(self, thread_id: str) -> str | None:
        """The id of the run still going (or queued) on thread ``thread_id``, or None."""
        ...

    async def add_thread(self, entry: ThreadEntry) -> bool:
        """Record a thread created here where every app of these runs finds it; False when its id is taken."""
        ...

    async def find_thread(self, thread_id: str) -> ThreadEntry | None:
        """The thread recorded by :meth:`add_thread` (by any app of these runs), or None."""
        ...

    async def update_thread(self, entry: ThreadEntry) -> None:
        """Record the ``graph`` and ``run_id`` of ``entry``'s last run (see :meth:`add_thread`)."""
        ...

    async def start_on_thread(
        self, thread_id: str, graph: str, input: Any, config: Mapping[str, Any], *, check_input: bool, owner: str | None
    ) -> str:
        """Start (or queue) a run of ``graph`` on thread ``thread_id`` (``config`` names it already) and return
        its id; ``check_input=False`` passes ``input`` (a ``Command``) unchecked.

        :raises ThreadConflictError: when the thread has a run still going
        :raises InvalidUpdateError: for an input the graph's state schema does not accept
        :raises InvalidArgumentError: for a malformed config
        :raises RegistryFullError: when no other run can be taken now
        """
        ...


class LocalThreadRuns:
    """The :class:`ThreadRuns` of runs executing in this process, in ``registry``."""

    def __init__(self, registry: RunRegistry) -> None:
        self.registry = registry

    @property
    def graph_names(self) -> list[str]:
        """The registry's graph names, sorted."""
        return self.registry.graph_names

    @property
    def checkpointer(self) -> BaseCheckpointSaver[Any] | None:
        """The registry's saver."""
        return self.registry.checkpointer

    def has_graph(self, name: str) -> bool:
        """Whether the registry has a graph ``name``."""
        return name in self.registry.graphs

    def thread_graph(self, name: str) -> CompiledStateGraph:
        """See :meth:`RunRegistry.thread_graph`."""
        return self.registry.thread_graph(name)

    async def thread_run(self, thread_id: str) -> str | None:
        """The id of the registry's run still going on the thread, or None."""
        run = self.registry.live_run_on(thread_id)
        return None if run is None else run.run_id

    async def add_thread(self, entry: ThreadEntry) -> bool:
        """True: the app's own :class:`ThreadRegistry` is the only record of its threads."""
        return True

    async def find_thread(self, thread_id: str) -> ThreadEntry | None:
        """None: no other app shares this process's runs."""
        return None

    async def update_thread(self, entry: ThreadEntry) -> None:
        """Nothing to record beyond the app's own :class:`ThreadRegistry`."""

    async def start_on_thread(
        self, thread_id: str, graph: str, input: Any, config: Mapping[str, Any], *, check_input: bool, owner: str | None
    ) -> str:
        """Start the run in the registry (see :meth:`RunRegistry.start` for what it raises)."""
        return self.registry.start(graph, input, config, check_input=check_input, owner=owner).run_id


@attrs.define(eq=False)
class ThreadEntry:
    """One thread known to a :class:`ThreadRegistry`."""

    thread_id: str
    """The thread's id (``configurable.thread_id`` of its runs)."""
    created_at: float
    """Seconds since the epoch when this app created it (or first met it in the saver)."""
    metadata: dict[str, Any] = attrs.field(factory=dict)
    """The metadata it was created with."""
    graph: str | None = None
    """The graph its last run (started here) was of, or None."""
    run_id: str | None = None
    """Its last run started here, or None."""
    owner: str | None = None
    """The identity of the principal that created it (see :mod:`streamflow.server.auth`), or None; for a thread
    met in the saver, the ``owner`` its newest checkpoint's metadata names."""

    def to_dict(self, status: str) -> dict[str, Any]:
        """The JSON form: ``thread_id``, ``created_at``, ``metadata``, ``status`` (``"busy"`` while a run is
        going on it, else ``"idle"``), ``graph`` and ``run_id`` (the last run started here, or null)."""
        return {
            "thread_id": self.thread_id,
            "created_at": self.created_at,
            "metadata": self.metadata,
            "status": status,
            "graph": self.graph,
            "run_id": self.run_id,
        }


def snapshot_to_dict(snapshot: StateSnapshot) -> dict[str, Any]:
    """The JSON form of a state snapshot: ``values``, ``next`` (a list), ``config``, ``metadata``,
    ``created_at``, ``parent_config``, ``tasks`` (objects with ``id``, ``name``, ``path``, ``error``,
    ``interrupts``, ``state``, ``result``) and ``interrupts``, as LangGraph's field names."""
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "config": snapshot.config,
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "parent_config": snapshot.parent_config,
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": task.error,
                "interrupts": list(task.interrupts),
                "state": task.state,
                "result": task.result,
            }
            for task in snapshot.tasks
        ],
        "interrupts": list(snapshot.interrupts),
    }


def _address(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


class ThreadRegistry:
    """The threads of an app (see the module docstring). Use it from the app's event loop.

    :param runs: where the threads' runs execute (a run registry, or another :class:`ThreadRuns`); its
        ``checkpointer`` is where threads of graphs without a saver of their own live
    """

    def __init__(self, runs: RunRegistry | ThreadRuns) -> None:
        self.runs: ThreadRuns = LocalThreadRuns(runs) if isinstance(runs, RunRegistry) else runs
        self._threads: dict[str, ThreadEntry] = {}

    @property
    def checkpointer(self) -> BaseCheckpointSaver[Any] | None:
        """The run registry's saver (None: only graphs compiled with a saver of their own run on threads)."""
        return self.runs.checkpointer

    def create(
        self, thread_id: str | None = None, metadata: Mapping[str, Any] | None = None, *, owner: str | None = None
    ) -> ThreadEntry:
        """Create a thread, under ``thread_id`` or a new UUID, with ``metadata``, owned by ``owner``.

        :raises ThreadConflictError: for a ``thread_id`` this registry already has
        :raises InvalidArgumentError: for a ``thread_id`` that is not a non-empty string, or ``metadata`` that
            is not a mapping
        """
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id.strip()):
            raise InvalidArgumentError(f"'thread_id' must be a non-empty string, got {thread_id!r}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgumentError(f"'metadata' must be a JSON object, got {metadata!r}")
        thread_id = thread_id or str(uuid.uuid4())
        if thread_id in self._threads:
            raise ThreadConflictError(f"thread {thread_id!r} already exists; leave 'thread_id' out for a new one")
        entry = ThreadEntry(thread_id, time.time(), dict(metadata or {}), owner=owner)
        self._threads[thread_id] = entry
        return entry

    async def claim(self, thread_id: str | None, metadata: Mapping[str, Any] | None, owner: str) -> ThreadEntry:
        """:meth:`add` for a principal: also refuses a ``thread_id`` the saver holds checkpoints of (a
        thread of an earlier process, owned by whoever its checkpoints name), so no principal takes over
        another's thread by creating it again.

        :raises ThreadConflictError: for a ``thread_id`` this registry already has or the saver holds
        :raises InvalidArgumentError: as :meth:`create`
        """
        saver = self.checkpointer
        unseen = isinstance(thread_id, str) and thread_id not in self._threads and saver is not None
        if unseen and saver is not None and await saver.aget_tuple(_address(str(thread_id))) is not None:
            raise ThreadConflictError(f"thread {thread_id!r} already exists; leave 'thread_id' out for a new one")
        return await self.add(thread_id, metadata, owner=owner)

    async def add(
        self, thread_id: str | None = None, metadata: Mapping[str, Any] | None = None, *, owner: str | None = None
    ) -> ThreadEntry:
        """:meth:`create`, recorded where the other apps of these runs find it too (see
        :meth:`ThreadRuns.add_thread`).

        :raises ThreadConflictError: for a ``thread_id`` this registry or another app of these runs already has
        :raises InvalidArgumentError: as :meth:`create`
        """
        entry = self.create(thread_id, metadata, owner=owner)
        try:
            added = await self.runs.add_thread(entry)
        except BaseException:
            del self._threads[entry.thread_id]
            raise
        if not added:
            del self._threads[entry.thread_id]
            raise ThreadConflictError(f"thread {entry.thread_id!r} already exists; leave 'thread_id' out for a new one")
        return entry

    async def get(self, thread_id: str) -> ThreadEntry:
        """The thread ``thread_id``: one created here, or one the saver has checkpoints of (taken in now).

        :raises UnknownThreadError: when neither this registry nor the saver knows it
        """
        shared = await self.runs.find_thread(thread_id)
        if shared is not None:  # as another app of these runs may have left it
            self._threads[thread_id] = shared
            return shared
        entry = self._threads.get(thread_id)
        if entry is not None:
            return entry
        saver = self.checkpointer
        saved = None if saver is None else await saver.aget_tuple(_address(thread_id))
        if saved is not None:
            owner = (saved.metadata or {}).get("owner")
            entry = ThreadEntry(thread_id, time.time(), owner=owner if isinstance(owner, str) else None)
            return self._threads.setdefault(thread_id, entry)
        raise UnknownThreadError(
            f"unknown thread {thread_id!r}: not created here (POST /threads) "
            "and the checkpointer has no checkpoint of it"
        )

    async def status(self, entry: ThreadEntry) -> str:
        """``"busy"`` while a run is going on the thread, else ``"idle"``."""
        return "idle" if await self.runs.thread_run(entry.thread_id) is None else "busy"

    async def _raise_if_busy(self, thread_id: str) -> None:
        busy = await self.runs.thread_run(thread_id)
        if busy is not None:
            raise ThreadConflictError(
                f"thread {thread_id!r} already has run {busy!r} going; one thread runs one run at a "
                "time: wait for it to end or cancel it, then start the next"
            )

    async def start(
        self,
        thread_id: str,
        graph: str | None,
        input: Any,
        config: Mapping[str, Any] | None,
        *,
        command: bool = False,
        owner: str | None = None,
    ) -> str:
        """Start a run of ``graph`` (default: the graph of the thread's last run, or the only graph registered)
        on the thread, with ``config`` (LangGraph's keys; ``configurable.thread_id`` is set to the thread).
        ``owner`` is recorded on the run and as ``metadata.owner`` of its config (so its checkpoints name it,
        and a later process knows whose the thread is).
        ``command=True`` says ``input`` is LangGraph's ``Command``, passed to the graph unchecked; one with a
        ``resume`` value needs the thread to be interrupted (pending interrupts in its state).

        :raises UnknownThreadError: for a thread neither created here nor in the saver
        :raises UnknownGraphError: for an unregistered graph name
        :raises InvalidArgumentError: for a malformed config, a config naming another thread, no graph to run
            (several registered, none named), or a graph with no checkpointer where the registry has none
        :raises ThreadConflictError: when the thread has a run still going
        :raises InvalidArgumentError: for a ``Command`` with ``resume`` on a thread that is not interrupted
        :raises UnknownInterruptError: for a resume map naming an interrupt id the thread does not wait on
        :raises InvalidUpdateError: for an input the graph's state schema does not accept
        :raises RegistryFullError: when the run registry cannot take another run now
        :returns: the run's id
        """
        entry = await self.get(thread_id)
        name = self._graph_name(entry, graph)
        compiled = self.runs.thread_graph(name)
        if not isinstance(compiled.checkpointer, BaseCheckpointSaver):
            raise InvalidArgumentError(
                f"graph {name!r} has no checkpointer and the app was given none; runs on threads need one"
            )
        if config is not None and not isinstance(config, Mapping):
            raise InvalidArgumentError(f"'config' must be a JSON object, got {config!r}")
        config = dict(config or {})
        configurable = config.get("configurable") or {}
        if not isinstance(configurable, Mapping):
            raise InvalidArgumentError(f"'config.configurable' must be a JSON object, got {configurable!r}")
        named = configurable.get("thread_id")
        if named is not None and named != thread_id:
            raise InvalidArgumentError(
                f"config.configurable.thread_id is {named!r} but the run is on thread {thread_id!r}; leave it out"
            )
        config["configurable"] = {**configurable, "thread_id": thread_id, "graph_id": name}
        if owner is not None:
            metadata = config.get("metadata") or {}
            if not isinstance(metadata, Mapping):
                raise InvalidArgumentError(f"'config.metadata' must be a JSON object, got {metadata!r}")
            config["metadata"] = {**metadata, "owner": owner}
        if command and getattr(input, "resume", None) is not None:
            await self._raise_if_busy(thread_id)
            snapshot = await compiled.aget_state(_address(thread_id))
            if not snapshot.interrupts and not any(task.interrupts for task in snapshot.tasks):
                raise InvalidArgumentError(
                    f"thread {thread_id!r} is not interrupted: there is nothing to resume; "
                    "start a run with 'input' instead, or resume a thread that shows 'interrupts' in its state"
                )
            waiting = sorted({i.id for i in snapshot.interrupts} | {i.id for t in snapshot.tasks for i in t.interrupts})
            resume = input.resume
            if is_resume_map(resume) and set(resume) - set(waiting):
                unknown = sorted(set(resume) - set(waiting))
                raise UnknownInterruptError(
                    f"the resume names interrupt id(s) {unknown} that thread {thread_id!r} is not waiting on; "
                    f"its pending interrupt ids are {waiting}",
                    interrupt_ids=unknown,
                    pending_ids=waiting,
                )
        run_id = await self.runs.start_on_thread(thread_id, name, input, config, check_input=not command, owner=owner)
        entry.graph = name
        entry.run_id = run_id
        await self.runs.update_thread(entry)
        return run_id

    def _graph_name(self, entry: ThreadEntry | None, graph: str | None) -> str:
        if graph is not None:
            if not isinstance(graph, str):
                raise InvalidArgumentError(
                    f"'graph' must be the name of a graph, one of {self.runs.graph_names}; got {graph!r}"
                )
            return graph
        if entry is not None and entry.graph is not None:
            return entry.graph
        names = self.runs.graph_names
        if len(names) == 1:
            return names[0]
        raise InvalidArgumentError(
            f"name the graph: 'graph' must be one of {names} (the thread has no run of a graph here yet)"
        )

    async def _reader(self, thread_id: str, graph: str | None) -> CompiledStateGraph:
        """The graph that reads the thread's snapshots: the one named, the thread's last one, the one its newest
        checkpoint names as ``graph_id``, or the only graph registered."""
        entry = self._threads.get(thread_id)
        if graph is None and (entry is None or entry.graph is None) and self.checkpointer is not None:
            saved = await self.checkpointer.aget_tuple(_address(thread_id))
            graph_id = None if saved is None else (saved.metadata or {}).get("graph_id")
            if isinstance(graph_id, str) and self.runs.has_graph(graph_id):
                graph = graph_id
        return self.runs.thread_graph(self._graph_name(entry, graph))

    async def state(
        self, thread_id: str, *, checkpoint_id: str | None = None, graph: str | None = None
    ) -> StateSnapshot:
        """The thread's state at its newest checkpoint, or at ``checkpoint_id``, as ``aget_state`` gives it.

        :raises UnknownThreadError: for a thread neither created here nor in the saver
        :raises UnknownCheckpointError: for a ``checkpoint_id`` the thread has no checkpoint under
        :raises UnknownGraphError: for an unregistered ``graph``
        :raises CheckpointReadError: for a checkpoint the saver cannot read back
        """
        await self.get(thread_id)
        reader = await self._reader(thread_id, graph)
        if checkpoint_id is not None:
            await self._check_checkpoint(reader, thread_id, checkpoint_id)
        return await reader.aget_state(_address(thread_id, checkpoint_id))

    async def history(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        before: str | None = None,
        graph: str | None = None,
    ) -> list[StateSnapshot]:
        """The thread's snapshots, newest first (``aget_state_history``): at most ``limit``, only those older
        than checkpoint ``before`` when given.

        :raises UnknownThreadError: for a thread neither created here nor in the saver
        :raises UnknownCheckpointError: for a ``before`` the thread has no checkpoint under
        :raises UnknownGraphError: for an unregistered ``graph``
        :raises CheckpointReadError: for a checkpoint the saver cannot read back
        """
        await self.get(thread_id)
        reader = await self._reader(thread_id, graph)
        before_config = None
        if before is not None:
            await self._check_checkpoint(reader, thread_id, before)
            before_config = _address(thread_id, before)
        return [
            snapshot
            async for snapshot in reader.aget_state_history(_address(thread_id), before=before_config, limit=limit)
        ]

    async def _check_checkpoint(self, reader: CompiledStateGraph, thread_id: str, checkpoint_id: str) -> None:
        saver = reader.checkpointer
        assert isinstance(saver, BaseCheckpointSaver)
        if await saver.aget_tuple(_address(thread_id, checkpoint_id)) is None:
            raise UnknownCheckpointError(f"thread {thread_id!r} has no checkpoint {checkpoint_id!r}")

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._threads
