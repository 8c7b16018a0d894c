"""The langchain-core ``RunnableConfig`` of code running in a streamflow task, and the task hook that sets it."""

from __future__ import annotations

import functools
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManager
from langchain_core.runnables.config import var_child_runnable_config

from ...graph.context import RunContext, TaskContext
from .handler import HANDLER

__all__ = ["enter", "langchain_config", "run_config"]


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


_by_run: weakref.WeakKeyDictionary[RunContext, dict[str, Any]] = weakref.WeakKeyDictionary()


def run_config(run: RunContext) -> dict[str, Any]:
    """The langchain-core ``RunnableConfig`` every task of ``run`` sets for the code it runs: a callback
    manager holding :data:`~.handler.HANDLER`, its parent run the streamflow run. Made once per run: the
    handler finds the task (node, tool call, Runnable call) a callback comes from when it is called, so the
    config need not name it, and entering a task costs a lookup and a context variable."""
    config = _by_run.get(run)
    if config is None:
        manager = CallbackManager(
            handlers=[HANDLER], inheritable_handlers=[HANDLER], parent_run_id=_run_uuid(run.run_id)
        )
        config = _by_run[run] = {"callbacks": manager}
    return config


def enter(ctx: TaskContext) -> Callable[[], None]:
    """The task hook (:func:`~streamflow.graph.context.on_enter_task`): set langchain-core's
    ``var_child_runnable_config`` for the code ``ctx`` runs (:func:`run_config`); return what resets it."""
    token = var_child_runnable_config.set(run_config(ctx.run))  # type: ignore[arg-type]
    return functools.partial(var_child_runnable_config.reset, token)
