"""Differential cases for the ``messages`` stream mode: a chat model called in a node (invoke, stream, sync and
async), in a subgraph, with the run's tags, metadata and configurable keys, and with ``nostream``; messages a
node returns. Each compares, message by message, the class, the text and the metadata dict key for key.

The model on each side is a ``ChatScripted``: a subclass of LangChain's ``GenericFakeChatModel`` on LangGraph's
side, of streamflow's ``FakeChatModel`` on ours. Both derive ``ls_provider`` from the class name (``"scripted"``)
and name no model unless given one. The two split a text into chunks differently, so the chunks of one message
are compared joined. Kept as a documented difference: ``lc_versions`` names the installed library's version
(``{"streamflow": ...}`` where LangChain has ``{"langchain-core": ..., "langchain": ...}``), so that entry is a
placeholder.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from streamflow.models import FakeChatModel

from .conftest import Lib, normalise, reference


def scripted(lib: Lib, text: str, *, tags: tuple[str, ...] = (), model_name: str | None = None) -> Any:
    """A chat model answering ``text`` at every call, from ``lib``'s side."""
    if lib.name == "langgraph":
        from langchain_core.language_models import GenericFakeChatModel
        from langchain_core.messages import AIMessage

        class ChatScripted(GenericFakeChatModel):
            model_name: str | None = None

        return ChatScripted(messages=itertools.cycle([AIMessage(text)]), tags=list(tags), model_name=model_name)

    class ChatScriptedSf(FakeChatModel):
        pass

    ChatScriptedSf.__name__ = "ChatScripted"
    model = ChatScriptedSf([text], chunk_size=3, tags=tags)
    model.model_name = model_name or ""
    return model


def collapse(items: list[Any], subgraphs: bool = False) -> list[Any]:
    """``(message, metadata)`` items (``(ns, (message, metadata))`` with ``subgraphs``) as ``(class name,
    text, metadata)`` per message, the namespace first with ``subgraphs``: consecutive chunks of one message
    joined (their metadata must be one dict); in ``lc_versions`` the library's own entry is a placeholder."""
    out: list[list[Any]] = []
    last_id: object = object()
    for item in items:
        ns, (message, metadata) = item if subgraphs else ((), item)
        meta = dict(metadata)
        versions = meta.get("lc_versions")
        if isinstance(versions, dict) and ({"langchain-core", "streamflow"} & set(versions)):
            # LangChain names langchain-core and, when installed, langchain; streamflow names itself
            others = {k: v for k, v in versions.items() if k not in ("langchain-core", "langchain", "streamflow")}
            meta["lc_versions"] = {**others, "<library>": "<version>"}
        chunk = type(message).__name__.endswith("Chunk")
        if chunk and out and message.id == last_id:
            assert out[-1][2] == meta
            out[-1][1] += message.content
            continue
        last_id = message.id
        out.append([type(message).__name__, message.content, meta, ns])
    shaped: list[Any] = normalise([tuple(entry) if subgraphs else tuple(entry[:3]) for entry in out])
    return shaped


