"""Migration is a rename of the top-level package: LangGraph's and LangChain core's public names that streamflow
implements are importable at the mirrored path (``langgraph.X`` -> ``streamflow.X``,
``langchain_core.X`` -> ``streamflow.X``), each the very object of its home module, and the names still missing
at each path are exactly the documented :data:`MISSING` (the README's migration table lists them)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.extras import require_extra

require_extra("langgraph.graph", "compare")
require_extra("langchain_core.messages", "compare")
require_extra("langgraph.checkpoint.sqlite", "compare")
require_extra("langgraph.checkpoint.postgres", "compare")

README = Path(__file__).resolve().parent.parent / "README.md"

PAIRS = {
    "langgraph.graph": "streamflow.graph",
    "langgraph.graph.message": "streamflow.graph.message",
    "langgraph.types": "streamflow.types",
    "langgraph.config": "streamflow.config",
    "langgraph.prebuilt": "streamflow.prebuilt",
    "langgraph.errors": "streamflow.errors",
    "langgraph.constants": "streamflow.constants",
    "langgraph.runtime": "streamflow.runtime",
    "langchain_core.messages": "streamflow.messages",
    "langchain_core.tools": "streamflow.tools",
    "langchain_core.language_models": "streamflow.language_models",
    "langchain_core.prompts": "streamflow.prompts",
    "langchain_core.output_parsers": "streamflow.output_parsers",
    "langgraph.checkpoint.base": "streamflow.checkpoint.base",
    "langgraph.checkpoint.memory": "streamflow.checkpoint.memory",
    "langgraph.checkpoint.serde.jsonplus": "streamflow.checkpoint.serde.jsonplus",
    "langgraph.checkpoint.sqlite": "streamflow.checkpoint.sqlite",
    "langgraph.checkpoint.sqlite.aio": "streamflow.checkpoint.sqlite.aio",
    "langgraph.checkpoint.postgres": "streamflow.checkpoint.postgres",
    "langgraph.checkpoint.postgres.aio": "streamflow.checkpoint.postgres.aio",
}
"""LangGraph's, LangChain core's or LangChain v1's module -> its streamflow mirror."""

if importlib.util.find_spec("langchain") is not None or os.environ.get("CI"):  # CI installs it (compare extra)
    PAIRS.update({"langchain.agents": "streamflow.agents", "langchain.chat_models": "streamflow.chat_models"})

NEW_MIRRORS = {
    "streamflow.graph.message",
    "streamflow.types",
    "streamflow.config",
    "streamflow.prebuilt",
    "streamflow.constants",
    "streamflow.language_models",
    "streamflow.runtime",
}
"""Mirrors that only re-export: their ``__all__`` is exactly the names they provide."""
if "langchain.agents" in PAIRS:
    NEW_MIRRORS.add("streamflow.agents")

