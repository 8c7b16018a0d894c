"""``astream_log`` on langchain-core and on streamflow: the same chains, their run-log patches compared op by
op (paths, values, entry fields), and the final ``RunLog`` state of ``diff=False``.

Compared apart from what differs by nature: ids and times; a chat model entry's metadata (each library's
``ls_*`` keys) and its ``final_output``, compared as the answer's text (LangChain's ``LLMResult`` dict holds
more fields of its ``ChatGenerationChunk``).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from .conftest import Lib, load, normalise, reference
from .test_runnables_cases import CHAINS, _text

pytestmark = pytest.mark.anyio


def both() -> list[Lib]:
    return [reference(), load("streamflow")]


def _value(path: str, value: Any) -> Any:
    if path.endswith("/end_time"):
        return "<time>"
    if isinstance(value, dict) and "generations" in value:
        return {"text": value["generations"][0][0]["text"]}
    if isinstance(value, dict) and "start_time" in value:
        entry = {k: v for k, v in value.items() if k not in ("id", "start_time")}
        if entry["type"] == "llm":
            entry["metadata"] = "<model metadata>"
        return _text(entry)
    return _text(value)


def shape(patch: Any) -> list[dict[str, Any]]:
    return [{"op": op["op"], "path": op["path"], "value": _value(op["path"], op["value"])} for op in patch.ops]


async def log(chain: Any, value: Any, **kwargs: Any) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LangChain's deprecation of astream_log
        return [patch async for patch in chain.astream_log(value, **kwargs)]


@pytest.mark.parametrize("case", sorted(CHAINS))
async def test_patches_match(case: str) -> None:
    build, value = CHAINS[case]
    out = [normalise([shape(p) for p in await log(build(lib), value)]) for lib in both()]
    assert out[1] == out[0]


@pytest.mark.parametrize("case", sorted(CHAINS))
async def test_final_state_matches(case: str) -> None:
    build, value = CHAINS[case]
    out = []
    for lib in both():
        state = (await log(build(lib), value, diff=False))[-1].state
        logs = {key: _value(f"/logs/{key}", {**entry, "start_time": None}) for key, entry in state["logs"].items()}
        for entry in logs.values():
            entry["end_time"] = "<time>" if entry["end_time"] else None
            entry["final_output"] = _value("/final_output", entry["final_output"])
        out.append(normalise((_text(state["final_output"]), _text(state["streamed_output"]), logs, state["type"])))
    assert out[1] == out[0]


@pytest.mark.parametrize(
    "filters",
    [{"include_types": ["llm"]}, {"include_names": ["StrOutputParser"]}, {"exclude_tags": ["seq:step:1"]}],
    ids=repr,
)
async def test_filters_choose_the_logged_calls(filters: dict[str, Any]) -> None:
    build, value = CHAINS["prompt model parser"]
    out = []
    for lib in both():
        state = (await log(build(lib), value, diff=False, with_streamed_output_list=False, **filters))[-1].state
        out.append((sorted(state["logs"]), state["streamed_output"], state["final_output"]))
    assert out[1] == out[0]


async def test_patches_add_up_to_the_run_log() -> None:
    build, value = CHAINS["prompt model parser"]
    patches = await log(build(load("streamflow")), value)
    total = patches[0]
    for patch in patches[1:]:
        total = total + patch
    final = (await log(build(load("streamflow")), value, diff=False))[-1]
    assert total.state["final_output"] == final.state["final_output"] == "hello there big world"
    assert list(total.state["logs"]) == list(final.state["logs"])
