"""LangGraph 1.2's v3 run streams (``stream_events(version="v3")`` / ``astream_events(version="v3")``) on
LangGraph and on streamflow: the same envelopes, projections, outputs and errors once normalised (timestamps
and ids volatile; a chat model's text deltas joined per content block, as the two fake models split a text
differently).

After LangGraph's ``test_pregel_stream_events_v3.py``, ``test_stream_lifecycle_transformer.py``,
``test_stream_messages_transformer.py``, ``test_stream_subgraph_transformer.py`` and
``test_stream_data_transformers.py`` (their tests of public behaviour; ``V3_REVIEW.md`` maps each test to its
case). Every case runs twice: through the sync run stream (called from a worker thread) and through the async one.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import operator
import re
import warnings
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypedDict

import pytest

from streamflow.models import FakeChatModel

from .conftest import Lib, load, normalise, reference

pytestmark = pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")

THREAD = {"configurable": {"thread_id": "t1"}}


def stream_module(lib: Lib) -> Any:
    return importlib.import_module("langgraph.stream" if lib.name == "langgraph" else "streamflow.stream")


class Api:
    """One library's v3 API, sync or async, with awaitable methods so a case is written once."""

    def __init__(self, lib: Lib, mode: str) -> None:
        self.lib = lib
        self.mode = mode
        self.stream = stream_module(lib)

    async def _sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        def call() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(*args)

        return await asyncio.to_thread(call)

    async def open(self, graph: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if self.mode == "async":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return await graph.astream_events(input, config, version="v3", **kwargs)
        return await self._sync(lambda: graph.stream_events(input, config, version="v3", **kwargs))

    async def items(self, source: Any, limit: int | None = None) -> list[Any]:
        if self.mode == "async":
            out = []
            async for item in source:
                out.append(item)
                if limit is not None and len(out) >= limit:
                    break
            return out
        items: list[Any] = await self._sync(lambda: list(itertools.islice(iter(source), limit)))
        return items

    async def items_or_error(self, source: Any) -> tuple[list[Any], str | None]:
        """The items, then the error that ended them (``"ValueError: boom"``) or None."""
        out: list[Any] = []
        try:
            if self.mode == "async":
                async for item in source:
                    out.append(item)
            else:

                def take() -> None:
                    for item in source:
                        out.append(item)

                await self._sync(take)
        except Exception as exc:
            return out, f"{type(exc).__name__}: {exc}"
        return out, None

    async def result(self, run: Any, name: str) -> Any:
        """``run.output`` / ``interrupted`` / ``interrupts`` (awaited methods on the async stream)."""
        if self.mode == "async":
            return await getattr(run, name)()
        return await self._sync(lambda: getattr(run, name))

    async def error_of(self, thunk: Callable[[], Awaitable[Any]]) -> str | None:
        try:
            await thunk()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def abort(self, run: Any) -> None:
        if self.mode == "async":
            await run.abort()
        else:
            await self._sync(run.abort)

    async def text(self, message_stream: Any) -> tuple[list[str], Any, Any]:
        """A chat model stream's text (deltas joined), output message and node."""
        if self.mode == "async":
            deltas = [d async for d in message_stream.text]
            output = await message_stream.output
        else:
            deltas = await self._sync(lambda: list(message_stream.text))
            output = await self._sync(lambda: message_stream.output)
        return ["".join(deltas)], text_of(output.content), message_stream.node

    async def message_texts(self, run: Any) -> list[tuple[list[str], Any, Any]]:
        """:meth:`text` of each chat model stream of ``run.messages`` (async: each read in the loop body)."""
        out = []
        if self.mode == "async":
            async for message in run.messages:
                out.append(await self.text(message))
        else:
            for message in await self._sync(lambda: list(run.messages)):
                out.append(await self.text(message))
        return out


class S(TypedDict):
    value: str
    items: Annotated[list[str], operator.add]


INPUT = {"value": "x", "items": []}


def step_a(state: S) -> dict[str, Any]:
    return {"value": state["value"] + "A", "items": ["a"]}


def a_then_b(lib: Lib, node_b: Any, *, to_end: bool, **compile_kwargs: Any) -> Any:
    """``START -> node_a -> node_b`` (``-> END`` with ``to_end``) on ``S``, compiled with ``compile_kwargs``."""
    b = lib.StateGraph(S)
    b.add_node("node_a", step_a)
    b.add_node("node_b", node_b)
    b.add_edge(lib.START, "node_a")
    b.add_edge("node_a", "node_b")
    if to_end:
        b.add_edge("node_b", lib.END)
    return b.compile(**compile_kwargs)


def simple(lib: Lib, **compile_kwargs: Any) -> Any:
    def node_b(state: S) -> dict[str, Any]:
        return {"value": state["value"] + "B", "items": ["b"]}

    return a_then_b(lib, node_b, to_end=True, **compile_kwargs)


def failing(lib: Lib) -> Any:
    def node_b(state: S) -> dict[str, Any]:
        raise ValueError("boom")

    return a_then_b(lib, node_b, to_end=False)


def interrupting(lib: Lib) -> Any:
    def node_b(state: S) -> dict[str, Any]:
        lib.interrupt("need approval")
        return {"value": state["value"] + "B", "items": ["b"]}

    return a_then_b(lib, node_b, to_end=False, checkpointer=lib.InMemorySaver())


def writing(lib: Lib) -> Any:
    def node_a(state: S) -> dict[str, Any]:
        writer = lib.get_stream_writer()
        writer({"step": "start"})
        writer({"step": "end"})
        return {"value": state["value"] + "A", "items": ["a"]}

    b = lib.StateGraph(S)
    b.add_node("node_a", node_a)
    b.add_edge(lib.START, "node_a")
    return b.compile()


def nested(lib: Lib, inner_fails: bool = False, depth: int = 1) -> Any:
    def inner(state: S) -> dict[str, Any]:
        if inner_fails:
            raise ValueError("inner boom")
        return {"value": state["value"] + "I", "items": ["i"]}

    sb = lib.StateGraph(S)
    sb.add_node("inner", inner)
    sb.add_edge(lib.START, "inner")
    graph = sb.compile()
    for level in range(depth):
        b = lib.StateGraph(S)
        b.add_node(f"sub{level}", graph)
        b.add_node("after", lambda s: {"items": ["after"]})
        b.add_edge(lib.START, f"sub{level}")
        b.add_edge(f"sub{level}", "after")
        graph = b.compile()
    return graph


def tool_caller(text: str, tool_calls: list[Any]) -> Any:
    """A LangChain chat model streaming ``text`` in two pieces, then each tool call's arguments in two
    pieces (``GenericFakeChatModel`` streams no tool calls)."""
    import json

    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class ToolCaller(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "tool-caller"

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(text, tool_calls=tool_calls))])

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
            half = len(text) // 2
            for piece in (text[:half], text[half:]):
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
            for index, call in enumerate(tool_calls):
                args = json.dumps(call["args"])
                pieces: list[Any] = [
                    {"name": call["name"], "args": args[:4], "id": call["id"], "index": index},
                    {"name": None, "args": args[4:], "id": None, "index": index},
                ]
                for piece in pieces:
                    yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[piece]))

    return ToolCaller()


