"""``durability="exit"`` builds the checkpoint of a step only when it is read or saved (``Thread.keep_later``):
the checkpoint a run saves when it ends is the same whether or not anything streamed the checkpoints of the
steps before it (a ``checkpoints`` view builds each of them as the run goes), and holds what the newest
checkpoint of the same runs with ``durability="sync"`` holds."""

from __future__ import annotations

import asyncio
import itertools
import operator
from typing import Annotated, Any, TypedDict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamflow.checkpoint.memory import InMemorySaver
from streamflow.graph import START, StateGraph
from streamflow.types import Send


class State(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    last: str


class _Failed(Exception):
    pass


def _graph(levels: list[int], fail: str | None, send: bool, saver: InMemorySaver) -> Any:
    """Levels of parallel nodes, each node of a level after every node of the one before (a fan-in edge where
    there are several), the first level reached from START; with ``send``, a node of the last level reached
    by a ``Send`` packet too; the node named ``fail`` raises. A node alone in its step writes ``last`` too."""

    def node(name: str, alone: bool) -> Any:
        async def run(state: State) -> State:
            if name == fail:
                raise _Failed(name)
            return {"items": [name], "last": name} if alone else {"items": [name]}

        return run

    builder = StateGraph(State)
    names = [[f"n{i}_{j}" for j in range(width)] for i, width in enumerate(levels)]
    for level in names:
        for name in level:
            builder.add_node(name, node(name, len(level) == 1 and not send))
    for name in names[0]:
        builder.add_edge(START, name)
    for before, after in itertools.pairwise(names):
        for name in after:
            builder.add_edge(before if len(before) > 1 else before[0], name)
    if send:
        target = names[-1][0]

        async def sender(state: State) -> State:
            return {"items": ["sender"]}

        builder.add_node("sender", sender)
        builder.add_edge(START, "sender")
        builder.add_conditional_edges("sender", lambda state: [Send(target, {"items": ["sent"]})], [target])
    return builder.compile(checkpointer=saver)


def _run(graph: Any, graph_input: Any, thread: str, stream_mode: str, durability: str = "exit") -> str:
    async def run() -> str:
        config = {"configurable": {"thread_id": thread}}
        try:
            async for _chunk in graph.astream(graph_input, config, stream_mode=stream_mode, durability=durability):
                pass
        except _Failed:
            return "failed"
        return "finished"

    return asyncio.run(run())


def _saved(saver: InMemorySaver, thread: str) -> list[Any]:
    """The thread's checkpoints, newest first, without what differs from one run to the next: ids, times,
    the random part of channel versions, task ids."""
    out = []
    for saved in saver.list({"configurable": {"thread_id": thread}}):
        checkpoint = saved.checkpoint
        out.append(
            (
                checkpoint["channel_values"],
                {k: int(str(v).partition(".")[0]) for k, v in checkpoint["channel_versions"].items()},
                checkpoint["versions_seen"],
                checkpoint.get("updated_channels"),
                dict(saved.metadata),
                saved.parent_config is None,
                sorted((channel, repr(value)) for _task, channel, value in saved.pending_writes or ()),
                len({task for task, _channel, _value in saved.pending_writes or ()}),
            )
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    levels=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    fail_at=st.none() | st.tuples(st.integers(0, 3), st.integers(0, 2)),
    send=st.booleans(),
    runs=st.integers(1, 3),
)
def test_the_exit_checkpoint_is_the_same_whether_or_not_its_steps_are_streamed(
    levels: list[int], fail_at: tuple[int, int] | None, send: bool, runs: int
) -> None:
    fail = None
    if fail_at is not None and fail_at[0] < len(levels):
        fail = f"n{fail_at[0]}_{min(fail_at[1], levels[fail_at[0]] - 1)}"
    unseen, streamed = InMemorySaver(), InMemorySaver()
    graphs = {"updates": _graph(levels, fail, send, unseen), "checkpoints": _graph(levels, fail, send, streamed)}
    ends: dict[str, list[str]] = {mode: [] for mode in graphs}
    for mode, graph in graphs.items():
        graph_input: Any = {"items": ["in"]}
        for _ in range(runs):
            ended = _run(graph, graph_input, "t", mode)
            ends[mode].append(ended)
            graph_input = None if ended == "failed" else {"items": ["again"]}  # a failed run is resumed
    assert ends["updates"] == ends["checkpoints"]
    saved = _saved(unseen, "t")
    assert saved == _saved(streamed, "t")
    # one checkpoint a run, but none for a resumed run that failed again in the step it resumed
    assert 1 <= len(saved) <= runs
    # the same values, nodes seen, metadata and writes as the newest checkpoint of runs saving every step
    each = InMemorySaver()
    graph, graph_input = _graph(levels, fail, send, each), {"items": ["in"]}
    for _ in range(runs):
        ended = _run(graph, graph_input, "t", "updates", "sync")
        graph_input = None if ended == "failed" else {"items": ["again"]}
    newest = _saved(each, "t")[0]
    assert (saved[0][0], saved[0][2], saved[0][4], saved[0][6:]) == (newest[0], newest[2], newest[4], newest[6:])
