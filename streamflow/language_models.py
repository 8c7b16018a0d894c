"""LangChain's ``langchain_core.language_models`` names that streamflow provides, at the mirrored path.

Re-exports only: :class:`BaseChatModel` is the base of :mod:`streamflow.models`. streamflow's scripted test
model is ``streamflow.models.FakeChatModel`` (its own API, not one of LangChain's fake models).
"""

from .models.base import BaseChatModel as BaseChatModel

__all__ = ["BaseChatModel"]