HOMES = {
    "StateGraph": ("streamflow.graph.builder", "StateGraph"),
    "START": ("streamflow.graph.constants", "START"),
    "END": ("streamflow.graph.constants", "END"),
    "Send": ("streamflow.graph.constants", "Send"),
    "Command": ("streamflow.graph.constants", "Command"),
    "GraphOutput": ("streamflow.graph.output", "GraphOutput"),
    "StreamWriter": ("streamflow.graph.context", "StreamWriter"),
    "get_config": ("streamflow.graph.context", "get_config"),
    "get_stream_writer": ("streamflow.graph.context", "get_stream_writer"),
    "MessagesState": ("streamflow.messages", "MessagesState"),
    "add_messages": ("streamflow.messages", "add_messages"),
    "AIMessage": ("streamflow.messages", "AIMessage"),
    "AIMessageChunk": ("streamflow.messages", "AIMessageChunk"),
    "AnyMessage": ("streamflow.messages", "AnyMessage"),
    "BaseMessage": ("streamflow.messages", "BaseMessage"),
    "HumanMessage": ("streamflow.messages", "HumanMessage"),
    "SystemMessage": ("streamflow.messages", "SystemMessage"),
    "ToolCall": ("streamflow.messages", "ToolCall"),
    "ToolMessage": ("streamflow.messages", "ToolMessage"),
    "GraphRecursionError": ("streamflow.errors", "GraphRecursionError"),
    "EmptyInputError": ("streamflow.errors", "EmptyInputError"),
    "InvalidUpdateError": ("streamflow.errors", "InvalidUpdateError"),
    "ParentCommand": ("streamflow.errors", "ParentCommand"),
    "GraphBubbleUp": ("streamflow.errors", "GraphBubbleUp"),
    "GraphInterrupt": ("streamflow.errors", "GraphInterrupt"),
    "GraphDrained": ("streamflow.errors", "GraphDrained"),
    "is_invalid_resume": ("streamflow.errors", "is_invalid_resume"),
    "UnknownInterruptError": ("streamflow.errors", "UnknownInterruptError"),
    "Interrupt": ("streamflow.interrupts", "Interrupt"),
    "interrupt": ("streamflow.graph.interrupts", "interrupt"),
    "StateSnapshot": ("streamflow.graph.persistence", "StateSnapshot"),
    "StateUpdate": ("streamflow.graph.persistence", "StateUpdate"),
    "PregelTask": ("streamflow.graph.persistence", "PregelTask"),
    "Durability": ("streamflow.graph.persistence", "Durability"),
    "TAG_NOSTREAM": ("streamflow.modes", "NOSTREAM"),
    "BaseTool": ("streamflow.tools", "BaseTool"),
    "tool": ("streamflow.tools", "tool"),
    "ToolNode": ("streamflow.tools", "ToolNode"),
    "InjectedState": ("streamflow.tools", "InjectedState"),
    "InjectedToolCallId": ("streamflow.tools", "InjectedToolCallId"),
    "tools_condition": ("streamflow.tools", "tools_condition"),
    "create_react_agent": ("streamflow.tools", "create_react_agent"),
    "ToolCallTransformer": ("streamflow.stream.tool_calls", "ToolCallTransformer"),
    "BaseChatModel": ("streamflow.models.base", "BaseChatModel"),
    "AgentState": ("streamflow.agents.factory", "AgentState"),
    "create_agent": ("streamflow.agents.factory", "create_agent"),
    "init_chat_model": ("streamflow.chat_models", "init_chat_model"),
    "BaseLLM": ("streamflow.language_models.llms", "BaseLLM"),
    "LLM": ("streamflow.language_models.llms", "LLM"),
    "FakeListLLM": ("streamflow.language_models.fake", "FakeListLLM"),
    "FakeStreamingListLLM": ("streamflow.language_models.fake", "FakeStreamingListLLM"),
    "Runtime": ("streamflow.graph.runtime", "Runtime"),
    "ExecutionInfo": ("streamflow.graph.runtime", "ExecutionInfo"),
    "RunControl": ("streamflow.graph.runtime", "RunControl"),
    "ServerInfo": ("streamflow.graph.runtime", "ServerInfo"),
    "get_runtime": ("streamflow.graph.runtime", "get_runtime"),
    **{
        name: ("streamflow.checkpoint.base", name)
        for name in [
            "BaseCheckpointSaver",
            "Checkpoint",
            "CheckpointMetadata",
            "CheckpointTuple",
            "V",
            "copy_checkpoint",
            "create_checkpoint",
            "empty_checkpoint",
            "get_checkpoint_id",
            "get_checkpoint_metadata",
            "get_serializable_checkpoint_metadata",
            "writes_sort_key",
        ]
    },
    "AIMessagePromptTemplate": ("streamflow.prompts", "AIMessagePromptTemplate"),
    "BaseOutputParser": ("streamflow.output_parsers", "BaseOutputParser"),
    "BasePromptTemplate": ("streamflow.prompts", "BasePromptTemplate"),
    "ChatPromptTemplate": ("streamflow.prompts", "ChatPromptTemplate"),
    "HumanMessagePromptTemplate": ("streamflow.prompts", "HumanMessagePromptTemplate"),
    "JsonOutputParser": ("streamflow.output_parsers", "JsonOutputParser"),
    "MessagesPlaceholder": ("streamflow.prompts", "MessagesPlaceholder"),
    "PromptTemplate": ("streamflow.prompts", "PromptTemplate"),
    "StrOutputParser": ("streamflow.output_parsers", "StrOutputParser"),
    "SystemMessagePromptTemplate": ("streamflow.prompts", "SystemMessagePromptTemplate"),
    "InMemorySaver": ("streamflow.checkpoint.memory", "InMemorySaver"),
    "MemorySaver": ("streamflow.checkpoint.memory", "InMemorySaver"),
    "JsonPlusSerializer": ("streamflow.checkpoint.serde.jsonplus", "JsonPlusSerializer"),
    "SqliteSaver": ("streamflow.checkpoint.sqlite", "SqliteSaver"),
    "AsyncSqliteSaver": ("streamflow.checkpoint.sqlite.aio", "AsyncSqliteSaver"),
    "PostgresSaver": ("streamflow.checkpoint.postgres", "PostgresSaver"),
    "AsyncPostgresSaver": ("streamflow.checkpoint.postgres.aio", "AsyncPostgresSaver"),
}
"""Each name streamflow provides at a mirrored path -> (its home module, its name there)."""

