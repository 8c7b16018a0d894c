"""Checkpoint and task ids as strings, made without building ``UUID`` objects: the same strings ``uuid``
gives."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from streamflow.checkpoint.id import uuid6, uuid6_str
from streamflow.graph.thread_config import _TASK_IDS, task_id_for


@given(st.integers(min_value=-(2**20), max_value=2**20))
def test_uuid6_str_is_a_version_6_uuid_keeping_the_low_14_bits_of_the_step(step: int) -> None:
    made = uuid6_str(step)
    parsed = uuid.UUID(made)
    assert str(parsed) == made
    assert parsed.version == 6
    assert parsed.variant == uuid.RFC_4122
    assert parsed.clock_seq == step & 0x3FFF


def test_uuid6_str_ids_sort_as_they_were_made() -> None:
    made = [uuid6_str(step) for step in range(200)]
    assert made == sorted(made)


def test_uuid6_str_and_uuid6_share_one_clock_and_layout() -> None:
    before = time.time_ns() // 100 + 0x01B21DD213814000  # 100 ns intervals since 1582-10-15
    made = [uuid6_str(step) if step % 2 else str(uuid6(clock_seq=step)) for step in range(100)]
    after = time.time_ns() // 100 + 0x01B21DD213814000
    assert made == sorted(made)
    stamps = [(uuid.UUID(m).int >> 80) << 12 | (uuid.UUID(m).int >> 64) & 0x0FFF for m in made]
    assert before <= stamps[0] and stamps[-1] <= after + len(made)


@given(
    st.uuids().map(str),
    st.text(max_size=12),
    st.integers(min_value=-2, max_value=10_000),
    st.tuples(st.sampled_from(["__pregel_pull", "__pregel_push"]), st.text(max_size=8) | st.integers(0, 99)),
)
def test_task_id_for_is_uuid5_of_checkpoint_namespace_step_and_path(
    checkpoint_id: str, ns: str, step: int, path: tuple[object, ...]
) -> None:
    expected = uuid.uuid5(_TASK_IDS, f"{checkpoint_id}|{ns}|{step}|{path!r}")
    assert task_id_for(checkpoint_id, ns, step, path) == str(expected)
