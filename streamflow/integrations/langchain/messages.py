"""streamflow messages <-> langchain-core messages, chunks included.

Every field a streamflow message has crosses both ways unchanged: ``content``, ``id``, ``name``,
``tool_calls``, ``invalid_tool_calls``, ``tool_call_chunks``, ``usage_metadata``, ``response_metadata``,
``chunk_position``, a tool message's ``tool_call_id`` and ``status``. A langchain-core message carries two
things streamflow's do not hold: list content (content blocks) becomes the text of its text blocks (a
string as it is), and ``additional_kwargs`` stays behind; both are unchanged when it goes there and back
from streamflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def _text(content: Any) -> str:
    """langchain-core content as streamflow's string: a string as it is, the text of a list's text blocks."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or ():
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _ai_fields(message: Any) -> dict[str, Any]:
    return {
        "content": _text(message.content),
        "id": message.id,
        "name": message.name,
        "tool_calls": [dict(c) for c in message.tool_calls],
        "invalid_tool_calls": [dict(c) for c in message.invalid_tool_calls],
        "response_metadata": dict(message.response_metadata),
        "usage_metadata": None if message.usage_metadata is None else dict(message.usage_metadata),
    }


def from_langchain(message: Any) -> BaseMessage:
    """The streamflow message for a langchain-core message (an ``AIMessageChunk`` for a chunk).

    :raises InvalidArgumentError: for anything but a langchain-core human, system, AI (or AI chunk) or tool
        message
    """
    if isinstance(message, lc.AIMessageChunk):  # a token: only what it holds is copied
        content = message.content
        fields: dict[str, Any] = {
            "content": content if isinstance(content, str) else _text(content),
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
        if message.response_metadata:
            fields["response_metadata"] = dict(message.response_metadata)
        if message.usage_metadata is not None:
            fields["usage_metadata"] = dict(message.usage_metadata)
        return AIMessageChunk(**fields)
    if isinstance(message, lc.AIMessage):
        return AIMessage(**_ai_fields(message))
    if isinstance(message, lc.HumanMessage):
        return HumanMessage(content=_text(message.content), id=message.id, name=message.name)
    if isinstance(message, lc.SystemMessage):
        return SystemMessage(content=_text(message.content), id=message.id, name=message.name)
    if isinstance(message, lc.ToolMessage):
        return ToolMessage(
            content=_text(message.content),
            id=message.id,
            name=message.name,
            tool_call_id=message.tool_call_id,
            status=message.status,
        )
    raise InvalidArgumentError(
        f"cannot make a streamflow message of {type(message).__name__}; pass a langchain-core HumanMessage, "
        "SystemMessage, AIMessage, AIMessageChunk or ToolMessage"
    )


def to_langchain(message: BaseMessage) -> lc.BaseMessage:
    """The langchain-core message for a streamflow message (an ``AIMessageChunk`` for a chunk).

    :raises InvalidArgumentError: for anything but a streamflow message
    """
    if isinstance(message, AIMessageChunk):
        return lc.AIMessageChunk(
            content=message.content,
            id=message.id,
            name=message.name,
            tool_call_chunks=[dict(c) for c in message.tool_call_chunks],  # type: ignore[misc]
            response_metadata=dict(message.response_metadata),
            usage_metadata=None if message.usage_metadata is None else dict(message.usage_metadata),  # type: ignore[arg-type]
            chunk_position=message.chunk_position,  # type: ignore[arg-type]
        ).model_copy(
            update={
                "tool_calls": [dict(c) for c in message.tool_calls],
                "invalid_tool_calls": [dict(c) for c in message.invalid_tool_calls],
            }
        )
    if isinstance(message, AIMessage):
        return lc.AIMessage(
            content=message.content,
            id=message.id,
            name=message.name,
            tool_calls=[dict(c) for c in message.tool_calls],
            invalid_tool_calls=[dict(c) for c in message.invalid_tool_calls],
            response_metadata=dict(message.response_metadata),
            usage_metadata=None if message.usage_metadata is None else dict(message.usage_metadata),
        )
    if isinstance(message, HumanMessage):
        return lc.HumanMessage(content=message.content, id=message.id, name=message.name)
    if isinstance(message, SystemMessage):
        return lc.SystemMessage(content=message.content, id=message.id, name=message.name)
    if isinstance(message, ToolMessage):
        return lc.ToolMessage(
            content=message.content,
            id=message.id,
            name=message.name,
            tool_call_id=message.tool_call_id,
            status=message.status,
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
