"""The two-node graph of LangGraph's streaming guide, shared by the ``stream_*`` examples.

``refine_topic`` adds " and cats" to the topic, then ``generate_joke`` writes a joke about it. Each example
passes its own ``generate_joke`` where it shows what a node can stream while it runs.
"""

from collections.abc import Callable
from typing import Any, TypedDict

from streamflow.graph import END, START, StateGraph
from streamflow.graph.compiled import CompiledStateGraph


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State) -> dict[str, str]:
    return {"topic": state["topic"] + " and cats"}


def generate_joke(state: State) -> dict[str, str]:
    return {"joke": f"This is a joke about {state['topic']}"}


def joke_graph(generate: Callable[..., Any] = generate_joke) -> CompiledStateGraph:
    """``START -> refine_topic -> generate_joke -> END``, with ``generate`` as the ``generate_joke`` node."""
    return (
        StateGraph(State)
        .add_node("refine_topic", refine_topic)
        .add_node("generate_joke", generate)
        .add_edge(START, "refine_topic")
        .add_edge("refine_topic", "generate_joke")
        .add_edge("generate_joke", END)
        .compile()
    )
