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
  (:class:`~.tools.LangChainTool`), a langchain-core Runnable is a chain step (:class:`~.runnables.
  LangChainRunnable`), a langchain-core chat model with ``bind_tools`` is an agent's model
  (:class:`~.chat_models.LangChainChatModel`), and a node may return langchain-core messages into a
  ``messages`` state;
- langchain-core takes streamflow messages wherever it takes messages (a chat model's input, a
  ``MessagesPlaceholder``, ``convert_to_messages`` ...): ``llm.invoke(state["messages"])`` works as on
  LangGraph (:mod:`.coercion`).

:func:`to_langchain` / :func:`from_langchain` convert messages both ways (:mod:`.messages`).
"""

from __future__ import annotations

from ...graph.context import on_enter_run, on_enter_task
from ...messages import register_message_converter
from ...models.adapters import register_chat_model_adapter
from ...runnables.base import register_runnable_adapter
from ...tools import register_tool_adapter
from .chat_models import LangChainChatModel, adapt_chat_model
from .coercion import accept_streamflow_messages
from .config import enter, enter_run, langchain_config
from .handler import HANDLER, StreamflowCallbackHandler
from .messages import coerce_langchain, from_langchain, to_langchain, to_langchain_messages
from .runnables import LangChainRunnable, adapt_runnable
from .tools import LangChainTool, adapt_tool

__all__ = [
    "HANDLER",
    "LangChainChatModel",
    "LangChainRunnable",
    "LangChainTool",
    "StreamflowCallbackHandler",
    "activate",
    "from_langchain",
    "langchain_config",
    "to_langchain",
    "to_langchain_messages",
]


def activate() -> None:
    """Install the bridge: every streamflow task sets langchain-core's config for the code it runs,
    ``coerce_message`` takes langchain-core messages and langchain-core streamflow messages (a chat
    model, a prompt template, ``convert_to_messages`` ...), ``ToolNode`` langchain-core tools, chains
    langchain-core Runnables and agents langchain-core chat models. Done on import; calling it again does nothing."""
    on_enter_task(enter)
    on_enter_run(enter_run)
    register_message_converter(coerce_langchain)
    accept_streamflow_messages()
    register_tool_adapter(adapt_tool)
    register_runnable_adapter(adapt_runnable)
    register_chat_model_adapter(adapt_chat_model)


activate()
