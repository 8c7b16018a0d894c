"""Run every script in examples/ as a subprocess and check what it prints."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.extras import require_extra

if TYPE_CHECKING:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))

JOKE = "This is a joke about ice cream and cats"


ARGS: dict[str, list[str]] = {
    "agent_demo.py": ["--model", "fake"],
    "serve_agent.py": ["--smoke"],
    "demo_distributed.py": ["--model", "fake"],
}
"""Command-line arguments of the examples that take some."""
NEEDS_REDIS = {"demo_distributed.py"}
"""Examples that need a Redis server (CI starts one; elsewhere they are skipped without it)."""
EXPORTS_OTLP = {"otel_export.py"}
"""Examples that export spans: each runs with ``--endpoint`` set to a test OTLP/HTTP receiver on loopback, and
its check is also given the spans the receiver decoded."""
NEEDS_EXTRA = {
    "langchain_openai_messages.py": ("langchain_openai", "langchain"),
    "protocol_client.py": ("langgraph_sdk", "dev"),
}
"""Examples that need an optional extra: the module they import and the extra (skipped without it)."""


def checkout_env() -> dict[str, str]:
    """The environment with this checkout first on ``PYTHONPATH``, so the examples import the streamflow under
    test even where the installed one is another checkout's editable install."""
    root = str(EXAMPLES.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else os.pathsep.join([root, path])}


def run_script(name: str, extra: Sequence[str] = ()) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *ARGS.get(name, []), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=checkout_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout.splitlines()


def literals(lines: list[str]) -> list[Any]:
    return [ast.literal_eval(line) for line in lines if line.strip()]


def check_values(lines: list[str]) -> None:
    assert literals(lines) == [
        {"topic": "ice cream"},
        {"topic": "ice cream and cats"},
        {"topic": "ice cream and cats", "joke": JOKE},
    ]


def check_updates(lines: list[str]) -> None:
    assert lines == [
        "{'refine_topic': {'topic': 'ice cream and cats'}}",
        "{'generate_joke': {'joke': 'This is a joke about ice cream and cats'}}",
    ]


def check_custom(lines: list[str]) -> None:
    assert lines == [
        "{'status': 'Starting processing'}",
        "{'progress': 50, 'message': 'Halfway done'}",
        "{'status': 'Processing complete'}",
    ]


def check_multiple_modes(lines: list[str]) -> None:
    assert lines == [
        "Stream mode: updates",
        "{'refine_topic': {'topic': 'ice cream and cats'}}",
        "",
        "Stream mode: custom",
        "{'custom_key': 'Writing custom data while generating a joke'}",
        "",
        "Stream mode: custom",
        "{'progress': '50%'}",
        "",
        "Stream mode: custom",
        "{'progress': '100%'}",
        "",
        "Stream mode: updates",
        "{'generate_joke': {'joke': 'This is a joke about ice cream and cats'}}",
        "",
    ]


def check_subgraphs(lines: list[str]) -> None:
    items = literals(lines)
    assert [chunk for _, chunk in items] == [
        {"node_1": {"foo": "hi! foo"}},
        {"subgraph_node_1": {"bar": "bar"}},
        {"subgraph_node_2": {"foo": "hi! foobar"}},
        {"node_2": {"foo": "hi! foobar"}},
    ]
    namespaces = [ns for ns, _ in items]
    assert namespaces[0] == () and namespaces[3] == ()
    assert namespaces[1] == namespaces[2]
    (inner,) = namespaces[1]
    assert inner.startswith("node_2:") and len(inner) > len("node_2:")


def check_debug(lines: list[str]) -> None:
    items = literals(lines)
    assert [(c["step"], c["type"], c["payload"]["name"]) for c in items] == [
        (1, "task", "refine_topic"),
        (1, "task_result", "refine_topic"),
        (2, "task", "generate_joke"),
        (2, "task_result", "generate_joke"),
    ]
    for c in items:
        assert set(c) == {"step", "timestamp", "type", "payload"}
        assert c["timestamp"].endswith("+00:00")
    assert items[0]["payload"]["id"] == items[1]["payload"]["id"] != items[2]["payload"]["id"]
    assert items[0]["payload"]["input"] == {"topic": "ice cream"}
    assert items[0]["payload"]["triggers"] == ("branch:to:refine_topic",)
    assert items[2]["payload"]["triggers"] == ("branch:to:generate_joke",)
    assert items[1]["payload"] | {"id": None} == {
        "id": None,
        "name": "refine_topic",
        "error": None,
        "result": {"topic": "ice cream and cats"},
        "interrupts": [],
    }
    assert items[3]["payload"]["result"] == {"joke": JOKE}


