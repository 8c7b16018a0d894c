"""Mount streamflow's run API under /api in a Starlette app that has routes of its own.

Run it to see a request to each side (on a free loopback port); serve it with
``uvicorn examples.embed_starlette:app``. The host's lifespan closes the registry, because Starlette does
not run a mounted app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import TypedDict

import anyio
import httpx
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from streamflow.graph import START, StateGraph
from streamflow.server import RunRegistry, create_app


class State(TypedDict):
    text: str


shout = StateGraph(State).add_node("shout", lambda s: {"text": s["text"].upper() + "!"}).add_edge(START, "shout")
registry = RunRegistry({"shout": shout.compile(name="shout")}, retention=60)


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True, "runs": len(registry)})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with registry:
        yield


app = Starlette(
    routes=[Route("/health", health), Mount("/api", app=create_app(registry, page=False))],
    lifespan=lifespan,
)


async def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", ws="none"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base) as client:
            started = await client.post("/api/runs", json={"graph": "shout", "input": {"text": "hello"}})
            run_id = started.json()["run_id"]
            stream = await client.get(f"/api/runs/{run_id}/stream", params={"stream_mode": "updates"})
            events = [line.removeprefix("event: ") for line in stream.text.splitlines() if line.startswith("event:")]
            print("events:", " ".join(events))
            print("output:", (await client.get(f"/api/runs/{run_id}")).json()["output"])
            print("health:", (await client.get("/health")).json())
        server.should_exit = True


if __name__ == "__main__":
    asyncio.run(main())
