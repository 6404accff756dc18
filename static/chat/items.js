// The shape of one output item on the client: the upstream item, with streamed texts held
// as chunk lists (so views can take only what is new) and a revision counter.

import { ITEM_PHASES } from "./constants.js";

// `response.<item>.<phase>`: the item moved to the status `phase`, when ITEM_PHASES has it.
const PHASE_EVENT = /^response\.[a-z_]+\.([a-z_]+)$/;
const ITEM_TYPE_BY_EVENT_PREFIX = [
  ["response.output_text.", "message"],
  ["response.refusal.", "message"],
  ["response.content_part.", "message"],
  ["response.reasoning", "reasoning"],
  ["response.function_call_arguments.", "function_call"],
  ["response.custom_tool_call_input.", "custom_tool_call"],
  ["response.mcp_call", "mcp_call"],
  ["response.mcp_list_tools.", "mcp_list_tools"],
  ["response.code_interpreter_call", "code_interpreter_call"],
  ["response.shell_call_output_content.", "shell_call_output"],
  ["response.shell_call_command.", "shell_call"],
  ["response.apply_patch_call", "apply_patch_call"],
];

export function itemTypeOfEvent(eventType) {
  for (const [prefix, type] of ITEM_TYPE_BY_EVENT_PREFIX) if (eventType.startsWith(prefix)) return type;
  const match = /^response\.([a-z_]+)\./.exec(eventType);
  return match ? match[1] : "unknown";
}

export function textOf(part) {
  return part ? part.chunks.join("") : "";
}

function makePart(raw, type) {
  const part = { ...raw, type: raw?.type || type };
  const text = part.type === "refusal" ? raw?.refusal : raw?.text;
  delete part.text;
  delete part.refusal;
  part.chunks = text ? [String(text)] : [];
  part.annotations = Array.isArray(raw?.annotations) ? [...raw.annotations] : [];
  return part;
}

const PART_LISTS = { message: ["content"], reasoning: ["summary", "content"] };

export function normalizeItem(raw) {
  const item = structuredClone(raw);
  item.rev = 0;
  for (const field of PART_LISTS[item.type] || []) {
    item[field] = Array.isArray(item[field]) ? item[field].map((part) => makePart(part)) : [];
  }
  return item;
}

function partAt(parts, index, type) {
  const i = typeof index === "number" ? index : 0;
  if (!parts[i]) parts[i] = makePart(null, type);
  return parts[i];
}

/** Set a part's full text; a different text replaces the part, so its view starts over. */
function setPartText(parts, index, type, text) {
  if (typeof text !== "string") return;
  const i = typeof index === "number" ? index : 0;
  const old = parts[i];
  if (old && textOf(old) === text) return;
  parts[i] = makePart({ type: old?.type || type, text, refusal: text }, type);
  if (old) parts[i].annotations = old.annotations;
}

function mergeItem(item, raw) {
  for (const [field, value] of Object.entries(raw || {})) {
    if ((PART_LISTS[item.type] || []).includes(field) && Array.isArray(value)) {
      const parts = item[field];
      value.forEach((rawPart, i) => {
        if (!parts[i]) parts[i] = makePart(rawPart);
        else setPartText(parts, i, rawPart.type, rawPart.type === "refusal" ? rawPart.refusal : rawPart.text);
        if (rawPart.annotations?.length) parts[i].annotations = [...rawPart.annotations];
      });
    } else if (field !== "rev" && field !== "key" && field !== "done") {
      item[field] = value;
    }
  }
}

const append = (field) => (item, e) => { item[field] = (item[field] || "") + (e.delta ?? ""); };
const assign = (field, from = field) => (item, e) => { if (typeof e[from] === "string") item[field] = e[from]; };

