"""A process running a thread is killed with SIGKILL in the middle of a step; a new process resumes the thread
from its last checkpoint (SQLite) and the final state equals an uninterrupted run's. With ``durability="sync"``
no completed step runs again; with ``"async"`` (the default), as in LangGraph, the checkpoints still being
written when the process died are lost, so the last completed steps may run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json
import operator
import sys
from typing import Annotated, TypedDict

from streamflow.checkpoint.sqlite import SqliteSaver
from streamflow.graph import START, StateGraph

db, log, thread, mode, durability = sys.argv[1:6]


class State(TypedDict):
    steps: Annotated[list[str], operator.add]


def step(name):
    def node(state):
        with open(log, "a") as out:
            out.write(name + "\n")
        if name == "third" and mode == "die":
            print("at third", flush=True)
            sys.stdin.readline()  # blocks until the parent kills this process
        return {"steps": [name]}

    return (name, node)


builder = StateGraph(State).add_sequence([step(n) for n in ("first", "second", "third", "fourth")])
with SqliteSaver.from_conn_string(db) as saver:
    graph = builder.add_edge(START, "first").compile(checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    # a resume starts over when the run died before its first checkpoint was written (durability="async")
    resume = mode == "resume" and bool(graph.get_state(config).values)
    result = graph.invoke(None if resume else {"steps": ["in"]}, config, durability=durability)
    print(json.dumps(result), flush=True)
"""


def _child(tmp_path: Path, thread: str, mode: str, durability: str) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(tmp_path / "threads.db"),
            str(tmp_path / f"{thread}.log"),
            thread,
            mode,
            durability,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("durability", ["sync", "async"])
def test_a_thread_killed_mid_step_resumes_in_a_new_process(tmp_path: Path, durability: str) -> None:
    with _child(tmp_path, "killed", "die", durability) as dying:
        assert dying.stdout is not None
        assert dying.stdout.readline().strip() == "at third"
        os.kill(dying.pid, signal.SIGKILL)
        dying.wait(timeout=60)
    assert dying.returncode == -signal.SIGKILL

    with _child(tmp_path, "killed", "resume", durability) as resumed:
        out, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, (tmp_path / "killed.log").read_text()
    resumed_state = json.loads(out.strip().splitlines()[-1])

    with _child(tmp_path, "whole", "run", durability) as whole:
        out, _ = whole.communicate(timeout=120)
    assert whole.returncode == 0
    whole_state = json.loads(out.strip().splitlines()[-1])

    assert resumed_state == whole_state == {"steps": ["in", "first", "second", "third", "fourth"]}
    ran = (tmp_path / "killed.log").read_text().split()
    assert ran[:3] == ["first", "second", "third"], ran
    if durability == "sync":
        # the steps that had completed ran once; the one killed mid-way ran again
        assert ran[3:] == ["third", "fourth"], ran
    else:
        # the resumed run went on from a checkpoint saved before the kill: the steps after it ran again
        assert ran[3:] in (
            ["third", "fourth"],
            ["second", "third", "fourth"],
            ["first", "second", "third", "fourth"],
        ), ran
