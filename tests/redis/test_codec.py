"""The wire form: every event comes back equal and of the same types; what it cannot carry is refused."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given

from streamflow.errors import NotSerializableError
from streamflow.events import CustomData, Event, StateValues, TaskFinished
from streamflow.messages import AIMessageChunk
from streamflow.redis.codec import check_payload, decode_event, decode_value, encode_event, encode_value
from tests.strategies import any_text, command_outputs, events, wire_payloads


def shape(value: Any) -> Any:
    """``value`` with the exact type of every part spelled out (so ``1 == True`` and ``(1,) == [1]``-like
    confusions cannot pass)."""
    if isinstance(value, dict):
        return ("dict", sorted(((repr(shape(k)), shape(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape(v) for v in value])
    if attrs.has(type(value)):
        return (type(value).__qualname__, [(a.name, shape(getattr(value, a.name))) for a in attrs.fields(type(value))])
    return (type(value).__name__, value)


@given(events(wire_payloads))
def test_every_event_survives_the_wire_with_its_types(event: Event) -> None:
    back = decode_event(encode_event(event))
    assert type(back) is type(event)
    assert back == event
    assert shape(attrs.asdict(back, recurse=False)) == shape(attrs.asdict(event, recurse=False))


@given(command_outputs(wire_payloads), wire_payloads)
def test_a_task_output_of_commands_survives_the_wire(output: Any, result: Any) -> None:
    event = TaskFinished(node="n", task_id="t", result=result, output=output)
    back = decode_event(encode_event(event))
    assert isinstance(back, TaskFinished)
    assert back == event
    assert shape(back.output) == shape(event.output)


@given(wire_payloads)
def test_check_payload_accepts_what_the_wire_carries(value: Any) -> None:
    check_payload(value)


@pytest.mark.parametrize(
    ("data", "type_name", "where"),
    [
        (object(), "builtins.object", "custom data is"),
        ({"rows": [1, 2, {3, 4}]}, "builtins.set", "custom data['rows'][2]"),
        ((1, b"raw"), "builtins.bytes", "custom data[1]"),
        ({"when": 1j}, "builtins.complex", "custom data['when']"),
    ],
)
def test_check_payload_names_the_type_and_where_it_is(data: Any, type_name: str, where: str) -> None:
    with pytest.raises(NotSerializableError) as info:
        check_payload(data)
    assert type_name in str(info.value)
    assert where in str(info.value)
    assert isinstance(info.value, TypeError)


def test_an_event_with_a_value_the_wire_cannot_carry_is_refused_naming_kind_and_field() -> None:
    with pytest.raises(NotSerializableError, match=r"the state_values event\['values'\]\['x'\].*builtins.frozenset"):
        encode_event(StateValues(values={"x": frozenset()}))


def test_messages_chunks_come_back_as_message_chunks() -> None:
    event = CustomData(data=AIMessageChunk(content="hi", tool_call_chunks=[{"name": "add", "args": "{", "index": 0}]))
    back = decode_event(encode_event(event))
    assert isinstance(back, CustomData)
    assert isinstance(back.data, AIMessageChunk) and back.data == event.data


@given(any_text)
def test_text_with_lone_surrogates_crosses_the_wire_unchanged(text: str) -> None:
    event = CustomData(run_id="r", seq=1, data={text: [text, ("tuple", text)]})
    wire = encode_event(event)
    wire.decode("utf-8")  # valid UTF-8: lone surrogates travel as \uXXXX escapes
    assert decode_event(wire) == event
    assert decode_value(encode_value({"input": text})) == {"input": text}


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_deep_nesting_crosses_the_wire_up_to_a_limit_and_is_refused_beyond_it() -> None:
    assert decode_value(encode_value(nested(200))) == nested(200)  # far deeper than the app lets a body nest
    for too_deep in (5_000, 100_000):
        with pytest.raises(NotSerializableError, match="nested deeper"):
            encode_value(nested(too_deep), "the input")
        with pytest.raises(NotSerializableError, match="nested deeper"):
            encode_event(CustomData(run_id="r", seq=1, data=nested(too_deep)))
        with pytest.raises(NotSerializableError, match="nested deeper"):
            check_payload(nested(too_deep))
