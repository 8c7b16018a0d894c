"""Chat models that stream: every call publishes typed events onto the run it is called in."""

from .base import BaseChatModel as BaseChatModel
from .fake import FakeChatModel as FakeChatModel

__all__ = ["BaseChatModel", "FakeChatModel"]
