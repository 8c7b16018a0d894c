"""``invoke()``/``ainvoke()`` arguments beyond LangGraph's differential cases (``tests/compat/test_invoke_args.py``):
the ``GraphOutput`` type, bad arguments refused before the run starts, errors, and the default fast path."""

from __future__ import annotations

import dataclasses
from typing import Any, TypedDict

import pytest

from streamflow.errors import SyncInAsyncContextError, UnknownStreamModeError
from streamflow.graph import END, START, StateGraph
from streamflow.graph.compiled import CompiledStateGraph
from streamflow.types import GraphOutput


class Count(TypedDict):
    value: int


def _graph(calls: list[str] | None = None, fail: bool = False) -> CompiledStateGraph:
    def add(state: Count) -> dict[str, Any]:
        if calls is not None:
            calls.append("add")
        if fail:
            raise ValueError("add failed")
        return {"value": state["value"] + 1}

    def double(state: Count) -> dict[str, Any]:
        return {"value": state["value"] * 2}

    builder = StateGraph(Count)
    builder.add_node("add", add)
    builder.add_node("double", double)
    builder.add_edge(START, "add")
    builder.add_edge("add", "double")
    builder.add_edge("double", END)
    return builder.compile()


def test_default_invoke_returns_the_final_state() -> None:
    assert _graph().invoke({"value": 1}) == {"value": 4}


def test_v2_returns_a_frozen_graph_output() -> None:
    result = _graph().invoke({"value": 1}, version="v2")
    assert isinstance(result, GraphOutput)
    assert result == GraphOutput({"value": 4}, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = {}  # type: ignore[misc]


@pytest.mark.anyio
async def test_ainvoke_v2_and_mode_list() -> None:
    graph = _graph()
    assert await graph.ainvoke({"value": 1}, version="v2") == GraphOutput({"value": 4})
    assert await graph.ainvoke({"value": 1}, stream_mode=["updates"]) == [
        ("updates", {"add": {"value": 2}}),
        ("updates", {"double": {"value": 4}}),
    ]


def test_v2_values_parts_carry_empty_interrupts() -> None:
    parts = _graph().invoke({"value": 1}, stream_mode=["values"], version="v2")
    assert [part["interrupts"] for part in parts] == [(), (), ()]


def test_print_mode_prints_without_changing_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert _graph().invoke({"value": 1}, print_mode="updates") == {"value": 4}
    assert capsys.readouterr().out == (
        "\033[1m[updates]\033[0m {'add': {'value': 2}}\n\033[1m[updates]\033[0m {'double': {'value': 4}}\n"
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"stream_mode": "nope"}, {"print_mode": "nope"}, {"print_mode": ["updates", "nope"]}, {"version": "v3"}],
    ids=["stream_mode", "print_mode", "print_mode-list", "version"],
)
def test_bad_arguments_are_refused_before_the_run(kwargs: dict[str, Any]) -> None:
    calls: list[str] = []
    with pytest.raises(UnknownStreamModeError, match="unknown stream"):
        _graph(calls).invoke({"value": 1}, **kwargs)
    assert calls == []


@pytest.mark.anyio
async def test_bad_arguments_are_refused_before_the_run_async() -> None:
    calls: list[str] = []
    with pytest.raises(UnknownStreamModeError, match="unknown stream version 'v3'"):
        await _graph(calls).ainvoke({"value": 1}, stream_mode="updates", version="v3")
    assert calls == []


def test_a_node_error_is_raised_unchanged_from_a_mode_list() -> None:
    with pytest.raises(ValueError, match="add failed"):
        _graph(fail=True).invoke({"value": 1}, stream_mode=["updates", "values"])


@pytest.mark.anyio
async def test_sync_invoke_with_arguments_refused_in_an_event_loop() -> None:
    with pytest.raises(SyncInAsyncContextError, match=r"ainvoke\(\)"):
        _graph().invoke({"value": 1}, stream_mode="updates")
    with pytest.raises(SyncInAsyncContextError, match=r"ainvoke\(\)"):
        _graph().invoke({"value": 1}, version="v2")
