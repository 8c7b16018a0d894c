"""The demo agent in a worker process, served over HTTP by a web process, the two meeting in Redis.

    python examples/demo_distributed.py                 # start both, ask one question, print its stream, stop
    python examples/demo_distributed.py --model fake    # the scripted model (instant)
    python examples/demo_distributed.py --serve         # keep both running: open the printed URL in a browser

One command starts two processes of this same script and talks to them only over HTTP:

    worker   a RedisWorker running the ReAct agent of examples/agent_demo.py: it takes queued runs from
             Redis, executes them, and writes every event to the run's Redis stream
    web      uvicorn on 127.0.0.1 serving create_app(RedisRunSource(...)): POST /runs queues a run for the
             worker; GET /runs/{id}/stream reads it back from Redis as Server-Sent Events

Then it asks the question (POST /runs) and prints the SSE stream as it arrives: the model's tokens
(``agent>``), tool progress (``[tool]``) and node updates (``[update]``), and shuts both processes down.
Redis must answer at ``--redis`` (``make demo-distributed`` starts the machine's own with .ci/redis-up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import redis
import structlog
from agent_demo import (  # a script's own folder is on sys.path: agent_demo.py sits next to this one
    DEFAULT_QUESTION,
    INSTRUCTIONS,
    RECURSION_LIMIT,
    Terminal,
    build_agent,
    describe_update,
    fake_model,
    few_shot,
    local_extra_installed,
    make_model,
)
from httpx_sse import connect_sse

from streamflow.messages import HumanMessage, SystemMessage, coerce_message
from streamflow.server.encoding import to_jsonable

GRAPH = "agent"
MODES = "messages,custom,updates"


def quiet() -> None:
    """Only warnings and errors from structlog, on stderr (the processes' stdout carries their protocol)."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


# -- the worker process -------------------------------------------------------------------------------


async def worker(args: argparse.Namespace) -> None:
    from streamflow.redis import RedisWorker

    if args.model == "fake":
        graphs: dict[str, Any] = {GRAPH: lambda: build_agent(fake_model())}  # a fresh script for each run
    else:
        graphs = {GRAPH: build_agent(make_model(args.model, base_url=args.base_url, model_name=args.model_name))}
    async with RedisWorker(graphs, args.redis, prefix=args.prefix, max_runs=2) as runner:
        serving = asyncio.create_task(runner.serve())
        await runner.ready.wait()
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, serving.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serving


# -- the web process ----------------------------------------------------------------------------------


async def web(args: argparse.Namespace) -> None:
    import uvicorn

    from streamflow.server import RedisRunSource, create_app

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # bound and listening: a request made from now on waits in the backlog for uvicorn
    # the graph is given so that a question's input is checked here, before it is queued
    async with RedisRunSource(args.redis, {GRAPH: build_agent(fake_model())}, prefix=args.prefix) as source:
        config = uvicorn.Config(
            create_app(source), log_config=None, log_level="warning", ws="none", timeout_graceful_shutdown=2
        )
        print(f"ready http://{args.host}:{sock.getsockname()[1]}/", flush=True)
        await uvicorn.Server(config).serve([sock])


# -- the launcher -------------------------------------------------------------------------------------


def spawn(role: str, args: argparse.Namespace, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Start this script as ``role``; return the process and what it printed after ``ready``."""
    command = [sys.executable, __file__, role, "--redis", args.redis, "--prefix", args.prefix, *extra]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the child prints "ready ..." once it serves, or exits
    if not line.startswith("ready"):
        proc.wait(timeout=30)
        raise SystemExit(f"the {role} process did not start (exit code {proc.returncode})")
    return proc, line.removeprefix("ready").strip()


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def processes(args: argparse.Namespace) -> Iterator[str]:
    """Start the worker and the web process, yield the web's URL, stop both."""
    model_args = ["--model", args.model]
    if args.base_url:
        model_args += ["--base-url", args.base_url, *(["--model-name", args.model_name] if args.model_name else [])]
    started: list[subprocess.Popen[str]] = []
    try:
        proc, _ = spawn("worker", args, *model_args)
        started.append(proc)
        print(f"worker: pid {proc.pid}, model {args.base_url or args.model}, prefix {args.prefix!r}")
        proc, url = spawn("web", args, "--host", args.host, "--port", str(args.port))
        started.append(proc)
        print(f"web: pid {proc.pid}, serving on {url}")
        yield url
    finally:
        for proc in reversed(started):
            stop(proc)


def question_input(kind: str, question: str) -> dict[str, Any]:
    """The agent's input as JSON: instructions, worked examples for the local model, the question."""
    examples = few_shot() if kind == "local" else []
    return {"messages": to_jsonable([SystemMessage(content=INSTRUCTIONS), *examples, HumanMessage(content=question)])}


def ask(url: str, kind: str, question: str) -> None:
    """Queue the question over HTTP and print its SSE stream as it arrives."""
    out = Terminal()
    out.line(f"question: {question}")
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=None)) as client:
        body = {"graph": GRAPH, "input": question_input(kind, question), "config": {"recursion_limit": RECURSION_LIMIT}}
        response = client.post("/runs", json=body)
        response.raise_for_status()
        run_id = response.json()["run_id"]
        with connect_sse(client, "GET", f"/runs/{run_id}/stream", params={"stream_mode": MODES}) as source:
            for sse in source.iter_sse():
                data = sse.json()
                if sse.event == "messages":
                    chunk, metadata = data["data"]
                    if metadata["langgraph_node"] == "agent" and chunk["content"]:
                        out.token(chunk["content"])
                elif sse.event == "custom":
                    out.line(f"[tool] {data['data']['tool']}: {data['data']['status']}")
                elif sse.event == "updates":
                    for node, values in data["data"].items():
                        messages = [coerce_message(m) for m in (values or {}).get("messages", [])]
                        for text in describe_update(node, {"messages": messages}):
                            out.line(text)
                elif sse.event == "lag":
                    out.line(f"(missed {data['missed']} events)")
                elif sse.event in ("end", "error", "cancelled"):
                    out.line(f"status: {data['status']}")
                    if sse.event == "end":
                        out.line(f"answer: {data['output']['messages'][-1]['content'].strip()}")
                    elif sse.event == "error":
                        out.line(f"error: {data['error_type']}: {data['error_message']}")


