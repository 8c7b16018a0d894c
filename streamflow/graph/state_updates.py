"""Writing a thread's state from outside a run: LangGraph's ``update_state`` and ``bulk_update_state``.

Each superstep given is saved as one new checkpoint on top of the thread's newest (or the one the config's
``checkpoint_id`` names, which forks the thread), the way a run would have saved it had the nodes named
returned the values given:

- ``(values, node)`` updates, one or more (each node at most once unless its key has a reducer): each is the
  result of a task of that node (a dict, or a ``Command`` whose ``goto`` is followed too), applied through
  the reducers in order; saved against the checkpoint it builds on as the writes of the node's pending task
  there, if it has one (so the history shows them as that task's ``result``; not when the config names a
  checkpoint the thread has moved past), and the next tasks are the nodes' successors, beside the nodes the
  checkpoint had triggered through a fan-in edge or deferred that no update named. An ``"update"``
  checkpoint, its step the last one's plus one.
- ``(values, "__input__")``: a new input, as ``invoke(values)`` starts a run: an ``"input"`` checkpoint whose
  next task is ``__start__``.
- ``(None, END)``: the checkpoint's finished tasks' writes are applied and no task is left to run.
- ``(values, "__copy__")``: a copy of the checkpoint (``"fork"``, the same parent), then, when ``values`` is
  a list of ``(values, node)`` pairs, those updates applied to the copy as one more superstep.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..channel import Channel
from ..checkpoint.base import BaseCheckpointSaver
from ..errors import InvalidArgumentError, InvalidUpdateError
from .constants import END, START
from .context import RunContext
from .routing import _successors
from .saving import _Saving
from .snapshots import StateUpdate
from .specs import GraphSpec, NodeSpec
from .tasks import _take_result, _Task, _updates
from .thread import Thread
from .thread_config import START_CHANNEL, task_id_for

__all__ = ["COPY", "INPUT", "update_thread"]

INPUT = "__input__"
"""The ``as_node`` of an update that is a new input to the thread (LangGraph's)."""

COPY = "__copy__"
"""The ``as_node`` of an update that copies the checkpoint (LangGraph's)."""


def _checked(supersteps: Any) -> list[list[StateUpdate]]:
    """``supersteps`` as lists of :class:`StateUpdate` (a plain ``(values, as_node[, task_id])`` tuple is
    taken too).

    :raises InvalidArgumentError: (a ValueError) ``"No supersteps provided"`` for none, ``"No updates
        provided"`` for a superstep without updates (LangGraph's messages)
    :raises InvalidUpdateError: for an update that is no such tuple
    """
    if isinstance(supersteps, (str, bytes)) or not isinstance(supersteps, Sequence) or not supersteps:
        raise InvalidArgumentError("No supersteps provided (bulk_update_state takes a list of lists of StateUpdate)")
    out: list[list[StateUpdate]] = []
    for superstep in supersteps:
        if isinstance(superstep, (str, bytes)) or not isinstance(superstep, Sequence) or not superstep:
            raise InvalidArgumentError("No updates provided (each superstep is a non-empty list of StateUpdate)")
        updates = []
        for update in superstep:
            if not isinstance(update, tuple) or not 1 <= len(update) <= 3:
                raise InvalidUpdateError(
                    f"Invalid update {update!r}: expected StateUpdate(values, as_node, task_id) or a tuple of them"
                )
            updates.append(StateUpdate(*update))
        out.append(updates)
    return out


async def update_thread(
    graph: GraphSpec, saver: BaseCheckpointSaver[Any], config: Mapping[str, Any], supersteps: Any
) -> dict[str, Any]:
    """LangGraph's ``bulk_update_state``: save one checkpoint per superstep of ``supersteps`` (a list of lists
    of :class:`StateUpdate`), each on top of the one before (see the module's description); return the
    config of the last one saved. A lone update without ``as_node`` is the graph's only node, ``START`` on a
    thread without checkpoints, else the node that wrote the thread's last checkpoint.

    :raises InvalidArgumentError: (a ValueError) for no superstep or an empty one
    :raises InvalidUpdateError: ``"Ambiguous update, specify as_node"`` when several nodes wrote the last
        checkpoint, ``"as_node is required when applying multiple updates"``, ``"Node <name> does not
        exist"``, more than one update beside ``END``, ``"__input__"`` or ``"__copy__"``, a ``"__copy__"`` of
        a thread without checkpoints, an input of None, or values the state schema does not allow
    """
    steps = _checked(supersteps)
    current = dict(config)
    for index, updates in enumerate(steps):
        current = await _superstep(graph, saver, current, updates, first=index == 0)
    return current


def _context(config: Mapping[str, Any]) -> RunContext:
    """The run context conditional edges route in during an update (a run of its own, streaming nowhere)."""
    return RunContext(
        channel=Channel("update_state", replay_size=0),
        run_id="update_state",
        config=config,
        tags=(),
        metadata={},
        recursion_limit=1,
        loop_thread=threading.get_ident(),
    )


async def _superstep(
    graph: GraphSpec,
    saver: BaseCheckpointSaver[Any],
    config: Mapping[str, Any],
    updates: list[StateUpdate],
    first: bool,
) -> dict[str, Any]:
    """Save the checkpoint of one superstep of ``updates`` on top of the one ``config`` names; its config."""
    schema = graph.schema
    run = _context(config)
    thread = await Thread.open(saver, config)
    saving = _Saving(graph, thread, run, (), schema.keys)
    state = schema.start()
    joins_seen: dict[int, set[str]] = {}
    saving.restore(state, joins_seen)
    values, as_node = updates[0].values, updates[0].as_node
    step = thread.step if thread.saved is not None else -1
    if as_node in (END, INPUT, COPY) and len(updates) > 1:
        raise InvalidUpdateError(
            {
                END: "Cannot apply multiple updates when clearing state",
                INPUT: "Cannot apply multiple updates when updating as input",
                COPY: "Cannot copy checkpoint with multiple updates",
            }[as_node]
        )
    if as_node == END and values is None:
        return await _clear(saving, state, joins_seen, step)
    if as_node == INPUT:
        return await _input(saving, state, joins_seen, values)
    if as_node == COPY:
        return await _copy(graph, saver, saving, values)
    return await _apply(graph, saving, state, joins_seen, updates, first)


async def _clear(saving: _Saving, state: dict[str, Any], joins_seen: dict[int, set[str]], step: int) -> dict[str, Any]:
    """``(None, END)``: the pending tasks end; the finished ones' writes are applied and their edges followed
    (as LangGraph applies their saved writes), the others are dropped."""
    thread = saving.thread
    updated: list[str] = []
    tasks: list[_Task] = []
    if thread.saved is not None:
        finished = thread.pending()
        done = sorted((t for t in saving.tasks() if t.id in finished), key=lambda t: t.path)
        for task in done:
            writes = finished[task.id]
            saving.graph.schema.apply(state, [(f"node {task.node.name!r}", {key: value}) for key, value in writes])
            updated += [key for key, _ in writes]
        if done:
            tasks = await _successors(saving.graph, [t.node.name for t in done], state, joins_seen, saving.run)
    await saving.save("update", step + 1, state, tasks, joins_seen, dict.fromkeys(updated))
    assert thread.saved is not None
    return dict(thread.saved.config)


async def _input(
    saving: _Saving, state: dict[str, Any], joins_seen: dict[int, set[str]], values: Any
) -> dict[str, Any]:
    """``(values, "__input__")``: an ``"input"`` checkpoint holding ``values`` for ``__start__``."""
    thread = saving.thread
    if values is None:
        raise InvalidUpdateError(f"Received no input writes for {START} (an update as {INPUT} needs the input)")
    saving.graph.schema.check_input(values)
    step = thread.step + 1 if thread.saved is not None else -1
    channels = saving.channels(state, [], joins_seen)
    channels[START_CHANNEL] = values
    await thread.save(thread.next_id(step), "input", step, channels, [START_CHANNEL])
    assert thread.saved is not None
    return dict(thread.saved.config)


async def _copy(graph: GraphSpec, saver: BaseCheckpointSaver[Any], saving: _Saving, values: Any) -> dict[str, Any]:
    """``(values, "__copy__")``: a ``"fork"`` copy of the checkpoint with the same parent; then ``values``, a
    list of ``(values, as_node)``, applied to it as one superstep (when there are any)."""
    thread = saving.thread
    saved = thread.saved
    if saved is None:
        raise InvalidUpdateError("Cannot copy a non-existent checkpoint")
    step = thread.step
    thread.persisted = None if saved.parent_config is None else dict(saved.parent_config)
    channels = dict(saved.checkpoint["channel_values"])
    await thread.save(thread.next_id(step + 1), "fork", step + 1, channels, ())
    assert thread.saved is not None
    copied = dict(thread.saved.config)
    if not isinstance(values, list) or not values:
        return copied
    by_node: dict[Any, list[StateUpdate]] = {}
    for item in values:
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) < 2:
            raise InvalidUpdateError(f"Invalid update item: {item} when copying checkpoint")
        by_node.setdefault(item[1], []).append(StateUpdate(item[0], item[1]))
    grouped = [update for group in by_node.values() for update in group]
    return await _superstep(graph, saver, copied, grouped, first=False)


