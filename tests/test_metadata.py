"""Node metadata is built in one place: what a node receives as ``config["metadata"]`` is what the
``messages`` mode and ``astream_events`` show for it; chat model events carry facts, not a mode's metadata."""

from __future__ import annotations

from typing import Any, TypedDict

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamflow.events import (
    EMPTY_METADATA,
    ChatModelFinished,
    ChatModelStarted,
    ChatModelToken,
    CustomEvent,
    TaskStarted,
    ToolStarted,
)
from streamflow.graph import START, StateGraph, adispatch_custom_event, get_config
from streamflow.graph.constants import Send
from streamflow.messages import AIMessage, AIMessageChunk, HumanMessage, MessagesState
from streamflow.metadata import (
    PROPAGATED_CONFIGURABLE_KEYS,
    checkpoint_ns,
    default_provider,
    model_call_metadata,
    node_metadata,
    run_metadata,
    user_tags,
)
from streamflow.models import FakeChatModel
from streamflow.modes import ViewSpec
from streamflow.tools import tool


def test_node_metadata_puts_the_langgraph_keys_after_the_run_metadata_and_over_it() -> None:
    got = node_metadata(
        {"user": "u1", "langgraph_step": "theirs"},
        step=2,
        node="agent",
        triggers=("tools",),
        path=("__pregel_pull", "agent"),
        ns=("outer:t0",),
        task_id="t1",
    )
    assert list(got.items()) == [
        ("user", "u1"),
        ("langgraph_step", 2),
        ("langgraph_node", "agent"),
        ("langgraph_triggers", ("tools",)),
        ("langgraph_path", ("__pregel_pull", "agent")),
        ("langgraph_checkpoint_ns", "outer:t0|agent:t1"),
        ("checkpoint_ns", "outer:t0"),  # in a subgraph: the root graph's task that runs it, as LangGraph
    ]
    assert checkpoint_ns((), "agent", "t1") == "agent:t1"


def test_node_metadata_inside_nested_subgraphs_keeps_the_outermost_task_as_checkpoint_ns() -> None:
    facts: dict[str, Any] = {"step": 1, "node": "leaf", "triggers": (), "path": (), "task_id": "t3"}
    nested = node_metadata({}, ns=("top:t1", "mid:t2"), **facts)
    assert (nested["checkpoint_ns"], nested["langgraph_checkpoint_ns"]) == ("top:t1", "top:t1|mid:t2|leaf:t3")
    assert "checkpoint_ns" not in node_metadata({}, ns=(), **facts)
    assert node_metadata({"checkpoint_ns": "given"}, ns=("top:t1",), **facts)["checkpoint_ns"] == "given"


def test_node_metadata_for_the_messages_mode_puts_ls_integration_before_the_langgraph_keys() -> None:
    facts: dict[str, Any] = {"step": 1, "node": "n", "triggers": (), "path": (), "ns": (), "task_id": "t"}
    got = node_metadata({"user": "u"}, integration="langgraph", **facts)
    assert list(got)[:3] == ["user", "ls_integration", "langgraph_step"]
    assert got["ls_integration"] == "langgraph"
    assert node_metadata({"ls_integration": "mine"}, integration="langgraph", **facts)["ls_integration"] == "mine"


def test_run_metadata_copies_only_langgraphs_configurable_keys_when_set_and_not_already_there() -> None:
    configurable = {
        "thread_id": "th",
        "user_id": "u",  # not one of LangGraph's keys
        "some_api_key": "secret",
        "assistant_id": "",  # empty: left out
        "graph_id": "g",
        "run_id": "r",
    }
    got = run_metadata({"graph_id": "mine"}, configurable)
    assert got == {"graph_id": "mine", "thread_id": "th", "run_id": "r"}
    assert run_metadata({"a": 1}, None) == {"a": 1} == run_metadata({"a": 1}, "not a mapping")
    assert set(PROPAGATED_CONFIGURABLE_KEYS) == {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "task_id",
        "run_id",
        "assistant_id",
        "graph_id",
    }


