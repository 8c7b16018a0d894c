"""Scenarios for LangGraph 1.2's v3 run streams, with LangGraph measured side by side when it is installed.

``stream_v3_tokens_astream``
    tokens/s of the graph of ``messages_tokens_astream`` (one async node whose chat model streams a scripted
    answer of ``n`` one-character tokens through ``ainvoke``) run through ``await
    graph.astream_events(..., version="v3")``, read by two concurrent tasks: one iterating the ``messages``
    projection and, for each chat model stream, its ``text`` deltas; one iterating the ``values``
    projection. Each non-empty delta counts as its length in tokens; the count must equal ``n``, and the
    ``values`` reader must see the 2 states of the run (the input, then the answer appended).
``stream_v3_tokens_stream``
    the same with a sync node calling ``invoke`` through ``graph.stream_events(..., version="v3")``, read in
    one loop over ``run.interleave("values", "messages")`` (each chat model stream's ``text`` read in the
    loop body), as a sync run stream has no second task to read the other projection.

The ``lg_*`` twins run the same graphs on LangGraph with its ``GenericFakeChatModel`` (which streams its
answer split at whitespace: ``n`` tokens are ``n // 2`` words and as many spaces, so its deltas are one
character each as well).
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
import warnings
from typing import Any

from .harness import Sample, scenario
from .models import _PROMPT, _lg_token_graph, _sf_token_graph

HAVE_LANGGRAPH = importlib.util.find_spec("langgraph") is not None

_STATES_PER_RUN = 2


def _check(n: int, tokens: int, states: list[Any]) -> None:
    assert tokens == n, f"expected {n} tokens, got {tokens}"
    assert len(states) == _STATES_PER_RUN, f"expected {_STATES_PER_RUN} states, got {len(states)}"
    assert len(states[-1]["messages"]) == 2, f"expected 2 messages in the last state, got {states[-1]}"


def v3_tokens_async(build: Any) -> Any:
    """A scenario reading the ``messages`` (each stream's text deltas) and ``values`` projections of
    ``await graph.astream_events(..., version="v3")`` of ``build(n, True)`` in two tasks: tokens/s."""

    async def bench(n: int) -> Sample:
        """tokens/s read from ``run.messages`` (each stream's text deltas) while a second task reads
        ``run.values``, of ``astream_events(version="v3")``"""
        graph = build(n, True)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LangGraph's v3 API warns that it is experimental
            run = await graph.astream_events({"messages": [_PROMPT]}, version="v3")

        async def tokens() -> int:
            count = 0
            async for message in run.messages:
                async for delta in message.text:
                    count += len(delta)
            return count

        async def states() -> list[Any]:
            return [state async for state in run.values]

        count, seen = await asyncio.gather(tokens(), states())
        elapsed = time.perf_counter() - start
        _check(n, count, seen)
        return Sample(count, elapsed)

    return bench


def v3_tokens_sync(build: Any) -> Any:
    """As :func:`v3_tokens_async`, with ``graph.stream_events(..., version="v3")`` of ``build(n, False)``
    read through ``run.interleave("values", "messages")``."""

    def bench(n: int) -> Sample:
        """tokens/s read through ``run.interleave("values", "messages")`` of ``stream_events(version="v3")``"""
        graph = build(n, False)
        count = 0
        seen: list[Any] = []
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = graph.stream_events({"messages": [_PROMPT]}, version="v3")
        for name, item in run.interleave("values", "messages"):
            if name == "messages":
                for delta in item.text:
                    count += len(delta)
            else:
                seen.append(item)
        elapsed = time.perf_counter() - start
        _check(n, count, seen)
        return Sample(count, elapsed)

    return bench


if HAVE_LANGGRAPH:
    scenario("lg_stream_v3_tokens_astream", unit="tokens/s", n=20_000, quick_n=5_000, repeats=3)(
        v3_tokens_async(_lg_token_graph)
    )
    scenario("lg_stream_v3_tokens_stream", unit="tokens/s", n=20_000, quick_n=5_000, repeats=3)(
        v3_tokens_sync(_lg_token_graph)
    )

_LG_TARGET = 5.0
scenario(
    "stream_v3_tokens_astream",
    unit="tokens/s",
    n=100_000,
    quick_n=20_000,
    baseline="lg_stream_v3_tokens_astream" if HAVE_LANGGRAPH else "messages_tokens_astream",
    compare=("messages_tokens_astream",),
    targets={"lg_stream_v3_tokens_astream": _LG_TARGET} if HAVE_LANGGRAPH else None,
)(v3_tokens_async(_sf_token_graph))
scenario(
    "stream_v3_tokens_stream",
    unit="tokens/s",
    n=100_000,
    quick_n=20_000,
    baseline="lg_stream_v3_tokens_stream" if HAVE_LANGGRAPH else "messages_tokens_stream",
    compare=("messages_tokens_stream",),
    targets={"lg_stream_v3_tokens_stream": _LG_TARGET} if HAVE_LANGGRAPH else None,
)(v3_tokens_sync(_sf_token_graph))
