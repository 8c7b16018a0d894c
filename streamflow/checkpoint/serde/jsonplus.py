"""The default checkpoint serializer, at LangGraph's path ``langgraph.checkpoint.serde.jsonplus``.

:class:`JsonPlusSerializer` writes values with MessagePack (the ``ormsgpack`` library), with extension types
for the Python values a graph state holds, so that each comes back as the type it was:

- ``None``, ``bool``, ``int`` (any size), ``float``, ``str``, ``bytes``, ``list``, ``dict``; ``tuple``,
  ``set``, ``frozenset``; ``bytearray`` (inside another value it comes back as ``bytes``, as in LangGraph);
- ``datetime`` (naive, fixed offset, or ``zoneinfo`` zone), ``date``, ``time``, ``timedelta``, ``UUID``,
  ``Decimal``;
- members of ``Enum`` classes; dataclass, attrs and pydantic (v2) model instances, which covers
  streamflow's messages (:mod:`streamflow.messages`); instances of subclasses of ``str``, ``int``, ``float``,
  ``list`` and ``dict`` that take their plain value as their one constructor argument.

Dict keys keep their type when they are ``str``, ``int``, ``float``, ``bool``, ``None`` or tuples of those.
Classes are stored by module and qualified name and found again by import when read; a stored class that
is not (or is no longer) a dataclass, attrs class, pydantic model or ``Enum`` is refused rather than called.
Read checkpoints only from a store you trust, as with LangGraph.

Anything else raises :class:`~streamflow.errors.CheckpointSerializationError` naming the type, unless the
serializer was made with ``pickle_fallback=True`` (LangGraph's option of the same name), which stores such
values with ``pickle``. The bytes are streamflow's own: they are not LangGraph's encoding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import json
import pickle
import sys
import uuid
import zoneinfo
from typing import Any

import attrs
import ormsgpack

from ...errors import CheckpointSerializationError
from .base import SerializerProtocol

__all__ = ["JsonPlusSerializer"]

_TUPLE = 1
_SET = 2
_FROZENSET = 3
_DATETIME = 4
_DATE = 5
_TIME = 6
_TIMEDELTA = 7
_UUID = 8
_DECIMAL = 9
_ENUM = 10
_DATACLASS = 11
_ATTRS = 12
_PYDANTIC = 13
_BYTEARRAY = 14
_BIG_INT = 15
_SUBCLASS = 16

_PACK_OPTIONS = (
    ormsgpack.OPT_NON_STR_KEYS
    | ormsgpack.OPT_PASSTHROUGH_TUPLE
    | ormsgpack.OPT_PASSTHROUGH_SUBCLASS
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_UUID
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_BIG_INT
)
_PLAIN_BASES: tuple[type[Any], ...] = (str, int, float, list, dict)

STORABLE = (
    "None, bool, int, float, str, bytes, bytearray, list, dict, tuple, set, frozenset, datetime, date, time, "
    "timedelta, UUID, Decimal, Enum members, dataclasses, attrs classes, pydantic models (streamflow's messages "
    "among them)"
)
"""The kinds of value :class:`JsonPlusSerializer` stores, as its error messages list them."""


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _zone_key(tz: dt.tzinfo | None) -> str | None:
    return tz.key if isinstance(tz, zoneinfo.ZoneInfo) else None


def _pydantic_model(obj: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(obj, pydantic.BaseModel)


class _Encoder:
    """One ``dumps`` call's ``default`` hook; remembers the first type it could not store."""

    def __init__(self) -> None:
        self.refused: type | None = None

    def pack(self, value: Any) -> bytes:
        return ormsgpack.packb(value, default=self.default, option=_PACK_OPTIONS)

    def _ext(self, code: int, value: Any) -> ormsgpack.Ext:
        return ormsgpack.Ext(code, self.pack(value))

    def default(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is tuple:
            return self._ext(_TUPLE, list(obj))
        if cls is set:
            return self._ext(_SET, list(obj))
        if cls is frozenset:
            return self._ext(_FROZENSET, list(obj))
        if cls is dt.datetime:
            return self._ext(_DATETIME, [obj.isoformat(), _zone_key(obj.tzinfo)])
        if cls is dt.date:
            return self._ext(_DATE, obj.isoformat())
        if cls is dt.time:
            return self._ext(_TIME, [obj.isoformat(), _zone_key(obj.tzinfo)])
        if cls is dt.timedelta:
            return self._ext(_TIMEDELTA, [obj.days, obj.seconds, obj.microseconds])
        if cls is uuid.UUID:
            return ormsgpack.Ext(_UUID, obj.bytes)
        if cls is decimal.Decimal:
            return self._ext(_DECIMAL, str(obj))
        if cls is bytearray:
            return ormsgpack.Ext(_BYTEARRAY, bytes(obj))
        if cls is int:
            return self._ext(_BIG_INT, str(obj))
        if isinstance(obj, enum.Enum):
            return self._ext(_ENUM, [cls.__module__, cls.__qualname__, obj.value])
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = dataclasses.fields(obj)
            given = {f.name: getattr(obj, f.name) for f in fields if f.init}
            later = {f.name: getattr(obj, f.name) for f in fields if not f.init}
            return self._ext(_DATACLASS, [cls.__module__, cls.__qualname__, given, later])
        if attrs.has(cls):
            values = {a.name: getattr(obj, a.name) for a in attrs.fields(cls)}
            return self._ext(_ATTRS, [cls.__module__, cls.__qualname__, values])
        if _pydantic_model(obj):
            values = {name: getattr(obj, name) for name in type(obj).model_fields}
            return self._ext(_PYDANTIC, [cls.__module__, cls.__qualname__, values, sorted(obj.model_fields_set)])
        for base in _PLAIN_BASES:
            if isinstance(obj, base):
                return self._ext(_SUBCLASS, [cls.__module__, cls.__qualname__, base(obj)])
        if self.refused is None:
            self.refused = cls
        raise TypeError(_type_name(cls))


def _find_class(module: str, qualname: str) -> type:
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"the stored value is of class {module}.{qualname}, which cannot be imported: {exc}") from exc
    if not isinstance(found, type):
        raise ValueError(f"the stored value names {module}.{qualname}, which is not a class")
    return found


