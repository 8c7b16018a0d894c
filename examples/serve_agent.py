"""Serve a small ReAct agent over HTTP with its web page: ``python examples/serve_agent.py [--port 8000]``.

``--agent demo`` serves the calculator-and-lookup agent of ``examples/agent_demo.py`` instead (``make serve``
does), on the local Gemma model when the ``local`` extra is installed (``--model fake`` for the scripted one,
``--base-url`` for an OpenAI-compatible server).

Open http://127.0.0.1:8000/, ask anything: the scripted model calls the ``research`` tool (whose progress
bar fills as it writes progress through its stream writer), then streams its answer token by token. Each
conversation is a thread (``POST /threads``); tick "ask before tools" and the page sends
``config.configurable.approve_tools = true``, so both agents ask before each tool call (see
``agent_demo.ask_before_tool``): the run pauses, the page shows the call with Approve / Reject buttons, and the
answer resumes the thread (``{"command": {"resume": {"type": "approve"}}}``); a rejected tool is not run and
the agent answers without it.
``--smoke`` serves on a free port, asks one question over HTTP, prints what streamed, asks again on a thread
with approval on and approves the tool call, and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket

import anyio
import httpx
import structlog
import uvicorn
from agent_demo import ScriptedAgentModel, ask_before_tool  # a script's own folder is on sys.path
from httpx_sse import aconnect_sse

from streamflow.graph import get_stream_writer
from streamflow.graph.compiled import CompiledStateGraph
from streamflow.messages import AIMessage
from streamflow.server import Boundary, create_app
from streamflow.server.boundary import DEFAULT_ALLOWED_HOSTS
from streamflow.tools import create_react_agent, tool

ANSWER = "Streams let a run show its work as it happens: tokens, node steps and tool progress, all as events."
DECLINED_ANSWER = "I did not use the {tool} tool: you declined the call, so I answer without notes."
STEPS = 10


def build_agent(token_delay: float = 0.05, step_delay: float = 0.15) -> CompiledStateGraph:
    """A fresh agent for each run: a scripted model (one tool call, then the answer; after a declined call,
    :data:`DECLINED_ANSWER`) and one tool, which asks first when the run's config has
    ``configurable.approve_tools``."""

    @tool
    async def research(topic: str) -> str:
        """Look a topic up, reporting progress as it goes."""
        declined = ask_before_tool("research", {"topic": topic})
        if declined is not None:
            return declined
        write = get_stream_writer()
        for done in range(1, STEPS + 1):
            await anyio.sleep(step_delay)
            write({"progress": {"label": "research", "done": done, "total": STEPS}})
        return f"notes on {topic}"

    call = {"name": "research", "args": {"topic": "streaming"}, "id": "", "type": "tool_call"}
    model = ScriptedAgentModel(
        [AIMessage(tool_calls=[call]), ANSWER], declined=DECLINED_ANSWER, chunk_size=4, delay=token_delay
    )
    return create_react_agent(model, [research])


async def smoke() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    app = create_app({"agent": lambda: build_agent(token_delay=0.0, step_delay=0.0)})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", ws="none"))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            body = {"graph": "agent", "input": {"messages": [{"role": "user", "content": "What are streams?"}]}}
            run_id = (await client.post("/runs", json=body)).json()["run_id"]
            answer, nodes, progress = "", [], []
            params = {"stream_mode": "messages,tasks,custom"}
            async with aconnect_sse(client, "GET", f"/runs/{run_id}/stream", params=params) as source:
                async for sse in source.aiter_sse():
                    data = sse.json()
                    if sse.event == "messages" and data["data"][1]["langgraph_node"] == "agent":
                        answer += data["data"][0]["content"]
                    elif sse.event == "tasks" and "triggers" in data["data"]:
                        nodes.append(data["data"]["name"])
                    elif sse.event == "custom":
                        progress.append(data["data"]["progress"]["done"])
                    elif sse.event in ("end", "error", "cancelled"):
                        print("status:", data["status"])
            print("nodes:", " -> ".join(nodes))
            print("progress:", progress)
            print("answer:", answer)
            await ask_first(client)
        server.should_exit = True


async def ask_first(client: httpx.AsyncClient) -> None:
    """The page's way with "ask before tools": a thread, a run that asks, the answer resuming it."""
    thread_id = (await client.post("/threads", json={})).json()["thread_id"]
    config = {"configurable": {"approve_tools": True}}
    question = {"messages": [{"role": "user", "content": "What are streams?"}]}
    for body in ({"input": question, "config": config}, {"command": {"resume": {"type": "approve"}}, "config": config}):
        started = (await client.post(f"/threads/{thread_id}/runs", json={**body, "stream_mode": ["updates"]})).json()
        async with aconnect_sse(client, "GET", started["stream_url"]) as source:
            async for sse in source.aiter_sse():
                data = sse.json()
                if sse.event == "updates" and "__interrupt__" in data["data"]:
                    for asked in data["data"]["__interrupt__"]:
                        print("asked:", asked["value"])
                elif sse.event == "updates" and "tools" in data["data"]:
                    print("approved:", data["data"]["tools"]["messages"][0]["content"])
                elif sse.event in ("end", "error", "cancelled"):
                    print("status:", data["status"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help="a host name browsers reach the app by, beside the loopback names (repeatable), e.g. when serving "
        "on --host 0.0.0.0 to other machines",
    )
    parser.add_argument("--smoke", action="store_true", help="ask one question on a free port and exit")
    parser.add_argument(
        "--agent",
        choices=("scripted", "demo"),
        default="scripted",
        help="scripted: a scripted model with a slow tool; demo: the agent of examples/agent_demo.py",
    )
    parser.add_argument(
        "--model", choices=("local", "fake"), help="the demo agent's model (default: local if installed)"
    )
    parser.add_argument("--base-url", help="the demo agent on an OpenAI-compatible server instead")
    args = parser.parse_args()
    if args.smoke:
        asyncio.run(smoke())
        return
    if args.agent == "demo":
        from agent_demo import build_agent as build_demo_agent
        from agent_demo import local_extra_installed, make_model

        kind = args.model or ("local" if local_extra_installed() else "fake")
        graphs = {"agent": build_demo_agent(make_model(kind, base_url=args.base_url))}
    else:
        graphs = {"agent": build_agent}
    app = create_app(graphs, boundary=Boundary(allowed_hosts=[*DEFAULT_ALLOWED_HOSTS, *args.allowed_host]))
    print(f"serving on http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
