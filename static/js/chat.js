// A conversation: renders persisted messages, then the run event stream of the WebSocket (DESIGN.md "WebSocket").
// Rendering is idempotent: every event is applied once (keyed by seq), elements are keyed by run id, call id,
// approval id and message id, so a reload or a reconnect with {"type":"resume","after":lastSeq} never duplicates.
import { api } from "./api.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const timeline = document.getElementById("timeline");
const connStatus = document.getElementById("conn-status");
const stopButton = document.getElementById("stop-run");
const FINISHED = new Set(["succeeded", "failed", "cancelled", "denied"]);

const state = { lastSeq: 0, seen: new Set(), runs: new Map(), activeRun: null, socket: null, attempts: 0 };

// ---- DOM helpers -------------------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || key === "for" || key === "id") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// Arguments as stored (PostgreSQL jsonb reorders keys) and as streamed must read the same: keys sorted.
function argsText(args) {
  const sorted = (value) => Array.isArray(value) ? value.map(sorted)
    : value && typeof value === "object" ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted(value[k])]))
    : value;
  return JSON.stringify(sorted(args ?? {}), null, 2);
}

function byKey(root, attr, value) {
  for (const node of root.querySelectorAll(`[${attr}]`)) if (node.getAttribute(attr) === value) return node;
  return null;
}

// ---- Markdown: raw HTML is escaped (shown as text), and the result is sanitised again by DOMPurify ----------
let markdownReady = false;
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function renderMarkdown(node, text) {
  if (!window.marked || !window.DOMPurify) { node.textContent = text; return; }
  if (!markdownReady) {
    window.marked.use({ gfm: true, renderer: { html: (token) => escapeHtml(token.raw ?? token.text ?? "") } });
    markdownReady = true;
  }
  const html = window.marked.parse(text);
  node.innerHTML = window.DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "img", "form", "input"], FORBID_ATTR: ["style"] });
  for (const link of node.querySelectorAll("a")) { link.target = "_blank"; link.rel = "noopener noreferrer"; }
}

// ---- ANSI colours: SGR codes become classes; every other escape sequence is dropped --------------------------
const ANSI_RE = /\x1b\[([0-9;]*)([A-Za-z])/g;
function appendAnsi(target, chunk, extraClass) {
  let classes = [];
  let last = 0;
  const push = (text) => {
    if (!text) return;
    const cls = [...classes, extraClass].filter(Boolean).join(" ");
    target.append(cls ? el("span", { class: cls, text }) : document.createTextNode(text));
  };
  for (const match of chunk.matchAll(ANSI_RE)) {
    push(chunk.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] !== "m") continue;
    for (const code of (match[1] || "0").split(";").map(Number)) {
      if (code === 0) classes = [];
      else if (code === 1) classes.push("ansi-bold");
      else if ([31, 32, 33, 34, 35, 36, 90].includes(code)) classes = classes.filter((c) => c === "ansi-bold").concat(`ansi-${code}`);
    }
  }
  // eslint-disable-next-line no-control-regex
  push(chunk.slice(last).replace(/\x1b[^a-zA-Z]*[a-zA-Z]?/g, ""));
}

function autoscroll(node, write) {
  const atBottom = node.scrollTop + node.clientHeight >= node.scrollHeight - 24;
  write();
  if (atBottom) node.scrollTop = node.scrollHeight;
}

// ---- messages and runs ---------------------------------------------------------------------------------------
function userMessage(message) {
  let node = byKey(timeline, "data-message-id", message.id);
  if (node) return node;
  node = el("div", { class: "msg msg-user", "data-message-id": message.id, "data-role": "user", text: message.content });
  timeline.append(node);
  return node;
}

