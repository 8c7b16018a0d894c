"""One client flooding the HTTP app with runs while another asks for one: what each gets, and the server's memory.

``server_flood_limited``
    a uvicorn server process serves ``create_app`` with an authenticate hook (bearer tokens for two
    principals, ``flooder`` and ``other``) and the default :class:`~streamflow.server.limits.Limits` (1 MiB
    bodies, 10 live runs per principal). Its one graph never ends (its node waits forever), as an agent
    stuck on a slow tool would. ``flooder`` first sends one ``POST /runs`` whose body is 50 MB, then ``n``
    ``POST /runs`` over 100 connections at once; when half of them are answered, ``other`` starts a run,
    and once all are answered it starts a second one. Reported: flood answers per second, and in the notes
    the status codes each principal got and the server's resident memory (``VmRSS`` of its process) before,
    after the 50 MB body and after the flood.
``server_flood_unlimited``
    the same without authentication and with no limits (``Limits(max_body=None, max_live_runs=None)``):
    the app as it was before both existed. Only the registry's ``max_runs`` (1000) bounds the runs.

Needs the ``server`` extra; the module is skipped without it.
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn  # noqa: F401  (the server process needs it; skip this module early without it)

from .harness import Sample, scenario

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 100
BIG_BODY = 50 * 1024 * 1024

SERVER = r"""
import asyncio, logging, socket, sys
import structlog, uvicorn
from typing import Any, TypedDict
from streamflow.graph import START, StateGraph
from streamflow.server import create_app
from streamflow.server.auth import Auth
from streamflow.server.limits import Limits

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
limited = sys.argv[1] == "limited"

class State(TypedDict, total=False):
    messages: list[Any]

async def wait_forever(state):
    await asyncio.get_running_loop().create_future()
    return {}

graph = StateGraph(State).add_node("stuck", wait_forever).add_edge(START, "stuck").compile()
tokens = {"Bearer flooder": "flooder", "Bearer other": "other"}
if limited:
    auth = Auth(lambda request: tokens.get(request.headers.get("authorization", "")))
    app = create_app({"stuck": graph}, page=False, auth=auth)
else:
    app = create_app({"stuck": graph}, page=False, limits=Limits(max_body=None, max_live_runs=None))
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(1024)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="error", ws="none")).run([sock])
"""

QUESTION = {"messages": [{"role": "user", "content": "wait for me"}]}


def _rss_mb(pid: int) -> float:
    """The resident memory of process ``pid``, in MB (from ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _codes(counts: collections.Counter[int]) -> str:
    return " ".join(f"{count}x{code}" for code, count in sorted(counts.items()))


async def _flood(variant: str, n: int) -> Sample:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, variant], stdout=subprocess.PIPE, env=env, cwd=str(ROOT), text=True
    )
    try:
        assert proc.stdout is not None
        port = int(await asyncio.to_thread(proc.stdout.readline))
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        flooder = httpx.AsyncClient(
            base_url=base, headers={"authorization": "Bearer flooder"}, limits=limits, timeout=60
        )
        other = httpx.AsyncClient(base_url=base, headers={"authorization": "Bearer other"}, timeout=60)
        async with flooder, other:
            assert (await other.get("/graphs")).status_code == 200
            before = _rss_mb(proc.pid)
            content = b'{"graph": "stuck", "input": {"messages": [{"role": "user", "content": "'
            body = content + b"x" * (BIG_BODY - len(content) - 5) + b'"}]}}'
            big = await flooder.post("/runs", content=body, headers={"content-type": "application/json"})
            del body
            after_big = _rss_mb(proc.pid)
            codes: collections.Counter[int] = collections.Counter()
            half = asyncio.Event()

            async def one() -> None:
                response = await flooder.post("/runs", json={"graph": "stuck", "input": QUESTION})
                codes[response.status_code] += 1
                if sum(codes.values()) >= n // 2:
                    half.set()

            start = time.perf_counter()
            flood = asyncio.gather(*(one() for _ in range(n)))
            await half.wait()
            asked = time.perf_counter()
            during = await other.post("/runs", json={"graph": "stuck", "input": QUESTION})
            during_ms = (time.perf_counter() - asked) * 1000
            await flood
            seconds = time.perf_counter() - start
            after_flood = _rss_mb(proc.pid)
            after = await other.post("/runs", json={"graph": "stuck", "input": QUESTION})
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait)
        if proc.stdout is not None:
            proc.stdout.close()
    if sum(codes.values()) != n:
        raise RuntimeError(f"the flood got {sum(codes.values())} answers, expected {n}")
    extra = (
        f"50 MB body: {big.status_code}; flooder: {_codes(codes)}; other: {during.status_code} mid-flood "
        f"({during_ms:.0f} ms), {after.status_code} after; server RSS {before:.0f} MB before, "
        f"{after_big:.0f} MB after the body, {after_flood:.0f} MB after the flood"
    )
    return Sample(n, seconds, extra=extra)


@scenario("server_flood_limited", unit="requests/s", n=1_000, quick_n=200, repeats=1)
async def server_flood_limited(n: int) -> Sample:
    """One principal sends n POST /runs of a never-ending graph at once, another starts a run meanwhile
    (auth, default limits): what each gets and the server's memory."""
    return await _flood("limited", n)


@scenario("server_flood_unlimited", unit="requests/s", n=1_000, quick_n=200, repeats=1)
async def server_flood_unlimited(n: int) -> Sample:
    """``server_flood_limited`` without auth and without limits: the app as it was before them."""
    return await _flood("unlimited", n)
