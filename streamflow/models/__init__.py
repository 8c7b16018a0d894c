"""Chat models that stream: every call publishes typed events onto the run it is called in.

Models behind an optional extra live in their own modules and are imported from there:
``streamflow.models.openai.OpenAIChatModel`` (extra ``openai``) and
``streamflow.models.local.GemmaChatModel`` (extra ``local``).
"""

from .base import BaseChatModel as BaseChatModel
from .fake import FakeChatModel as FakeChatModel

__all__ = ["BaseChatModel", "FakeChatModel"]
