"""``create_agent`` and ``init_chat_model``: models from provider strings (the scripted OpenAI wire server on
loopback standing in for a hosted provider), and bad input refused at the boundary."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from streamflow.agents import create_agent
from streamflow.chat_models import init_chat_model
from streamflow.errors import InvalidArgumentError
from streamflow.messages import AIMessage, SystemMessage
from streamflow.models import FakeChatModel
from streamflow.tools import tool
from tests.extras import require_extra
from tests.openai_wire import MODEL, WireServer, text_reply, tool_call_reply

DEADLINE = 20.0
"""Seconds a wire-server test may take: nothing may hang."""


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# -- init_chat_model ----------------------------------------------------------------------------------


def test_openai_models_take_the_server_from_openai_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("openai", "openai")
    from streamflow.models.openai import OpenAIChatModel

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    for name in ("openai:gpt-4o-mini", "gpt-4o-mini"):
        model = init_chat_model(name, temperature=0)
        assert isinstance(model, OpenAIChatModel)
        assert (model.model_name, model.base_url, model.temperature) == ("gpt-4o-mini", "http://127.0.0.1:9/v1", 0)
    named = init_chat_model("my-server-model", model_provider="openai", base_url="http://127.0.0.1:8/v1")
    assert (named.model_name, named.base_url) == ("my-server-model", "http://127.0.0.1:8/v1")  # type: ignore[attr-defined]


def test_local_model_is_the_packaged_gemma_or_a_gguf_path(tmp_path: Any) -> None:
    """Built, not loaded: llama.cpp loads the weights on the first call."""
    from streamflow.models.local import GemmaChatModel

    packaged = init_chat_model("local:gemma-3-270m", max_tokens=8)
    assert isinstance(packaged, GemmaChatModel)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    assert init_chat_model(f"local:{gguf}").engine.model_path == gguf  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgumentError, match="gemma-3-270m"):
        init_chat_model("local:llama-70b")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("anthropic:claude-sonnet-4-5", r"Unsupported provider='anthropic'"),
        ("claude-sonnet-4-5", r"Unsupported provider='anthropic'"),
        ("ollama:llama3", r"Unsupported provider='ollama'"),
        ("mystery-model", r"Unable to infer model provider for model='mystery-model'"),
    ],
)
def test_unknown_provider_names_the_supported_ones(model: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"(?s){message}.*local, openai"):
        init_chat_model(model)


@pytest.mark.parametrize(
    "kwargs",
    [{"model": ""}, {"model": None}, {"model": 3}, {"model": "gpt-4o", "configurable_fields": "any"}],
    ids=repr,
)
def test_malformed_init_chat_model_calls_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match="init_chat_model"):
        init_chat_model(**kwargs)


# -- create_agent -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_agent_from_a_provider_string_calls_the_server_and_its_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("openai", "openai")
    calls = tool_call_reply([("call_1", "add", ['{"a": 2, ', '"b": 3}'])])
    with anyio.fail_after(DEADLINE):
        async with WireServer(calls, text_reply(["2 + 3 ", "= 5"])) as server:
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            agent = create_agent(f"openai:{MODEL}", tools=[add], system_prompt="Be brief.")
            updates = [chunk async for chunk in agent.astream({"messages": ["What is 2 + 3?"]})]
    assert [next(iter(u)) for u in updates] == ["model", "tools", "model"]
    assert updates[-1]["model"]["messages"][-1].content == "2 + 3 = 5"
    first = server.requests[0]
    assert first["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [t["function"]["name"] for t in first["tools"]] == ["add"]


def test_system_prompt_goes_first_and_stays_out_of_the_state() -> None:
    seen: list[Any] = []

    class Echo(FakeChatModel):
        async def _astream_chunks(self, messages: list[Any]) -> Any:
            seen.extend(messages)
            async for chunk in super()._astream_chunks(messages):
                yield chunk

    agent = create_agent(Echo(["hi"]), system_prompt=SystemMessage(content="sys"), name="bot")
    out = agent.invoke({"messages": [{"role": "user", "content": "q"}]})
    assert [m.content for m in seen] == ["sys", "q"]
    assert [m.content for m in out["messages"]] == ["q", "hi"]
    assert isinstance(out["messages"][-1], AIMessage) and out["messages"][-1].name == "bot"
    assert agent.name == "bot"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model": object()}, InvalidArgumentError, "takes a chat model"),
        ({"system_prompt": 3}, InvalidArgumentError, "system_prompt is a str or a SystemMessage"),
        ({"middleware": [object()]}, InvalidArgumentError, "middleware not supported"),
        ({"response_format": dict}, InvalidArgumentError, "response_format not supported"),
        ({"prompt": "old name"}, TypeError, "unexpected keyword arguments: \\['prompt'\\]"),
        ({"tools": [3]}, InvalidArgumentError, "a tool is a BaseTool or a function, got int 3"),
    ],
    ids=repr,
)
def test_bad_create_agent_arguments_are_refused(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    args = {"model": FakeChatModel(["x"]), **kwargs}
    with pytest.raises(error, match=message):
        create_agent(**args)


# -- chat models: streaming switched off ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", 1.5, "tool-calling", None])
def test_disable_streaming_takes_only_langchains_values(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="disable_streaming is True, False or 'tool_calling'"):
        FakeChatModel(["x"], disable_streaming=value)


def test_an_agent_on_a_model_that_does_not_stream_shows_each_answer_whole() -> None:
    call: Any = {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}
    model = FakeChatModel([AIMessage(content="", tool_calls=[call]), "three"], disable_streaming="tool_calling")
    agent = create_agent(model, tools=[add])
    chunks = [
        (type(m).__name__, m.content, md["langgraph_node"])
        for m, md in agent.stream({"messages": ["1 + 2?"]}, stream_mode="messages")
    ]
    assert chunks == [("AIMessage", "", "model"), ("ToolMessage", "3", "tools"), ("AIMessage", "three", "model")]
