"""The langchain-core ``RunnableConfig`` of code running in a streamflow task, and the task hook that sets it."""

from __future__ import annotations

import uuid
from contextvars import Token
from typing import Any

from langchain_core.callbacks import CallbackManager
from langchain_core.runnables.config import var_child_runnable_config

from ...graph.context import RunContext, TaskContext
from .handler import HANDLER

__all__ = ["enter", "enter_run", "langchain_config", "run_config"]


def _run_uuid(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(task_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, task_id)


def langchain_config(ctx: TaskContext) -> dict[str, Any]:
    """The langchain-core ``RunnableConfig`` a streamflow step gives the langchain-core Runnable it runs: a
    callback manager holding :data:`~.handler.HANDLER` whose parent run is the step's call, the step's
    metadata and tags (LangGraph's ``langgraph_*`` keys among them)."""
    manager = CallbackManager(handlers=[HANDLER], inheritable_handlers=[HANDLER], parent_run_id=_run_uuid(ctx.task_id))
    return {"callbacks": manager, "metadata": ctx.metadata(), "tags": list(ctx.call_tags())}


_STATE_KEY = "langchain.config"
"""Where a run's config is kept in its :attr:`~streamflow.graph.context.RunContext.bridge_state`."""


def run_config(run: RunContext) -> dict[str, Any]:
    """The langchain-core ``RunnableConfig`` every task of ``run`` sets for the code it runs: a callback
    manager holding :data:`~.handler.HANDLER`, its parent run the streamflow run. Made once per run (kept
    in the run's context): the handler finds the task (node, tool call, Runnable call) a callback comes from
    when it is called, so the config need not name it, and entering a task costs a lookup and a context
    variable."""
    state = run.bridge_state
    config: dict[str, Any] | None = state.get(_STATE_KEY)
    if config is None:
        manager = CallbackManager(
            handlers=[HANDLER], inheritable_handlers=[HANDLER], parent_run_id=_run_uuid(run.run_id)
        )
        config = state[_STATE_KEY] = {"callbacks": manager}
    return config


def enter(ctx: TaskContext) -> Token[Any] | None:
    """The task hook (:func:`~streamflow.graph.context.on_enter_task`): set langchain-core's
    ``var_child_runnable_config`` for the code ``ctx`` runs (:func:`run_config`); return its token, which
    resets it, or None when it holds that config already (:func:`enter_run` set it for the task's run)."""
    config = run_config(ctx.run)
    if var_child_runnable_config.get() is config:
        return None
    return var_child_runnable_config.set(config)  # type: ignore[arg-type]


def enter_run(run: RunContext) -> None:
    """The run hook (:func:`~streamflow.graph.context.on_enter_run`): set ``var_child_runnable_config`` to the
    run's config (:func:`run_config`) in the asyncio task that runs it, for every task that runs there."""
    var_child_runnable_config.set(run_config(run))  # type: ignore[arg-type]
