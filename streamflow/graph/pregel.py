"""Executing a graph: supersteps of concurrent tasks, reducers applied at each step's end.

This module only publishes events; how they look to a user is the views' business. One superstep:
publish ``TaskStarted`` for each triggered task, run the tasks concurrently (sync nodes off the loop, see
:func:`~streamflow.graph.sync_code.run_sync_code`), publish ``TaskFinished`` and then ``StateUpdate`` for
each as it completes, then apply every update with the reducers in task order, publish ``StateValues`` when a
task wrote a state key, and work out the next step's tasks from the edges. A failing task cancels its
siblings (their sync code is abandoned and told so, see :mod:`streamflow.graph.cancellation`) and the run
fails with its exception.

This module holds the superstep loop (:func:`execute` and the step that runs its tasks); a task, its node
call and its writes are in :mod:`~streamflow.graph.tasks`, where the run goes next in
:mod:`~streamflow.graph.routing`, the checkpoints it saves in :mod:`~streamflow.graph.saving`, and
breakpoints, replayed tasks and pauses in :mod:`~streamflow.graph.resuming`.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from contextvars import copy_context
from typing import Any

import anyio

from ..checkpoint.base import ERROR, INTERRUPT, BaseCheckpointSaver
from ..errors import (
    EmptyInputError,
    GraphDrained,
    GraphInterrupt,
    GraphRecursionError,
    ParentCommand,
    is_invalid_resume,
)
from ..events import (
    EMPTY_METADATA,
    Interrupted,
    StateUpdate,
    StateValues,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    error_type_name,
)
from .cancellation import NEVER_CANCELLED, CancelFlag
from .constants import START, Command
from .context import RunContext, TaskContext, enter_task, leave_task
from .interrupts import Scratchpad
from .isolated import RestInContext
from .resuming import _breakpoint, _breakpoints, _hits, _paused, _replay_cached, _replayed, _resume_input
from .routing import _by_plain_edges, _entry_context, _hold_deferred, _route_in_task, _successors, _task_path
from .runtime import control_of
from .saving import _enclosing, _Saving
from .snapshots import next_paths
from .specs import GraphSpec, NodeSpec
from .task_writes import folded_writes
from .tasks import (
    _call,
    _check_input_given,
    _command_for,
    _command_input,
    _finished,
    _interrupt_dict,
    _is_command_output,
    _only,
    _shown_writes,
    _take_result,
    _Task,
    _updates,
    _wrote_any,
)
from .thread import Thread
from .thread_config import durability_of, subgraph_ns_part

__all__ = ["execute"]


class _Step:
    """The tasks of one superstep of one graph level, and how to run them."""

    __slots__ = ("graph", "ns", "run", "shown", "slots", "state", "step", "thread")

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

    def node_state(self, node: NodeSpec) -> Any:
        """The state ``node`` gets from an edge in this step: the state before the step, as its input."""
        assert self.state is not None
        return self.graph.schema.view(self.state) if node.input is None else node.input.view(self.state)

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
        ctx = task.ctx = TaskContext(run, ns, name, step, task_id, task.triggers, task.path, None, flag)
        if self.state is not None:
            ctx.read_state = functools.partial(self.node_state, node)
        if self.thread is not None:
            ctx.checkpoint_id = self.thread.checkpoint_id or ""
        answers = [] if self.thread is None else self.thread.answers(task_id)
        scratch = ctx.scratchpad = Scratchpad(ns, name, task_id, answers, run.resume)
        entered = enter_task(ctx)
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
                    if node.is_async and not (node.takes_config or node.injected) and node.writer_param is None:
                        call = node.fn(task.input)  # the common node: the state alone
                    else:
                        call = _call(node, task.input, ctx)
                    # in a context of its own, as LangGraph runs each task (see streamflow.graph.isolated)
                    own = copy_context()
                    try:
                        suspended = own.run(call.send, None)
                    except StopIteration as stop:
                        out = stop.value
                    else:
                        out = await RestInContext(call, own, suspended)
            except ParentCommand as exc:
                out = _command_for(exc, ns, name, task_id)
                from_below = True
            update = _take_result(self.graph, task, out, ns)
            if self.state is not None and name in self.graph.branches_from:
                task.routes = await _route_in_task(self.graph, node, self.state, update, ctx)
        except (ParentCommand, GraphDrained):
            raise  # on its way to the parent graph (a drain: to the caller): not a failure of this task
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
            leave_task(entered)
        if paused is not None:
            await self.pause(task, paused, scratch)
            return
        task.update = update
        task.done = True
        # As in LangGraph, the node's run ends (its output shows in ``messages`` and ``astream_events``) before
        # its writes are saved and shown (``updates``, then the ``tasks`` result).
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
        thread = self.thread
        if thread is not None:
            writes = update if task.writes is None else task.writes
            if not thread.keep_writes(task_id, writes, step=True):
                await thread.put_writes(task_id, writes, step=True)
        if channel.wants(StateUpdate):
            if task.writes is None:
                shown = _only(update, self.shown)
                if self.graph.schema.root:
                    shown = self.graph.schema.unwrap(shown)
            else:
                shown = _shown_writes(self.graph, task.writes, self.shown)
            await channel.publish(StateUpdate(ns=ns, node=name, step=step, task_id=task_id, tags=tags, update=shown))

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

    A ``Command`` as ``graph_input`` stands for its update and goto (see
    :func:`~streamflow.graph.tasks._command_input`); a node's ``Command`` is read by
    :func:`~streamflow.graph.tasks._take_result`.

    A task that calls ``interrupt()`` without an answer pauses (:meth:`_Step.pause`); the run ends after its
    step (:func:`~streamflow.graph.resuming._paused`). A ``Command`` input on a thread with checkpoints
    continues it, as LangGraph's (:func:`~streamflow.graph.resuming._resume_input`): its update applies, the
    thread's pending tasks run again with the nodes its goto names, and ``interrupt()`` returns the answers
    its ``resume`` gives.

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
        ``Command(resume=...)`` input (see :func:`~streamflow.graph.tasks._command_input`)
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
        if channel.wants(StateValues):
            # as LangGraph, a resumed run shows the state it resumes from first (empty too)
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
            schema.check_input_state(state)
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
    control = control_of(run.config)
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
        if control is not None and control.drain_requested:  # LangGraph's: at the boundary, tasks not started
            raise GraphDrained(control.drain_reason or "shutdown")
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
        todo = [t for t in tasks if not t.done]
        if len(todo) == 1:  # the task takes the place of the run (or task) running this step
            await _Step(graph, run, ns, step, shown, state, current).run_task(todo[0])
        else:
            await _Step(graph, run, ns, step, shown, state, current).run_all(todo)
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
        after_step = _by_plain_edges(graph, finished, routes, gotos)  # the common step, without a coroutine
        if after_step is None:
            after_step = await _successors(graph, finished, state, joins_seen, run, routes=routes, gotos=gotos)
        tasks = _hold_deferred(after_step, held)
        if saving is not None:
            if len(done) == 1:
                written: Collection[str] = done[0].update or ()
            else:
                written = dict.fromkeys(k for t in done for k in t.update or ())
            wrote = [t.node.name for t in done]
            if saving.keep("loop", step, state, tasks, joins_seen, written, wrote) is None:
                await saving.save("loop", step, state, tasks, joins_seen, written, wrote=wrote)
        if after and _hits(after, by_path):
            return await _breakpoint(run, ns, step, schema.output(state) if wrote_output else None)
        step += 1
    # the state's output keys change only when a step writes one: the same as after the last such step
    return schema.output(state) if wrote_output else None
