"""Small values the saver tests share: a thread's config and a checkpoint holding one value."""

from __future__ import annotations

from typing import Any

from streamflow.checkpoint.base import Checkpoint, RunnableConfig, empty_checkpoint


def conf(thread: str) -> RunnableConfig:
    """The config of ``thread``'s root namespace."""
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


def filled(value: Any) -> Checkpoint:
    """An empty checkpoint whose one channel, ``value``, holds ``value`` at version 1."""
    made = empty_checkpoint()
    made["channel_values"] = {"value": value}
    made["channel_versions"] = {"value": 1}
    return made
