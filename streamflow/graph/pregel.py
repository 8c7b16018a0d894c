"""Executing a graph: supersteps of concurrent tasks, reducers applied at each step's end.

This module only publishes events; how they look to a user is the views' business. One superstep:
publish ``TaskStarted`` for each triggered task, run the tasks concurrently (sync nodes off the loop, see
:func:`~streamflow.graph.sync_code.run_sync_code`), publish ``StateUpdate`` and ``TaskFinished`` for each
as it completes, then apply every update with the reducers in task order, publish ``StateValues`` when a
task wrote a state key, and work out the next step's tasks from the edges. A failing task cancels its
siblings (their sync code is abandoned and told so, see :mod:`streamflow.graph.cancellation`) and the run
fails with its exception.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import anyio
import attrs

from ..checkpoint.base import ERROR, INTERRUPT, BaseCheckpointSaver
from ..errors import (
    EmptyInputError,
    GraphInterrupt,
    GraphRecursionError,
    InvalidGraphError,
    InvalidUpdateError,
    ParentCommand,
    UnknownInterruptError,
    is_invalid_resume,
)
from ..events import (
    EMPTY_METADATA,
    CheckpointSaved,
    Interrupted,
    Resumed,
    StateUpdate,
    StateValues,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    error_type_name,
)
from ..interrupts import Interrupt, is_resume_map
from .cancellation import NEVER_CANCELLED, CancelFlag
from .constants import END, START, Command, Send
from .context import RunContext, TaskContext, Writer, _current
from .interrupts import RunResume, Scratchpad
from .persistence import (
    BREAKPOINT_KEYS,
    SENDS,
    START_CHANNEL,
    Thread,
    durability_of,
    next_paths,
    subgraph_ns_part,
    task_id_for,
)
from .runtime import Runtime, route_runtime, runtime_of
from .specs import Branch, GraphSpec, NodeSpec, node_name
from .state import ROOT
from .sync_code import run_sync_code
from .task_writes import folded_writes

__all__ = ["execute"]


def _new_task_id() -> str:
    """A random task id: the string of a version 4 UUID, as ``str(uuid.uuid4())`` gives it, in half the time
    (without building a ``UUID``)."""
    bits = int.from_bytes(os.urandom(16), "big") & _UUID4_KEEP | _UUID4_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID4_KEEP = 0xFFFFFFFF_FFFF_0FFF_3FFF_FFFFFFFFFFFF
"""The bits of a random 128-bit number a version 4 UUID keeps: all but the version and variant bits."""
_UUID4_SET = 0x00000000_0000_4000_8000_000000000000
"""Version 4, variant RFC 4122."""


@attrs.define(slots=True, eq=False)
class _Task:
    node: NodeSpec
    input: Any
    triggers: tuple[str, ...]
    path: tuple[Any, ...]
    id: str = attrs.field(factory=_new_task_id)
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
    """Where each conditional edge of the task's node goes (routed inside the task, see :func:`_route_in_task`),
    once the node returned; None for a node without any."""
    interrupts: tuple[Any, ...] | None = None
    """The interrupts the task's node paused on (``interrupt()`` without an answer), or None."""


