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

import dataclasses
import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anyio
import attrs

from ..errors import GraphRecursionError, InvalidGraphError, InvalidUpdateError, ParentCommand
from ..events import StateUpdate, StateValues, TaskFailed, TaskFinished, TaskStarted, error_type_name
from .cancellation import NEVER_CANCELLED, CancelFlag
from .constants import END, START, Command, Send
from .context import RunContext, TaskContext, Writer, _current
from .runtime import Runtime, route_runtime, runtime_of
from .specs import Branch, GraphSpec, NodeSpec, node_name
from .state import ROOT
from .sync_code import run_sync_code

__all__ = ["execute"]


@attrs.define(slots=True, eq=False)
class _Task:
    node: NodeSpec
    input: Any
    triggers: tuple[str, ...]
    path: tuple[Any, ...]
    id: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    update: dict[str, Any] | None = None
    writes: list[tuple[str, Any]] | None = None
    """The node's writes one by one, when one key got more than one (a list of commands or of pairs)."""
    goto: list[str | Send] = attrs.field(factory=list)
    """Where the node's ``Command`` said to go, in addition to the edges."""


class _Step:
    """The tasks of one superstep of one graph level, and how to run them."""

    def __init__(
        self, graph: GraphSpec, run: RunContext, ns: tuple[str, ...], step: int, shown: tuple[str, ...]
    ) -> None:
        self.graph = graph
        self.run = run
        self.ns = ns
        self.step = step
        self.shown = shown

    async def run_all(self, tasks: list[_Task]) -> None:
        if len(tasks) == 1:
            await self.run_task(tasks[0])  # it takes the place of the task (or run) running this step
            return
        run = self.run
        # These tasks take the place of the task (or run) that runs this step, until they are all done.
        run.tasks_in_flight += len(tasks) - 1
        unfinished = len(tasks)
        failure: list[BaseException] = []
        up: list[ParentCommand] = []

        async def guarded(task: _Task) -> None:
            nonlocal unfinished
            try:
                await self.run_task(task)
            except ParentCommand as exc:  # as in LangGraph, the siblings finish before it goes up
                up.append(exc)
            except Exception as exc:
                if not failure:
                    failure.append(exc)
                    if run.stop_reason is None:
                        run.stop_reason = f"node {task.node.name!r} failed with {exc!r}"
                tg.cancel_scope.cancel()
            finally:
                unfinished -= 1
                run.tasks_in_flight -= 1

        try:
            async with anyio.create_task_group() as tg:
                for task in tasks:
                    tg.start_soon(guarded, task)
        finally:
            run.tasks_in_flight += 1 - unfinished  # a task cancelled before it began never counted itself out
        if failure:
            raise failure[0]
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
                )
            )
        flag = NEVER_CANCELLED if node.is_async or node.is_subgraph else CancelFlag()
        writer = Writer(run, ns, name, step, task_id, flag)
        ctx = TaskContext(run, ns, name, step, task_id, task.triggers, task.path, writer, flag)
        token = _current.set(ctx)
        try:
            try:
                if node.is_subgraph:
                    sub: GraphSpec = node.fn
                    sub_ns = (*ns, f"{name}:{task_id}")
                    output = await execute(sub, task.input, run, sub_ns, nested=True)
                    out: Any = self.graph.schema.project(output)
                else:
                    out = await _call(node, task.input, ctx)
            except ParentCommand as exc:
                out = _command_for(exc, ns, name, task_id)
            update = _take_result(self.graph, task, out, ns)
        except ParentCommand:
            raise  # on its way to the parent graph: not a failure of this task (nor LangGraph's)
        except Exception as exc:
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
        if channel.wants(StateUpdate):
            if task.writes is None:
                shown = self.graph.schema.unwrap(_only(update, self.shown))
            else:
                shown = _shown_writes(self.graph, task.writes, self.shown)
            await channel.publish(StateUpdate(ns=ns, node=name, step=step, task_id=task_id, tags=tags, update=shown))
        if channel.wants(TaskFinished):
            result = update if task.writes is None else _folded_writes(task.writes)
            await channel.publish(TaskFinished(ns=ns, node=name, step=step, task_id=task_id, tags=tags, result=result))


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
                    f"{who} wrote state key {key!r} more than once in one update; a key takes one value per "
                    f"step unless it has a reducer: Annotated[type, reducer]"
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


def _folded_writes(writes: list[tuple[str, Any]]) -> dict[str, Any]:
    """A ``tasks`` result for a node that wrote a key more than once: such a key maps to
    ``{"$writes": [value, ...]}``, as LangGraph shows it."""
    values: dict[str, list[Any]] = {}
    for key, value in writes:
        values.setdefault(key, []).append(value)
    return {key: found[0] if len(found) == 1 else {"$writes": found} for key, found in values.items()}


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


async def _route(branch: Branch, state_view: Any, run: RunContext) -> list[Any]:
    kwargs: dict[str, Any] = {}
    if branch.injected:
        _inject(kwargs, branch.injected, route_runtime(run.context, run.config))
    result = branch.path(state_view, **kwargs)
    if branch.is_async or hasattr(result, "__await__"):
        result = await result
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
    return out