const HANDLERS = {
  "response.output_item.added": (item, e) => mergeItem(item, e.item),
  "response.output_item.done": (item, e) => mergeItem(item, e.item),
  "response.content_part.added": (item, e) => { item.content[e.content_index ?? 0] ??= makePart(e.part, "output_text"); },
  "response.content_part.done": (item, e) => {
    const part = e.part || {};
    setPartText(item.content, e.content_index, part.type, part.type === "refusal" ? part.refusal : part.text);
  },
  "response.output_text.delta": (item, e) => { partAt(item.content, e.content_index, "output_text").chunks.push(e.delta ?? ""); },
  "response.output_text.done": (item, e) => setPartText(item.content, e.content_index, "output_text", e.text),
  "response.output_text.annotation.added": (item, e) => {
    const { annotations } = partAt(item.content, e.content_index, "output_text");
    if (typeof e.annotation_index === "number") annotations[e.annotation_index] = e.annotation;
    else annotations.push(e.annotation);
  },
  "response.refusal.delta": (item, e) => { partAt(item.content, e.content_index, "refusal").chunks.push(e.delta ?? ""); },
  "response.refusal.done": (item, e) => setPartText(item.content, e.content_index, "refusal", e.refusal),
  "response.function_call_arguments.delta": append("arguments"),
  "response.function_call_arguments.done": assign("arguments"),
  "response.custom_tool_call_input.delta": append("input"),
  "response.custom_tool_call_input.done": assign("input"),
  "response.mcp_call_arguments.delta": append("arguments"),
  "response.mcp_call_arguments.done": assign("arguments"),
  "response.code_interpreter_call_code.delta": append("code"),
  "response.code_interpreter_call_code.done": assign("code"),
  "response.reasoning_summary_part.added": (item, e) => { item.summary[e.summary_index ?? 0] ??= makePart(e.part, "summary_text"); },
  "response.reasoning_summary_part.done": (item, e) => setPartText(item.summary, e.summary_index, "summary_text", e.part?.text),
  "response.reasoning_summary_text.delta": (item, e) => { partAt(item.summary, e.summary_index, "summary_text").chunks.push(e.delta ?? ""); },
  "response.reasoning_summary_text.done": (item, e) => setPartText(item.summary, e.summary_index, "summary_text", e.text),
  "response.reasoning_text.delta": (item, e) => { partAt(item.content, e.content_index, "reasoning_text").chunks.push(e.delta ?? ""); },
  "response.reasoning_text.done": (item, e) => setPartText(item.content, e.content_index, "reasoning_text", e.text),
  "response.shell_call_command.added": (item, e) => { commands(item)[e.command_index ?? 0] = e.command || ""; },
  "response.shell_call_command.delta": (item, e) => {
    const list = commands(item);
    const i = e.command_index ?? 0;
    list[i] = (list[i] || "") + (e.delta ?? "");
  },
  "response.shell_call_command.done": (item, e) => { commands(item)[e.command_index ?? 0] = e.command ?? ""; },
  "response.shell_call_output_content.delta": (item, e) => {
    item.output = Array.isArray(item.output) ? item.output : [];
    const out = (item.output[e.command_index ?? 0] ??= { stdout: "", stderr: "" });
    for (const stream of ["stdout", "stderr"]) if (e.delta?.[stream]) out[stream] = (out[stream] || "") + e.delta[stream];
  },
  "response.shell_call_output_content.done": (item, e) => { if (Array.isArray(e.output)) item.output = e.output; },
  "response.apply_patch_call_operation_diff.delta": (item, e) => {
    item.operation ??= {};
    item.operation.diff = (item.operation.diff || "") + (e.delta ?? "");
  },
  "response.apply_patch_call_operation_diff.done": (item, e) => {
    item.operation ??= {};
    if (typeof e.diff === "string") item.operation.diff = e.diff;
  },
  "response.image_generation_call.partial_image": (item, e) => {
    item.partial = { b64: e.partial_image_b64, format: e.output_format || item.output_format, index: e.partial_image_index };
  },
};

function commands(item) {
  item.action ??= {};
  if (!Array.isArray(item.action.commands)) item.action.commands = [];
  return item.action.commands;
}

/** Apply one item event; false when the event type is not understood. */
export function applyItemEvent(item, event) {
  const handler = HANDLERS[event.type];
  item.rev++;
  if (handler) {
    handler(item, event);
    return true;
  }
  const phase = PHASE_EVENT.exec(event.type)?.[1];
  if (!ITEM_PHASES.has(phase)) return false;
  item.status = phase;
  return true;
}