NOT_PROVIDED = "not provided"

MISSING: dict[str, dict[str, str]] = {
    "langgraph.checkpoint.base": {
        "DeltaChannelHistory": NOT_PROVIDED,
        "EmptyChannelError": NOT_PROVIDED,
    },
    "langgraph.checkpoint.memory": {"PersistentDict": NOT_PROVIDED},
    "langgraph.checkpoint.serde.jsonplus": {"InvalidModuleError": NOT_PROVIDED},
    "langgraph.checkpoint.sqlite": {},
    "langgraph.checkpoint.sqlite.aio": {"T": NOT_PROVIDED},
    "langgraph.checkpoint.postgres": {
        "BasePostgresSaver": NOT_PROVIDED,
        "Conn": NOT_PROVIDED,
        "ShallowPostgresSaver": NOT_PROVIDED,
    },
    "langgraph.checkpoint.postgres.aio": {"AsyncShallowPostgresSaver": NOT_PROVIDED, "Conn": NOT_PROVIDED},
    "langgraph.graph": {"MessageGraph": NOT_PROVIDED},
    "langgraph.graph.message": {"MessageGraph": NOT_PROVIDED, "REMOVE_ALL_MESSAGES": NOT_PROVIDED},
    "langgraph.types": {
        "Checkpointer": NOT_PROVIDED,
        "CheckpointPayload": NOT_PROVIDED,
        "CheckpointStreamPart": NOT_PROVIDED,
        "CheckpointTask": NOT_PROVIDED,
        "ensure_valid_checkpointer": NOT_PROVIDED,
        "All": NOT_PROVIDED,
        "CachePolicy": NOT_PROVIDED,
        "CustomStreamPart": NOT_PROVIDED,
        "DebugPayload": NOT_PROVIDED,
        "DebugStreamPart": NOT_PROVIDED,
        "MessagesStreamPart": NOT_PROVIDED,
        "Overwrite": NOT_PROVIDED,
        "PregelExecutableTask": NOT_PROVIDED,
        "RetryPolicy": NOT_PROVIDED,
        "StreamMode": NOT_PROVIDED,
        "StreamPart": NOT_PROVIDED,
        "TaskPayload": NOT_PROVIDED,
        "TaskResultPayload": NOT_PROVIDED,
        "TasksStreamPart": NOT_PROVIDED,
        "TimeoutPolicy": NOT_PROVIDED,
        "TracePolicy": NOT_PROVIDED,
        "UpdatesStreamPart": NOT_PROVIDED,
        "ValuesStreamPart": NOT_PROVIDED,
        "omit_payload": NOT_PROVIDED,
    },
    "langgraph.config": {"CONF": NOT_PROVIDED, "get_store": NOT_PROVIDED},
    "langgraph.prebuilt": {
        "InjectedStore": NOT_PROVIDED,
        "ToolRuntime": NOT_PROVIDED,
        "ValidationNode": NOT_PROVIDED,
    },
    "langgraph.errors": {
        "NodeInterrupt": NOT_PROVIDED,
        "EmptyChannelError": NOT_PROVIDED,
        "ErrorCode": NOT_PROVIDED,
        "NodeCancelledError": NOT_PROVIDED,
        "NodeError": NOT_PROVIDED,
        "NodeTimeoutError": NOT_PROVIDED,
        "TaskNotFound": NOT_PROVIDED,
    },
    "langgraph.constants": {
        "CONFIG_KEY_CHECKPOINTER": NOT_PROVIDED,
        "CONF": NOT_PROVIDED,
        "TAG_HIDDEN": NOT_PROVIDED,
        "TASKS": NOT_PROVIDED,
    },
    "langgraph.runtime": {"BaseUser": NOT_PROVIDED},
    "langchain.agents": {},
    "langchain.chat_models": {},
    "langchain_core.messages": {
        "UsageMetadata": NOT_PROVIDED,
        "InputTokenDetails": NOT_PROVIDED,
        "OutputTokenDetails": NOT_PROVIDED,
        **dict.fromkeys(
            [
                "Annotation",
                "AudioContentBlock",
                "Citation",
                "ContentBlock",
                "DataContentBlock",
                "FileContentBlock",
                "ImageContentBlock",
                "NonStandardAnnotation",
                "NonStandardContentBlock",
                "PlainTextContentBlock",
                "ReasoningContentBlock",
                "RefusalContentBlock",
                "ServerToolCall",
                "ServerToolCallChunk",
                "ServerToolResult",
                "TextContentBlock",
                "VideoContentBlock",
                "is_data_content_block",
            ],
            NOT_PROVIDED,
        ),
        **dict.fromkeys(
            [
                "BaseMessageChunk",
                "ChatMessage",
                "ChatMessageChunk",
                "FunctionMessage",
                "FunctionMessageChunk",
                "HumanMessageChunk",
                "InvalidToolCall",
                "LC_AUTO_PREFIX",
                "LC_ID_PREFIX",
                "MessageLikeRepresentation",
                "NotificationMetadata",
                "RemoveMessage",
                "SystemMessageChunk",
                "ToolCallChunk",
                "ToolMessageChunk",
                "add_notification_metadata",
                "convert_to_messages",
                "convert_to_openai_data_block",
                "convert_to_openai_image_block",
                "convert_to_openai_messages",
                "ensure_id",
                "filter_messages",
                "get_buffer_string",
                "get_notification_metadata",
                "merge_content",
                "merge_message_runs",
                "message_chunk_to_message",
                "message_to_dict",
                "messages_from_dict",
                "messages_to_dict",
                "trim_messages",
            ],
            NOT_PROVIDED,
        ),
    },
    "langchain_core.tools": dict.fromkeys(
        [
            "ArgsSchema",
            "BaseToolkit",
            "FILTERED_ARGS",
            "InjectedToolArg",
            "RetrieverInput",
            "SchemaAnnotationError",
            "StructuredTool",
            "Tool",
            "ToolException",
            "ToolsRenderer",
            "convert_runnable_to_tool",
            "create_retriever_tool",
            "create_schema_from_function",
            "render_text_description",
            "render_text_description_and_args",
        ],
        NOT_PROVIDED,
    ),
    "langchain_core.prompts": dict.fromkeys(
        [
            "BaseChatPromptTemplate",
            "ChatMessagePromptTemplate",
            "DictPromptTemplate",
            "FewShotChatMessagePromptTemplate",
            "FewShotPromptTemplate",
            "FewShotPromptWithTemplates",
            "StringPromptTemplate",
            "aformat_document",
            "check_valid_template",
            "format_document",
            "get_template_variables",
            "jinja2_formatter",
            "load_prompt",
            "validate_jinja2",
        ],
        NOT_PROVIDED,
    ),
    "langchain_core.output_parsers": dict.fromkeys(
        [
            "BaseCumulativeTransformOutputParser",
            "BaseGenerationOutputParser",
            "BaseLLMOutputParser",
            "BaseTransformOutputParser",
            "CommaSeparatedListOutputParser",
            "JsonOutputKeyToolsParser",
            "JsonOutputToolsParser",
            "ListOutputParser",
            "MarkdownListOutputParser",
            "NumberedListOutputParser",
            "PydanticOutputParser",
            "PydanticToolsParser",
            "SimpleJsonOutputParser",
            "XMLOutputParser",
        ],
        NOT_PROVIDED,
    ),
    "langchain_core.language_models": {
        **dict.fromkeys(
            [
                "BaseLanguageModel",
                "LanguageModelInput",
                "LanguageModelLike",
                "LanguageModelOutput",
            ],
            NOT_PROVIDED,
        ),
        **dict.fromkeys(
            [
                "FakeListChatModel",
                "FakeMessagesListChatModel",
                "GenericFakeChatModel",
                "LangSmithParams",
                "ModelProfile",
                "ModelProfileRegistry",
                "ParrotFakeChatModel",
                "SimpleChatModel",
                "get_tokenizer",
                "is_openai_data_block",
            ],
            NOT_PROVIDED,
        ),
    },
}
"""LangGraph's or LangChain core's module -> each public name streamflow does not have at the mirror -> when it
arrives: an issue, or ``not provided``."""


