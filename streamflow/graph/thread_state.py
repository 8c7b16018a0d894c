"""The methods of a compiled graph that read and write its threads (:class:`ThreadStateMethods`, a base of
:class:`~streamflow.graph.compiled.CompiledStateGraph`): ``get_state``, ``get_state_history``,
``update_state`` and ``bulk_update_state`` and their async twins, as LangGraph's.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from typing import Any

from ..checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from ..errors import InvalidArgumentError
from ..portal import call_sync
from .snapshots import StateSnapshot, StateUpdate, snapshot_of
from .specs import GraphSpec
from .state_updates import update_thread
from .thread_config import require_thread

__all__ = ["ThreadStateMethods"]


def _address(config: Mapping[str, Any]) -> dict[str, Any]:
    """The saver address of a run's config: its ``configurable`` with ``checkpoint_ns`` defaulting to ``""``."""
    configurable = dict(config["configurable"])
    configurable.setdefault("checkpoint_ns", "")
    return {"configurable": configurable}


def _live(config: Mapping[str, Any]) -> bool:
    """Whether ``get_state`` shows the thread's current status: no ``checkpoint_id`` named (as LangGraph)."""
    return not config["configurable"].get("checkpoint_id")


def _mapped(snapshot: StateSnapshot) -> StateSnapshot:
    """A subgraph's snapshot with LangGraph's ``checkpoint_map`` (the enclosing graphs' checkpoint ids and
    its own) in its configs."""
    parents = dict((snapshot.metadata or {}).get("parents") or {})

    def add_map(config: Mapping[str, Any]) -> Mapping[str, Any]:
        configurable = dict(config["configurable"])
        configurable["checkpoint_map"] = {**parents, configurable["checkpoint_ns"]: configurable["checkpoint_id"]}
        return {**config, "configurable": configurable}

    parent = snapshot.parent_config
    return snapshot._replace(config=add_map(snapshot.config), parent_config=None if parent is None else add_map(parent))


