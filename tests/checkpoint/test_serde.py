"""JsonPlusSerializer: every kind of value it stores comes back equal and of the same types, all the way down
(property tests), and what it cannot store or read is refused clearly."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import pickle
import uuid
import zoneinfo
from typing import Any

import attrs
import ormsgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamflow.checkpoint.serde.base import SerializerProtocol, maybe_add_typed_methods
from streamflow.checkpoint.serde.jsonplus import JsonPlusSerializer
from streamflow.errors import CheckpointSerializationError, NotSerializableError
from streamflow.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage

SERDE = JsonPlusSerializer()


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Mode(enum.StrEnum):
    FAST = "fast"
    SLOW = "slow"


@dataclasses.dataclass
class Point:
    x: int
    y: Any = None
    label: str = dataclasses.field(default="", init=False)


@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str
    tags: tuple[str, ...] = ()


@attrs.define
class Record:
    key: str
    _secret: int = 0


class Tag(str):
    """A ``str`` subclass."""


class Opaque:
    """A class the serializer does not know how to store."""


def shape(value: Any) -> Any:
    """The value's types, all the way down (what equality alone does not check); zones of times included."""
    if isinstance(value, dict):
        return (type(value), frozenset((shape(k), shape(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value), tuple(shape(v) for v in value))
    if isinstance(value, set | frozenset):
        return (type(value), frozenset(shape(v) for v in value))
    if isinstance(value, dt.datetime | dt.time):
        return (type(value), repr(value.tzinfo))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value), shape(dataclasses.asdict(value)))
    if attrs.has(type(value)):
        return (type(value), shape(attrs.asdict(value, recurse=False)))
    return type(value)


def round_trip(value: Any, serde: SerializerProtocol = SERDE) -> Any:
    return serde.loads_typed(serde.dumps_typed(value))


def assert_round_trips(value: Any) -> None:
    back = round_trip(value)
    assert back == value
    assert shape(back) == shape(value)


ZONES = st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=-5)), zoneinfo.ZoneInfo("Europe/Paris")])
HASHABLE_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**64, max_value=2**100) | st.integers(max_value=-(2**63) - 1, min_value=-(2**100)),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
    st.datetimes(timezones=ZONES),
    st.dates(),
    st.times(timezones=st.sampled_from([None, dt.UTC])),
    st.timedeltas(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(Color),
    st.sampled_from(Mode),
    st.builds(Tag, st.text()),
)
MESSAGES = st.one_of(
    st.builds(HumanMessage, st.text(), id=st.none() | st.text()),
    st.builds(SystemMessage, st.text()),
    st.builds(AIMessage, st.text(), id=st.text()),
    st.builds(ToolMessage, st.text(), tool_call_id=st.text()),
    st.builds(AIMessageChunk, st.text()),
    st.builds(
        lambda name, args: AIMessage("", tool_calls=[{"name": name, "args": args, "id": "c1", "type": "tool_call"}]),
        st.text(),
        st.dictionaries(st.text(), st.integers() | st.text()),
    ),
)
LEAVES = st.one_of(HASHABLE_LEAVES, MESSAGES)
KEYS = st.one_of(
    st.text(), st.integers(min_value=-(2**63), max_value=2**64 - 1), st.tuples(st.text(), st.integers(0, 9))
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(KEYS, children, max_size=4),
        st.sets(HASHABLE_LEAVES, max_size=4),
        st.frozensets(HASHABLE_LEAVES, max_size=4),
        st.builds(Point, children, children),
        st.builds(Frozen, st.text(), st.lists(st.text(), max_size=3).map(tuple)),
        st.builds(Record, st.text(), st.integers()),
    )


VALUES = st.recursive(LEAVES, _containers, max_leaves=20)


@settings(deadline=None)
@given(VALUES)
def test_every_storable_value_comes_back_equal_and_of_the_same_types(value: Any) -> None:
    assert_round_trips(value)


@settings(deadline=None)
@given(st.dictionaries(st.text(), VALUES, max_size=5))
def test_a_checkpoint_shaped_dict_of_channel_values_comes_back(values: dict[str, Any]) -> None:
    versions = dict.fromkeys(values, 1)
    checkpoint = {"v": 2, "id": str(uuid.uuid4()), "channel_values": values, "channel_versions": versions}
    assert_round_trips(checkpoint)


