"""The two libraries as one parametrized fixture, and the normaliser both sides' outputs go through.

Every case in this package builds its graph from ``lib`` (a :class:`Lib`): the names LangGraph exports and
streamflow re-exports under the same names, so only the package differs. A case runs on LangGraph as the
reference and on streamflow, and compares the two normalised outputs. A case marked ``differs(reason)``
documents a known difference: on streamflow it is a strict xfail (it goes red once the difference is fixed),
on LangGraph it runs as usual.

Without LangGraph installed the package skips with a reason, unless ``CI`` is set: CI installs the
``compare`` extra, so there a missing LangGraph is an error.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

LIBRARIES = ("langgraph", "streamflow")


@dataclass(frozen=True)
class Lib:
    """The names a migrated program imports, taken from one library."""

    name: str
    StateGraph: Any
    START: Any
    END: Any
    Send: Any
    StreamWriter: Any
    get_stream_writer: Any
    get_config: Any
    add_messages: Any
    MessagesState: Any
    AIMessage: Any
    HumanMessage: Any
    Runtime: Any
    get_runtime: Any
    InMemorySaver: Any
    SqliteSaver: Any
    AsyncSqliteSaver: Any
    PostgresSaver: Any
    AsyncPostgresSaver: Any
    SystemMessage: Any
    ToolMessage: Any
    AIMessageChunk: Any
    BaseChatModel: Any
    tool: Any
    ToolNode: Any
    tools_condition: Any
    create_react_agent: Any
    InjectedState: Any
    InjectedToolCallId: Any
    Command: Any
    ParentCommand: Any
    interrupt: Any
    Interrupt: Any
    GraphInterrupt: Any
    RunnableLambda: Any
    RunnablePassthrough: Any
    RunnableParallel: Any
    RunnableGenerator: Any
    RunnableSequence: Any
    ChatPromptTemplate: Any
    PromptTemplate: Any
    MessagesPlaceholder: Any
    StrOutputParser: Any
    JsonOutputParser: Any
    StateUpdate: Any


IMPORTS: dict[str, str] = {
    "StateGraph": "langgraph.graph",
    "START": "langgraph.graph",
    "END": "langgraph.graph",
    "Send": "langgraph.types",
    "StreamWriter": "langgraph.types",
    "get_stream_writer": "langgraph.config",
    "get_config": "langgraph.config",
    "add_messages": "langgraph.graph",
    "MessagesState": "langgraph.graph",
    "AIMessage": "langchain_core.messages",
    "HumanMessage": "langchain_core.messages",
    "Runtime": "langgraph.runtime",
    "get_runtime": "langgraph.runtime",
    "InMemorySaver": "langgraph.checkpoint.memory",
    "SqliteSaver": "langgraph.checkpoint.sqlite",
    "AsyncSqliteSaver": "langgraph.checkpoint.sqlite.aio",
    "PostgresSaver": "langgraph.checkpoint.postgres",
    "AsyncPostgresSaver": "langgraph.checkpoint.postgres.aio",
    "SystemMessage": "langchain_core.messages",
    "ToolMessage": "langchain_core.messages",
    "AIMessageChunk": "langchain_core.messages",
    "BaseChatModel": "langchain_core.language_models",
    "tool": "langchain_core.tools",
    "ToolNode": "langgraph.prebuilt",
    "tools_condition": "langgraph.prebuilt",
    "create_react_agent": "langgraph.prebuilt",
    "InjectedState": "langgraph.prebuilt",
    "InjectedToolCallId": "langchain_core.tools",
    "Command": "langgraph.types",
    "ParentCommand": "langgraph.errors",
    "interrupt": "langgraph.types",
    "Interrupt": "langgraph.types",
    "GraphInterrupt": "langgraph.errors",
    "RunnableLambda": "langchain_core.runnables",
    "RunnablePassthrough": "langchain_core.runnables",
    "RunnableParallel": "langchain_core.runnables",
    "RunnableGenerator": "langchain_core.runnables",
    "RunnableSequence": "langchain_core.runnables",
    "ChatPromptTemplate": "langchain_core.prompts",
    "PromptTemplate": "langchain_core.prompts",
    "MessagesPlaceholder": "langchain_core.prompts",
    "StrOutputParser": "langchain_core.output_parsers",
    "JsonOutputParser": "langchain_core.output_parsers",
    "StateUpdate": "langgraph.types",
}
"""Each :class:`Lib` name -> the module a LangGraph program imports it from. streamflow's comes from the same
path with the top-level package renamed (``langgraph.X``, ``langchain_core.X`` -> ``streamflow.X``): the
migration rule itself, so every case also checks that the names live where a migrated program looks."""


def migrated(module: str) -> str:
    """``module`` with its top-level package renamed to ``streamflow``."""
    return "streamflow." + module.partition(".")[2]


def load(name: str) -> Lib:
    """The :class:`Lib` of ``name`` (``langgraph`` or ``streamflow``), imported as a program of that library
    imports the names (:data:`IMPORTS`).

    :raises ImportError: when the library is not installed
    """
    names = {}
    for field_name, module in IMPORTS.items():
        path = module if name == "langgraph" else migrated(module)
        names[field_name] = getattr(importlib.import_module(path), field_name)
    return Lib(name=name, **names)


def reference() -> Lib:
    """LangGraph's :class:`Lib`; skips the test (or fails it when ``CI`` is set) when it is not installed."""
    try:
        return load("langgraph")
    except ImportError as exc:
        message = f"LangGraph is not installed (pip install 'streamflow[compare]'): {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(params=LIBRARIES)
