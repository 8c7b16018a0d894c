"""LangChain v1's ``langchain.chat_models``, at the mirrored path: :func:`init_chat_model`.

``init_chat_model("provider:model")`` builds a chat model from a string, for the providers streamflow ships
(:class:`BaseChatModel` is re-exported from :mod:`streamflow.models.base`):

======================  =====================================================================================
provider                model
======================  =====================================================================================
``openai``              :class:`~streamflow.models.openai.OpenAIChatModel` (extra ``openai``): any server
                        speaking OpenAI's chat-completions API, at ``base_url`` or ``OPENAI_BASE_URL``
``local``               :class:`~streamflow.models.local.GemmaChatModel` (extra ``local``): Gemma run
                        in-process by llama.cpp; the model is the packaged Gemma 3 270M (``gemma-3-270m``)
                        or the path of a Gemma GGUF file
======================  =====================================================================================

As in LangChain, the provider comes from the ``provider:`` prefix, else from ``model_provider``, else is
inferred from the model's name (``gpt-...``, ``o1``, ``o3``, ``chatgpt``, ``text-davinci`` -> ``openai``).
Every other provider LangChain knows (``anthropic``, ``ollama`` ...) is refused with an error naming the
supported ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import InvalidArgumentError
from .models.base import BaseChatModel as BaseChatModel

__all__ = ["SUPPORTED_PROVIDERS", "BaseChatModel", "init_chat_model"]

SUPPORTED_PROVIDERS = ("local", "openai")
"""The providers :func:`init_chat_model` builds a model for."""

_LANGCHAIN_PROVIDERS = frozenset(
    {
        "anthropic",
        "anthropic_bedrock",
        "azure_ai",
        "azure_openai",
        "baseten",
        "bedrock",
        "bedrock_converse",
        "cohere",
        "deepseek",
        "fireworks",
        "google_anthropic_vertex",
        "google_genai",
        "google_vertexai",
        "groq",
        "huggingface",
        "ibm",
        "litellm",
        "meta",
        "mistralai",
        "nvidia",
        "ollama",
        "openai",
        "openrouter",
        "perplexity",
        "together",
        "upstage",
        "xai",
    }
)
"""Provider names LangChain's ``init_chat_model`` recognises as a ``provider:`` prefix (besides ours)."""

_INFERRED = (
    (("gpt-", "o1", "o3", "chatgpt", "text-davinci"), "openai"),
    (("claude",), "anthropic"),
    (("command",), "cohere"),
    (("accounts/fireworks",), "fireworks"),
    (("gemini",), "google_vertexai"),
    (("amazon.", "anthropic.", "meta."), "bedrock"),
    (("mistral", "mixtral"), "mistralai"),
    (("deepseek",), "deepseek"),
    (("grok",), "xai"),
    (("sonar",), "perplexity"),
    (("solar",), "upstage"),
)
"""LangChain's rule for a model name without a provider: its prefix names the provider."""

LOCAL_MODEL = "gemma-3-270m"
"""The packaged local model's name for ``init_chat_model("local:gemma-3-270m")``."""


def _supported() -> str:
    return ", ".join(SUPPORTED_PROVIDERS)


def _parse(model: str, model_provider: str | None) -> tuple[str, str]:
    """(model name, provider) of ``model`` as LangChain reads it."""
    prefix, sep, rest = model.partition(":")
    if not model_provider and sep and (prefix in SUPPORTED_PROVIDERS or prefix in _LANGCHAIN_PROVIDERS):
        model_provider, model = prefix, rest
    if not model_provider:
        lower = model.lower()
        model_provider = next((p for prefixes, p in _INFERRED if lower.startswith(prefixes)), None)
    if not model_provider:
        raise InvalidArgumentError(
            f"Unable to infer model provider for model={model!r}. Please specify 'model_provider' directly, "
            f"or write the model as 'provider:model'. Supported providers: {_supported()}"
        )
    return model, model_provider.replace("-", "_").lower()


def init_chat_model(
    model: str | None = None,
    *,
    model_provider: str | None = None,
    configurable_fields: Any = None,
    config_prefix: str | None = None,
    **kwargs: Any,
) -> BaseChatModel:
    """A chat model from a name, as LangChain v1's ``init_chat_model`` (``langchain.chat_models``).

    :param model: ``"provider:model"`` (``"openai:gpt-4o-mini"``, ``"local:gemma-3-270m"``), or a model name
        whose provider is given by ``model_provider`` or inferred from its prefix (``"gpt-4o-mini"``)
    :param model_provider: the provider, when ``model`` has no prefix (``"openai"`` or ``"local"``)
    :param kwargs: passed to the model's class: for ``openai`` :class:`~streamflow.models.openai.OpenAIChatModel`'s
        (``base_url``, ``api_key``, ``temperature``, ``max_tokens``, ``timeout`` ...; the server is
        ``base_url``, else ``OPENAI_BASE_URL``, else OpenAI's), for ``local``
        :class:`~streamflow.models.local.GemmaChatModel`'s (``max_tokens``, ``temperature``, ``n_ctx`` ...)
    :returns: the model, a :class:`~streamflow.models.base.BaseChatModel` (a Runnable)
    :raises InvalidArgumentError: (a ``ValueError``) for a missing or empty ``model``, ``configurable_fields``
        or ``config_prefix`` (LangChain's configurable models are not supported), a provider that cannot be
        inferred, or a provider other than ``openai`` and ``local`` (the message names both); for a ``local``
        model that is neither ``gemma-3-270m`` nor a GGUF file; and what the model's class raises for its
        arguments
    :raises MissingExtraError: when the provider's extra (``openai``, ``local``) is not installed
    """
    if configurable_fields is not None or config_prefix:
        raise InvalidArgumentError(
            "init_chat_model(): configurable models (configurable_fields, config_prefix) are not supported by "
            "streamflow; pass a model name"
        )
    if not model or not isinstance(model, str):
        raise InvalidArgumentError(
            f"init_chat_model() needs a model name as a string ('provider:model'), got {model!r}; "
            f"supported providers: {_supported()}"
        )
    name, provider = _parse(model, model_provider)
    if provider == "openai":
        from .models.openai import OpenAIChatModel

        return OpenAIChatModel(name, **kwargs)
    if provider == "local":
        from .models.local import GemmaChatModel

        if re.fullmatch(r"gemma-?3-?270m(-q4_k_m)?", name.lower()):
            return GemmaChatModel(**kwargs)
        if Path(name).suffix.lower() == ".gguf":
            return GemmaChatModel(name, **kwargs)
        raise InvalidArgumentError(
            f"init_chat_model(): the local provider runs {LOCAL_MODEL!r} (packaged) or a Gemma GGUF file "
            f"given by its path; got {name!r}"
        )
    raise InvalidArgumentError(
        f"Unsupported provider={provider!r}.\n\nSupported model providers are: {_supported()} "
        "(an OpenAI-compatible server, at OPENAI_BASE_URL, and the local Gemma model)"
    )
