"""Tools a model can call, the node that runs them, and a prebuilt ReAct agent (LangGraph's names).

``@tool`` reads a function's name, docstring and signature into a tool with a JSON schema. Inside a run,
each call publishes ``ToolStarted`` and ``ToolFinished`` (or ``ToolFailed``); tools can write custom data
with ``get_stream_writer()`` (the ``custom`` mode shows it, and the ``tools`` mode as the call's output
deltas). :class:`ToolNode`, :func:`tools_condition` and :func:`create_react_agent` behave as
``langgraph.prebuilt`` 1.x's: ``ToolNode`` runs the tool calls of the latest AI message concurrently,
answers bad arguments and unknown tools with an error ``ToolMessage`` and, by default, lets an exception a
tool raises fail the run (``handle_tool_errors`` chooses otherwise).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from . import workers
from .errors import (
    GraphBubbleUp,
    InvalidArgumentError,
    RunCancelledError,
    SyncInAsyncContextError,
    TaskCancelledError,
    is_invalid_resume,
)
from .errors import ToolArgumentsError as ToolArgumentsError
from .errors import ToolInvocationError as ToolInvocationError
from .events import ToolFailed, ToolFinished, ToolStarted, error_type_name
from .graph import END, START, Send, StateGraph
from .graph.constants import Command
from .graph.context import TaskContext, check_cancelled, current_task, enter_task, leave_task
from .graph.sync_code import run_sync_code
from .messages import AIMessage, BaseMessage, MessagesState, SystemMessage, ToolMessage
from .models.adapters import as_chat_model
from .portal import call_sync

__all__ = [
    "BaseTool",
    "InjectedState",
    "InjectedToolCallId",
    "register_tool_adapter",
    "ToolNode",
    "create_react_agent",
    "tool",
    "tools_condition",
]

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


class InjectedState:
    """Marks a tool parameter the graph state fills in, not the model (LangGraph's ``InjectedState``):
    ``state: Annotated[dict, InjectedState]`` takes the whole state, ``Annotated[list, InjectedState("messages")]``
    one key of it. The parameter is left out of the tool's schema; :class:`ToolNode` passes the value,
    replacing any the model gave.

    :param field: the state key to pass (None: the whole state)
    """

    def __init__(self, field: str | None = None) -> None:
        self.field = field


class InjectedToolCallId:
    """Marks a tool parameter that receives the id of the model's tool call (LangChain's
    ``InjectedToolCallId``): ``tool_call_id: Annotated[str, InjectedToolCallId]``. Left out of the tool's
    schema; the tool must then be called with a tool call (as :class:`ToolNode` calls it)."""


class BaseTool:
    """A callable tool with a name, a description and a JSON schema of its arguments.

    :param return_direct: as LangChain's: a ReAct agent (:func:`create_react_agent`) ends its run after
        calling this tool, its ``ToolMessage`` being the last message
    """

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        *,
        return_direct: bool = False,
    ) -> None:
        self.func = func
        self.return_direct = return_direct
        self.name = name or func.__name__
        doc = inspect.getdoc(func) or ""
        self.description = description or doc.split("\n\n")[0].strip()
        self.is_async = inspect.iscoroutinefunction(func)
        hints = typing.get_type_hints(func)
        extras = typing.get_type_hints(func, include_extras=True)
        props: dict[str, Any] = {}
        required: list[str] = []
        self._types: dict[str, type] = {}
        self.injected_state: dict[str, str | None] = {}
        """Parameters annotated ``InjectedState`` -> the state key they take (None: the whole state)."""
        self.injected_tool_call_id: str | None = None
        """The parameter annotated ``InjectedToolCallId``, if any."""
        self._model: Any = None
        """A pydantic model of the arguments, made when an error's text is first needed."""
        for pname, param in inspect.signature(func).parameters.items():
            marks = getattr(extras.get(pname), "__metadata__", ())
            state_mark = next((m for m in marks if m is InjectedState or isinstance(m, InjectedState)), None)
            if state_mark is not None:
                self.injected_state[pname] = state_mark.field if isinstance(state_mark, InjectedState) else None
                continue
            if any(m is InjectedToolCallId or isinstance(m, InjectedToolCallId) for m in marks):
                self.injected_tool_call_id = pname
                continue
            hint = hints.get(pname, Any)
            origin = typing.get_origin(hint) or hint
            props[pname] = {"type": _JSON_TYPES.get(origin, "string")} if origin in _JSON_TYPES else {}
            if isinstance(origin, type) and origin in _JSON_TYPES:
                self._types[pname] = origin
            if param.default is inspect.Parameter.empty:
                required.append(pname)
        self.args_schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}

    def validate(self, args: Any) -> dict[str, Any]:
        """Check ``args`` against the schema and return them read as their types, as LangChain's pydantic
        check reads them (lax mode): ``"2"`` or ``2.0`` for an ``int``, ``1`` or ``"yes"`` for a ``bool``, a
        tuple for a ``list``. Arguments the schema does not name are dropped, as LangChain drops them.

        :raises ToolArgumentsError: for a non-mapping, a missing required argument or a value that cannot be
            read as its type; its ``errors`` list each problem as pydantic words it, and its text is pydantic's
            ``ValidationError`` text (as LangChain's) when pydantic is installed
        """
        if not isinstance(args, Mapping):
            raise ToolArgumentsError(f"tool {self.name!r} takes a JSON object of arguments, got {args!r}")
        props = self.args_schema["properties"]
        required = set(self.args_schema["required"])
        valid: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for key in props:
            if key not in args:
                if key in required:
                    errors.append((key, "Field required"))
                continue
            expected = self._types.get(key)
            if expected is None:
                valid[key] = args[key]
                continue
            value, problem = _read_as(expected, args[key])
            if problem:
                errors.append((key, problem))
            else:
                valid[key] = value
        if errors:
            detail = "; ".join(f"{key}: {problem}" for key, problem in errors)
            text = self._pydantic_text(args) or f"tool {self.name!r} got invalid arguments: {detail}"
            raise ToolArgumentsError(text, errors)
        return valid

    def _pydantic_text(self, args: Mapping[str, Any]) -> str | None:
        """The text of the ``ValidationError`` pydantic raises for ``args`` against a model of the tool's
        arguments named after the tool, as LangChain's tools raise it (``"1 validation error for add\n..."``);
        None without pydantic (the ``pydantic`` extra), or when pydantic takes the arguments or cannot model
        the signature."""
        try:
            import pydantic
        except ImportError:
            return None
        try:
            if self._model is None:
                hints = typing.get_type_hints(self.func)
                params = inspect.signature(self.func).parameters
                fields: dict[str, Any] = {
                    name: (
                        hints.get(name, Any),
                        ... if params[name].default is inspect.Parameter.empty else params[name].default,
                    )
                    for name in self.args_schema["properties"]
                }
                self._model = pydantic.create_model(self.name, **fields)
            self._model.model_validate(dict(args))
        except pydantic.ValidationError as exc:
            return str(exc)
        except Exception:  # a signature pydantic cannot model: the library's own text stands
            return None
        return None

    async def ainvoke(self, args: Mapping[str, Any], *, tool_call_id: str | None = None) -> Any:
        """Validate ``args`` and call the tool (sync tools in a worker thread), publishing tool events inside
        a run: ``ToolStarted``, then ``ToolFinished`` or ``ToolFailed``. While the tool runs, what it gives
        ``get_stream_writer()`` is marked with the call's ``tool_call_id`` (the ``tools`` mode's output
        deltas) and chat models it calls have the call among their ``parent_ids``.

        As LangChain's ``BaseTool.ainvoke``, ``args`` may instead be a model's tool call (``{"name", "args",
        "id", "type": "tool_call"}``): then the result is a :class:`ToolMessage` answering it (the output as
        its content: a string as it is, anything else as JSON, else ``str()``; a ``ToolMessage`` or a
        :class:`~streamflow.types.Command` the tool returns as it is), and ``ToolFinished`` carries it.

        Cancelling the caller abandons a sync tool that is running (Python cannot stop its thread): it
        raises :class:`~streamflow.errors.TaskCancelledError` at its next stream-writer call, model call,
        ``dispatch_custom_event()`` or ``check_cancelled()``, and its run reports it while it still runs.

        :param tool_call_id: the id the model gave this tool call; a new id when None
        :raises ToolArgumentsError: when ``args`` do not fit the schema
        :raises Exception: what the tool raised, unchanged
        """
        call: Mapping[str, Any] | None = None
        if isinstance(args, Mapping) and args.get("type") == "tool_call" and "args" in args:
            call = args
            args = call["args"]
            tool_call_id = call.get("id") or tool_call_id
        injected = self._injected(args, tool_call_id)
        if injected:
            args = {k: v for k, v in args.items() if k not in injected}
        task = current_task()
        if task is None:
            output = await self._call({**self.validate(args), **injected}, None, "")
            return output if call is None else _tool_message(output, call, self.name)
        call_id = str(uuid.uuid4())
        tool_call_id = tool_call_id or call_id
        run = task.run
        route: dict[str, Any] = {
            "ns": task.ns,
            "node": task.node,
            "step": task.step,
            "task_id": task.task_id,
            "tags": (*task.local_call_tags(), *run.tags),
            "call_id": call_id,
            "tool_call_id": tool_call_id,
            "name": self.name,
        }
        run.publish_soon(ToolStarted(**route, metadata=task.metadata(), input=dict(args), parent_ids=task.parent_ids))
        call_task = task.for_tool_call(call_id, tool_call_id)
        entered = enter_task(call_task)
        try:
            output = await self._call({**self.validate(args), **injected}, call_task, call_id)
            if call is not None:
                output = _tool_message(output, call, self.name)
        except Exception as exc:
            run.publish_soon(ToolFailed(**route, error_type=error_type_name(exc), error_message=str(exc)))
            raise
        finally:
            leave_task(entered)
        # the event keeps the message as the tool returned it (add_messages later gives it an id in place)
        published = copy.copy(output) if isinstance(output, BaseMessage) else output
        run.publish_soon(ToolFinished(**route, output=published))
        return output

    def invoke(self, args: Mapping[str, Any], *, tool_call_id: str | None = None) -> Any:
        """Sync :meth:`ainvoke` (LangChain's ``BaseTool.invoke``): from a sync node (a worker thread of the
        run) it runs on the run's loop; from plain sync code, through a portal.

        :raises SyncInAsyncContextError: when called on a thread that runs an event loop (use ``ainvoke``)
        :raises ToolArgumentsError: when ``args`` do not fit the schema
        :raises Exception: what the tool raised, unchanged
        """
        check_cancelled()
        task = current_task()
        call = functools.partial(self.ainvoke, args, tool_call_id=tool_call_id)
        if task is not None and not task.run.on_loop():
            return task.run.call_from_thread(call)
        if task is not None:
            raise SyncInAsyncContextError("tool.invoke() called on the event loop thread; use await tool.ainvoke()")
        return call_sync(call, async_alternative="ainvoke()")

    def _injected(self, args: Any, tool_call_id: str | None) -> dict[str, Any]:
        """The values of the injected parameters: state values as ``ToolNode`` put them in ``args``, and the
        tool call id."""
        injected: dict[str, Any] = {}
        if isinstance(args, Mapping):
            injected = {k: args[k] for k in self.injected_state if k in args}
        if self.injected_tool_call_id is not None:
            if tool_call_id is None:
                raise ToolArgumentsError(
                    f"tool {self.name!r} takes an InjectedToolCallId argument: call it with a model's tool call "
                    "({'name', 'args', 'id', 'type': 'tool_call'})"
                )
            injected[self.injected_tool_call_id] = tool_call_id
        return injected

    async def _call(self, valid: dict[str, Any], task: TaskContext | None, call_id: str) -> Any:
        if self.is_async:
            return await self.func(**valid)
        if task is None:
            return await workers.run_sync(lambda: self.func(**valid), label=f"tool {self.name!r}")
        return await run_sync_code(task, lambda: self.func(**valid), "tool", self.name, call_id)