class _Step:
    """The tasks of one superstep of one graph level, and how to run them."""

    def __init__(
        self,
        graph: GraphSpec,
        run: RunContext,
        ns: tuple[str, ...],
        step: int,
        shown: tuple[str, ...],
        state: dict[str, Any] | None = None,
        thread: Thread | None = None,
    ) -> None:
        self.thread = thread
        self.graph = graph
        self.state = state
        """The state before the step (what a task's conditional edges read, with the task's own writes)."""
        self.run = run
        self.ns = ns
        self.step = step
        self.shown = shown
        self.slots: anyio.Semaphore | None = None
        """Caps how many of the step's tasks run at once (``config["max_concurrency"]``), or None."""

    def limit(self, tasks: list[_Task]) -> None:
        """Let at most ``config["max_concurrency"]`` of ``tasks`` run their node at once, as LangGraph does:
        each task still starts (``TaskStarted``) and then waits for a slot (:meth:`take_slot`)."""
        limit = self.run.config.get("max_concurrency")
        if limit is not None and len(tasks) > limit:
            self.slots = anyio.Semaphore(limit)

    async def take_slot(self, task: _Task) -> None:
        """Wait for a slot to run ``task`` when the step is capped; :meth:`run_all` gives it back."""
        if self.slots is not None:
            await self.slots.acquire()
            task.slot = True

    async def run_all(self, tasks: list[_Task]) -> None:
        if len(tasks) == 1:
            await self.run_task(tasks[0])  # it takes the place of the task (or run) running this step
            return
        self.limit(tasks)
        run = self.run
        # These tasks take the place of the task (or run) that runs this step, until they are all done.
        run.tasks_in_flight += len(tasks) - 1
        unfinished = len(tasks)
        failure: list[BaseException] = []
        up: list[ParentCommand] = []
        late: list[BaseException] = []

        async def guarded(task: _Task) -> None:
            nonlocal unfinished
            try:
                await self.run_task(task)
            except ParentCommand as exc:  # as in LangGraph, the siblings finish before it goes up
                up.append(exc)
            except Exception as exc:
                if is_invalid_resume(exc):
                    # an answer that does not fit its interrupt's schema: as in LangGraph, the siblings finish
                    # (a sibling answered in the same resume keeps its work) and then the run fails with it
                    late.append(exc)
                    return
                if not failure:
                    failure.append(exc)
                    if run.stop_reason is None:
                        run.stop_reason = f"node {task.node.name!r} failed with {exc!r}"
                tg.cancel_scope.cancel()
            finally:
                unfinished -= 1
                run.tasks_in_flight -= 1
                if task.slot and self.slots is not None:
                    self.slots.release()

        try:
            async with anyio.create_task_group() as tg:
                for task in tasks:
                    tg.start_soon(guarded, task)
        finally:
            run.tasks_in_flight += 1 - unfinished  # a task cancelled before it began never counted itself out
        if failure:
            raise failure[0]
        if late:
            raise late[0]
        if up:
            raise up[0]

    async def run_task(self, task: _Task) -> None:
        run = self.run
        channel = run.channel
        node = task.node
        name = node.name
        ns, step, task_id, tags = self.ns, self.step, task.id, run.tags
        if channel.wants(TaskStarted):
            await channel.publish(
                TaskStarted(
                    ns=ns,
                    node=name,
                    step=step,
                    task_id=task_id,
                    tags=tags,
                    input=task.input,
                    triggers=task.triggers,
                    path=task.path,
                    metadata=run.call_metadata or EMPTY_METADATA,
                )
            )
        if self.slots is not None:
            await self.take_slot(task)
        flag = NEVER_CANCELLED if node.is_async or node.is_subgraph else CancelFlag()
        writer = Writer(run, ns, name, step, task_id, flag)
        ctx = task.ctx = TaskContext(run, ns, name, step, task_id, task.triggers, task.path, writer, flag)
        task_ns = "|".join((*ns, f"{name}:{task_id}"))
        if self.thread is not None and self.thread.saved is not None:
            ctx.checkpoint_id = self.thread.saved.config["configurable"]["checkpoint_id"]
        answers = [] if self.thread is None else self.thread.answers(task_id)
        scratch = ctx.scratchpad = Scratchpad(task_ns, answers, run.resume)
        token = _current.set(ctx)
        paused: GraphInterrupt | None = None
        from_below = False  # the result is a Command a graph run by the node sent up (Command.PARENT)
        try:
            try:
                if node.is_subgraph:
                    sub: GraphSpec = node.fn
                    sub_ns = (*ns, subgraph_ns_part(sub, name, task_id))
                    output = await execute(sub, task.input, run, sub_ns, nested=True)
                    out: Any = self.graph.schema.project(output)
                else:
                    out = await _call(node, task.input, ctx)
            except ParentCommand as exc:
                out = _command_for(exc, ns, name, task_id)
                from_below = True
            update = _take_result(self.graph, task, out, ns)
            if self.state is not None and name in self.graph.branches_from:
                task.routes = await _route_in_task(self.graph, node, self.state, update, ctx)
        except ParentCommand:
            raise  # on its way to the parent graph: not a failure of this task (nor LangGraph's)
        except GraphInterrupt as exc:
            paused = exc  # the task pauses: not a failure, its siblings go on
        except Exception as exc:
            if self.thread is not None:
                await self.thread.put_error(task_id, exc)
            if channel.wants(TaskFailed):
                channel.publish_soon(
                    TaskFailed(
                        ns=ns,
                        node=name,
                        step=step,
                        task_id=task_id,
                        tags=tags,
                        error_type=error_type_name(exc),
                        error_message=str(exc),
                    )
                )
            raise
        finally:
            _current.reset(token)
        if paused is not None:
            await self.pause(task, paused, scratch)
            return
        task.update = update
        task.done = True
        if self.thread is not None:
            await self.thread.put_writes(task_id, update if task.writes is None else task.writes, step=True)
        if channel.wants(StateUpdate):
            if task.writes is None:
                shown = _only(update, self.shown)
                if self.graph.schema.root:
                    shown = self.graph.schema.unwrap(shown)
            else:
                shown = _shown_writes(self.graph, task.writes, self.shown)
            await channel.publish(StateUpdate(ns=ns, node=name, step=step, task_id=task_id, tags=tags, update=shown))
        if channel.wants(TaskFinished):
            result = update if task.writes is None else folded_writes(task.writes)
            returned = None if from_below or out.__class__ is dict or not _is_command_output(out) else out
            await channel.publish(
                TaskFinished(
                    ns=ns,
                    node=name,
                    step=step,
                    task_id=task_id,
                    tags=tags,
                    result=result,
                    output=returned,
                    sent_up=from_below,
                )
            )

    async def pause(self, task: _Task, exc: GraphInterrupt, scratch: Scratchpad) -> None:
        """Record that ``task`` paused on the interrupts of ``exc``: saved against the step's checkpoint (with
        the answers the task used so far) and published as :class:`~streamflow.events.Interrupted`."""
        interrupts = tuple(exc.args[0]) if exc.args else ()
        task.interrupts = interrupts
        task.done = True
        if self.thread is not None:
            await self.thread.put_interrupt(task.id, interrupts, scratch.used)
        channel = self.run.channel
        if interrupts and channel.wants(Interrupted):  # a subgraph's breakpoint shows at the root only
            values = None if self.state is None else self.graph.schema.values(self.state, self.shown)
            await channel.publish(
                Interrupted(
                    ns=self.ns,
                    node=task.node.name,
                    step=self.step,
                    task_id=task.id,
                    tags=self.run.tags,
                    interrupts=[_interrupt_dict(i) for i in interrupts],
                    values=values,
                )
            )


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