def in_node(lib: Lib, call: str, *, tags: tuple[str, ...] = (), model_name: str | None = None) -> Any:
    """START -> ``call``: a node calling the model with ``call`` (invoke, stream, ainvoke, astream)."""
    model = scripted(lib, "hello there world", tags=tags, model_name=model_name)

    def invoke(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def stream(state: Any) -> dict[str, Any]:
        whole = None
        for chunk in model.stream(state["messages"]):
            whole = chunk if whole is None else whole + chunk
        return {"messages": [whole]}

    async def ainvoke(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    async def astream(state: Any) -> dict[str, Any]:
        whole = None
        async for chunk in model.astream(state["messages"]):
            whole = chunk if whole is None else whole + chunk
        return {"messages": [whole]}

    nodes: dict[str, Callable[..., Any]] = {
        "invoke": invoke,
        "stream": stream,
        "ainvoke": ainvoke,
        "astream": astream,
    }
    return lib.StateGraph(lib.MessagesState).add_node(call, nodes[call]).add_edge(lib.START, call).compile()


def with_reply(lib: Lib) -> Any:
    """The model's answer, then a node returning a message of its own."""

    def reply(state: Any) -> dict[str, Any]:
        return {"messages": [lib.AIMessage(content=f"seen {len(state['messages'])}", id="reply-1")]}

    model = scripted(lib, "one two")

    def ask(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    return (
        lib.StateGraph(lib.MessagesState)
        .add_node("ask", ask)
        .add_node("reply", reply)
        .add_edge(lib.START, "ask")
        .add_edge("ask", "reply")
        .compile()
    )


def nested(lib: Lib, depth: int = 1, inner: Callable[[Lib], Any] | None = None) -> Any:
    """``inner`` (default ``in_node(invoke)``) run as a subgraph, ``depth`` levels down."""
    graph = in_node(lib, "invoke") if inner is None else inner(lib)
    for level in range(depth):
        name = f"level{level}"
        graph = lib.StateGraph(lib.MessagesState).add_node(name, graph).add_edge(lib.START, name).compile()
    return graph


HUMAN = {"messages": [{"role": "user", "content": "hi", "id": "human-1"}]}
CONFIG = {
    "tags": ["run-tag"],
    "metadata": {"user": "u1"},
    "configurable": {"thread_id": "th-1", "user_id": "u-1", "openai_api_key": "sk-x", "assistant_id": "as-1"},
}

COLLIDING = {
    "metadata": {
        "ls_integration": "mine",
        "ls_provider": "x",
        "checkpoint_ns": "c",
        "lc_versions": {"mine": "1"},
        "thread_id": "from-metadata",
    },
    "configurable": {"thread_id": "from-configurable", "checkpoint_id": "ck"},
}
"""Run metadata holding keys LangGraph and LangChain add themselves."""

CASES = [
    pytest.param(lambda lib: in_node(lib, "invoke"), {}, id="model-invoke"),
    pytest.param(lambda lib: in_node(lib, "stream"), {}, id="model-stream"),
    pytest.param(lambda lib: in_node(lib, "invoke"), {"config": CONFIG}, id="run-tags-metadata-configurable"),
    pytest.param(lambda lib: in_node(lib, "invoke", tags=("llm",)), {"config": CONFIG}, id="model-tags"),
    pytest.param(lambda lib: in_node(lib, "invoke", model_name="scripted-1"), {}, id="model-name"),
    pytest.param(lambda lib: in_node(lib, "invoke", tags=("nostream",)), {}, id="nostream"),
    pytest.param(with_reply, {"config": CONFIG}, id="node-output-after-model"),
    pytest.param(with_reply, {"config": COLLIDING}, id="run-metadata-with-their-keys"),
    pytest.param(nested, {"subgraphs": True}, id="subgraph"),
    pytest.param(nested, {}, id="subgraph-hidden"),
    pytest.param(lambda lib: nested(lib, 2), {"subgraphs": True, "config": CONFIG}, id="subgraph-two-levels"),
    pytest.param(
        lambda lib: nested(lib, 1, with_reply), {"subgraphs": True, "config": CONFIG}, id="subgraph-node-output"
    ),
    pytest.param(lambda lib: nested(lib, 2, with_reply), {}, id="subgraph-node-output-hidden"),
]


def _run_kwargs(kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    rest = dict(kwargs)
    return rest.pop("config", None), rest


@pytest.mark.parametrize(("build", "kwargs"), CASES)
def test_stream(lib: Lib, build: Callable[[Lib], Any], kwargs: dict[str, Any]) -> None:
    config, rest = _run_kwargs(kwargs)
    subgraphs = bool(rest.get("subgraphs"))
    expected = collapse(list(build(reference()).stream(HUMAN, config, stream_mode="messages", **rest)), subgraphs)
    got = collapse(list(build(lib).stream(HUMAN, config, stream_mode="messages", **rest)), subgraphs)
    assert got == expected


ASYNC_CASES = [
    *CASES,
    pytest.param(lambda lib: in_node(lib, "ainvoke"), {}, id="model-ainvoke"),
    pytest.param(lambda lib: in_node(lib, "astream"), {}, id="model-astream"),
    pytest.param(lambda lib: in_node(lib, "astream", tags=("nostream",)), {"config": CONFIG}, id="astream-nostream"),
    pytest.param(lambda lib: in_node(lib, "ainvoke", model_name="scripted-1"), {}, id="ainvoke-model-name"),
]
"""Async nodes run under ``astream()`` only (LangGraph refuses them under ``stream()``)."""


@pytest.mark.anyio
@pytest.mark.parametrize(("build", "kwargs"), ASYNC_CASES)
async def test_astream(lib: Lib, build: Callable[[Lib], Any], kwargs: dict[str, Any]) -> None:
    config, rest = _run_kwargs(kwargs)
    subgraphs = bool(rest.get("subgraphs"))
    graph = build(reference())
    expected = collapse([x async for x in graph.astream(HUMAN, config, stream_mode="messages", **rest)], subgraphs)
    graph = build(lib)
    got = collapse([x async for x in graph.astream(HUMAN, config, stream_mode="messages", **rest)], subgraphs)
    assert got == expected


def positions_and_blocks(items: list[Any]) -> list[Any]:
    """Per message of ``messages``-mode items: whether only its final chunk is marked ``"last"`` (whole
    messages: their ``content_blocks``), and the ``content_blocks`` of its chunks added up."""
    groups: list[list[Any]] = []
    for message, _ in items:
        if groups and type(message).__name__.endswith("Chunk") and groups[-1][0].id == message.id:
            groups[-1].append(message)
        else:
            groups.append([message])
    out = []
    for group in groups:
        total = group[0]
        for chunk in group[1:]:
            total = total + chunk
        positions = [getattr(m, "chunk_position", None) for m in group]
        marked = positions == [None] * (len(group) - 1) + ["last"]
        out.append((type(total).__name__, marked, total.content_blocks))
    return out


@pytest.mark.anyio
@pytest.mark.parametrize("call", ["invoke", "stream", "ainvoke", "astream"])
async def test_final_chunk_and_content_blocks_in_messages_mode(lib: Lib, call: str) -> None:
    graph = in_node(reference(), call)
    expected = positions_and_blocks([x async for x in graph.astream(HUMAN, stream_mode="messages")])
    got = positions_and_blocks([x async for x in in_node(lib, call).astream(HUMAN, stream_mode="messages")])
    assert got == expected
    assert expected == [("AIMessageChunk", True, [{"type": "text", "text": "hello there world"}])]
