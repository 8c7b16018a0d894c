"""String LLMs against a server on loopback: the OpenAI-compatible completions model on the scripted wire
server (text pieces, HTTP errors, a stream cut mid-way), in a chain and in ``astream_events``."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from streamflow.errors import ChatModelStatusError, ChatModelStreamError, InvalidArgumentError
from streamflow.output_parsers import StrOutputParser
from streamflow.prompts import PromptTemplate
from tests.extras import require_extra
from tests.openai_wire import MODEL, Reply, WireServer

require_extra("openai", "openai")

from streamflow.language_models.openai import OpenAICompletionsLLM  # noqa: E402

pytestmark = pytest.mark.anyio

DEADLINE = 20.0
"""Seconds any one wire-server test may take: nothing may hang."""


def completion(text: str, finish: str | None = None) -> dict[str, Any]:
    """A ``text_completion`` stream event with one choice."""
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
    }


def pieces(*texts: str) -> Reply:
    return Reply(events=[*(completion(t) for t in texts), completion("", "stop")])


async def test_a_prompt_chain_streams_the_completion_pieces_with_llm_events() -> None:
    with anyio.fail_after(DEADLINE):
        async with WireServer(pieces("Once", " upon", " a time"), pieces("x")) as server:
            llm = OpenAICompletionsLLM(MODEL, base_url=server.base_url, max_tokens=8, max_retries=0)
            chain = PromptTemplate.from_template("Tell a story about {topic}") | llm | StrOutputParser()
            streamed = [c async for c in chain.astream({"topic": "cats"})]
            events = [e async for e in chain.astream_events({"topic": "dogs"}) if e["event"].startswith("on_llm")]
    assert streamed == ["Once", " upon", " a time"]
    assert server.requests[0] == {"model": MODEL, "prompt": "Tell a story about cats", "stream": True, "max_tokens": 8}
    assert [e["event"] for e in events] == ["on_llm_start", "on_llm_stream", "on_llm_end"]
    assert events[0]["data"]["input"] == {"prompts": ["Tell a story about dogs"]}
    assert events[-1]["data"]["output"]["generations"][0][0]["text"] == "x"
    assert events[0]["metadata"]["ls_provider"] == "openai"


async def test_http_errors_and_broken_streams_are_typed_errors() -> None:
    with anyio.fail_after(DEADLINE):
        async with WireServer(
            Reply(status=404, message="no such model"),
            Reply(events=[completion("half")], cut=True),
            Reply(events=[completion("never finished")]),
        ) as server:
            llm = OpenAICompletionsLLM(MODEL, base_url=server.base_url, max_retries=0)
            with pytest.raises(ChatModelStatusError, match="HTTP 404") as status:
                await llm.ainvoke("x")
            assert status.value.status_code == 404
            with pytest.raises(ChatModelStreamError, match="broke off after 1 stream events"):
                await llm.ainvoke("x")
            with pytest.raises(ChatModelStreamError, match="no finish_reason"):
                await llm.ainvoke("x")


@pytest.mark.parametrize(
    "kwargs",
    [{"model": ""}, {"model": "m", "timeout": 0}, {"model": "m", "max_tokens": 0}, {"model": "m", "max_retries": -1}],
    ids=repr,
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        OpenAICompletionsLLM(**kwargs)
