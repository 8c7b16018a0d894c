"""JSON and Server-Sent Events framing for the HTTP bridge.

:func:`to_json` writes chunks and results as compact JSON: chat messages (attrs classes) become objects
tagged with their ``type`` (``"ai"``, ``"AIMessageChunk"``, ``"tool"`` ...) as LangChain serialises them,
tuples become lists, sets become sorted lists when they can be sorted, dataclasses become objects. A value
JSON cannot carry in any of those ways is written as its ``repr()`` string, so a stream never breaks on an
odd object in the state; a client that needs the object itself must keep such values out of what it streams.
The output is always valid JSON in valid UTF-8 (what a browser's ``JSON.parse`` reads): a float JSON has no
number for is written as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``, and text holding a lone
surrogate (a ``str`` no UTF-8 encoder can write) is written with ``\\uXXXX`` escapes, which JSON parsers read
back to the same string.

:func:`sse_message` frames one SSE message (``id``, ``event``, one ``data`` line, a blank line). JSON
written by :func:`to_json` never holds a raw line break, so each message has exactly one ``data`` line.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["sse_comment", "sse_message", "to_json", "to_json_bytes", "to_jsonable"]


def _default(value: Any) -> Any:
    cls = type(value)
    if attrs.has(cls):
        out: dict[str, Any] = {}
        tag = getattr(value, "type", None)
        if isinstance(tag, str):
            out["type"] = tag
        for field in attrs.fields(cls):
            out[field.name] = getattr(value, field.name)
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return repr(value)


_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ASCII_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
_NOT_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _finite(value: Any) -> Any:
    """``value`` with every float JSON has no number for turned into its name (only called when one is there)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return _NOT_FINITE.get(value, value)
    if isinstance(value, (str, int, type(None))):
        return value
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return _finite(_default(value))


def _encode(value: Any) -> tuple[str, bytes]:
    """The JSON text of ``value`` and its UTF-8 bytes (see :func:`to_json`)."""
    try:
        text = _ENCODER.encode(value)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        value = _finite(value)
        text = _ENCODER.encode(value)
    try:
        return text, text.encode()
    except UnicodeEncodeError:  # a lone surrogate: escape it (and every non-ASCII character)
        text = _ASCII_ENCODER.encode(value)
        return text, text.encode()


def to_json(value: Any) -> str:
    """Return ``value`` as compact JSON text that encodes to valid UTF-8 (see the module docstring for how
    objects, non-finite floats and lone surrogates are written).

    :raises ValueError: for a value that refers to itself (a circular reference)
    :raises RecursionError: for a value nested deeper than Python's recursion limit lets the encoder go
    """
    return _encode(value)[0]


def to_json_bytes(value: Any) -> bytes:
    """:func:`to_json` as UTF-8 bytes (what a response body or an SSE ``data`` line holds).

    :raises ValueError: for a value that refers to itself (a circular reference)
    :raises RecursionError: for a value nested deeper than Python's recursion limit lets the encoder go
    """
    return _encode(value)[1]


def to_jsonable(value: Any) -> Any:
    """Return ``value`` made of JSON types only (dicts, lists, strings, numbers, booleans, None)."""
    result: Any = json.loads(to_json(value))
    return result


def sse_message(event: str, data: Any, *, id: int | None = None, retry: int | None = None) -> bytes:
    """Frame one SSE message: ``data`` as one line of JSON, under the event name ``event``.

    :param id: the message's ``id`` field (a run's ``seq``); None for a message that must not move the
        client's last event id
    :param retry: the reconnection delay the client should use, in milliseconds
    """
    head = "" if id is None else f"id: {id}\n"
    if retry is not None:
        head += f"retry: {retry}\n"
    return f"{head}event: {event}\ndata: ".encode() + _encode(data)[1] + b"\n\n"


def sse_comment(text: str) -> bytes:
    """Frame an SSE comment line (clients ignore it; it keeps idle connections open)."""
    return f": {text}\n\n".encode()
