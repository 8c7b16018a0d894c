"""What a prompt template makes (LangChain's ``langchain_core.prompt_values``): a value a chat model reads as
messages and a string LLM as text. Values only: no I/O."""

from __future__ import annotations

from typing import Any

import attrs

from .messages import BaseMessage, HumanMessage

__all__ = ["ChatPromptValue", "PromptValue", "StringPromptValue"]


class PromptValue:
    """Base of prompt values: :meth:`to_string` for a string LLM, :meth:`to_messages` for a chat model."""

    def to_string(self) -> str:
        raise NotImplementedError

    def to_messages(self) -> list[BaseMessage]:
        raise NotImplementedError


@attrs.define(eq=True)
class StringPromptValue(PromptValue):
    """A prompt that is one text (what ``PromptTemplate`` makes)."""

    text: str
    """The text."""

    def __str__(self) -> str:
        return f"text={self.text!r}"

    def to_string(self) -> str:
        return self.text

    def to_messages(self) -> list[BaseMessage]:
        """The text as one ``HumanMessage``."""
        return [HumanMessage(content=self.text)]


@attrs.define(eq=True)
class ChatPromptValue(PromptValue):
    """A prompt that is a list of messages (what ``ChatPromptTemplate`` makes)."""

    messages: list[BaseMessage]
    """The messages, in order."""

    def __str__(self) -> str:
        return f"messages={self.messages!r}"

    def to_string(self) -> str:
        """The messages as ``"<Role>: <content>"`` lines (LangChain's ``get_buffer_string``)."""
        return "\n".join(f"{_role(m)}: {m.text}" for m in self.messages)

    def to_messages(self) -> list[BaseMessage]:
        return list(self.messages)


_ROLES: dict[str, str] = {"human": "Human", "ai": "AI", "system": "System", "tool": "Tool"}


def _role(message: Any) -> str:
    kind = getattr(message, "type", "")
    return _ROLES.get(kind, str(kind))
