// A function call: its name, the arguments as they stream, and the tool's result once the
// relay has run it (relay.tool.output, or a function_call_output item from history).
import { h } from "../dom.js";
import { createCard, createCodeBlock, createOutputBlock, formatValue, isDone } from "./card.js";

export function createFunctionCallView() {
  const card = createCard("function", "Function");
  const args = createCodeBlock("json", "args");
  card.body.append(h("div", { class: "card-label", text: "Arguments" }), args.el);
  const output = createOutputBlock(card.body, "Result");
  let last = null;
  return {
    el: card.el,
    update(item) {
      last = item;
      card.setTitle(item.name || "");
      const done = isDone(item) || item.toolOutput !== undefined;
      card.setStatus(item.toolOutput !== undefined ? "completed" : item.status === "completed" ? "calling" : item.status);
      if (item.toolOutput !== undefined) output.set(formatValue(item.toolOutput) || "(empty)");
      return args.set(done ? formatValue(item.arguments) : item.arguments || "", done);
    },
    finish() {
      // The turn is over: a call still waiting for its result will not get one now.
      if (last) card.setStatus(last.toolOutput !== undefined ? "completed" : last.status);
      args.flush();
    },
  };
}