def _task_path(task: _Task) -> tuple[Any, ...]:
    return task.path


async def _route_in_task(
    graph: GraphSpec, node: NodeSpec, state: dict[str, Any], update: dict[str, Any] | None, ctx: TaskContext
) -> list[tuple[Branch, list[Any]]]:
    """Route ``node``'s conditional edges inside its task, as LangGraph does: each path function reads the state
    before the step with this task's own ``update`` applied (not the writes of the step's other tasks), and
    what it writes to its stream writer comes before the task's update."""
    schema = graph.schema
    local = dict(state)
    if update:
        for key in update:
            if key in local:
                local[key] = copy.copy(local[key])  # a reducer that changes its first argument in place
        schema.apply(local, [(f"node {node.name!r}", update)])
    whole = schema.view(local)
    output = schema.unwrap(update)
    routed = []
    for branch in graph.branches_from[node.name]:
        routed.append((branch, await _route(branch, branch.view(local, node, whole, output), ctx.run, ctx)))
    return routed


def _entry_context(run: RunContext, ns: tuple[str, ...]) -> TaskContext:
    """The context a conditional edge from ``START`` routes in: LangGraph's hidden ``__start__`` task."""
    task_id = str(uuid.uuid4())
    writer = Writer(run, ns, START, 0, task_id, NEVER_CANCELLED)
    return TaskContext(run, ns, START, 0, task_id, (START,), ("__pregel_pull", START), writer, NEVER_CANCELLED)


async def _route(branch: Branch, state_view: Any, run: RunContext, ctx: TaskContext | None = None) -> list[Any]:
    """Call ``branch``'s path function with ``state_view`` in ``ctx``, its source task's context (as LangGraph
    routes inside the task: ``get_runtime()``, ``get_config()`` and the ``runtime`` parameter are the
    task's), and return where it goes."""
    kwargs: dict[str, Any] = {}
    if branch.injected:
        runtime = runtime_of(ctx) if ctx is not None else route_runtime(run.context, run.config)
        _inject(kwargs, branch.injected, runtime)
    token = _current.set(ctx) if ctx is not None else None
    try:
        result = branch.path(state_view, **kwargs)
        if branch.is_async or hasattr(result, "__await__"):
            result = await result
    finally:
        if token is not None:
            _current.reset(token)
    if isinstance(result, (str, Send)) or not isinstance(result, Iterable):
        result = [result]
    out: list[Any] = []
    for value in result:
        if isinstance(value, Send):
            out.append(value)
            continue
        target = node_name(value)
        if branch.path_map is not None:
            try:
                target = node_name(branch.path_map[value])
            except (KeyError, TypeError):
                raise InvalidGraphError(
                    f"conditional edge {branch.name!r} from {branch.source!r} returned {value!r}, which its "
                    f"path map does not have; the map's keys are {list(branch.path_map)}"
                ) from None
        out.append(target)
    _check_destinations(branch, out)
    return out


def _check_destinations(branch: Branch, destinations: list[Any]) -> None:
    """Refuse what LangGraph refuses among a path function's destinations (in its words).

    :raises InvalidGraphError: for None or ``START`` (``"Branch did not return a valid destination"``)
    :raises InvalidUpdateError: for a ``Send`` to ``END`` (``"Cannot send a packet to the END node"``)
    """
    where = f"conditional edge {branch.name!r} from {branch.source!r}"
    for target in destinations:
        if not isinstance(target, Send) and (target is None or target == START):
            raise InvalidGraphError(
                f"Branch did not return a valid destination: {where} returned {target!r}; return a node name, "
                "END, a Send or a list of them"
            )
    if any(isinstance(target, Send) and target.node == END for target in destinations):
        raise InvalidUpdateError(f"Cannot send a packet to the END node ({where} sent one to END)")


