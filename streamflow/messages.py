"""Chat messages (LangChain's shapes) and the ``add_messages`` reducer.

Plain values, no I/O: ``HumanMessage``, ``SystemMessage``, ``AIMessage``, ``AIMessageChunk`` and
``ToolMessage``, with langchain-core's fields: ``content`` (a string, or a list of content blocks: strings
and dicts), ``additional_kwargs``, ``response_metadata``, ``name``, ``id``, and each class's own. Chunks add
up with ``+``: text is concatenated, list content and ``additional_kwargs`` merged as langchain-core merges
them, and tool-call chunks with the same ``index`` are merged, their ``args`` strings joined;
:meth:`AIMessageChunk.to_message` parses them into tool calls. Every message has langchain-core 1.x's
``content_blocks`` (standard blocks derived from its content and tool calls) and a stream's final chunk has
``chunk_position="last"``. Anywhere a message is
accepted (``add_messages``, a graph's ``add_messages`` key, a chat model's input), a dict ``{"role": ...,
"content": ...}``, a ``(role, content)`` tuple and a plain string (a user message) are accepted too, with
LangChain's role names.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Final, TypedDict, cast

import attrs

from .errors import InvalidArgumentError

__all__ = [
    "AIMessage",
    "AIMessageChunk",
    "AnyMessage",
    "BaseMessage",
    "ChunkSum",
    "HumanMessage",
    "MessagesState",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "add_messages",
    "coerce_message",
    "convert_foreign",
    "convert_foreign_values",
    "merge_chunks",
    "register_message_converter",
]


def _new_id() -> str:
    return str(uuid.uuid4())


Content = str | list[str | dict[str, Any]]
"""A message's content as langchain-core's: a string, or a list of content blocks (strings and dicts such as
``{"type": "text", "text": ...}`` or ``{"type": "image", "url": ...}``)."""

_STANDARD_BLOCKS: Final = frozenset(
    {
        "text",
        "reasoning",
        "image",
        "audio",
        "video",
        "file",
        "text-plain",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "server_tool_call",
        "server_tool_call_chunk",
        "server_tool_result",
        "citation",
        "non_standard",
    }
)
"""langchain-core 1.x's standard content block types."""


def _check_content(value: Any) -> None:
    if not isinstance(value, (str, list)):
        raise InvalidArgumentError(
            f"a message's content must be a str or a list of content blocks (str or dict), got {type(value).__name__}"
        )


@attrs.define(slots=True)
class BaseMessage:
    """A chat message. ``type`` is LangChain's type tag (``"human"``, ``"ai"`` ...).

    As in LangChain, ``content`` may be passed positionally (``AIMessage("", tool_calls=[...])``); every
    other field is keyword-only."""

    type: ClassVar[str] = "base"
    content: Content = ""
    """The message's content: a string, or a list of content blocks (strings and dicts), as langchain-core's."""
    additional_kwargs: dict[str, Any] = attrs.field(factory=dict, kw_only=True)
    """Provider-specific fields of the message (langchain-core's ``additional_kwargs``)."""
    response_metadata: dict[str, Any] = attrs.field(factory=dict, kw_only=True)
    """Provider details (model name, finish reason ...)."""
    id: str | None = attrs.field(default=None, kw_only=True)
    """Id of the message; ``add_messages`` gives one to messages that have none."""
    name: str | None = attrs.field(default=None, kw_only=True)
    """Optional name of the author."""

    @property
    def text(self) -> str:
        """The message's text: ``content`` when it is a string, else its string blocks and the ``text`` of
        its ``{"type": "text"}`` blocks, joined."""
        content = self.content
        if isinstance(content, str):
            return content
        return _text_of(content)

    @property
    def content_blocks(self) -> list[dict[str, Any]]:
        """langchain-core 1.x's standard content blocks of the message: for string content
        ``[{"type": "text", "text": content}]`` (``[]`` when empty); for list content a text block for each
        string, a standard block (``text``, ``image``, ``reasoning`` ...) as it is and any other dict as
        ``{"type": "non_standard", "value": block}``. A new list at each access."""
        return _content_blocks(self.content)


def _text_of(content: Iterable[Any]) -> str:
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "".join(parts)


