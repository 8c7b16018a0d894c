"""String LLMs on langchain-core and on streamflow: the fakes of ``language_models.fake``, an LLM of one's own
that streams, alone and in ``prompt | llm | StrOutputParser()``; outputs, streamed chunks and
``astream_events`` (names, tags, data, parents, metadata but LangChain's ``lc_versions``) compared.

LangChain's ``BaseLLM`` hooks are ``_call``/``_stream``; streamflow's are ``_acomplete``/``_astream_text``
(async) and ``LLM._complete``/``_stream_text`` (sync), so the LLM of one's own is written once per library.
Inside a chain LangChain's ``on_llm_stream`` carries a ``GenerationChunk``, streamflow's the text: compared
as the text.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from .conftest import Lib, load, normalise, reference

pytestmark = pytest.mark.anyio


def both() -> list[Lib]:
    return [reference(), load("streamflow")]


def fakes(lib: Lib) -> Any:
    if lib.name == "langgraph":
        from langchain_core.language_models import fake
    else:
        from streamflow.language_models import fake  # type: ignore[no-redef]
    return fake


def words(lib: Lib, text: str, *, sync: bool = False) -> Any:
    """An LLM of one's own answering ``text`` in whitespace-led words, streaming."""
    pieces = [w if i == 0 else " " + w for i, w in enumerate(text.split(" "))]
    if lib.name == "langgraph":
        from langchain_core.language_models.llms import LLM
        from langchain_core.outputs import GenerationChunk

        class Words(LLM):
            @property
            def _llm_type(self) -> str:
                return "words"

            def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
                return text

            def _stream(self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any) -> Iterator[Any]:
                for piece in pieces:
                    chunk = GenerationChunk(text=piece)
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk

        return Words()
    from streamflow.language_models import LLM as SyncLLM
    from streamflow.language_models import BaseLLM

    class AsyncWords(BaseLLM):
        async def _astream_text(self, prompt: str) -> AsyncIterator[str]:
            for piece in pieces:
                yield piece

    class SyncWords(SyncLLM):
        def _stream_text(self, prompt: str) -> Iterator[str]:
            yield from pieces

    return (SyncWords if sync else AsyncWords)(name="Words")


def shape(event: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in event["metadata"].items() if k != "lc_versions"}
    if metadata.get("ls_provider") in ("words", "asyncwords", "syncwords"):  # named by class on each side
        metadata["ls_provider"] = "<words>"
    data = {k: getattr(v, "text", v) for k, v in event["data"].items()}
    data = {k: (v.to_string() if hasattr(v, "to_string") else v) for k, v in data.items()}
    return {
        "event": event["event"],
        "name": event["name"],
        "tags": event["tags"],
        "parents": len(event["parent_ids"]),
        "metadata": metadata,
        "data": normalise(data),
    }


LLMS: dict[str, Callable[[Lib], Any]] = {
    "FakeListLLM": lambda lib: fakes(lib).FakeListLLM(responses=["hello big world", "again"]),
    "FakeStreamingListLLM": lambda lib: fakes(lib).FakeStreamingListLLM(responses=["hi there"]),
    "streaming LLM": lambda lib: words(lib, "one two three"),
}


def chain(lib: Lib, llm: Any) -> Any:
    return lib.PromptTemplate.from_template("say {x}") | llm | lib.StrOutputParser()


@pytest.mark.parametrize("case", sorted(LLMS))
async def test_invoke_batch_and_stream_match(case: str) -> None:
    out = []
    for lib in both():
        build = LLMS[case]
        out.append(
            (
                await build(lib).ainvoke("x"),
                await build(lib).abatch(["x", "y"]),
                [c async for c in build(lib).astream("x")],
                [c async for c in chain(lib, build(lib)).astream({"x": 1})],
            )
        )
    assert out[1] == out[0]


@pytest.mark.parametrize("case", sorted(LLMS))
async def test_astream_events_match(case: str) -> None:
    out = []
    for lib in both():
        alone = [shape(e) async for e in LLMS[case](lib).astream_events("x", version="v2")]
        chained = [shape(e) async for e in chain(lib, LLMS[case](lib)).astream_events({"x": 1}, version="v2")]
        out.append((alone, chained))
    assert out[1] == out[0]


async def test_a_sync_llm_streams_as_an_async_one() -> None:
    ours = load("streamflow")
    sync, async_ = words(ours, "a b c", sync=True), words(ours, "a b c")
    assert [c async for c in sync.astream("x")] == [c async for c in async_.astream("x")] == ["a", " b", " c"]
    names = [e["event"] async for e in chain(ours, sync).astream_events({"x": 1})]
    assert names.count("on_llm_stream") == 3


def test_sync_stream_matches() -> None:
    out = [list(chain(lib, LLMS["streaming LLM"](lib)).stream({"x": 1})) for lib in both()]
    assert out[1] == out[0] == ["one", " two", " three"]


def test_bad_input_is_a_value_error_naming_what_is_allowed() -> None:
    for lib in both():
        llm = fakes(lib).FakeListLLM(responses=["a"])
        with pytest.raises(ValueError, match=r"Invalid input type <class 'int'>. Must be a PromptValue, str, or list"):
            llm.invoke(5)


def test_fake_streaming_error_on_chunk_number() -> None:
    for lib in both():
        llm = fakes(lib).FakeStreamingListLLM(responses=["abc"], error_on_chunk_number=1)
        seen = []
        with pytest.raises(fakes(lib).FakeListLLMError):
            for chunk in llm.stream("x"):
                seen.append(chunk)
        assert seen == ["a"]


# -- the string-LLM streaming page's examples (a scripted LLM in place of OpenAI's) --------------------

SONG = "Sparkling water, oh so clear\nBubbles dancing, without fear"


def test_page_sync_stream_prints_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    printed = []
    for lib in both():
        llm = words(lib, SONG)
        for chunk in llm.stream("Write me a 1 verse song about sparkling water."):
            print(chunk, end="|", flush=True)
        printed.append(capsys.readouterr().out)
    assert printed[1] == printed[0]
    assert printed[0].startswith("Sparkling| water,| oh|")


async def test_page_async_stream_and_truncated_v1_events_print_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    printed = []
    for lib in both():
        llm = words(lib, SONG)
        async for chunk in llm.astream("Write me a 1 verse song about sparkling water."):
            print(chunk, end="|", flush=True)
        idx = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LangChain's deprecation of v1
            async for event in llm.astream_events("Write me a 1 verse song about goldfish on the moon", version="v1"):
                idx += 1
                if idx >= 5:  # Truncate the output
                    print("...Truncated")
                    break
                print(event["event"], event["name"], {k: getattr(v, "text", v) for k, v in event["data"].items()})
        printed.append(capsys.readouterr().out)
    assert printed[1] == printed[0]
    assert "on_llm_stream Words {'chunk': ' water,'}" in printed[0]