async def _successors(
    graph: GraphSpec,
    finished: list[str],
    state: dict[str, Any],
    joins_seen: dict[int, set[str]],
    run: RunContext,
    outputs: list[Any] | None = None,
    contexts: list[TaskContext | None] | None = None,
    routes: list[list[tuple[Branch, list[Any]]] | None] | None = None,
    gotos: Sequence[Sequence[str | Send]] = (),
) -> list[_Task]:
    """Tasks of the next superstep, given the nodes that just finished (by task path, the order LangGraph
    applies their writes in) and what each returned (``outputs``, the same length, or None; see
    :meth:`Branch.view`), their path functions called in the finished tasks' ``contexts`` (the same length,
    or None), unless ``routes`` (the same length, or None) holds where a task's conditional edges already
    went (:func:`_route_in_task`), and where each went with a ``Command`` (``gotos``, the same length, or
    empty). As LangGraph 1.2 prepares them: the tasks ``Send`` started first, in the
    order sent, then one task per triggered node, by node name.

    A pulled task's triggers are LangGraph 1.2's: every channel its node listens to, sorted, whichever of
    them fired: ``branch:to:<node>`` (plain and conditional edges, and START), then ``join:<a>+<b>:<node>``
    for each fan-in edge ending at the node. A task started by ``Send`` has ``("__pregel_push",)``."""
    pulls: dict[str, None] = {}
    pushes: list[_Task] = []
    nodes = graph.nodes
    state_view = None

    def pull(target: str) -> None:
        if target != END:
            pulls[target] = None

    for position, source in enumerate(finished):
        for target in graph.edges_from.get(source, ()):
            if target != END:
                pulls[target] = None
        for index, (starts, target) in graph.joins_with.get(source, ()):
            seen = joins_seen.setdefault(index, set())
            seen.add(source)
            if seen.issuperset(starts):
                seen.clear()
                pull(target)
        if position < len(gotos) and gotos[position]:
            _go(graph, source, gotos[position], pull, pushes)
        routed = routes[position] if routes is not None else None
        if routed is None and source in graph.branches_from:
            routed = []
            for branch in graph.branches_from.get(source, ()):
                if state_view is None:
                    state_view = graph.schema.view(state)
                output = outputs[position] if outputs is not None else None
                path_input = branch.view(state, nodes.get(source), state_view, output)
                ctx = contexts[position] if contexts is not None else None
                routed.append((branch, await _route(branch, path_input, run, ctx)))
        for branch, targets in routed or ():
            for target in targets:
                if isinstance(target, Send):
                    if target.node not in nodes:
                        raise InvalidGraphError(
                            f"conditional edge {branch.name!r} from {branch.source!r} sent to unknown node "
                            f"{target.node!r}; known nodes: {sorted(nodes)}"
                        )
                    pushes.append(
                        _Task(nodes[target.node], target.arg, ("__pregel_push",), ("__pregel_push", len(pushes)))
                    )
                elif target != END and target not in nodes:
                    raise InvalidGraphError(
                        f"conditional edge {branch.name!r} from {branch.source!r} returned {target!r}, which is "
                        f"not a node; known nodes: {sorted(nodes)} (or END)"
                    )
                else:
                    pull(target)
    names = sorted(pulls) if len(pulls) > 1 else pulls
    tasks = [_Task(nodes[name], None, _pull_triggers(graph, name), ("__pregel_pull", name)) for name in names]
    return pushes + tasks if pushes else tasks


def _hold_deferred(tasks: list[_Task], held: dict[str, _Task]) -> list[_Task]:
    """The tasks to run next, holding back pulled tasks of deferred nodes (``add_node(..., defer=True)``) in
    ``held`` until no other task is left: then the held ones run, as LangGraph runs a deferred node once the
    run would otherwise finish. A node triggered again while held still runs once; a ``Send`` to a deferred
    node is not held (LangGraph defers only the node's edge channels)."""
    if not held:
        for task in tasks:
            if task.node.defer:
                break
        else:
            return tasks
    ready: list[_Task] = []
    for task in tasks:
        if task.node.defer and task.path[0] == "__pregel_pull":
            held.setdefault(task.node.name, task)
        else:
            ready.append(task)
    if not ready and held:
        ready = list(held.values())
        held.clear()
    return ready


def _go(
    graph: GraphSpec, source: str, targets: Sequence[str | Send], pull: Callable[[str], None], pushes: list[_Task]
) -> None:
    """Add the tasks a ``Command(goto=targets)`` returned by node ``source`` asks for: a pull for a node name
    (END adds nothing), a push for a :class:`Send`.

    :raises InvalidGraphError: for a target that is not a node of ``graph`` (LangGraph ignores such a target
        with a logged warning)
    """
    nodes = graph.nodes
    for target in targets:
        node = target.node if isinstance(target, Send) else target
        if node == END and not isinstance(target, Send):
            continue
        if not isinstance(node, str) or node not in nodes:
            raise InvalidGraphError(
                f"node {source!r} returned Command(goto={target!r}), which is not a node; known nodes: "
                f"{sorted(nodes)} (or END)"
            )
        if isinstance(target, Send):
            pushes.append(_Task(nodes[node], target.arg, ("__pregel_push",), ("__pregel_push", len(pushes))))
        else:
            pull(node)


def _pull_triggers(graph: GraphSpec, name: str) -> tuple[str, ...]:
    """The channels node ``name`` listens to, as LangGraph 1.2 names them, sorted (see :func:`_successors`)."""
    if not graph.joins_with:
        return (f"branch:to:{name}",)
    joins = {
        f"join:{'+'.join(starts)}:{name}"
        for entries in graph.joins_with.values()
        for _index, (starts, target) in entries
        if target == name
    }
    return tuple(sorted({f"branch:to:{name}", *joins}))


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
    """The node names, routes and gotos of a step's tasks (by task path), as :func:`_successors` takes them."""
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
    """What :func:`execute` does with a thread: read the state it continues from, save checkpoints."""

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

    async def save(
        self,
        source: str,
        step: int,
        state: dict[str, Any],
        tasks: list[_Task],
        joins_seen: dict[int, set[str]],
        updated: Iterable[str],
        start: Any = None,
        wrote: Iterable[str] = (),
    ) -> None:
        """Save a checkpoint of ``state`` whose next tasks are ``tasks`` (their ids set from it), and publish
        :class:`~streamflow.events.CheckpointSaved` for it."""
        thread = self.thread
        checkpoint_id = thread.next_id(step)
        ns_name = thread.checkpoint_ns
        for task in tasks:
            task.id = task_id_for(checkpoint_id, ns_name, step + 1, task.path)
        values = self.channels(state, tasks, joins_seen)
        changed = list(updated) + [f"branch:to:{t.node.name}" for t in tasks if t.path[0] == "__pregel_pull"]
        # the Send packets and the fan-in halves of the next step change with every step that has them: a new
        # version each time, or a saver that keeps values by version would hand back an older step's
        if SENDS in values:
            changed.append(SENDS)
        changed += [self.joins[index] for index, seen in joins_seen.items() if seen]
        start_id = None
        if start is not None:
            values[START_CHANNEL] = start
            start_id = task_id_for(checkpoint_id, ns_name, step + 1, ("__pregel_pull", START_CHANNEL))
            changed.append(START_CHANNEL)
        config, metadata, parent = await thread.save(checkpoint_id, source, step, values, changed, wrote)
        if self.run.channel.wants(CheckpointSaved):
            names, ids = self.listed(tasks) if start_id is None else ([START_CHANNEL], [start_id])
            await self.announce(state, config, parent, metadata, names, ids)
        if start_id is not None:
            await thread.put_writes(start_id, self.graph.schema.check_input(start))


