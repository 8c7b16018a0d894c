"""Filter LLM tokens by the node that produced them: metadata["langgraph_node"] in stream_mode="messages".

Two nodes call a (scripted) model concurrently; only the poem's tokens are printed.
"""

from typing import TypedDict

from streamflow.graph import START, StateGraph
from streamflow.models import FakeChatModel


class State(TypedDict, total=False):
    topic: str
    joke: str
    poem: str


# Scripted models stand in for a real one (each answers with its script, two characters per token).
joke_model = FakeChatModel(["Why do cats sit on laptops? To keep an eye on the mouse."], chunk_size=2)
poem_model = FakeChatModel(["Soft paws at dawn, a purr that fills the room."], chunk_size=2)


def write_joke(state: State):
    topic = state["topic"]
    joke_response = joke_model.invoke([{"role": "user", "content": f"Write a joke about {topic}"}])
    return {"joke": joke_response.content}


def write_poem(state: State):
    topic = state["topic"]
    poem_response = poem_model.invoke([{"role": "user", "content": f"Write a short poem about {topic}"}])
    return {"poem": poem_response.content}


graph = (
    StateGraph(State)
    .add_node("write_joke", write_joke)
    .add_node("write_poem", write_poem)
    # write both the joke and the poem concurrently
    .add_edge(START, "write_joke")
    .add_edge(START, "write_poem")
    .compile()
)


def main() -> None:
    for message_chunk, metadata in graph.stream({"topic": "cats"}, stream_mode="messages"):
        # Only display tokens from the "write_poem" node
        if message_chunk.content and metadata["langgraph_node"] == "write_poem":
            print(message_chunk.content, end="", flush=True)
    print()


if __name__ == "__main__":
    main()