def test_fields_that_are_not_init_arguments_come_back() -> None:
    point = Point(1, [2])
    point.label = "origin"
    back = round_trip(point)
    assert back.label == "origin"
    assert back == point


def test_an_attrs_field_with_a_private_name_comes_back() -> None:
    assert round_trip(Record("k", 5)) == Record("k", 5)


def test_zone_of_a_datetime_comes_back_by_name() -> None:
    when = dt.datetime(2024, 3, 31, 1, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    back = round_trip(when)
    assert back.tzinfo == zoneinfo.ZoneInfo("Europe/Paris")
    assert back.utcoffset() == when.utcoffset()


def test_a_bytearray_keeps_its_type_at_the_top_and_is_bytes_inside_as_in_langgraph() -> None:
    assert type(round_trip(bytearray(b"ab"))) is bytearray
    assert round_trip({"a": bytearray(b"ab")}) == {"a": b"ab"}
    assert type(round_trip({"a": bytearray(b"ab")})["a"]) is bytes


def test_typed_forms_of_none_and_bytes() -> None:
    assert SERDE.dumps_typed(None) == ("null", b"")
    assert SERDE.dumps_typed(b"raw") == ("bytes", b"raw")
    assert SERDE.dumps_typed(bytearray(b"raw")) == ("bytearray", b"raw")
    assert SERDE.dumps_typed({"a": 1})[0] == "msgpack"
    assert SERDE.loads_typed(("json", json.dumps({"a": [1]}).encode())) == {"a": [1]}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (Opaque(), "tests.checkpoint.test_serde.Opaque"),
        ({"deep": [1, (2, {"x": Opaque()})]}, "tests.checkpoint.test_serde.Opaque"),
        (lambda: None, "builtins.function"),
        ({"gen": (i for i in range(2))}, "builtins.generator"),
        (Point(1, object()), "builtins.object"),
    ],
)
def test_a_value_it_cannot_store_is_refused_naming_its_type(value: Any, named: str) -> None:
    with pytest.raises(CheckpointSerializationError) as caught:
        SERDE.dumps_typed(value)
    assert caught.value.type_name == named
    assert named in str(caught.value)
    assert "dataclasses" in str(caught.value)  # the message says what it can store
    assert isinstance(caught.value, NotSerializableError)
    assert isinstance(caught.value, TypeError)


def test_pickle_fallback_stores_what_msgpack_cannot_when_asked() -> None:
    fallback = JsonPlusSerializer(pickle_fallback=True)
    stored = fallback.dumps_typed(Opaque)
    assert stored[0] == "pickle"
    assert fallback.loads_typed(stored) is Opaque
    with pytest.raises(ValueError, match="pickle_fallback=True"):
        SERDE.loads_typed(stored)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (("msgpack", b"\xc1"), "damaged"),
        (("yaml", b"a: 1"), "unknown serialization type 'yaml'"),
        (("msgpack", ormsgpack.packb(ormsgpack.Ext(99, b""))), "unknown MessagePack extension type 99"),
        (
            ("msgpack", ormsgpack.packb(ormsgpack.Ext(11, ormsgpack.packb(["no.such.module", "X", {}, {}])))),
            "no.such.module.X, which cannot be imported",
        ),
        (
            ("msgpack", ormsgpack.packb(ormsgpack.Ext(11, ormsgpack.packb(["pickle", "Pickler", {}, {}])))),
            "is not one any more",
        ),
        (
            ("msgpack", ormsgpack.packb(ormsgpack.Ext(10, ormsgpack.packb(["os", "system", "ls"])))),
            "not a class",
        ),
    ],
)
def test_bytes_it_did_not_write_are_refused(stored: tuple[str, bytes], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SERDE.loads_typed(stored)


class _Untyped:
    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


def test_a_serializer_with_only_dumps_and_loads_is_wrapped() -> None:
    wrapped = maybe_add_typed_methods(_Untyped())
    assert wrapped.dumps_typed([1])[0] == "list"
    assert round_trip({"a": (1, 2)}, wrapped) == {"a": (1, 2)}
    assert maybe_add_typed_methods(SERDE) is SERDE
