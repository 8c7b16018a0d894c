"""LangGraph's own client talking to a streamflow server: LangChain's agent streaming protocol over a WebSocket.

The app serves a graph that asks for approval with ``interrupt()`` and then streams a model's draft. The
client is ``langgraph_sdk`` (``pip install langgraph-sdk``), unchanged: ``client.threads.stream(...)`` starts
a run, waits for the interrupt, answers it with ``thread.run.respond(...)``, reads the resumed run's messages
as they come and then the thread's final state. Run it to see both sides on a free loopback port;
``transport="sse"`` works the same.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import anyio
import structlog
import uvicorn
from langgraph_sdk import get_client

from streamflow.graph import END, START, StateGraph
from streamflow.graph.message import add_messages
from streamflow.models.fake import FakeChatModel
from streamflow.server import PROTOCOL_VERSION, create_app
from streamflow.types import interrupt


class State(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    approved: bool


model = FakeChatModel(["Here is the draft you asked for."], chunk_size=6)


async def write(state: State) -> dict[str, Any]:
    return {"messages": [await model.ainvoke(state["messages"])]}


def approve(state: State) -> dict[str, Any]:
    return {"approved": interrupt({"question": "write the draft?"})["approved"]}


graph = (
    StateGraph(State)
    .add_node("approve", approve)
    .add_node("write", write)
    .add_edge(START, "approve")
    .add_edge("approve", "write")
    .add_edge("write", END)
    .compile(name="drafter")
)


async def _collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


async def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    app = create_app({"drafter": graph}, page=False)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", ws="websockets-sansio"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        print("protocol:", PROTOCOL_VERSION)
        async with (
            get_client(url=f"http://127.0.0.1:{sock.getsockname()[1]}", api_key=None) as client,
            client.threads.stream(assistant_id="drafter", transport="websocket") as thread,
        ):
            await thread.run.start(input={"messages": [{"role": "user", "content": "draft a note"}]})
            async for _ in thread.values:  # the state as it changes; ends when the run pauses on interrupt()
                pass
            print("interrupted:", thread.interrupted, [pending["value"] for pending in thread.interrupts])
            # subscribe to the messages before resuming (a subscription sees what comes after it), then resume
            messages = asyncio.ensure_future(_collect(thread.messages))
            await thread.run.respond({"approved": True})
            for stream in await messages:  # the resumed run's messages, until it ends
                print(f"message from {stream.node}: {await stream.text}")
            output = await thread.output
            print("approved:", output["approved"], "| messages:", len(output["messages"]))
        server.should_exit = True


if __name__ == "__main__":
    asyncio.run(main())
