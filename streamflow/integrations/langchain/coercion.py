"""langchain-core takes streamflow messages wherever it takes messages.

langchain-core turns every message-like it is given (a chat model's or LLM's input list, a
``MessagesPlaceholder``'s value, ``convert_to_messages``, ``trim_messages``, ``filter_messages``, a
``ChatPromptTemplate``'s messages ...) into a message through two module functions:
``langchain_core.messages.utils._convert_to_message`` and ``langchain_core.prompts.chat.
_convert_to_message_template``, both looked up at each call. :func:`accept_streamflow_messages` wraps
them so that a streamflow message is converted by :func:`~.messages.to_langchain` and everything else goes
to langchain-core's own function as before.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from langchain_core.messages import utils as lc_utils
from langchain_core.prompts import chat as lc_chat

from ...messages import BaseMessage
from .messages import to_langchain

__all__ = ["accept_streamflow_messages"]

_MARK = "__streamflow_accepts_messages__"

_TARGETS: tuple[tuple[ModuleType, str], ...] = (
    (lc_utils, "_convert_to_message"),
    (lc_chat, "_convert_to_message_template"),
)


def _accepting(original: Callable[..., Any]) -> Callable[..., Any]:
    def convert(message: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(message, BaseMessage):
            return to_langchain(message)
        return original(message, *args, **kwargs)

    convert.__wrapped__ = original  # type: ignore[attr-defined]
    convert.__name__ = original.__name__
    convert.__qualname__ = original.__qualname__
    convert.__doc__ = original.__doc__
    setattr(convert, _MARK, True)
    return convert


def accept_streamflow_messages() -> None:
    """Have langchain-core take streamflow messages where it takes messages, each converted by
    :func:`~.messages.to_langchain`. Calling it again does nothing."""
    for module, name in _TARGETS:
        current = getattr(module, name)
        if not getattr(current, _MARK, False):
            setattr(module, name, _accepting(current))
