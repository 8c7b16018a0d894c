"""Differential cases for the keyword arguments of ``invoke()``/``ainvoke()`` (``stream_mode``, ``version``,
``print_mode``, ``subgraphs``): each runs one graph, built from the same code, on LangGraph and on streamflow
and expects the same normalised result and the same printed lines, sync and async."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Case, Lib, normalise, reference
from .test_streaming import chain, nested, two_levels, writer_chain

START_VALUE = {"value": 1, "log": []}

CASES = [
    pytest.param(Case(chain, START_VALUE, {"version": "v2"}), id="v2-graph-output"),
    pytest.param(Case(chain, START_VALUE, {"version": "v1"}), id="v1-explicit"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": "updates"}), id="updates-list"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": ["updates", "values"]}), id="mode-list"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": ["values"]}), id="values-in-a-list"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": "values", "version": "v2"}), id="values-v2"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": ["values"], "version": "v2"}), id="values-list-v2"),
    pytest.param(Case(chain, START_VALUE, {"stream_mode": "updates", "version": "v2"}), id="updates-v2"),
    pytest.param(Case(writer_chain, START_VALUE, {"stream_mode": "custom"}), id="custom"),
    pytest.param(Case(nested, START_VALUE, {"stream_mode": "updates", "subgraphs": True}), id="updates-subgraphs"),
    pytest.param(Case(nested, START_VALUE, {"subgraphs": True}), id="values-subgraphs"),
    pytest.param(Case(nested, START_VALUE, {"subgraphs": True, "version": "v2"}), id="values-subgraphs-v2"),
    pytest.param(
        Case(two_levels, START_VALUE, {"stream_mode": ["updates", "custom"], "subgraphs": True, "version": "v2"}),
        id="two-levels-v2",
    ),
    pytest.param(Case(chain, START_VALUE, {"print_mode": "updates"}), id="print-updates"),
    pytest.param(
        Case(chain, START_VALUE, {"stream_mode": "updates", "print_mode": ["updates", "values"]}),
        id="print-mode-list",
    ),
    pytest.param(
        Case(nested, START_VALUE, {"print_mode": ["updates", "values"], "subgraphs": True}),
        id="print-subgraphs",
    ),
    pytest.param(Case(nested, START_VALUE, {"print_mode": "updates"}), id="print-without-subgraphs"),
    pytest.param(
        Case(chain, START_VALUE, {"print_mode": "values", "version": "v2", "stream_mode": "updates"}),
        id="print-v2",
    ),
]


def plain(result: Any) -> Any:
    """``result`` normalised; a ``GraphOutput`` (LangGraph's or streamflow's) as its class name and fields."""
    if type(result).__name__ == "GraphOutput":
        return normalise(("GraphOutput", result.value, tuple(result.interrupts)))
    return normalise(result)


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The lines printed since the last call, with ids normalised."""
    lines: list[str] = normalise(capsys.readouterr().out.splitlines())
    return lines


@pytest.mark.parametrize("invoke_case", CASES)
def test_invoke_arguments(lib: Lib, invoke_case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    expected = plain(invoke_case.build(reference()).invoke(invoke_case.input, **invoke_case.kwargs))
    expected_lines = printed(capsys)
    assert plain(invoke_case.build(lib).invoke(invoke_case.input, **invoke_case.kwargs)) == expected
    assert printed(capsys) == expected_lines


@pytest.mark.anyio
@pytest.mark.parametrize("invoke_case", CASES)
async def test_ainvoke_arguments(lib: Lib, invoke_case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    expected = plain(await invoke_case.build(reference()).ainvoke(invoke_case.input, **invoke_case.kwargs))
    expected_lines = printed(capsys)
    assert plain(await invoke_case.build(lib).ainvoke(invoke_case.input, **invoke_case.kwargs)) == expected
    assert printed(capsys) == expected_lines