def check_async(lines: list[str]) -> None:
    assert lines == [
        "{'refine_topic': {'topic': 'ice cream and cats'}}",
        "{'generate_joke': {'joke': 'This is a joke about ice cream and cats'}}",
        "{'custom_key': 'Streaming custom data while generating a joke'}",
    ]


def check_many_views(lines: list[str]) -> None:
    ui = [line.removeprefix("[ui] ") for line in lines if line.startswith("[ui] ")]
    assert ui[0] == "{'refine_topic': {'topic': 'ice cream and cats'}}"
    assert sorted(ui[1:]) == [
        "{'draft': {'notes': ['a draft about ice cream and cats']}}",
        "{'research': {'notes': ['facts about ice cream and cats']}}",
    ]
    log = [line for line in lines if line.startswith("[log] ")]
    assert len(log) == 6
    assert log[:2] == ["[log] step=1 task refine_topic", "[log] step=1 task_result refine_topic"]
    metrics = dict(line.removeprefix("[metrics] ").split(": ") for line in lines if line.startswith("[metrics] "))
    assert metrics == {
        "RunStarted": "1",
        "TaskStarted": "3",
        "TaskFinished": "3",
        "StateUpdate": "3",
        "StateValues": "3",
        "CustomData": "1",
        "RunFinished": "1",
    }
    (result,) = [line for line in lines if line.startswith("result: ")]
    assert ast.literal_eval(result.removeprefix("result: ")) == {
        "topic": "ice cream and cats",
        # a superstep's writes apply in task-path order (by node name), as LangGraph applies them
        "notes": ["a draft about ice cream and cats", "facts about ice cream and cats"],
    }


def check_agent_demo(lines: list[str]) -> None:
    assert lines[0] == "question: How tall is Mount Everest in kilometres?"
    assert [line for line in lines if line.startswith("agent> ")] == [
        "agent> Let me look that up.",
        "agent> Mount Everest is 8849 metres tall, which is 8.849 kilometres.",
    ]
    assert [line for line in lines if line.startswith("[tool] ")] == [
        "[tool] lookup: searching 15 facts for 'Mount Everest'",
        "[tool] lookup: 1 matching fact",
        "[tool] calculator: evaluating 8849 / 1000",
        "[tool] calculator: 8849 / 1000 = 8.849",
    ]
    assert [line for line in lines if line.startswith("[update] ")] == [
        "[update] agent: calls lookup(query='Mount Everest')",
        "[update] tools: lookup -> 'Mount Everest is 8849 metres tall, the highest mountain above sea l...'",
        "[update] agent: calls calculator(expression='8849 / 1000')",
        "[update] tools: calculator -> '8.849'",
        "[update] agent: answered 'Mount Everest is 8849 metres tall, which is 8.849 kilometres.'",
    ]
    assert lines[-1] == "answer: Mount Everest is 8849 metres tall, which is 8.849 kilometres."


def check_messages_by_node(lines: list[str]) -> None:
    # only the poem node's tokens, whole and in order, though the joke node streamed at the same time
    assert lines == ["Soft paws at dawn, a purr that fills the room."]


def check_messages_by_tags(lines: list[str]) -> None:
    assert lines == ["Why was the cat sitting on the computer? To keep an eye on the mouse."]


def check_stream_tools(lines: list[str]) -> None:
    records = literals(lines)
    count = [r for r in records if r["tool_call_id"] == "call-count"]
    divide = [r for r in records if r["tool_call_id"] == "call-divide"]
    assert len(count) + len(divide) == len(records)
    assert count == [
        {
            "event": "tool-started",
            "tool_call_id": "call-count",
            "tool_name": "count_words",
            "input": {"text": "the cat sat down"},
        },
        *(
            {"event": "tool-output-delta", "tool_call_id": "call-count", "delta": {"counted": i, "of": 4}}
            for i in range(1, 5)
        ),
        {"event": "tool-finished", "tool_call_id": "call-count", "output": "4"},
    ]
    assert divide == [
        {"event": "tool-started", "tool_call_id": "call-divide", "tool_name": "divide", "input": {"a": 1, "b": 0}},
        # float arguments are read as floats (1 -> 1.0), as LangChain's pydantic check reads them
        {"event": "tool-error", "tool_call_id": "call-divide", "message": "float division by zero"},
    ]


