"""``create_agent``: LangChain v1's tool-calling agent (``langchain.agents.create_agent``) as a state graph.

The graph has LangChain's nodes and edges: ``model`` calls the chat model on the system prompt and the
state's messages and returns ``[Command(update={"messages": [answer]})]`` (LangChain's, as its events show);
when its answer asks for tools, each tool call is sent to ``tools`` as a one-call list (a
:class:`~streamflow.tools.ToolNode` task per call, so ``updates`` shows one chunk per tool; injected state
is the graph's state, read by the node), and ``tools`` leads back to ``model``, until an answer asks for
none. Its runs stream as any graph's: ``updates`` (agent
progress), ``messages`` (the model's tokens, then each tool's message) and ``custom`` (what tools write with
``get_stream_writer()``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidArgumentError
from ..graph import END, START, Send, StateGraph
from ..graph.compiled import CompiledStateGraph
from ..messages import AIMessage, BaseMessage, MessagesState, SystemMessage, ToolMessage
from ..models.adapters import as_chat_model
from ..tools import ToolNode
from ..types import Command

__all__ = ["AgentState", "create_agent"]


class AgentState(MessagesState):
    """The agent's state: ``messages`` (added up by ``add_messages``), as LangChain's ``AgentState``
    without its middleware keys (``jump_to``, ``structured_response``)."""


_NOT_SUPPORTED = (
    "middleware",
    "response_format",
    "state_schema",
    "context_schema",
    "store",
    "interrupt_before",
    "interrupt_after",
    "debug",
    "cache",
    "transformers",
)
"""``create_agent`` parameters of LangChain v1 that streamflow refuses when set (to anything but empty)."""


def _last_ai_and_tool_messages(messages: Sequence[BaseMessage]) -> tuple[AIMessage | None, list[ToolMessage]]:
    """The last AI message and the tool messages after it (LangChain's rule)."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, AIMessage):
            return message, [m for m in messages[i + 1 :] if isinstance(m, ToolMessage)]
    return None, []


def create_agent(
    model: Any,
    tools: Sequence[Any] | None = None,
    *,
    system_prompt: str | SystemMessage | None = None,
    checkpointer: Any = None,
    name: str | None = None,
    **unsupported: Any,
) -> CompiledStateGraph:
    """A compiled agent graph that calls tools in a loop until the model answers without tool calls, as
    LangChain v1's ``create_agent``.

    Nodes ``model`` and ``tools`` (no ``tools`` node without tools). Input ``{"messages": [...]}`` (message
    objects, dicts or strings); ``invoke()`` returns ``{"messages": [...]}``, the whole conversation. The
    system prompt is put before the state's messages on every model call and is not added to the state.
    As in LangChain: each tool call of an answer is its own ``tools`` task; after tools that all return
    directly (``@tool(return_direct=True)``) the run ends with their messages last; a tool's exception fails
    the run, except for bad arguments, which become an error ``ToolMessage`` the model sees; each answer of
    the model is named ``name`` when a name is given.

    :param model: a chat model (with ``bind_tools``; another library's a bridge adapts, such as langchain-core's),
        or a ``"provider:model"`` string given to
        :func:`streamflow.chat_models.init_chat_model`
    :param tools: tools (``@tool`` objects, functions, which become tools, langchain-core tools) and OpenAI
        function-tool dicts (offered to the model, never run); None or empty: the graph is the ``model`` node
        alone
    :param system_prompt: a string (made a ``SystemMessage``) or a ``SystemMessage``
    :param checkpointer: a checkpoint saver, for threads (as ``StateGraph.compile``)
    :param name: the graph's name (default ``"LangGraph"``) and its answers' ``name``
    :raises InvalidArgumentError: for a ``model`` that is neither a chat model nor a string (and what
        :func:`~streamflow.chat_models.init_chat_model` raises for a string: an unknown provider names the
        supported ones), a ``system_prompt`` of another type, a tool that is not a tool, a function or a dict,
        or one of LangChain's parameters that streamflow does not support set (``middleware``,
        ``response_format``, ``state_schema``, ``context_schema``, ``store``, ``interrupt_before``,
        ``interrupt_after``, ``debug``, ``cache``, ``transformers``)
    :raises TypeError: for another keyword argument
    """
    refused = [key for key in _NOT_SUPPORTED if unsupported.get(key)]
    if refused:
        raise InvalidArgumentError(
            f"create_agent(): {', '.join(refused)} not supported by streamflow; supported: "
            "model, tools, system_prompt, checkpointer, name"
        )
    unknown = sorted(k for k in unsupported if k not in _NOT_SUPPORTED)
    if unknown:
        raise TypeError(f"create_agent() got unexpected keyword arguments: {unknown}")
    if isinstance(model, str):
        from ..chat_models import init_chat_model

        model = init_chat_model(model)
    model = as_chat_model(model)
    if not hasattr(model, "bind_tools") or not hasattr(model, "ainvoke"):
        raise InvalidArgumentError(
            f"create_agent() takes a chat model (with bind_tools and ainvoke) or a 'provider:model' string, got "
            f"{type(model).__name__} {model!r}"
        )
    system_message = _system_message(system_prompt)
    tool_list = list(tools or ())
    built_in = [t for t in tool_list if isinstance(t, Mapping)]
    runnable = [t for t in tool_list if not isinstance(t, Mapping)]
    node = ToolNode(runnable) if runnable else None
    offered: list[Any] = [*(node.tools_by_name.values() if node else ()), *built_in]
    bound = model.bind_tools(offered) if offered else model
    return_direct = {t.name for t in node.tools_by_name.values() if t.return_direct} if node else set()

    async def call_model(state: AgentState) -> list[Command[Any]]:
        messages = list(state["messages"])
        if system_message is not None:
            messages = [system_message, *messages]
        output: AIMessage = await bound.ainvoke(messages)
        if name:
            output.name = name
        return [Command(update={"messages": [output]})]

    def model_to_tools(state: AgentState) -> Any:
        last_ai, tool_messages = _last_ai_and_tool_messages(state["messages"])
        if last_ai is None or not last_ai.tool_calls:
            return END
        answered = {m.tool_call_id for m in tool_messages}
        pending = [c for c in last_ai.tool_calls if c["id"] not in answered]
        if pending:
            return [Send("tools", [call]) for call in pending]
        return "model"

    def tools_to_model(state: AgentState) -> str:
        last_ai, tool_messages = _last_ai_and_tool_messages(state["messages"])
        if last_ai is None or node is None:
            return "model"
        executed = {m.tool_call_id: m.name for m in tool_messages if m.name in node.tools_by_name}
        names = [n for c in last_ai.tool_calls if (n := executed.get(c["id"] or "", c["name"])) in node.tools_by_name]
        if names and all(n in return_direct for n in names):
            return END
        return "model"

    builder = StateGraph(AgentState).add_node("model", call_model).add_edge(START, "model")
    if node is None:
        builder.add_edge("model", END)
    else:
        builder.add_node("tools", node)
        builder.add_conditional_edges("model", model_to_tools, ["tools", END, "model"])
        builder.add_conditional_edges("tools", tools_to_model, ["model", END] if return_direct else ["model"])
    return builder.compile(checkpointer, name=name)


def _system_message(system_prompt: str | SystemMessage | None) -> SystemMessage | None:
    if system_prompt is None or isinstance(system_prompt, SystemMessage):
        return system_prompt
    if isinstance(system_prompt, str):
        return SystemMessage(content=system_prompt)
    raise InvalidArgumentError(
        f"create_agent(): system_prompt is a str or a SystemMessage, got {type(system_prompt).__name__} "
        f"{system_prompt!r}"
    )
