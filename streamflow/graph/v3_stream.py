"""``stream_events(version="v3")`` / ``astream_events(version="v3")`` of a compiled graph.

The runtime's side of :mod:`streamflow.stream`: checks the arguments as LangGraph does and hands the run
stream a way to start the run (a :class:`~streamflow.graph.run.Run` of this graph, started when the stream is
first read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..stream import BUILTIN_FACTORIES, AsyncGraphRunStream, GraphRunStream, StreamTransformer
from ..stream.pipeline import TransformerFactory
from .run import Run
from .runtime import coerce_context
from .specs import GraphSpec

__all__ = ["V3_REFUSED_KWARGS", "refuse_v3_kwargs", "transformer_factories", "v3_stream"]

V3_REFUSED_KWARGS = ("stream_mode", "subgraphs")
"""What ``version="v3"`` owns and refuses from the caller, as LangGraph."""


def refuse_v3_kwargs(given: Sequence[str]) -> None:
    """:raises TypeError: when ``given`` names ``stream_mode`` or ``subgraphs`` (LangGraph's message)"""
    collisions = [name for name in V3_REFUSED_KWARGS if name in given]
    if collisions:
        raise TypeError(
            "stream_events(version='v3') / astream_events(version='v3') do "
            f"not accept {', '.join(collisions)}; v3 owns these "
            "(stream_mode is built from the transformer mux, subgraphs is "
            "forced True so nested namespaces flow through scoped muxes)."
        )


def transformer_factories(specs: Sequence[Any] | None) -> list[TransformerFactory]:
    """Check transformer specs: scope-aware callables (a transformer class, ``lambda scope: ...``).

    :raises TypeError: for a transformer instance (it cannot be cloned into subgraph scopes) or a
        non-callable, with LangGraph's message
    """
    factories: list[TransformerFactory] = []
    for spec in specs or ():
        if isinstance(spec, StreamTransformer):
            raise TypeError(
                "stream_events(version='v3') transformers must be scope-aware callables, "
                f"got pre-built instance {type(spec).__name__}. Pass the "
                "transformer class or a factory like "
                "`lambda scope: MyTransformer(scope, ...)`."
            )
        if not callable(spec):
            raise TypeError(
                f"stream_events(version='v3') transformers must be scope-aware callables, got {type(spec).__name__}."
            )
        factories.append(spec)
    return factories


def v3_stream(
    graph: GraphSpec,
    compiled_transformers: Sequence[Any],
    context_schema: type[Any] | None,
    input: Any,
    config: Mapping[str, Any] | None,
    transformers: Sequence[Any] | None,
    context: Any,
    inherited: Any,
    *,
    is_async: bool,
) -> AsyncGraphRunStream | GraphRunStream:
    """The v3 run stream of a run of ``graph`` (``config`` already carries durability and breakpoints), with
    the built-in transformers, then ``compiled_transformers``, then ``transformers``.

    :raises TypeError: for bad transformers (see :func:`transformer_factories`) or a dict ``context`` the
        dataclass ``context_schema`` does not take
    :raises RuntimeError: for a transformer that needs the async lane on the sync stream
    :raises ValueError: when two transformers give the same projection key
    """
    factories = [
        *BUILTIN_FACTORIES,
        *transformer_factories(compiled_transformers),
        *transformer_factories(transformers),
    ]
    run_context = coerce_context(context_schema, context, inherited)

    def start() -> Run:
        return Run(graph, input, config, replay_size=0, context=run_context, deferred=True)

    starter: Callable[[], Run] = start
    astream = AsyncGraphRunStream(starter, factories, is_async=is_async)
    return astream if is_async else GraphRunStream(astream)