def test_model_call_metadata_adds_langchains_keys_once() -> None:
    node = node_metadata(
        {"user": "u"}, step=1, node="n", triggers=(), path=(), ns=(), task_id="t", integration="langgraph"
    )
    got = model_call_metadata(node, task_checkpoint_ns="n:t", tags=["seq:step:1", "a"], provider="p", model_name="")
    assert list(got) == [
        "user",
        "ls_integration",
        *[k for k in node if k.startswith("langgraph_")],
        "checkpoint_ns",
        "ls_provider",
        "ls_model_type",
        "lc_versions",
        "tags",
    ]
    assert (got["ls_integration"], got["checkpoint_ns"], got["ls_model_type"], got["tags"]) == (
        "langchain_chat_model",
        "n:t",
        "chat",
        ["a"],
    )
    assert set(got["lc_versions"]) == {"streamflow"}
    plain = {k: v for k, v in node.items() if k != "ls_integration"}  # a node's own config["metadata"]
    again = model_call_metadata(plain, task_checkpoint_ns="n:t", tags=(), provider="p", model_name="m")
    assert list(again)[:2] == ["user", "ls_integration"] and again["ls_model_name"] == "m"
    assert "tags" not in again
    assert node["ls_integration"] == "langgraph"  # the node's dict is not changed


def test_default_provider_follows_langchains_rule() -> None:
    class ChatScripted: ...

    class ScriptedChat: ...

    assert [default_provider(c) for c in (ChatScripted, ScriptedChat, FakeChatModel)] == [
        "scripted",
        "scripted",
        "fakechatmodel",
    ]
    assert user_tags(["seq:step:3", "x"]) == ["x"]


# -- one builder for the runtime and the views ---------------------------------------------------------


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _graph(model: FakeChatModel, seen: list[dict[str, Any]]) -> Any:
    """prompt -> call; ``call`` records its ``config["metadata"]``, dispatches a custom event, calls a
    tool and the model, and returns the model's message and a message of its own."""

    def prompt(state: MessagesState) -> dict[str, Any]:
        return {"messages": [HumanMessage(content="go", id="h1")]}

    async def call(state: MessagesState, config: dict[str, Any]) -> dict[str, Any]:
        seen.append(config["metadata"])
        assert get_config()["metadata"] == config["metadata"]
        await adispatch_custom_event("note", {})
        await add.ainvoke({"a": 1, "b": 2})
        answer = await model.ainvoke(state["messages"])
        return {"messages": [answer, AIMessage(content="own", id="own-1")]}

    return (
        StateGraph(MessagesState)
        .add_node("prompt", prompt)
        .add_node("call", call)
        .add_edge(START, "prompt")
        .add_edge("prompt", "call")
        .compile()
    )


