"""LangChain v1's agent streaming page on streamflow: ``create_agent`` with one tool, streamed three ways.

A scripted model stands in for a hosted one (``create_agent("openai:<model>", ...)`` asks the server at
``OPENAI_BASE_URL`` instead): it asks for the weather in San Francisco, then answers with the tool's result.

1. agent progress: ``stream_mode="updates"``, each step's last message as content blocks;
2. LLM tokens: ``stream_mode="messages"``, each token's node and content blocks;
3. custom updates and progress together: ``stream_mode=["updates", "custom"]``, what the tool writes with
   ``get_stream_writer()`` between the steps.
"""

from __future__ import annotations

from typing import Any

from streamflow.agents import create_agent
from streamflow.config import get_stream_writer
from streamflow.messages import AIMessage
from streamflow.models import FakeChatModel


def get_weather(city: str) -> str:
    """Get weather for a given city."""
    writer = get_stream_writer()
    writer(f"Looking up data for city: {city}")
    writer(f"Acquired data for city: {city}")
    return f"It's always sunny in {city}!"


def agent() -> Any:
    call = {"name": "get_weather", "args": {"city": "San Francisco"}, "id": "call_1"}
    model = FakeChatModel(
        [AIMessage(content="", tool_calls=[call]), "It's always sunny in San Francisco!"], chunk_size=8
    )
    return create_agent(model=model, tools=[get_weather], system_prompt="You are a helpful weather assistant.")


QUESTION = {"messages": [{"role": "user", "content": "What is the weather in SF?"}]}

for chunk in agent().stream(QUESTION, stream_mode="updates"):
    for step, data in chunk.items():
        print(f"step: {step}")
        print(f"content: {data['messages'][-1].content_blocks}")

for token, metadata in agent().stream(QUESTION, stream_mode="messages"):
    print(f"node: {metadata['langgraph_node']} content: {token.content_blocks}")

for mode, chunk in agent().stream(QUESTION, stream_mode=["updates", "custom"]):
    print(f"stream_mode: {mode} content: {chunk if mode == 'custom' else list(chunk)}")
