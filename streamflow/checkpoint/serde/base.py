"""The serializer protocol of checkpoint savers, as LangGraph's ``langgraph.checkpoint.serde.base``.

A serializer turns a value into a ``(type, bytes)`` pair (:meth:`SerializerProtocol.dumps_typed`) and back
(:meth:`SerializerProtocol.loads_typed`). The type string says how the bytes were written (``"msgpack"``,
``"bytes"``, ``"null"`` ...) so a saver can store both and hand them back unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["SerializerProtocol", "UntypedSerializerProtocol", "maybe_add_typed_methods"]


class UntypedSerializerProtocol(Protocol):
    """An older serializer shape: ``dumps(obj) -> bytes`` and ``loads(bytes) -> obj`` (``pickle``, ``json``
    modules fit), accepted by the savers after :func:`maybe_add_typed_methods` wraps it."""

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


@runtime_checkable
class SerializerProtocol(Protocol):
    """A checkpoint serializer: ``dumps_typed(obj) -> (type, bytes)``, ``loads_typed((type, bytes)) -> obj``
    (LangGraph's protocol of the same name; any object with these two methods fits)."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]: ...

    def loads_typed(self, data: tuple[str, bytes]) -> Any: ...


class _TypedCompat:
    """Gives an untyped serializer the typed methods: the type string is the value's class name."""

    def __init__(self, serde: UntypedSerializerProtocol) -> None:
        self.serde = serde

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return type(obj).__name__, self.serde.dumps(obj)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.serde.loads(data[1])


def maybe_add_typed_methods(serde: SerializerProtocol | UntypedSerializerProtocol) -> SerializerProtocol:
    """``serde`` itself when it has ``dumps_typed``/``loads_typed``, else a wrapper that adds them around
    its ``dumps``/``loads`` (as LangGraph does for serializers of the older shape)."""
    if isinstance(serde, SerializerProtocol):
        return serde
    return _TypedCompat(serde)