def _home(name: str) -> Any:
    module, attribute = HOMES[name]
    return getattr(importlib.import_module(module), attribute)


def public_names(module: ModuleType) -> set[str]:
    """The public names of one of LangGraph's or LangChain core's modules: its ``__all__`` without private names
    or, for a module without one (``langgraph.config``), the functions and classes it defines and the objects it
    shares with the ``__all__`` of another module of :data:`PAIRS`."""
    listed = getattr(module, "__all__", None)
    if listed is not None:
        return {name for name in listed if not name.startswith("_")}
    others = [importlib.import_module(other) for other in PAIRS]
    shared = [getattr(other, name) for other in others for name in getattr(other, "__all__", ())]
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and (getattr(value, "__module__", None) == module.__name__ or any(value is other for other in shared))
    }


def test_public_names_of_a_module_without_all() -> None:
    fake = ModuleType("langgraph.fake")
    vars(fake).update(
        defined=type("Defined", (), {"__module__": "langgraph.fake"}),
        Send=importlib.import_module("langgraph.types").Send,
        Any=Any,
        re=re,
        _private=lambda: None,
    )
    assert public_names(fake) == {"defined", "Send"}


def provided(theirs: str) -> set[str]:
    """The public names of ``theirs`` that streamflow has at the mirrored path."""
    return public_names(importlib.import_module(theirs)) - set(MISSING[theirs])