async def execute(
    graph: GraphSpec, graph_input: Any, run: RunContext, ns: tuple[str, ...], *, nested: bool = False
) -> Any:
    """Run ``graph`` from ``graph_input`` to the end, publishing its events under namespace ``ns``.

    As in LangGraph, a ``StateValues`` event (a ``values`` chunk) follows the input and each superstep that
    wrote at least one state key shown: an input that sets no key (``{}``, only keys outside the input
    schema), or a step whose nodes all returned None or ``{}``, gives none. Every state key is shown, except
    in a ``nested`` run (a subgraph), or in the graph at the run's ``output_ns`` (what ``invoke()`` runs with
    a ``stream_mode``), which show the output schema's keys only, in ``StateValues`` and in
    ``StateUpdate`` events (an update with none of them shows as None), as LangGraph streams a subgraph, or
    streams for ``invoke()``.

    A root graph with a checkpointer (``graph.checkpointer``) continues the thread ``run.config`` names and
    saves a checkpoint after its input and each superstep (see :mod:`streamflow.graph.persistence`); an input
    of None resumes the thread's pending tasks, those whose writes were saved are not run again. A graph run
    under a namespace ``ns`` inside such a run (a subgraph) saves checkpoints of its own under it, unless it
    was compiled with ``checkpointer=False``.

    A ``Command`` as ``graph_input`` stands for its update and goto (see :func:`_command_input`); a node's
    ``Command`` is read by :func:`_take_result`.

    A task that calls ``interrupt()`` without an answer pauses (:meth:`_Step.pause`); the run ends after its
    step (:func:`_paused`). A ``Command`` input on a thread with checkpoints continues it, as LangGraph's
    (:func:`_resume_input`): its update applies, the thread's pending tasks run again with the nodes its goto
    names, and ``interrupt()`` returns the answers its ``resume`` gives.

    :returns: the run's result: the output schema's keys of the state after the last input or step that
        wrote one of them (the root value for a root state), or None when none did (as LangGraph's
        ``invoke`` returns None then)
    :raises EmptyInputError: for a None ``graph_input`` (not ``nested``), as LangGraph raises it
    :raises InvalidUpdateError: for an input or node update the schema does not allow
    :raises InvalidGraphError: for a conditional edge or a ``Command(goto=...)`` naming an unknown node
    :raises ParentCommand: for ``Command(graph=Command.PARENT)`` returned by a node of a root graph
    :raises GraphInterrupt: from a graph run under a namespace (a subgraph) whose task paused, to the task
        running it (a root graph returns instead, the interrupts in ``run.interrupts``)
    :raises UnknownInterruptError: for a resume map naming an interrupt id the thread does not wait on
    :raises GraphRecursionError: when a step beyond ``recursion_limit`` would run
    :raises InvalidArgumentError: (a ValueError) with a checkpointer, for a config without a ``thread_id``
    :raises EmptyInputError: for an input of None on a thread that has no checkpoint
    :raises CheckpointSerializationError: for a state value the checkpointer cannot store, naming its key
    :raises RuntimeError: for a root graph compiled with ``checkpointer=True`` (LangGraph's message), or a
        ``Command(resume=...)`` input (see :func:`_command_input`)
    :raises Exception: whatever a node raised, unchanged
    """
    schema = graph.schema
    shown = schema.output_keys if nested or run.output_ns == ns else schema.keys
    state = schema.start()
    joins_seen: dict[int, set[str]] = {}
    own = getattr(graph, "checkpointer", None)
    if ns or not isinstance(own, BaseCheckpointSaver):
        _check_input_given(graph_input, nested)  # with a checkpointer, None resumes the thread
    enclosing = _enclosing.get() if ns else None
    thread: Thread | None = None
    if not ns and own is True:
        raise RuntimeError("checkpointer=True cannot be used for root graphs.")  # LangGraph's error
    if not ns and isinstance(own, BaseCheckpointSaver):
        thread = await Thread.open(own, run.config, durability_of(run.config))
        thread.write_behind()  # with durability="async": saved while the run goes on (flushed below)
    elif enclosing is not None and own is not False:
        # a subgraph (or a graph run inside a node) of a run that saves checkpoints: its own, under its namespace
        saver = own if isinstance(own, BaseCheckpointSaver) else None
        thread = enclosing.thread.child("|".join(ns), run.config, saver)
        if own is True:
            # checkpoints of its own, under the node's name: it continues its thread's state run after run
            thread.keep_at_exit = True
            await thread.load()
            if thread.saved is not None and next_paths(thread.channel_values, list(graph.nodes)):
                graph_input = None  # it did not finish: it resumes
        else:
            # with durability="exit" too: a subgraph that paused kept its last checkpoint (see below)
            await thread.load()
            if thread.saved is not None:
                graph_input = None  # the task ran before and did not finish: the subgraph resumes, as LangGraph's
    if thread is None:
        token = _enclosing.set(None)
        try:
            return await _run(graph, graph_input, run, ns, shown, state, joins_seen, None)
        finally:
            _enclosing.reset(token)
    saving = _Saving(graph, thread, run, ns, shown)
    saving.restore(state, joins_seen)
    if not ns and isinstance(graph_input, Command) and thread.saved is not None:
        await _resume_input(saving, graph_input, run, state)
        graph_input = None  # the run goes on from the thread's checkpoint
    token = _enclosing.set(saving)
    try:
        return await _run(graph, graph_input, run, ns, shown, state, joins_seen, saving)
    except GraphInterrupt:
        # with durability="exit", a subgraph that paused keeps its last checkpoint, to resume from (LangGraph's)
        thread.keep_at_exit = True
        raise
    finally:
        _enclosing.reset(token)
        await thread.flush()


