"""One run, three views attached at once: a UI view of `updates` that sees every chunk (overflow="block":
the run waits while its buffer is full), a logger view of `debug` that never stalls the run
(overflow="drop_oldest", the default of views attached to a run: it would get a `Lagged` signal instead), and a
metrics view counting raw events by kind."""

import asyncio
import operator
from collections import Counter
from typing import Annotated, TypedDict

from streamflow.channel import Lagged
from streamflow.graph import END, START, StateGraph, StreamWriter


class State(TypedDict):
    topic: str
    notes: Annotated[list, operator.add]


def refine_topic(state: State):
    return {"topic": state["topic"] + " and cats"}


async def research(state: State, writer: StreamWriter):
    writer({"progress": "researching"})
    return {"notes": [f"facts about {state['topic']}"]}


async def draft(state: State):
    return {"notes": [f"a draft about {state['topic']}"]}


graph = (
    StateGraph(State)
    .add_node("refine_topic", refine_topic)
    .add_node("research", research)
    .add_node("draft", draft)
    .add_edge(START, "refine_topic")
    .add_edge("refine_topic", "research")
    .add_edge("refine_topic", "draft")
    .add_edge(["research", "draft"], END)
    .compile()
)


async def ui(view) -> None:
    async with view:
        async for chunk in view:
            print(f"[ui] {chunk}")


async def logger(view) -> None:
    async with view:
        async for chunk in view:
            print(f"[log] step={chunk['step']} {chunk['type']} {chunk['payload']['name']}")


async def metrics(sub, counts: Counter) -> None:
    async with sub:
        async for event in sub:
            counts["Lagged" if isinstance(event, Lagged) else type(event).__name__] += 1


async def amain() -> None:
    counts: Counter = Counter()
    run = graph.start({"topic": "ice cream", "notes": []})
    async with asyncio.TaskGroup() as tg:
        tg.create_task(ui(run.stream("updates", overflow="block")))
        tg.create_task(logger(run.stream("debug", overflow="drop_oldest")))
        tg.create_task(metrics(run.subscribe(overflow="drop_oldest"), counts))
        result = await run.result()
    for kind in sorted(counts):
        print(f"[metrics] {kind}: {counts[kind]}")
    print(f"result: {result}")


def main() -> None:
    asyncio.run(amain())


if __name__ == "__main__":
    main()
