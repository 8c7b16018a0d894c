"""The run context a node receives: :class:`Runtime` (LangGraph 1.2's ``langgraph.runtime``), and how a run's
``context=`` is checked against the graph's ``context_schema``.

A node (or conditional-edge path function) with a parameter named ``runtime`` is called with a
:class:`Runtime`: the run's ``context`` (what ``invoke(..., context=...)`` was given), the task's stream
writer and its :class:`ExecutionInfo`. As in LangGraph, only the parameter's name counts (its annotation,
``Runtime[Ctx]`` or none, does not), and parameters named ``store`` and ``previous`` are given None:
streamflow has no store yet, and LangGraph fills ``previous`` for its functional API only.
:func:`get_runtime` returns the same object from inside a node. A subgraph's nodes see the parent run's context.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from ..errors import InvalidArgumentError, NotInRunError
from .context import TaskContext, current_task

__all__ = [
    "ExecutionInfo",
    "RunControl",
    "Runtime",
    "ServerInfo",
    "coerce_context",
    "get_runtime",
    "injected_params",
    "route_runtime",
    "runtime_of",
]

ContextT = TypeVar("ContextT")

INJECTED = ("runtime", "store", "previous")
"""The parameters streamflow fills from the run context, by name (LangGraph's rule), besides ``config`` and
``writer``."""


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """What a node knows about its own execution (LangGraph's ``ExecutionInfo``): read-only.

    ``checkpoint_id`` is the id of the checkpoint the task's step started from, as LangGraph's, when the graph
    keeps checkpoints (a subgraph's own, under its namespace); ``""`` when it keeps none (LangGraph gives the
    id of a checkpoint it does not keep then).
    """

    checkpoint_id: str
    """The id of the checkpoint the task's step started from (``""`` for a graph that keeps none)."""
    checkpoint_ns: str
    """The task's namespace as LangGraph writes it: ``"node:task_id"``, joined by ``|`` under subgraphs."""
    task_id: str
    """The task's id."""
    thread_id: str | None = None
    """``config["configurable"]["thread_id"]`` when the run was given one, else None."""
    run_id: str | None = None
    """``config["run_id"]`` when the run was given one, else None (as in LangGraph)."""
    node_attempt: int = 1
    """Which attempt this is, from 1 (streamflow does not retry nodes: always 1)."""
    node_first_attempt_time: float | None = None
    """When the first attempt started (``time.time()``)."""

    def patch(self, **overrides: Any) -> ExecutionInfo:
        """A copy with the fields named in ``overrides`` replaced.

        :raises TypeError: for a name that is not a field
        """
        return replace(self, **overrides)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who runs the graph, as a LangGraph server says (LangGraph's ``ServerInfo``): made from
    ``config["configurable"]``'s ``assistant_id``, ``graph_id`` and ``langgraph_auth_user`` when the run's
    config has any of them; None otherwise."""

    assistant_id: str
    """The assistant's id (``""`` when only the graph id or user was given)."""
    graph_id: str
    """The graph's id (``""`` when not given)."""
    user: Any = None
    """The authenticated user (any object with an ``identity``), if any."""


class RunControl:
    """What lets code outside a run ask it to stop cooperatively (LangGraph 1.2's ``RunControl``): pass it
    as ``control=`` to ``invoke``/``stream``/``stream_events`` (and their async twins); after
    :meth:`request_drain` the run stops at its next superstep boundary with
    :class:`~streamflow.errors.GraphDrained`, its checkpoint saved, instead of starting the next superstep's
    tasks. Meant for one run: a drained control stays drained. Safe to call from any thread (one attribute
    write)."""

    __slots__ = ("_drain_reason",)

    def __init__(self) -> None:
        self._drain_reason: str | None = None

    def request_drain(self, reason: str = "shutdown") -> None:
        """Ask the run to stop at its next superstep boundary; ``reason`` becomes
        :attr:`~streamflow.errors.GraphDrained.reason`."""
        self._drain_reason = reason

    @property
    def drain_requested(self) -> bool:
        """Whether :meth:`request_drain` was called."""
        return self._drain_reason is not None

    @property
    def drain_reason(self) -> str | None:
        """The reason given to :meth:`request_drain`, or None."""
        return self._drain_reason


def _no_op_stream_writer(_: Any) -> None:
    """The stream writer of a :class:`Runtime` made outside a task: drops what it is given."""


def _no_op_heartbeat() -> None:
    """Streamflow has no idle timeouts: a heartbeat records nothing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime(Generic[ContextT]):
    """The run context and utilities a node receives as its ``runtime`` parameter (LangGraph's ``Runtime``).

    Fields are keyword-only and read-only; :meth:`override` and :meth:`merge` return new ones. Made by the
    runtime for each task; ``Runtime()`` (all defaults) is what LangGraph's is outside a run.
    ``config`` is not here: declare a ``config`` parameter or call ``get_config()``, as in LangGraph.
    """

    context: ContextT = field(default=None)  # type: ignore[assignment]
    """The run's context: what ``invoke``/``stream(..., context=...)`` was given (a dict made into the
    graph's dataclass or pydantic ``context_schema``), or None."""
    store: Any = None
    """Always None: streamflow has no store (LangGraph's ``BaseStore``) yet."""
    stream_writer: Callable[[Any], None] = field(default=_no_op_stream_writer)
    """The task's stream writer (what a ``writer`` parameter receives)."""
    heartbeat: Callable[[], None] = field(default=_no_op_heartbeat)
    """Does nothing: streamflow has no idle timeouts to refresh."""
    previous: Any = None
    """Always None: the previous return value of a thread needs a checkpointer, which streamflow has not yet."""
    execution_info: ExecutionInfo | None = None
    """The task's :class:`ExecutionInfo` (None outside a task). A conditional-edge path function gets its
    source task's runtime, as LangGraph routes inside that task (the hidden ``__start__`` task's for an
    entry path function)."""
    server_info: ServerInfo | None = None
    """The :class:`ServerInfo` made from the run's config, or None."""
    control: RunControl | None = None
    """The run's :class:`RunControl` (``control=`` of ``invoke``/``stream``), or None."""

    def merge(self, other: Runtime[ContextT]) -> Runtime[ContextT]:
        """A runtime with ``other``'s values where they are set (truthy; a no-op writer or heartbeat counts as
        unset; ``previous`` when not None), this one's elsewhere: LangGraph's rule for a nested run."""
        return Runtime(
            context=other.context or self.context,
            store=other.store or self.store,
            stream_writer=self.stream_writer if other.stream_writer is _no_op_stream_writer else other.stream_writer,
            heartbeat=self.heartbeat if other.heartbeat is _no_op_heartbeat else other.heartbeat,
            previous=self.previous if other.previous is None else other.previous,
            execution_info=other.execution_info or self.execution_info,
            server_info=other.server_info or self.server_info,
            control=other.control or self.control,
        )

    def override(self, **overrides: Any) -> Runtime[ContextT]:
        """A copy with the fields named in ``overrides`` replaced.

        :raises TypeError: for a name that is not a field
        """
        return replace(self, **overrides)

    def patch_execution_info(self, **overrides: Any) -> Runtime[ContextT]:
        """A copy whose :attr:`execution_info` has the fields named in ``overrides`` replaced.

        :raises RuntimeError: when this runtime has no execution info (LangGraph raises it too)
        """
        if self.execution_info is None:
            raise RuntimeError("Cannot patch execution_info before it has been set")
        return replace(self, execution_info=self.execution_info.patch(**overrides))

    @property
    def drain_requested(self) -> bool:
        """Whether the run's :class:`RunControl` asked it to drain (False without one)."""
        return self.control is not None and self.control.drain_requested

    @property
    def drain_reason(self) -> str | None:
        """The reason of the drain request, or None."""
        return None if self.control is None else self.control.drain_reason


def _server_info(config: Mapping[str, Any]) -> ServerInfo | None:
    configurable = config.get("configurable") or {}
    assistant_id = configurable.get("assistant_id")
    graph_id = configurable.get("graph_id")
    user = configurable.get("langgraph_auth_user")
    if user is not None and not hasattr(user, "identity"):
        user = None
    if assistant_id is None and graph_id is None and user is None:
        return None
    return ServerInfo(
        assistant_id=str(assistant_id) if assistant_id else "", graph_id=str(graph_id) if graph_id else "", user=user
    )


CONTROL_KEY = "__pregel_control"
"""The ``configurable`` key a run's :class:`RunControl` travels under (to its subgraphs too)."""


def with_control(config: Mapping[str, Any] | None, control: RunControl | None) -> Mapping[str, Any] | None:
    """``config`` with ``control`` under ``configurable`` (unchanged when it is None).

    :raises InvalidArgumentError: for a ``control`` that is not a :class:`RunControl`
    """
    if control is None:
        return config
    if not isinstance(control, RunControl):
        raise InvalidArgumentError(
            f"control must be a RunControl (streamflow.runtime.RunControl) or None; got {type(control).__name__}"
        )
    config = dict(config or {})
    config["configurable"] = {**(config.get("configurable") or {}), CONTROL_KEY: control}
    return config


def control_of(config: Mapping[str, Any]) -> RunControl | None:
    """The :class:`RunControl` of a run's ``config``, or None."""
    configurable = config.get("configurable")
    control = configurable.get(CONTROL_KEY) if isinstance(configurable, Mapping) else None
    return control if isinstance(control, RunControl) else None


def runtime_of(task: TaskContext) -> Runtime[Any]:
    """The :class:`Runtime` of ``task``: made on first use, then the same object for the task's code."""
    runtime: Runtime[Any] | None = task.runtime
    if runtime is None:
        run = task.run
        config = run.config
        configurable = config.get("configurable") or {}
        run_id = config.get("run_id")
        runtime = task.runtime = Runtime(
            context=run.context,
            stream_writer=task.writer,
            execution_info=ExecutionInfo(
                checkpoint_id=task.checkpoint_id,
                checkpoint_ns=task.checkpoint_ns,
                task_id=task.task_id,
                thread_id=configurable.get("thread_id"),
                run_id=str(run_id) if run_id else None,
                node_first_attempt_time=time.time(),
            ),
            server_info=_server_info(config),
            control=control_of(config),
        )
    return runtime


def route_runtime(context: Any, config: Mapping[str, Any]) -> Runtime[Any]:
    """The :class:`Runtime` a conditional-edge path function receives: the run's context, no execution info."""
    return Runtime(context=context, server_info=_server_info(config), control=control_of(config))


def get_runtime(context_schema: type[ContextT] | None = None) -> Runtime[ContextT]:
    """Return the running task's :class:`Runtime` (LangGraph's ``get_runtime``); the same object a
    ``runtime`` parameter receives. ``context_schema`` only types the result.

    :raises NotInRunError: when called outside a node or tool of a running graph (LangGraph raises a
        RuntimeError there too; NotInRunError is one)
    """
    task = current_task()
    if task is None:
        raise NotInRunError("get_runtime() was called outside a run; call it inside a node or tool")
    return runtime_of(task)


def injected_params(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Which of ``runtime``, ``store`` and ``previous`` ``fn`` declares, as LangGraph decides it: by name, as a
    positional-or-keyword or keyword-only parameter; ``store`` only unannotated or annotated ``BaseStore``
    (or ``Optional[BaseStore]``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return ()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    out = []
    for name in INJECTED:
        p = params.get(name)
        if p is None or p.kind not in kinds:
            continue
        if name == "store" and p.annotation is not inspect.Parameter.empty and "BaseStore" not in str(p.annotation):
            continue
        out.append(name)
    return tuple(out)


def coerce_context(context_schema: Any, context: Any, parent: Any = None) -> Any:
    """The context a run gets from ``context=`` (LangGraph's rules): a dict becomes ``context_schema(**context)``
    when the schema is a dataclass or pydantic model; anything else (a TypedDict schema, no schema, an object)
    is kept as given, unchecked. A falsy result (None, ``{}``, ``""``) gives way to ``parent`` (the context
    of the run a nested run is started in; None at the top).

    :raises TypeError: for a dict the dataclass does not take (a missing or unknown field)
    :raises pydantic.ValidationError: for a dict the pydantic model refuses
    """
    if context is not None and context_schema is not None and isinstance(context, dict):
        pydantic = sys.modules.get("pydantic")
        is_model = (
            pydantic is not None and isinstance(context_schema, type) and issubclass(context_schema, pydantic.BaseModel)
        )
        if is_model or dataclasses.is_dataclass(context_schema):
            context = context_schema(**context)
    return context or parent
