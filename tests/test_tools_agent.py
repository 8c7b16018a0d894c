"""Tools, ToolNode and the prebuilt ReAct agent, with the scripted model."""

from __future__ import annotations

import re
from typing import Annotated, Any

import anyio
import pytest

from streamflow.errors import (
    InvalidArgumentError,
    SyncInAsyncContextError,
    ToolArgumentsError,
    ToolInvocationError,
    UnknownStreamModeError,
)
from streamflow.graph import END, START, StateGraph, get_stream_writer
from streamflow.messages import AIMessage, HumanMessage, MessagesState, ToolMessage
from streamflow.models import FakeChatModel
from streamflow.tools import InjectedState, InjectedToolCallId, ToolNode, create_react_agent, tool, tools_condition


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


@tool
def fail(x: str) -> str:
    """Always raises."""
    raise ValueError(f"bad {x}")


def _tool_graph(node: ToolNode) -> Any:
    return StateGraph(MessagesState).add_node("tools", node).add_edge(START, "tools").compile()


def _asking(*calls: AIMessage) -> dict[str, Any]:
    return {"messages": [HumanMessage("hi"), *calls]}


def test_tool_node_raises_a_tool_exception_by_default() -> None:
    graph = _tool_graph(ToolNode([fail]))
    with pytest.raises(ValueError, match="^" + re.escape("bad q") + "$"):
        graph.invoke(_asking(_call("fail", {"x": "q"})))


def _value_error(e: ValueError) -> str:
    return f"handled: {e}"


def _key_error(e: KeyError) -> str:
    return "never"


@pytest.mark.parametrize(
    ("handling", "content"),
    [
        (True, "Error: ValueError('bad q')\n Please fix your mistakes."),
        ("try again", "try again"),
        (ValueError, "Error: ValueError('bad q')\n Please fix your mistakes."),
        ((KeyError, ValueError), "Error: ValueError('bad q')\n Please fix your mistakes."),
        (_value_error, "handled: bad q"),
    ],
)
def test_handle_tool_errors_turns_a_handled_exception_into_an_error_message(handling: Any, content: str) -> None:
    out = _tool_graph(ToolNode([fail], handle_tool_errors=handling)).invoke(_asking(_call("fail", {"x": "q"})))
    message = out["messages"][-1]
    assert (message.content, message.status, message.name, message.tool_call_id) == (content, "error", "fail", "c1")


@pytest.mark.parametrize("handling", [False, KeyError, (KeyError, TypeError), _key_error])
def test_handle_tool_errors_raises_what_it_does_not_handle(handling: Any) -> None:
    with pytest.raises(ValueError, match="^" + re.escape("bad q") + "$"):
        _tool_graph(ToolNode([fail], handle_tool_errors=handling)).invoke(_asking(_call("fail", {"x": "q"})))


def test_bad_arguments_raise_tool_invocation_error_when_errors_are_not_handled() -> None:
    graph = _tool_graph(ToolNode([add], handle_tool_errors=False))
    with pytest.raises(ToolInvocationError) as caught:
        graph.invoke(_asking(_call("add", {"a": 1})))
    assert caught.value.tool_name == "add" and caught.value.tool_kwargs == {"a": 1}
    assert caught.value.errors == [("b", "Field required")]
    assert str(caught.value) == (
        "Error invoking tool 'add' with kwargs {'a': 1} with error:\n b: Field required\n"
        " Please fix the error and try again."
    )


def test_a_handle_tool_errors_of_another_type_is_refused_when_a_tool_fails() -> None:
    graph = _tool_graph(ToolNode([fail], handle_tool_errors=3))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=re.escape("Expected bool, str or callable. Received: 3")):
        graph.invoke(_asking(_call("fail", {"x": "q"})))


@pytest.mark.parametrize(
    ("args", "result"),
    [({"a": "2", "b": 3.0}, "5"), ({"a": True, "b": 1}, "2"), ({"a": 1, "b": 2, "extra": 9}, "3")],
)
def test_arguments_are_read_as_pydantic_lax_mode_reads_them(args: dict[str, Any], result: str) -> None:
    out = _tool_graph(ToolNode([add])).invoke(_asking(_call("add", args)))
    assert (out["messages"][-1].content, out["messages"][-1].status) == (result, "success")


def test_non_string_output_becomes_json_content_without_escaping() -> None:
    @tool
    def facts(city: str) -> dict[str, Any]:
        """Facts."""
        return {"city": city, "temp": 21}

    out = _tool_graph(ToolNode([facts])).invoke(_asking(_call("facts", {"city": "Zürich"})))
    assert out["messages"][-1].content == '{"city": "Zürich", "temp": 21}'