async def _run(
    graph: GraphSpec,
    graph_input: Any,
    run: RunContext,
    ns: tuple[str, ...],
    shown: tuple[str, ...],
    state: dict[str, Any],
    joins_seen: dict[int, set[str]],
    saving: _Saving | None,
) -> Any:
    schema = graph.schema
    channel = run.channel
    output_keys = schema.output_keys
    wrote_output = False  # an input or step wrote an output key: the result is the state's output at the end
    pending: dict[str, list[tuple[str, Any]]] = {}
    held: dict[str, _Task] = {}
    start_step = 0
    if saving is not None and graph_input is None:
        thread = saving.thread
        if thread.saved is None:
            raise EmptyInputError(f"Received no input for {START}")
        tasks = saving.tasks()
        wrote_output = any(k in output_keys for k in state)
        if channel.wants(StateValues) and any(k in shown for k in state):
            # as LangGraph, a resumed run shows the state it resumes from first
            await channel.publish(
                StateValues(ns=ns, step=thread.step, tags=run.tags, values=schema.values(state, shown))
            )
        if thread.addressed and tasks and thread.step_source not in ("update", "fork"):
            # time travel: a fork of the addressed checkpoint starts the new branch, and every task runs again
            await saving.save("fork", thread.step + 1, state, tasks, joins_seen, ())
        else:
            pending = thread.pending()
            saved = thread.saved
            if saved is not None:
                # as LangGraph, the checkpoint it resumes from is streamed again
                names, ids = saving.listed(tasks)
                errors = {t: v for t, c, v in saved.pending_writes or () if c == ERROR}
                asked = {t: v for t, c, v in saved.pending_writes or () if c == INTERRUPT}
                await saving.announce(
                    state, saved.config, saved.parent_config, saved.metadata, names, ids, errors, asked
                )
        start_step = thread.step
    else:
        command = isinstance(graph_input, Command)
        if command:  # (on a thread with checkpoints, execute() made it a continuation: see _resume_input)
            graph_input, start_goto = _command_input(graph, graph_input, checkpointer=saving is not None)
        if saving is not None:
            start_step = saving.thread.step + 2
            await saving.save("input", start_step - 1, state, [], joins_seen, (), start=graph_input)
        first = schema.check_input(graph_input)
        if first:
            schema.apply(state, [("the graph input", first)])
            if command:  # LangGraph applies a Command input's update again when its START node runs
                schema.apply(state, [("the graph input", first)])
            if channel.wants(StateValues) and any(k in shown for k in first):
                await channel.publish(
                    StateValues(ns=ns, step=start_step, tags=run.tags, values=schema.values(state, shown))
                )
            if any(k in output_keys for k in first):
                wrote_output = True
        entry: list[TaskContext | None] | None = [_entry_context(run, ns)] if START in graph.branches_from else None
        gotos = [start_goto] if command else []
        tasks = _hold_deferred(
            await _successors(graph, [START], state, joins_seen, run, [graph_input], entry, gotos=gotos), held
        )
        if saving is not None:
            await saving.save("loop", start_step, state, tasks, joins_seen, first or (), wrote=[START])
    step = start_step + 1
    current = None if saving is None else saving.thread
    before, after = _breakpoints(graph, run, ns)
    resumed = saving is not None and graph_input is None  # no breakpoint before the tasks it resumes
    while True:
        # As LangGraph's loop, the limit is checked before it looks for tasks: a run that takes exactly
        # ``recursion_limit`` supersteps fails too, even when nothing is left to run.
        if step > start_step + run.recursion_limit:
            raise GraphRecursionError(
                f"Recursion limit of {run.recursion_limit} reached without hitting a stop condition. You can "
                "increase the limit by setting the `recursion_limit` config key.\nFor troubleshooting, visit: "
                "https://docs.langchain.com/oss/python/langgraph/errors/GRAPH_RECURSION_LIMIT"
            )
        if not tasks:
            break
        if before and not resumed and _hits(before, tasks):
            return await _breakpoint(run, ns, step, schema.output(state) if wrote_output else None)
        resumed = False
        state_view = schema.view(state)
        for task in tasks:
            if task.input is None:
                node_input = task.node.input
                task.input = state_view if node_input is None else node_input.view(state)
        if pending:
            for task in tasks:
                if task.id in pending:
                    _replayed(task, pending[task.id])
                    await _replay_cached(graph, run, ns, step, shown, task)
            pending = {}
        await _Step(graph, run, ns, step, shown, state, current).run_all([t for t in tasks if not t.done])
        paused = [t for t in tasks if t.interrupts is not None]
        if paused:
            return await _paused(
                graph, run, ns, step, shown, state, tasks, paused, schema.output(state) if wrote_output else None
            )
        # LangGraph applies a step's writes in the order of the tasks' paths (pulls by node name, then pushes by
        # index), whatever order they finished in.
        done = [t for t in tasks if t.update]
        if len(done) > 1:
            done.sort(key=_task_path)
        if done:
            schema.apply(state, _updates(done))
            if channel.wants(StateValues) and _wrote_any(done, shown):
                await channel.publish(StateValues(ns=ns, step=step, tags=run.tags, values=schema.values(state, shown)))
            if not wrote_output:
                wrote_output = _wrote_any(done, output_keys)
        by_path = sorted(tasks, key=_task_path) if len(tasks) > 1 else tasks  # LangGraph's order of writes
        finished, routes, gotos = _finished(by_path)
        tasks = _hold_deferred(
            await _successors(graph, finished, state, joins_seen, run, routes=routes, gotos=gotos), held
        )
        if saving is not None:
            written = dict.fromkeys(k for t in done for k in t.update or ())
            await saving.save("loop", step, state, tasks, joins_seen, written, wrote=[t.node.name for t in done])
        if after and _hits(after, by_path):
            return await _breakpoint(run, ns, step, schema.output(state) if wrote_output else None)
        step += 1
    # the state's output keys change only when a step writes one: the same as after the last such step
    return schema.output(state) if wrote_output else None