def _refuse(cls: type, kind: str) -> ValueError:
    return ValueError(f"the stored value is a {kind}, but {_type_name(cls)} is not one any more")


def _zone(key: str | None, value: Any) -> Any:
    return value.replace(tzinfo=zoneinfo.ZoneInfo(key)) if key is not None else value


class _Decoder:
    """One ``loads`` call's ``ext_hook``; remembers the first failure (the library reports only that the hook
    failed)."""

    def __init__(self) -> None:
        self.error: Exception | None = None

    def unpack(self, data: bytes) -> Any:
        return ormsgpack.unpackb(data, ext_hook=self.hook, option=ormsgpack.OPT_NON_STR_KEYS)

    def hook(self, code: int, data: bytes) -> Any:
        try:
            return _ext_value(self, code, data)
        except Exception as exc:
            if self.error is None:
                self.error = exc
            raise


def _ext_value(decoder: _Decoder, code: int, data: bytes) -> Any:
    if code == _UUID:
        return uuid.UUID(bytes=data)
    if code == _BYTEARRAY:
        return bytearray(data)
    if not _TUPLE <= code <= _SUBCLASS:
        raise ValueError(f"unknown MessagePack extension type {code}")
    value = decoder.unpack(data)
    if code == _TUPLE:
        return tuple(value)
    if code == _SET:
        return set(value)
    if code == _FROZENSET:
        return frozenset(value)
    if code == _DATETIME:
        return _zone(value[1], dt.datetime.fromisoformat(value[0]))
    if code == _DATE:
        return dt.date.fromisoformat(value)
    if code == _TIME:
        return _zone(value[1], dt.time.fromisoformat(value[0]))
    if code == _TIMEDELTA:
        return dt.timedelta(days=value[0], seconds=value[1], microseconds=value[2])
    if code == _DECIMAL:
        return decimal.Decimal(value)
    if code == _BIG_INT:
        return int(value)
    if code == _ENUM:
        cls = _find_class(value[0], value[1])
        if not issubclass(cls, enum.Enum):
            raise _refuse(cls, "Enum member")
        return cls(value[2])
    if code == _DATACLASS:
        cls = _find_class(value[0], value[1])
        if not dataclasses.is_dataclass(cls):
            raise _refuse(cls, "dataclass")
        obj = cls(**value[2])
        for name, field_value in value[3].items():
            object.__setattr__(obj, name, field_value)
        return obj
    if code == _ATTRS:
        cls = _find_class(value[0], value[1])
        if not attrs.has(cls):
            raise _refuse(cls, "attrs class instance")
        fields = {a.name: a for a in attrs.fields(cls)}
        given = {fields[name].alias: v for name, v in value[2].items() if name in fields and fields[name].init}
        made = cls(**given)
        for name, field_value in value[2].items():
            if name in fields and not fields[name].init:
                object.__setattr__(made, name, field_value)
        return made
    if code == _PYDANTIC:
        cls = _find_class(value[0], value[1])
        pydantic = sys.modules.get("pydantic")
        if pydantic is None or not issubclass(cls, pydantic.BaseModel):
            raise _refuse(cls, "pydantic model")
        model: Any = cls
        return model.model_construct(_fields_set=set(value[3]), **value[2])
    if code == _SUBCLASS:
        cls = _find_class(value[0], value[1])
        if not issubclass(cls, _PLAIN_BASES):
            raise _refuse(cls, "subclass of str, int, float, list or dict")
        return cls(value[2])
    raise ValueError(f"unknown MessagePack extension type {code}")


