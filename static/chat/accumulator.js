// Folds a turn's events into its state, mirroring the server's accumulator: output items
// keyed by upstream request and output_index, plus the turn's status, usage and errors.
// Pure: no DOM. apply() returns the key of the item it touched, or TURN for turn-level news.
import { TURN_FINAL } from "./constants.js";
import { applyItemEvent, itemTypeOfEvent, normalizeItem, textOf } from "./items.js";

export const TURN = "turn";
const IGNORED = new Set(["keepalive", "relay.replay.done"]);

export function isTerminal(status) {
  return TURN_FINAL.has(status);
}

export class TurnState {
  constructor() {
    this.items = new Map(); // key → normalized item
    this.order = [];
    this.request = -1; // upstream request number, from relay.request.started
    this.relayRequests = false;
    this.responseSeen = false;
    this.status = "queued";
    this.model = null;
    this.usage = null;
    this.timings = null;
    this.errors = []; // {kind, message}
    this.incompleteReason = null;
    this.toolOutputs = new Map(); // call_id → output
    this.unknown = new Map(); // event type → count
    this.answers = {}; // approval request id → approve, as the HTTP API had them
    this.done = false;
  }

  /** The owner's answers a waiting turn already has (some may not be in its log yet). */
  rememberAnswers(answers) {
    this.answers = answers && typeof answers === "object" ? { ...answers } : {};
  }

  apply(event) {
    const type = event?.type;
    if (typeof type !== "string" || IGNORED.has(type)) return null;
    if (type.startsWith("relay.")) return this.#applyRelay(event);
    if (type.startsWith("response.") && event.response) return this.#applyResponse(event);
    if (type === "error") {
      const error = event.error || event;
      this.errors.push({ kind: error.code || error.type || "error", message: error.message || "Error" });
      return TURN;
    }
    if (typeof event.output_index === "number") return this.#applyToItem(event);
    this.unknown.set(type, (this.unknown.get(type) || 0) + 1);
    return TURN;
  }