_keys = st.sampled_from(["user", "tags", "langgraph_step", "langgraph_node", "ls_provider", "ls_model_name"])
_values = st.none() | st.integers() | st.text(max_size=4) | st.lists(st.integers(), max_size=2)
run_metadatas = st.dictionaries(_keys | st.text(max_size=4), _values, max_size=4)
tag_lists = st.lists(st.sampled_from(["a", "b", "nostream-not"]), max_size=2, unique=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(metadata=run_metadatas, run_tags=tag_lists, model_tags=tag_lists)
def test_views_show_the_metadata_the_node_receives(
    metadata: dict[str, Any], run_tags: list[str], model_tags: list[str]
) -> None:
    """Whatever the run's metadata (keys that collide with LangGraph's included), the ``messages`` mode
    and ``astream_events`` show for a node exactly its ``config["metadata"]``, for a tool it calls that plus
    ``checkpoint_ns``, and for its model call that plus the model's keys, as LangGraph and LangChain do."""
    seen: list[dict[str, Any]] = []
    graph = _graph(FakeChatModel(["two words"], chunk_size=3, tags=model_tags), seen)
    config = {"metadata": metadata, "tags": run_tags}

    async def both() -> tuple[list[Any], list[dict[str, Any]]]:
        items = [x async for x in graph.astream({"messages": []}, config, stream_mode="messages")]
        events = [e async for e in graph.astream_events({"messages": []}, config, version="v2")]
        return items, events

    items, events = anyio.run(both)
    node, again = seen  # the node's config["metadata"] in the first run (messages), then the second (events)
    assert node["langgraph_path"] == ("__pregel_pull", "call")
    model_meta = model_call_metadata(
        node,
        task_checkpoint_ns=node["langgraph_checkpoint_ns"],
        tags=[*run_tags, *model_tags],
        provider="fakechatmodel",
        model_name="",
    )
    tokens = [meta for message, meta in items if isinstance(message, AIMessageChunk)]
    assert len(tokens) == 3
    assert all(meta == model_meta for meta in tokens)
    assert len({id(meta) for meta in tokens}) == 1  # built once per call, shared by its chunks
    whole = [(message.content, meta) for message, meta in items if not isinstance(message, AIMessageChunk)]
    assert [content for content, _ in whole] == ["go", "own"]
    assert whole[0][1]["langgraph_node"] == "prompt"
    assert whole[1][1] == {**node, "ls_integration": node.get("ls_integration", "langgraph")}

    by_kind = {(e["event"], e["name"]): e for e in events}
    task_id = by_kind[("on_chain_start", "call")]["run_id"]
    assert again["langgraph_checkpoint_ns"] == f"call:{task_id}"
    assert by_kind[("on_chain_start", "call")]["metadata"] == again
    assert by_kind[("on_custom_event", "note")]["metadata"] == again
    # a tool called in the node: LangChain adds the task's checkpoint_ns (from its config) unless already set
    tool_meta = {**again, "checkpoint_ns": again.get("checkpoint_ns", again["langgraph_checkpoint_ns"])}
    assert by_kind[("on_tool_start", "add")]["metadata"] == tool_meta
    model = model_call_metadata(
        again, task_checkpoint_ns=again["langgraph_checkpoint_ns"], tags=(), provider="fakechatmodel", model_name=""
    )
    for kind in ("on_chat_model_start", "on_chat_model_stream", "on_chat_model_end"):
        assert by_kind[(kind, "FakeChatModel")]["metadata"] == model


@pytest.mark.anyio
async def test_model_events_carry_facts_and_the_call_started_event_carries_the_node_metadata() -> None:
    seen: list[dict[str, Any]] = []
    graph = _graph(FakeChatModel(["two words"], chunk_size=3, tags=["llm"]), seen)
    async with graph.start({"messages": []}, {"tags": ["rt"], "metadata": {"user": "u1"}}) as run:
        await run.result()
        events = run.events()
    (node,) = seen
    (started,) = [e for e in events if isinstance(e, ChatModelStarted)]
    assert dict(started.metadata) == node
    assert (started.tags, started.provider, started.model_name, started.node) == (
        ("seq:step:1", "rt", "llm"),
        "fakechatmodel",
        "",
        "call",
    )
    rest = [e for e in events if isinstance(e, (ChatModelToken, ChatModelFinished))]
    assert len(rest) == 4
    assert all(e.metadata is EMPTY_METADATA and e.call_id == started.call_id for e in rest)
    assert all(
        (e.node, e.step, e.task_id, e.tags) == (started.node, 2, started.task_id, ("seq:step:1", "rt", "llm"))
        for e in rest
    )
    (tool_started,) = [e for e in events if isinstance(e, ToolStarted)]
    (custom,) = [e for e in events if isinstance(e, CustomEvent)]
    assert dict(tool_started.metadata) == dict(custom.metadata) == node


def test_a_send_task_has_one_path_for_the_node_the_events_and_every_view() -> None:
    class State(TypedDict, total=False):
        done: list[str]

    paths: dict[str, Any] = {}
    model = FakeChatModel(["hi"])

    def fan(state: State) -> list[Send]:
        return [Send("write", {"topic": t}) for t in ("a", "b")]

    async def write(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        paths[state["topic"]] = config["metadata"]["langgraph_path"]
        await model.ainvoke(state["topic"])
        return {}

    graph = StateGraph(State).add_node("write", write).add_conditional_edges(START, fan).compile()

    async def run() -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
        async with graph.start({}) as r:
            await r.result()
            events = r.events()
        items = [x async for x in graph.astream({}, stream_mode="messages")]
        dicts = [e async for e in graph.astream_events({}, version="v2")]
        return events, items, dicts

    events, items, dicts = anyio.run(run)
    assert paths == {"a": ("__pregel_push", 0), "b": ("__pregel_push", 1)}
    started = {e.input["topic"]: e.path for e in events if isinstance(e, TaskStarted)}
    assert started == paths
    assert sorted(meta["langgraph_path"] for _, meta in items) == [("__pregel_push", 0), ("__pregel_push", 1)]
    chains = [e["metadata"]["langgraph_path"] for e in dicts if e["event"] == "on_chain_start" and e["name"] == "write"]
    assert sorted(chains) == [("__pregel_push", 0), ("__pregel_push", 1)]


# -- views that see a model call only in part ----------------------------------------------------------


def _joke() -> Any:
    model = FakeChatModel(["why did the chicken"], chunk_size=5, tags=["joke"])

    def gen(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    return StateGraph(MessagesState).add_node("gen", gen).add_edge(START, "gen").compile()


async def _finished_run() -> Any:
    run = _joke().start({"messages": []}, {"tags": ["rt"], "metadata": {"user": "u1"}})
    await run.result()
    return run


@pytest.mark.anyio
async def test_a_view_replayed_from_the_call_start_gives_the_same_chunks_as_one_from_the_run_start() -> None:
    async with await _finished_run() as run:
        events = run.events()
        started = next(e for e in events if isinstance(e, ChatModelStarted))
        whole = [x async for x in run.stream("messages", after_seq=0)]
        late = [x async for x in run.stream("messages", after_seq=started.seq - 1)]
    assert len(whole) == 4
    assert late == whole
    assert whole[0][1]["user"] == "u1" and whole[0][1]["ls_provider"] == "fakechatmodel"


@pytest.mark.anyio
async def test_a_view_that_missed_the_call_start_gives_the_documented_fallback_and_priming_restores_it() -> None:
    async with await _finished_run() as run:
        events = run.events()
        tokens = [e for e in events if isinstance(e, ChatModelToken)]
        whole = [x async for x in run.stream("messages", after_seq=0)]
        late = [x async for x in run.stream("messages", after_seq=tokens[1].seq - 1)]
        primed = run.stream("messages", after_seq=tokens[1].seq - 1)
        primed.prime(e for e in events if e.seq < tokens[1].seq)
        restored = [x async for x in primed]
    assert [m for m, _ in late] == [m for m, _ in whole[1:]]
    # neither RunStarted nor TaskStarted nor ChatModelStarted was seen: step, node and tags only
    fallback = {"ls_integration": "langgraph", "langgraph_step": 1, "langgraph_node": "gen", "tags": ["rt", "joke"]}
    assert all(meta == fallback for _, meta in late)
    assert restored == whole[1:]


def test_a_view_that_saw_the_task_but_not_the_call_start_gives_the_node_metadata_and_tags() -> None:
    async def events() -> list[Any]:
        async with await _finished_run() as run:
            retained: list[Any] = run.events()
            return retained

    all_events = anyio.run(events)
    without_start = [e for e in all_events if not isinstance(e, ChatModelStarted)]
    items = list(ViewSpec.parse("messages").items(without_start))
    full = list(ViewSpec.parse("messages").items(all_events))
    assert [m for m, _ in items] == [m for m, _ in full]
    model_keys = ("checkpoint_ns", "ls_provider", "ls_model_type", "lc_versions")
    node = {k: v for k, v in full[0][1].items() if k not in model_keys}
    assert all(meta == {**node, "ls_integration": "langgraph"} for _, meta in items)


def test_a_call_that_streamed_nothing_gives_its_whole_message_the_call_metadata_or_the_fallback() -> None:
    class Silent(FakeChatModel):
        async def _astream_chunks(self, messages: list[Any]) -> Any:
            return
            yield

    model = Silent(["unused"], tags=["quiet"])

    async def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("call", call).add_edge(START, "call").compile()

    async def events() -> list[Any]:
        async with graph.start({"messages": []}, {"metadata": {"user": "u1"}}) as run:
            await run.result()
            return run.events()

    all_events = anyio.run(events)
    ((message, meta),) = ViewSpec.parse("messages").items(all_events)
    assert isinstance(message, AIMessage) and message.content == ""
    assert (meta["user"], meta["tags"], meta["ls_provider"]) == ("u1", ["quiet"], "silent")
    assert meta["langgraph_node"] == "call"
    without_start = [e for e in all_events if not isinstance(e, ChatModelStarted)]
    ((again, fallback),) = ViewSpec.parse("messages").items(without_start)
    assert again == message
    model_keys = ("checkpoint_ns", "ls_provider", "ls_model_type", "lc_versions")
    assert fallback == {
        **{k: v for k, v in meta.items() if k not in model_keys},
        "ls_integration": "langgraph",
    }


def test_model_call_metadata_adds_its_version_to_lc_versions_the_run_already_has() -> None:
    node = {"lc_versions": {"mine": "1"}, "langgraph_step": 1}
    got = model_call_metadata(node, task_checkpoint_ns="n:t", tags=(), provider="p", model_name="")
    assert set(got["lc_versions"]) == {"mine", "streamflow"} and got["lc_versions"]["mine"] == "1"
    assert node["lc_versions"] == {"mine": "1"}
    odd = model_call_metadata({"lc_versions": "x"}, task_checkpoint_ns="n:t", tags=(), provider="p", model_name="")
    assert set(odd["lc_versions"]) == {"streamflow"}
