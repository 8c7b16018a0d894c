"""Where a run goes next: the conditional edges routed (inside the task whose node they follow, or at the
entry), the destinations they name checked, and the next step's tasks worked out from the edges, fan-in
joins, ``Send`` packets and deferred nodes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import (
    InvalidGraphError,
    InvalidUpdateError,
)
from .cancellation import NEVER_CANCELLED
from .constants import END, START, Send
from .context import RunContext, TaskContext, _current
from .ids import new_id
from .runtime import route_runtime, runtime_of
from .specs import Branch, GraphSpec, NodeSpec, node_name
from .tasks import _inject, _Task

__all__: list[str] = []


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
    task_id = new_id()
    return TaskContext(run, ns, START, 0, task_id, (START,), ("__pregel_pull", START), None, NEVER_CANCELLED)


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
    nodes = graph.nodes
    plain = _by_plain_edges(graph, finished, routes, gotos)
    if plain is not None:
        return plain
    pulls: dict[str, None] = {}
    pushes: list[_Task] = []
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


def _by_plain_edges(
    graph: GraphSpec,
    finished: list[str],
    routes: list[list[tuple[Branch, list[Any]]] | None] | None = None,
    gotos: Sequence[Sequence[str | Send]] = (),
) -> list[_Task] | None:
    """What :func:`_successors` returns for the common step, found at once: one node finished, without a
    ``Command`` goto, its edges all plain (no conditional edge, no fan-in); None for any other step."""
    if len(finished) != 1 or (gotos and gotos[0]) or (routes is not None and routes[0] is not None):
        return None
    source = finished[0]
    if source in graph.branches_from or source in graph.joins_with:
        return None
    nodes = graph.nodes
    targets = [t for t in graph.edges_from.get(source, ()) if t != END]
    if len(targets) > 1:
        targets = sorted(set(targets))
    return [_Task(nodes[name], None, _pull_triggers(graph, name), ("__pregel_pull", name)) for name in targets]


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
