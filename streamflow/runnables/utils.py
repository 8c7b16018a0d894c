"""Helpers of the Runnables: adding chunks up, and several readers of one stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["END", "AddableDict", "add_chunk", "Tee", "all_or_none", "closing", "gather", "merge_streams", "one"]

END: Any = object()


async def one(value: Any) -> AsyncIterator[Any]:
    yield value


def add_chunk(total: Any, chunk: Any) -> Any:
    """``total + chunk``, as LangChain adds input chunks up: ``chunk`` alone when ``total`` is ``END`` (no chunk
    yet) or the two cannot be added (``+`` raises TypeError)."""
    if total is END:
        return chunk
    try:
        return total + chunk
    except TypeError:
        return chunk


async def gather(chunks: AsyncIterator[Any]) -> Any:
    """The input chunks added up with ``+`` (LangChain's default ``atransform``); ``END`` for none."""
    final: Any = END
    async for chunk in chunks:
        final = add_chunk(final, chunk)
    return final


class AddableDict(dict[str, Any]):
    """A dict that adds to another key by key (values of a shared key added with ``+``): the chunks of
    :class:`RunnableParallel` and ``RunnablePassthrough.assign`` add up to their whole output."""

    def __add__(self, other: Mapping[str, Any]) -> AddableDict:
        out = AddableDict(self)
        for key, value in other.items():
            if key not in out or out[key] is None:
                out[key] = value
            elif value is not None:
                try:
                    out[key] = out[key] + value
                except TypeError as exc:
                    raise TypeError(
                        f"Cannot add incompatible types for key {key!r}: "
                        f"{type(out[key]).__name__!r} and {type(value).__name__!r}."
                    ) from exc
        return out

    def __radd__(self, other: Mapping[str, Any]) -> AddableDict:
        return AddableDict(other) + self


class Tee:
    """Several async iterators over one async iterator's items, each seeing every item in order; the
    source is read once, as far as the furthest reader."""

    def __init__(self, source: AsyncIterator[Any], n: int) -> None:
        self._source = source
        self._items: list[Any] = []
        self._done = False
        self._lock = asyncio.Lock()
        self.readers = [self._reader() for _ in range(n)]

    async def _reader(self) -> AsyncIterator[Any]:
        i = 0
        while True:
            if i < len(self._items):
                yield self._items[i]
                i += 1
                continue
            if self._done:
                return
            async with self._lock:
                if i == len(self._items) and not self._done:
                    item = await anext(self._source, END)
                    if item is END:
                        self._done = True
                    else:
                        self._items.append(item)


async def merge_streams(streams: dict[str, AsyncIterator[Any]]) -> AsyncIterator[tuple[str, Any]]:
    """``(key, item)`` for each item of the streams, as they come (each stream's in its own order).
    Leaving early, or one stream raising, cancels the others' pending steps."""
    pending: dict[asyncio.Task[Any], str] = {}
    try:
        for key, stream in streams.items():
            pending[asyncio.ensure_future(anext(stream, END))] = key
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                key = pending.pop(task)
                item = task.result()
                if item is END:
                    continue
                yield key, item
                pending[asyncio.ensure_future(anext(streams[key], END))] = key
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


T = TypeVar("T")


@contextlib.asynccontextmanager
async def closing(stream: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Use ``stream`` and close it on the way out (when it has ``aclose``: an async generator), so a
    consumer that leaves early, or is cancelled, finalises the steps behind it at once, not at garbage
    collection."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def all_or_none(
    awaitables: Iterable[Awaitable[T]], *, return_exceptions: bool = False
) -> list[T | BaseException]:
    """``asyncio.gather``, except that when one raises (without ``return_exceptions``) the others are
    cancelled and waited for before the exception goes on: no call is left running behind its caller."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks, return_exceptions=return_exceptions))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
