"""LangGraph's metadata of a node's run, built from the facts of its task, in this one place.

Layer 0: plain functions, no I/O. The runtime calls :func:`node_metadata` for the ``config["metadata"]`` a
node receives (and the metadata of the calls made inside it); the views call it with the facts a
``TaskStarted`` event carries, so a stream mode and the node itself always see the same dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["checkpoint_ns", "node_metadata"]


def checkpoint_ns(ns: tuple[str, ...], node: str, task_id: str | None) -> str:
    """LangGraph's ``checkpoint_ns`` of a task: the namespace parts of the graph it runs in, then
    ``"<node>:<task id>"``, joined by ``|`` (``"outer:1|inner:2"``)."""
    return "|".join((*ns, f"{node}:{task_id}"))


def node_metadata(
    run_metadata: Mapping[str, Any],
    *,
    step: int | None,
    node: str,
    triggers: tuple[str, ...],
    path: tuple[Any, ...],
    ns: tuple[str, ...],
    task_id: str | None,
) -> dict[str, Any]:
    """The metadata LangGraph gives a node's run: a new dict holding ``run_metadata`` (the run's
    ``config["metadata"]``) followed by ``langgraph_step``, ``langgraph_node``, ``langgraph_triggers``,
    ``langgraph_path`` and ``langgraph_checkpoint_ns`` (those keys win over the run's own).

    :param step: the task's superstep number
    :param node: the task's node name
    :param triggers: what triggered the task (``("branch:to:node",)``, ``("__pregel_push",)`` ...)
    :param path: LangGraph's task path: ``("__pregel_pull", node)``, or ``("__pregel_push", index)`` for a
        ``Send``
    :param ns: the namespace of the graph the task runs in (``()`` at the root)
    :param task_id: the task's id
    """
    return {
        **run_metadata,
        "langgraph_step": step,
        "langgraph_node": node,
        "langgraph_triggers": triggers,
        "langgraph_path": path,
        "langgraph_checkpoint_ns": checkpoint_ns(ns, node, task_id),
    }