@typing.overload
def tool(
    name_or_func: Callable[..., Any], /, *, description: str | None = None, return_direct: bool = False
) -> BaseTool: ...


@typing.overload
def tool(
    name_or_func: str | None = None, /, *, description: str | None = None, return_direct: bool = False
) -> Callable[[Callable[..., Any]], BaseTool]: ...


def tool(
    name_or_func: str | Callable[..., Any] | None = None,
    /,
    *,
    description: str | None = None,
    return_direct: bool = False,
) -> BaseTool | Callable[[Callable[..., Any]], BaseTool]:
    """Make a tool of a function (sync or async), as LangChain's ``@tool``: its name, its docstring's first
    paragraph as the description, and a JSON schema from its signature's type hints.

    Used bare (``@tool``) it returns the tool; called (``@tool()``, ``@tool("name")``,
    ``@tool(description="...")``) it returns a decorator.

    :param name_or_func: the function, or the tool's name (default: the function's name)
    :param description: the tool's description (default: from the docstring)
    :param return_direct: a ReAct agent ends its run after calling the tool (LangChain's ``return_direct``)
    :raises InvalidArgumentError: when ``name_or_func`` is neither a function nor a string, or the
        decorator is applied to something that is not callable
    """
    if callable(name_or_func):
        return BaseTool(name_or_func, description=description, return_direct=return_direct)
    if name_or_func is not None and not isinstance(name_or_func, str):
        raise InvalidArgumentError(
            f"tool() takes a function or a tool name, got {type(name_or_func).__name__} {name_or_func!r}"
        )
    name = name_or_func

    def decorate(func: Callable[..., Any]) -> BaseTool:
        if not callable(func):
            raise InvalidArgumentError(f"@tool(...) decorates a function, got {type(func).__name__} {func!r}")
        return BaseTool(func, name=name, description=description, return_direct=return_direct)

    return decorate


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _read_as(expected: type, value: Any) -> tuple[Any, str]:
    """``value`` read as ``expected`` the way pydantic's lax mode reads it, and ``""``; or ``None`` and the
    problem, worded as pydantic words it."""
    if expected is bool:
        if isinstance(value, bool):
            return value, ""
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value), ""
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE, ""
        if isinstance(value, (int, float, str)):
            return None, "Input should be a valid boolean, unable to interpret input"
        return None, "Input should be a valid boolean"
    if expected is int:
        if isinstance(value, int):
            return int(value), ""
        if isinstance(value, float):
            if value.is_integer():
                return int(value), ""
            return None, "Input should be a valid integer, got a number with a fractional part"
        if isinstance(value, str):
            try:
                return int(value.strip()), ""
            except ValueError:
                return None, "Input should be a valid integer, unable to parse string as an integer"
        return None, "Input should be a valid integer"
    if expected is float:
        if isinstance(value, (int, float)):
            return float(value), ""
        if isinstance(value, str):
            try:
                return float(value.strip()), ""
            except ValueError:
                return None, "Input should be a valid number, unable to parse string as a number"
        return None, "Input should be a valid number"
    if expected is str:
        if isinstance(value, str):
            return value, ""
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace"), ""
        return None, "Input should be a valid string"
    if expected is list:
        if isinstance(value, (list, tuple, set, frozenset)):
            return list(value), ""
        return None, "Input should be a valid list"
    if isinstance(value, Mapping):
        return dict(value), ""
    return None, "Input should be a valid dictionary"


