"""Checkpoint savers: where a graph's state is kept between supersteps and runs (LangGraph's
``langgraph.checkpoint`` package, at the same paths: ``streamflow.checkpoint.base``, ``.memory``,
``.serde.jsonplus``, ``.sqlite``, ``.sqlite.aio``, ``.postgres``, ``.postgres.aio``)."""

from __future__ import annotations

__all__: list[str] = []
