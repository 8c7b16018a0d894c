"""A thread's state as ``get_state``, ``get_state_history`` and ``bulk_update_state`` show it:
:class:`StateSnapshot`, :class:`PregelTask` and :class:`StateUpdate` (LangGraph's), the snapshot of a saved
checkpoint, and the tasks a checkpoint's channels trigger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ..checkpoint.base import (
    CheckpointTuple,
)
from .state import ROOT, StateSchema
from .task_writes import NULL_TASK_ID, folded_writes, task_statuses
from .thread_config import SENDS, START_CHANNEL, task_id_for

__all__ = ["PregelTask", "StateSnapshot", "StateUpdate", "next_paths", "snapshot_of"]


class PregelTask(NamedTuple):
    """A task of a :class:`StateSnapshot` (LangGraph's ``PregelTask``): its id, node name, path, the error
    it failed with (the exception's repr, as LangGraph stores it), its interrupts, its subgraph's state, and its
    writes once it finished (None before)."""

    id: str
    name: str
    path: tuple[Any, ...]
    error: Any = None
    interrupts: tuple[Any, ...] = ()
    state: Any = None
    result: Any = None


class StateUpdate(NamedTuple):
    """One update of ``bulk_update_state`` (LangGraph's ``StateUpdate``): the ``values`` a node returned (a
    dict of state keys, or a ``Command``), the node ``as_node`` that returned them (None: inferred, for a lone
    update), and the ``task_id`` to save them under (None: the node's pending task's, or a new one)."""

    values: Any
    as_node: str | None = None
    task_id: str | None = None


class StateSnapshot(NamedTuple):
    """A thread's state at one checkpoint (LangGraph's ``StateSnapshot``), from ``get_state`` and
    ``get_state_history``.

    ``values``: the state; ``next``: the nodes that run next (``()`` once the run ended); ``config``: the
    config addressing this checkpoint; ``metadata``: its metadata (``source``, ``step``, ``parents`` and run
    metadata), None for a thread without checkpoints; ``created_at``: ISO 8601 time it was saved;
    ``parent_config``: the previous checkpoint's config; ``tasks``: :class:`PregelTask` per next task;
    ``interrupts``: the interrupts the thread waits on at this checkpoint (those of its tasks, in task
    order; ``()`` when none).
    """

    values: Any
    next: tuple[str, ...]
    config: Mapping[str, Any]
    metadata: Mapping[str, Any] | None
    created_at: str | None
    parent_config: Mapping[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Any, ...] = ()


def snapshot_of(
    saved: CheckpointTuple | None,
    config: Mapping[str, Any],
    schema: StateSchema,
    order: Sequence[str],
    *,
    live: bool,
    subgraphs: Iterable[str] = (),
) -> StateSnapshot:
    """The :class:`StateSnapshot` of a saved checkpoint (an empty one for a thread without checkpoints,
    as LangGraph gives it). ``order`` is the graph's node order (how LangGraph lists the next tasks).

    ``live`` (``get_state`` without a ``checkpoint_id``), as LangGraph: the values include what the tasks
    that finished wrote, and ``next`` leaves them out; otherwise the snapshot is the step's record: values as
    the step began, every task of it in ``next``. A task of a node in ``subgraphs`` (the nodes whose tasks keep a
    subgraph's checkpoints) has ``{"configurable": {"thread_id", "checkpoint_ns": "<node>:<task id>"}}`` as its
    ``state``, as LangGraph's (the task's namespace even for a subgraph compiled with ``checkpointer=True``,
    whose checkpoints are under the node's name)."""
    if saved is None:
        return StateSnapshot({}, (), dict(config), None, None, None, ())
    keys = schema.keys
    values = dict(saved.checkpoint["channel_values"])
    null = [(c, v) for t, c, v in saved.pending_writes or () if t == NULL_TASK_ID and c in keys]
    if null:  # a resume Command's update: part of the checkpoint's state, as LangGraph reads it
        state_keys = {k: values[k] for k in keys if k in values}
        schema.apply(state_keys, [("a resume Command's update", {c: v}) for c, v in null])
        values.update(state_keys)
    checkpoint_id = saved.config["configurable"]["checkpoint_id"]
    ns = saved.config["configurable"].get("checkpoint_ns", "")
    step = int(saved.metadata.get("step", -1))
    statuses = task_statuses(saved.pending_writes)
    tasks: list[PregelTask] = []
    finished: dict[str, list[tuple[str, Any]]] = {}
    kept = set(subgraphs)
    for name, path in next_paths(_with_null_triggers(values, saved.pending_writes), order):
        task_id = task_id_for(checkpoint_id, ns, step + 1, path)
        status = statuses.get(task_id)
        result = None
        if status is not None and status.finished:
            writes = finished[task_id] = status.writes()
            if schema.root:
                result = folded_writes(w for w in writes if w[0] == ROOT).get(ROOT)
            else:
                result = folded_writes(w for w in writes if w[0] in keys)
        shown_path = (*path, False) if path[0] == "__pregel_push" else path  # LangGraph's third item
        sub_state = None
        if name in kept:
            thread_id = saved.config["configurable"]["thread_id"]
            sub_ns = "|".join(p for p in (ns, f"{name}:{task_id}") if p)
            sub_state = {"configurable": {"thread_id": thread_id, "checkpoint_ns": sub_ns}}
        interrupts: tuple[Any, ...] = ()
        if status is not None:
            # live: the questions still waiting; a record of the step: every question its tasks asked
            interrupts = status.pending_interrupts if live else status.interrupts
        tasks.append(
            PregelTask(
                task_id,
                name,
                shown_path,
                error=None if status is None else status.error,
                interrupts=interrupts,
                state=sub_state,
                result=result,
            )
        )
    state = {k: values[k] for k in keys if k in values}
    waiting = tasks
    if live:
        waiting = [t for t in tasks if t.id not in finished]
        done = sorted((t for t in tasks if t.id in finished and t.name != START_CHANNEL), key=lambda t: t.path)
        if done:
            schema.apply(state, [(f"node {t.name!r}", {key: value}) for t in done for key, value in finished[t.id]])
    return StateSnapshot(
        schema.values(state, keys),
        tuple(t.name for t in waiting),
        dict(saved.config),
        dict(saved.metadata),
        saved.checkpoint["ts"],
        None if saved.parent_config is None else dict(saved.parent_config),
        tuple(tasks),
        tuple(i for t in tasks for i in t.interrupts),
    )


def _with_null_triggers(values: Mapping[str, Any], writes: Iterable[Any] | None) -> dict[str, Any]:
    """``values`` with the ``branch:to:<node>`` channels and the ``Send`` packets written under
    :data:`NULL_TASK_ID` (a goto given to a thread as a ``Command`` input, as LangGraph saves it)."""
    out = dict(values)
    for task_id, channel, value in writes or ():
        if task_id != NULL_TASK_ID:
            continue
        if channel.startswith("branch:to:"):
            out[channel] = None
        elif channel == SENDS:
            out[SENDS] = [*(out.get(SENDS) or ()), *value]
    return out


def next_paths(channel_values: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, tuple[Any, ...]]]:
    """``(node, path)`` of the tasks a checkpoint's channels trigger: pulls in the graph's node ``order``
    (``__start__`` first), then pushes."""
    triggered = {key[len("branch:to:") :] for key in channel_values if key.startswith("branch:to:")}
    pulls = [name for name in order if name in triggered]
    if START_CHANNEL in channel_values:
        pulls.insert(0, START_CHANNEL)
    out: list[tuple[str, tuple[Any, ...]]] = [(name, ("__pregel_pull", name)) for name in pulls]
    for index, (name, _arg) in enumerate(channel_values.get(SENDS) or ()):
        out.append((name, ("__pregel_push", index)))
    return out
