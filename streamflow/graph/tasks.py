"""A superstep's tasks (:func:`~streamflow.graph.pregel.execute`'s unit of work): what a task holds, how its
node is called, and what its result becomes: the writes a returned dict or ``Command`` makes, the input a
run's ``Command`` gives, and the updates a finished step applies in task order.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import (
    EmptyInputError,
    InvalidUpdateError,
    ParentCommand,
)
from ..interrupts import Interrupt
from ..messages import _converters, convert_foreign_values
from .constants import Command, Send
from .context import TaskContext
from .ids import new_id
from .runtime import Runtime, runtime_of
from .specs import Branch, GraphSpec, NodeSpec
from .state import ROOT
from .sync_code import run_sync_code

__all__: list[str] = []


@attrs.define(slots=True, eq=False)
class _Task:
    node: NodeSpec
    input: Any
    triggers: tuple[str, ...]
    path: tuple[Any, ...]
    _id: str | None = None
    """The task's id once it has one: a checkpointer's run sets it from the step's checkpoint
    (:func:`~streamflow.graph.thread_config.task_id_for`); else a random one is taken when it is first read."""
    update: dict[str, Any] | None = None
    writes: list[tuple[str, Any]] | None = None
    """The node's writes one by one, when one key got more than one (a list of commands or of pairs)."""
    goto: list[str | Send] = attrs.field(factory=list)
    """Where the node's ``Command`` said to go, in addition to the edges."""
    done: bool = False
    slot: bool = False
    """The task holds one of its step's ``max_concurrency`` slots."""
    ctx: TaskContext | None = None
    """The context the task's node ran in, once it started: its conditional edges route in it too."""
    routes: list[tuple[Branch, list[Any]]] | None = None
    """Where each conditional edge of the task's node goes (routed inside the task, see
    :func:`~streamflow.graph.routing._route_in_task`), once the node returned; None for a node without any."""
    interrupts: tuple[Any, ...] | None = None
    """The interrupts the task's node paused on (``interrupt()`` without an answer), or None."""

    @property
    def id(self) -> str:
        """The task's id (a random one taken when first read, unless set before: a checkpointer's run sets
        it)."""
        task_id = self._id
        if task_id is None:
            task_id = self._id = new_id()
        return task_id

    @id.setter
    def id(self, value: str) -> None:
        self._id = value


def _is_command_output(out: Any) -> bool:
    """Whether a node's return value ``out`` is a ``Command`` or a list holding one."""
    return isinstance(out, Command) or (isinstance(out, (list, tuple)) and any(isinstance(i, Command) for i in out))


def _shown_interrupts(paused: Mapping[str, Any] | None, task_id: str) -> tuple[dict[str, Any], ...]:
    """The interrupts task ``task_id`` paused on (``paused``: a checkpoint's interrupt writes by task id) as a
    checkpoint record's task shows them."""
    if not paused or task_id not in paused:
        return ()
    found = paused[task_id]
    return tuple(
        {
            "value": getattr(i, "value", None),
            "id": getattr(i, "id", None),
            "response_schema": getattr(i, "response_schema", None),
        }
        for i in (found if isinstance(found, (list, tuple)) else (found,))
    )


def _interrupt_dict(item: Any) -> dict[str, Any]:
    """An interrupt as the events carry it: ``{"value", "id"}``."""
    if isinstance(item, Interrupt):
        return item.to_dict()
    return {"value": getattr(item, "value", item), "id": getattr(item, "id", "")}


