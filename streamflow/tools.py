"""Tools a model can call, the node that runs them, and a prebuilt ReAct agent (LangGraph's names).

``@tool`` reads a function's name, docstring and signature into a tool with a JSON schema. Inside a run,
each call publishes ``ToolStarted`` and ``ToolFinished`` (or ``ToolFailed``); tools can write custom data
with ``get_stream_writer()`` (the ``custom`` mode shows it, and the ``tools`` mode as the call's output
deltas). :class:`ToolNode` runs the tool calls of the last AI message concurrently and
turns every failure (bad arguments, unknown tool, an exception) into a ``ToolMessage`` with
``status="error"``, so the agent can recover.
"""

from __future__ import annotations

import copy
import inspect
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from . import workers
from .errors import InvalidArgumentError
from .errors import ToolArgumentsError as ToolArgumentsError
from .events import ToolFailed, ToolFinished, ToolStarted, error_type_name
from .graph import END, START, StateGraph
from .graph.constants import Command, Send
from .graph.context import TaskContext, _current, current_task
from .graph.sync_code import run_sync_code
from .messages import AIMessage, BaseMessage, MessagesState, SystemMessage, ToolMessage

__all__ = ["BaseTool", "ToolNode", "create_react_agent", "tool", "tools_condition"]

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


class BaseTool:
    """A callable tool with a name, a description and a JSON schema of its arguments."""

    def __init__(self, func: Callable[..., Any], name: str | None = None, description: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        doc = inspect.getdoc(func) or ""
        self.description = description or doc.split("\n\n")[0].strip()
        self.is_async = inspect.iscoroutinefunction(func)
        hints = typing.get_type_hints(func)
        props: dict[str, Any] = {}
        required: list[str] = []
        self._types: dict[str, type] = {}
        for pname, param in inspect.signature(func).parameters.items():
            hint = hints.get(pname, Any)
            origin = typing.get_origin(hint) or hint
            props[pname] = {"type": _JSON_TYPES.get(origin, "string")} if origin in _JSON_TYPES else {}
            if isinstance(origin, type) and origin in _JSON_TYPES:
                self._types[pname] = origin
            if param.default is inspect.Parameter.empty:
                required.append(pname)
        self.args_schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}

    def validate(self, args: Any) -> dict[str, Any]:
        """Check ``args`` against the schema and return them.

        :raises ToolArgumentsError: for a non-mapping, a missing required or unknown argument, or a wrong type
        """
        if not isinstance(args, Mapping):
            raise ToolArgumentsError(f"tool {self.name!r} takes a JSON object of arguments, got {args!r}")
        props = self.args_schema["properties"]
        unknown = [k for k in args if k not in props]
        missing = [k for k in self.args_schema["required"] if k not in args]
        if unknown or missing:
            raise ToolArgumentsError(
                f"tool {self.name!r} got unknown arguments {unknown} / is missing {missing}; it takes {list(props)}"
            )
        for key, value in args.items():
            expected = self._types.get(key)
            ok = expected is None or isinstance(value, expected) or (expected is float and isinstance(value, int))
            if not ok or (expected in (int, float) and isinstance(value, bool)):
                raise ToolArgumentsError(
                    f"tool {self.name!r}: argument {key!r} must be {_JSON_TYPES[expected]}, got {value!r}"
                )
        return dict(args)

    async def ainvoke(self, args: Mapping[str, Any], *, tool_call_id: str | None = None) -> Any:
        """Validate ``args`` and call the tool (sync tools in a worker thread), publishing tool events inside
        a run: ``ToolStarted``, then ``ToolFinished`` or ``ToolFailed``. While the tool runs, what it gives
        ``get_stream_writer()`` is marked with the call's ``tool_call_id`` (the ``tools`` mode's output
        deltas) and chat models it calls have the call among their ``parent_ids``.

        Cancelling the caller abandons a sync tool that is running (Python cannot stop its thread): it
        raises :class:`~streamflow.errors.TaskCancelledError` at its next stream-writer call, model call,
        ``dispatch_custom_event()`` or ``check_cancelled()``, and its run reports it while it still runs.

        :param tool_call_id: the id the model gave this tool call; a new id when None
        :raises ToolArgumentsError: when ``args`` do not fit the schema
        :raises Exception: what the tool raised, unchanged
        """
        task = current_task()
        if task is None:
            return await self._call(self.validate(args), None, "")
        call_id = str(uuid.uuid4())
        tool_call_id = tool_call_id or call_id
        run = task.run
        route: dict[str, Any] = {
            "ns": task.ns,
            "node": task.node,
            "step": task.step,
            "task_id": task.task_id,
            "tags": run.tags,
            "call_id": call_id,
            "tool_call_id": tool_call_id,
            "name": self.name,
        }
        run.publish_soon(ToolStarted(**route, metadata=task.metadata(), input=dict(args), parent_ids=task.parent_ids))
        call_task = task.for_tool_call(call_id, tool_call_id)
        token = _current.set(call_task)
        try:
            output = await self._call(self.validate(args), call_task, call_id)
        except Exception as exc:
            run.publish_soon(ToolFailed(**route, error_type=error_type_name(exc), error_message=str(exc)))
            raise
        finally:
            _current.reset(token)
        run.publish_soon(ToolFinished(**route, output=output))
        return output

    async def _call(self, valid: dict[str, Any], task: TaskContext | None, call_id: str) -> Any:
        if self.is_async:
            return await self.func(**valid)
        if task is None:
            return await workers.run_sync(lambda: self.func(**valid), label=f"tool {self.name!r}")
        return await run_sync_code(task, lambda: self.func(**valid), "tool", self.name, call_id)


