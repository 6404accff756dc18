// A custom (free-form input) tool call: its name, the input as it streams, and its result.
import { h } from "../dom.js";
import { createCard, createCodeBlock, createOutputBlock, formatValue, isDone } from "./card.js";

export function createCustomToolView() {
  const card = createCard("custom-tool", "Tool");
  const input = createCodeBlock(null, "args");
  card.body.append(h("div", { class: "card-label", text: "Input" }), input.el);
  const output = createOutputBlock(card.body, "Result");
  let last = null;
  return {
    el: card.el,
    update(item) {
      last = item;
      card.setTitle(item.name || "");
      card.setStatus(item.toolOutput !== undefined ? "completed" : item.status === "completed" ? "calling" : item.status);
      if (item.toolOutput !== undefined) output.set(formatValue(item.toolOutput) || "(empty)");
      return input.set(item.input || "", isDone(item));
    },
    finish() {
      // The turn is over: a call still waiting for its result will not get one now.
      if (last) card.setStatus(last.toolOutput !== undefined ? "completed" : last.status);
      input.flush();
    },
  };
}