class JsonPlusSerializer(SerializerProtocol):
    """The default serializer of every streamflow saver (LangGraph's class of the same name and path).

    :param pickle_fallback: store values of other types with ``pickle`` instead of refusing them (off by
        default; pickled bytes run code when read, so only for a store you trust)

    ``dumps_typed(obj)`` returns ``("null", b"")`` for ``None``, ``("bytes", obj)`` for bytes,
    ``("bytearray", ...)`` for a bytearray, ``("msgpack", ...)`` for everything else it stores (and
    ``("pickle", ...)`` with the fallback). ``loads_typed`` reads those and also ``("json", ...)``.

    :raises CheckpointSerializationError: (from ``dumps_typed``) a value, or a value inside it, of a type
        it cannot store; the message names the type
    :raises ValueError: (from ``loads_typed``) bytes that are not a value this serializer wrote, or that
        name a class that cannot be imported; a saver reports it as a
        :class:`~streamflow.errors.CheckpointReadError` naming the thread and checkpoint
    """

    def __init__(self, *, pickle_fallback: bool = False) -> None:
        self.pickle_fallback = pickle_fallback

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if obj is None:
            return "null", b""
        if type(obj) is bytes:
            return "bytes", obj
        if type(obj) is bytearray:
            return "bytearray", bytes(obj)
        encoder = _Encoder()
        try:
            return "msgpack", encoder.pack(obj)
        except TypeError as exc:
            if self.pickle_fallback:
                return "pickle", pickle.dumps(obj)
            refused = _type_name(encoder.refused) if encoder.refused is not None else str(exc)
            raise CheckpointSerializationError(
                f"cannot store a value of type {refused} in a checkpoint: it stores {STORABLE}",
                type_name=refused,
            ) from None

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        kind, payload = data
        if kind == "null":
            return None
        if kind == "bytes":
            return bytes(payload)
        if kind == "bytearray":
            return bytearray(payload)
        if kind == "msgpack":
            decoder = _Decoder()
            try:
                return decoder.unpack(payload)
            except ormsgpack.MsgpackDecodeError as exc:
                if decoder.error is not None:
                    raise ValueError(str(decoder.error)) from decoder.error
                raise ValueError(f"damaged MessagePack bytes: {exc}") from exc
        if kind == "json":
            return json.loads(payload)
        if kind == "pickle":
            if not self.pickle_fallback:
                raise ValueError(
                    "the value was stored with pickle; read it with JsonPlusSerializer(pickle_fallback=True)"
                )
            return pickle.loads(payload)
        raise ValueError(
            f"unknown serialization type {kind!r}: "
            "this serializer reads null, bytes, bytearray, msgpack, json and pickle"
        )
