"""Differential cases for state schemas that are pydantic models or dataclasses (after LangGraph's
``test_stream_events_v3.py`` type-safe v2 tests and its pydantic state tests): what nodes receive, what v1
chunks and results show (dicts), what v2 parts, ``checkpoints``/``debug`` payloads and ``invoke(version="v2")``
show (instances of the schema), and the ``ValidationError`` of an input a pydantic schema refuses."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic
import pytest

from .conftest import Case, Lib, achunks_then_error, chunks_then_error, normalise, reference


class PState(pydantic.BaseModel):
    value: str
    items: Annotated[list[str], operator.add] = []
    extra: int = 5


@dataclass
class DState:
    value: str
    items: Annotated[list[str], operator.add] = field(default_factory=list)


class Narrow(pydantic.BaseModel):
    value: str


def shown(value: Any) -> Any:
    """``value`` with a ``GraphOutput`` (each library has its own class) as a tuple."""
    if hasattr(value, "value") and hasattr(value, "interrupts") and type(value).__name__ == "GraphOutput":
        return ("GraphOutput", shown(value.value), tuple(value.interrupts))
    if isinstance(value, list):
        return [shown(item) for item in value]
    return value


def two_nodes(schema: Any, checkpointer: bool = False) -> Callable[[Lib], Any]:
    """START -> ``a`` (reports what it received, appends) -> ``b`` (returns an instance of the schema)."""

    def build(lib: Lib) -> Any:
        def a(state: Any) -> dict[str, Any]:
            return {"value": f"{state.value}_a:{type(state).__name__}", "items": ["a"]}

        def b(state: Any) -> Any:
            return schema(value="b", items=["b"])

        builder = lib.StateGraph(schema)
        builder.add_node("a", a)
        builder.add_node("b", b)
        builder.add_edge(lib.START, "a")
        builder.add_edge("a", "b")
        builder.add_edge("b", lib.END)
        return builder.compile(checkpointer=lib.InMemorySaver() if checkpointer else None)

    return build


def narrow_node(lib: Lib) -> Any:
    """A node whose own input schema is a pydantic model (from its annotation)."""

    def a(state: Narrow) -> dict[str, Any]:
        return {"items": [f"{type(state).__name__}:{state.value}"]}

    builder = lib.StateGraph(PState)
    builder.add_node("a", a)
    builder.add_edge(lib.START, "a")
    return builder.compile()


def interrupting(lib: Lib) -> Any:
    def ask(state: PState) -> dict[str, Any]:
        answer = lib.interrupt("approve?")
        return {"value": str(answer)}

    builder = lib.StateGraph(PState)
    builder.add_node("ask", ask)
    builder.add_edge(lib.START, "ask")
    return builder.compile(checkpointer=lib.InMemorySaver())


THREAD = {"configurable": {"thread_id": "t-1"}}

CASES = [
    pytest.param(Case(two_nodes(PState), {"value": "x"}), id="pydantic-values"),
    pytest.param(Case(two_nodes(PState), {"value": "x"}, {"stream_mode": ["values", "updates"]}), id="pydantic-modes"),
    pytest.param(Case(two_nodes(PState), {"value": "x", "extra": "7"}), id="pydantic-input-kept-as-given"),
    pytest.param(Case(two_nodes(PState), PState(value="y")), id="pydantic-instance-input"),
    pytest.param(Case(two_nodes(PState), {"value": 123}), id="pydantic-invalid-input"),
    pytest.param(Case(two_nodes(PState), {"extra": 1}), id="pydantic-missing-field"),
    pytest.param(Case(two_nodes(PState), {"value": "x", "other": 1}), id="pydantic-unknown-key-dropped"),
    pytest.param(Case(two_nodes(PState), {"value": "x"}, {"version": "v2"}), id="pydantic-v2"),
    pytest.param(
        Case(two_nodes(PState), {"value": "x"}, {"version": "v2", "stream_mode": ["values", "updates"]}),
        id="pydantic-v2-modes",
    ),
    pytest.param(
        Case(
            two_nodes(PState, True), {"value": "x"}, {"version": "v2", "stream_mode": "checkpoints", "config": THREAD}
        ),
        id="pydantic-v2-checkpoints",
    ),
    pytest.param(
        Case(two_nodes(PState, True), {"value": "x"}, {"version": "v2", "stream_mode": "debug", "config": THREAD}),
        id="pydantic-v2-debug",
    ),
    pytest.param(
        Case(two_nodes(PState, True), {"value": "x"}, {"stream_mode": "checkpoints", "config": THREAD}),
        id="pydantic-v1-checkpoints-are-dicts",
    ),
    pytest.param(Case(two_nodes(DState), {"value": "x"}, {"version": "v2"}), id="dataclass-v2"),
    pytest.param(Case(two_nodes(DState), {"value": "x"}), id="dataclass-v1"),
    pytest.param(Case(narrow_node, {"value": "x"}), id="pydantic-node-input-schema"),
    pytest.param(Case(interrupting, {"value": "x"}, {"version": "v2", "config": THREAD}), id="pydantic-v2-interrupt"),
]


def outcome(produce: Callable[[], Any]) -> Any:
    """``produce()`` normalised, or the type and message of what it raised."""
    try:
        return normalise(shown(produce()))
    except Exception as exc:
        return ("raised", type(exc).__name__, normalise(str(exc)))


async def aoutcome(produce: Callable[[], Any]) -> Any:
    try:
        return normalise(shown(await produce()))
    except Exception as exc:
        return ("raised", type(exc).__name__, normalise(str(exc)))


def invoke_kwargs(case: Case) -> dict[str, Any]:
    """The case's keyword arguments as ``invoke()`` takes them (its stream mode left at ``values``)."""
    return {k: v for k, v in case.kwargs.items() if k != "stream_mode"}


@pytest.mark.parametrize("schema_case", CASES)
def test_stream(lib: Lib, schema_case: Case) -> None:
    def run(which: Lib) -> Any:
        return chunks_then_error(schema_case.build(which).stream(schema_case.input, **schema_case.kwargs))

    assert run(lib) == run(reference())


@pytest.mark.anyio
@pytest.mark.parametrize("schema_case", CASES)
async def test_astream(lib: Lib, schema_case: Case) -> None:
    async def run(which: Lib) -> Any:
        return await achunks_then_error(schema_case.build(which).astream(schema_case.input, **schema_case.kwargs))

    assert await run(lib) == await run(reference())


@pytest.mark.parametrize("schema_case", CASES)
def test_invoke(lib: Lib, schema_case: Case) -> None:
    def run(which: Lib) -> Any:
        return outcome(lambda: schema_case.build(which).invoke(schema_case.input, **invoke_kwargs(schema_case)))

    assert run(lib) == run(reference())


@pytest.mark.anyio
@pytest.mark.parametrize("schema_case", CASES)
async def test_ainvoke(lib: Lib, schema_case: Case) -> None:
    async def run(which: Lib) -> Any:
        return await aoutcome(lambda: schema_case.build(which).ainvoke(schema_case.input, **invoke_kwargs(schema_case)))

    assert await run(lib) == await run(reference())