async def _successors(
    graph: GraphSpec,
    finished: list[str],
    state: dict[str, Any],
    joins_seen: dict[int, set[str]],
    run: RunContext,
    gotos: Sequence[Sequence[str | Send]] = (),
) -> list[_Task]:
    """Tasks of the next superstep, given the nodes that just finished (in task path order) and where each said
    to go with a ``Command`` (``gotos``, in the same order). As in LangGraph, the pushed tasks (``Send``) come
    first, in the order they were sent, then the pulled ones, by node name.

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
            pull(target)
        for index, (starts, target) in graph.joins_with.get(source, ()):
            seen = joins_seen.setdefault(index, set())
            seen.add(source)
            if seen.issuperset(starts):
                seen.clear()
                pull(target)
        if position < len(gotos) and gotos[position]:
            _go(graph, source, gotos[position], pull, pushes)
        for branch in graph.branches_from.get(source, ()):
            if state_view is None:
                state_view = graph.schema.view(state)
            for target in await _route(branch, state_view, run):
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
    tasks = [_Task(nodes[name], None, _pull_triggers(graph, name), ("__pregel_pull", name)) for name in sorted(pulls)]
    return pushes + tasks


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


def _command_input(graph: GraphSpec, command: Command[Any]) -> tuple[Any, list[str | Send]]:
    """The input a ``Command`` given as a run's input stands for, and where it says to go in the first step
    (beside START's edges), as LangGraph reads it without a checkpointer. LangGraph applies its update
    twice (as the input, then again as its START node's write), so a key with a reducer gets it twice.

    :raises RuntimeError: for ``Command(resume=...)``: resuming needs a checkpointer (LangGraph's error)
    :raises InvalidUpdateError: for ``Command(graph=Command.PARENT)`` (there is no parent graph) or an update
        the state schema does not take
    """
    if command.graph == Command.PARENT:
        raise InvalidUpdateError("There is no parent graph")
    if command.resume is not None:
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
    return [
        (f"node {t.node.name!r}", update)
        for t in done
        for update in ([t.update or {}] if t.writes is None else [{key: value} for key, value in t.writes])
    ]


def _only(update: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The entries of ``update`` whose key is among ``keys`` (None when there are none)."""
    if not update or all(k in keys for k in update):
        return update
    return {k: v for k, v in update.items() if k in keys} or None


async def execute(
    graph: GraphSpec, graph_input: Any, run: RunContext, ns: tuple[str, ...], *, nested: bool = False
) -> Any:
    """Run ``graph`` from ``graph_input`` to the end, publishing its events under namespace ``ns``.

    As in LangGraph, a ``StateValues`` event (a ``values`` chunk) follows the input and each superstep that
    wrote at least one state key shown: an input that sets no key (``{}``, only keys outside the input
    schema), or a step whose nodes all returned None or ``{}``, gives none. Every state key is shown, except
    in a ``nested`` run (a subgraph), which shows its output schema's keys only, in ``StateValues`` and in
    ``StateUpdate`` events (an update with none of them shows as None), as LangGraph streams a subgraph.

    A ``Command`` as ``graph_input`` stands for its update and goto (see :func:`_command_input`); a node's
    ``Command`` is read by :func:`_take_result`.

    :returns: the run's result: the output schema's keys of the state after the last input or step that
        wrote one of them (the root value for a root state), or None when none did (as LangGraph's
        ``invoke`` returns None then)
    :raises InvalidUpdateError: for an input or node update the schema does not allow
    :raises InvalidGraphError: for a conditional edge or a ``Command(goto=...)`` naming an unknown node
    :raises RuntimeError: for a ``Command(resume=...)`` input (no checkpointer; LangGraph's error)
    :raises ParentCommand: for ``Command(graph=Command.PARENT)`` returned by a node of a root graph
    :raises GraphRecursionError: when a step beyond ``recursion_limit`` would run
    :raises Exception: whatever a node raised, unchanged
    """
    schema = graph.schema
    channel = run.channel
    output_keys = schema.output_keys
    shown = output_keys if nested else schema.keys
    state = schema.start()
    result: Any = None
    command = isinstance(graph_input, Command)
    if command:
        graph_input, start_goto = _command_input(graph, graph_input)
    first = schema.check_input(graph_input)
    if first:
        schema.apply(state, [("the graph input", first)])
        if command:  # LangGraph applies a Command input's update again when its START node runs
            schema.apply(state, [("the graph input", first)])
        if channel.wants(StateValues) and any(k in shown for k in first):
            await channel.publish(StateValues(ns=ns, step=0, tags=run.tags, values=schema.values(state, shown)))
        if any(k in output_keys for k in first):
            result = schema.output(state)
    joins_seen: dict[int, set[str]] = {}
    tasks = await _successors(graph, [START], state, joins_seen, run, [start_goto] if command else ())
    step = 1
    while tasks:
        if step > run.recursion_limit:
            raise GraphRecursionError(
                f"Recursion limit of {run.recursion_limit} reached without hitting a stop condition. You can "
                "increase the limit by setting the `recursion_limit` config key."
            )
        state_view = schema.view(state)
        for task in tasks:
            if task.input is None:
                node_input = task.node.input
                task.input = state_view if node_input is None else node_input.view(state)
        await _Step(graph, run, ns, step, shown).run_all(tasks)
        # LangGraph applies a step's writes in the order of the tasks' paths (pulls by node name, then pushes by
        # index), whatever order they finished in.
        done = [t for t in tasks if t.update]
        if len(done) > 1:
            done.sort(key=_task_path)
        if done:
            schema.apply(state, _updates(done))
            if channel.wants(StateValues) and any(k in shown for t in done for k in t.update or ()):
                await channel.publish(StateValues(ns=ns, step=step, tags=run.tags, values=schema.values(state, shown)))
            if any(k in output_keys for t in done for k in t.update or ()):
                result = schema.output(state)
        tasks.sort(key=_task_path)  # LangGraph writes a step's branches and gotos in this order too
        tasks = await _successors(graph, [t.node.name for t in tasks], state, joins_seen, run, [t.goto for t in tasks])
        step += 1
    return result
