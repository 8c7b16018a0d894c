"""LangChain models and tools inside streamflow runs.

With langchain-core installed this bridge is active by itself (``import streamflow`` arranges it to load as
soon as ``langchain_core`` is imported, at no cost before): any langchain-core chat model, LLM, tool,
retriever or Runnable called inside a streamflow node, tool or Runnable publishes on the run's channel as a
streamflow component does, whether it finds its config implicitly (langchain-core's
``var_child_runnable_config``, set for every task) or is given the ``config`` the node received:

- a chat model's tokens reach the ``messages`` mode with LangGraph's metadata (``nostream`` and
  ``disable_streaming`` honoured, ``usage_metadata`` kept) as streamflow ``AIMessageChunk`` s;
- ``astream_events`` shows ``on_chat_model_*``, ``on_llm_*``, ``on_tool_*``, ``on_retriever_*`` and
  ``on_chain_*`` events, and langchain-core's ``dispatch_custom_event`` as ``on_custom_event``;
- a tool call is a ``tools`` mode record;
- a langchain-core ``BaseTool`` passes to ``ToolNode`` and ``create_react_agent`` as it is
  (:class:`~.tools.LangChainTool`), and a node may return langchain-core messages into a ``messages`` state.

:func:`to_langchain` / :func:`from_langchain` convert messages both ways (:mod:`.messages`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable

from langchain_core.callbacks import CallbackManager
from langchain_core.runnables.config import var_child_runnable_config

from ...graph.context import TaskContext, on_enter_task
from ...messages import register_message_converter
from ...tools import register_tool_adapter
from .handler import HANDLER, StreamflowCallbackHandler
from .messages import coerce_langchain, from_langchain, to_langchain, to_langchain_messages
from .tools import LangChainTool, adapt_tool

__all__ = [
    "HANDLER",
    "LangChainTool",
    "StreamflowCallbackHandler",
    "activate",
    "from_langchain",
    "langchain_config",
    "to_langchain",
    "to_langchain_messages",
]


def _run_uuid(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(task_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, task_id)


def langchain_config(ctx: TaskContext) -> dict[str, object]:
    """The langchain-core ``RunnableConfig`` of code running in ``ctx``: a callback manager holding
    :data:`HANDLER` whose parent run is the task (or tool call, or Runnable call), the task's metadata and
    tags (LangGraph's ``langgraph_*`` keys among them)."""
    manager = CallbackManager(handlers=[HANDLER], inheritable_handlers=[HANDLER], parent_run_id=_run_uuid(ctx.task_id))
    return {"callbacks": manager, "metadata": ctx.metadata(), "tags": list(ctx.call_tags())}


def _enter(ctx: TaskContext) -> Callable[[], None]:
    token = var_child_runnable_config.set(langchain_config(ctx))  # type: ignore[arg-type]
    return functools.partial(var_child_runnable_config.reset, token)


def activate() -> None:
    """Install the bridge: every streamflow task sets langchain-core's config for the code it runs, ``coerce_
    message`` takes langchain-core messages and ``ToolNode`` langchain-core tools. Done on import; calling it
    again does nothing."""
    on_enter_task(_enter)
    register_message_converter(coerce_langchain)
    register_tool_adapter(adapt_tool)


activate()