def fake_model(lib: Lib, text: str = "hello there world", tool_calls: list[Any] | None = None) -> Any:
    """The library's fake chat model answering ``text`` (LangChain's splits at whitespace, ours every 3
    characters: cases join the deltas)."""
    if lib.name == "langgraph" and tool_calls:
        return tool_caller(text, tool_calls)
    if lib.name == "langgraph":
        from langchain_core.language_models import GenericFakeChatModel
        from langchain_core.messages import AIMessage

        return GenericFakeChatModel(messages=itertools.cycle([AIMessage(text)]))
    from streamflow.messages import AIMessage as SfAIMessage

    return FakeChatModel([SfAIMessage(content=text, tool_calls=tool_calls or [])], chunk_size=3)


def text_of(content: Any) -> str:
    """A message's text: LangGraph's v3 answers hold it as v1 content blocks, streamflow's as a string."""
    if isinstance(content, list):
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return str(content)


def chatting(lib: Lib, text: str = "hello there world", tool_calls: list[Any] | None = None) -> Any:
    if lib.name == "langgraph" and tool_calls:
        model: Any = tool_caller(text, tool_calls)
    elif lib.name == "langgraph":
        from langchain_core.language_models import GenericFakeChatModel
        from langchain_core.messages import AIMessage

        model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(text)]))
    else:
        from streamflow.messages import AIMessage as SfAIMessage

        model = FakeChatModel([SfAIMessage(content=text, tool_calls=tool_calls or [])], chunk_size=3)

    def call(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    b = lib.StateGraph(lib.MessagesState)
    b.add_node("call", call)
    b.add_edge(lib.START, "call")
    return b.compile()


CHAT_INPUT = {"messages": [{"role": "user", "content": "hi"}]}


def plain_content(value: Any) -> Any:
    """Normalised data with a message content given as a list of content blocks (what a chat model answers in
    a LangGraph v3 run, which assembles its message from protocol events) turned into its text, as
    streamflow's messages keep it (a documented difference)."""
    if isinstance(value, list):
        return [plain_content(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain_content(item) for item in value)
    if isinstance(value, dict):
        out = {key: plain_content(item) for key, item in value.items()}
        content = out.get("content")
        if "type" in out and isinstance(content, list) and all(isinstance(b, dict) for b in content):
            # the text blocks' text; tool_call blocks repeat the message's tool_calls
            out["content"] = "".join(b["text"] for b in content if b.get("type") == "text")
        return out
    return value


def joined(envelopes: list[Any]) -> list[Any]:
    """Envelopes with consecutive text deltas of one content block joined (the fake models split a text
    differently, so ``seq`` is dropped), the messages metadata reduced to the node, step and namespace, and
    message contents made text (:func:`plain_content`)."""
    out: list[Any] = []
    for e in plain_content(normalise(envelopes)):
        e.pop("seq", None)
        if e.get("method") != "messages":
            out.append(e)
            continue
        payload, metadata = e["params"]["data"]
        meta = {k: metadata.get(k) for k in ("langgraph_node", "langgraph_step", "langgraph_checkpoint_ns")}
        last = out[-1] if out else None
        if (
            payload.get("event") == "content-block-delta"
            and isinstance(last, dict)
            and last.get("method") == "messages"
            and last["params"]["data"][0].get("event") == "content-block-delta"
            and last["params"]["data"][0]["index"] == payload["index"]
            and payload["delta"].get("type") == last["params"]["data"][0]["delta"].get("type")
        ):
            prev = last["params"]["data"][0]
            field = "text" if payload["delta"]["type"] == "text-delta" else "args"
            prev["delta"] = {**prev["delta"], field: prev["delta"][field] + payload["delta"][field]}
            continue
        out.append({**e, "params": {**e["params"], "data": (dict(payload), meta)}})
    return out


# -- the cases ------------------------------------------------------------------------------------


async def main_log(api: Api) -> Any:
    run = await api.open(simple(api.lib), INPUT)
    return await api.items(run)


async def values_projection(api: Api) -> Any:
    run = await api.open(simple(api.lib), INPUT)
    return await api.items(run.values)


async def output(api: Api) -> Any:
    run = await api.open(simple(api.lib), INPUT)
    return await api.result(run, "output"), await api.result(run, "interrupted"), await api.result(run, "interrupts")


async def native_keys(api: Api) -> Any:
    run = await api.open(simple(api.lib), INPUT)
    await api.result(run, "output")
    keys = sorted(run.extensions)
    same = run.values is run.extensions["values"] and run.messages is run.extensions["messages"]
    errors = []
    actions: list[Callable[[], Any]] = [
        lambda: run.extensions.__setitem__("new_key", object()),
        lambda: run.extensions.__delitem__("values"),
        lambda: run.updates,
    ]
    for action in actions:
        try:
            action()
        except Exception as exc:
            errors.append(type(exc).__name__)
    return keys, same, errors


def passthrough(lib: Lib) -> Any:
    base = stream_module(lib).StreamTransformer

    class CustomPassthrough(base):  # type: ignore[misc, valid-type]
        required_stream_modes = ("custom",)

        def init(self) -> dict[str, Any]:
            return {}

        def process(self, event: Any) -> bool:
            return True

    return CustomPassthrough


async def custom_events(api: Api) -> Any:
    run = await api.open(writing(api.lib), INPUT, transformers=[passthrough(api.lib)])
    with_transformer = [e for e in await api.items(run) if e["method"] == "custom"]
    run = await api.open(writing(api.lib), INPUT)
    without = [e for e in await api.items(run) if e["method"] == "custom"]
    return with_transformer, without


async def data_transformers(api: Api) -> Any:
    s = api.stream
    factories = [s.UpdatesTransformer, s.CustomTransformer]
    run = await api.open(writing(api.lib), INPUT, transformers=factories)
    log = await api.items(run)
    run = await api.open(writing(api.lib), INPUT, transformers=factories)
    updates = await api.items(run.updates)
    run = await api.open(writing(api.lib), INPUT, transformers=factories)
    custom = await api.items(run.custom)
    return log, updates, custom


async def compiled_transformers(api: Api) -> Any:
    graph = simple(api.lib, transformers=[api.stream.UpdatesTransformer])
    run = await api.open(graph, INPUT)
    updates = await api.items(run.updates)
    tasks_transformer = api.stream.TasksTransformer
    run = await api.open(graph, INPUT, transformers=[lambda scope: tasks_transformer(scope)])
    tasks = await api.items(run.tasks)
    return updates, tasks


async def checkpoints_and_debug(api: Api) -> Any:
    s = api.stream
    graph = simple(api.lib, checkpointer=api.lib.InMemorySaver())
    run = await api.open(graph, INPUT, THREAD, transformers=[s.CheckpointsTransformer])
    checkpoints = await api.items(run.checkpoints)
    run = await api.open(graph, INPUT, {"configurable": {"thread_id": "t2"}}, transformers=[s.DebugTransformer])
    debug = await api.items(run.debug)
    shapes = [(sorted(c), c["next"], c["values"], c["metadata"].get("step")) for c in checkpoints]
    return shapes, [(d["type"], d["step"], sorted(d["payload"])) for d in debug]


async def interleaved(api: Api) -> Any:
    if api.mode == "async":  # LangGraph's async run stream has no interleave()
        return None
    run = await api.open(writing(api.lib), INPUT, transformers=[api.stream.UpdatesTransformer])
    tagged = await api.items(run.interleave("values", "updates", "messages"))
    run = await api.open(simple(api.lib), INPUT)
    error = await api.error_of(lambda: api.items(run.interleave("values", "does_not_exist")))
    return tagged, error


async def errors(api: Api) -> Any:
    out: list[Any] = []
    run = await api.open(failing(api.lib), INPUT)
    out.append(await api.error_of(lambda: api.result(run, "output")))
    run = await api.open(failing(api.lib), INPUT)
    out.append(await api.items_or_error(run.values))
    run = await api.open(failing(api.lib), INPUT)
    out.append(await api.items_or_error(run))
    for name in ("interrupted", "interrupts"):
        run = await api.open(failing(api.lib), INPUT)
        out.append(await api.error_of(lambda name=name, run=run: api.result(run, name)))  # type: ignore[misc]
    return out


async def interrupted(api: Api) -> Any:
    run = await api.open(interrupting(api.lib), INPUT, THREAD)
    log = await api.items(run)
    run = await api.open(interrupting(api.lib), INPUT, THREAD)
    return (
        log,
        await api.result(run, "output"),
        await api.result(run, "interrupted"),
        await api.result(run, "interrupts"),
    )


async def resumed(api: Api) -> Any:
    graph = interrupting(api.lib)
    run = await api.open(graph, INPUT, THREAD)
    await api.result(run, "output")
    run = await api.open(graph, api.lib.Command(resume="ok"), THREAD)
    return await api.items(run), await api.result(run, "interrupted")


async def breakpoint_and_context(api: Api) -> Any:
    """``interrupt_before`` and ``durability`` pass through to the run, as LangGraph's v3 forwards them."""
    graph = simple(api.lib, checkpointer=api.lib.InMemorySaver())
    run = await api.open(graph, INPUT, THREAD, interrupt_before=["node_b"], durability="sync")
    log = await api.items(run)
    state = graph.get_state(THREAD)
    return log, state.next


async def subgraph_log(api: Api) -> Any:
    run = await api.open(nested(api.lib), INPUT)
    log = await api.items(run)
    run = await api.open(nested(api.lib, depth=2), INPUT)
    lifecycle = await api.items(run.lifecycle)
    run = await api.open(nested(api.lib, depth=2), INPUT)
    deep = await api.items(run)
    return log, lifecycle, deep


async def subgraph_failure(api: Api) -> Any:
    run = await api.open(nested(api.lib, inner_fails=True), INPUT)
    return await api.items_or_error(run), await api.error_of(lambda: api.result(run, "output"))


async def subgraph_handles(api: Api) -> Any:
    run = await api.open(nested(api.lib, depth=2), INPUT)
    found = []
    if api.mode == "async":
        async for handle in run.subgraphs:
            values = [v async for v in handle.values]
            inner = [(h.graph_name, [v async for v in h.values]) async for h in handle.subgraphs]
            found.append((handle.graph_name, handle.path, handle.trigger_call_id, values, inner, handle.status))
    else:

        def take() -> None:
            for handle in run.subgraphs:
                values = list(handle.values)
                inner = [(h.graph_name, list(h.values)) for h in handle.subgraphs]
                found.append((handle.graph_name, handle.path, handle.trigger_call_id, values, inner, handle.status))

        await api._sync(take)
    return found


def siblings(lib: Lib, fail_first: bool = False) -> Any:
    """outer -> one -> two, both compiled subgraphs adding an item (``one`` fails with ``fail_first``)."""

    def sub(item: str) -> Any:
        def add(state: S) -> dict[str, Any]:
            if fail_first and item == "one":
                raise ValueError("child boom")
            return {"items": [item]}

        b = lib.StateGraph(S)
        b.add_node(f"add_{item}", add)
        b.add_edge(lib.START, f"add_{item}")
        return b.compile()

    b = lib.StateGraph(S)
    b.add_node("one", sub("one"))
    b.add_node("two", sub("two"))
    b.add_edge(lib.START, "one")
    b.add_edge("one", "two")
    return b.compile()


async def handle_sync_or_async(
    api: Api, run: Any, body: Callable[[Any], Any], abody: Callable[[Any], Any]
) -> list[Any]:
    """``body(handle)`` for each handle of ``run.subgraphs`` (``await abody(handle)`` on the async stream)."""
    if api.mode == "async":
        return [await abody(handle) async for handle in run.subgraphs]
    return list(await api._sync(lambda: [body(handle) for handle in run.subgraphs]))


async def grandchildren(api: Api) -> Any:
    run = await api.open(nested(api.lib, depth=2), INPUT)

    def body(middle: Any) -> Any:
        inner = [(h.path, h.graph_name, list(h.values), h.status) for h in middle.subgraphs]
        return middle.path, inner, middle.status

    async def abody(middle: Any) -> Any:
        inner = [(h.path, h.graph_name, [v async for v in h.values], h.status) async for h in middle.subgraphs]
        return middle.path, inner, middle.status

    return await handle_sync_or_async(api, run, body, abody)


async def handle_output(api: Api) -> Any:
    run = await api.open(siblings(api.lib), INPUT)

    def body(handle: Any) -> Any:
        if handle.graph_name == "one":
            return handle.graph_name, handle.output, handle.status
        return handle.graph_name, list(handle.values), handle.status

    async def abody(handle: Any) -> Any:
        if handle.graph_name == "one":
            return handle.graph_name, await handle.output(), handle.status
        return handle.graph_name, [v async for v in handle.values], handle.status

    return await handle_sync_or_async(api, run, body, abody)


async def handle_abort(api: Api) -> Any:
    run = await api.open(siblings(api.lib), INPUT)

    def body(handle: Any) -> Any:
        if handle.graph_name == "one":
            iter(handle.values)
            handle.abort()
            return handle.graph_name, handle.status
        return handle.graph_name, list(handle.values)

    async def abody(handle: Any) -> Any:
        if handle.graph_name == "one":
            aiter(handle.values)
            await handle.abort()
            return handle.graph_name, handle.status
        return handle.graph_name, [v async for v in handle.values]

    return await handle_sync_or_async(api, run, body, abody), await api.result(run, "output")


async def handle_failure(api: Api) -> Any:
    run = await api.open(siblings(api.lib, fail_first=True), INPUT)
    if api.mode == "async":
        handle = await anext(aiter(run.subgraphs))
        error = await api.error_of(handle.output)
    else:
        handle = await api._sync(lambda: next(iter(run.subgraphs)))
        error = await api.error_of(lambda: api._sync(lambda: handle.output))
    return error, handle.status, handle.error


async def messages_log(api: Api) -> Any:
    run = await api.open(chatting(api.lib), CHAT_INPUT)
    return joined(await api.items(run))


async def messages_projection(api: Api) -> Any:
    run = await api.open(chatting(api.lib), CHAT_INPUT)
    return plain_content(normalise(await api.message_texts(run)))


async def messages_tool_calls(api: Api) -> Any:
    call = {"name": "add", "args": {"a": 1, "b": 2}, "id": "call-1", "type": "tool_call"}
    run = await api.open(chatting(api.lib, "adding", [call]), CHAT_INPUT)
    log = joined(await api.items(run))
    run = await api.open(chatting(api.lib, "adding", [call]), CHAT_INPUT)
    return log, plain_content(normalise(await api.result(run, "output")))


async def before_builtins(api: Api) -> Any:
    s = api.stream
    order: list[str] = []

    class Shout(s.StreamTransformer):  # type: ignore[misc, name-defined]
        before_builtins = True

        def init(self) -> dict[str, Any]:
            return {}

        def process(self, event: Any) -> bool:
            order.append("shout")
            payload = event["params"]["data"][0] if event["method"] == "messages" else None
            if isinstance(payload, dict) and payload.get("event") == "content-block-delta":
                payload["delta"]["text"] = payload["delta"]["text"].upper()
            return True

    class Observer(s.StreamTransformer):  # type: ignore[misc, name-defined]
        def init(self) -> dict[str, Any]:
            return {}

        def process(self, event: Any) -> bool:
            order.append("observer")
            return True

    run = await api.open(chatting(api.lib), CHAT_INPUT, transformers=[Observer, Shout])
    return await api.message_texts(run), order[:2]


async def all_transformers(api: Api) -> Any:
    s = api.stream
    factories = [
        s.UpdatesTransformer,
        s.CustomTransformer,
        s.CheckpointsTransformer,
        s.DebugTransformer,
        s.TasksTransformer,
    ]
    b = api.lib.StateGraph(S)

    def node_a(state: S) -> dict[str, Any]:
        api.lib.get_stream_writer()({"step": "a"})
        return {"value": "A", "items": ["a"]}

    b.add_node("node_a", node_a)
    b.add_edge(api.lib.START, "node_a")
    compiled = b.compile(checkpointer=api.lib.InMemorySaver())
    run = await api.open(compiled, INPUT, THREAD, transformers=factories)
    log = await api.items(run)
    methods = [e["method"] for e in log]
    kept = [e for e in log if e["method"] in ("values", "updates", "custom", "lifecycle")]
    tasks = [e["params"]["data"] for e in log if e["method"] == "tasks"]
    return methods, kept, [sorted(t) for t in tasks]


async def refused(api: Api) -> Any:
    s = api.stream
    graph = simple(api.lib)
    out = []
    for kwargs in ({"stream_mode": "values"}, {"subgraphs": True}, {"transformers": [s.UpdatesTransformer()]}):
        out.append(await api.error_of(lambda kwargs=kwargs: api.open(graph, INPUT, **kwargs)))  # type: ignore[misc]

    class Clash(s.StreamTransformer):  # type: ignore[misc, name-defined]
        def init(self) -> dict[str, Any]:
            return {"values": s.StreamChannel()}

        def process(self, event: Any) -> bool:
            return True

    out.append(await api.error_of(lambda: api.open(graph, INPUT, transformers=[Clash])))

    class NeedsAsync(s.StreamTransformer):  # type: ignore[misc, name-defined]
        requires_async = True

        def init(self) -> dict[str, Any]:
            return {}

        def process(self, event: Any) -> bool:
            return True

    out.append(await api.error_of(lambda: api.open(graph, INPUT, transformers=[NeedsAsync])))

    class OverridesAprocess(s.StreamTransformer):  # type: ignore[misc, name-defined]
        def init(self) -> dict[str, Any]:
            return {}

        async def aprocess(self, event: Any) -> bool:
            return True

    out.append(await api.error_of(lambda: api.open(graph, INPUT, transformers=[OverridesAprocess])))

    class NotADict(s.StreamTransformer):  # type: ignore[misc, name-defined]
        def init(self) -> Any:
            return [1]

        def process(self, event: Any) -> bool:
            return True

    out.append(await api.error_of(lambda: api.open(graph, INPUT, transformers=[NotADict])))
    out.append(await api.error_of(lambda: api.open(graph, INPUT, transformers=[42])))

    async def bad_maxlen() -> None:
        s.StreamChannel("x", maxlen=0)

    out.append(await api.error_of(bad_maxlen))
    return out


async def user_channel(api: Api) -> Any:
    s = api.stream

    class Counter(s.StreamTransformer):  # type: ignore[misc, name-defined]
        required_stream_modes = ("updates",)

        def __init__(self, scope: tuple[str, ...] = ()) -> None:
            super().__init__(scope)
            self.channel = s.StreamChannel("node_count")
            self.local = s.StreamChannel()
            self.n = 0

        def init(self) -> dict[str, Any]:
            return {"node_count": self.channel, "local": self.local}

        def process(self, event: Any) -> bool:
            if event["method"] == "updates":
                self.n += 1
                self.channel.push({"n": self.n})
                self.local.push(list(event["params"]["data"]))
            return bool(event["method"] != "updates")

    run = await api.open(simple(api.lib), INPUT, transformers=[Counter])
    log = await api.items(run)
    run = await api.open(simple(api.lib), INPUT, transformers=[Counter])
    counted = await api.items(run.extensions["node_count"])
    run = await api.open(simple(api.lib), INPUT, transformers=[Counter])
    local = await api.items(run.extensions["local"])

    class NativeCounter(Counter):
        _native = True

    run = await api.open(simple(api.lib), INPUT, transformers=[NativeCounter])
    native = run.node_count is run.extensions["node_count"]
    native_log = [e for e in await api.items(run) if e["method"] != "values"]
    return log, counted, local, hasattr(run, "node_count"), native, native_log


async def abort_early(api: Api) -> Any:
    run = await api.open(simple(api.lib), INPUT)
    if api.mode == "async":
        values = aiter(run.values)
        first = await anext(values)
        await run.abort()
        rest = [v async for v in values]
        await run.abort()
    else:

        def take() -> tuple[Any, list[Any]]:
            values = iter(run.values)
            first = next(values)
            run.abort()
            rest = list(values)
            run.abort()
            return first, rest

        first, rest = await api._sync(take)
    return first, rest


async def context_manager(api: Api) -> Any:
    run = await api.open(simple(api.lib), INPUT)
    if api.mode == "async":
        async with run:
            values = aiter(run.values)
            first = await anext(values)
        rest = [v async for v in values]
    else:

        def take() -> tuple[Any, list[Any]]:
            with run:
                values = iter(run.values)
                first = next(values)
            return first, list(values)

        first, rest = await api._sync(take)
    return first, rest


async def whole_messages(api: Api) -> Any:
    """A node returning a message it built, after a subgraph whose node calls a model: the root's
    ``messages`` has the built message only (the model's stream belongs to the subgraph's handle)."""
    lib = api.lib
    model = chatting(lib)  # a graph; its model is reused through a node below

    def built(state: Any) -> dict[str, Any]:
        return {"messages": [lib.AIMessage(content="constructed", id="m-built")]}

    b = lib.StateGraph(lib.MessagesState)
    b.add_node("model", model)
    b.add_node("built", built)
    b.add_edge(lib.START, "model")
    b.add_edge("model", "built")
    run = await api.open(b.compile(), CHAT_INPUT)
    return plain_content(normalise(await api.message_texts(run)))


def interrupting_subgraph(lib: Lib) -> Any:
    def asks(state: S) -> dict[str, Any]:
        answer = lib.interrupt("approve?")
        return {"value": str(answer), "items": ["asked"]}

    sb = lib.StateGraph(S)
    sb.add_node("asks", asks)
    sb.add_edge(lib.START, "asks")
    b = lib.StateGraph(S)
    b.add_node("sub", sb.compile())
    b.add_edge(lib.START, "sub")
    return b.compile(checkpointer=lib.InMemorySaver())


async def subgraph_interrupt(api: Api) -> Any:
    graph = interrupting_subgraph(api.lib)
    run = await api.open(graph, INPUT, THREAD)
    log = await api.items(run)
    run = await api.open(graph, api.lib.Command(resume="yes"), THREAD)
    resumed = await api.items(run.lifecycle)
    return log, resumed, await api.result(run, "output")


async def node_streams_v3(api: Api) -> Any:
    """A node reading its model through the model's own v3 stream (``model.stream_events(version="v3")``): the
    run's ``messages`` projection has the call, and the node's returned ``output`` is the answer."""
    model = fake_model(api.lib, "streamed answer")

    def call(state: Any) -> dict[str, Any]:
        stream = model.stream_events(state["messages"], version="v3")
        return {"messages": [stream.output]}

    b = api.lib.StateGraph(api.lib.MessagesState)
    b.add_node("call", call)
    b.add_edge(api.lib.START, "call")
    run = await api.open(b.compile(), CHAT_INPUT)
    texts = plain_content(normalise(await api.message_texts(run)))
    run = await api.open(b.compile(), CHAT_INPUT)
    output = await api.result(run, "output")
    return texts, text_of(output["messages"][-1].content)


async def two_model_nodes(api: Api) -> Any:
    """Two nodes, each calling its own model: two message streams, in order, each with its node."""
    lib = api.lib
    first, second = fake_model(lib, "alpha"), fake_model(lib, "beta")

    def node_a(state: Any) -> dict[str, Any]:
        return {"messages": [first.invoke(state["messages"])]}

    def node_b(state: Any) -> dict[str, Any]:
        return {"messages": [second.invoke(state["messages"])]}

    b = lib.StateGraph(lib.MessagesState)
    b.add_node("node_a", node_a)
    b.add_node("node_b", node_b)
    b.add_edge(lib.START, "node_a")
    b.add_edge("node_a", "node_b")
    run = await api.open(b.compile(), CHAT_INPUT)
    return plain_content(normalise(await api.message_texts(run)))


async def model_own_stream(api: Api) -> Any:
    """A chat model's own v3 stream outside any graph: its text, output text, and the kinds of its protocol
    events once the text deltas are joined."""
    model = fake_model(api.lib, "one two three")
    if api.mode == "async":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stream = await model.astream_events("hi", version="v3")
        text = "".join([delta async for delta in stream.text])
        output = await stream.output
        stream = await model.astream_events("hi", version="v3")
        events = [event async for event in stream]
    else:

        def read() -> tuple[str, Any, list[Any]]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stream = model.stream_events("hi", version="v3")
                text = "".join(stream.text)
                output = stream.output
                return text, output, list(model.stream_events("hi", version="v3"))

        text, output, events = await api._sync(read)
    kinds = [event["event"] for event in events]
    joined_kinds = [k for i, k in enumerate(kinds) if k != "content-block-delta" or kinds[i - 1] != k]
    return text, text_of(output.content), joined_kinds


async def nested_messages_mode(api: Api) -> Any:
    """A node streaming another graph with ``stream(stream_mode="messages")`` inside a v3 run: the inner
    stream keeps giving ``(AIMessageChunk, metadata)`` pairs, not the v3 protocol's message events."""
    lib = api.lib
    inner = chatting(lib, "nested legacy path")

    class Outer(TypedDict, total=False):
        chunk_types: list[str]
        text: str

    def call_subgraph(state: Outer) -> dict[str, Any]:
        parts = list(inner.stream({"messages": [{"role": "user", "content": "hi"}]}, stream_mode="messages"))
        payloads = [payload for payload, _ in parts]
        text = "".join(p.content for p in payloads if isinstance(p.content, str))
        return {"chunk_types": sorted({type(p).__name__ for p in payloads}), "text": text}

    b = lib.StateGraph(Outer)
    b.add_node("call_subgraph", call_subgraph)
    b.add_edge(lib.START, "call_subgraph")
    run = await api.open(b.compile(), {})
    return await api.result(run, "output")


CASES = [
    pytest.param(main_log, id="main-log"),
    pytest.param(values_projection, id="values-projection"),
    pytest.param(output, id="output"),
    pytest.param(native_keys, id="native-keys"),
    pytest.param(custom_events, id="custom-events"),
    pytest.param(data_transformers, id="data-transformers"),
    pytest.param(compiled_transformers, id="compiled-transformers"),
    pytest.param(checkpoints_and_debug, id="checkpoints-debug"),
    pytest.param(interleaved, id="interleave"),
    pytest.param(errors, id="errors"),
    pytest.param(interrupted, id="interrupted"),
    pytest.param(resumed, id="resumed"),
    pytest.param(breakpoint_and_context, id="breakpoint"),
    pytest.param(subgraph_log, id="subgraph-lifecycle"),
    pytest.param(subgraph_failure, id="subgraph-failure"),
    pytest.param(subgraph_handles, id="subgraph-handles"),
    pytest.param(grandchildren, id="subgraph-grandchildren"),
    pytest.param(handle_output, id="subgraph-handle-output"),
    pytest.param(handle_abort, id="subgraph-handle-abort"),
    pytest.param(handle_failure, id="subgraph-handle-failure"),
    pytest.param(messages_log, id="messages-log"),
    pytest.param(messages_projection, id="messages-projection"),
    pytest.param(messages_tool_calls, id="messages-tool-calls"),
    pytest.param(before_builtins, id="before-builtins"),
    pytest.param(all_transformers, id="all-transformers"),
    pytest.param(refused, id="refused"),
    pytest.param(user_channel, id="user-channel"),
    pytest.param(abort_early, id="abort"),
    pytest.param(context_manager, id="context-manager"),
    pytest.param(whole_messages, id="messages-whole"),
    pytest.param(subgraph_interrupt, id="subgraph-interrupt"),
    pytest.param(node_streams_v3, id="messages-node-model-stream"),
    pytest.param(two_model_nodes, id="messages-two-models"),
    pytest.param(model_own_stream, id="model-own-stream"),
    pytest.param(nested_messages_mode, id="nested-messages-mode"),
]


def run_case(lib: Lib, mode: str, case: Callable[[Api], Awaitable[Any]]) -> Any:
    """``case`` run on ``lib`` through its sync (``mode="sync"``) or async v3 API, its result normalised."""

    async def go() -> Any:
        return await case(Api(lib, mode))

    return normalise(asyncio.run(go()))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CASES)
def test_v3_case(case: Callable[[Api], Awaitable[Any]], mode: str) -> None:
    expected = run_case(reference(), mode, case)
    assert run_case(load("streamflow"), mode, case) == expected


def test_v3_review_names_only_cases_that_exist() -> None:
    """``V3_REVIEW.md`` stays true: every case and unit test it names exists."""
    from pathlib import Path

    from .test_stream_v3_tools_cases import CASES as TOOLS_CASES

    review = Path(__file__).with_name("V3_REVIEW.md").read_text(encoding="utf-8")
    ids = {param.id for param in CASES}
    named = set(re.findall(r"`test_stream_v3_cases\.py::([\w-]+)`", review))
    assert named and named <= ids, named - ids
    tools_ids = {param.id for param in TOOLS_CASES}
    tools_named = set(re.findall(r"`test_stream_v3_tools_cases\.py::([\w-]+)`", review))
    assert tools_named == tools_ids, tools_named ^ tools_ids
    statuses = re.findall(r"^\| `[^`]+` \| (\w+) \|", review, re.M)
    totals = {
        "case": r"reproduced \(differential case\)",
        "unit": r"reproduced \(streamflow unit test",
        "internal": r"internal \(",
        "design": r"design difference",
        "missing": r"not reproduced",
        "v2": r"not the v3 API",
    }
    for status, label in totals.items():
        stated = re.search(rf"^- {label}.*?\*\*(\d+)\*\*", review, re.M)
        assert stated is not None, status
        assert int(stated.group(1)) == statuses.count(status), (status, statuses.count(status))
    reviewed = re.search(r"Tests reviewed: \*\*(\d+)\*\*", review)
    assert reviewed is not None and int(reviewed.group(1)) == len(statuses)
    units = Path(__file__).resolve().parent.parent / "test_stream_v3.py"
    unit_names = set(re.findall(r"`tests/test_stream_v3\.py::(\w+)`", review))
    assert unit_names and all(f"def {name}(" in units.read_text(encoding="utf-8") for name in unit_names)
