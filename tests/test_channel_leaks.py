"""Resources close loudly: a subscription left open (neither closed nor read to its end) and a run still running
warn with ``ResourceWarning`` when garbage-collected; one closed, or read to its end, does not."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

import anyio
import pytest

from streamflow.channel import Channel, Subscription
from streamflow.errors import SubscriberOverflowError
from streamflow.events import CustomData
from streamflow.graph import START, StateGraph, StreamWriter

pytestmark = pytest.mark.anyio


def collected_warnings(drop: Callable[[], None]) -> list[str]:
    """Call ``drop`` (which lets go of the last references), collect garbage, and return the messages of the
    ResourceWarnings raised meanwhile."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drop()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


async def test_a_subscription_left_open_warns_when_collected() -> None:
    channel = Channel("left-open")
    subs = [channel.subscribe()]
    channel.publish_nowait(CustomData(data=1))
    channel.close()  # the channel lets go of it; it still holds one unread event
    with pytest.warns(ResourceWarning, match=r"channel 'left-open'.*left open.*1 events unread"):
        subs.clear()
        gc.collect()


async def test_a_subscription_on_a_channel_nobody_holds_warns_when_both_are_collected() -> None:
    holder = [Channel("forgotten")]
    holder[0].subscribe()
    with pytest.warns(ResourceWarning, match="'forgotten'.*left open"):
        holder.clear()  # a cycle: the channel holds the subscription, which knows its channel
        gc.collect()


async def read_to_the_end(sub: Subscription) -> None:
    async for _ in sub:
        pass


async def close_it(sub: Subscription) -> None:
    sub.close()


async def aclose_it(sub: Subscription) -> None:
    await sub.aclose()


async def leave_its_block(sub: Subscription) -> None:
    async with sub:
        pass


@pytest.mark.parametrize("finish", [read_to_the_end, close_it, aclose_it, leave_its_block], ids=lambda f: f.__name__)
async def test_a_subscription_closed_or_read_to_its_end_does_not_warn(
    finish: Callable[[Subscription], Awaitable[None]],
) -> None:
    channel = Channel()
    subs = [channel.subscribe()]
    channel.publish_nowait(CustomData(data=1))
    channel.close()
    await finish(subs[0])
    assert collected_warnings(subs.clear) == []


async def test_a_disconnected_subscription_whose_consumer_saw_the_error_does_not_warn() -> None:
    channel = Channel()
    subs = [channel.subscribe(overflow="error", buffer_size=1)]
    channel.publish_nowait(CustomData(data=1))
    channel.publish_nowait(CustomData(data=2))
    with pytest.raises(SubscriberOverflowError):
        subs[0].receive_nowait()
    assert collected_warnings(subs.clear) == []


class State(TypedDict):
    n: int


async def write_forever(state: State, writer: StreamWriter) -> dict[str, Any]:
    for i in range(100):
        writer(i)
    return {"n": 100}


async def test_a_run_collected_while_still_running_warns() -> None:
    """The run waits forever for a ``block`` subscriber nobody reads, and then nothing refers to either: what
    an abandoned run looks like. Both warn when the garbage collector finds them."""
    graph = StateGraph(State).add_node("write", write_forever).add_edge(START, "write").compile()
    holder = [graph.start({"n": 0})]
    holder[0].subscribe(overflow="block", buffer_size=1)
    await anyio.wait_all_tasks_blocked()
    assert not holder[0].done
    run_id = holder[0].run_id
    messages = collected_warnings(holder.clear)
    assert any(f"run {run_id!r} was garbage-collected while still running" in m for m in messages), messages
    assert any("Subscription" in m and "left open" in m for m in messages), messages


async def test_a_finished_run_does_not_warn() -> None:
    graph = StateGraph(State).add_node("write", write_forever).add_edge(START, "write").compile()
    holder = [graph.start({"n": 0})]
    assert await holder[0].result() == {"n": 100}
    assert collected_warnings(holder.clear) == []
