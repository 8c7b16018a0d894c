"""Scenarios for langchain-core chat models inside graph nodes: the same langchain-core model streamed through a
streamflow graph (by the LangChain bridge) and through a LangGraph graph.

``langchain_model_tokens_astream``
    tokens/s of one async node calling ``ainvoke`` on langchain-core's ``GenericFakeChatModel`` answering
    ``n`` one-character tokens (``"a a a ..."``: it splits at whitespace), consumed with
    ``astream(stream_mode="messages")``. That model implements only the sync ``_stream``, so langchain-core
    runs each of its steps in an executor thread: the model alone streams a few thousand tokens/s.
``langchain_model_tokens_stream``
    the same with a sync node calling ``invoke``, consumed with ``stream()``.
``langchain_model_tokens_astream_native``
    the async case with a subclass of ``GenericFakeChatModel`` that implements ``_astream`` (no executor), so
    what the graph library adds per token shows.

``langchain_model_alone_*``
    the same model called outside any graph with one callback handler that does nothing but make it stream
    (as any graph library's handler does): what langchain-core itself costs per token, the bound on both
    libraries' numbers.

Each counts the ``(chunk, metadata)`` pairs with text (for the model alone, the characters of its answer);
the count must equal ``n``. The ``lg_*`` twins run the very same model class on LangGraph. Needs
langchain-core (the ``langchain`` extra); the ``lg_*`` twins and their ratios need the ``compare`` extra.
"""

from __future__ import annotations

import importlib.util
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

from .harness import Sample, scenario
from .models import tokens_async, tokens_sync

HAVE_LANGCHAIN = importlib.util.find_spec("langchain_core") is not None
HAVE_LANGGRAPH = HAVE_LANGCHAIN and importlib.util.find_spec("langgraph") is not None

_TARGET = 3.0


def _text(n: int) -> str:
    return ("a " * ((n + 1) // 2))[:n]


def _model(n: int, native: bool) -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    answer = itertools.repeat(AIMessage(content=_text(n)))
    if not native:
        return GenericFakeChatModel(messages=answer)

    class NativeAsyncFake(GenericFakeChatModel):
        async def _astream(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
        ) -> AsyncIterator[Any]:
            for chunk in self._stream(messages, stop=stop, run_manager=None, **kwargs):
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    return NativeAsyncFake(messages=answer)


def _graph(library: str, n: int, asynchronous: bool, native: bool = False) -> Any:
    if library == "langgraph":
        from langgraph.graph import START, MessagesState, StateGraph
    else:
        from streamflow.graph import START, MessagesState, StateGraph  # type: ignore[assignment]

    model = _model(n, native)
    if asynchronous:

        async def node(state: Any) -> dict[str, Any]:
            return {"messages": [await model.ainvoke("go")]}

    else:

        def node(state: Any) -> dict[str, Any]:
            return {"messages": [model.invoke("go")]}

    return StateGraph(MessagesState).add_node("chat", node).add_edge(START, "chat").compile()  # type: ignore[arg-type]


def _alone(asynchronous: bool, native: bool = False) -> Any:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    class Streams(BaseCallbackHandler, _StreamingCallbackHandler[Any]):
        """Makes ``invoke`` stream (as a graph library's handler does) and does nothing per token."""

        run_inline = True

        def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            return None

        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

    def check(n: int, message: Any, elapsed: float) -> Sample:
        assert len(message.content) == n, f"expected {n} characters, got {len(message.content)}"
        return Sample(n, elapsed)

    if asynchronous:

        async def abench(n: int) -> Sample:
            model = _model(n, native)
            start = time.perf_counter()
            message = await model.ainvoke("go", {"callbacks": [Streams()]})
            return check(n, message, time.perf_counter() - start)

        return abench

    def bench(n: int) -> Sample:
        model = _model(n, native)
        start = time.perf_counter()
        message = model.invoke("go", {"callbacks": [Streams()]})
        return check(n, message, time.perf_counter() - start)

    return bench


_SIZES = {"astream": (1_000, 300), "stream": (4_000, 1_000), "astream_native": (3_000, 1_000)}


def _register() -> None:
    makers = {
        "astream": lambda library: tokens_async(lambda n, streaming: _graph(library, n, streaming)),
        "stream": lambda library: tokens_sync(lambda n, streaming: _graph(library, n, streaming)),
        "astream_native": lambda library: tokens_async(lambda n, streaming: _graph(library, n, streaming, True)),
    }
    alone = {"astream": _alone(True), "stream": _alone(False), "astream_native": _alone(True, native=True)}
    for case, make in makers.items():
        n, quick_n = _SIZES[case]
        twin = f"lg_langchain_model_tokens_{case}"
        bound = f"langchain_model_alone_{case}"
        scenario(bound, unit="tokens/s", n=n, quick_n=quick_n, repeats=3)(alone[case])
        if HAVE_LANGGRAPH:
            scenario(twin, unit="tokens/s", n=n, quick_n=quick_n, repeats=3, compare=bound)(make("langgraph"))
        scenario(
            f"langchain_model_tokens_{case}",
            unit="tokens/s",
            n=n,
            quick_n=quick_n,
            baseline=twin if HAVE_LANGGRAPH else bound,
            compare=bound,
            targets={twin: _TARGET} if HAVE_LANGGRAPH else None,
        )(make("streamflow"))


if HAVE_LANGCHAIN:
    _register()