  #applyRelay(event) {
    switch (event.type) {
      case "relay.request.started":
        this.relayRequests = true;
        this.request++;
        this.responseSeen = false;
        if (this.status === "waiting") {
          this.status = "streaming";
          return TURN;
        }
        return null;
      case "relay.tool.output":
        return this.#toolOutput(event.call_id, event.output);
      case "relay.turn.waiting":
        if (!this.done) this.status = "waiting";
        return TURN;
      case "relay.approval.response":
        return this.#approval(event.approval_request_id, event.approve);
      case "relay.error":
        this.errors.push({ kind: event.kind || "error", message: event.message || "Error", status: event.status });
        return TURN;
      case "relay.turn.done":
        this.done = true;
        this.status = event.status || "completed";
        if (event.error) this.errors.push({ kind: "turn", message: String(event.error) });
        if (event.usage) this.usage = event.usage;
        if (event.timings) this.timings = event.timings;
        return TURN;
      default:
        this.unknown.set(event.type, (this.unknown.get(event.type) || 0) + 1);
        return TURN;
    }
  }

  #applyResponse(event) {
    const response = event.response;
    if (event.type === "response.created" || event.type === "response.queued") {
      // Without relay markers (a raw recorded stream), a second response starts a new request.
      if (!this.relayRequests && (this.responseSeen || this.request < 0)) this.request++;
      this.responseSeen = true;
    }
    if (this.request < 0) this.request = 0;
    if (response.model) this.model = response.model;
    if (!this.done) this.status = this.#liveStatus(response.status);
    if (event.type === "response.failed" && response.error) {
      this.errors.push({ kind: response.error.code || "failed", message: response.error.message || "The response failed." });
    }
    if (response.incomplete_details?.reason) this.incompleteReason = response.incomplete_details.reason;
    if (response.usage && !this.done) this.usage = addUsage(this.usage, response.usage);
    if (Array.isArray(response.output)) {
      response.output.forEach((item, index) => {
        const key = this.#key(index);
        if (!this.items.has(key) && item?.type) this.#add(key, item);
      });
    }
    return TURN;
  }

  #liveStatus(status) {
    if (status === "queued") return "queued";
    // A relayed turn may go on with another request after a response ends; a raw stream ends.
    return !this.relayRequests && TURN_FINAL.has(status) ? status : "streaming";
  }

  #applyToItem(event) {
    if (this.request < 0) this.request = 0;
    const key = this.#key(event.output_index);
    if (event.type === "response.output_item.added" || event.type === "response.output_item.done") {
      const existing = this.items.get(key);
      const item = existing || this.#add(key, event.item || {});
      if (existing) applyItemEvent(existing, event);
      if (event.type === "response.output_item.done") item.done = true;
      if (event.item?.call_id && this.toolOutputs.has(event.item.call_id)) {
        this.items.get(key).toolOutput = this.toolOutputs.get(event.item.call_id);
      }
      return key;
    }
    let item = this.items.get(key);
    if (!item) item = this.#add(key, { type: itemTypeOfEvent(event.type) });
    if (!applyItemEvent(item, event)) this.unknown.set(event.type, (this.unknown.get(event.type) || 0) + 1);
    return key;
  }

  #key(outputIndex) {
    return `${Math.max(this.request, 0)}:${outputIndex}`;
  }

  #add(key, raw) {
    const item = normalizeItem(raw);
    item.key = key;
    if (item.type === "mcp_approval_request" && typeof this.answers[item.id] === "boolean") item.approve = this.answers[item.id];
    this.items.set(key, item);
    this.order.push(key);
    return item;
  }

  #toolOutput(callId, output) {
    this.toolOutputs.set(callId, output);
    for (const key of this.order) {
      const item = this.items.get(key);
      if (item.call_id === callId && item.type !== "function_call_output") {
        item.toolOutput = output;
        item.rev++;
        return key;
      }
    }
    return null;
  }

  /** The owner's answer to an approval request: shown on the request's card. */
  #approval(requestId, approve) {
    for (const key of this.order) {
      const item = this.items.get(key);
      if (item.type === "mcp_approval_request" && item.id === requestId) {
        item.approve = Boolean(approve);
        item.rev++;
        return key;
      }
    }
    return null;
  }

  /** Load a finished turn from the HTTP API (`output` items, or just `output_text`). */
  loadTurn(turn) {
    this.request = 0;
    let items = Array.isArray(turn.output) ? turn.output.filter((item) => item && item.type) : [];
    if (!items.some((item) => item.type === "message") && turn.output_text) {
      items = [...items, { type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: turn.output_text }] }];
    }
    let index = 0;
    for (const item of items) {
      if (item.type === "function_call_output" && this.#toolOutput(item.call_id, item.output) !== null) continue;
      if (item.type === "mcp_approval_response" && this.#approval(item.approval_request_id, item.approve) !== null) continue;
      this.#add(this.#key(index++), item).done = true;
    }
    this.status = turn.status || "completed";
    this.done = isTerminal(this.status);
    this.model = turn.model || this.model;
    this.usage = turn.usage || null;
    this.timings = turn.timings || null;
    if (turn.error) this.errors.push({ kind: "turn", message: String(turn.error) });
  }

  /** The concatenated output_text of all message items, in order. */
  outputText() {
    let text = "";
    for (const key of this.order) {
      const item = this.items.get(key);
      if (item.type !== "message") continue;
      for (const part of item.content) if (part && part.type === "output_text") text += textOf(part);
    }
    return text;
  }
}

function addUsage(total, usage) {
  if (!total) return structuredClone(usage);
  const sum = structuredClone(total);
  for (const [k, v] of Object.entries(usage)) {
    if (typeof v === "number") sum[k] = (sum[k] || 0) + v;
    else if (v && typeof v === "object") sum[k] = addUsage(sum[k] || null, v);
  }
  return sum;
}
