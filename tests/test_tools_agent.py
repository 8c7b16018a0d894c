"""Tools, ToolNode and the prebuilt ReAct agent, with the scripted model."""

from __future__ import annotations

import pytest

from streamflow.errors import InvalidArgumentError
from streamflow.graph import get_stream_writer
from streamflow.messages import AIMessage, ToolMessage
from streamflow.models import FakeChatModel
from streamflow.tools import create_react_agent, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    More words that are not part of the description.
    """
    return a + b


@tool
async def get_items(place: str) -> str:
    """Use this tool to list items one might find in a place."""
    writer = get_stream_writer()
    items = ["books", "pencils", "pictures"]
    for item in items:
        writer({"custom_tool_data": item})
    return ", ".join(items)


def _call(name: str, args: dict[str, object], call_id: str = "c1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])


def test_tool_schema_comes_from_signature_and_docstring() -> None:
    assert add.name == "add"
    assert add.description == "Add two integers."
    assert add.args_schema == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }


def test_agent_streams_custom_data_from_a_tool() -> None:
    model = FakeChatModel([_call("get_items", {"place": "office"}), "books, pencils, pictures"])
    agent = create_react_agent(model, [get_items])
    chunks = list(agent.stream({"messages": [{"role": "user", "content": "items?"}]}, stream_mode="custom"))
    assert chunks == [{"custom_tool_data": "books"}, {"custom_tool_data": "pencils"}, {"custom_tool_data": "pictures"}]


def test_bad_arguments_and_unknown_tools_become_error_tool_messages() -> None:
    model = FakeChatModel([_call("add", {"a": "one", "b": 2}), _call("nope", {}, "c2"), "done"])
    agent = create_react_agent(model, [add])
    out = agent.invoke({"messages": [{"role": "user", "content": "add"}]})
    tool_messages = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in tool_messages] == ["error", "error"]
    assert tool_messages[0].content == (
        "Error invoking tool 'add' with kwargs {'a': 'one', 'b': 2} with error:\n"
        " a: Input should be a valid integer, unable to parse string as an integer\n"
        " Please fix the error and try again."
    )
    assert tool_messages[1].content == "Error: nope is not a valid tool, try one of [add]."
    assert out["messages"][-1].content == "done"


def test_agent_updates_show_agent_tools_agent() -> None:
    model = FakeChatModel([_call("add", {"a": 2, "b": 3}), "5"])
    agent = create_react_agent(model, [add])
    nodes = [next(iter(chunk)) for chunk in agent.stream({"messages": ["2+3?"]}, stream_mode="updates")]
    assert nodes == ["agent", "tools", "agent"]
    assert agent.invoke({"messages": ["2+3?"]})["messages"][2].content == "5"


class _Recording(FakeChatModel):
    """The scripted model, remembering the messages of each call."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seen: list[list[object]] = []

    async def _astream_chunks(self, messages):  # type: ignore[no-untyped-def]
        self.seen.append(list(messages))
        async for chunk in super()._astream_chunks(messages):
            yield chunk


def test_react_agent_prompt_goes_before_the_messages_on_every_call_and_stays_out_of_the_state() -> None:
    model = _Recording([_call("add", {"a": 1, "b": 2}), "3"])
    agent = create_react_agent(model, [add], prompt="Answer with a number.")
    result = agent.invoke({"messages": [{"role": "user", "content": "1+2?"}]})
    assert [type(m).__name__ for m in result["messages"]] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert len(model.seen) == 2
    for seen in model.seen:
        assert type(seen[0]).__name__ == "SystemMessage" and seen[0].content == "Answer with a number."  # type: ignore[attr-defined]
        assert type(seen[1]).__name__ == "HumanMessage"


def test_react_agent_refuses_a_prompt_item_that_is_not_a_message_or_a_prompt_of_another_type() -> None:
    with pytest.raises(InvalidArgumentError, match="prompt items must be messages"):
        create_react_agent(FakeChatModel(["x"]), [add], prompt=["not a message"])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="Got unexpected type for `prompt`: <class 'int'>"):
        create_react_agent(FakeChatModel(["x"]), [add], prompt=3)  # type: ignore[arg-type]