def _content_blocks(content: Content) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            blocks.append({"type": "text", "text": block})
        elif isinstance(block, Mapping) and block.get("type") in _STANDARD_BLOCKS:
            blocks.append(dict(block))
        else:
            blocks.append({"type": "non_standard", "value": block})
    return blocks


@attrs.define(slots=True, kw_only=True)
class HumanMessage(BaseMessage):
    """A message from the user (role ``"user"``)."""

    type: ClassVar[str] = "human"


@attrs.define(slots=True, kw_only=True)
class SystemMessage(BaseMessage):
    """Instructions for the model (role ``"system"``)."""

    type: ClassVar[str] = "system"


class ToolCall(TypedDict):
    """A tool call the model asked for: ``{"name", "args", "id", "type": "tool_call"}``."""

    name: str
    args: dict[str, Any]
    id: str
    type: str


@attrs.define(slots=True, kw_only=True)
class AIMessage(BaseMessage):
    """A model's answer (role ``"assistant"``), possibly asking for tool calls."""

    type: ClassVar[str] = "ai"
    tool_calls: list[ToolCall] = attrs.field(factory=list)
    """Tool calls with parsed arguments."""
    invalid_tool_calls: list[dict[str, Any]] = attrs.field(factory=list)
    """Tool calls whose arguments were not valid JSON: ``{"name", "args" (the raw string), "id", "error"}``."""
    usage_metadata: dict[str, Any] | None = None
    """Token counts as LangChain's: ``{"input_tokens", "output_tokens", "total_tokens"}`` and optional
    ``input_token_details`` / ``output_token_details`` dicts; None when the provider reported none."""

    @property
    def content_blocks(self) -> list[dict[str, Any]]:
        """As langchain-core 1.x: the content's blocks (see :attr:`BaseMessage.content_blocks`), then a
        ``{"type": "tool_call", "id", "name", "args"}`` block for each tool call that has an id and no
        ``tool_call`` block of the content has (``index`` and ``extras`` kept when the call has them); a
        ``{"type": "reasoning"}`` block first for a string ``additional_kwargs["reasoning_content"]`` when
        there is no reasoning block. List content with ``response_metadata["output_version"] == "v1"`` is
        its blocks already and is given as it is. (langchain-core's translators for a
        ``response_metadata["model_provider"]``'s own formats are not applied.)"""
        content = self.content
        if isinstance(content, list) and self.response_metadata.get("output_version") == "v1":
            return cast("list[dict[str, Any]]", list(content))  # blocks already, as langchain-core takes them
        blocks = _content_blocks(content)
        _add_tool_calls(blocks, self.tool_calls)
        return _with_reasoning(blocks, self.additional_kwargs)


def _add_tool_calls(blocks: list[dict[str, Any]], calls: Iterable[Mapping[str, Any]]) -> None:
    """``blocks`` with a ``tool_call`` block added for each call with an id that none of them has."""
    seen = {b.get("id") for b in blocks if b.get("type") == "tool_call"}
    blocks.extend(b for b in _tool_call_blocks(calls) if b["id"] not in seen)


def _with_reasoning(blocks: list[dict[str, Any]], kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``blocks`` with langchain-core's reasoning block first, from a string
    ``additional_kwargs["reasoning_content"]``, when none of them is a reasoning block."""
    reasoning = kwargs.get("reasoning_content") if kwargs else None
    if isinstance(reasoning, str) and not any(b.get("type") == "reasoning" for b in blocks):
        blocks.insert(0, {"type": "reasoning", "reasoning": reasoning})
    return blocks


def _tool_call_blocks(calls: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    blocks = []
    for call in calls:
        call_id = call.get("id")
        if not call_id:
            continue
        block = {"type": "tool_call", "id": call_id, "name": call.get("name"), "args": call.get("args")}
        for extra in ("index", "extras"):
            if extra in call:
                block[extra] = call[extra]
        blocks.append(block)
    return blocks


def _partial_json(text: str) -> Any:
    """``text`` read as JSON, completing what a stream cut off, as langchain-core reads tool-call arguments
    while they stream: an open string is closed, open arrays and objects are closed, and trailing characters
    that still keep it from parsing are dropped one by one (``'{"a": 1, "b'`` reads as ``{"a": 1}``).

    :raises ValueError: when no completion parses, or a bracket closes another kind of bracket
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    closers: list[str] = []
    chars: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            elif char == "\n":
                char = "\\n"
        elif char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]" and (not closers or closers.pop() != char):
            raise ValueError(f"mismatched {char!r} in partial JSON")
        chars.append(char)
    if in_string:
        if escaped:
            chars.pop()
        chars.append('"')
    tail = "".join(reversed(closers))
    while chars:
        try:
            return json.loads("".join(chars) + tail)
        except ValueError:
            chars.pop()
    return json.loads(text)


