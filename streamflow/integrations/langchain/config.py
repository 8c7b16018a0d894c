"""The langchain-core ``RunnableConfig`` of code running in a streamflow task, and the task hook that sets it."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManager
from langchain_core.runnables.config import var_child_runnable_config

from ...graph.context import TaskContext
from .handler import HANDLER

__all__ = ["enter", "langchain_config"]


def _run_uuid(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(task_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, task_id)


def langchain_config(ctx: TaskContext) -> dict[str, Any]:
    """The langchain-core ``RunnableConfig`` of code running in ``ctx``: a callback manager holding
    :data:`~.handler.HANDLER` whose parent run is the task (or tool call, or Runnable call), the task's
    metadata and tags (LangGraph's ``langgraph_*`` keys among them)."""
    manager = CallbackManager(handlers=[HANDLER], inheritable_handlers=[HANDLER], parent_run_id=_run_uuid(ctx.task_id))
    return {"callbacks": manager, "metadata": ctx.metadata(), "tags": list(ctx.call_tags())}


def enter(ctx: TaskContext) -> Callable[[], None]:
    """The task hook (:func:`~streamflow.graph.context.on_enter_task`): set langchain-core's
    ``var_child_runnable_config`` for the code ``ctx`` runs; return what resets it."""
    token = var_child_runnable_config.set(langchain_config(ctx))  # type: ignore[arg-type]
    return functools.partial(var_child_runnable_config.reset, token)
