"""Serializers for checkpoints, with LangGraph's protocol (``langgraph.checkpoint.serde``):
:class:`~streamflow.checkpoint.serde.base.SerializerProtocol` and the default
:class:`~streamflow.checkpoint.serde.jsonplus.JsonPlusSerializer`."""

from __future__ import annotations

__all__: list[str] = []