async def _apply(
    graph: GraphSpec,
    saving: _Saving,
    state: dict[str, Any],
    joins_seen: dict[int, set[str]],
    updates: list[StateUpdate],
    first: bool,
) -> dict[str, Any]:
    """``(values, node)`` updates: each a task of its node (see the module's description)."""
    schema = graph.schema
    thread = saving.thread
    if len(updates) == 1:
        as_node = updates[0].as_node
        if as_node is None:
            if len(graph.nodes) == 1:
                as_node = next(iter(graph.nodes))
            elif thread.saved is None:
                as_node = START
            else:
                as_node = thread.last_writer()
        if as_node is None:
            raise InvalidUpdateError("Ambiguous update, specify as_node")
        updates = [updates[0]._replace(as_node=as_node)]
    elif any(update.as_node is None for update in updates):
        raise InvalidUpdateError("as_node is required when applying multiple updates")
    for update in updates:
        if update.as_node != START and update.as_node not in graph.nodes:
            raise InvalidUpdateError(f"Node {update.as_node} does not exist")
    waiting = saving.tasks() if thread.saved is not None else []
    prepared: dict[str, list[str]] = {}
    for task in waiting:
        prepared.setdefault(task.node.name, []).append(task.id)
    checkpoint_id = None if thread.saved is None else str(thread.saved.config["configurable"]["checkpoint_id"])
    if checkpoint_id is not None and START_CHANNEL in thread.channel_values:  # an input checkpoint's __start__
        path = ("__pregel_pull", START_CHANNEL)
        prepared[START] = [task_id_for(checkpoint_id, thread.checkpoint_ns, thread.step + 1, path)]
    done: list[_Task] = []
    for index, update in enumerate(updates):
        name = str(update.as_node)
        if name == START:
            task = _Task(NodeSpec(START, None), None, (), ("__pregel_pull", START))
            task.update = schema.check_input(update.values) or None
        else:
            task = _Task(graph.nodes[name], None, (), ("__pregel_pull", name))
            _take_result(graph, task, update.values, ())
        ids = prepared.get(name)
        task.id = update.task_id or (ids.pop(0) if ids else _update_task_id(checkpoint_id, index))
        done.append(task)
    if thread.saved is not None and not (first and await _superseded(thread)):
        for task in done:
            await thread.put_writes(task.id, task.update if task.writes is None else task.writes)
    for update, task in zip(updates, done, strict=True):
        if task.update:
            writer = f"update_state(as_node={update.as_node!r})"
            schema.apply(state, [(writer, values) for _, values in _updates([task])])
    names = [str(update.as_node) for update in updates]
    tasks = await _successors(graph, names, state, joins_seen, saving.run, gotos=[task.goto for task in done])
    # the other nodes the checkpoint had triggered through a fan-in edge, or deferred, stay triggered (as
    # LangGraph's barrier and deferred channels outlive a step); those of plain edges and the Send packets do
    # not (the update takes the place of the step that would have run them)
    kept = {t.node.name for t in tasks if t.path[0] == "__pregel_pull"}.union(names)
    joined = {target for entries in graph.joins_with.values() for _, (_, target) in entries}
    tasks += [
        t
        for t in waiting
        if t.path[0] == "__pregel_pull" and t.node.name not in kept and (t.node.defer or t.node.name in joined)
    ]
    step = (thread.step if thread.saved is not None else -1) + 1  # a new thread's first update is step 0
    written = dict.fromkeys(key for task in done for key in task.update or ())
    await saving.save("update", step, state, tasks, joins_seen, written, wrote=names)
    assert thread.saved is not None
    return dict(thread.saved.config)


def _update_task_id(checkpoint_id: str | None, index: int) -> str:
    """The task id of the ``index``-th update of a superstep that has no pending task of its node to take the
    place of (LangGraph's: derived from the checkpoint's id; random on a thread without checkpoints)."""
    if checkpoint_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(uuid.UUID(checkpoint_id), "__interrupt__" if index == 0 else f"__interrupt__:{index}"))


async def _superseded(thread: Thread) -> bool:
    """Whether the config named a checkpoint the thread has moved past (an update of it forks the thread; its
    writes are not saved against it, as LangGraph's)."""
    configurable = thread.run_config.get("configurable") or {}
    if not configurable.get("checkpoint_id") or thread.saved is None:
        return False
    address = {"configurable": {"thread_id": thread.thread_id, "checkpoint_ns": thread.checkpoint_ns}}
    latest = await thread.saver.aget_tuple(address)
    saved_id = thread.saved.config["configurable"]["checkpoint_id"]
    return latest is not None and latest.config["configurable"]["checkpoint_id"] != saved_id
