"""Async streaming: astream() with an async node that takes a `writer: StreamWriter` parameter."""

import asyncio

from shared.joke import State, joke_graph

from streamflow.graph import START, StateGraph, StreamWriter


# Add writer parameter directly to function signature
async def generate_joke(state: State, writer: StreamWriter):
    writer({"custom_key": "Streaming custom data while generating a joke"})
    return {"joke": f"This is a joke about {state['topic']}"}


updates_graph = joke_graph(generate_joke)

graph = StateGraph(State).add_node("generate_joke", generate_joke).add_edge(START, "generate_joke").compile()


async def amain() -> None:
    async for chunk in updates_graph.astream({"topic": "ice cream"}, stream_mode="updates"):
        print(chunk)
    async for chunk in graph.astream({"topic": "ice cream"}, stream_mode="custom"):
        print(chunk)


def main() -> None:
    asyncio.run(amain())


if __name__ == "__main__":
    main()