def _calls_of_pieces(pieces: Iterable[Mapping[str, Any]]) -> tuple[list[ToolCall], list[dict[str, Any]]]:
    """The tool calls a chunk's tool-call pieces hold so far, and the invalid ones, as langchain-core 1.x
    makes a chunk's ``tool_calls``: a piece whose ``args`` read as a JSON object (see :func:`_partial_json`;
    empty ``args`` are ``{}``) is a call, any other an invalid call (``error`` None)."""
    calls: list[ToolCall] = []
    invalid: list[dict[str, Any]] = []
    for piece in pieces:
        raw = piece.get("args")
        try:
            args = _partial_json(raw) if raw else {}
        except (TypeError, ValueError):
            args = None
        if isinstance(args, dict):
            call: Any = {"name": piece.get("name") or "", "args": args, "id": piece.get("id"), "type": "tool_call"}
            calls.append(call)
        else:
            invalid.append(
                {
                    "name": piece.get("name"),
                    "args": raw,
                    "id": piece.get("id"),
                    "error": None,
                    "type": "invalid_tool_call",
                }
            )
    return calls, invalid


def _parsed_tool_calls(pieces: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls (without ``type``) a chunk's tool-call pieces hold so far, as langchain-core parses
    them on every chunk (see :func:`_calls_of_pieces`)."""
    return [{"name": c["name"], "args": c["args"], "id": c["id"]} for c in _calls_of_pieces(pieces)[0]]


class _NoItems(list[Any]):
    """The empty list a chunk's list fields start with, shared by every chunk: it reads as ``[]`` (and
    equals it), and changing it in place raises. A model streams thousands of chunks and almost none has
    tool calls; sharing one empty list spares three list objects per chunk."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "this empty list is shared by every AIMessageChunk and cannot change; assign a new list to the "
            "field instead (chunk.tool_calls = [...])"
        )

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


_NO_ITEMS: Any = _NoItems()


