"""The extension point of v3 run streams: :class:`StreamTransformer`, LangGraph's, with its hooks.

Layer 2 (views). A transformer sees a run's envelopes (:class:`~streamflow.stream.ProtocolEvent`) in order,
and builds projections from them: a dict of :class:`~streamflow.stream.StreamChannel` (or other values)
returned by :meth:`StreamTransformer.init`, whose keys become ``run.extensions`` keys (and ``run.<key>``
attributes for a native transformer, ``_native = True``). Transformers are given as factories, called
``factory(scope)`` (a transformer class is one); every consumer of a run stream gets fresh instances, so a
transformer's state is that consumer's, and every consumer sees everything a transformer makes of the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, ClassVar, Literal

from .protocol import ProtocolEvent

__all__ = ["StreamTransformer", "transformer_reads", "transformer_reads_all", "transformer_requires_async"]

_logger = logging.getLogger(__name__)


class StreamTransformer:
    """Base class of stream projections (LangGraph's ``StreamTransformer``).

    Subclasses implement :meth:`init` and override :meth:`process` (or :meth:`aprocess`). ``finalize`` /
    ``fail`` (and their async twins) run when the run ends; the channels of the projection are closed or
    failed after them by the run stream.

    :cvar requires_async: the transformer needs the async lane (``astream_events``); a sync run stream
        refuses it at once. Overriding ``aprocess``, ``afinalize`` or ``afail`` means the same, unless
        ``supports_sync`` is set.
    :cvar supports_sync: set when async hooks are overridden but the sync lane works too
    :cvar required_stream_modes: the stream modes the run must produce for this transformer
    :cvar before_builtins: run ahead of the built-in transformers (to edit envelopes they read)
    """

    requires_async: ClassVar[bool] = False
    supports_sync: ClassVar[bool] = False
    required_stream_modes: ClassVar[tuple[str, ...]] = ()
    before_builtins: ClassVar[bool] = False

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        """:param scope: the namespace this transformer works in, ``()`` for the root graph"""
        self.scope: tuple[str, ...] = scope

    def init(self) -> dict[str, Any]:
        """Return the projection dict (keys become ``run.extensions`` keys).

        :raises NotImplementedError: when a subclass does not implement it
        """
        raise NotImplementedError(f"{type(self).__name__} must implement init()")

    def _on_register(self, pipeline: Any) -> None:
        """Called once the transformer is wired into a consumer's pipeline (built-ins that nest use it)."""

    def process(self, event: ProtocolEvent) -> bool:
        """Handle one envelope on the sync lane; return False to keep it out of the main event log.

        :raises NotImplementedError: when neither this nor :meth:`aprocess` is overridden
        """
        raise NotImplementedError(f"{type(self).__name__} must override process() or aprocess()")

    async def aprocess(self, event: ProtocolEvent) -> bool:
        """Handle one envelope on the async lane (default: :meth:`process`)."""
        return self.process(event)

    def finalize(self) -> None:
        """Called when the run ended normally."""

    async def afinalize(self) -> None:
        """Async twin of :meth:`finalize` (default: it), called after the tasks :meth:`schedule` made ended."""
        self.finalize()

    def fail(self, err: BaseException) -> None:
        """Called when the run ended with ``err``."""

    async def afail(self, err: BaseException) -> None:
        """Async twin of :meth:`fail` (default: it), called after cancelling the tasks :meth:`schedule` made."""
        self.fail(err)

    def schedule(
        self, coro: Coroutine[Any, Any, Any], *, on_error: Literal["log", "raise"] = "log"
    ) -> asyncio.Task[Any]:
        """Run ``coro`` as a task tied to this transformer: awaited before :meth:`afinalize`, cancelled before
        :meth:`afail`. With ``on_error="log"`` its exception is logged, with ``"raise"`` it fails the stream.

        :raises RuntimeError: when no event loop runs in this thread
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{type(self).__name__}.schedule() requires a running event loop; this transformer must run "
                "under astream_events(), not stream_events(). Set requires_async=True on the class so this "
                "fails at registration rather than at first event."
            ) from None
        task = asyncio.ensure_future(self._logged(coro) if on_error == "log" else coro)
        tasks = self._scheduled_task_set()
        tasks.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:  # kept for the pipeline's close
                self._scheduled_failures().append(task.exception())  # type: ignore[arg-type]

        task.add_done_callback(done)
        return task

    @staticmethod
    async def _logged(coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            _logger.exception("Scheduled StreamTransformer task failed")
            return None

    def _scheduled_failures(self) -> list[BaseException]:
        """What scheduled tasks with ``on_error="raise"`` failed with, in the order they ended."""
        failures: list[BaseException] | None = getattr(self, "_stream_scheduled_failures", None)
        if failures is None:
            failures = []
            self._stream_scheduled_failures = failures
        return failures

    def _scheduled_task_set(self) -> set[asyncio.Task[Any]]:
        tasks: set[asyncio.Task[Any]] | None = getattr(self, "_stream_scheduled_tasks", None)
        if tasks is None:
            tasks = set()
            self._stream_scheduled_tasks = tasks
        return tasks


def transformer_requires_async(transformer: StreamTransformer) -> bool:
    """Whether ``transformer`` needs the async lane (see :class:`StreamTransformer`)."""
    if transformer.requires_async:
        return True
    if transformer.supports_sync:
        return False
    cls = type(transformer)
    return any(
        getattr(cls, name) is not getattr(StreamTransformer, name) for name in ("aprocess", "afinalize", "afail")
    )


def transformer_reads_all(transformer: StreamTransformer) -> bool:
    """Whether every envelope must reach ``transformer``: it does not say which envelopes it reads (a built-in
    says so with ``_reads(method, nested)``), or its class processes them otherwise than the class that said."""
    cls = type(transformer)
    for owner in cls.__mro__:
        if "_reads" in vars(owner):
            return cls.process is not owner.process or cls.aprocess is not owner.aprocess  # type: ignore[attr-defined]
    return True


def transformer_reads(transformer: StreamTransformer, method: str, nested: bool) -> bool:
    """Whether ``transformer`` does anything with an envelope of ``method`` at its scope (``nested`` False) or
    below it (True): when it does not, it would keep the envelope and change nothing."""
    if transformer_reads_all(transformer):
        return True
    reads: bool = transformer._reads(method, nested)  # type: ignore[attr-defined]
    return reads
