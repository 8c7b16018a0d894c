"""Run and task ids: version 4 UUID strings, made in bulk from the system's random source."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid

import pytest

from streamflow.graph import ids
from streamflow.graph.ids import new_id


def test_ids_are_version_4_uuid_strings_across_draws() -> None:
    made = [new_id() for _ in range(3 * ids._IDS_PER_DRAW + 7)]
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    assert len(set(made)) == len(made)


def test_threads_taking_ids_at_once_never_share_one() -> None:
    taken: list[list[str]] = [[] for _ in range(4)]
    start = threading.Barrier(len(taken))

    def take(out: list[str]) -> None:
        start.wait()
        out.extend(new_id() for _ in range(2 * ids._IDS_PER_DRAW))

    threads = [threading.Thread(target=take, args=(out,)) for out in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for out in taken for text in out]
    assert len(set(every)) == len(every)


_FORK_CHECK = """
import os
from streamflow.graph import ids
ids.new_id()
waiting = set(ids._ids)
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, ids.new_id().encode())
    os._exit(0)
os.waitpid(pid, 0)
child_id = os.read(read, 64).decode()
print(bool(waiting), child_id in waiting)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_its_parents_ids() -> None:
    # in a fresh single-threaded interpreter: forking this test process (which runs threads) is unsafe
    done = subprocess.run([sys.executable, "-c", _FORK_CHECK], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False"]
