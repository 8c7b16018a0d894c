"""The wire form of events: JSON bytes that rebuild the very same typed event.

An event goes out as the JSON text of its lossless dict form (:meth:`~streamflow.events.Event.to_dict`),
with the payload values JSON has no word for written as tagged objects, so that they come back as they
were:

* a tuple is ``{"__sf__": "tuple", "items": [...]}``;
* a dict whose keys are not all strings, or that has a key ``"__sf__"`` of its own, is
  ``{"__sf__": "dict", "items": [[key, value], ...]}``;
* a chat message (:mod:`streamflow.messages`) is ``{"__sf__": "message", "type": <its type tag>,
  "fields": {...}}``;
* a ``Command`` a node returned (a task's ``output``) is ``{"__sf__": "command", "fields": {...}}``, a ``Send``
  ``{"__sf__": "send", "node": ..., "arg": ...}``.

Everything else must be a JSON value (dict with string keys, list, str, int, float, bool, None); any other
type is refused with :class:`~streamflow.errors.NotSerializableError` naming it and where it was found, as is
a value nested deeper than Python's recursion limit lets the encoder go (about 450 levels). Text holding a
lone surrogate (a ``str`` no UTF-8 encoder can write) is written with ``\\uXXXX`` escapes and comes back the
same; ``NaN`` and infinities come back as the floats they were.
This module does no I/O and does not need redis-py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import NotSerializableError
from ..events import Event, from_dict
from ..graph.constants import Command, Send
from ..messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage

__all__ = ["TAG", "check_payload", "decode_event", "decode_value", "encode_event", "encode_value", "to_json_value"]

TAG = "__sf__"
"""The key that marks a tagged object in the wire form."""

_MESSAGES: dict[str, type[BaseMessage]] = {
    cls.type: cls for cls in (HumanMessage, SystemMessage, AIMessage, AIMessageChunk, ToolMessage)
}
_PLAIN = (str, int, float, bool, type(None))
_ALLOWED = "JSON values (dict, list, str, int, float, bool, None), tuples, chat messages, Command and Send"


def to_json_value(value: Any, where: str = "the payload") -> Any:
    """Return ``value`` as plain JSON values, tagging tuples, non-string-keyed dicts and messages.

    :param where: how to name ``value`` in an error message (e.g. ``"custom data"``)
    :raises NotSerializableError: when ``value`` holds anything else; the message names the type and the
        path to it (e.g. ``custom data['rows'][2]``)
    """
    cls = value.__class__
    if cls in _PLAIN:
        return value
    if cls is dict:
        if all(k.__class__ is str for k in value) and TAG not in value:
            return {k: to_json_value(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {
            TAG: "dict",
            "items": [
                [to_json_value(k, f"a key of {where}"), to_json_value(v, f"{where}[{k!r}]")] for k, v in value.items()
            ],
        }
    if cls is list:
        return [to_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if cls is tuple:
        return {TAG: "tuple", "items": [to_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, BaseMessage) and _MESSAGES.get(value.type) is cls:
        fields = {  # a field still holding its default object (a chunk's shared empty list) gets it back
            a.name: to_json_value(v, f"{where}.{a.name}")
            for a in attrs.fields(type(value))
            if (v := getattr(value, a.name)) is not a.default
        }
        return {TAG: "message", "type": value.type, "fields": fields}
    if cls is Command:
        fields = {
            name: to_json_value(v, f"{where}.{name}")
            for name in ("graph", "update", "resume", "goto")
            if (v := getattr(value, name)) is not None and not (name == "goto" and v == ())  # defaults left out
        }
        return {TAG: "command", "fields": fields}
    if cls is Send:
        return {TAG: "send", "node": value.node, "arg": to_json_value(value.arg, f"{where}.arg")}
    # Subclasses of str, int ... (enums) are refused too: they would come back as the base type.
    raise NotSerializableError(
        f"{where} is of type {cls.__module__}.{cls.__qualname__}, which a wire transport (JSON) cannot carry; "
        f"allowed are {_ALLOWED}"
    )


def check_payload(data: Any) -> None:
    """Check that custom data can cross the wire (a run's payload check, installed by a sink).

    :raises NotSerializableError: when ``data`` holds a value of a type the wire form cannot carry (the
        message names the type and where it sits in ``data``), or is nested too deeply
    """
    if data.__class__ in _PLAIN:
        return
    try:
        to_json_value(data, "custom data")
    except RecursionError:
        raise _too_deep("custom data") from None


def _hook(obj: dict[str, Any]) -> Any:
    tag = obj.get(TAG)
    if tag is None:
        return obj
    if tag == "tuple":
        return tuple(obj["items"])
    if tag == "dict":
        return dict(obj["items"])
    if tag == "message":
        return _MESSAGES[obj["type"]](**obj["fields"])
    if tag == "command":
        return Command(**obj["fields"])
    if tag == "send":
        return Send(obj["node"], obj["arg"])
    raise ValueError(f"unknown wire tag {tag!r}")


_dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_dumps_ascii: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
_loads = json.JSONDecoder(object_hook=_hook).decode


def _utf8(value: Any) -> bytes:
    """UTF-8 JSON of a tagged value; with ``\\uXXXX`` escapes when it holds a lone surrogate."""
    try:
        return _dumps(value).encode()
    except UnicodeEncodeError:
        return _dumps_ascii(value).encode()


def _too_deep(where: str) -> NotSerializableError:
    return NotSerializableError(
        f"{where} is nested deeper than a wire transport (JSON) can encode here (Python's recursion limit); "
        "flatten it, or keep it out of what the run streams"
    )


def encode_event(event: Event) -> bytes:
    """Return the wire form of ``event``: UTF-8 JSON of its tagged dict form.

    :raises NotSerializableError: when a field holds a value the wire form cannot carry (the message names
        the event kind, the field and the value's type), or one nested too deeply
    """
    out = event.to_dict()
    for name, value in out.items():
        if value.__class__ not in _PLAIN:
            try:
                out[name] = to_json_value(value, f"the {event.kind} event[{name!r}]")
            except RecursionError:
                raise _too_deep(f"the {event.kind} event[{name!r}]") from None
    try:
        return _utf8(out)
    except RecursionError:
        raise _too_deep(f"the {event.kind} event") from None


def decode_event(data: bytes | str) -> Event:
    """Rebuild the event :func:`encode_event` wrote.

    :raises ValueError: when ``data`` is not a wire-form event (bad JSON, unknown tag)
    :raises UnknownEventKindError: when its ``type`` is not a known event kind
    """
    event = from_dict(_loads(data.decode() if isinstance(data, bytes) else data))
    # ``metadata`` comes back a plain dict, as producers give it (the metadata of ``messages`` chunks), so
    # chunks built from it stay JSON- and pickle-friendly; it compares equal to the read-only original.
    event.metadata = dict(event.metadata)
    return event


def encode_value(value: Any, where: str = "the value") -> bytes:
    """Return any payload (a run's input, a config) in the wire form: UTF-8 JSON with tagged objects.

    :raises NotSerializableError: when ``value`` holds a type the wire form cannot carry (names it and where),
        or is nested too deeply
    """
    try:
        return _utf8(to_json_value(value, where))
    except RecursionError:
        raise _too_deep(where) from None


def decode_value(data: bytes | str) -> Any:
    """Rebuild the value :func:`encode_value` wrote.

    :raises ValueError: when ``data`` is not valid JSON or holds an unknown tag
    """
    return _loads(data.decode() if isinstance(data, bytes) else data)
