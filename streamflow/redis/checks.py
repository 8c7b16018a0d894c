"""Argument checks shared by the Redis bridge: names that sit in Redis keys, and amounts with their unit.

Each raises :class:`~streamflow.errors.InvalidArgumentError` with a message naming the argument, what is
allowed and what it got.
"""

from __future__ import annotations

from ..errors import InvalidArgumentError

__all__ = ["check_name", "check_not_negative", "check_positive"]


def check_name(what: str, value: object) -> str:
    """Return ``value``, a name that can sit in a Redis key (a run id, a prefix, a graph name).

    :raises InvalidArgumentError: when it is not a non-empty string without whitespace
    """
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise InvalidArgumentError(f"{what} must be a non-empty string without whitespace, got {value!r}")
    return value


def _is_number(value: object, integer: bool) -> bool:
    return isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)


def check_positive(name: str, value: object, unit: str, *, integer: bool = False) -> None:
    """Check that ``value`` is a positive number (an int when ``integer``) of ``unit`` (``"seconds"``...).

    :raises InvalidArgumentError: when it is not
    """
    if not _is_number(value, integer) or value <= 0:  # type: ignore[operator]
        raise InvalidArgumentError(f"{name} must be a positive number of {unit}, got {value!r}")


def check_not_negative(name: str, value: object, unit: str, *, integer: bool = False) -> None:
    """Check that ``value`` is a number (an int when ``integer``) of ``unit`` that is 0 or more.

    :raises InvalidArgumentError: when it is not
    """
    if not _is_number(value, integer) or value < 0:  # type: ignore[operator]
        raise InvalidArgumentError(f"{name} must be >= 0 {unit}, got {value!r}")
