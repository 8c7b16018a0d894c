"""Emit custom data from inside a node with get_stream_writer() (stream_mode="custom")."""

from typing import TypedDict

from streamflow.graph import START, StateGraph, get_stream_writer


class State(TypedDict):
    query: str
    answer: str


def process_node(state: State):
    writer = get_stream_writer()

    # Emit custom data
    writer({"status": "Starting processing"})

    # Do some work
    # ...

    writer({"progress": 50, "message": "Halfway done"})

    # More work
    # ...

    writer({"status": "Processing complete"})
    return {"answer": "Completed"}


graph = StateGraph(State).add_node("process_node", process_node).add_edge(START, "process_node").compile()


def main() -> None:
    for chunk in graph.stream({"query": "example"}, stream_mode="custom"):
        print(chunk)


if __name__ == "__main__":
    main()
