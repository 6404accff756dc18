// A tool call the relay answers: its name, what it was called with as that streams, and the
// result once the relay has run it (relay.tool.output, or a function_call_output item from
// history). Function calls stream JSON arguments; custom tools stream free-form input.
import { h } from "../dom.js";
import { createCard, createCodeBlock, createOutputBlock, formatValue, isDone } from "./card.js";

function createToolCallView({ kind, label, inputLabel, language, read }) {
  const card = createCard(kind, label);
  const input = createCodeBlock(language, "args");
  card.body.append(h("div", { class: "card-label", text: inputLabel }), input.el);
  const output = createOutputBlock(card.body, "Result");
  const answered = (item) => item.toolOutput !== undefined;
  let last = null;
  return {
    el: card.el,
    update(item) {
      last = item;
      card.setTitle(item.name || "");
      card.setStatus(answered(item) ? "completed" : item.status === "completed" ? "calling" : item.status);
      if (answered(item)) output.set(formatValue(item.toolOutput) || "(empty)");
      const done = isDone(item) || answered(item);
      return input.set(read(item, done), done);
    },
    finish() {
      // The turn is over: a call still waiting for its result will not get one now.
      if (last) card.setStatus(answered(last) ? "completed" : last.status);
      input.flush();
    },
  };
}

export function createFunctionCallView() {
  return createToolCallView({
    kind: "function",
    label: "Function",
    inputLabel: "Arguments",
    language: "json",
    read: (item, done) => (done ? formatValue(item.arguments) : item.arguments || ""),
  });
}

export function createCustomToolView() {
  return createToolCallView({
    kind: "custom-tool",
    label: "Tool",
    inputLabel: "Input",
    language: null,
    read: (item) => item.input || "",
  });
}
