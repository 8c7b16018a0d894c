"""The "tools" stream mode: each tool call's start, the progress its tool writes, and its end or error.

A ReAct agent (scripted model) calls two tools at once: `count_words` reports progress through
get_stream_writer() while it works, `divide` fails on a division by zero. The agent recovers and answers.
"""

from streamflow.graph import get_stream_writer
from streamflow.messages import AIMessage
from streamflow.models import FakeChatModel
from streamflow.tools import ToolNode, create_react_agent, tool


@tool
def count_words(text: str) -> int:
    """Count the words of a text."""
    writer = get_stream_writer()
    words = text.split()
    for done in range(1, len(words) + 1):
        writer({"counted": done, "of": len(words)})
    return len(words)


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


calls = [
    {"name": "count_words", "args": {"text": "the cat sat down"}, "id": "call-count", "type": "tool_call"},
    {"name": "divide", "args": {"a": 1, "b": 0}, "id": "call-divide", "type": "tool_call"},
]
model = FakeChatModel([AIMessage(tool_calls=calls), "4 words; 1/0 is undefined."])
# handle_tool_errors=True: a raising tool answers the model with an error message instead of failing the run
agent = create_react_agent(model, ToolNode([count_words, divide], handle_tool_errors=True))


def main() -> None:
    records = agent.stream({"messages": [{"role": "user", "content": "count and divide"}]}, stream_mode="tools")
    by_call: dict[str, list[dict]] = {}
    for record in records:
        by_call.setdefault(record["tool_call_id"], []).append(record)
    for call_id in sorted(by_call):  # the two calls run concurrently; print each call's records in order
        for record in by_call[call_id]:
            if record["event"] == "tool-finished":  # its output is the call's ToolMessage: show its content
                record = {**record, "output": record["output"].content}
            print(record)


if __name__ == "__main__":
    main()