@typing.overload
def tool(name_or_func: Callable[..., Any], /, *, description: str | None = None) -> BaseTool: ...


@typing.overload
def tool(
    name_or_func: str | None = None, /, *, description: str | None = None
) -> Callable[[Callable[..., Any]], BaseTool]: ...


def tool(
    name_or_func: str | Callable[..., Any] | None = None, /, *, description: str | None = None
) -> BaseTool | Callable[[Callable[..., Any]], BaseTool]:
    """Make a tool of a function (sync or async), as LangChain's ``@tool``: its name, its docstring's first
    paragraph as the description, and a JSON schema from its signature's type hints.

    Used bare (``@tool``) it returns the tool; called (``@tool()``, ``@tool("name")``,
    ``@tool(description="...")``) it returns a decorator.

    :param name_or_func: the function, or the tool's name (default: the function's name)
    :param description: the tool's description (default: from the docstring)
    :raises InvalidArgumentError: when ``name_or_func`` is neither a function nor a string, or the
        decorator is applied to something that is not callable
    """
    if callable(name_or_func):
        return BaseTool(name_or_func, description=description)
    if name_or_func is not None and not isinstance(name_or_func, str):
        raise InvalidArgumentError(
            f"tool() takes a function or a tool name, got {type(name_or_func).__name__} {name_or_func!r}"
        )
    name = name_or_func

    def decorate(func: Callable[..., Any]) -> BaseTool:
        if not callable(func):
            raise InvalidArgumentError(f"@tool(...) decorates a function, got {type(func).__name__} {func!r}")
        return BaseTool(func, name=name, description=description)

    return decorate


def _as_tool(func: Any) -> BaseTool:
    if not callable(func):
        raise InvalidArgumentError(f"a tool is a BaseTool or a function, got {type(func).__name__} {func!r}")
    return BaseTool(func)


class ToolNode:
    """A graph node that runs every tool call of the last AI message concurrently.

    Returns ``{"messages": [ToolMessage, ...]}`` in the order of the calls. A call with arguments that fail
    the tool's schema, to an unknown tool, or that raises, gives a ``ToolMessage`` with ``status="error"``.
    A tool may return a :class:`~streamflow.types.Command`: the node then returns a list of the commands and
    of ``{"messages": [message]}`` for the other calls, as LangGraph's ToolNode does (a command for the
    current graph with a dict update must answer its call with a ``ToolMessage`` in ``messages``).
    """

    def __init__(self, tools: Sequence[BaseTool | Callable[..., Any]], *, name: str = "tools") -> None:
        self.tools = {t.name: t for t in (x if isinstance(x, BaseTool) else _as_tool(x) for x in tools)}
        self.name = name

    async def __call__(self, state: Any) -> Any:
        messages = state["messages"] if isinstance(state, Mapping) else state.messages
        last = messages[-1]
        calls = last.tool_calls if isinstance(last, AIMessage) else []
        results: list[ToolMessage | Command[Any] | None] = [None] * len(calls)

        async def run_one(index: int, call: Mapping[str, Any]) -> None:
            found = self.tools.get(call["name"])
            if found is None:
                content = f"Error: unknown tool {call['name']!r}; available tools: {sorted(self.tools)}"
                results[index] = ToolMessage(
                    content=content, tool_call_id=call["id"], name=call["name"], status="error"
                )
                return
            try:
                output = await found.ainvoke(call["args"], tool_call_id=call["id"])
            except Exception as exc:
                results[index] = ToolMessage(
                    content=f"Error: {exc}", tool_call_id=call["id"], name=found.name, status="error"
                )
            else:
                if isinstance(output, Command):
                    results[index] = output  # checked below, out of the task group (which would wrap an error)
                else:
                    results[index] = ToolMessage(content=str(output), tool_call_id=call["id"], name=found.name)

        async with anyio.create_task_group() as tg:
            for i, call in enumerate(calls):
                tg.start_soon(run_one, i, call)
        results = [
            _tool_command(r, call) if isinstance(r, Command) else r for r, call in zip(results, calls, strict=True)
        ]
        return _tool_node_output([r for r in results if r is not None])


