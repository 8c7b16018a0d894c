"""The saving path of a run with a checkpointer: :class:`_Saving` reads the state a run continues from
(channels, fan-in joins seen, pending ``Send`` packets and tasks) and saves the run's checkpoints and task
writes through its :class:`~streamflow.graph.thread.Thread` (see :mod:`streamflow.graph.persistence`).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from ..events import (
    CheckpointSaved,
)
from .context import RunContext
from .routing import _pull_triggers
from .snapshots import next_paths
from .specs import GraphSpec
from .tasks import _shown_interrupts, _Task
from .thread import Thread
from .thread_config import SENDS, START_CHANNEL, task_id_for

__all__: list[str] = []


_enclosing: ContextVar[_Saving | None] = ContextVar("streamflow_enclosing_checkpoints", default=None)
"""The checkpoints of the graph whose task runs now (None: it saves none), for the subgraphs it runs."""


def _join_channels(graph: GraphSpec) -> dict[int, str]:
    """The checkpoint channel of each fan-in edge, by its index: ``join:<a>+<b>:<node>`` (LangGraph's name)."""
    return {
        index: f"join:{'+'.join(starts)}:{target}"
        for entries in graph.joins_with.values()
        for index, (starts, target) in entries
    }


class _Saving:
    """What :func:`~streamflow.graph.pregel.execute` does with a thread: read the state it continues from,
    save checkpoints."""

    def __init__(self, graph: GraphSpec, thread: Thread, run: RunContext, ns: tuple[str, ...], shown: tuple[str, ...]):
        self.graph = graph
        self.thread = thread
        self.run = run
        self.ns = ns
        self.shown = shown
        self.joins = _join_channels(graph)

    def restore(self, state: dict[str, Any], joins_seen: dict[int, set[str]]) -> None:
        values = self.thread.channel_values
        keys = self.graph.schema.keys
        state.update({k: v for k, v in values.items() if k in keys})
        null = self.thread.null_writes(keys)
        if null:  # a resume Command's update saved against the checkpoint: part of its state
            self.graph.schema.apply(state, [("a resume Command's update", {c: v}) for c, v in null])
        for index, name in self.joins.items():
            if name in values:
                joins_seen[index] = set(values[name] or ())

    def tasks(self) -> list[_Task]:
        """The tasks the checkpoint the run continues from triggers (a resumed run's first step)."""
        graph = self.graph
        nodes = graph.nodes
        values = self.thread.channel_values
        sends = list(values.get(SENDS) or ())
        out: list[_Task] = []
        for name, path in next_paths(values, list(graph.nodes)):
            if name == START_CHANNEL:
                continue
            if path[0] == "__pregel_push":
                out.append(_Task(nodes[name], sends[path[1]][1], ("__pregel_push",), path))
            else:
                out.append(_Task(nodes[name], None, _pull_triggers(graph, name), path))
        saved = self.thread.saved
        if saved is not None:
            checkpoint_id = saved.config["configurable"]["checkpoint_id"]
            for task in out:
                task.id = task_id_for(checkpoint_id, self.thread.checkpoint_ns, self.thread.step + 1, task.path)
        return out

    def channels(self, state: dict[str, Any], tasks: list[_Task], joins_seen: dict[int, set[str]]) -> dict[str, Any]:
        values: dict[str, Any] = dict(state)
        for index, seen in joins_seen.items():
            if seen:
                values[self.joins[index]] = sorted(seen)
        sends: list[list[Any]] = []
        for task in tasks:
            if task.path[0] == "__pregel_push":
                sends.append([task.node.name, task.input])
            else:
                values[f"branch:to:{task.node.name}"] = None
        if sends:
            values[SENDS] = sends
        return values

    def listed(self, tasks: list[_Task]) -> tuple[list[str], list[str]]:
        """The names and ids of ``tasks`` as a checkpoint lists them: pulls in node order, then pushes."""
        rank = {name: i for i, name in enumerate(self.graph.nodes)}
        listed = sorted(tasks, key=lambda t: (t.path[0] == "__pregel_push", rank[t.node.name], t.path))
        return [t.node.name for t in listed], [t.id for t in listed]

    def mapped(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` as LangGraph streams a subgraph's checkpoint config: with a ``checkpoint_map`` of the
        enclosing graphs' checkpoint ids and this one's (a root graph's is left as it is)."""
        parents = self.thread.parents
        if not parents:
            return dict(config)
        configurable = dict(config["configurable"])
        configurable["checkpoint_map"] = {**parents, self.thread.checkpoint_ns: configurable["checkpoint_id"]}
        return {**config, "configurable": configurable}

    def task_state(self, name: str, task_id: str) -> dict[str, Any] | None:
        """A next task's ``state`` in a checkpoint record: for a node whose task keeps a subgraph's checkpoints
        (:meth:`~streamflow.graph.specs.NodeSpec.subgraph`), the config of its thread (LangGraph's); else None."""
        node = self.graph.nodes.get(name)
        if node is None or node.subgraph() is None:
            return None
        ns = "|".join((*self.ns, f"{name}:{task_id}"))  # LangGraph's, even for a checkpointer=True subgraph
        return {"configurable": {"thread_id": self.thread.thread_id, "checkpoint_ns": ns}}

    async def announce(
        self,
        state: dict[str, Any],
        config: Mapping[str, Any],
        parent: Mapping[str, Any] | None,
        metadata: Mapping[str, Any],
        names: list[str],
        ids: list[str],
        errors: Mapping[str, Any] | None = None,
        paused: Mapping[str, Any] | None = None,
    ) -> None:
        """Publish :class:`~streamflow.events.CheckpointSaved` for a checkpoint whose next tasks are ``names``
        with ``ids`` (a task that failed, by id in ``errors``, shows its ``error`` as LangGraph's does; one
        that paused, by id in ``paused``, its interrupts as ``{"value", "id", "response_schema"}``)."""
        channel = self.run.channel
        if not channel.wants(CheckpointSaved):
            return
        step = int(metadata.get("step", -1))
        await channel.publish(
            CheckpointSaved(
                ns=self.ns,
                step=step,
                tags=self.run.tags,
                config=self.mapped(config),
                parent_config=None if parent is None else self.mapped(parent),
                values=self.graph.schema.values(state, self.shown),
                metadata={"source": metadata.get("source"), "step": step, "parents": metadata.get("parents", {})},
                next=names,
                tasks=[
                    {"id": i, "name": n, "error": errors[i], "state": self.task_state(n, i)}
                    if errors and i in errors
                    else {
                        "id": i,
                        "name": n,
                        "interrupts": _shown_interrupts(paused, i),
                        "state": self.task_state(n, i),
                    }
                    for i, n in zip(ids, names, strict=True)
                ],
            )
        )

    def _new_id(self, step: int, tasks: list[_Task]) -> str:
        """A new checkpoint id for ``step``; the ids of ``tasks``, the next step's, set from it."""
        thread = self.thread
        checkpoint_id = thread.next_id(step)
        ns_name = thread.checkpoint_ns
        for task in tasks:
            task.id = task_id_for(checkpoint_id, ns_name, step + 1, task.path)
        return checkpoint_id

    def _values(
        self,
        state: dict[str, Any],
        tasks: list[_Task],
        joins_seen: dict[int, set[str]],
        updated: Iterable[str],
        start: Any = None,
    ) -> tuple[dict[str, Any], list[str]]:
        """A checkpoint's channel values and the channels changed since the one before (with ``start``, the
        run's input, under ``__start__``)."""
        values = self.channels(state, tasks, joins_seen)
        changed = list(updated) + [f"branch:to:{t.node.name}" for t in tasks if t.path[0] == "__pregel_pull"]
        # the Send packets and the fan-in halves of the next step change with every step that has them: a new
        # version each time, or a saver that keeps values by version would hand back an older step's
        if SENDS in values:
            changed.append(SENDS)
        changed += [self.joins[index] for index, seen in joins_seen.items() if seen]
        if start is not None:
            values[START_CHANNEL] = start
            changed.append(START_CHANNEL)
        return values, changed

    def keep(
        self,
        source: str,
        step: int,
        state: dict[str, Any],
        tasks: list[_Task],
        joins_seen: dict[int, set[str]],
        updated: Collection[str],
        wrote: Iterable[str] = (),
        start: Any = None,
    ) -> str | None:
        """:meth:`save`, done now when it needs no waiting, except the writes of ``start``: with
        ``durability="exit"`` and nothing subscribed to :class:`~streamflow.events.CheckpointSaved`, the
        checkpoint is kept, and built only if it is read before the run ends (see
        :meth:`~streamflow.graph.thread.Thread.keep_later`); its id is returned. None, with nothing done,
        otherwise (then call :meth:`save`)."""
        thread = self.thread
        if not thread.exit_only or self.run.channel.wants(CheckpointSaved):
            return None
        checkpoint_id = self._new_id(step, tasks)
        # what the checkpoint is made of as it is now (the run goes on changing ``state`` and ``joins_seen``)
        joins = {index: set(seen) for index, seen in joins_seen.items() if seen} if joins_seen else {}
        build = functools.partial(self._values, dict(state), tasks, joins, updated, start)
        thread.keep_later(checkpoint_id, source, step, build, updated, wrote)
        return checkpoint_id

    async def save(
        self,
        source: str,
        step: int,
        state: dict[str, Any],
        tasks: list[_Task],
        joins_seen: dict[int, set[str]],
        updated: Collection[str],
        start: Any = None,
        wrote: Iterable[str] = (),
    ) -> None:
        """Save a checkpoint of ``state`` whose next tasks are ``tasks`` (their ids set from it), and publish
        :class:`~streamflow.events.CheckpointSaved` for it."""
        thread = self.thread
        kept = self.keep(source, step, state, tasks, joins_seen, updated, wrote, start)
        checkpoint_id = self._new_id(step, tasks) if kept is None else kept
        start_id = None
        if start is not None:
            start_id = task_id_for(checkpoint_id, thread.checkpoint_ns, step + 1, ("__pregel_pull", START_CHANNEL))
        if kept is not None:
            if start_id is not None:
                await thread.put_writes(start_id, self.graph.schema.check_input(start))
            return
        values, changed = self._values(state, tasks, joins_seen, updated, start)
        if thread.exit_only:  # kept, not saved yet: nothing to wait for
            config, metadata, parent = thread.keep(checkpoint_id, source, step, values, changed, wrote)
        else:
            config, metadata, parent = await thread.save(checkpoint_id, source, step, values, changed, wrote)
        if self.run.channel.wants(CheckpointSaved):
            names, ids = self.listed(tasks) if start_id is None else ([START_CHANNEL], [start_id])
            await self.announce(state, config, parent, metadata, names, ids)
        if start_id is not None:
            await thread.put_writes(start_id, self.graph.schema.check_input(start))
