"""Scenarios for LCEL chains, with langchain-core's same chain measured side by side when it is installed.

``chain_tokens_astream``
    tokens/s of ``prompt | model | StrOutputParser()`` whose model streams a scripted answer of ``n``
    tokens (no delay), consumed with ``astream()``; every non-empty chunk is counted and the count must be
    ``n``. The notes give the delay from a token leaving the model to the consumer receiving its text, p50
    and p99 (the consumer takes each chunk as soon as it can, so the producer runs ahead by as much as the
    stream lets it: this is the delay of a saturated stream, its buffering included).
``chain_tokens_stream``
    the same through the sync ``stream()`` (the async stream run on a loop of the calling thread's), beside
    langchain-core's sync ``stream()``, which runs the chain as plain generators in the caller's thread
    (no event loop): a ratio is reported, no target is set.
``chain_tokens_astream_events``
    the same chain consumed through ``astream_events(version="v2")``; the ``on_parser_stream`` events with
    text are counted (each token also makes a model and a chain event).

The ``lc_*`` twins run the same chain on langchain-core with its ``GenericFakeChatModel`` (which streams its
answer split at whitespace, so the scripted text is ``"a a a ..."``: ``n`` tokens are ``n // 2`` words and as
many spaces, less one).
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

from .harness import Sample, scenario

HAVE_LANGCHAIN = importlib.util.find_spec("langchain_core") is not None
_TARGET = 5.0


def _sf_chain(n: int, stamps: list[float] | None = None) -> Any:
    from streamflow.models import FakeChatModel
    from streamflow.output_parsers import StrOutputParser
    from streamflow.prompts import ChatPromptTemplate

    class Timed(FakeChatModel):
        async def _astream_chunks(self, messages: Any) -> Any:
            async for chunk in super()._astream_chunks(messages):
                if stamps is not None:
                    stamps.append(time.perf_counter())
                yield chunk

    model = Timed(["a" * n], chunk_size=1)
    return ChatPromptTemplate.from_template("say {word}") | model | StrOutputParser()


def _lc_chain(n: int, stamps: list[float] | None = None) -> Any:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    class Timed(GenericFakeChatModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Any:
            for chunk in super()._stream(*args, **kwargs):
                if stamps is not None and chunk.message.content:
                    stamps.append(time.perf_counter())
                yield chunk

    model = Timed(messages=iter([AIMessage(content=" ".join(["a"] * ((n + 1) // 2)))]))
    return ChatPromptTemplate.from_template("say {word}") | model | StrOutputParser()


def _percentiles(sent: list[float], received: list[float]) -> str:
    delays = sorted(r - s for s, r in zip(sent, received, strict=False))
    if not delays:
        return ""
    p50 = delays[len(delays) // 2] * 1e6
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1e6
    return f"token delay p50 {p50:.0f} us, p99 {p99:.0f} us"


def _expected(n: int, langchain: bool) -> int:
    return 2 * ((n + 1) // 2) - 1 if langchain else n


def _sample(count: int, elapsed: float, n: int, langchain: bool, notes: str = "") -> Sample:
    """The sample of a run that counted ``count`` tokens in ``elapsed`` seconds, once the count is checked."""
    expected = _expected(n, langchain)
    assert count == expected, f"expected {expected} tokens, got {count}"
    return Sample(count, elapsed, notes)


def _astream(build: Any, langchain: bool) -> Any:
    async def bench(n: int) -> Sample:
        sent: list[float] = []
        received: list[float] = []
        chain = build(n, sent)
        count = 0
        clock = time.perf_counter
        start = clock()
        async for chunk in chain.astream({"word": "a"}):
            if chunk:
                received.append(clock())
                count += 1
        return _sample(count, time.perf_counter() - start, n, langchain, _percentiles(sent, received))

    return bench


def _stream(build: Any, langchain: bool) -> Any:
    def bench(n: int) -> Sample:
        chain = build(n)
        count = 0
        start = time.perf_counter()
        for chunk in chain.stream({"word": "a"}):
            if chunk:
                count += 1
        return _sample(count, time.perf_counter() - start, n, langchain)

    return bench


def _astream_events(build: Any, langchain: bool) -> Any:
    async def bench(n: int) -> Sample:
        chain = build(n)
        count = 0
        start = time.perf_counter()
        async for event in chain.astream_events({"word": "a"}, version="v2"):
            if event["event"] == "on_parser_stream" and event["data"]["chunk"]:
                count += 1
        return _sample(count, time.perf_counter() - start, n, langchain)

    return bench


_SCENARIOS = (
    # (method, bench, n, quick_n, langchain's n, langchain's quick_n, with a target)
    ("astream", _astream, 100_000, 20_000, 20_000, 5_000, True),
    ("stream", _stream, 100_000, 20_000, 20_000, 5_000, False),
    ("astream_events", _astream_events, 50_000, 10_000, 5_000, 2_000, True),
)

if HAVE_LANGCHAIN:
    for method, bench, _n, _quick_n, lc_n, lc_quick_n, _targeted in _SCENARIOS:
        scenario(f"lc_chain_tokens_{method}", unit="tokens/s", n=lc_n, quick_n=lc_quick_n, repeats=3)(
            bench(_lc_chain, True)
        )

for method, bench, n, quick_n, _lc_n, _lc_quick_n, targeted in _SCENARIOS:
    lc_name = f"lc_chain_tokens_{method}"
    scenario(
        f"chain_tokens_{method}",
        unit="tokens/s",
        n=n,
        quick_n=quick_n,
        baseline=lc_name if HAVE_LANGCHAIN else "queue_1to1",
        targets={lc_name: _TARGET} if HAVE_LANGCHAIN and targeted else None,
    )(bench(_sf_chain, False))
