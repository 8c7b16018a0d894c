"""streamflow messages <-> langchain-core messages, chunks included, losing nothing either way.

Every field crosses both ways unchanged: ``content`` (a string or a list of content blocks),
``additional_kwargs``, ``response_metadata``, ``id``, ``name``; an AI message's ``tool_calls``,
``invalid_tool_calls`` and ``usage_metadata``; a chunk's ``tool_call_chunks`` and ``chunk_position``; a tool
message's ``tool_call_id``, ``status`` and ``artifact``. Lists and dicts are copied one level deep (content
blocks and tool calls are new dicts of the same items where langchain-core would share them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core import messages as lc

from ...errors import InvalidArgumentError
from ...messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    coerce_message,
)

__all__ = ["from_langchain", "from_langchain_value", "to_langchain", "to_langchain_messages"]


def _content(content: Any) -> Any:
    return content if isinstance(content, str) else list(content)


def _base_fields(message: Any) -> dict[str, Any]:
    return {
        "content": _content(message.content),
        "additional_kwargs": dict(message.additional_kwargs),
        "response_metadata": dict(message.response_metadata),
        "id": message.id,
        "name": message.name,
    }


def _ai_fields(message: Any) -> dict[str, Any]:
    return {
        **_base_fields(message),
        "tool_calls": [dict(c) for c in message.tool_calls],
        "invalid_tool_calls": [dict(c) for c in message.invalid_tool_calls],
        "usage_metadata": None if message.usage_metadata is None else dict(message.usage_metadata),
    }


def from_langchain(message: Any) -> BaseMessage:
    """The streamflow message for a langchain-core message (an ``AIMessageChunk`` for a chunk), with every
    field of it.

    :raises InvalidArgumentError: for anything but a langchain-core human, system, AI (or AI chunk) or tool
        message
    """
    if isinstance(message, lc.AIMessageChunk):  # a token: only what it holds is copied
        content = message.content
        fields: dict[str, Any] = {
            "content": content if isinstance(content, str) else list(content),
            "id": message.id,
            "name": message.name,
            "chunk_position": message.chunk_position,
        }
        pieces = message.tool_call_chunks
        if pieces:
            fields["tool_call_chunks"] = [dict(c) for c in pieces]
        if pieces or message.tool_calls:
            fields["tool_calls"] = [dict(c) for c in message.tool_calls]
        if pieces or message.invalid_tool_calls:
            fields["invalid_tool_calls"] = [dict(c) for c in message.invalid_tool_calls]
        if message.additional_kwargs:
            fields["additional_kwargs"] = dict(message.additional_kwargs)
        if message.response_metadata:
            fields["response_metadata"] = dict(message.response_metadata)
        if message.usage_metadata is not None:
            fields["usage_metadata"] = dict(message.usage_metadata)
        return AIMessageChunk(**fields)
    if isinstance(message, lc.AIMessage):
        return AIMessage(**_ai_fields(message))
    if isinstance(message, lc.HumanMessage):
        return HumanMessage(**_base_fields(message))
    if isinstance(message, lc.SystemMessage):
        return SystemMessage(**_base_fields(message))
    if isinstance(message, lc.ToolMessage):
        return ToolMessage(
            **_base_fields(message),
            tool_call_id=message.tool_call_id,
            status=message.status,
            artifact=message.artifact,
        )
    raise InvalidArgumentError(
        f"cannot make a streamflow message of {type(message).__name__}; pass a langchain-core HumanMessage, "
        "SystemMessage, AIMessage, AIMessageChunk or ToolMessage"
    )


def _lc_base(message: BaseMessage) -> dict[str, Any]:
    return {
        "content": _content(message.content),
        "additional_kwargs": dict(message.additional_kwargs),
        "response_metadata": dict(message.response_metadata),
        "id": message.id,
        "name": message.name,
    }


def _calls(message: AIMessage) -> dict[str, Any]:
    """The tool calls set as they are, after validation (langchain-core's validators would otherwise fill
    empty ``tool_calls`` from ``additional_kwargs["tool_calls"]``)."""
    return {
        "tool_calls": [dict(c) for c in message.tool_calls],
        "invalid_tool_calls": [dict(c) for c in message.invalid_tool_calls],
    }


def to_langchain(message: BaseMessage) -> lc.BaseMessage:
    """The langchain-core message for a streamflow message (an ``AIMessageChunk`` for a chunk), with every
    field of it.

    :raises InvalidArgumentError: for anything but a streamflow message
    """
    if isinstance(message, AIMessageChunk):
        return lc.AIMessageChunk(
            **_lc_base(message),
            tool_call_chunks=[dict(c) for c in message.tool_call_chunks],  # type: ignore[misc]
            usage_metadata=None if message.usage_metadata is None else dict(message.usage_metadata),  # type: ignore[arg-type]
            chunk_position=message.chunk_position,  # type: ignore[arg-type]
        ).model_copy(update=_calls(message))
    if isinstance(message, AIMessage):
        return lc.AIMessage(
            **_lc_base(message),
            usage_metadata=None if message.usage_metadata is None else dict(message.usage_metadata),
        ).model_copy(update=_calls(message))
    if isinstance(message, HumanMessage):
        return lc.HumanMessage(**_lc_base(message))
    if isinstance(message, SystemMessage):
        return lc.SystemMessage(**_lc_base(message))
    if isinstance(message, ToolMessage):
        return lc.ToolMessage(
            **_lc_base(message),
            tool_call_id=message.tool_call_id,
            status=message.status,
            artifact=message.artifact,
        )
    raise InvalidArgumentError(
        f"cannot make a langchain-core message of {type(message).__name__}; pass a streamflow message"
    )


def to_langchain_messages(messages: Iterable[Any]) -> list[lc.BaseMessage]:
    """``messages`` (streamflow or langchain-core messages, message dicts, ``(role, content)`` tuples or
    strings) as langchain-core messages, for a langchain-core model called with a streamflow state's
    ``messages``.

    :raises InvalidArgumentError: for an item that is none of these
    """
    out: list[lc.BaseMessage] = []
    for item in messages:
        if isinstance(item, lc.BaseMessage):
            out.append(item)
        elif isinstance(item, BaseMessage):
            out.append(to_langchain(item))
        else:
            out.append(to_langchain(coerce_message(item)))
    return out


def from_langchain_value(value: Any) -> Any:
    """``value`` with langchain-core messages made streamflow's: a message, or the messages of a list, a
    tuple or a dict's values (one level deep); anything else as it is."""
    if isinstance(value, lc.BaseMessage):
        return from_langchain(value) if _known(value) else value
    if isinstance(value, list) and any(isinstance(v, lc.BaseMessage) for v in value):
        return [from_langchain_value(v) for v in value]
    if isinstance(value, dict) and any(isinstance(v, (lc.BaseMessage, list)) for v in value.values()):
        return {k: from_langchain_value(v) if isinstance(v, (lc.BaseMessage, list)) else v for k, v in value.items()}
    return value


def _known(message: Any) -> bool:
    return isinstance(message, (lc.AIMessage, lc.HumanMessage, lc.SystemMessage, lc.ToolMessage))


def coerce_langchain(value: Any) -> BaseMessage | None:
    """The converter :func:`streamflow.messages.register_message_converter` takes: the streamflow message
    for a langchain-core message, None for anything else."""
    return from_langchain(value) if isinstance(value, lc.BaseMessage) and _known(value) else None
