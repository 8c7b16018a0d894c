"""What a chat model is told about the tools bound to it: OpenAI's function-tool format.

``bind_tools`` accepts tools made by ``@tool`` (anything with ``name``, ``description`` and
``args_schema``), or dicts already in OpenAI's format (``{"type": "function", "function": {...}}``) or its
inner ``{"name", "description", "parameters"}`` form. Models turn them into the shape their API wants with
:func:`function_spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["function_spec"]


def function_spec(tool: Any) -> dict[str, Any]:
    """Return ``tool`` as an OpenAI function tool: ``{"type": "function", "function": {"name",
    "description", "parameters"}}`` (``parameters`` is a JSON schema of the arguments, an object).

    :raises InvalidArgumentError: when ``tool`` is neither a tool object nor a dict naming a function
    """
    if isinstance(tool, Mapping):
        inner = tool.get("function", tool) if tool.get("type", "function") == "function" else None
        if not isinstance(inner, Mapping) or not isinstance(inner.get("name"), str):
            raise InvalidArgumentError(
                f"a tool dict must name a function ({{'type': 'function', 'function': {{'name': ...}}}}), got {tool!r}"
            )
        return {
            "type": "function",
            "function": {
                "name": inner["name"],
                "description": str(inner.get("description", "")),
                "parameters": dict(inner.get("parameters") or {"type": "object", "properties": {}}),
            },
        }
    name = getattr(tool, "name", None)
    schema = getattr(tool, "args_schema", None)
    if not isinstance(name, str) or not isinstance(schema, Mapping):
        raise InvalidArgumentError(
            f"cannot offer {tool!r} to a model as a tool: pass a @tool-decorated function or an OpenAI "
            "function-tool dict"
        )
    return {
        "type": "function",
        "function": {"name": name, "description": str(getattr(tool, "description", "")), "parameters": dict(schema)},
    }
