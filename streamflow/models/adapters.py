"""Other libraries' chat models as streamflow's: the adapters a bridge registers, looked up where an agent takes
its model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["as_chat_model", "register_chat_model_adapter"]

_adapters: list[Callable[[Any], Any]] = []


def register_chat_model_adapter(adapt: Callable[[Any], Any]) -> None:
    """Have the agents (``create_react_agent``, ``create_agent``) take another library's chat models:
    ``adapt`` returns a streamflow chat model standing for a model it knows, None for anything else. A bridge
    registers one (the LangChain bridge, for langchain-core's ``BaseChatModel``); registering the same
    function twice is a no-op."""
    if adapt not in _adapters:
        _adapters.append(adapt)


def as_chat_model(model: Any) -> Any:
    """``model`` as a registered adapter makes it a streamflow chat model, else ``model`` itself."""
    for adapt in _adapters:
        adapted = adapt(model)
        if adapted is not None:
            return adapted
    return model
