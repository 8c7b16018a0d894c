"""The data of an interrupt (LangGraph's ``langgraph.types.Interrupt``) and how its id is made; the
``interrupt()`` function that raises one is :func:`streamflow.types.interrupt`.

Interrupt ids: a 32-digit hex string derived from the task's checkpoint namespace (``"<node>:<task id>"``
under its enclosing subgraphs' parts, as LangGraph forms it) and the number of answers the task already
has, so the id of an interrupt is the same each time the task asks it again (it survives a resume, and a
process restart). LangGraph hashes the same string with xxh3-128; streamflow uses BLAKE2b with a 16-byte
digest (no extra dependency), so the ids have LangGraph's shape but not its values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["Interrupt", "interrupt_id", "is_interrupt_id", "is_resume_map"]

_ID = re.compile(r"^[0-9a-f]{32}$")


def interrupt_id(ns: str, answered: int) -> str:
    """The id of the interrupt a task in checkpoint namespace ``ns`` raises when it already has ``answered``
    answers (``ns`` alone for the first, as LangGraph keys it)."""
    key = f"{ns}|{answered}" if answered else ns
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def is_interrupt_id(value: Any) -> bool:
    """Whether ``value`` has the shape of an interrupt id (32 lowercase hex digits)."""
    return isinstance(value, str) and _ID.match(value) is not None


@dataclasses.dataclass(slots=True)
class Interrupt:
    """One interrupt of a run (LangGraph's ``langgraph.types.Interrupt``): the ``value`` a node passed to
    :func:`interrupt` and the ``id`` a ``Command(resume={id: answer})`` answers it by. ``response_schema``
    is what the node passed as ``interrupt(..., response_schema=...)`` (None by default)."""

    value: Any
    id: str = "placeholder-id"
    response_schema: Any = None

    @classmethod
    def from_ns(cls, value: Any, ns: str) -> Interrupt:
        """The first interrupt of the task in checkpoint namespace ``ns``."""
        return cls(value=value, id=interrupt_id(ns, 0))

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "id"}`` (and ``"response_schema"`` when it has one), as the events carry it."""
        out = {"value": self.value, "id": self.id}
        if self.response_schema is not None:
            out["response_schema"] = self.response_schema
        return out


def is_resume_map(resume: Any) -> bool:
    """Whether a ``Command(resume=...)`` value is a map of answers by interrupt id (a non-empty dict whose
    keys all have an interrupt id's shape, as LangGraph tells them apart)."""
    return isinstance(resume, Mapping) and bool(resume) and all(is_interrupt_id(key) for key in resume)
