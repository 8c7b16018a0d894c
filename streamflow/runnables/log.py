"""``astream_log``: LangChain's legacy run log (``RunLogPatch`` JSON-patch operations), as one more projection
of a run's events.

The log is built from the same view ``astream_events`` (v2) gives, so it needs no hooks of its own: the
run's start replaces the whole state (``{"id", "streamed_output", "final_output", "logs", "name",
"type"}``), each call inside it adds an entry under ``/logs/<name>`` (``name:2``, ``name:3``... for later
calls of the same name), its chunks and its end fill that entry, and each of the run's output chunks is
appended to ``/streamed_output`` while ``/final_output`` is replaced by the chunks added up so far.

Where it differs from LangChain: a chat model call's ``final_output`` is its answer in an ``LLMResult``
dict whose ``generations[0][0]`` holds ``text`` and ``message`` (LangChain's carries more keys of its
``ChatGenerationChunk``); times are the events' times.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .context import Accumulator

__all__ = ["RunLog", "RunLogPatch", "run_log"]


class RunLogPatch:
    """Some JSON-patch operations on a run's log state (LangChain's ``RunLogPatch``). Adding patches with
    ``+`` gives a :class:`RunLog`, the state they build.

    :ivar ops: the operations, dicts ``{"op": "add" | "replace", "path": str, "value": Any}``
    """

    def __init__(self, *ops: dict[str, Any]) -> None:
        self.ops = list(ops)

    def __add__(self, other: RunLogPatch) -> RunLog:
        if not isinstance(other, RunLogPatch):
            return NotImplemented
        ops = self.ops + other.ops
        return RunLog(*ops, state=apply_ops(None, ops))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunLogPatch) and type(other) is type(self) and self.ops == other.ops

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RunLogPatch({', '.join(repr(op) for op in self.ops)})"


class RunLog(RunLogPatch):
    """The operations so far and the state they build (LangChain's ``RunLog``).

    :ivar state: ``{"id", "name", "type", "streamed_output", "final_output", "logs"}``
    """

    def __init__(self, *ops: dict[str, Any], state: Any) -> None:
        super().__init__(*ops)
        self.state = state

    def __add__(self, other: RunLogPatch) -> RunLog:
        if not isinstance(other, RunLogPatch):
            return NotImplemented
        return RunLog(*self.ops, *other.ops, state=apply_ops(self.state, other.ops))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunLog) and self.state == other.state

    __hash__ = None

    def __repr__(self) -> str:
        return f"RunLog({self.state!r})"


def apply_ops(state: Any, ops: Sequence[dict[str, Any]]) -> Any:
    """``state`` (not changed) with the ``add``/``replace`` operations ``ops`` applied: JSON pointers, ``-``
    appending to a list.

    :raises ValueError: for another operation, or a path through something that is not a dict or list
    """
    state = copy.deepcopy(state)
    for op in ops:
        if op["op"] not in ("add", "replace"):
            raise ValueError(f"unsupported run log operation {op['op']!r}; supported: add, replace")
        value = copy.deepcopy(op["value"])
        if op["path"] == "":
            state = value
            continue
        *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in op["path"][1:].split("/")]
        target = state
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            if last == "-":
                target.append(value)
            elif op["op"] == "add":
                target.insert(int(last), value)
            else:
                target[int(last)] = value
        elif isinstance(target, dict):
            target[last] = value
        else:
            raise ValueError(f"run log path {op['path']!r} goes through a {type(target).__name__}")
    return state


def _time(ts: Any) -> str:
    when = datetime.datetime.now(datetime.UTC) if ts is None else datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return when.isoformat(timespec="milliseconds")


def _text(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    return content if isinstance(content, str) else str(content)


class _Log:
    """Turns ``astream_events`` v2 dicts into patches."""

    def __init__(self, keep: Any, with_streamed_output_list: bool) -> None:
        self.keep = keep
        self.with_list = with_streamed_output_list
        self.root_id: str | None = None
        self.keys: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.total = Accumulator()
        self.chunks = 0

    def patch(self, event: dict[str, Any]) -> RunLogPatch | None:
        kind, _, phase = event["event"][3:].rpartition("_")
        run_id = event["run_id"]
        if self.root_id is None:
            self.root_id = run_id
            root = {"id": run_id, "streamed_output": [], "final_output": None, "logs": {}}
            return RunLogPatch({"op": "replace", "path": "", "value": {**root, "name": event["name"], "type": kind}})
        if run_id == self.root_id:
            return self.root(phase, event)
        if kind == "custom" or phase == "event":
            return None
        if phase == "start":
            if not self.keep(event["name"], kind, event["tags"]):
                return None
            count = self.counts[event["name"]] = self.counts.get(event["name"], 0) + 1
            key = self.keys[run_id] = event["name"] if count == 1 else f"{event['name']}:{count}"
            self.types[run_id] = kind = "llm" if kind == "chat_model" else kind
            entry = {
                "id": run_id,
                "name": event["name"],
                "type": kind,
                "tags": list(event["tags"]),
                "metadata": dict(event["metadata"]),
                "start_time": _time(event.get("ts")),
                "streamed_output": [],
                "streamed_output_str": [],
                "final_output": None,
                "end_time": None,
            }
            return RunLogPatch({"op": "add", "path": f"/logs/{_escape(key)}", "value": entry})
        key = self.keys.get(run_id)
        if key is None:
            return None
        path = f"/logs/{_escape(key)}"
        if phase == "stream":
            chunk = event["data"]["chunk"]
            ops = [{"op": "add", "path": f"{path}/streamed_output/-", "value": chunk}]
            if self.types[run_id] == "llm":
                ops.insert(0, {"op": "add", "path": f"{path}/streamed_output_str/-", "value": _text(chunk)})
            return RunLogPatch(*ops)
        del self.keys[run_id]
        output = event["data"].get("output")
        if kind == "chat_model":
            generation = {"text": _text(output), "generation_info": None, "type": "ChatGeneration", "message": output}
            output = {"generations": [[generation]], "llm_output": None, "run": None, "type": "LLMResult"}
        elif kind != "prompt" and not isinstance(output, dict):  # a prompt's value is shown as it is
            output = {"output": output}
        return RunLogPatch(
            {"op": "add", "path": f"{path}/final_output", "value": output},
            {"op": "add", "path": f"{path}/end_time", "value": _time(event.get("ts"))},
        )

    def root(self, phase: str, event: dict[str, Any]) -> RunLogPatch | None:
        if phase == "stream":
            chunk = event["data"]["chunk"]
            self.chunks += 1
            self.total.add(chunk)
            ops = [{"op": "replace", "path": "/final_output", "value": self.total.value}]
            if self.with_list:
                ops.insert(0, {"op": "add", "path": "/streamed_output/-", "value": chunk})
            return RunLogPatch(*ops)
        if phase == "end" and not self.chunks:
            return RunLogPatch({"op": "replace", "path": "/final_output", "value": event["data"].get("output")})
        return None


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


async def run_log(
    events: AsyncIterator[dict[str, Any]],
    keep: Any,
    *,
    diff: bool = True,
    with_streamed_output_list: bool = True,
) -> AsyncIterator[RunLogPatch]:
    """The run log of a run, from its ``astream_events`` v2 dicts: patches, or with ``diff=False`` the
    :class:`RunLog` after each patch. ``keep(name, type, tags)`` decides which calls get a log entry."""
    log = _Log(keep, with_streamed_output_list)
    state: RunLog | None = None
    async for event in events:
        patch = log.patch(event)
        if patch is None:
            continue
        if diff:
            yield patch
            continue
        state = RunLog(*patch.ops, state=apply_ops(None, patch.ops)) if state is None else state + patch
        yield state