class ThreadStateMethods(GraphSpec):
    """What a compiled graph with a checkpointer does with its threads: their snapshots, history and
    updates (the methods are documented one by one)."""

    checkpointer: Any

    def _saver(self) -> BaseCheckpointSaver[Any]:
        saver = self.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):
            raise InvalidArgumentError("No checkpointer set")
        return saver

    def _snapshot(self, saved: CheckpointTuple | None, config: Mapping[str, Any], live: bool) -> StateSnapshot:
        kept = [name for name, node in self.nodes.items() if node.subgraph() is not None]
        return snapshot_of(saved, config, self.schema, list(self.nodes), live=live, subgraphs=kept)

    def get_state(self, config: Mapping[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's state at its newest checkpoint (or the one ``checkpoint_id`` names), as LangGraph's
        ``get_state``: a :class:`~streamflow.types.StateSnapshot`; for a thread without checkpoints, one with
        ``values={}``, ``next=()`` and None metadata. A next task of a subgraph node, or of a plain node whose
        function refers to a compiled graph (as LangGraph finds it: a global or closure variable the function
        reads, see :meth:`~streamflow.graph.specs.NodeSpec.subgraph`), has that graph's checkpoint config as its
        ``state``; with ``subgraphs=True``, the graph's own snapshot instead when it has checkpoints (it did not
        finish), its configs with LangGraph's ``checkpoint_map``.

        :raises InvalidArgumentError: (a ValueError) when the graph has no checkpointer (``"No checkpointer
            set"``, as LangGraph) or ``config`` has no ``thread_id``
        :raises CheckpointReadError: for a checkpoint the saver cannot read back
        """
        saver = self._saver()
        require_thread(config)
        snapshot = self._snapshot(saver.get_tuple(_address(config)), config, _live(config))
        return self._with_subgraphs(snapshot, saver) if subgraphs else snapshot

    async def aget_state(self, config: Mapping[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The async twin of :meth:`get_state`, with the same arguments, result and errors."""
        saver = self._saver()
        require_thread(config)
        snapshot = self._snapshot(await saver.aget_tuple(_address(config)), config, _live(config))
        return await self._awith_subgraphs(snapshot, saver) if subgraphs else snapshot

    def _subgraph_of(self, task: Any) -> ThreadStateMethods | None:
        """The compiled graph whose checkpoints task ``task`` of a snapshot keeps (see
        :meth:`~streamflow.graph.specs.NodeSpec.subgraph`), or None."""
        node = self.nodes.get(task.name)
        sub = None if node is None else node.subgraph()
        return sub if isinstance(task.state, Mapping) and isinstance(sub, ThreadStateMethods) else None

    def _own_address(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The saver address of ``config`` for this graph's own checkpoints: a graph compiled with
        ``checkpointer=True`` keeps them under its namespace without the task ids (LangGraph's)."""
        address = _address(config)
        if self.checkpointer is True:
            configurable = address["configurable"]
            configurable["checkpoint_ns"] = "|".join(
                part.partition(":")[0] for part in configurable["checkpoint_ns"].split("|")
            )
        return address

    def _with_subgraphs(self, snapshot: StateSnapshot, saver: BaseCheckpointSaver[Any]) -> StateSnapshot:
        tasks = []
        for task in snapshot.tasks:
            sub = self._subgraph_of(task)
            saved = None if sub is None else saver.get_tuple(sub._own_address(task.state))
            if sub is not None and saved is not None:
                inner = _mapped(sub._snapshot(saved, saved.config, True))
                task = task._replace(state=sub._with_subgraphs(inner, saver))
            tasks.append(task)
        return snapshot._replace(tasks=tuple(tasks))

    async def _awith_subgraphs(self, snapshot: StateSnapshot, saver: BaseCheckpointSaver[Any]) -> StateSnapshot:
        tasks = []
        for task in snapshot.tasks:
            sub = self._subgraph_of(task)
            saved = None if sub is None else await saver.aget_tuple(sub._own_address(task.state))
            if sub is not None and saved is not None:
                inner = _mapped(sub._snapshot(saved, saved.config, True))
                task = task._replace(state=await sub._awith_subgraphs(inner, saver))
            tasks.append(task)
        return snapshot._replace(tasks=tuple(tasks))

    def update_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """Apply ``values`` to the thread's state as if node ``as_node`` had returned them (a dict of state
        keys, or a ``Command``, whose ``goto`` is followed too), as LangGraph's ``update_state``: through the
        reducers, saved as an ``"update"`` checkpoint (its step the last one's plus one) whose next tasks are
        the node's successors, so ``invoke(None, config)`` goes on from there; the values are saved as the
        result of the node's pending task, if it has one, or under ``task_id``. Without ``as_node``: the
        graph's only node; ``START`` on a thread without checkpoints (``values`` is then the input); else the
        node that wrote the last checkpoint. ``as_node="__input__"`` saves ``values`` as a new input (an
        ``"input"`` checkpoint), ``(None, END)`` ends the pending tasks (their finished writes applied) and
        ``"__copy__"`` copies the checkpoint (see :meth:`bulk_update_state`). Returns the new checkpoint's
        config.

        :raises InvalidArgumentError: (a ValueError) when the graph has no checkpointer or ``config`` has no
            ``thread_id``
        :raises InvalidUpdateError: ``"Ambiguous update, specify as_node"`` when several nodes wrote the last
            checkpoint, ``"Node <name> does not exist"``, or values the state schema does not allow
        """
        return call_sync(self.aupdate_state, config, values, as_node, task_id, async_alternative="aupdate_state()")

    async def aupdate_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """The async twin of :meth:`update_state`, with the same arguments, result and errors."""
        return await self.abulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    def bulk_update_state(self, config: Mapping[str, Any], supersteps: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """Apply ``supersteps`` of updates to the thread, as LangGraph's ``bulk_update_state``: a list of
        supersteps, each a list of :class:`~streamflow.types.StateUpdate` ``(values, as_node, task_id)``; each
        superstep is saved as one checkpoint on top of the one before, as if its nodes had run in one step and
        returned those values (applied in order, a key without a reducer written once at most). Returns the
        config of the last checkpoint saved.

        In a superstep: several updates each name their node (``as_node``); a lone one may leave it to be
        inferred as :meth:`update_state` does. ``StateUpdate(values, "__input__")`` alone saves ``values`` as
        a new input (an ``"input"`` checkpoint whose next task is ``__start__``); ``StateUpdate(None, END)``
        alone applies the finished tasks' writes and leaves nothing to run; ``StateUpdate(values,
        "__copy__")`` alone copies the checkpoint (a ``"fork"`` with the same parent) and then applies
        ``values``, a list of ``(values, as_node)`` pairs, to the copy as one more superstep. Updates of an
        older checkpoint (``config`` with its ``checkpoint_id``) fork the thread from it.

        :raises InvalidArgumentError: (a ValueError) ``"No supersteps provided"``, ``"No updates provided"``
            for an empty superstep, or when the graph has no checkpointer or ``config`` has no ``thread_id``
        :raises InvalidUpdateError: ``"as_node is required when applying multiple updates"``, ``"Node <name>
            does not exist"``, ``"Ambiguous update, specify as_node"``, another update beside ``END``,
            ``"__input__"`` or ``"__copy__"``, a copy of a thread without checkpoints, an input of None, a key
            without a reducer written twice in a superstep, or values the state schema does not allow
        """
        return call_sync(self.abulk_update_state, config, supersteps, async_alternative="abulk_update_state()")

    async def abulk_update_state(
        self, config: Mapping[str, Any], supersteps: Sequence[Sequence[Any]]
    ) -> dict[str, Any]:
        """The async twin of :meth:`bulk_update_state`, with the same arguments, result and errors."""
        saver = self._saver()
        require_thread(config)
        return await update_thread(self, saver, config, supersteps)

    def get_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's snapshots, newest first, as LangGraph's ``get_state_history``: ``filter`` keeps
        those whose metadata has its entries, ``before`` (a config) those older than its checkpoint,
        ``limit`` the first that many.

        :raises InvalidArgumentError: (a ValueError) when the graph has no checkpointer or ``config`` has no
            ``thread_id``
        """
        saver = self._saver()
        require_thread(config)
        for saved in saver.list(
            _address(config), filter=None if filter is None else dict(filter), before=before, limit=limit
        ):
            yield self._snapshot(saved, saved.config, False)

    async def aget_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[StateSnapshot, None]:
        """The async twin of :meth:`get_state_history`."""
        saver = self._saver()
        require_thread(config)
        async for saved in saver.alist(
            _address(config), filter=None if filter is None else dict(filter), before=before, limit=limit
        ):
            yield self._snapshot(saved, saved.config, False)