function ensureRun(runId, messageId) {
  let run = state.runs.get(runId);
  if (run) return run;
  const status = el("span", { class: "pill pill-run", text: "queued" });
  const usage = el("div", { class: "run-usage", "aria-label": "Run usage" });
  const root = el("section", { class: "run", "data-run-id": runId, "aria-label": "Agent run" },
    el("div", { class: "run-head" }, el("span", { text: "Agent run" }), status),
    el("div", { class: "run-body" }),
    el("div", { class: "run-answer" }),
    usage);
  const anchor = messageId ? byKey(timeline, "data-message-id", messageId) : null;
  if (anchor) anchor.after(root); else timeline.append(root);
  run = { id: runId, root, status, usage, body: root.querySelector(".run-body"), answer: root.querySelector(".run-answer"), finished: false };
  state.runs.set(runId, run);
  if (messageId && !anchor) userMessageFetch(messageId, root);
  return run;
}

async function userMessageFetch(messageId, before) {
  // A run started by someone else: its user message was not rendered with the page.
  try {
    const data = await api("GET", `/api/v1/conversations/${page.id}/messages/`);
    const message = (data.results || data).find((m) => m.id === messageId);
    if (message && !byKey(timeline, "data-message-id", message.id)) before.before(userMessage(message));
  } catch { /* the run still renders; only the question is missing */ }
}

function assistantMessage(run, messageId, agent) {
  let node = byKey(timeline, "data-message-id", messageId);
  if (node) return node;
  const isAnswer = !agent || agent === "responder";
  node = el("div", { class: `msg msg-assistant${isAnswer ? "" : " muted small"}`, "data-message-id": messageId, "data-role": "assistant" },
    isAnswer ? null : el("div", { class: "msg-meta", text: agent }),
    el("div", { class: "msg-content" }));
  node._raw = "";
  (isAnswer ? run.answer : run.body).append(node);
  return node;
}

function setMessageText(node, text, complete) {
  node._raw = text;
  if (complete) node.dataset.complete = "1";
  if (node._pending) return;
  node._pending = true;
  requestAnimationFrame(() => { node._pending = false; renderMarkdown(node.querySelector(".msg-content"), node._raw); });
}

function setRunStatus(run, status) {
  run.status.textContent = status.replace("_", " ");
  run.status.className = `pill ${status === "succeeded" ? "pill-ok" : FINISHED.has(status) ? "pill-err" : status === "awaiting_approval" ? "pill-warn" : "pill-run"}`;
  run.finished = FINISHED.has(status);
  run.root.dataset.status = status;
  if (!run.finished) state.activeRun = run.id;
  else if (state.activeRun === run.id) state.activeRun = null;
  if (stopButton) stopButton.hidden = !state.activeRun;
}

// ---- cards ---------------------------------------------------------------------------------------------------
function toolCard(run, callId, tool, args, mutating) {
  let card = byKey(run.root, "data-call-id", callId);
  if (card) return card;
  card = el("article", { class: "card tool-card", "data-call-id": callId, "aria-label": `Tool call ${tool}` },
    el("header", { class: "card-head" },
      el("span", { class: "tool-name", text: tool }),
      mutating ? el("span", { class: "pill pill-warn", text: "changes cluster" }) : el("span", { class: "pill", text: "read-only" }),
      el("span", { class: "pill pill-run call-status", text: "running" })),
    el("div", { class: "card-body" },
      el("pre", { class: "args", text: argsText(args) }),
      el("pre", { class: "terminal", role: "log", "aria-label": `Output of ${tool}` })));
  run.body.append(card);
  return card;
}

function toolResult(run, card, data) {
  const status = card.querySelector(".call-status");
  status.textContent = data.ok ? "done" : "failed";
  status.className = `pill call-status ${data.ok ? "pill-ok" : "pill-err"}`;
  let result = card.querySelector(".result");
  if (!result) { result = el("pre", { class: "result" }); card.querySelector(".card-body").append(result); }
  result.classList.toggle("failed", !data.ok);
  result.textContent = data.output + (data.truncated ? "\n[output truncated]" : "");
  if (data.undo === true && page.can_change && !card.querySelector(".undo-box")) card.querySelector(".card-body").append(undoBox(run, data.call_id));
}