def lib(request: pytest.FixtureRequest) -> Lib:
    """Each library in turn (LangGraph first, which must be installed for either)."""
    langgraph = reference()
    return langgraph if request.param == "langgraph" else load("streamflow")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "differs(reason): streamflow's output differs from LangGraph's (strict xfail)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("differs")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None or callspec.params.get("lib") != "streamflow":
            continue
        item.add_marker(pytest.mark.xfail(strict=True, reason=str(marker.args[0])))


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INTERRUPT_ID = re.compile(r"[0-9a-f]{32}")
_VOLATILE_KEYS = frozenset({"id", "run_id", "task_id", "checkpoint_id", "timestamp", "ts", "lc_run_id"})


class Normaliser:
    """Turns an output into plain data that compares equal across the libraries: messages become dicts of
    their common fields (a tool message's ``tool_call_id`` and ``status`` too), UUIDs become ``<id0>``,
    ``<id1>``... in order of first appearance (so equal ids stay equal), and the values of id and timestamp
    keys become ``<volatile>``. An ``Interrupt`` becomes ``{"Interrupt": {"value", "id"}}`` and an interrupt
    id (32 hex digits: each library derives its own) ``<interrupt0>``, ``<interrupt1>``... in order of first
    appearance."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._interrupts: dict[str, str] = {}

    def _id(self, match: re.Match[str]) -> str:
        return self._ids.setdefault(match.group(0), f"<id{len(self._ids)}>")

    def _interrupt_id(self, value: str) -> str:
        return self._interrupts.setdefault(value, f"<interrupt{len(self._interrupts)}>")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            if _INTERRUPT_ID.fullmatch(value):
                return self._interrupt_id(value)
            return _UUID.sub(self._id, value)
        if type(value).__name__ == "Interrupt" and hasattr(value, "id"):
            return {"Interrupt": {"value": self(value.value), "id": self(value.id)}}
        if isinstance(value, dict):
            return {self(key): "<volatile>" if key in _VOLATILE_KEYS else self(item) for key, item in value.items()}
        if isinstance(value, tuple):
            return tuple(self(item) for item in value)
        if isinstance(value, list):
            return [self(item) for item in value]
        message_type = getattr(value, "type", None)
        if isinstance(message_type, str) and hasattr(value, "content"):
            fields = {"type": message_type, "content": value.content, "name": getattr(value, "name", None)}
            if getattr(value, "tool_calls", None):
                fields["tool_calls"] = value.tool_calls
            if message_type == "tool":
                fields["tool_call_id"] = value.tool_call_id
                fields["status"] = value.status
            return self(fields)
        return value


def normalise(value: Any) -> Any:
    """``value`` with ids, timestamps and messages normalised by a fresh :class:`Normaliser`."""
    return Normaliser()(value)


def chunks_then_error(chunks: Any) -> Any:
    """The chunks a stream gave, normalised, then the type, message and ``reason`` (a ``GraphDrained``'s) of
    what ended it, or None when it ended normally."""
    out: list[Any] = []
    try:
        for chunk in chunks:
            out.append(chunk)
    except Exception as exc:
        return normalise(out), (type(exc).__name__, normalise(str(exc)), getattr(exc, "reason", None))
    return normalise(out), None


async def achunks_then_error(chunks: Any) -> Any:
    """:func:`chunks_then_error` of an async stream."""
    out: list[Any] = []
    try:
        async for chunk in chunks:
            out.append(chunk)
    except Exception as exc:
        return normalise(out), (type(exc).__name__, normalise(str(exc)), getattr(exc, "reason", None))
    return normalise(out), None


@dataclass(frozen=True)
class Case:
    """A graph built from a library, its input and the stream keyword arguments."""

    build: Callable[[Lib], Any]
    input: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    ordered: bool = True
    """False when parallel sync nodes finish in any order (LangGraph's too): the chunks compare as a multiset."""

    def compare(self, chunks: list[Any]) -> Any:
        """The normalised chunks, sorted by their repr unless the case is ordered."""
        normalised = normalise(chunks)
        return normalised if self.ordered else sorted(normalised, key=repr)