def _breakpoints(graph: GraphSpec, run: RunContext, ns: tuple[str, ...]) -> tuple[Any, Any]:
    """``(interrupt_before, interrupt_after)`` of a graph level: the compiled ones, replaced at the root by
    those the run was given (``invoke(..., interrupt_before=...)``)."""
    before = getattr(graph, "interrupt_before", None)
    after = getattr(graph, "interrupt_after", None)
    if not ns:
        configurable = run.config.get("configurable") or {}
        before = configurable.get(BREAKPOINT_KEYS[0], before)
        after = configurable.get(BREAKPOINT_KEYS[1], after)
    return before, after


def _hits(breakpoints: Any, tasks: Sequence[_Task]) -> bool:
    """Whether a task of ``tasks`` runs a node of ``breakpoints`` (``"*"``: any)."""
    return any(breakpoints == "*" or t.node.name in breakpoints for t in tasks)


async def _breakpoint(run: RunContext, ns: tuple[str, ...], step: int, result: Any) -> Any:
    """Stop at an ``interrupt_before``/``interrupt_after`` breakpoint, as LangGraph does: an
    :class:`~streamflow.events.Interrupted` without interrupts (``{"__interrupt__": ()}`` in ``updates``);
    the root graph returns its result, a subgraph raises an empty :class:`~streamflow.errors.GraphInterrupt`.

    :raises GraphInterrupt: under a namespace ``ns``
    """
    if ns:
        raise GraphInterrupt(())  # LangGraph streams a subgraph's breakpoint at the root only
    if run.channel.wants(Interrupted):
        await run.channel.publish(Interrupted(ns=ns, step=step, tags=run.tags))
    run.interrupts = []
    return result


def _replayed(task: _Task, writes: list[tuple[str, Any]]) -> None:
    """Mark ``task`` done with the ``writes`` it saved in an earlier run of its step (it does not run again,
    as LangGraph matches saved writes to tasks by task id)."""
    task.update = dict(writes) or None
    if len(task.update or ()) < len(writes):
        task.writes = writes
    task.done = True


async def _replay_cached(
    graph: GraphSpec, run: RunContext, ns: tuple[str, ...], step: int, shown: tuple[str, ...], task: _Task
) -> None:
    """Stream a task whose writes a resumed run found saved (it does not run again) as LangGraph does: its
    ``TaskStarted``, then its update marked ``cached`` (no ``TaskFinished``)."""
    channel = run.channel
    if channel.wants(TaskStarted):
        await channel.publish(
            TaskStarted(
                ns=ns,
                node=task.node.name,
                step=step,
                task_id=task.id,
                tags=run.tags,
                input=task.input,
                triggers=task.triggers,
                path=task.path,
                metadata=run.call_metadata or EMPTY_METADATA,
            )
        )
    if channel.wants(StateUpdate):
        shown_update = graph.schema.unwrap(_only(task.update, shown))
        await channel.publish(
            StateUpdate(
                ns=ns, node=task.node.name, step=step, task_id=task.id, tags=run.tags, update=shown_update, cached=True
            )
        )


