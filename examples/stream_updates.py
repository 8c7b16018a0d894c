"""Stream the changes made by each node (stream_mode="updates")."""

from shared.joke import joke_graph

graph = joke_graph()


def main() -> None:
    for chunk in graph.stream({"topic": "ice cream"}, stream_mode="updates"):
        print(chunk)


if __name__ == "__main__":
    main()