def _take_result(graph: GraphSpec, task: _Task, out: Any, ns: tuple[str, ...]) -> dict[str, Any] | None:
    """Read a node's return value ``out`` into ``task`` (its ``update``, and its ``writes`` and ``goto`` when
    it returned commands) and return the update, as LangGraph reads a node's result.

    A ``Command``, or a list holding at least one, gives its updates and its ``goto`` targets in order (plain
    updates in the list count as well); a ``Send`` is a goto; anything else is a plain update
    (:meth:`StateSchema.check_update`).

    :raises ParentCommand: for a ``Command(graph=Command.PARENT)``, its ``graph`` naming this graph (``ns``)
    :raises InvalidUpdateError: for an update the state schema does not take
    """
    schema = graph.schema
    if _converters and out.__class__ is dict:  # another library's messages become streamflow's (a bridge's)
        out = convert_foreign_values(out)
    if out.__class__ is dict and schema.takes_as_is(out):  # the common case: a plain update of state keys
        task.update = out or None
        return task.update
    who = f"node {task.node.name!r}"
    if isinstance(out, Command):
        items: Sequence[Any] = (out,)
    elif isinstance(out, (list, tuple)) and any(isinstance(item, Command) for item in out):
        items = out
    elif isinstance(out, Send):  # LangGraph runs a Send a node returns, as Command(goto=send)
        task.goto.append(out)
        return None
    else:
        task.update = schema.check_update(out, who)
        return task.update
    writes: list[tuple[str, Any]] = []
    for item in items:
        if not isinstance(item, Command):
            writes.extend((schema.check_update(item, who) or {}).items())
            continue
        if item.graph == Command.PARENT:
            parent = "|".join(part.partition(":")[0] for part in ns)
            raise ParentCommand(dataclasses.replace(item, graph=parent))
        writes.extend(_command_writes(schema, item, who))
        goto = item.goto
        task.goto.extend([goto] if isinstance(goto, (str, Send)) else goto)
    if len({key for key, _ in writes}) < len(writes):
        written: set[str] = set()
        for key, _ in writes:
            if key in written and key not in schema.reducers:
                raise InvalidUpdateError(
                    f"At key '{key}': Can receive only one value per step. Use an Annotated key to handle "
                    f"multiple values. ({who} wrote it more than once in one update; give it a reducer: "
                    "Annotated[type, reducer])"
                )
            written.add(key)
        task.writes = writes
    task.update = dict(writes) or None
    return task.update


def _command_writes(schema: Any, command: Command[Any], who: str) -> list[tuple[str, Any]]:
    """``command``'s update as ``(key, value)`` pairs of state keys.

    :raises InvalidUpdateError: for a key outside the state schema, or an update of a keyed state that is
        neither a dict, a list of pairs nor an object with annotated attributes
    """
    update = command.update
    pairs = list(command._update_as_tuples())
    if not schema.root and len(pairs) == 1 and pairs[0][0] == ROOT and pairs[0][1] is update:
        raise InvalidUpdateError(
            f"{who} returned Command(update={update!r}); expected a dict with keys among {list(schema.keys)}, "
            "a list of (key, value) pairs or an object with annotated attributes"
        )
    bad = [key for key, _ in pairs if key not in schema.keys]
    if bad:
        raise InvalidUpdateError(
            f"{who} returned a Command whose update has unknown key(s) {bad}; the state schema "
            f"{getattr(schema.schema, '__name__', schema.schema)} allows {list(schema.keys)}"
        )
    return pairs


def _command_for(exc: ParentCommand, ns: tuple[str, ...], name: str, task_id: str) -> Command[Any]:
    """The command of ``exc`` when it is for this task's graph level (its ``graph`` names the task, as
    LangGraph matches it: the task's namespace, with or without task ids, or its node name).

    :raises ParentCommand: ``exc`` again otherwise (a ``graph`` of ``Command.PARENT`` raised by user code is
        aimed at the parent of this task's graph first)
    """
    command = exc.args[0]
    if command.graph == Command.PARENT:
        exc.args = (dataclasses.replace(command, graph="|".join(part.partition(":")[0] for part in ns)),)
        raise exc
    full = (*ns, f"{name}:{task_id}")
    if command.graph in ("|".join(full), "|".join(part.partition(":")[0] for part in full), name):
        return dataclasses.replace(command, graph=None)
    raise exc


def _shown_writes(graph: GraphSpec, writes: list[tuple[str, Any]], keys: tuple[str, ...]) -> Any:
    """An ``updates`` chunk's value for a node that wrote a key more than once: one entry per write of a
    shown key (one value per write for a root state), as LangGraph shows it; None when no key is shown."""
    if graph.schema.root:
        shown: list[Any] = [value for _, value in writes]
    else:
        shown = [{key: value} for key, value in writes if key in keys]
    if not shown:
        return None
    return shown[0] if len(shown) == 1 else shown