def check_astream_events(lines: list[str]) -> None:
    *events, tokens = lines
    model_stream = ["on_chat_model_stream FakeChatModel 2"] * 5  # "Adding", " them." and 3 tool-call pieces
    assert events == [
        "on_chain_start LangGraph 0",
        "on_chain_start prompt 1",
        "on_chain_stream prompt 1",
        "on_chain_end prompt 1",
        "on_chain_stream LangGraph 0",
        "on_chain_start model 1",
        "on_chat_model_start FakeChatModel 2",
        *model_stream,
        "on_chat_model_end FakeChatModel 2",
        "on_chain_stream model 1",
        "on_chain_end model 1",
        "on_chain_stream LangGraph 0",
        "on_chain_start tools 1",
        "on_tool_start add 2",
        "on_tool_end add 2",
        "on_chain_stream tools 1",
        "on_chain_end tools 1",
        "on_chain_stream LangGraph 0",
        "on_chain_end LangGraph 0",
    ]
    assert ast.literal_eval(tokens) == ["Adding", " them.", "", "", ""]


def check_serve_agent(lines: list[str]) -> None:
    assert lines == [
        "status: finished",
        "nodes: agent -> tools -> agent",
        "progress: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
        "answer: Streams let a run show its work as it happens: tokens, node steps and tool progress, all as events.",
        "asked: {'tool': 'research', 'args': {'topic': 'streaming'}}",
        "status: finished",
        "approved: notes on streaming",
        "status: finished",
    ]


def check_demo_distributed(lines: list[str]) -> None:
    worker, web, *rest = lines
    assert worker.startswith("worker: pid ") and ", model fake, prefix 'streamflow-demo-" in worker
    assert web.startswith("web: pid ") and ", serving on http://127.0.0.1:" in web
    assert rest[-2:] == ["status: finished", "answer: Mount Everest is 8849 metres tall, which is 8.849 kilometres."]
    check_agent_demo(rest[:-2] + rest[-1:])  # what streamed over HTTP from the worker: the local demo's lines


def check_embed_starlette(lines: list[str]) -> None:
    assert lines == [
        "events: metadata updates end",
        "output: {'text': 'HELLO!'}",
        "health: {'ok': True, 'runs': 1}",
    ]


def check_protocol_client(lines: list[str]) -> None:
    assert lines == [
        "protocol: 0.0.20",
        "interrupted: True [{'question': 'write the draft?'}]",
        "message from write: Here is the draft you asked for.",
        "approved: True | messages: 2",
    ]


def check_log_run(lines: list[str]) -> None:
    *logs, result = lines
    assert result == "result: {'topic': 'ice cream and cats'}"
    kinds = [line.split()[1] for line in logs]
    assert kinds == [
        "event='run_started'",
        "event='state_values'",
        "event='task_started'",
        "event='custom_data'",
        "event='task_finished'",
        "event='state_update'",
        "event='state_values'",
        "event='run_finished'",
    ]
    for seq, line in enumerate(logs, start=1):
        assert f"seq={seq} " in line and "run_id='run-1'" in line and "ns=()" in line
    assert logs[3].startswith("level='info' event='custom_data' seq=4 node='research' step=1")


def check_stream_chain(lines: list[str]) -> None:
    assert lines[0] == "['Parro', 'ts ta', 'lk.']"
    assert literals(lines[1:4]) == [{"animal": ""}, {"animal": "parrot"}, {"animal": "parrot", "talks": True}]
    assert lines[4:] == [
        "on_chain_start RunnableSequence []",
        "on_prompt_start ChatPromptTemplate ['seq:step:1']",
        "on_prompt_end ChatPromptTemplate ['seq:step:1']",
        "on_chat_model_start FakeChatModel ['seq:step:2']",
        "on_parser_start StrOutputParser ['seq:step:3']",
        "on_chat_model_end FakeChatModel ['seq:step:2']",
        "on_parser_end StrOutputParser ['seq:step:3']",
        "on_chain_end RunnableSequence []",
    ]


