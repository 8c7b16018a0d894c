"""astream_events(version="v2"): LangChain's event stream for a prompt -> model -> tool graph.

Prints one line per event: its name, the runnable's name, and the depth of its parents (how many runs
enclose it); then the streamed tokens of the model alone, selected with include_types=["chat_model"].
"""

import asyncio

from streamflow.graph import END, START, StateGraph
from streamflow.messages import AIMessage, HumanMessage, MessagesState
from streamflow.models import FakeChatModel
from streamflow.tools import ToolNode, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1", "type": "tool_call"}
model = FakeChatModel([AIMessage(content="Adding them.", tool_calls=[call])], chunk_size=6)


def prompt(state: MessagesState):
    return {"messages": [HumanMessage(content="What is 2 + 3?")]}


async def call_model(state: MessagesState):
    return {"messages": [await model.ainvoke(state["messages"])]}


graph = (
    StateGraph(MessagesState)
    .add_node("prompt", prompt)
    .add_node("model", call_model)
    .add_node("tools", ToolNode([add]))
    .add_edge(START, "prompt")
    .add_edge("prompt", "model")
    .add_edge("model", "tools")
    .add_edge("tools", END)
    .compile()
)


async def amain() -> None:
    async for event in graph.astream_events({"messages": []}, version="v2"):
        print(event["event"], event["name"], len(event["parent_ids"]))
    tokens = []
    async for event in graph.astream_events({"messages": []}, version="v2", include_types=["chat_model"]):
        if event["event"] == "on_chat_model_stream":
            tokens.append(event["data"]["chunk"].content)
    print(tokens)


def main() -> None:
    asyncio.run(amain())


if __name__ == "__main__":
    main()