def test_tool_node_takes_a_message_list_and_the_latest_ai_message() -> None:
    node = ToolNode([add])
    messages = [_call("add", {"a": 1, "b": 2}), HumanMessage("later")]
    out = anyio.run(node, messages)
    assert isinstance(out, list) and [m.content for m in out] == ["3"]
    with pytest.raises(InvalidArgumentError, match="^" + re.escape("No AIMessage found in input") + "$"):
        anyio.run(node, [HumanMessage("x")])
    with pytest.raises(InvalidArgumentError, match="^" + re.escape("No message found in input") + "$"):
        anyio.run(node, {"messages": []})


def test_tool_node_with_a_messages_key() -> None:
    out = anyio.run(ToolNode([add], messages_key="chat"), {"chat": [_call("add", {"a": 1, "b": 2})]})
    assert list(out) == ["chat"] and out["chat"][0].content == "3"


def test_tools_condition_reads_lists_mappings_and_a_messages_key() -> None:
    assert tools_condition([_call("add", {})]) == "tools"
    assert tools_condition({"chat": [AIMessage("done")]}, messages_key="chat") == END
    with pytest.raises(InvalidArgumentError, match="No messages found in input state to tool_edge"):
        tools_condition({"messages": []})


def test_react_agent_v2_runs_each_tool_call_as_its_own_task_and_v1_as_one() -> None:
    both = AIMessage(
        "",
        tool_calls=[
            {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1", "type": "tool_call"},
            {"name": "add", "args": {"a": 3, "b": 4}, "id": "c2", "type": "tool_call"},
        ],
    )
    for version, tools_chunks in (("v2", 2), ("v1", 1)):
        agent = create_react_agent(FakeChatModel([both, "done"]), [add], version=version)
        chunks = list(agent.stream({"messages": ["go"]}, stream_mode="updates"))
        assert [next(iter(c)) for c in chunks] == ["agent", *["tools"] * tools_chunks, "agent"]


def test_react_agent_name_names_the_graph_and_the_model_messages() -> None:
    agent = create_react_agent(FakeChatModel(["hi"]), [add], name="helper")
    assert agent.name == "helper"
    assert agent.invoke({"messages": ["x"]})["messages"][-1].name == "helper"
    assert create_react_agent(FakeChatModel(["hi"]), [add]).name == "LangGraph"


def test_react_agent_takes_a_tool_node_a_prompt_function_and_no_tools() -> None:
    model = _Recording([_call("fail", {"x": "q"}), "recovered"])
    agent = create_react_agent(
        model, ToolNode([fail], handle_tool_errors="failed"), prompt=lambda state: state["messages"][-1:]
    )
    out = agent.invoke({"messages": ["go"]})
    assert [m.content for m in out["messages"][-2:]] == ["failed", "recovered"]
    assert [len(seen) for seen in model.seen] == [1, 1]
    alone = create_react_agent(FakeChatModel(["just text"]), [])
    assert [next(iter(c)) for c in alone.stream({"messages": ["x"]})] == ["agent"]


def test_react_agent_refuses_an_unknown_version_unsupported_parameters_and_unknown_keywords() -> None:
    with pytest.raises(
        InvalidArgumentError, match=re.escape("Invalid version v3. Supported versions are 'v1' and 'v2'.")
    ):
        create_react_agent(FakeChatModel(["x"]), [add], version="v3")
    with pytest.raises(InvalidArgumentError, match="checkpointer not supported by streamflow yet"):
        create_react_agent(FakeChatModel(["x"]), [add], checkpointer=object())
    create_react_agent(FakeChatModel(["x"]), [add], checkpointer=None, debug=False)  # unset: accepted
    with pytest.raises(TypeError, match=re.escape("unexpected keyword arguments: {'colour': 1}")):
        create_react_agent(FakeChatModel(["x"]), [add], colour=1)


def test_react_agent_refuses_a_tool_call_without_an_answer_in_the_history() -> None:
    agent = create_react_agent(FakeChatModel(["x"]), [add])
    with pytest.raises(InvalidArgumentError, match="do not have a corresponding ToolMessage"):
        agent.invoke({"messages": [HumanMessage("hi"), _call("add", {"a": 1, "b": 2})]})


@pytest.mark.anyio
async def test_astream_events_stream_mode_shapes_the_graph_chunks_and_refuses_unknown_modes() -> None:
    async def graph_chunks(**kwargs: Any) -> list[Any]:
        agent = create_react_agent(FakeChatModel(["hi"]), [add])
        events = agent.astream_events({"messages": [HumanMessage("x", id="h")]}, version="v2", **kwargs)
        return [
            e["data"]["chunk"] async for e in events if e["event"] == "on_chain_stream" and e["name"] == "LangGraph"
        ]

    (update,) = await graph_chunks()
    assert list(update) == ["agent"]
    first, last = await graph_chunks(stream_mode="values")
    assert [len(first["messages"]), len(last["messages"])] == [1, 2]
    assert [mode for mode, _ in await graph_chunks(stream_mode=["values", "updates"])] == [
        "values",
        "updates",
        "values",
    ]
    with pytest.raises(UnknownStreamModeError, match="nope"):
        await graph_chunks(stream_mode="nope")


def test_a_return_direct_tool_ends_the_agent_run_with_its_message() -> None:
    @tool(return_direct=True)
    def answer(text: str) -> str:
        """The final answer."""
        return f"final: {text}"

    assert answer.return_direct and not add.return_direct
    model = FakeChatModel([_call("answer", {"text": "42"}), "never said"])
    out = create_react_agent(model, [answer, add]).invoke({"messages": ["q"]})
    assert [type(m).__name__ for m in out["messages"]] == ["HumanMessage", "AIMessage", "ToolMessage"]
    assert out["messages"][-1].content == "final: 42"


def test_the_agent_says_it_needs_more_steps_instead_of_calling_tools_it_has_no_steps_left_for() -> None:
    agent = create_react_agent(FakeChatModel([_call("add", {"a": 1, "b": 1})]), [add])
    out = agent.invoke({"messages": ["loop"]}, {"recursion_limit": 4})
    # steps: agent (3 left), tools, agent (1 left: its tool calls are dropped)
    assert [type(m).__name__ for m in out["messages"]] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert out["messages"][-1].content == "Sorry, need more steps to process this request."
    assert not out["messages"][-1].tool_calls


@tool
def count_messages(unit: str, state: Annotated[dict[str, Any], InjectedState]) -> str:
    """Count the state's messages."""
    return f"{len(state['messages'])} {unit}"


@tool
def echo_call(
    text: str, messages: Annotated[list[Any], InjectedState("messages")], call_id: Annotated[str, InjectedToolCallId]
) -> str:
    """Echo, with the number of messages and the call's id."""
    return f"{text}/{len(messages)}/{call_id}"


def test_injected_parameters_are_left_out_of_the_schema() -> None:
    assert count_messages.args_schema["properties"] == {"unit": {"type": "string"}}
    assert echo_call.args_schema["required"] == ["text"]


def test_tool_node_injects_the_state_and_the_call_id_over_what_the_model_gave() -> None:
    asks = AIMessage(
        "",
        tool_calls=[
            {"name": "count_messages", "args": {"unit": "msgs", "state": "forged"}, "id": "c1", "type": "tool_call"},
            {"name": "echo_call", "args": {"text": "hi"}, "id": "c2", "type": "tool_call"},
        ],
    )
    out = _tool_graph(ToolNode([count_messages, echo_call])).invoke(_asking(asks))
    assert [m.content for m in out["messages"][-2:]] == ["2 msgs", "hi/2/c2"]


def test_injected_state_from_a_message_list_and_a_tool_call_id_outside_a_tool_call() -> None:
    asks = _call("count_messages", {"unit": "m"})
    assert [m.content for m in anyio.run(ToolNode([count_messages]), [asks])] == ["1 m"]
    with pytest.raises(ToolArgumentsError, match="InjectedToolCallId"):
        anyio.run(echo_call.ainvoke, {"text": "x", "messages": []})


def test_react_agent_refuses_what_is_not_a_chat_model_and_the_model_hooks() -> None:
    with pytest.raises(InvalidArgumentError, match="takes a chat model"):
        create_react_agent("openai:gpt-4o", [add])
    with pytest.raises(InvalidArgumentError, match="pre_model_hook not supported by streamflow yet"):
        create_react_agent(FakeChatModel(["x"]), [add], pre_model_hook=lambda state: {})


def test_tool_invoke_runs_from_plain_sync_code_and_from_a_sync_node() -> None:
    assert add.invoke({"a": 1, "b": 2}) == 3
    message = add.invoke({"name": "add", "args": {"a": 1, "b": 2}, "id": "c7", "type": "tool_call"})
    assert isinstance(message, ToolMessage) and (message.content, message.tool_call_id) == ("3", "c7")

    def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(str(add.invoke({"a": 2, "b": 5})))]}

    graph = StateGraph(MessagesState).add_node("n", node).add_edge(START, "n").compile()
    assert graph.invoke({"messages": []})["messages"][-1].content == "7"


@pytest.mark.anyio
async def test_tool_invoke_on_the_event_loop_thread_is_refused() -> None:
    with pytest.raises(SyncInAsyncContextError):
        add.invoke({"a": 1, "b": 2})