def _tool_command(command: Command[Any], call: Mapping[str, Any]) -> Command[Any]:
    """A tool's ``Command`` as ``ToolNode`` passes it on (LangGraph's ToolNode): a copy in which the
    ``ToolMessage`` answering ``call`` gets the tool's name.

    :raises InvalidArgumentError: (a ``ValueError``) when a command for the current graph has a dict update
        without a ``ToolMessage`` answering the call in its ``messages``, as LangGraph's ToolNode refuses it
    """
    if not isinstance(command.update, dict):
        return command
    command = copy.deepcopy(command)
    found = typing.cast("dict[str, Any]", command.update).get("messages", [])
    found = found if isinstance(found, list) else [found]
    matching = [m for m in found if isinstance(m, ToolMessage) and m.tool_call_id == call["id"]]
    for message in matching:
        message.name = call["name"]
    if command.graph is None and not matching:
        raise InvalidArgumentError(
            f"Expected to have a matching ToolMessage in Command.update for tool {call['name']!r}, got: {found}. "
            "Every tool call (LLM requesting to call a tool) in the message history MUST have a corresponding "
            'ToolMessage. You can fix it by modifying the tool to return `Command(update={"messages": '
            '[ToolMessage("Success", tool_call_id=tool_call_id), ...]}, ...)`.'
        )
    return command


def _tool_node_output(results: list[ToolMessage | Command[Any]]) -> Any:
    """What ``ToolNode`` returns for its calls' results, as LangGraph's: ``{"messages": [...]}`` when no tool
    returned a ``Command``; else a list with each command as it is and ``{"messages": [message]}`` for each
    message, the commands to the parent graph whose ``goto`` is a list of ``Send`` merged into one, last."""
    if not any(isinstance(r, Command) for r in results):
        return {"messages": results}
    out: list[Any] = []
    sends: list[Send] | None = None
    for result in results:
        if not isinstance(result, Command):
            out.append({"messages": [result]})
        elif (
            result.graph == Command.PARENT
            and isinstance(result.goto, list)
            and all(isinstance(send, Send) for send in result.goto)
        ):
            sends = [*(sends or []), *result.goto]
        else:
            out.append(result)
    if sends is not None:
        out.append(Command(graph=Command.PARENT, goto=sends))
    return out


def tools_condition(state: Any) -> str:
    """``"tools"`` when the last message asks for tool calls, else ``END`` (LangGraph's prebuilt)."""
    messages = state["messages"] if isinstance(state, Mapping) else state.messages
    last = messages[-1] if messages else None
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def create_react_agent(
    model: Any,
    tools: Sequence[BaseTool | Callable[..., Any]],
    *,
    prompt: str | BaseMessage | Sequence[BaseMessage] | None = None,
    name: str = "agent",
) -> Any:
    """A compiled ReAct agent: the model (``"agent"`` node) and a :class:`ToolNode` (``"tools"``) in a loop
    until the model answers without tool calls. Input and output: ``{"messages": [...]}``.

    :param prompt: as LangGraph's ``prompt``: a system prompt (a string becomes a ``SystemMessage``) or
        messages put before the state's messages on every model call; they are not added to the state
    :raises InvalidArgumentError: for a tool that is neither a :class:`BaseTool` nor a function, or a
        ``prompt`` item that is not a message
    """
    node = ToolNode(tools)
    bound = model.bind_tools(list(node.tools.values()))
    if prompt is None:
        preamble: list[BaseMessage] = []
    elif isinstance(prompt, str):
        preamble = [SystemMessage(content=prompt)]
    elif isinstance(prompt, BaseMessage):
        preamble = [prompt]
    else:
        preamble = list(prompt)
        for item in preamble:
            if not isinstance(item, BaseMessage):
                raise InvalidArgumentError(f"prompt items must be messages, got {type(item).__name__} {item!r}")

    async def agent(state: MessagesState) -> dict[str, list[AIMessage]]:
        return {"messages": [await bound.ainvoke([*preamble, *state["messages"]])]}

    return (
        StateGraph(MessagesState)
        .add_node("agent", agent)
        .add_node("tools", node)
        .add_edge(START, "agent")
        .add_conditional_edges("agent", tools_condition, ["tools", END])
        .add_edge("tools", "agent")
        .compile(name=name)
    )