def check_stream_agent(lines: list[str]) -> None:
    sunny = "[{'type': 'text', 'text': \"It's always sunny in San Francisco!\"}]"
    call = "[{'type': 'tool_call', 'id': 'call_1', 'name': 'get_weather', 'args': {'city': 'San Francisco'}}]"
    assert lines[:6] == [
        "step: model",
        f"content: {call}",
        "step: tools",
        f"content: {sunny}",
        "step: model",
        f"content: {sunny}",
    ]
    tokens = lines[6:-5]
    assert tokens[0].startswith("node: model content: [{'type': 'tool_call_chunk', 'id': 'call_1'")
    assert f"node: tools content: {sunny}" in tokens
    assert tokens[-1] == "node: model content: [{'type': 'text', 'text': 'co!'}]"
    assert lines[-5:] == [
        "stream_mode: updates content: ['model']",
        "stream_mode: custom content: Looking up data for city: San Francisco",
        "stream_mode: custom content: Acquired data for city: San Francisco",
        "stream_mode: updates content: ['tools']",
        "stream_mode: updates content: ['model']",
    ]


def check_otel_export(lines: list[str], spans: Sequence[Span]) -> None:
    from tests.otlp_receiver import attributes

    assert lines == ["answer: Sunny in Paris.", "exported 8 spans, 0 failed exports"]
    names = {span.span_id: span.name for span in spans}
    assert sorted((span.name, names.get(span.parent_span_id)) for span in spans) == [
        ("POST /ask", None),
        ("agent", "invoke_agent weather_agent"),
        ("agent", "invoke_agent weather_agent"),
        ("chat FakeChatModel", "agent"),
        ("chat FakeChatModel", "agent"),
        ("execute_tool get_weather", "tools"),
        ("invoke_agent weather_agent", "POST /ask"),
        ("tools", "invoke_agent weather_agent"),
    ]
    (call,) = [span for span in spans if span.name == "execute_tool get_weather"]
    assert attributes(call)["gen_ai.tool.call.id"] == "call_1"


def check_langchain_openai_messages(lines: list[str]) -> None:
    words = ["Streams ", "are ", "views ", "of ", "one ", "run."]
    assert lines == [
        *(f"node: answer provider: openai token: {word!r}" for word in words),
        "answer: Streams are views of one run.",
    ]


CHECKS = {
    "stream_values.py": check_values,
    "stream_updates.py": check_updates,
    "stream_custom.py": check_custom,
    "stream_multiple_modes.py": check_multiple_modes,
    "stream_subgraphs.py": check_subgraphs,
    "stream_debug.py": check_debug,
    "stream_async.py": check_async,
    "many_views.py": check_many_views,
    "agent_demo.py": check_agent_demo,
    "messages_filter_by_node.py": check_messages_by_node,
    "messages_filter_by_tags.py": check_messages_by_tags,
    "stream_tools.py": check_stream_tools,
    "astream_events.py": check_astream_events,
    "stream_chain.py": check_stream_chain,
    "stream_agent.py": check_stream_agent,
    "serve_agent.py": check_serve_agent,
    "embed_starlette.py": check_embed_starlette,
    "protocol_client.py": check_protocol_client,
    "demo_distributed.py": check_demo_distributed,
    "log_run.py": check_log_run,
    "langchain_openai_messages.py": check_langchain_openai_messages,
}
OTLP_CHECKS = {"otel_export.py": check_otel_export}


def test_examples_exist() -> None:
    assert set(CHECKS) | set(OTLP_CHECKS) <= set(SCRIPTS)
    assert set(OTLP_CHECKS) == EXPORTS_OTLP


@pytest.mark.parametrize("name", SCRIPTS)
def test_example(name: str) -> None:
    assert name in CHECKS or name in OTLP_CHECKS, f"examples/{name} has no output check in tests/test_examples.py"
    if name in EXPORTS_OTLP:
        require_extra("opentelemetry.exporter.otlp.proto.http", "otel")
        from tests.otlp_receiver import OtlpReceiver

        with OtlpReceiver() as receiver:
            lines = run_script(name, ["--endpoint", receiver.url])
        OTLP_CHECKS[name](lines, receiver.spans())
        return
    assert name in CHECKS, f"examples/{name} has no output check in tests/test_examples.py"
    if name in NEEDS_EXTRA:
        require_extra(*NEEDS_EXTRA[name])
    if name in NEEDS_REDIS and not os.environ.get("CI"):
        from tests.redis.conftest import answers

        if not answers():
            pytest.skip(f"examples/{name} needs a Redis at 127.0.0.1:6379 (bash .ci/redis-up starts one)")
    CHECKS[name](run_script(name))
