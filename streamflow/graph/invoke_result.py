"""What ``invoke()``/``ainvoke()`` make of a run: its final state (with the interrupts it ended on), or the
chunks of ``stream_mode`` it keeps and those of ``print_mode`` it prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..modes import StateCoercion, ViewSpec
from ..views import View
from .output import GraphOutput
from .run import Run

__all__: list[str] = []


def _with_interrupts(
    state: Any, interrupts: tuple[Any, ...], version: str, coercion: StateCoercion | None = None
) -> Any:
    """``invoke()``'s result for a run that ended with ``interrupts`` (empty: it finished), as LangGraph 1.2
    gives it: v2 a :class:`GraphOutput` carrying them (its value an instance of a dataclass or pydantic output
    schema, by ``coercion``); v1 the state with ``"__interrupt__"`` (a list of them) added; a state of None,
    or a root value that is not a dict, gives ``{"__interrupt__": [...]}`` alone."""
    if version == "v2":
        return GraphOutput(state if coercion is None else coercion.value(state), interrupts)
    if not interrupts:
        return state
    if isinstance(state, dict):
        return {**state, "__interrupt__": list(interrupts)}
    return {"__interrupt__": list(interrupts)}


def _output_only(open_view: Callable[[Run], View]) -> Callable[[Run], View]:
    """``open_view`` that first makes the run show its root graph's output schema's keys only (see
    :attr:`~streamflow.graph.context.RunContext.output_ns`), as LangGraph's ``invoke()`` streams."""

    def open_output_view(run: Run) -> View:
        run.context.output_ns = ()
        return open_view(run)

    return open_output_view


class _Collector:
    """What ``invoke()`` does with the v2 parts of a run streamed with ``modes`` (the stream modes, then the
    print modes not among them): print those of ``print_mode`` and keep those of ``stream_mode``, shaped as
    ``stream()`` would shape them (the last ``values`` chunk only, when ``stream_mode`` is ``"values"``)."""

    def __init__(
        self,
        stream_mode: str | Sequence[str],
        print_mode: str | Sequence[str],
        subgraphs: bool,
        version: str,
        coercion: StateCoercion | None = None,
    ) -> None:
        spec = ViewSpec.parse(stream_mode, subgraphs, version, coercion)
        self.coercion = spec.coercion
        printed = ViewSpec.parse(print_mode) if print_mode else None
        self.kept = frozenset(spec.modes)
        self.printed = frozenset(printed.modes) if printed is not None else frozenset()
        self.modes = (
            [*spec.modes, *(mode for mode in printed.modes if mode not in self.kept)] if printed else list(spec.modes)
        )
        self.subgraphs = subgraphs
        self.version = version
        self.last_only = stream_mode == "values"
        self.shape = spec.shaper()
        self.chunks: list[Any] = []
        self.last: Any = None

    def add(self, part: Mapping[str, Any]) -> None:
        """Print and keep one v2 part of the run."""
        mode, ns, chunk = part["type"], part["ns"], part["data"]
        if mode in self.printed:
            graph = f" \033[1;30;33m[graph={ns}]\033[0m" if self.subgraphs and ns else ""
            sys.stdout.write(f"\033[1m[{mode}]\033[0m{graph} {chunk!r}\n")
        if mode in self.kept:
            if self.last_only:
                if not ns:
                    self.last = chunk
            else:
                self.chunks.append(self.shape(mode, ns, chunk))

    def result(self) -> Any:
        """The final state (a :class:`GraphOutput` of it for ``v2``) or the list of chunks."""
        if not self.last_only:
            return self.chunks
        if self.version != "v2":
            return self.last
        return GraphOutput(self.last if self.coercion is None else self.coercion.value(self.last))