// Undo of an executed change: a new run proposes the restoring call, which waits for an approval like any other.
function undoBox(run, callId) {
  const error = el("p", { class: "flash flash-error", role: "alert", hidden: true });
  const button = el("button", { class: "btn", type: "button", text: "Undo" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    error.hidden = true;
    try {
      await api("POST", `/api/v1/runs/${run.id}/tool-calls/${encodeURIComponent(callId)}/undo/`);
      button.textContent = "Undo proposed";
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      button.disabled = err.status === 409;
    }
  });
  return el("div", { class: "undo-box approval-actions" }, button,
    el("span", { class: "muted small", text: "Proposes putting back what this call changed; it waits for an approval." }), error);
}

function diffView(preview) {
  const pre = el("pre", { class: "diff", "aria-label": "Change preview" });
  for (const line of (preview || "(no preview)").split("\n")) {
    pre.append(el("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "", text: `${line}\n` }));
  }
  return pre;
}

function approvalCard(run, data) {
  let card = byKey(run.root, "data-approval-id", data.approval_id);
  if (card) return card;
  const expires = new Date(data.expires_at);
  card = el("article", { class: "card approval", "data-approval-id": data.approval_id, "aria-label": `Approval for ${data.tool}` },
    el("header", { class: "card-head" },
      el("strong", { text: "Approval needed" }),
      el("span", { class: "tool-name", text: data.tool }),
      el("span", { class: "pill pill-warn approval-state", text: "pending" }),
      el("span", { class: "muted small", text: `expires ${isNaN(expires) ? data.expires_at : expires.toLocaleString()}` })),
    el("div", { class: "card-body" },
      el("pre", { class: "args", text: argsText(data.args) }),
      diffView(data.preview),
      data.undo ? el("p", { class: "undo-note small", "data-undo": data.undo.startsWith("No undo") ? "none" : "offered", text: data.undo }) : null));
  card._args = data.args;
  if (page.can_decide) card.querySelector(".card-body").append(approvalActions(data.approval_id, card));
  else card.querySelector(".card-body").append(el("p", { class: "muted small", text: "Waiting for someone allowed to operate this cluster." }));
  run.body.append(card);
  return card;
}

// An approver corrects the proposed arguments; the server checks them (schema, namespaces) and previews again.
function editForm(approvalId, card) {
  const fieldId = `args-${approvalId}`;
  const error = el("p", { class: "flash flash-error", role: "alert", hidden: true });
  const text = el("textarea", { id: fieldId, name: "args", rows: 8, spellcheck: false, class: "args-edit" });
  const save = el("button", { class: "btn btn-approve", type: "button", text: "Save arguments" });
  const cancel = el("button", { class: "btn", type: "button", text: "Cancel" });
  const form = el("div", { class: "edit-box", hidden: true },
    el("div", { class: "field" }, el("label", { for: fieldId, text: "Arguments (JSON)" }), text),
    el("div", { class: "approval-actions" }, save, cancel), error);
  form.open = () => { text.value = argsText(card._args); error.hidden = true; form.hidden = false; text.focus(); };
  cancel.addEventListener("click", () => { form.hidden = true; });
  save.addEventListener("click", async () => {
    let args;
    try { args = JSON.parse(text.value); } catch { error.textContent = "The arguments are not valid JSON."; error.hidden = false; return; }
    save.disabled = true;
    error.hidden = true;
    try {
      approvalUpdated(card, await api("PATCH", `/api/v1/approvals/${approvalId}/`, { args }));
      form.hidden = true;
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally { save.disabled = false; }
  });
  return form;
}

// approval.updated (or the PATCH answer): the arguments that will run and the preview made again.
function approvalUpdated(card, data) {
  if (!card) return;
  card._args = data.args;
  card.querySelector(".args").textContent = argsText(data.args);
  card.querySelector(".diff").replaceWith(diffView(data.preview));
  if (data.undo && card.querySelector(".undo-note")) card.querySelector(".undo-note").textContent = data.undo;
  const by = data.by ?? data.edited_by;
  const note = card.querySelector(".edit-note") || el("p", { class: "edit-note small" });
  note.textContent = `Arguments edited by ${by && by === page.user_id ? "you" : "a teammate"}; proposed by the agent: ${JSON.stringify(data.proposed_args)}`;
  card.querySelector(".diff").after(note);
}

function approvalActions(approvalId, card) {
  const reasonId = `reason-${approvalId}`;
  const error = el("p", { class: "flash flash-error", role: "alert", hidden: true });
  const reason = el("input", { type: "text", id: reasonId, name: "reason", maxLength: 500, placeholder: "Optional for approve, expected for deny" });
  const approve = el("button", { class: "btn btn-approve", type: "button", text: "Approve" });
  const deny = el("button", { class: "btn btn-danger", type: "button", text: "Deny" });
  const decide = async (decision) => {
    approve.disabled = deny.disabled = true;
    error.hidden = true;
    try {
      await api("POST", `/api/v1/approvals/${approvalId}/decide/`, { decision, reason: reason.value.trim(), args: card._args });
    } catch (err) {
      // Decided elsewhere: approval.resolved removes this box. Edited since shown (409 too): the sentence says so.
      error.textContent = err.message; error.hidden = false; approve.disabled = deny.disabled = false;
    }
  };
  approve.addEventListener("click", () => decide("approve"));
  deny.addEventListener("click", () => decide("deny"));
  const form = editForm(approvalId, card);
  const edit = el("button", { class: "btn", type: "button", text: "Edit" });
  edit.addEventListener("click", () => form.open());
  return el("div", { class: "approval-box" },
    form,
    el("div", { class: "approval-actions" },
      el("div", { class: "field" }, el("label", { for: reasonId, text: "Reason" }), reason), approve, deny, edit),
    error);
}

// Where a decision was made (approval.resolved's `source`); events from before sources were recorded have none.
const DECISION_SOURCES = { slack: "in Slack", webhook: "through the webhook" };
const SOURCE_LABELS = { browser: "browser", slack: "Slack", webhook: "webhook" };

function approvalResolved(run, data) {
  const card = byKey(run.root, "data-approval-id", data.approval_id);
  if (!card) return;
  const decision = data.decision;
  card.classList.add(`resolved-${decision}`);
  const pill = card.querySelector(".approval-state");
  pill.textContent = decision === "approve" ? "approved" : decision === "deny" ? "denied" : decision;
  pill.className = `pill approval-state ${decision === "approve" ? "pill-ok" : "pill-err"}`;
  card.querySelector(".approval-box")?.remove();
  const who = data.by && data.by === page.user_id ? "you" : "a teammate";
  const where = DECISION_SOURCES[data.source] || "";
  const text = decision === "expired" ? "Nobody decided before it expired." : `${decision === "approve" ? "Approved" : "Denied"} by ${who}${where ? ` ${where}` : ""}${data.reason ? `: ${data.reason}` : "."}`;
  const note = card.querySelector(".decision-note") || el("p", { class: "decision-note small" });
  note.textContent = text;
  card.querySelector(".card-body").append(note);
  if (data.source && !card.querySelector(".decision-source")) {
    const label = SOURCE_LABELS[data.source] || data.source;
    pill.after(el("span", { class: "pill decision-source", "data-source": data.source, text: `via ${label}` }));
  }
}

function planPanel(run, steps) {
  let panel = run.root.querySelector(".plan");
  const list = el("ol");
  for (const step of steps) {
    list.append(el("li", { "data-step-id": step.id, "data-state": "pending" },
      el("span", { class: "step-dot", "aria-hidden": "true" }),
      el("span", { text: step.title }),
      step.mutating ? el("span", { class: "pill pill-warn", text: "change" }) : null,
      el("span", { class: "step-state", text: "pending" })));
  }
  if (panel) {
    panel.querySelector("ol").replaceWith(list);
    panel.querySelector("h2").textContent = "Plan (revised)";
    return;
  }
  panel = el("section", { class: "card plan", "aria-label": "Plan" },
    el("header", { class: "card-head" }, el("h2", { class: "card-title", text: "Plan" })),
    el("div", { class: "card-body" }, list));
  run.body.append(panel);
}

function stepState(run, stepId, status) {
  const item = byKey(run.root, "data-step-id", stepId);
  if (!item) return;
  item.dataset.state = status;
  item.querySelector(".step-state").textContent = status;
}

function verification(run, data) {
  const card = el("section", { class: `card verification ${data.passed ? "passed" : "failed"}`, "aria-label": "Verification" },
    el("header", { class: "card-head" }, el("strong", { text: "Verification" }),
      el("span", { class: `pill ${data.passed ? "pill-ok" : "pill-err"}`, text: data.passed ? "passed" : "not met" })));
  const list = el("ul");
  for (const check of data.checks || []) {
    list.append(el("li", { text: `${check.passed ? "✓" : "✕"} ${check.check}${check.evidence ? ` — ${check.evidence}` : ""}` }));
  }
  card.append(el("div", { class: "card-body" }, list, data.notes ? el("p", { class: "small muted", text: data.notes }) : null));
  run.body.append(card);
}

function usage(run, data) {
  const u = data.usage || {};
  const tokens = (u.prompt_tokens || 0) + (u.completion_tokens || 0);
  run.usage.replaceChildren(
    el("span", { text: `${tokens.toLocaleString()} tokens (${(u.prompt_tokens || 0).toLocaleString()} in · ${(u.completion_tokens || 0).toLocaleString()} out)` }),
    el("span", { text: `$${Number(u.cost_usd || 0).toFixed(4)}` }),
    el("span", { text: `${((u.duration_ms || 0) / 1000).toFixed(1)} s` }));
}

// ---- the event stream ----------------------------------------------------------------------------------------
const handlers = {
  "run.queued": (run) => setRunStatus(run, "queued"),
  "run.started": (run) => setRunStatus(run, "running"),
  "plan.created": (run, d) => planPanel(run, d.steps || []),
  "step.started": (run, d) => stepState(run, d.step_id, "running"),
  "step.finished": (run, d) => stepState(run, d.step_id, d.status || "succeeded"),
  "tool.call": (run, d) => toolCard(run, d.call_id, d.tool, d.args, d.mutating),
  "tool.output": (run, d) => {
    const term = (byKey(run.root, "data-call-id", d.call_id) || toolCard(run, d.call_id, "tool", {}, false)).querySelector(".terminal");
    autoscroll(term, () => appendAnsi(term, d.chunk, d.stream === "stderr" ? "stderr" : ""));
  },
  "tool.result": (run, d) => toolResult(run, byKey(run.root, "data-call-id", d.call_id) || toolCard(run, d.call_id, "tool", {}, false), d),
  "approval.requested": (run, d) => { approvalCard(run, d); setRunStatus(run, "awaiting_approval"); },
  "approval.updated": (run, d) => approvalUpdated(byKey(run.root, "data-approval-id", d.approval_id), d),
  "approval.resolved": (run, d) => { approvalResolved(run, d); if (!run.finished) setRunStatus(run, "running"); },
  "verification.result": (run, d) => verification(run, d),
  "message.delta": (run, d) => {
    const node = assistantMessage(run, d.message_id, d.agent);
    if (!node.dataset.complete) setMessageText(node, node._raw + d.text, false);
  },
  "message.completed": (run, d) => {
    const node = assistantMessage(run, d.message.id, d.message.agent);
    setMessageText(node, d.message.content, true);
  },
  "run.finished": (run, d) => { setRunStatus(run, d.status); usage(run, d); },
  // The sentence only: the code is for programs (data-code), the detail went to the server log.
  "run.error": (run, d) => run.body.append(el("p", { class: "run-error", role: "alert", "data-code": d.code, text: d.detail })),
};

function applyEvent(event) {
  if (typeof event.seq !== "number" || state.seen.has(event.seq)) return;
  state.seen.add(event.seq);
  state.lastSeq = Math.max(state.lastSeq, event.seq);
  const handler = handlers[event.type];
  if (!handler || !event.run) return;
  const data = event.data || {};
  handler(ensureRun(event.run, event.type === "run.queued" ? data.message_id : undefined), data);
}

function setConnection(text, stateName) {
  connStatus.textContent = text;
  connStatus.dataset.state = stateName;
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws/conversations/${page.id}/`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.attempts = 0;
    setConnection("live", "live");
    socket.send(JSON.stringify({ type: "resume", after: state.lastSeq }));
  });
  socket.addEventListener("message", (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    applyEvent(event);
  });
  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return;
    if (event.code === 4403 || event.code === 4404) { setConnection("access lost", "offline"); return; }
    const delay = Math.min(30000, 500 * 2 ** state.attempts) * (0.75 + Math.random() * 0.5);
    state.attempts += 1;
    setConnection(`reconnecting in ${Math.round(delay / 1000)} s…`, "offline");
    state.timer = setTimeout(connect, delay);
  });
}

window.addEventListener("online", () => {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) return;
  clearTimeout(state.timer);
  state.attempts = 0;
  connect();
});

// ---- composer, stop, manage --------------------------------------------------------------------------------
const composer = document.getElementById("composer");
if (composer) {
  const input = document.getElementById("composer-input");
  const error = document.getElementById("composer-error");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); composer.requestSubmit(); }
  });
  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content) return;
    const send = document.getElementById("send");
    send.disabled = true;
    error.hidden = true;
    try {
      const result = await api("POST", `/api/v1/conversations/${page.id}/messages/`, { content });
      const node = userMessage({ id: result.message.id, content: result.message.content });
      // The socket may have delivered run.queued before this response: the question goes above its run.
      const early = result.run && state.runs.get(result.run.id);
      if (early) early.root.before(node);
      else if (result.run) ensureRun(result.run.id, result.message.id);
      input.value = "";
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      send.disabled = false;
    }
  });
}
stopButton?.addEventListener("click", async () => {
  if (!state.activeRun) return;
  stopButton.disabled = true;
  try { await api("POST", `/api/v1/runs/${state.activeRun}/cancel/`); } catch { /* already finished */ }
  stopButton.disabled = false;
});

document.getElementById("conv-rename")?.addEventListener("click", async () => {
  const title = window.prompt("New title", document.getElementById("conv-title").textContent);
  if (title === null || !title.trim()) return;
  await api("PATCH", `/api/v1/conversations/${page.id}/`, { title: title.trim() });
  window.location.reload();
});
document.getElementById("conv-delete")?.addEventListener("click", async () => {
  if (!window.confirm("Delete this conversation for everyone it is shared with?")) return;
  await api("DELETE", `/api/v1/conversations/${page.id}/`);
  window.location.assign("/");
});
document.getElementById("conv-share")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const select = event.target.elements.team;
  try {
    await api("POST", `/api/v1/conversations/${page.id}/shares/`, { team: select.value });
    setConnection(`shared with ${select.selectedOptions[0].textContent}`, "live");
  } catch (err) {
    window.alert(err.message);
  }
});

// ---- start -------------------------------------------------------------------------------------------------
function start() {
  for (const message of page.messages) {
    if (message.role === "user") {
      userMessage(message);
      if (message.run) ensureRun(message.run, message.id);
    } else if (message.run) {
      setMessageText(assistantMessage(ensureRun(message.run), message.id, null), message.content, true);
    } else {
      const node = el("div", { class: "msg msg-assistant", "data-message-id": message.id }, el("div", { class: "msg-content" }));
      timeline.append(node);
      setMessageText(node, message.content, true);
    }
  }
  connect();
}
if (document.readyState === "complete") start(); else window.addEventListener("load", start);
