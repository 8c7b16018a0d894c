"""LangChain's ``langchain_core.language_models`` names that streamflow provides, at the mirrored path.

Re-exports only: :class:`BaseChatModel` is the base of :mod:`streamflow.models`; :class:`BaseLLM` and
:class:`LLM` (string LLMs) live in :mod:`streamflow.language_models.llms`, :class:`FakeListLLM` and
:class:`FakeStreamingListLLM` in :mod:`streamflow.language_models.fake`. streamflow's scripted chat model is
``streamflow.models.FakeChatModel`` (its own API, not one of LangChain's fake chat models).
"""

from ..models.base import BaseChatModel as BaseChatModel
from .fake import FakeListLLM as FakeListLLM
from .fake import FakeStreamingListLLM as FakeStreamingListLLM
from .llms import LLM as LLM
from .llms import BaseLLM as BaseLLM

__all__ = ["LLM", "BaseChatModel", "BaseLLM", "FakeListLLM", "FakeStreamingListLLM"]