async def _call(node: NodeSpec, state: Any, ctx: TaskContext) -> Any:
    kwargs: dict[str, Any] = {}
    if node.takes_config:
        kwargs["config"] = ctx.config()
    if node.writer_param is not None:
        kwargs[node.writer_param] = ctx.writer
    if node.injected:
        _inject(kwargs, node.injected, runtime_of(ctx))
    if node.is_async:
        return await node.fn(state, **kwargs)
    call = functools.partial(node.fn, state, **kwargs)
    return await run_sync_code(ctx, call, "node", node.name)


def _inject(kwargs: dict[str, Any], names: tuple[str, ...], runtime: Runtime[Any]) -> None:
    """Put ``runtime`` (and its ``store`` and ``previous``, both None) in ``kwargs`` under ``names``."""
    for name in names:
        kwargs[name] = runtime if name == "runtime" else getattr(runtime, name)


def _check_input_given(graph_input: Any, nested: bool) -> None:
    """Refuse a run with no input, as LangGraph refuses it without a checkpoint to resume from.

    :raises EmptyInputError: for a None ``graph_input`` of a graph that is not run as a subgraph
    """
    if graph_input is None and not nested:
        raise EmptyInputError(
            "Received no input for __start__ (a run without a checkpoint to resume needs an input: a dict of "
            "state keys, or the root value)"
        )


def _command_input(graph: GraphSpec, command: Command[Any], *, checkpointer: bool) -> tuple[Any, list[str | Send]]:
    """The input a ``Command`` given as a run's input stands for, and where it says to go in the first step
    (beside START's edges), as LangGraph reads it when it does not resume an interrupted run. LangGraph
    applies its update twice (as the input, then again as its START node's write), so a key with a reducer
    gets it twice.

    :raises RuntimeError: for ``Command(resume=...)`` without a ``checkpointer`` (LangGraph's error); with one
        (a new thread: nothing to resume) the resume value is left unused, as LangGraph leaves it
    :raises InvalidUpdateError: for ``Command(graph=Command.PARENT)`` (there is no parent graph) or an update
        the state schema does not take
    """
    if command.graph == Command.PARENT:
        raise InvalidUpdateError("There is no parent graph")
    if command.resume is not None and not checkpointer:
        raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
    pairs = _command_writes(graph.schema, command, "the graph input")
    goto = command.goto
    targets: list[str | Send] = [goto] if isinstance(goto, (str, Send)) else list(goto)
    if graph.schema.root:
        return (pairs[-1][1] if pairs else None), targets
    return dict(pairs), targets


def _updates(done: list[_Task]) -> list[tuple[str, dict[str, Any]]]:
    """``(writer, update)`` pairs of a step's tasks for :meth:`StateSchema.apply`: one per task, or one per
    write for a task that wrote a key more than once (each value goes through the key's reducer)."""
    if len(done) == 1 and done[0].writes is None:
        return [(f"node {done[0].node.name!r}", done[0].update or {})]
    return [
        (f"node {t.node.name!r}", update)
        for t in done
        for update in ([t.update or {}] if t.writes is None else [{key: value} for key, value in t.writes])
    ]


def _wrote_any(done: list[_Task], keys: tuple[str, ...]) -> bool:
    """Whether a task of ``done`` wrote one of ``keys``."""
    for task in done:
        if task.update:
            for key in task.update:
                if key in keys:
                    return True
    return False


def _finished(
    by_path: list[_Task],
) -> tuple[list[str], list[list[tuple[Branch, list[Any]]] | None], list[list[str | Send]]]:
    """The node names, routes and gotos of a step's tasks (by task path), as
    :func:`~streamflow.graph.routing._successors` takes them."""
    if len(by_path) == 1:
        task = by_path[0]
        return [task.node.name], [task.routes], [task.goto]
    return [t.node.name for t in by_path], [t.routes for t in by_path], [t.goto for t in by_path]


def _only(update: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The entries of ``update`` whose key is among ``keys`` (None when there are none)."""
    if not update:
        return update
    for k in update:
        if k not in keys:
            return {k: v for k, v in update.items() if k in keys} or None
    return update
