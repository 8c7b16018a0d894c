"""One conformance suite for every saver (the kinds of ``conftest.KINDS``): LangGraph's checkpointer
contract (its ``checkpoint-conformance`` spec for ``put``, ``put_writes``, ``get_tuple``, ``list`` and
``delete_thread``), and streamflow's own promises on bad input and on damaged rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from streamflow.checkpoint.base import (
    ERROR,
    INTERRUPT,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    RunnableConfig,
    empty_checkpoint,
)
from streamflow.checkpoint.id import uuid6
from streamflow.errors import CheckpointReadError, CheckpointSerializationError, InvalidArgumentError
from streamflow.messages import AIMessage, HumanMessage, ToolMessage

from .conftest import Driver

pytestmark = pytest.mark.anyio


def new_thread() -> str:
    return f"thread-{uuid.uuid4()}"


def config(thread_id: str, ns: str = "", checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def checkpoint(
    values: dict[str, Any] | None = None,
    versions: dict[str, Any] | None = None,
    seen: dict[str, Any] | None = None,
) -> Checkpoint:
    made = empty_checkpoint()
    made["id"] = str(uuid6(clock_seq=-1))
    made["channel_values"] = values or {}
    made["channel_versions"] = versions or {}
    made["versions_seen"] = seen or {}
    return made


def metadata(source: str = "loop", step: int = 0, **extra: Any) -> CheckpointMetadata:
    return {"source": source, "step": step, "parents": {}, **extra}  # type: ignore[typeddict-item]


async def put_chain(driver: Driver, thread_id: str, count: int, ns: str = "") -> list[RunnableConfig]:
    """``count`` checkpoints in a chain (each the child of the last), steps -1, 0, 1 ...; their configs."""
    stored: list[RunnableConfig] = []
    parent = config(thread_id, ns)
    for step in range(-1, count - 1):
        made = checkpoint({"step": step}, {"step": step + 2})
        source = "input" if step == -1 else "loop"
        parent = await driver.put(parent, made, metadata(source, step), {"step": step + 2})
        stored.append(parent)
    return stored


def ids(found: list[Any]) -> list[str]:
    return [item.config["configurable"]["checkpoint_id"] for item in found]


# --- put ---------------------------------------------------------------------------------------------------


async def test_put_returns_the_config_of_the_stored_checkpoint(driver: Driver) -> None:
    thread = new_thread()
    made = checkpoint()
    stored = await driver.put(config(thread), made, metadata(), {})
    assert stored["configurable"] == {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": made["id"]}


async def test_put_then_get_tuple_gives_the_checkpoint_back(driver: Driver) -> None:
    made = checkpoint({"a": "x", "b": [1, 2]}, {"a": 1, "b": 1}, {"node": {"a": 1}})
    stored = await driver.put(config(new_thread()), made, metadata(), {"a": 1, "b": 1})
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.checkpoint["id"] == made["id"]
    assert found.checkpoint["ts"] == made["ts"]
    assert found.checkpoint["v"] == made["v"]
    assert found.checkpoint["channel_values"] == {"a": "x", "b": [1, 2]}
    assert found.checkpoint["channel_versions"] == {"a": 1, "b": 1}
    assert found.checkpoint["versions_seen"] == {"node": {"a": 1}}
    assert await driver.get(stored) == found.checkpoint


VALUES: dict[str, Any] = {
    "str": "text",
    "int": 42,
    "float": 1.5,
    "bool": True,
    "none": None,
    "list": [1, "two", [3]],
    "dict": {"nested": {"deep": [1, 2]}},
    "bytes": b"\x00\x01",
    "tuple": (1, "a"),
    "set": {1, 2},
    "when": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    "uuid": uuid.UUID(int=7),
    "messages": [
        HumanMessage("hi", id="h1"),
        AIMessage("", id="a1", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}]),
        ToolMessage("2", tool_call_id="c1", id="t1"),
    ],
}


async def test_put_keeps_channel_values_of_every_kind(driver: Driver) -> None:
    versions: ChannelVersions = dict.fromkeys(VALUES, 1)
    stored = await driver.put(config(new_thread()), checkpoint(VALUES, versions), metadata(), versions)
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.checkpoint["channel_values"] == VALUES
    assert [type(m) for m in found.checkpoint["channel_values"]["messages"]] == [HumanMessage, AIMessage, ToolMessage]


async def test_put_keeps_string_channel_versions(driver: Driver) -> None:
    first = driver.saver.get_next_version(None, None)
    second = driver.saver.get_next_version(first, None)
    assert second > first
    versions = {"a": first, "b": second}
    stored = await driver.put(config(new_thread()), checkpoint({"a": 1, "b": 2}, versions), metadata(), versions)
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.checkpoint["channel_versions"] == versions


async def test_put_keeps_versions_seen_values(driver: Driver) -> None:
    seen = {"node_a": {"x": 3, "y": 1}, "node_b": {"x": 2}, "__input__": {}}
    stored = await driver.put(config(new_thread()), checkpoint(seen=seen), metadata(), {})
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.checkpoint["versions_seen"] == seen


async def test_put_keeps_metadata_with_custom_keys_and_run_id(driver: Driver) -> None:
    meta = metadata("input", -1, parents={"": "p1"}, run_id="run-1", score=0.5, user="ann")
    stored = await driver.put(config(new_thread()), checkpoint(), meta, {})
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.metadata == meta


async def test_put_copies_scalar_config_entries_into_metadata_as_langgraph(driver: Driver) -> None:
    base = config(new_thread())
    with_extras: RunnableConfig = {
        "configurable": {**base["configurable"], "user_id": "u1", "__hidden": "x", "langgraph_step": 3},
        "metadata": {"tenant": "t1", "count": 2, "blob": {"no": "dicts"}},
    }
    stored = await driver.put(with_extras, checkpoint(), metadata(), {})
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.metadata == {**metadata(), "tenant": "t1", "count": 2, "user_id": "u1"}


@pytest.mark.parametrize("ns", ["", "child:abc"])
async def test_put_in_a_namespace(driver: Driver, ns: str) -> None:
    thread = new_thread()
    made = checkpoint({"a": 1}, {"a": 1})
    stored = await driver.put(config(thread, ns), made, metadata(), {"a": 1})
    assert stored["configurable"]["checkpoint_ns"] == ns
    found = await driver.get_tuple(config(thread, ns))
    assert found is not None
    assert found.checkpoint["id"] == made["id"]


async def test_put_without_a_namespace_uses_the_root_one(driver: Driver) -> None:
    thread = new_thread()
    made = checkpoint()
    stored = await driver.put({"configurable": {"thread_id": thread}}, made, metadata(), {})
    assert stored["configurable"]["checkpoint_ns"] == ""
    found = await driver.get_tuple(config(thread))
    assert found is not None
    assert found.checkpoint["id"] == made["id"]


async def test_put_several_checkpoints_on_one_thread_keeps_each(driver: Driver) -> None:
    thread = new_thread()
    stored = await put_chain(driver, thread, 4)
    for step, each in zip(range(-1, 3), stored, strict=True):
        found = await driver.get_tuple(each)
        assert found is not None
        assert found.checkpoint["channel_values"] == {"step": step}
        assert found.metadata["step"] == step


async def test_threads_do_not_see_each_other(driver: Driver) -> None:
    first, second = new_thread(), new_thread()
    await driver.put(config(first), checkpoint({"who": "first"}, {"who": 1}), metadata(), {"who": 1})
    await driver.put(config(second), checkpoint({"who": "second"}, {"who": 1}), metadata(), {"who": 1})
    found = await driver.get_tuple(config(first))
    assert found is not None
    assert found.checkpoint["channel_values"] == {"who": "first"}
    assert len(await driver.list(config(second))) == 1


async def test_put_records_the_parent(driver: Driver) -> None:
    thread = new_thread()
    first, second = await put_chain(driver, thread, 2)
    found_first = await driver.get_tuple(first)
    found_second = await driver.get_tuple(second)
    assert found_first is not None
    assert found_second is not None
    assert found_first.parent_config is None
    assert found_second.parent_config == {
        "configurable": {
            "thread_id": thread,
            "checkpoint_ns": "",
            "checkpoint_id": first["configurable"]["checkpoint_id"],
        }
    }


async def test_a_later_checkpoint_with_only_some_channels_updated(driver: Driver) -> None:
    thread = new_thread()
    first = await driver.put(
        config(thread), checkpoint({"a": "v1", "b": "v2"}, {"a": 1, "b": 1}), metadata(), {"a": 1, "b": 1}
    )
    second = await driver.put(first, checkpoint({"a": "v1b", "b": "v2"}, {"a": 2, "b": 1}), metadata(step=1), {"a": 2})
    found = await driver.get_tuple(second)
    assert found is not None
    assert found.checkpoint["channel_values"] == {"a": "v1b", "b": "v2"}
    earlier = await driver.get_tuple(first)
    assert earlier is not None
    assert earlier.checkpoint["channel_values"] == {"a": "v1", "b": "v2"}


async def test_a_channel_added_later_and_one_removed(driver: Driver) -> None:
    thread = new_thread()
    first = await driver.put(
        config(thread), checkpoint({"a": 1, "b": 2}, {"a": 1, "b": 1}), metadata(), {"a": 1, "b": 1}
    )
    second = await driver.put(first, checkpoint({"a": 1, "c": 3}, {"a": 1, "c": 1}), metadata(step=1), {"c": 1})
    found = await driver.get_tuple(second)
    assert found is not None
    assert found.checkpoint["channel_values"] == {"a": 1, "c": 3}


async def test_putting_the_same_checkpoint_id_again_replaces_it(driver: Driver) -> None:
    thread = new_thread()
    made = checkpoint({"a": 1}, {"a": 1})
    await driver.put(config(thread), made, metadata(step=0), {"a": 1})
    again = {**made, "channel_values": {"a": 2}, "channel_versions": {"a": 2}}
    await driver.put(config(thread), again, metadata(step=5), {"a": 2})  # type: ignore[arg-type]
    found = await driver.list(config(thread))
    assert len(found) == 1
    assert found[0].checkpoint["channel_values"] == {"a": 2}
    assert found[0].metadata["step"] == 5


# --- put_writes --------------------------------------------------------------------------------------------


async def test_put_writes_are_pending_writes_of_the_checkpoint(driver: Driver) -> None:
    stored = await driver.put(config(new_thread()), checkpoint(), metadata(), {})
    await driver.put_writes(stored, [("a", 1), ("b", {"x": [2]}), ("msgs", [HumanMessage("hi", id="1")])], "task-1")
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.pending_writes == [
        ("task-1", "a", 1),
        ("task-1", "b", {"x": [2]}),
        ("task-1", "msgs", [HumanMessage("hi", id="1")]),
    ]


async def test_writes_of_several_tasks_in_task_path_then_task_id_order(driver: Driver) -> None:
    stored = await driver.put(config(new_thread()), checkpoint(), metadata(), {})
    await driver.put_writes(stored, [("c", "late")], "task-b", "~__pregel_pull, z")
    await driver.put_writes(stored, [("c", "early")], "task-z", "~__pregel_pull, a")
    await driver.put_writes(stored, [("c", "b1"), ("d", "b2")], "task-a", "~__pregel_pull, m")
    await driver.put_writes(stored, [("c", "no path")], "task-y")
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.pending_writes == [
        ("task-y", "c", "no path"),
        ("task-z", "c", "early"),
        ("task-a", "c", "b1"),
        ("task-a", "d", "b2"),
        ("task-b", "c", "late"),
    ]


# --- put_step ----------------------------------------------------------------------------------------------


async def test_put_step_stores_the_writes_on_the_parent_and_the_child_checkpoint(driver: Driver) -> None:
    thread_id = new_thread()
    parent = await driver.put(config(thread_id), checkpoint({"a": 0}), metadata("input", -1), {"a": "1"})
    child = checkpoint({"a": 2}, {"a": "2"})
    writes: list[tuple[str, list[tuple[str, Any]]]] = [("task-1", [("a", 1), ("b", [2])]), ("task-2", [("a", 2)])]
    stored = await driver.put_step(parent, child, metadata("loop", 0), {"a": "2"}, writes)
    assert stored == config(thread_id, "", child["id"])
    before = await driver.get_tuple(parent)
    assert before is not None
    assert before.pending_writes == [("task-1", "a", 1), ("task-1", "b", [2]), ("task-2", "a", 2)]
    after = await driver.get_tuple(config(thread_id))
    assert after is not None
    assert after.checkpoint["channel_values"] == {"a": 2}
    assert after.parent_config == parent
    assert after.pending_writes == []


async def test_put_step_without_writes_is_put(driver: Driver) -> None:
    thread_id = new_thread()
    made = checkpoint({"a": 1})
    stored = await driver.put_step(config(thread_id), made, metadata(), {}, [])
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.checkpoint["id"] == made["id"]


async def test_put_step_with_a_value_the_serializer_cannot_store_raises(driver: Driver) -> None:
    thread_id = new_thread()
    parent = await driver.put(config(thread_id), checkpoint(), metadata("input", -1), {})
    child = checkpoint({"a": 1})
    with pytest.raises(CheckpointSerializationError, match=r"Opaque"):
        await driver.put_step(parent, child, metadata(), {}, [("task-1", [("a", Opaque())])])
    newest = await driver.get_tuple(config(thread_id))
    assert newest is not None
    if driver.kind.startswith(("sqlite", "postgres")):  # one transaction: nothing of the step is stored
        assert newest.config == parent
        assert newest.pending_writes == []


async def test_put_writes_again_does_not_duplicate_ordinary_writes(driver: Driver) -> None:
    stored = await driver.put(config(new_thread()), checkpoint(), metadata(), {})
    await driver.put_writes(stored, [("a", 1), ("b", 2)], "task-1")
    await driver.put_writes(stored, [("a", 10), ("b", 20)], "task-1")
    found = await driver.get_tuple(stored)
    assert found is not None
    assert found.pending_writes == [("task-1", "a", 1), ("task-1", "b", 2)]


async def test_special_channel_writes_are_replaced(driver: Driver) -> None:
    stored = await driver.put(config(new_thread()), checkpoint(), metadata(), {})
    await driver.put_writes(stored, [(ERROR, "first failure")], "task-1")
    await driver.put_writes(stored, [(ERROR, "second failure")], "task-1")
    await driver.put_writes(stored, [(INTERRUPT, [{"value": "ask", "id": "i1"}])], "task-2")
    found = await driver.get_tuple(stored)
    assert found is not None
    assert sorted(found.pending_writes or []) == [
        ("task-1", ERROR, "second failure"),
        ("task-2", INTERRUPT, [{"value": "ask", "id": "i1"}]),
    ]


async def test_writes_belong_to_their_namespace(driver: Driver) -> None:
    thread = new_thread()
    root = await driver.put(config(thread), checkpoint(), metadata(), {})
    child = await driver.put(config(thread, "child:1"), checkpoint(), metadata(), {})
    await driver.put_writes(root, [("a", "root")], "t-root")
    await driver.put_writes(child, [("a", "child")], "t-child")
    found_root = await driver.get_tuple(root)
    found_child = await driver.get_tuple(child)
    assert found_root is not None
    assert found_child is not None
    assert found_root.pending_writes == [("t-root", "a", "root")]
    assert found_child.pending_writes == [("t-child", "a", "child")]


async def test_a_new_checkpoint_starts_without_pending_writes(driver: Driver) -> None:
    thread = new_thread()
    first = await driver.put(config(thread), checkpoint(), metadata(), {})
    await driver.put_writes(first, [("a", 1)], "task-1")
    second = await driver.put(first, checkpoint(), metadata(step=1), {})
    found = await driver.get_tuple(second)
    assert found is not None
    assert found.pending_writes == []
    earlier = await driver.get_tuple(first)
    assert earlier is not None
    assert earlier.pending_writes == [("task-1", "a", 1)]


# --- staged writes (the SQL savers) -------------------------------------------------------------------------


async def test_staged_saves_are_stored_in_order_in_one_call(driver: Driver) -> None:
    saver = driver.saver
    if not saver.stages_writes:
        with pytest.raises(NotImplementedError):
            saver.stage_writes(config(new_thread(), "", "1"), [("a", 1)], "task-1")
        return
    thread_id = new_thread()
    first, second, third = checkpoint({"a": 1}), checkpoint({"a": 2}), checkpoint({"a": 3})
    one, at_first = saver.stage_step(config(thread_id), first, metadata("input", -1), {}, [])
    assert at_first == config(thread_id, "", first["id"])
    staged = [one, saver.stage_writes(at_first, [("a", "kept"), (ERROR, "replaced")], "task-1")]
    # the same rows again in the same call: an ordinary write is kept as first stored, a special one replaced
    staged.append(saver.stage_writes(at_first, [("a", "ignored"), (ERROR, "last")], "task-1"))
    two, at_second = saver.stage_step(at_first, second, metadata("loop", 0), {}, [("task-2", [("a", 2)])])
    three, at_third = saver.stage_step(at_second, third, metadata("loop", 1), {}, [("task-3", [("a", 3)])])
    await saver.awrite_staged([*staged, two, three])
    found = await driver.get_tuple(at_first)
    assert found is not None
    assert found.pending_writes == [("task-1", ERROR, "last"), ("task-1", "a", "kept"), ("task-2", "a", 2)]
    newest = await driver.get_tuple(config(thread_id))
    assert newest is not None
    assert newest.config == at_third
    assert newest.parent_config == at_second
    assert newest.checkpoint["channel_values"] == {"a": 3}
    history = [t.config for t in await driver.list(config(thread_id))]
    assert history == [at_third, at_second, at_first]


async def test_staging_a_value_the_serializer_cannot_store_raises(driver: Driver) -> None:
    saver = driver.saver
    if not saver.stages_writes:
        return
    stored = await driver.put(config(new_thread()), checkpoint(), metadata(), {})
    with pytest.raises(CheckpointSerializationError, match=r"Opaque"):
        saver.stage_writes(stored, [("a", Opaque())], "task-1")
    with pytest.raises(CheckpointSerializationError, match=r"Opaque"):
        saver.stage_step(stored, checkpoint({"a": Opaque()}), metadata(), {}, [])


# --- get_tuple ---------------------------------------------------------------------------------------------


async def test_get_tuple_of_an_unknown_thread_is_none(driver: Driver) -> None:
    assert await driver.get_tuple(config(new_thread())) is None
    assert await driver.get(config(new_thread())) is None


async def test_get_tuple_without_an_id_is_the_newest(driver: Driver) -> None:
    thread = new_thread()
    stored = await put_chain(driver, thread, 3)
    found = await driver.get_tuple(config(thread))
    assert found is not None
    assert found.config == stored[-1]
    assert found.checkpoint["channel_values"] == {"step": 1}


async def test_get_tuple_with_an_id_is_that_checkpoint(driver: Driver) -> None:
    thread = new_thread()
    stored = await put_chain(driver, thread, 3)
    found = await driver.get_tuple(stored[1])
    assert found is not None
    assert found.config == stored[1]
    assert found.checkpoint["channel_values"] == {"step": 0}


async def test_get_tuple_of_an_unknown_checkpoint_id_is_none(driver: Driver) -> None:
    thread = new_thread()
    await put_chain(driver, thread, 1)
    assert await driver.get_tuple(config(thread, checkpoint_id=str(uuid6()))) is None


async def test_get_tuple_has_every_checkpoint_key(driver: Driver) -> None:
    thread = new_thread()
    (stored,) = await put_chain(driver, thread, 1)
    found = await driver.get_tuple(stored)
    assert found is not None
    assert set(found.config["configurable"]) == {"thread_id", "checkpoint_ns", "checkpoint_id"}
    assert {"v", "id", "ts", "channel_values", "channel_versions", "versions_seen", "updated_channels"} <= set(
        found.checkpoint
    )
    assert found.metadata == metadata("input", -1)


async def test_get_tuple_keeps_to_its_namespace(driver: Driver) -> None:
    thread = new_thread()
    await put_chain(driver, thread, 2, "")
    child = await put_chain(driver, thread, 1, "child:x")
    found = await driver.get_tuple(config(thread, "child:x"))
    assert found is not None
    assert found.config == child[0]
    assert await driver.get_tuple(config(thread, "other:y")) is None


# --- list --------------------------------------------------------------------------------------------------


async def test_list_gives_a_threads_checkpoints_newest_first(driver: Driver) -> None:
    thread = new_thread()
    stored = await put_chain(driver, thread, 4)
    await put_chain(driver, new_thread(), 2)
    found = await driver.list(config(thread))
    assert ids(found) == [each["configurable"]["checkpoint_id"] for each in reversed(stored)]
    assert [item.metadata["step"] for item in found] == [2, 1, 0, -1]


async def test_list_without_a_config_gives_every_thread(driver: Driver) -> None:
    first, second = new_thread(), new_thread()
    await put_chain(driver, first, 2)
    await put_chain(driver, second, 1)
    threads = [item.config["configurable"]["thread_id"] for item in await driver.list(None)]
    assert threads.count(first) == 2
    assert threads.count(second) == 1


async def test_list_by_namespace(driver: Driver) -> None:
    thread = new_thread()
    await put_chain(driver, thread, 2, "")
    child = await put_chain(driver, thread, 1, "child:x")
    assert ids(await driver.list(config(thread, "child:x"))) == [child[0]["configurable"]["checkpoint_id"]]
    assert len(await driver.list(config(thread, ""))) == 2
    assert len(await driver.list({"configurable": {"thread_id": thread}})) == 3


async def test_list_with_a_checkpoint_id_gives_that_one(driver: Driver) -> None:
    thread = new_thread()
    stored = await put_chain(driver, thread, 3)
    assert ids(await driver.list(stored[1])) == [stored[1]["configurable"]["checkpoint_id"]]


@pytest.mark.parametrize(
    ("filter", "steps"),
    [
        ({"source": "input"}, [-1]),
        ({"step": 1}, [1]),
        ({"source": "loop", "step": 0}, [0]),
        ({"source": "input", "step": 1}, []),
        ({"missing": "key"}, []),
    ],
)
async def test_list_filters_on_metadata(driver: Driver, filter: dict[str, Any], steps: list[int]) -> None:
    thread = new_thread()
    await put_chain(driver, thread, 3)
    found = await driver.list(config(thread), filter=filter)
    assert [item.metadata["step"] for item in found] == steps


async def test_list_filters_on_custom_metadata_keys(driver: Driver) -> None:
    thread = new_thread()
    first = await driver.put(config(thread), checkpoint(), metadata(user="ann", score=1), {})
    await driver.put(first, checkpoint(), metadata(step=1, user="bob", score=1), {})
    found = await driver.list(config(thread), filter={"user": "ann", "score": 1})
    assert ids(found) == [first["configurable"]["checkpoint_id"]]


async def test_list_before_and_limit(driver: Driver) -> None:
    thread = new_thread()
    stored = await put_chain(driver, thread, 5)
    newest_first = [each["configurable"]["checkpoint_id"] for each in reversed(stored)]
    assert ids(await driver.list(config(thread), before=stored[2])) == newest_first[3:]
    assert ids(await driver.list(config(thread), limit=2)) == newest_first[:2]
    assert ids(await driver.list(config(thread), limit=1)) == newest_first[:1]
    assert ids(await driver.list(config(thread), before=stored[3], limit=2)) == newest_first[2:4]
    assert ids(await driver.list(config(thread), filter={"source": "loop"}, limit=2)) == newest_first[:2]
    assert await driver.list(config(thread), limit=0) == []
    assert await driver.list(config(thread), limit=-1) == []


async def test_list_of_nothing_is_empty(driver: Driver) -> None:
    assert await driver.list(config(new_thread())) == []


async def test_listed_tuples_carry_their_pending_writes_and_parent(driver: Driver) -> None:
    thread = new_thread()
    first, second = await put_chain(driver, thread, 2)
    await driver.put_writes(second, [("a", "w")], "task-1")
    newest, oldest = await driver.list(config(thread))
    assert newest.pending_writes == [("task-1", "a", "w")]
    assert oldest.pending_writes == []
    assert newest.parent_config == first
    assert oldest.parent_config is None
    assert newest == await driver.get_tuple(second)


# --- delete_thread -----------------------------------------------------------------------------------------


async def test_delete_thread_removes_its_checkpoints_and_writes_in_every_namespace(driver: Driver) -> None:
    thread, other = new_thread(), new_thread()
    (root,) = await put_chain(driver, thread, 1)
    await put_chain(driver, thread, 1, "child:1")
    await driver.put_writes(root, [("a", 1)], "task-1")
    (kept,) = await put_chain(driver, other, 1)
    await driver.delete_thread(thread)
    assert await driver.get_tuple(config(thread)) is None
    assert await driver.get_tuple(config(thread, "child:1")) is None
    assert await driver.list(config(thread)) == []
    assert (await driver.get_tuple(kept)) is not None
    # A checkpoint put again with the deleted one's id starts without the deleted writes.
    again = checkpoint()
    again["id"] = root["configurable"]["checkpoint_id"]
    await driver.put(config(thread), again, metadata(), {})
    found = await driver.get_tuple(root)
    assert found is not None
    assert found.pending_writes == []


async def test_delete_of_an_unknown_thread_does_nothing(driver: Driver) -> None:
    await driver.delete_thread(new_thread())


# --- ids, versions ------------------------------------------------------------------------------------------


async def test_checkpoint_ids_sort_in_the_order_they_were_made(driver: Driver) -> None:
    made = [str(uuid6(clock_seq=step)) for step in range(50)]
    assert made == sorted(made)
    assert len(set(made)) == 50
    assert all(uuid.UUID(each).version == 6 for each in made)


async def test_next_versions_increase(driver: Driver) -> None:
    version = None
    seen = []
    for _ in range(12):
        version = driver.saver.get_next_version(version, None)
        seen.append(version)
    assert seen == sorted(seen)
    assert len(set(seen)) == 12


# --- bad input, damaged rows --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{}, {"configurable": {}}, {"configurable": {"checkpoint_ns": ""}}, {"x": 1}])
async def test_a_config_without_a_thread_id_is_refused(driver: Driver, bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match="thread_id"):
        await driver.put(bad, checkpoint(), metadata(), {})
    with pytest.raises(InvalidArgumentError, match="thread_id"):
        await driver.get_tuple(bad)


async def test_put_writes_needs_a_checkpoint_id(driver: Driver) -> None:
    with pytest.raises(InvalidArgumentError, match="checkpoint_id"):
        await driver.put_writes(config(new_thread()), [("a", 1)], "task-1")


class Opaque:
    """A class the serializer does not know how to store."""


async def test_a_value_that_cannot_be_stored_is_refused_by_type_and_nothing_is_stored(driver: Driver) -> None:
    thread = new_thread()
    with pytest.raises(CheckpointSerializationError, match=r"Opaque") as caught:
        await driver.put(config(thread), checkpoint({"a": [Opaque()]}, {"a": 1}), metadata(), {"a": 1})
    assert caught.value.type_name == f"{__name__}.Opaque"
    assert await driver.get_tuple(config(thread)) is None
    stored = await driver.put(config(thread), checkpoint(), metadata(), {})
    with pytest.raises(CheckpointSerializationError, match=r"Opaque"):
        await driver.put_writes(stored, [("a", Opaque())], "task-1")


async def test_a_damaged_checkpoint_raises_naming_thread_and_checkpoint(driver: Driver) -> None:
    thread = new_thread()
    first, second = await put_chain(driver, thread, 2)
    damaged = second["configurable"]["checkpoint_id"]
    await driver.damage(thread, damaged)
    for read in (driver.get_tuple(config(thread)), driver.get_tuple(second), driver.list(config(thread))):
        with pytest.raises(CheckpointReadError) as caught:
            await read
        assert caught.value.thread_id == thread
        assert caught.value.checkpoint_id == damaged
        assert thread in str(caught.value)
        assert damaged in str(caught.value)
    found = await driver.get_tuple(first)
    assert found is not None
