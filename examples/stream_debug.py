"""Stream the state changes in debug mode: task and task_result events."""

from shared.joke import joke_graph

graph = joke_graph()


def main() -> None:
    for chunk in graph.stream({"topic": "ice cream"}, stream_mode="debug"):
        print(chunk)


if __name__ == "__main__":
    main()
