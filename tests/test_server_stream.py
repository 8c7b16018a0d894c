"""SSE framing and resume, without HTTP: properties over every cut point of a finished run."""

from __future__ import annotations

import json
import math
from typing import Any, TypedDict

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamflow.graph import START, StateGraph, get_stream_writer
from streamflow.modes import ViewSpec
from streamflow.server import RunStream
from streamflow.server.encoding import sse_message, to_json
from streamflow.server.stream import ChunkEncoder, SharedEncoder, StreamRequest

MODES = ["values", "updates", "custom", "tasks", "debug"]


class State(TypedDict, total=False):
    n: int


def parse(raw: bytes) -> list[tuple[str | None, str, Any]]:
    """(id, event, data) of each SSE message in ``raw``."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = value
        out.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
    return out


def finished_run(replay_size: int) -> Any:
    def step(state: State) -> dict[str, int]:
        write = get_stream_writer()
        for i in range(3):
            write({"i": i})
        return {"n": state["n"] + 1}

    builder = StateGraph(State)
    prev = START
    for name in ("a", "b", "c"):
        builder.add_node(name, step).add_edge(prev, name)
        prev = name
    graph = builder.compile()

    async def main() -> Any:
        run = graph.start({"n": 0}, replay_size=replay_size)
        await run.wait()
        return run

    return anyio.run(main)


RUN = finished_run(10_000)
SMALL = finished_run(8)


def stream(run: Any, modes: list[str], after_seq: int) -> list[tuple[str | None, str, Any]]:
    async def main() -> bytes:
        rs = RunStream(run, "g", StreamRequest(ViewSpec.parse(modes, False, "v2"), after_seq=after_seq, buffer_size=2))
        return b"".join([part async for part in rs])

    return parse(anyio.run(main))[1:]  # without the metadata message


@given(modes=st.lists(st.sampled_from(MODES), min_size=1, unique=True), data=st.data())
def test_resuming_after_any_seq_gives_exactly_the_rest(modes: list[str], data: st.DataObject) -> None:
    whole = stream(RUN, modes, 0)
    cut = data.draw(st.integers(0, RUN.channel.last_seq - 1))
    assert stream(RUN, modes, cut) == [m for m in whole if int(m[0] or 0) > cut]
    assert whole[-1][1] == "end"


@given(modes=st.lists(st.sampled_from(MODES), min_size=1, unique=True), data=st.data())
def test_a_trimmed_cursor_is_reported_then_the_retained_rest_follows(modes: list[str], data: st.DataObject) -> None:
    last = SMALL.channel.last_seq
    first_retained = last - 8 + 1
    cut = data.draw(st.integers(0, last - 1))
    got = stream(SMALL, modes, cut)
    if cut + 1 < first_retained:
        assert got[0] == (
            str(first_retained - 1),
            "lag",
            {
                "missed": first_retained - 1 - cut,
                "first_seq": cut + 1,
                "last_seq": first_retained - 1,
                "reason": "evicted from the run's replay buffer before this client read them",
            },
        )
        got = got[1:]
    # SMALL ran the same graph as RUN, so the same seqs carry the same kinds of messages
    start = max(first_retained, cut + 1)
    assert [(m[0], m[1]) for m in got] == [(m[0], m[1]) for m in stream(RUN, modes, 0) if int(m[0] or 0) >= start]
    assert got[-1][1] == "end"


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=())),  # lone surrogates too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(value=JSON, seq=st.integers(1, 10**9))
def test_any_json_value_survives_sse_framing(value: Any, seq: int) -> None:
    ((got_id, event, data),) = parse(sse_message("custom", value, id=seq))
    assert (got_id, event, data) == (str(seq), "custom", value)


@given(value=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_floats_json_has_no_number_for_are_written_as_their_names(value: float) -> None:
    ((_, _, data),) = parse(sse_message("custom", {"x": [value]}, id=1))
    assert data == {"x": [{math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")]}


def test_objects_json_cannot_carry_are_written_as_their_repr() -> None:
    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    assert json.loads(to_json({"a": (1, 2), "b": {3}, "c": Odd(), "d": b"x"})) == {
        "a": [1, 2],
        "b": [3],
        "c": "<odd>",
        "d": "x",
    }


def test_a_cursor_beyond_the_last_seq_is_refused() -> None:
    from streamflow.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="beyond run"):
        RunStream(RUN, "g", StreamRequest(ViewSpec.parse("values"), after_seq=RUN.channel.last_seq + 1))


def test_values_messages_carry_interrupts_as_v2_values_parts() -> None:
    messages = stream(RUN, ["values", "updates"], 0)
    values = [data for _, event, data in messages if event == "values"]
    assert values and all(data["interrupts"] == [] for data in values)
    assert all("interrupts" not in data for _, event, data in messages if event == "updates")


@given(modes=st.lists(st.sampled_from([*MODES, "messages"]), min_size=1, unique=True), data=st.data())
def test_a_shared_encoder_frames_each_event_as_a_streams_own_encoder_would(
    modes: list[str], data: st.DataObject
) -> None:
    request = StreamRequest(ViewSpec.parse(modes, False, "v2"))
    events = [event for event in RUN.channel.retained() if not event.terminal]
    event_filter = request.event_filter()
    routed, accept = event_filter.routed_kinds(), event_filter.compile()
    passing = [event for event in events if event.__class__ in routed and (accept is None or accept(event))]
    own = ChunkEncoder(request.spec, request.errors)
    expected = {event.seq: own.encode(event) for event in passing}
    cut = data.draw(st.integers(0, events[-1].seq))
    shared = SharedEncoder(request, 0, keep=len(events))
    assert shared.catch_up(events, cut)  # a first stream resumed after ``cut``
    for event in passing:
        if event.seq > cut:
            assert shared.encode(event) == (True, expected[event.seq])
    for event in passing:  # a second one from the start reads what the first made
        assert shared.encode(event) == (True, expected[event.seq])


def test_a_shared_encoder_says_when_it_no_longer_keeps_an_events_messages() -> None:
    request = StreamRequest(ViewSpec.parse(["custom"], False, "v2"))
    custom = [event for event in RUN.channel.retained() if event.kind == "custom_data"]
    shared = SharedEncoder(request, 0, keep=1)
    assert shared.encode(custom[0])[0] and shared.encode(custom[1])[0]
    assert shared.encode(custom[0]) == (False, None)  # kept only the latest one
    later = SharedEncoder(request, 0, keep=1)
    assert not later.catch_up(RUN.channel.retained()[5:], 10)  # events 1..5 never seen: it cannot catch up
    assert later.front == 0
