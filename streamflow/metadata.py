"""LangGraph's metadata of a node's run and of a chat model call, built from the facts of its task, in this
one place.

Layer 0: plain functions, no I/O. The runtime calls :func:`run_metadata` once per run (LangGraph's
``ensure_config``: some ``configurable`` keys are copied into ``config["metadata"]``) and
:func:`node_metadata` for the ``config["metadata"]`` a node receives (and the metadata of the calls made
inside it); the views call them with the facts a ``TaskStarted`` or ``ChatModelStarted`` event carries, so a
stream mode and the node itself always see the same dict. :func:`model_call_metadata` adds what LangChain's
chat models add (``ls_*`` keys, ``lc_versions``, ``tags``); a ``messages`` view builds it once per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata as _dist
from typing import Any, Final

__all__ = [
    "CHAT_MODEL_INTEGRATION",
    "GRAPH_INTEGRATION",
    "PROPAGATED_CONFIGURABLE_KEYS",
    "checkpoint_ns",
    "default_provider",
    "lc_versions",
    "model_call_metadata",
    "node_metadata",
    "run_metadata",
    "user_tags",
]

PROPAGATED_CONFIGURABLE_KEYS: Final = (
    "thread_id",
    "checkpoint_id",
    "checkpoint_ns",
    "task_id",
    "run_id",
    "assistant_id",
    "graph_id",
)
"""The ``config["configurable"]`` keys LangGraph 1.2 copies into a run's metadata (when set to a non-empty
value and not already in ``config["metadata"]``); no other configurable key reaches the metadata (an
``api_key`` or a ``user_id`` stays out)."""

GRAPH_INTEGRATION: Final = "langgraph"
"""``ls_integration`` of a node's ``messages`` metadata (LangGraph's)."""
CHAT_MODEL_INTEGRATION: Final = "langchain_chat_model"
"""``ls_integration`` of a chat model call's ``messages`` metadata (LangChain's)."""

try:
    _VERSION = _dist.version("streamflow")
except _dist.PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    _VERSION = "0+unknown"


def run_metadata(metadata: Mapping[str, Any], configurable: Any) -> dict[str, Any]:
    """A run's metadata as LangGraph 1.2 makes it: ``metadata`` (``config["metadata"]``), then each of
    :data:`PROPAGATED_CONFIGURABLE_KEYS` that ``configurable`` holds with a non-empty value and ``metadata``
    lacks, in ``configurable``'s order. ``configurable`` may be None (or any non-mapping: nothing is
    copied)."""
    out = dict(metadata)
    if isinstance(configurable, Mapping):
        for key, value in configurable.items():
            if key in PROPAGATED_CONFIGURABLE_KEYS and value and key not in out:
                out[key] = value
    return out


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
    integration: str | None = None,
) -> dict[str, Any]:
    """The metadata LangGraph gives a node's run: a new dict holding ``run_metadata`` (the run's metadata,
    see :func:`run_metadata`), then ``ls_integration`` when ``integration`` is given and the run's metadata
    has none, then ``langgraph_step``, ``langgraph_node``, ``langgraph_triggers``, ``langgraph_path`` and
    ``langgraph_checkpoint_ns`` (those keys win over the run's own), then, inside a subgraph, LangGraph's
    ``checkpoint_ns``: the first part of the namespace (the root graph's task that runs the subgraph),
    unless the run's metadata has one.

    :param step: the task's superstep number
    :param node: the task's node name
    :param triggers: what triggered the task (``("branch:to:node",)``, ``("__pregel_push",)`` ...)
    :param path: LangGraph's task path: ``("__pregel_pull", node)``, or ``("__pregel_push", index)`` for a
        ``Send``
    :param ns: the namespace of the graph the task runs in (``()`` at the root)
    :param task_id: the task's id
    :param integration: ``ls_integration`` to add (the ``messages`` mode gives :data:`GRAPH_INTEGRATION`; a
        node's own ``config["metadata"]`` has none)
    """
    out = dict(run_metadata)
    if integration is not None and "ls_integration" not in out:
        out["ls_integration"] = integration
    out["langgraph_step"] = step
    out["langgraph_node"] = node
    out["langgraph_triggers"] = triggers
    out["langgraph_path"] = path
    out["langgraph_checkpoint_ns"] = checkpoint_ns(ns, node, task_id)
    if ns and "checkpoint_ns" not in out:
        out["checkpoint_ns"] = ns[0]
    return out


def default_provider(cls: type) -> str:
    """LangChain's ``ls_provider`` of a chat model class that names none: the class name without a leading
    or trailing ``"Chat"``, lowercased (``ChatScripted`` -> ``"scripted"``, ``FakeChatModel`` ->
    ``"fakechatmodel"``)."""
    name = cls.__name__
    if name.startswith("Chat"):
        name = name[4:]
    elif name.endswith("Chat"):
        name = name[:-4]
    return name.lower()


def user_tags(tags: Iterable[str]) -> list[str]:
    """``tags`` without LangGraph's internal ``seq:step:*`` tags, as a list."""
    return [tag for tag in tags if not tag.startswith("seq:step")]


def lc_versions(versions: Any) -> dict[str, Any]:
    """``lc_versions`` of a model call's metadata: ``{"streamflow": <version>}`` where LangChain names
    ``langchain-core``'s, added to ``versions`` when that is a mapping (as LangChain adds its own)."""
    return {**versions, "streamflow": _VERSION} if isinstance(versions, Mapping) else {"streamflow": _VERSION}


def model_call_metadata(
    node: Mapping[str, Any],
    *,
    task_checkpoint_ns: str,
    tags: Iterable[str],
    provider: str,
    model_name: str,
) -> dict[str, Any]:
    """The ``messages`` metadata of a chat model call, as LangGraph 1.2 with a langchain-core 1.x chat model
    gives it: the node's metadata ``node``, with ``ls_integration`` set to :data:`CHAT_MODEL_INTEGRATION`,
    then ``checkpoint_ns`` (the task's, ``task_checkpoint_ns``, unless ``node`` has one), ``ls_provider``,
    ``ls_model_type`` (``"chat"``), ``ls_model_name`` (only when ``model_name`` is not empty), ``lc_versions``
    (``{"streamflow": <version>}`` where LangChain names ``langchain-core``'s, added to a mapping the
    node's metadata already has there, as LangChain adds its own) and ``tags`` (``tags`` without
    ``seq:step:*`` ones, only when some are left). A new dict: build it once per call and share it."""
    if "ls_integration" in node:
        out = dict(node)
    else:  # where LangGraph has it: before the ``langgraph_*`` keys
        out = {}
        for key, value in node.items():
            if key == "langgraph_step" and "ls_integration" not in out:
                out["ls_integration"] = CHAT_MODEL_INTEGRATION
            out[key] = value
    out["ls_integration"] = CHAT_MODEL_INTEGRATION
    if "checkpoint_ns" not in out:
        out["checkpoint_ns"] = task_checkpoint_ns
    out["ls_provider"] = provider
    out["ls_model_type"] = "chat"
    if model_name:
        out["ls_model_name"] = model_name
    out["lc_versions"] = lc_versions(out.get("lc_versions"))
    kept = user_tags(tags)
    if kept:
        out["tags"] = kept
    return out
