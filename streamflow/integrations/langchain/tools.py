"""A langchain-core ``BaseTool`` as a streamflow :class:`~streamflow.tools.BaseTool`, so ``ToolNode`` and the
agents take it unchanged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.tools import BaseTool as LangChainBaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from ...errors import ToolArgumentsError
from ...graph.context import TaskContext
from ...tools import BaseTool
from .handler import _ADAPTED
from .messages import from_langchain_value

__all__ = ["LangChainTool", "adapt_tool"]


class LangChainTool(BaseTool):
    """A langchain-core tool seen as a streamflow tool: its name, description and argument schema (the JSON
    schema langchain-core gives a model), its ``return_direct``; a call validates and runs through the
    langchain-core tool itself (its own schema checks, its callbacks), while the streamflow call publishes
    the tool's events once (``ToolStarted`` ... with the model's ``tool_call_id``).

    :param tool: the langchain-core tool
    """

    def __init__(self, tool: LangChainBaseTool) -> None:  # the base's signature reading does not apply
        self.tool = tool
        self.func = tool.run
        self.return_direct = bool(tool.return_direct)
        self.name = tool.name
        self.description = tool.description
        self.is_async = True
        self._types: dict[str, type] = {}
        self.injected_state: dict[str, str | None] = {}
        self.injected_tool_call_id: str | None = None
        self._model: Any = None
        parameters = convert_to_openai_tool(tool)["function"].get("parameters") or {}
        self.args_schema: dict[str, Any] = {
            "type": "object",
            "properties": dict(parameters.get("properties") or {}),
            "required": list(parameters.get("required") or []),
        }

    def validate(self, args: Any) -> dict[str, Any]:
        """``args`` as a dict; the langchain-core tool checks them against its own schema when called.

        :raises ToolArgumentsError: for a non-mapping
        """
        if not isinstance(args, Mapping):
            raise ToolArgumentsError(f"tool {self.name!r} takes a JSON object of arguments, got {args!r}")
        return dict(args)

    async def _call(self, valid: dict[str, Any], task: TaskContext | None, call_id: str) -> Any:
        token = _ADAPTED.set(call_id or None)
        try:
            return from_langchain_value(await self.tool.ainvoke(valid))
        finally:
            _ADAPTED.reset(token)

    def __repr__(self) -> str:
        return f"LangChainTool({self.tool!r})"


def adapt_tool(value: Any) -> BaseTool | None:
    """The adapter :func:`streamflow.tools.register_tool_adapter` takes: a :class:`LangChainTool` for a
    langchain-core tool, None for anything else."""
    return LangChainTool(value) if isinstance(value, LangChainBaseTool) else None