async def _paused(
    graph: GraphSpec,
    run: RunContext,
    ns: tuple[str, ...],
    step: int,
    shown: tuple[str, ...],
    state: dict[str, Any],
    tasks: list[_Task],
    paused: list[_Task],
    result: Any,
) -> Any:
    """End a run whose step ``step`` had tasks that paused on ``interrupt()``, as LangGraph does: no new
    checkpoint (the step runs again on resume; its finished tasks' writes are pending writes of the
    checkpoint it started from). A subgraph (or a graph run inside a node) raises
    :class:`~streamflow.errors.GraphInterrupt` to the task running it; the root graph shows the state with
    the finished tasks' writes applied (a last ``values`` chunk when they wrote a shown key), records the
    interrupts on ``run`` and returns its result.

    :raises GraphInterrupt: under a namespace ``ns``, with every interrupt of the step in task order
    """
    interrupts = tuple(i for t in sorted(paused, key=_task_path) for i in t.interrupts or ())
    if ns:
        raise GraphInterrupt(interrupts)
    schema = graph.schema
    done = sorted((t for t in tasks if t.update), key=_task_path)
    if done:
        schema.apply(state, _updates(done))
        if run.channel.wants(StateValues) and any(k in shown for t in done for k in t.update or ()):
            await run.channel.publish(StateValues(ns=ns, step=step, tags=run.tags, values=schema.values(state, shown)))
        if any(k in schema.output_keys for t in done for k in t.update or ()):
            result = schema.output(state)
    if not interrupts and run.channel.wants(Interrupted):  # a subgraph stopped at a breakpoint
        await run.channel.publish(Interrupted(ns=ns, step=step, tags=run.tags))
    run.interrupts = list(interrupts)
    return result


async def _resume_input(saving: _Saving, command: Command[Any], run: RunContext, state: dict[str, Any]) -> None:
    """Prepare a run on a thread with checkpoints whose input is ``command``, as LangGraph continues the thread:
    apply its ``update`` to ``state`` and trigger the nodes its ``goto`` names (both saved with the checkpoint
    under no task, as LangGraph saves them); for a
    ``resume``, check its answers against the interrupts the thread waits on, hand them to the run and
    publish :class:`~streamflow.events.Resumed`. The thread's pending tasks then run (again).

    :raises UnknownInterruptError: for a resume map naming an interrupt id the thread does not wait on
    :raises RuntimeError: for one resume value while several interrupts wait (LangGraph's message)
    :raises InvalidUpdateError: for a ``Command`` with ``graph`` (``"There is no parent graph"``)
    :raises InvalidGraphError: for a ``goto`` naming no node
    :raises EmptyInputError: for a ``Command`` with neither ``update`` nor ``resume`` (LangGraph's)
    :raises InvalidUpdateError: for an ``update`` the state schema does not take
    """
    goto = command.goto
    targets: list[Any] = [goto] if isinstance(goto, (str, Send)) else list(goto)
    if command.graph is not None:
        raise InvalidUpdateError("There is no parent graph")  # LangGraph's, for a Command input
    if command.update is None and command.resume is None and not targets:
        raise EmptyInputError("Received empty Command input")  # LangGraph's
    nodes = saving.graph.nodes
    for target in targets:
        name = target.node if isinstance(target, Send) else target
        if (name == END and isinstance(target, Send)) or (name != END and name not in nodes):
            raise InvalidGraphError(
                f"Command(goto={target!r}) given as input names no node; known nodes: {sorted(nodes)} (or END)"
            )
    resume = command.resume
    waiting = saving.thread.pending_interrupts()
    if is_resume_map(resume):
        unknown = sorted(set(resume or {}) - set(waiting))
        if unknown:
            raise UnknownInterruptError(
                f"Command(resume=...) names interrupt id(s) {unknown} that thread {saving.thread.thread_id!r} "
                f"is not waiting on; the pending interrupt ids are {sorted(waiting)}",
                interrupt_ids=unknown,
                pending_ids=sorted(waiting),
            )
    elif resume is not None and len(waiting) > 1:
        raise RuntimeError(
            "When there are multiple pending interrupts, you must specify the interrupt id when resuming. "
            "Docs: https://docs.langchain.com/oss/python/langgraph/interrupts#handling-multiple-interrupts."
        )
    if command.update is not None:
        # saved against the checkpoint under no task, as LangGraph does, so a later resume from it keeps it
        pairs = _command_writes(saving.graph.schema, command, "the resume Command")
        saving.graph.schema.apply(state, [("the resume Command", {key: value}) for key, value in pairs])
    else:
        pairs = []
    triggers: list[tuple[str, Any]] = [
        (f"branch:to:{target}", None) for target in targets if isinstance(target, str) and target != END
    ]
    sends = [[target.node, target.arg] for target in targets if isinstance(target, Send)]
    if sends:
        triggers.append((SENDS, sends))
    if pairs or triggers:
        await saving.thread.put_null_writes([*pairs, *triggers])
    if resume is not None:
        if len(waiting) == 1 and not is_resume_map(resume):
            # the one value answers the one interrupt waiting, whichever task asks first this time
            run.resume = RunResume({next(iter(waiting)): resume})
        else:
            run.resume = RunResume(resume)
        if run.channel.wants(Resumed):
            await run.channel.publish(Resumed(tags=run.tags, resume=resume))
