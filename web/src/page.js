// The SDK page: one conversation is one thread (client.threads.create) of LangChain's agent streaming
// protocol (v3), driven by @langchain/langgraph-sdk's ThreadStream (client.threads.stream). A question is a
// `run.start` on the thread, an answer to a question the run asked (an interrupt) is an `input.respond`; every
// event the page shows comes through one subscription of the thread (lifecycle, messages, tools and input
// channels), over SSE by default or over the WebSocket with `?transport=websocket`.
import { Client } from "@langchain/langgraph-sdk";

const CHANNELS = ["lifecycle", "messages", "tools", "input"];
const DEBUG_LINES = 400;
const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const transport = query.get("transport") === "websocket" ? "websocket" : "sse";
// The app's routes sit beside this page, wherever the app is mounted.
const apiUrl = new URL(".", location.href).href.replace(/\/$/, "");
const client = new Client({ apiUrl });

let thread = null; // the ThreadStream of the conversation
let config = undefined; // the config of the current run, sent again with each answer
let shown = null; // the key of the AI message the answer shows
const texts = new Map(); // message key -> text streamed so far
const open = new Map(); // namespace+node -> key of the message streaming there
const questions = new Map(); // interrupt id -> { namespace, card, answer }
let batch = []; // the questions asked together, answered in one input.respond

function setStatus(text) {
  $("status").textContent = text;
}

function debug(line) {
  const box = $("debug");
  box.append(line + "\n");
  while (box.childNodes.length > DEBUG_LINES) box.firstChild.remove();
}

