"""Stream the full state after each step (stream_mode="values")."""

from shared.joke import joke_graph

graph = joke_graph()


def main() -> None:
    for chunk in graph.stream({"topic": "ice cream"}, stream_mode="values"):
        print(chunk)


if __name__ == "__main__":
    main()
