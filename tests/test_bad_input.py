"""Bad input at the bus's boundary: each mistake is a clear exception whose message names what is allowed."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from streamflow.channel import OVERFLOW_POLICIES, Channel
from streamflow.errors import (
    ChannelClosedError,
    InvalidArgumentError,
    StreamflowError,
    UnknownEventKindError,
)
from streamflow.events import KINDS, CustomData, Event, from_dict, kind_of
from streamflow.filters import EventFilter

pytestmark = pytest.mark.anyio


def assert_names_every_kind(error: BaseException) -> None:
    message = str(error)
    for kind in KINDS:
        assert kind in message, f"{kind!r} missing from {message!r}"


@pytest.mark.parametrize("kinds", [["custom_data", "no_such_kind"], ["CustomData"], [Event], [dict]])
async def test_unknown_kind_in_subscribe(kinds: list[Any]) -> None:
    channel = Channel()
    with pytest.raises(UnknownEventKindError) as info:
        channel.subscribe(kinds=kinds)
    assert isinstance(info.value, InvalidArgumentError)
    assert isinstance(info.value, ValueError)
    assert "unknown event kind" in str(info.value)
    assert_names_every_kind(info.value)
    assert channel.statistics().subscribers == 0


@pytest.mark.parametrize("data", [{"type": "no_such_kind"}, {"type": "Event"}, {"data": 1}, {"type": None}])
def test_unknown_kind_in_from_dict(data: dict[str, Any]) -> None:
    with pytest.raises(UnknownEventKindError) as info:
        from_dict(data)
    assert_names_every_kind(info.value)


def test_field_foreign_to_the_kind_in_from_dict() -> None:
    with pytest.raises(TypeError, match="no_such_field"):
        from_dict({"type": "custom_data", "no_such_field": 1})


def test_unknown_kind_in_kind_of_and_filters() -> None:
    with pytest.raises(UnknownEventKindError):
        kind_of("nope")
    with pytest.raises(UnknownEventKindError):
        EventFilter(kinds=["nope"])


@pytest.mark.parametrize("policy", ["drop_newest", "BLOCK", "", None])
async def test_unknown_overflow_policy(policy: Any) -> None:
    channel = Channel()
    with pytest.raises(InvalidArgumentError) as info:
        channel.subscribe(overflow=policy)
    message = str(info.value)
    assert "overflow policy" in message
    for allowed in OVERFLOW_POLICIES:
        assert repr(allowed) in message
    assert channel.statistics().subscribers == 0


@pytest.mark.parametrize("size", [0, -1, -1024, 1.5, True, "8", None])
async def test_buffer_size_must_be_a_positive_int(size: Any) -> None:
    channel = Channel()
    with pytest.raises(InvalidArgumentError, match="buffer_size must be a positive number of events"):
        channel.subscribe(buffer_size=size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeout": 1.0, "overflow": "drop_oldest"}, "'block' policy only"),
        ({"timeout": 1.0, "overflow": "error"}, "'block' policy only"),
        ({"timeout": -0.5}, "timeout must be >= 0 seconds"),
        ({"after_seq": -1}, "after_seq must be a seq >= 0"),
        ({"after_seq": True}, "after_seq must be a seq >= 0"),
        ({"after_seq": 4}, "published up to seq 0"),
        ({"ns_prefix": "root"}, "tuple of namespace parts"),
        ({"event_filter": EventFilter(), "kinds": ["custom_data"]}, "either event_filter or the keyword criteria"),
    ],
)
async def test_other_subscribe_arguments(kwargs: dict[str, Any], match: str) -> None:
    channel = Channel()
    with pytest.raises(InvalidArgumentError, match=match):
        channel.subscribe(**kwargs)


def test_negative_replay_size() -> None:
    with pytest.raises(InvalidArgumentError, match="replay_size must be >= 0"):
        Channel(replay_size=-1)


async def test_publish_after_close() -> None:
    channel = Channel()
    channel.close()
    with pytest.raises(ChannelClosedError, match="closed") as info:
        await channel.publish(CustomData(data=1))
    assert isinstance(info.value, anyio.ClosedResourceError)
    assert isinstance(info.value, StreamflowError)
    with pytest.raises(ChannelClosedError, match="cannot publish CustomData"):
        channel.publish_nowait(CustomData(data=2))
    assert channel.last_seq == 0


async def test_subscribe_on_a_closed_channel_without_after_seq() -> None:
    channel = Channel()
    channel.publish_nowait(CustomData(data=1))
    channel.close()
    with pytest.raises(ChannelClosedError, match="closed channel") as info:
        channel.subscribe()
    assert "after_seq" in str(info.value)
    async with channel.subscribe(after_seq=0) as retained:
        first = retained.receive_nowait()
        assert isinstance(first, Event) and first.seq == 1