function describe(value) {
  if (value && typeof value === "object" && typeof value.tool === "string") {
    return `Call tool ${value.tool} with ${JSON.stringify(value.args ?? {})}?`;
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

function showAnswer() {
  const text = shown === null ? "" : texts.get(shown) ?? "";
  if ($("answer").textContent !== text) $("answer").textContent = text;
}

function onMessage(params) {
  const data = params.data;
  const where = `${params.namespace.join("|")}#${params.node ?? ""}`;
  if (data.event === "message-start") {
    if (data.role !== "ai") {
      open.delete(where);
      return;
    }
    const key = `${where}#${data.id}`;
    open.set(where, key);
    texts.set(key, "");
    shown = key;
    showAnswer();
    return;
  }
  const key = open.get(where);
  if (key === undefined) return;
  if (data.event === "content-block-delta" && data.delta.type === "text-delta") {
    texts.set(key, texts.get(key) + data.delta.text);
    $("tokens").textContent = String(Number($("tokens").textContent) + 1);
  } else if (data.event === "content-block-finish" && data.content.type === "text" && !texts.get(key)) {
    texts.set(key, data.content.text ?? "");
  } else if (data.event === "message-finish" || data.event === "error") {
    open.delete(where);
  }
  if (key === shown) showAnswer();
}

function onLifecycle(params) {
  const item = document.createElement("li");
  item.dataset.namespace = params.namespace.join("/");
  item.dataset.event = params.data.event;
  item.textContent = (params.namespace.length ? params.namespace.join("/") + ": " : "") + params.data.event;
  if (params.data.error) item.title = params.data.error;
  $("lifecycle").append(item);
  if (params.namespace.length === 0) setStatus(params.data.event);
  // A tool that asks (interrupt) ends its call with an error carrying the interrupt, as LangGraph's tools
  // stream does; once the run is interrupted, such a call is shown as paused until the answer resumes it.
  if (params.namespace.length === 0 && params.data.event === "interrupted") {
    for (const tool of document.querySelectorAll("#tools li.error")) {
      tool.title = tool.textContent;
      tool.textContent = `${tool.dataset.tool}: paused for a question`;
      tool.className = "paused";
    }
  }
}

// A tool's output as text: a string as it is, a tool message by its content.
function outputText(output) {
  if (typeof output === "string") return output;
  if (output && typeof output === "object" && typeof output.content === "string") return output.content;
  return "done";
}

function onTool(params) {
  const data = params.data;
  let item = document.querySelector(`#tools li[data-call="${CSS.escape(data.tool_call_id)}"]`);
  if (item === null) {
    item = document.createElement("li");
    item.dataset.call = data.tool_call_id;
    $("tools").append(item);
  }
  if (data.event === "tool-started") {
    item.dataset.tool = data.tool_name;
    item.textContent = `${data.tool_name}: running`;
    item.className = "running";
  } else if (data.event === "tool-finished") {
    item.textContent = `${item.dataset.tool}: ${outputText(data.output)}`;
    item.className = "done";
  } else if (data.event === "tool-error") {
    item.textContent = `${item.dataset.tool}: ${data.message}`;
    item.className = "error";
  }
}

function onQuestion(params) {
  const id = params.data.interrupt_id;
  if (questions.has(id)) return;
  const card = document.createElement("div");
  card.className = "question";
  card.dataset.interrupt = id;
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = describe(params.data.payload);
  const approve = document.createElement("button");
  approve.className = "approve";
  approve.textContent = "Approve";
  const reject = document.createElement("button");
  reject.className = "reject";
  reject.textContent = "Reject";
  approve.addEventListener("click", () => answer(id, "approve"));
  reject.addEventListener("click", () => answer(id, "reject"));
  card.append(text, approve, reject);
  $("questions").append(card);
  questions.set(id, { namespace: params.namespace, card, answer: null });
  batch.push(id);
}

function settle(id, word) {
  const question = questions.get(id);
  if (question === undefined || question.card.querySelector(".answered")) return;
  for (const button of question.card.querySelectorAll("button")) button.remove();
  const note = document.createElement("div");
  note.className = "answered";
  note.textContent = word;
  question.card.append(note);
}

// An answer is held until every question asked with it is answered: the answers then resume the thread in
// one `input.respond` (one resumed run), as the protocol requires for interrupts pending together.
async function answer(id, decision) {
  const question = questions.get(id);
  question.answer = { type: decision };
  settle(id, decision === "approve" ? "approved" : "rejected");
  const asked = batch;
  if (!asked.every((each) => questions.get(each).answer !== null)) return;
  batch = [];
  const responses = asked.map((each) => ({
    namespace: questions.get(each).namespace,
    interrupt_id: each,
    response: questions.get(each).answer,
  }));
  setStatus("resuming");
  try {
    const common = config === undefined ? {} : { config };
    await thread.input.respond(responses.length === 1 ? { ...responses[0], ...common } : { responses, ...common });
  } catch (error) {
    fail(error);
  }
}

function fail(error) {
  setStatus("error");
  debug(`error ${error && error.message ? error.message : String(error)}`);
}

function render(event) {
  const params = event.params;
  debug(`${event.seq ?? "-"} ${event.method} ${JSON.stringify(params.data).slice(0, 160)}`);
  if (event.method === "lifecycle") onLifecycle(params);
  else if (event.method === "messages") onMessage(params);
  else if (event.method === "tools") onTool(params);
  else if (event.method === "input.requested") onQuestion(params);
  else if (event.method === "input.answered") for (const id of params.data.interrupt_ids) settle(id, "answered");
}

// The page's subscription pauses after each run's end (the SDK ends the loop on a root `completed`, `failed` or
// `interrupted`) and resumes when the next run starts on the thread. It stops when the page moved to another
// thread (events the closed subscription still held are not shown).
async function pump(handle, owner) {
  try {
    for (;;) {
      for await (const event of handle) {
        if (owner !== thread) return;
        render(event);
      }
      if (!handle.isPaused) return;
      await handle.waitForResume();
    }
  } catch (error) {
    if (owner === thread) fail(error);
  }
}

// A conversation's thread is created first (`POST /threads`), so that both transports find it: the WebSocket
// is opened on a thread the app knows. The page's subscription is made before the first run starts, so that
// the thread's stream carries its channels from the run's first event on (each event once: the SDK drops a
// second copy by its event id). Questions wait until both are ready.
let generation = 0;
async function newThread() {
  const mine = ++generation;
  if (thread !== null) thread.close();
  thread = null;
  shown = null;
  texts.clear();
  open.clear();
  questions.clear();
  batch = [];
  showAnswer();
  $("tokens").textContent = "0";
  $("thread-id").textContent = "-";
  $("run-id").textContent = "-";
  for (const id of ["questions", "lifecycle", "tools", "debug"]) $(id).replaceChildren();
  setStatus("connecting");
  const graph = $("graph").value;
  const created = await client.threads.create({ graphId: graph });
  const next = client.threads.stream(created.thread_id, { assistantId: graph, transport });
  next.onError((error) => next === thread && fail(error));
  const handle = await next.subscribe({ channels: CHANNELS });
  if (mine !== generation) {
    await next.close(); // another conversation was asked for meanwhile
    return;
  }
  thread = next;
  $("thread-id").textContent = next.threadId;
  setStatus("idle");
  pump(handle, next);
}

async function ask() {
  const text = $("question").value.trim();
  if (!text || thread === null) return;
  config = $("approve").checked ? { configurable: { approve_tools: true } } : undefined;
  shown = null;
  showAnswer();
  $("tokens").textContent = "0";
  $("tools").replaceChildren();
  setStatus("starting");
  try {
    const started = await thread.run.start({
      input: { messages: [{ role: "user", content: text }] },
      ...(config === undefined ? {} : { config }),
    });
    $("run-id").textContent = started && started.run_id ? started.run_id : "-";
  } catch (error) {
    fail(error);
  }
}

async function main() {
  const response = await fetch("graphs", { headers: { accept: "application/json" } });
  const { graphs } = await response.json();
  for (const name of graphs) $("graph").append(new Option(name, name));
  $("transport").textContent = transport;
  const restart = () => newThread().catch(fail);
  $("graph").addEventListener("change", restart);
  $("new-thread").addEventListener("click", restart);
  $("ask").addEventListener("click", ask);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter") ask();
  });
  await newThread();
  document.body.dataset.ready = "true";
}

main().catch(fail);
