"""Combine several stream modes in one call: items are (mode, chunk) pairs."""

from shared.joke import State, joke_graph

from streamflow.graph import StreamWriter


def generate_joke(state: State, writer: StreamWriter):
    # Stream custom data during node execution
    writer({"custom_key": "Writing custom data while generating a joke"})
    # You can stream multiple items from a single node
    writer({"progress": "50%"})
    writer({"progress": "100%"})
    return {"joke": f"This is a joke about {state['topic']}"}


graph = joke_graph(generate_joke)


def main() -> None:
    for stream_mode, chunk in graph.stream({"topic": "ice cream"}, stream_mode=["updates", "custom"]):
        print(f"Stream mode: {stream_mode}")
        print(chunk)
        print()


if __name__ == "__main__":
    main()