def launch(args: argparse.Namespace) -> None:
    try:
        with redis.Redis.from_url(args.redis, socket_connect_timeout=2) as client:
            client.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise SystemExit(f"no Redis answers at {args.redis} ({exc}); start one, e.g. with: bash .ci/redis-up") from None
    try:
        with processes(args) as url:
            ask(url, args.model, args.question)
            if args.serve:
                print(f"serving: open {url} in a browser; Ctrl-C stops both processes", flush=True)
                signal.signal(signal.SIGTERM, signal.default_int_handler)
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait()  # until Ctrl-C or SIGTERM
    finally:
        if args.own_prefix:  # the keys of this demo's runs and queue go with it
            with redis.Redis.from_url(args.redis) as client:
                keys = list(client.scan_iter(match=f"{args.prefix}:*", count=1000))
                if keys:
                    client.delete(*keys)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The demo agent in a worker process, served by a web process.")
    parser.add_argument("role", nargs="?", choices=["launch", "worker", "web"], default="launch")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis both processes use")
    parser.add_argument("--prefix", help="the Redis key prefix (a fresh one, removed at the end, by default)")
    parser.add_argument("--model", choices=["local", "fake"], default=None, help="as in agent_demo.py")
    parser.add_argument("--base-url", help="an OpenAI-compatible server instead, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model-name", help="the model name to ask the server for (with --base-url)")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="the web process's port (0: a free one)")
    parser.add_argument("--serve", action="store_true", help="keep both processes running after the question")
    args = parser.parse_args(argv)
    args.own_prefix = args.prefix is None
    if args.prefix is None:
        args.prefix = f"streamflow-demo-{uuid.uuid4().hex[:8]}"
    if args.model is None:
        args.model = "local" if local_extra_installed() else "fake"
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "launch":
        launch(args)
        return
    quiet()
    if args.role == "web":
        # uvicorn stops on SIGINT and SIGTERM, then raises the signal again for the handler it found: make
        # that one a no-op, so the web process closes its Redis source and exits normally
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
    asyncio.run(worker(args) if args.role == "worker" else web(args))


if __name__ == "__main__":
    main()