CASES = sorted(PAIRS.items())


@pytest.mark.parametrize(("theirs", "ours"), CASES)
def test_every_provided_name_is_its_home_object(theirs: str, ours: str) -> None:
    mirror = importlib.import_module(ours)
    names = provided(theirs)
    assert names, f"streamflow provides nothing of {theirs}"
    absent = sorted(name for name in names if not hasattr(mirror, name))
    assert absent == [], f"{ours} lacks {absent}: provide them or list them in MISSING[{theirs!r}]"
    unknown = sorted(names - set(HOMES))
    assert unknown == [], f"{unknown} have no home in HOMES"
    copies = sorted(name for name in names if getattr(mirror, name) is not _home(name))
    assert copies == [], f"{ours}.{copies} are not the objects of their home modules"
    assert names <= set(mirror.__all__), f"{ours}.__all__ does not list {sorted(names - set(mirror.__all__))}"


@pytest.mark.parametrize(("theirs", "ours"), CASES)
def test_missing_names_are_exactly_the_documented_ones(theirs: str, ours: str) -> None:
    mirror = importlib.import_module(ours)
    public = public_names(importlib.import_module(theirs))
    stale = sorted(set(MISSING[theirs]) - public)
    assert stale == [], f"MISSING[{theirs!r}] lists {stale}, which {theirs} does not export"
    arrived = sorted(name for name in MISSING[theirs] if hasattr(mirror, name))
    assert arrived == [], f"{ours} now has {arrived}: take them out of MISSING[{theirs!r}] and the README"


@pytest.mark.parametrize("ours", sorted(NEW_MIRRORS))
def test_a_mirror_that_only_re_exports_lists_exactly_what_it_provides(ours: str) -> None:
    theirs = next(name for name, mirror in PAIRS.items() if mirror == ours)
    mirror = importlib.import_module(ours)
    assert sorted(mirror.__all__) == sorted(provided(theirs))


@pytest.mark.parametrize(("theirs", "ours"), CASES)
def test_constants_have_their_values(theirs: str, ours: str) -> None:
    module = importlib.import_module(theirs)
    mirror = importlib.import_module(ours)
    for name in provided(theirs):
        value = getattr(module, name)
        if isinstance(value, str):
            assert getattr(mirror, name) == value, f"{ours}.{name}"


def test_todays_paths_still_work() -> None:
    import streamflow.graph
    import streamflow.messages
    import streamflow.models
    import streamflow.tools

    assert streamflow.tools.ToolNode is importlib.import_module("streamflow.prebuilt").ToolNode
    assert streamflow.messages.add_messages is importlib.import_module("streamflow.graph.message").add_messages
    assert streamflow.graph.Send is importlib.import_module("streamflow.types").Send
    assert streamflow.graph.get_stream_writer is importlib.import_module("streamflow.config").get_stream_writer
    assert streamflow.models.BaseChatModel is importlib.import_module("streamflow.language_models").BaseChatModel


def _table_rows() -> list[list[str]]:
    """The README migration section's table rows, as lists of cells without their backticks' padding."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Migrating from LangGraph\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match is not None, "README has no 'Migrating from LangGraph' section"
    return [
        [cell.strip() for cell in row.strip("|").split("|")]
        for row in match.group(1).splitlines()
        if row.startswith("|")
    ]


@pytest.mark.parametrize(("theirs", "ours"), CASES)
def test_the_readme_table_names_every_path_and_name(theirs: str, ours: str) -> None:
    rows = _table_rows()
    mapped = {row[0]: row[1] for row in rows if len(row) == 2}
    for name in sorted(provided(theirs)):
        assert mapped.get(f"`{theirs}.{name}`") == f"`{ours}.{name}`", f"the README does not map {theirs}.{name}"
    pending = [row for row in rows if len(row) == 3 and row[0] == f"`{theirs}`"]
    for name, when in sorted(MISSING[theirs].items()):
        found = [row[2] for row in pending if f"`{name}`" in re.split(r",\s*", row[1])]
        assert found, f"the README does not list {theirs}.{name} as missing"
        assert all(when in cell for cell in found), f"the README does not say {theirs}.{name} is {when!r}: {found}"
