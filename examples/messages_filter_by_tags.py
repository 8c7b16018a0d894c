"""Filter LLM tokens by the tags of the model that produced them: metadata["tags"] in stream_mode="messages"."""

import asyncio
from typing import TypedDict

from streamflow.graph import START, StateGraph
from streamflow.models import FakeChatModel

joke_model = FakeChatModel(["Why was the cat sitting on the computer? To keep an eye on the mouse."], tags=["joke"])
poem_model = FakeChatModel(["Whiskers in moonlight, soft paws on the sill."], tags=["poem"])


class State(TypedDict, total=False):
    topic: str
    joke: str
    poem: str


async def dual_generation(state, config):
    joke_response = await joke_model.ainvoke(
        [{"role": "user", "content": f"Write a joke about {state['topic']}"}], config
    )
    poem_response = await poem_model.ainvoke(
        [{"role": "user", "content": f"Write a poem about {state['topic']}"}], config
    )
    return {"joke": joke_response.content, "poem": poem_response.content}


graph = StateGraph(State).add_node("dual_generation", dual_generation).add_edge(START, "dual_generation").compile()


async def amain() -> None:
    async for message_chunk, metadata in graph.astream({"topic": "cats"}, stream_mode="messages"):
        # Only display joke tokens
        if message_chunk.content and metadata["tags"] == ["joke"]:
            print(message_chunk.content, end="", flush=True)
    print()


def main() -> None:
    asyncio.run(amain())


if __name__ == "__main__":
    main()