def _tool_content(output: Any) -> str:
    """A tool's output as a ``ToolMessage`` content, as LangChain formats it: a string as it is, anything
    else as JSON, else ``str()``."""
    if isinstance(output, str):
        return output
    try:
        return json.dumps(output, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(output)


def _tool_message(output: Any, call: Mapping[str, Any], name: str) -> ToolMessage | Command[Any]:
    if isinstance(output, (ToolMessage, Command)):  # a Command goes on as it is, as LangChain passes it
        return output
    return ToolMessage(content=_tool_content(output), tool_call_id=str(call.get("id") or ""), name=name)


def _as_tool(func: Any) -> BaseTool:
    for adapt in _tool_adapters:
        adapted = adapt(func)
        if adapted is not None:
            return adapted
    if not callable(func):
        raise InvalidArgumentError(f"a tool is a BaseTool or a function, got {type(func).__name__} {func!r}")
    return BaseTool(func)


_tool_adapters: list[Callable[[Any], BaseTool | None]] = []


def register_tool_adapter(adapt: Callable[[Any], BaseTool | None]) -> None:
    """Have ``ToolNode`` and the agents take another library's tools: ``adapt`` returns a :class:`BaseTool`
    standing for a tool it knows, None for anything else. A bridge registers one (the LangChain bridge, for
    langchain-core's ``BaseTool``); registering the same function twice is a no-op."""
    if adapt not in _tool_adapters:
        _tool_adapters.append(adapt)


ErrorHandling = bool | str | Callable[..., str] | type[Exception] | tuple[type[Exception], ...]
"""What ``ToolNode(handle_tool_errors=...)`` takes (LangGraph's types)."""


def _invocation_errors_only(e: Exception) -> str:
    """``ToolNode``'s default error handling, as LangGraph's: arguments that do not fit a tool's schema give
    an error ``ToolMessage`` (the :class:`ToolInvocationError` message); any other error is raised."""
    if isinstance(e, ToolInvocationError):
        return e.message
    raise e


def _handled_types(handler: Callable[..., str]) -> tuple[type[Exception], ...]:
    """The exception types a handler's first parameter is annotated with (``Exception`` when it has no
    annotation), as LangGraph infers them.

    :raises InvalidArgumentError: when the annotation is not an exception type or a union of them
    """
    params = list(inspect.signature(handler).parameters.values())
    if not params:
        return (Exception,)
    first = params[1] if params[0].name in ("self", "cls") and len(params) == 2 else params[0]
    hints = typing.get_type_hints(handler)
    if first.name not in hints:
        return (Exception,)
    hint = hints[first.name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        if all(isinstance(m, type) and issubclass(m, Exception) for m in members):
            return tuple(members)
        raise InvalidArgumentError(
            "All types in the error handler error annotation must be Exception types. For example, "
            f"`def custom_handler(e: Union[ValueError, TypeError])`. Got '{first.annotation}' instead."
        )
    if isinstance(hint, type) and issubclass(hint, Exception):
        return (hint,)
    raise InvalidArgumentError(
        "Arbitrary types are not supported in the error handler signature. Please annotate the error with "
        "either a specific Exception type or a union of Exception types. For example, "
        "`def custom_handler(e: ValueError)` or `def custom_handler(e: Union[ValueError, TypeError])`. "
        f"Got '{hint}' instead."
    )


class ToolNode:
    """A graph node that runs the tool calls of the latest AI message concurrently (LangGraph's
    ``ToolNode``).

    Its input is the state (a mapping or an object with a ``messages_key`` list), a list of messages, or
    one tool call as ``create_react_agent(version="v2")`` sends it. It returns ``{messages_key:
    [ToolMessage, ...]}`` in the order of the calls (a list of messages for a list input); a tool's
    output becomes the content as LangChain formats it (a string as it is, anything else as JSON).

    A call to a tool it does not have gives an error ``ToolMessage`` (``Error: <name> is not a valid tool,
    try one of [<names>].``). Other failures follow ``handle_tool_errors``, as in LangGraph:

    - by default, arguments that do not fit the tool's schema give an error ``ToolMessage`` with the
      :class:`ToolInvocationError` message, and an exception the tool raises is raised (the run fails);
    - ``True``: every exception gives ``Error: <repr(exception)>\n Please fix your mistakes.``;
    - a string: every exception gives that string;
    - an exception type or a tuple of them: those give the ``True`` text, others are raised;
    - a callable: the exceptions its first parameter is annotated with (all without an annotation) give
      what it returns for them, others are raised;
    - ``False``: every exception is raised (bad arguments as :class:`ToolInvocationError`).

    Cancellation is never turned into a message.

    A tool may return a :class:`~streamflow.types.Command`; then, as LangGraph's ToolNode, the node returns a
    list of the commands and of ``{messages_key: [message]}`` for the other calls (a command to the current
    graph with a dict update must answer its call with a ``ToolMessage`` under ``messages_key``, which gets
    the tool's name; commands to the parent graph that only send ``Send``s are merged into one).

    :param tools: ``@tool`` tools or plain functions (made tools), or another library's tools a bridge adapts
        (langchain-core's ``BaseTool``, see :func:`register_tool_adapter`)
    :param name: the node's name when added with ``add_node(tool_node)``
    :param tags: kept for LangGraph's signature (``tags``)
    :param messages_key: the state key holding the messages, and the key of the output
    :raises InvalidArgumentError: for a tool that is neither a :class:`BaseTool` nor a function; when a
        tool fails: for a ``handle_tool_errors`` of another type, or a handler annotated with a type that is
        not an exception (LangGraph's ``ValueError`` messages)
    """

    def __init__(
        self,
        tools: Sequence[Any],
        *,
        name: str = "tools",
        tags: list[str] | None = None,
        handle_tool_errors: ErrorHandling = _invocation_errors_only,
        messages_key: str = "messages",
    ) -> None:
        self.tools_by_name: dict[str, BaseTool] = {
            t.name: t for t in (x if isinstance(x, BaseTool) else _as_tool(x) for x in tools)
        }
        self.name = name
        self.tags = list(tags or [])
        self.handle_tool_errors = handle_tool_errors
        self.messages_key = messages_key

    @property
    def tools(self) -> dict[str, BaseTool]:
        """The tools by name (as :attr:`tools_by_name`)."""
        return self.tools_by_name

    def _state_of(self, input: Any) -> Any:
        """The state injected tool parameters read, as LangGraph's ``ToolNode`` takes it: from its input, or
        for a list of tool calls (a ``Send`` of them) the state the node would get from an edge (``{}``
        outside a graph)."""
        if isinstance(input, Mapping) and input.get("__type") == "tool_call_with_context":
            return input["state"]
        if (
            isinstance(input, list)
            and input
            and isinstance(input[-1], Mapping)
            and input[-1].get("type") == "tool_call"
        ):
            task = current_task()
            return {} if task is None or task.read_state is None else task.read_state()
        return input

    def _inject(self, tool: BaseTool, call: Mapping[str, Any], state: Any) -> Mapping[str, Any]:
        """``call`` with the tool's injected state values in its arguments (replacing any the model gave)."""
        if not tool.injected_state:
            return call
        if isinstance(state, list):
            fields = list(tool.injected_state.values())
            if (len(fields) == 1 and fields[0] == self.messages_key) or fields[0] is None:
                state = {self.messages_key: state}
            else:
                named = ", ".join(f for f in fields if f)
                raise InvalidArgumentError(
                    f"Invalid input to ToolNode. Tool {call['name']} requires graph state dict as input."
                    + (f" State should contain fields {named}." if named else "")
                )
        args = {k: v for k, v in (call.get("args") or {}).items() if k not in tool.injected_state}
        for param, field in tool.injected_state.items():
            if not field:
                args[param] = state
            elif isinstance(state, Mapping):
                if field not in state:
                    raise KeyError(field)
                args[param] = state[field]
            else:
                args[param] = getattr(state, field)
        return {**call, "args": args}

    def _parse_input(self, input: Any) -> tuple[list[Mapping[str, Any]], bool]:
        """The tool calls to run and whether the input was a list of messages."""
        if isinstance(input, Mapping) and input.get("__type") == "tool_call_with_context":
            return [input["tool_call"]], False
        if isinstance(input, list):
            if input and isinstance(input[-1], Mapping) and input[-1].get("type") == "tool_call":
                return list(input), False
            messages, as_list = input, True
        elif isinstance(input, Mapping) and input.get(self.messages_key):
            messages, as_list = input[self.messages_key], False
        elif not isinstance(input, Mapping) and getattr(input, self.messages_key, None):
            messages, as_list = getattr(input, self.messages_key), False
        else:
            raise InvalidArgumentError("No message found in input")
        latest = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        if latest is None:
            raise InvalidArgumentError("No AIMessage found in input")
        return list(latest.tool_calls), as_list

    def _error_content(self, exc: Exception) -> str | None:
        """The error message content for ``exc``, or None when it is to be raised."""
        flag = self.handle_tool_errors
        if isinstance(flag, type) and issubclass(flag, Exception):
            handled: tuple[type[Exception], ...] = (flag,)
        elif isinstance(flag, tuple):
            handled = flag
        elif callable(flag) and not isinstance(flag, type):
            handled = _handled_types(flag)
        else:
            handled = (Exception,)
        if not flag or not isinstance(exc, handled):
            return None
        if isinstance(flag, (bool, tuple, type)):
            return f"Error: {exc!r}\n Please fix your mistakes."
        if isinstance(flag, str):
            return flag
        if callable(flag):
            return str(flag(exc))
        raise InvalidArgumentError(
            f"Got unexpected type of `handle_tool_error`. Expected bool, str or callable. Received: {flag}"
        )

    async def _run_one(self, call: Mapping[str, Any], state: Any) -> ToolMessage | Command[Any]:
        found = self.tools_by_name.get(call["name"])
        if found is None:
            content = f"Error: {call['name']} is not a valid tool, try one of [{', '.join(self.tools_by_name)}]."
            return ToolMessage(content=content, tool_call_id=call["id"], name=call["name"], status="error")
        try:
            try:
                message: ToolMessage | Command[Any] = await found.ainvoke(
                    {**self._inject(found, call, state), "type": "tool_call"}
                )
            except ToolArgumentsError as exc:
                if isinstance(exc, ToolInvocationError):
                    raise
                raise ToolInvocationError(call["name"], exc, call.get("args") or {}) from exc
            return message
        except (TaskCancelledError, RunCancelledError, GraphBubbleUp):
            raise  # an interrupt() or a Command to the parent graph is no tool error (LangGraph's ToolNode)
        except Exception as exc:
            # an answer that does not fit an interrupt's response_schema is no tool error either: the model
            # cannot fix it, the interrupt is to be answered again (LangGraph's)
            text = None if is_invalid_resume(exc) else self._error_content(exc)
            if text is None:
                raise
            return ToolMessage(content=text, tool_call_id=call["id"], name=call["name"], status="error")

    async def __call__(self, state: Any) -> Any:
        calls, as_list = self._parse_input(state)
        tool_state = self._state_of(state)
        results: list[ToolMessage | Command[Any] | BaseException | None] = [None] * len(calls)

        async def run_one(index: int, call: Mapping[str, Any]) -> None:
            try:
                results[index] = await self._run_one(call, tool_state)
            except Exception as exc:
                results[index] = exc

        async with anyio.create_task_group() as tg:
            for i, call in enumerate(calls):
                tg.start_soon(run_one, i, call)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if any(isinstance(r, Command) for r in results):
            return _with_commands(results, calls, as_list, self.messages_key)
        messages = [r for r in results if isinstance(r, ToolMessage)]
        return messages if as_list else {self.messages_key: messages}


def _with_commands(results: Sequence[Any], calls: Sequence[Mapping[str, Any]], as_list: bool, key: str) -> list[Any]:
    """What ``ToolNode`` returns when a tool returned a ``Command``, as LangGraph's ToolNode: a list with each
    command (see :func:`_tool_command`) and each message as an update of its own (``{key: [message]}``, or
    ``[message]`` for a list input); commands to the parent graph whose ``goto`` is a list of ``Send`` are
    merged into one, last."""
    out: list[Any] = []
    sends: list[Send] | None = None
    for result, call in zip(results, calls, strict=True):
        if isinstance(result, ToolMessage):
            out.append([result] if as_list else {key: [result]})
        elif not isinstance(result, Command):
            continue
        elif (
            result.graph == Command.PARENT
            and isinstance(result.goto, list)
            and all(isinstance(send, Send) for send in result.goto)
        ):
            sends = [*(sends or []), *result.goto]
        else:
            out.append(_tool_command(result, call, key))
    if sends is not None:
        out.append(Command(graph=Command.PARENT, goto=sends))
    return out


def _tool_command(command: Command[Any], call: Mapping[str, Any], key: str) -> Command[Any]:
    """A tool's ``Command`` as ``ToolNode`` passes it on (LangGraph's ToolNode): a copy in which the
    ``ToolMessage`` answering ``call`` gets the tool's name.

    :raises InvalidArgumentError: (a ``ValueError``) when a command for the current graph has a dict update
        without a ``ToolMessage`` answering the call under ``key``, as LangGraph's ToolNode refuses it
    """
    if not isinstance(command.update, dict):
        return command
    command = copy.deepcopy(command)
    found = typing.cast("dict[str, Any]", command.update).get(key, [])
    found = found if isinstance(found, list) else [found]
    matching = [m for m in found if isinstance(m, ToolMessage) and m.tool_call_id == call["id"]]
    for message in matching:
        message.name = call["name"]
    if command.graph is None and not matching:
        raise InvalidArgumentError(
            f"Expected to have a matching ToolMessage in Command.update for tool {call['name']!r}, got: {found}. "
            "Every tool call (LLM requesting to call a tool) in the message history MUST have a corresponding "
            f'ToolMessage. You can fix it by modifying the tool to return `Command(update={{"{key}": '
            '[ToolMessage("Success", tool_call_id=tool_call_id), ...]}, ...)`.'
        )
    return command


def tools_condition(state: Any, messages_key: str = "messages") -> str:
    """``"tools"`` when the last message asks for tool calls, else ``END`` (LangGraph's prebuilt).

    ``state`` is a list of messages, a mapping or an object with a ``messages_key`` list.

    :raises InvalidArgumentError: when it holds no message (LangGraph's ``ValueError`` message)
    """
    if isinstance(state, list) and state:
        last = state[-1]
    elif isinstance(state, Mapping) and state.get(messages_key):
        last = state[messages_key][-1]
    elif not isinstance(state, (list, Mapping)) and getattr(state, messages_key, None):
        last = getattr(state, messages_key)[-1]
    else:
        raise InvalidArgumentError(f"No messages found in input state to tool_edge: {state}")
    return "tools" if getattr(last, "tool_calls", None) else END


_NOT_YET = (
    "response_format",
    "pre_model_hook",
    "post_model_hook",
    "state_schema",
    "context_schema",
    "checkpointer",
    "store",
    "interrupt_before",
    "interrupt_after",
    "debug",
)


def _check_chat_history(messages: Sequence[Any]) -> None:
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    pending = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls if c["id"] not in answered]
    if pending:
        raise InvalidArgumentError(
            "Found AIMessages with tool_calls that do not have a corresponding ToolMessage. "
            f"Here are the first few of those tool calls: {pending[:3]}.\n\n"
            "Every tool call (LLM requesting to call a tool) in the message history MUST have a corresponding "
            "ToolMessage (result of a tool invocation to return to the LLM) - this is required by most LLM "
            "providers.\nFor troubleshooting, visit: "
            "https://docs.langchain.com/oss/python/langgraph/errors/INVALID_CHAT_HISTORY"
        )


Prompt = str | BaseMessage | Sequence[BaseMessage] | Callable[[Any], Any]
"""What ``create_react_agent(prompt=...)`` takes: a system prompt, a message, messages, or a function (sync
or async) of the state returning the model's input messages."""


def _prompt_function(prompt: Prompt | None) -> Callable[[Any], Any]:
    if prompt is None:
        return lambda state: list(state["messages"])
    if isinstance(prompt, str):
        system = SystemMessage(content=prompt)
        return lambda state: [system, *state["messages"]]
    if isinstance(prompt, BaseMessage):
        message = prompt
        return lambda state: [message, *state["messages"]]
    if callable(prompt):
        return prompt
    if isinstance(prompt, Sequence):
        preamble = list(prompt)
        for item in preamble:
            if not isinstance(item, BaseMessage):
                raise InvalidArgumentError(f"prompt items must be messages, got {type(item).__name__} {item!r}")
        return lambda state: [*preamble, *state["messages"]]
    raise InvalidArgumentError(
        f"Got unexpected type for `prompt`: {type(prompt)}; a prompt is a str, a message, a list of messages or "
        "a function of the state returning messages"
    )


def create_react_agent(
    model: Any,
    tools: Sequence[Any] | ToolNode,
    *,
    prompt: Prompt | None = None,
    version: str = "v2",
    name: str | None = None,
    **unsupported: Any,
) -> Any:
    """A compiled ReAct agent, as LangGraph's: the model (``"agent"`` node) and a :class:`ToolNode`
    (``"tools"``) in a loop until the model answers without tool calls. Input and output: ``{"messages":
    [...]}``. Without tools the graph is the ``"agent"`` node alone.

    Each answer of the model is named ``name``. ``version="v2"`` (the default) runs each tool call of an
    answer as its own ``"tools"`` task (one ``updates`` chunk each); ``"v1"`` runs them all in one task.
    A tool that raises fails the run, as in LangGraph (pass a ``ToolNode(tools, handle_tool_errors=True)``
    to turn errors into messages). After a call to a tool made with ``return_direct=True`` the run ends,
    its ``ToolMessage`` last. As LangGraph's, when the answer asks for tools with fewer than two steps of
    the run's ``recursion_limit`` left, the model's message is replaced by ``"Sorry, need more steps to
    process this request."`` and the run ends.

    :param model: a chat model with ``bind_tools`` (bound to the tools when there are any)
    :param tools: tools, functions, or a :class:`ToolNode`
    :param prompt: a system prompt (a string becomes a ``SystemMessage``), a ``SystemMessage``, or a
        function (sync or async) of the state returning the model's input, as in LangGraph; also (beyond
        LangGraph) any message or a list of messages. Put before the state's messages on every model call,
        and not added to the state
    :param name: the compiled graph's name (default ``"LangGraph"``) and the ``name`` of its AI messages
    :raises InvalidArgumentError: for a ``model`` that is not a chat model (LangGraph's model names and
        model-choosing functions are not supported yet), a ``version`` other than ``"v1"``/``"v2"``, a
        ``prompt`` of another type or a list holding a non-message, a tool that is neither a
        :class:`BaseTool` nor a function, or one of LangGraph's parameters streamflow does not support yet
        set (``response_format``, ``pre_model_hook``, ``post_model_hook``, ``checkpointer``, ``store``,
        ``interrupt_before``/``interrupt_after``, ``state_schema``, ``context_schema``, ``debug``); the
        agent's run fails with it when its messages hold a tool call no ``ToolMessage`` answers
    :raises TypeError: for another keyword argument, as LangGraph raises
    """
    refused = [key for key in _NOT_YET if unsupported.get(key)]
    if refused:
        raise InvalidArgumentError(
            f"create_react_agent(): {', '.join(refused)} not supported by streamflow yet; supported: "
            "model, tools, prompt, version, name"
        )
    unknown = {k: v for k, v in unsupported.items() if k not in _NOT_YET}
    if unknown:
        raise TypeError(f"create_react_agent() got unexpected keyword arguments: {unknown}")
    if version not in ("v1", "v2"):
        raise InvalidArgumentError(f"Invalid version {version}. Supported versions are 'v1' and 'v2'.")
    model = as_chat_model(model)
    if not hasattr(model, "bind_tools") or not hasattr(model, "ainvoke"):
        raise InvalidArgumentError(
            f"create_react_agent() takes a chat model (with bind_tools and ainvoke), got {type(model).__name__} "
            f"{model!r}; model names ('provider:model') and functions choosing a model are not supported yet"
        )
    node = tools if isinstance(tools, ToolNode) else ToolNode(tools)
    tool_list = list(node.tools_by_name.values())
    bound = model.bind_tools(tool_list) if tool_list else model
    make_input = _prompt_function(prompt)
    return_direct = {t.name for t in tool_list if t.return_direct}

    async def agent(state: MessagesState) -> dict[str, list[AIMessage]]:
        _check_chat_history(state["messages"])
        model_input = make_input(state)
        if inspect.isawaitable(model_input):
            model_input = await model_input
        response: AIMessage = await bound.ainvoke(model_input)
        response.name = name
        if _more_steps_needed(response):
            return {"messages": [AIMessage(id=response.id, content="Sorry, need more steps to process this request.")]}
        return {"messages": [response]}

    def _more_steps_needed(response: AIMessage) -> bool:
        """LangGraph's ``remaining_steps`` check: the answer asks for tools the run has no steps left for."""
        task = current_task()
        if task is None:
            return False
        remaining = task.run.recursion_limit - task.step
        all_direct = all(c["name"] in return_direct for c in response.tool_calls)
        return (remaining < 1 and all_direct) or (remaining < 2 and bool(response.tool_calls))

    def should_continue(state: MessagesState) -> Any:
        last = state["messages"][-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return END
        if version == "v1":
            return "tools"
        return [
            Send("tools", {"__type": "tool_call_with_context", "tool_call": call, "state": state})
            for call in last.tool_calls
        ]

    def after_tools(state: MessagesState) -> str:
        """END when a tool that returns directly answered (or was asked for), else back to the model."""
        last: Any = None
        for last in reversed(state["messages"]):
            if not isinstance(last, ToolMessage):
                break
            if last.name in return_direct:
                return END
        if isinstance(last, AIMessage) and any(c["name"] in return_direct for c in last.tool_calls):
            return END
        return "agent"

    builder = StateGraph(MessagesState).add_node("agent", agent).add_edge(START, "agent")
    if not tool_list:
        return builder.add_edge("agent", END).compile(name=name)
    builder.add_node("tools", node).add_conditional_edges("agent", should_continue, ["tools", END])
    if return_direct:
        builder.add_conditional_edges("tools", after_tools, ["agent", END])
    else:
        builder.add_edge("tools", "agent")
    return builder.compile(name=name)
