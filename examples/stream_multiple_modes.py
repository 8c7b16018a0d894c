"""Combine several stream modes in one call: items are (mode, chunk) pairs."""

from typing import TypedDict

from streamflow.graph import START, StateGraph, StreamWriter


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State):
    return {"topic": state["topic"] + " and cats"}


def generate_joke(state: State, writer: StreamWriter):
    # Stream custom data during node execution
    writer({"custom_key": "Writing custom data while generating a joke"})
    # You can stream multiple items from a single node
    writer({"progress": "50%"})
    writer({"progress": "100%"})
    return {"joke": f"This is a joke about {state['topic']}"}


graph = (
    StateGraph(State)
    .add_node("refine_topic", refine_topic)
    .add_node("generate_joke", generate_joke)
    .add_edge(START, "refine_topic")
    .add_edge("refine_topic", "generate_joke")
    .compile()
)


def main() -> None:
    for stream_mode, chunk in graph.stream({"topic": "ice cream"}, stream_mode=["updates", "custom"]):
        print(f"Stream mode: {stream_mode}")
        print(chunk)
        print()


if __name__ == "__main__":
    main()
