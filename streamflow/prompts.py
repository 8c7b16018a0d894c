"""Prompt templates (LangChain's ``langchain_core.prompts``): Runnables that fill ``{variables}`` from a dict.

A template's input is a dict of its variables (a template with exactly one variable also takes that
variable's value alone, as LangChain's). ``PromptTemplate`` makes a
:class:`~streamflow.prompt_values.StringPromptValue`, ``ChatPromptTemplate`` a
:class:`~streamflow.prompt_values.ChatPromptValue`. Their events are ``on_prompt_*`` (run type
``"prompt"``); they do not stream: a prompt in a streaming chain starts once its whole input is there.

Templates use Python's ``str.format`` syntax (LangChain's default ``f-string`` format): ``{name}`` is a
variable, ``{{`` and ``}}`` are literal braces.

Bad input, with LangChain's exception types: a missing variable raises ``KeyError`` naming the missing
ones, the expected and the received; an input that is not a dict (for a template with other than one
variable) raises ``TypeError``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidArgumentError
from .messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, coerce_message
from .prompt_values import ChatPromptValue, PromptValue, StringPromptValue
from .runnables.base import Runnable
from .runnables.context import StepContext

__all__ = [
    "AIMessagePromptTemplate",
    "BasePromptTemplate",
    "ChatPromptTemplate",
    "HumanMessagePromptTemplate",
    "MessagesPlaceholder",
    "PromptTemplate",
    "SystemMessagePromptTemplate",
]


def _variables(template: str) -> list[str]:
    """The ``{variables}`` of ``template``, in order of first use."""
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise InvalidArgumentError(f"invalid prompt template {template!r}: {exc}") from exc
    out: list[str] = []
    for name in names:
        if not name or not name.isidentifier():
            raise InvalidArgumentError(
                f"prompt template {template!r} has the placeholder {{{name}}}; variables are identifiers "
                "(escape literal braces as {{ and }})"
            )
        if name not in out:
            out.append(name)
    return out


class BasePromptTemplate(Runnable[Any, PromptValue]):
    """Base of prompt templates: ``input_variables`` and the checks of the input dict."""

    run_type = "prompt"
    input_variables: list[str]
    optional_variables: tuple[str, ...] = ()

    def _inputs(self, input: Any) -> dict[str, Any]:
        if not isinstance(input, Mapping):
            if len(self.input_variables) == 1:
                return {self.input_variables[0]: input}
            raise TypeError(f"Expected mapping type as input to {type(self).__name__}. Received {type(input)}.")
        missing = set(self.input_variables) - set(input) - set(self.optional_variables)
        if missing:
            raise KeyError(
                f"Input to {type(self).__name__} is missing variables {missing}.  Expected: "
                f"{self.input_variables} Received: {list(input)}\nNote: if you intended "
                f"{{{sorted(missing)[0]}}} to be part of the string and not a variable, please escape it with "
                f"double curly braces like: '{{{{{sorted(missing)[0]}}}}}'."
            )
        return dict(input)

    def format_prompt(self, **kwargs: Any) -> PromptValue:
        """The prompt value for ``kwargs`` (the variables)."""
        raise NotImplementedError

    async def _ainvoke(self, input: Any, ctx: StepContext, **kwargs: Any) -> PromptValue:
        return self.format_prompt(**self._inputs(input))


class PromptTemplate(BasePromptTemplate):
    """A text template: ``PromptTemplate.from_template("Tell me about {topic}")``.

    :raises InvalidArgumentError: for a template that ``str.format`` cannot read
    """

    def __init__(self, template: str, input_variables: Sequence[str] | None = None, *, name: str | None = None):
        if not isinstance(template, str):
            raise InvalidArgumentError(f"a prompt template is a string, got {type(template).__name__}")
        self.template = template
        self.input_variables = list(input_variables) if input_variables is not None else _variables(template)
        self.name = name

    @classmethod
    def from_template(cls, template: str, **kwargs: Any) -> PromptTemplate:
        """A template whose variables are the ``{names}`` in ``template``."""
        return cls(template, **kwargs)

    def format(self, **kwargs: Any) -> str:
        """The text with the variables filled in.

        :raises KeyError: for a missing variable
        """
        return self.template.format(**self._inputs(kwargs))

    def format_prompt(self, **kwargs: Any) -> StringPromptValue:
        return StringPromptValue(text=self.format(**kwargs))


class _MessageTemplate:
    """One message of a chat template: a role and a text template."""

    role: type[BaseMessage] = HumanMessage

    def __init__(self, prompt: PromptTemplate) -> None:
        self.prompt = prompt

    @classmethod
    def from_template(cls, template: str) -> _MessageTemplate:
        return cls(PromptTemplate.from_template(template))

    @property
    def input_variables(self) -> list[str]:
        return self.prompt.input_variables

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        return [self.role(content=self.prompt.template.format(**kwargs))]


class HumanMessagePromptTemplate(_MessageTemplate):
    """A ``HumanMessage`` template."""

    role = HumanMessage


class AIMessagePromptTemplate(_MessageTemplate):
    """An ``AIMessage`` template."""

    role = AIMessage


class SystemMessagePromptTemplate(_MessageTemplate):
    """A ``SystemMessage`` template."""

    role = SystemMessage


_ROLE_TEMPLATES: dict[str, type[_MessageTemplate]] = {
    "human": HumanMessagePromptTemplate,
    "user": HumanMessagePromptTemplate,
    "ai": AIMessagePromptTemplate,
    "assistant": AIMessagePromptTemplate,
    "system": SystemMessagePromptTemplate,
    "developer": SystemMessagePromptTemplate,
}


class MessagesPlaceholder:
    """A slot in a chat template filled with a list of messages (or message-likes: ``(role, content)``
    tuples, dicts, strings) from the variable ``variable_name``.

    :param optional: when True the variable may be missing (no messages)
    """

    def __init__(self, variable_name: str, *, optional: bool = False) -> None:
        self.variable_name = variable_name
        self.optional = optional

    @property
    def input_variables(self) -> list[str]:
        return [] if self.optional else [self.variable_name]

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """The messages of the variable.

        :raises InvalidArgumentError: when the value is not a list of message-likes
        """
        value = kwargs.get(self.variable_name, [])
        if not isinstance(value, list):
            raise InvalidArgumentError(
                f"variable {self.variable_name} should be a list of base messages, got {value!r} of type {type(value)}"
            )
        return [coerce_message(m) for m in value]


def _message_part(part: Any) -> Any:
    if isinstance(part, (MessagesPlaceholder, _MessageTemplate, BaseMessage)):
        return part
    if isinstance(part, str):
        return HumanMessagePromptTemplate.from_template(part)
    if isinstance(part, tuple) and len(part) == 2:
        role, template = part
        if role == "placeholder":
            name = str(template).strip("{}")
            return MessagesPlaceholder(name, optional=True)
        if role not in _ROLE_TEMPLATES:
            raise InvalidArgumentError(
                f"unknown message role {role!r} in a chat prompt; roles: {', '.join(_ROLE_TEMPLATES)}, placeholder"
            )
        return _ROLE_TEMPLATES[role].from_template(template)
    raise InvalidArgumentError(
        f"a chat prompt part is a (role, template) tuple, a template string, a message, a message template or "
        f"a MessagesPlaceholder; got {type(part).__name__}: {part!r}"
    )


class ChatPromptTemplate(BasePromptTemplate):
    """A list of message templates: ``ChatPromptTemplate.from_messages([("system", "..."), ("human",
    "{question}"), MessagesPlaceholder("history")])``.

    :raises InvalidArgumentError: for a part that is none of the accepted forms, or an unknown role
    """

    def __init__(self, messages: Sequence[Any], *, name: str | None = None) -> None:
        self.messages = [_message_part(m) for m in messages]
        variables: list[str] = []
        optional: list[str] = []
        for part in self.messages:
            if isinstance(part, MessagesPlaceholder) and part.optional:
                optional.append(part.variable_name)
            for var in getattr(part, "input_variables", ()):
                if var not in variables:
                    variables.append(var)
        self.input_variables = sorted(variables)
        self.optional_variables = tuple(optional)
        self.name = name

    @classmethod
    def from_messages(cls, messages: Sequence[Any]) -> ChatPromptTemplate:
        """A chat template of ``messages`` (see the class docstring for the forms a part may take)."""
        return cls(messages)

    @classmethod
    def from_template(cls, template: str, **kwargs: Any) -> ChatPromptTemplate:
        """A chat template of one human message made from ``template``."""
        return cls([("human", template)], **kwargs)

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        """The messages with the variables filled in.

        :raises KeyError: for a missing variable
        """
        values = self._inputs(kwargs)
        out: list[BaseMessage] = []
        for part in self.messages:
            if isinstance(part, BaseMessage):
                out.append(part)
            else:
                out.extend(part.format_messages(**values))
        return out

    def format_prompt(self, **kwargs: Any) -> ChatPromptValue:
        return ChatPromptValue(messages=self.format_messages(**kwargs))

    def __add__(self, other: Any) -> ChatPromptTemplate:
        parts = other.messages if isinstance(other, ChatPromptTemplate) else [other]
        return ChatPromptTemplate([*self.messages, *parts])
