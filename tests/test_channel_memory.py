"""A finished channel leaves nothing behind: memory stays flat over many short runs."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from streamflow.channel import Channel
from streamflow.events import CustomData, RunFinished, StateValues
from tests.helpers import take_all

pytestmark = pytest.mark.anyio

WARMUP = 1_000
TOTAL = 10_000
ALLOWED_GROWTH = 256 * 1024  # bytes, between the warm-up and the end: well under 100 bytes per run


async def one_run(i: int) -> None:
    channel = Channel(f"run-{i}")
    everything = channel.subscribe()
    custom = channel.subscribe(kinds=["custom_data"], overflow="drop_oldest", buffer_size=2)
    await channel.publish(CustomData(node="writer", data=i))
    await channel.publish(StateValues(values={"i": i}))
    await channel.publish(CustomData(node="writer", data=-i))
    channel.close(RunFinished(output=i))
    assert len(await take_all(everything)) == 4
    assert len(await take_all(custom)) == 3


async def test_memory_is_flat_over_ten_thousand_channels() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(WARMUP):
            await one_run(i)
        gc.collect()
        after_warmup, _ = tracemalloc.get_traced_memory()
        for i in range(WARMUP, TOTAL):
            await one_run(i)
        gc.collect()
        at_end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert at_end - after_warmup < ALLOWED_GROWTH, f"grew by {at_end - after_warmup} bytes over {TOTAL - WARMUP} runs"
