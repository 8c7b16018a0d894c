"""The event vocabulary: every kind has a lossless dict form and a JSON-safe wire form."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.events import KINDS, ChatModelToken, CustomData, Event, from_dict, kind_of
from tests.strategies import EVENT_STRATEGIES, any_payloads, events, events_of, json_payloads

ALL_KINDS = sorted(KINDS)


def test_strategies_cover_every_kind() -> None:
    assert set(EVENT_STRATEGIES) == set(KINDS)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_kind_tag_names_its_class(kind: str) -> None:
    cls = KINDS[kind]
    assert cls.kind == kind
    assert kind_of(kind) is cls
    assert kind_of(cls) is cls
    assert issubclass(cls, Event)


@pytest.mark.parametrize("kind", ALL_KINDS)
@settings(max_examples=25)
@given(data=st.data())
def test_dict_round_trip_every_kind(kind: str, data: st.DataObject) -> None:
    event = data.draw(events_of(kind, any_payloads))
    as_dict = event.to_dict()
    assert as_dict["type"] == kind
    assert set(as_dict) == {"type", *(a.name for a in attrs.fields(type(event)))}
    rebuilt = from_dict(as_dict)
    assert type(rebuilt) is type(event)
    assert rebuilt == event


@pytest.mark.parametrize("kind", ALL_KINDS)
@settings(max_examples=25)
@given(data=st.data())
def test_json_round_trip_every_kind(kind: str, data: st.DataObject) -> None:
    event = data.draw(events_of(kind, json_payloads))
    wire = json.dumps(event.to_dict())
    rebuilt = from_dict(json.loads(wire))
    assert type(rebuilt) is type(event)
    assert rebuilt == event


@settings(max_examples=50)
@given(event=events(json_payloads))
def test_dict_form_is_plain_json_types(event: Event) -> None:
    as_dict = event.to_dict()
    for name in event.tuple_fields:
        assert isinstance(as_dict[name], list)
        assert tuple(as_dict[name]) == getattr(event, name)
    assert type(as_dict["metadata"]) is dict
    rebuilt = from_dict(as_dict)
    for name in event.tuple_fields:
        assert isinstance(getattr(rebuilt, name), tuple)


@settings(max_examples=25)
@given(event=events(any_payloads))
def test_to_dict_does_not_alias_tuple_or_metadata_fields(event: Event) -> None:
    as_dict = event.to_dict()
    as_dict["tags"].append("mutated")
    as_dict["metadata"]["mutated"] = True
    assert "mutated" not in event.tags
    assert "mutated" not in event.metadata


def test_terminal_kinds_are_the_run_endings() -> None:
    assert {tag for tag, cls in KINDS.items() if cls.terminal} == {"run_finished", "run_failed", "run_cancelled"}


def test_unpublished_event_defaults() -> None:
    event = CustomData(data=1)
    assert (event.run_id, event.seq, event.ns, event.node, event.step, event.task_id, event.tags) == (
        "",
        0,
        (),
        None,
        None,
        None,
        (),
    )
    assert dict(event.metadata) == {}
    assert event.ts > 0


def test_custom_data_of_writer_sets_every_field_as_the_constructor_does() -> None:
    fast = CustomData.of_writer(("sub:1",), "node", 3, "task", ("t",), {"x": 1}, "call-1")
    slow = CustomData(
        ns=("sub:1",),
        node="node",
        step=3,
        task_id="task",
        tags=("t",),
        data={"x": 1},
        tool_call_id="call-1",
        ts=fast.ts,
    )
    assert fast == slow
    assert {a.name: getattr(fast, a.name) for a in attrs.fields(CustomData)} == attrs.asdict(slow, recurse=False)


def test_chat_model_token_of_call_sets_every_field_as_the_constructor_does() -> None:
    fast = ChatModelToken.of_call(("sub:1",), "node", 3, "task", ("t",), "call-1", {"chunk": 1})
    slow = ChatModelToken(
        ns=("sub:1",),
        node="node",
        step=3,
        task_id="task",
        tags=("t",),
        call_id="call-1",
        chunk={"chunk": 1},
        ts=fast.ts,
    )
    assert fast == slow
    assert {a.name: getattr(fast, a.name) for a in attrs.fields(ChatModelToken)} == attrs.asdict(slow, recurse=False)