class _NoKeys(dict[str, Any]):
    """The empty dict a chunk's ``additional_kwargs`` starts with, shared by every chunk: it reads as ``{}``
    (and equals it), and changing it in place raises (see :class:`_NoItems`)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "this empty dict is shared by every AIMessageChunk and cannot change; assign a new dict to the "
            "field instead (chunk.additional_kwargs = {...})"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


_NO_KEYS: Any = _NoKeys()


@attrs.define(slots=True, kw_only=True)
class AIMessageChunk(AIMessage):
    """One streamed piece of an :class:`AIMessage`; chunks of one answer add up with ``+``.

    Its list fields (``tool_calls``, ``invalid_tool_calls``, ``tool_call_chunks``) default to one shared,
    unchangeable empty list, and ``additional_kwargs`` to one shared, unchangeable empty dict: pass or assign
    a list (a dict) to give a chunk items (changing the shared one in place raises ``TypeError``)."""

    type: ClassVar[str] = "AIMessageChunk"
    additional_kwargs: dict[str, Any] = attrs.field(default=_NO_KEYS)
    """As in :class:`BaseMessage`; chunks add theirs up as langchain-core's ``merge_dicts`` (strings joined,
    numbers added, dicts and lists merged)."""
    tool_calls: list[ToolCall] = attrs.field(default=_NO_ITEMS)
    """Tool calls with parsed arguments. Without them, a chunk given ``tool_call_chunks`` has the calls those
    pieces parse into so far (partial JSON completed), as langchain-core 1.x."""
    invalid_tool_calls: list[dict[str, Any]] = attrs.field(default=_NO_ITEMS)
    """As in :class:`AIMessage`; on a chunk, also the pieces whose ``args`` do not read as a JSON object."""
    tool_call_chunks: list[dict[str, Any]] = attrs.field(default=_NO_ITEMS)
    """Pieces of tool calls: ``{"name", "args" (a JSON fragment), "id", "index"}``; merged by ``index``."""
    chunk_position: str | None = None
    """``"last"`` on the final chunk of a model's stream (and on any sum that includes it), else None, as
    langchain-core 1.x; :meth:`to_message` drops it."""

    def __attrs_post_init__(self) -> None:
        # As langchain-core 1.x: a chunk given pieces but no calls holds the calls its pieces parse into so far.
        if self.tool_call_chunks and self.tool_calls is _NO_ITEMS and self.invalid_tool_calls is _NO_ITEMS:
            self.tool_calls, self.invalid_tool_calls = _calls_of_pieces(self.tool_call_chunks)

    @property
    def content_blocks(self) -> list[dict[str, Any]]:
        """As langchain-core 1.x: the content's blocks (see :attr:`BaseMessage.content_blocks`), then the
        tool calls. A chunk without content that is not the last gives its tool-call pieces as
        ``{"type": "tool_call_chunk", "id", "name", "args"}`` blocks (``index`` too, unless None); otherwise
        the calls its pieces parse into (see :func:`_parsed_tool_calls`) as ``tool_call`` blocks. A chunk
        given ``tool_calls`` or ``invalid_tool_calls`` but no pieces counts them as its pieces, as
        langchain-core does. Reasoning and ``output_version`` as in :attr:`AIMessage.content_blocks`."""
        content = self.content
        if isinstance(content, list) and self.response_metadata.get("output_version") == "v1":
            return cast("list[dict[str, Any]]", list(content))  # blocks already, as langchain-core takes them
        pieces = self.tool_call_chunks
        if not pieces and (self.tool_calls or self.invalid_tool_calls):  # langchain-core makes them the pieces
            pieces = [
                {"name": c.get("name"), "args": json.dumps(c.get("args")), "id": c.get("id"), "index": None}
                for c in self.tool_calls
            ]
            pieces += [
                {"name": c.get("name"), "args": c.get("args"), "id": c.get("id"), "index": None}
                for c in self.invalid_tool_calls
            ]
        blocks = _content_blocks(content)
        if pieces and not content and self.chunk_position != "last":
            for piece in pieces:
                block = {"type": "tool_call_chunk", "id": piece.get("id"), "name": piece.get("name")}
                block["args"] = piece.get("args")
                index = piece.get("index")
                if index is not None:
                    block["index"] = index
                blocks.append(block)
            return _with_reasoning(blocks, self.additional_kwargs)
        _add_tool_calls(blocks, _parsed_tool_calls(pieces))
        return _with_reasoning(blocks, self.additional_kwargs)

    def __add__(self, other: AIMessageChunk) -> AIMessageChunk:
        if not isinstance(other, AIMessageChunk):
            return NotImplemented
        return merge_chunks((self, other))

    def to_message(self) -> AIMessage:
        """The whole :class:`AIMessage`: tool-call chunks parsed into ``tool_calls``, those whose arguments
        are not valid JSON into ``invalid_tool_calls`` (reported, never raised)."""
        calls: list[ToolCall] = []
        invalid: list[dict[str, Any]] = []
        for piece in self.tool_call_chunks:
            raw = piece.get("args") or "{}"
            call_id = piece.get("id") or _new_id()
            try:
                args = json.loads(raw)
                if not isinstance(args, dict):
                    raise ValueError(f"tool arguments must be a JSON object, got {type(args).__name__}")
            except ValueError as exc:
                invalid.append({"name": piece.get("name"), "args": raw, "id": call_id, "error": str(exc)})
                continue
            calls.append({"name": piece.get("name") or "", "args": args, "id": call_id, "type": "tool_call"})
        return AIMessage(
            content=self.content if isinstance(self.content, str) else list(self.content),
            additional_kwargs=dict(self.additional_kwargs),
            id=self.id,
            name=self.name,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            response_metadata=dict(self.response_metadata),
            usage_metadata=self.usage_metadata,
        )


class ChunkSum:
    """Adds up the chunks of one answer as they arrive, keeping only their parts (not the chunks), so the
    sum costs time linear in the total size and the chunks can be freed as soon as their consumers are
    done with them. :meth:`total` gives what ``a + b + c ...`` gives."""

    __slots__ = ("_calls", "_content", "_kwargs", "_last", "_metadata", "_order", "_text", "_usage", "id", "name")

    def __init__(self) -> None:
        self._text: list[str] = []
        self._content: list[Any] | None = None
        self._kwargs: dict[str, Any] = {}
        self._calls: dict[Any, list[tuple[dict[str, Any], list[str]]]] = {}
        self._order: list[tuple[dict[str, Any], list[str]]] = []
        self._metadata: dict[str, Any] = {}
        self._usage: dict[str, Any] | None = None
        self._last = False
        self.id: str | None = None
        """The first chunk id seen."""
        self.name: str | None = None
        """The first chunk name seen."""

    def add(self, chunk: AIMessageChunk) -> None:
        """Add one chunk.

        :raises TypeError: when a key of ``additional_kwargs`` holds values of different types in two chunks,
            or values langchain-core's ``merge_dicts`` cannot add (two different booleans ...)
        """
        content = chunk.content
        if self._content is None and isinstance(content, str):
            self._text.append(content)
        elif self._content is not None:
            self._content = _merge_content(self._content, content)
        elif self._text:  # the first list content after text: the text so far is its first item
            self._content = ["".join(self._text), *content]
            self._text = []
        else:
            self._content = list(content)
        if chunk.additional_kwargs:
            self._kwargs = _merge_dicts(self._kwargs, chunk.additional_kwargs)
        if self.id is None:
            self.id = chunk.id
        if self.name is None:
            self.name = chunk.name
        if chunk.response_metadata:
            self._metadata.update(chunk.response_metadata)
        if chunk.usage_metadata is not None:
            self._usage = _add_usage(self._usage, chunk.usage_metadata)
        if chunk.chunk_position == "last":
            self._last = True
        for piece in chunk.tool_call_chunks:
            index = piece.get("index")
            found = None
            if _is_merge_index(index):
                piece_id = piece.get("id")
                for cur, args in self._calls.get(index, ()):
                    cur_id = cur.get("id")
                    if cur_id in (None, "") or piece_id in (None, "") or cur_id == piece_id:
                        found = (cur, args)
                        break
            if found is None:
                entry = (dict(piece), [piece.get("args") or ""])
                self._order.append(entry)
                if _is_merge_index(index):
                    self._calls.setdefault(index, []).append(entry)
            else:
                cur, args = found
                args.append(piece.get("args") or "")
                name = piece.get("name")
                if name is not None:
                    cur["name"] = name if cur.get("name") is None else cur["name"] + name
                if not cur.get("id"):
                    cur["id"] = piece.get("id") if piece.get("id") is not None else cur.get("id")

    def total(self) -> AIMessageChunk:
        """The sum so far, as langchain-core's ``AIMessageChunk.__add__`` gives it: text concatenated (list
        content merged as langchain-core's ``merge_content``: text before a list is its first item, blocks
        with the same ``index`` merged); ``additional_kwargs`` merged as langchain-core's ``merge_dicts``;
        a tool-call chunk merged into an earlier one with the same integer ``index`` whose ``id`` does not
        contradict it (``args`` and ``name`` joined), every other tool-call chunk (``index`` None or
        missing, or another ``id``) kept as a call of its own; the first ``id`` and ``name``;
        ``response_metadata`` updated in order; ``usage_metadata`` summed key by key (None when no chunk
        had any); ``chunk_position`` ``"last"`` when some chunk had it."""
        pieces = [{**cur, "args": "".join(args)} for cur, args in self._order]
        return AIMessageChunk(
            content="".join(self._text) if self._content is None else list(self._content),
            additional_kwargs=dict(self._kwargs) if self._kwargs else _NO_KEYS,
            id=self.id,
            name=self.name,
            tool_call_chunks=pieces,
            response_metadata=dict(self._metadata),
            usage_metadata=self._usage,
            chunk_position="last" if self._last else None,
        )


def _merge_content(merged: list[Any], content: Content) -> list[Any]:
    """``merged`` (a list content, changed in place) with ``content`` added as langchain-core's
    ``merge_content`` adds it: a list merged by :func:`_merge_lists`, a string joined to a last string item,
    else appended when not empty."""
    if isinstance(content, list):
        _merge_into(merged, content)
        return merged
    if merged and isinstance(merged[-1], str):
        merged[-1] += content
    elif content and merged:
        merged.append(content)
    return merged


def _merge_dicts(left: Mapping[str, Any], *others: Mapping[str, Any]) -> dict[str, Any]:
    """``left`` with ``others`` merged in, as langchain-core's ``merge_dicts`` adds up chunks'
    ``additional_kwargs``: a new key is added, a None value takes the other side's; strings are joined
    (except an ``lc_`` ``index`` and equal ``id``, ``output_version`` or ``model_provider``), dicts merged,
    lists merged by :func:`_merge_lists`, ints added (``index``, ``created``, ``timestamp`` replaced), equal
    values kept. A new dict; ``left`` is unchanged.

    :raises TypeError: when a key holds values of different types, or values that cannot be added (two
        different booleans, floats ...)
    """
    merged = dict(left)
    for right in others:
        for key in right:
            value: Any = right[key]
            current: Any = merged.get(key)
            if key not in merged or (value is not None and current is None):
                merged[key] = value
            elif value is None:
                continue
            elif type(current) is not type(value):
                raise TypeError(
                    f'additional_kwargs["{key}"] already exists in this message, but with a different type.'
                )
            elif isinstance(current, str):
                if (key == "index" and current.startswith("lc_")) or (
                    key in {"id", "output_version", "model_provider"} and current == value
                ):
                    continue
                merged[key] = current + value
            elif isinstance(current, dict):
                merged[key] = _merge_dicts(current, value)
            elif isinstance(current, list):
                merged[key] = _merge_lists(current, value)
            elif current == value:
                continue
            elif isinstance(current, int) and not isinstance(current, bool):
                merged[key] = value if key in {"index", "created", "timestamp"} else current + value
            else:
                raise TypeError(
                    f"Additional kwargs key {key} already exists in left dict and value has unsupported type "
                    f"{type(current)}."
                )
    return merged


def _merge_lists(left: list[Any], *others: list[Any]) -> list[Any]:
    """``left`` with the items of ``others`` added, as langchain-core's ``merge_lists`` adds up content
    blocks: a dict item whose ``index`` (an int, or a str starting with ``lc_``) matches an earlier dict
    item's, and whose ``id`` does not contradict it, is merged into it by :func:`_merge_dicts` (its ``type``
    dropped; a ``non_standard`` block's ``value`` kept as ``extras`` or ``value``); any other item is
    appended. A new list; ``left`` is unchanged."""
    merged = list(left)
    for other in others:
        _merge_into(merged, other)
    return merged


def _merge_into(merged: list[Any], other: Iterable[Any]) -> None:
    """:func:`_merge_lists` of ``merged`` and ``other``, done in ``merged``."""
    for item in other:
        index = item.get("index") if isinstance(item, dict) else None
        if not _is_merge_index(index):
            merged.append(item)
            continue
        at = next(
            (
                i
                for i, cur in enumerate(merged)
                if isinstance(cur, dict)
                and "index" in cur
                and cur["index"] == index
                and (cur.get("id") in (None, "") or item.get("id") in (None, "") or cur.get("id") == item.get("id"))
            ),
            None,
        )
        if at is None:
            merged.append(item)
            continue
        left_type = merged[at].get("type")
        new: dict[str, Any]
        if left_type and item.get("type") == "non_standard" and "value" in item:
            rest = {k: v for k, v in item["value"].items() if k != "type"}
            new = {"extras": rest} if left_type != "non_standard" else {"value": rest, "index": index}
        else:
            new = {k: v for k, v in item.items() if k != "type"}
        merged[at] = _merge_dicts(merged[at], new)


def _add_usage(left: dict[str, Any] | None, right: Mapping[str, Any]) -> dict[str, Any]:
    """Token counts added key by key, nested detail dicts too (a key missing on one side counts 0)."""
    total = dict(left or {})
    for key, value in right.items():
        if isinstance(value, Mapping):
            total[key] = _add_usage(total.get(key), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


def _is_merge_index(index: Any) -> bool:
    """Whether a tool-call chunk's ``index`` lets it merge with others (LangChain: an int, or a str
    starting with ``lc_``)."""
    return isinstance(index, int) or (isinstance(index, str) and index.startswith("lc_"))


def merge_chunks(chunks: Iterable[AIMessageChunk]) -> AIMessageChunk:
    """Add up the chunks of one answer in one pass (see :class:`ChunkSum`); an empty iterable gives an
    empty chunk."""
    acc = ChunkSum()
    for chunk in chunks:
        acc.add(chunk)
    return acc.total()


@attrs.define(slots=True, kw_only=True)
class ToolMessage(BaseMessage):
    """The result of one tool call (role ``"tool"``)."""

    type: ClassVar[str] = "tool"
    tool_call_id: str = ""
    """Id of the tool call this answers."""
    status: str = "success"
    """``"success"`` or ``"error"``."""
    artifact: Any = None
    """What the tool gave besides the content sent to the model (langchain-core's ``artifact``), or None."""


AnyMessage = HumanMessage | SystemMessage | AIMessage | AIMessageChunk | ToolMessage

_SHOWN: Final[Any] = object()
"""A field :func:`_repr` always shows (LangChain's fields without a plain default)."""

_BASE_FIELDS: Final = (("content", _SHOWN), ("additional_kwargs", _SHOWN), ("response_metadata", _SHOWN))
_REPR_FIELDS: Final[dict[type[BaseMessage], tuple[tuple[str, Any], ...]]] = {
    HumanMessage: (*_BASE_FIELDS, ("name", None), ("id", None)),
    SystemMessage: (*_BASE_FIELDS, ("name", None), ("id", None)),
    AIMessage: (
        *_BASE_FIELDS,
        ("name", None),
        ("id", None),
        ("tool_calls", _SHOWN),
        ("invalid_tool_calls", _SHOWN),
        ("usage_metadata", None),
    ),
    ToolMessage: (
        ("content", _SHOWN),
        ("name", None),
        ("id", None),
        ("tool_call_id", _SHOWN),
        ("artifact", None),
        ("status", "success"),
    ),
}
_REPR_FIELDS[AIMessageChunk] = (*_REPR_FIELDS[AIMessage], ("tool_call_chunks", _SHOWN), ("chunk_position", None))


def _repr_args(message: BaseMessage) -> list[str]:
    """``name=value`` for the fields LangChain's message of the same class shows, in its order: those
    without a plain default always, the others when they differ from it (a tool message shows neither
    ``additional_kwargs`` nor ``response_metadata``, as LangChain's)."""
    out = []
    for name, default in _REPR_FIELDS[type(message)]:
        value = getattr(message, name)
        if default is _SHOWN or value != default:
            out.append(f"{name}={value!r}")
    return out


def _repr(message: BaseMessage) -> str:
    """The message as LangChain's ``repr`` shows its own: ``AIMessage(content='hi', additional_kwargs={}, ...)``."""
    return f"{type(message).__name__}({', '.join(_repr_args(message))})"


def _str(message: BaseMessage) -> str:
    """The message as LangChain's ``str`` shows its own: ``content='hi' additional_kwargs={} ...``."""
    return " ".join(_repr_args(message))


for _cls in _REPR_FIELDS:
    _cls.__repr__ = _repr  # type: ignore[method-assign,assignment]
    _cls.__str__ = _str  # type: ignore[method-assign,assignment]

_ROLES: dict[str, type[BaseMessage]] = {
    "user": HumanMessage,
    "human": HumanMessage,
    "system": SystemMessage,
    "developer": SystemMessage,
    "assistant": AIMessage,
    "ai": AIMessage,
    "tool": ToolMessage,
}


def _from_role(role: Any, fields: dict[str, Any]) -> BaseMessage:
    cls = _ROLES.get(role) if isinstance(role, str) else None
    if cls is None:
        raise InvalidArgumentError(f"unknown message role {role!r}; allowed roles: {sorted(_ROLES)}")
    if cls is ToolMessage and not fields.get("tool_call_id"):
        raise InvalidArgumentError("a 'tool' message needs a 'tool_call_id' (the id of the call it answers)")
    _check_content(fields.get("content", ""))
    allowed = {a.name for a in attrs.fields(cls)}
    return cls(**{k: v for k, v in fields.items() if k in allowed})


def coerce_message(value: Any) -> BaseMessage:
    """Return ``value`` as a message, as LangChain coerces message-likes: messages pass through, a string
    is a :class:`HumanMessage`, a ``(role, content)`` tuple and a dict with ``role`` (or ``type``) and
    ``content`` become the role's message. Roles: ``human``/``user``, ``ai``/``assistant``,
    ``system``/``developer``, and ``tool`` (a dict with a ``tool_call_id``; a tuple cannot carry one). Another
    library's message is taken by the converters registered with :func:`register_message_converter`.

    :raises InvalidArgumentError: for an unknown role, a ``tool`` message without ``tool_call_id``, a tuple
        that is not ``(role, content)``, content that is neither a string nor a list, or any other type
    """
    if isinstance(value, BaseMessage):
        return value
    if isinstance(value, str):
        return HumanMessage(value)
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidArgumentError(f"a message tuple is (role, content), got {len(value)} items: {value!r}")
        role, content = value
        return _from_role(role, {"content": content})
    if isinstance(value, Mapping):
        fields = dict(value)
        role = fields.pop("role", None) or fields.pop("type", None)
        if fields.get("content") is None:  # as LangChain: a dict's missing or None content is ""
            fields["content"] = ""
        return _from_role(role, fields)
    for convert in _converters:
        message = convert(value)
        if message is not None:
            return message
    raise InvalidArgumentError(
        f"cannot make a message of {type(value).__name__}; pass a message, dict, (role, content) tuple or str"
    )


_converters: list[Callable[[Any], BaseMessage | None]] = []


def convert_foreign(value: Any) -> BaseMessage | None:
    """The streamflow message a registered converter (:func:`register_message_converter`) makes of
    ``value``, another library's message; None when no converter knows it (or none is registered)."""
    for convert in _converters:
        message = convert(value)
        if message is not None:
            return message
    return None


_PLAIN_VALUES = frozenset({str, int, float, bool, dict, type(None)})
"""Classes of values :func:`convert_foreign_values` leaves as they are without a look."""


def convert_foreign_values(update: dict[str, Any]) -> dict[str, Any]:
    """``update`` (a node's update of state keys) with another library's messages made streamflow's, where
    they are its values or items of its list values; ``update`` itself when it holds none."""
    out: dict[str, Any] | None = None
    for key, value in update.items():
        if value.__class__ in _PLAIN_VALUES:  # the common value: nothing to look at
            continue
        if isinstance(value, list):
            converted = [convert_foreign(item) if not isinstance(item, BaseMessage) else None for item in value]
            if any(c is not None for c in converted):
                out = dict(update) if out is None else out
                out[key] = [item if c is None else c for item, c in zip(value, converted, strict=True)]
        elif not isinstance(value, (BaseMessage, str, int, float, dict)) and value is not None:
            message = convert_foreign(value)
            if message is not None:
                out = dict(update) if out is None else out
                out[key] = message
    return update if out is None else out


def register_message_converter(convert: Callable[[Any], BaseMessage | None]) -> None:
    """Have :func:`coerce_message` (and so ``add_messages``) take another library's messages: ``convert``
    returns the streamflow message for a value it knows, None for any other. A bridge registers one (the
    LangChain bridge, for langchain-core's messages); registering the same function twice is a no-op."""
    if convert not in _converters:
        _converters.append(convert)


def _as_list(value: Any) -> list[BaseMessage]:
    if isinstance(value, (BaseMessage, Mapping, str, tuple)):
        return [coerce_message(value)]
    if isinstance(value, Iterable):
        return [coerce_message(v) for v in value]
    raise InvalidArgumentError(f"expected a message or a list of messages, got {type(value).__name__}")


def add_messages(left: Sequence[Any] | Any, right: Sequence[Any] | Any) -> list[BaseMessage]:
    """Reducer for a list of messages (LangGraph's ``add_messages``): append ``right`` to ``left``,
    replacing a message of ``left`` that has the same ``id``. Messages without an id get one; chunks are
    turned into whole messages.

    Both sides take a message, a message dict, a ``(role, content)`` tuple, a string, or a list of these
    (see :func:`coerce_message`); a tuple on its own is one message, as in LangChain.

    :raises InvalidArgumentError: when an item is none of these, or has an unknown role
    """
    merged = _as_list(left)
    for msg in merged:
        if msg.id is None:
            msg.id = _new_id()
    position = {m.id: i for i, m in enumerate(merged)}
    for msg in _as_list(right):
        if isinstance(msg, AIMessageChunk):
            msg = msg.to_message()
        if msg.id is None:
            msg.id = _new_id()
        if msg.id in position:
            merged[position[msg.id]] = msg
        else:
            position[msg.id] = len(merged)
            merged.append(msg)
    return merged


class MessagesState(TypedDict):
    """A state schema with one key, ``messages``, merged by :func:`add_messages`."""

    messages: Annotated[list[AnyMessage], add_messages]
