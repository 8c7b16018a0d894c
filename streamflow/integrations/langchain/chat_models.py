"""A langchain-core chat model as a streamflow chat model, so the agents take it as their model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

from langchain_core.language_models import BaseChatModel as LangChainBaseChatModel

from ...errors import InvalidArgumentError
from ...messages import AIMessage, AIMessageChunk, BaseMessage
from ...models.base import BaseChatModel
from .messages import from_langchain, to_langchain_messages

__all__ = ["LangChainChatModel", "adapt_chat_model"]

_QUIET: dict[str, Any] = {"callbacks": []}
"""The config of the langchain-core call: no callbacks (the streamflow model publishes the call's events)."""


class LangChainChatModel(BaseChatModel):
    """A langchain-core chat model seen as a streamflow one: it streams the langchain-core model's answer as
    streamflow chunks, and publishes its events as streamflow's models do (the langchain-core call itself runs
    without callbacks, so each token is published once). ``bind_tools`` binds the langchain-core model to the
    tools' OpenAI function specs (the model must implement ``bind_tools``). Its name, tags, provider, model name
    and ``disable_streaming`` are the langchain-core model's.

    :param model: the langchain-core chat model
    """

    def __init__(self, model: LangChainBaseChatModel) -> None:
        disabled = model.disable_streaming
        super().__init__(
            tags=tuple(model.tags or ()),
            name=model.get_name(),
            disable_streaming=disabled if disabled in (True, False, "tool_calling") else False,
        )
        self.model = model
        self.bound: Any = model
        params = model._get_ls_params()
        self.provider = str(params.get("ls_provider") or "")
        self.model_name = str(params.get("ls_model_name") or "")

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        async for chunk in self.bound.astream(to_langchain_messages(messages), _QUIET):
            message = from_langchain(chunk)
            if not isinstance(message, AIMessageChunk):
                raise InvalidArgumentError(
                    f"{self.name} streamed a {type(chunk).__name__}; a chat model streams AIMessageChunks"
                )
            yield message

    async def _agenerate(self, messages: list[BaseMessage]) -> AIMessage:
        message = from_langchain(await self.bound.ainvoke(to_langchain_messages(messages), _QUIET))
        if not isinstance(message, AIMessage):
            raise InvalidArgumentError(
                f"{self.name} answered a {type(message).__name__}; a chat model answers an AIMessage"
            )
        return message

    def _streams(self) -> bool:
        """As LangChain: a model that implements neither ``_stream`` nor ``_astream`` answers whole."""
        cls = type(self.model)
        native = (
            cls._stream is not LangChainBaseChatModel._stream or cls._astream is not LangChainBaseChatModel._astream
        )
        return native and super()._streams()

    def bind_tools(self, tools: Sequence[Any]) -> Self:
        clone = super().bind_tools(tools)
        clone.bound = self.model.bind_tools(clone.tool_specs)
        return clone

    def __repr__(self) -> str:
        return f"LangChainChatModel({self.model!r})"


def adapt_chat_model(value: Any) -> LangChainChatModel | None:
    """The adapter :func:`streamflow.models.adapters.register_chat_model_adapter` takes: a
    :class:`LangChainChatModel` for a langchain-core chat model, None for anything else."""
    return LangChainChatModel(value) if isinstance(value, LangChainBaseChatModel) else None
