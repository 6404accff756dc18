// Shell items: the commands a shell call runs (hosted or local) and their outputs.
import { h } from "../dom.js";
import { createCard, createCodeBlock, createOutputBlock, formatValue, isDone } from "./card.js";

function commandsOf(item) {
  const action = item.action || {};
  if (Array.isArray(action.commands)) return action.commands.map(String);
  if (Array.isArray(action.command)) return [action.command.join(" ")];
  return [];
}

function outputText(entries) {
  return entries
    .map((entry) => {
      const outcome = entry?.outcome;
      const status = outcome?.type === "exit" ? `exit ${outcome.exit_code}` : outcome?.type || "";
      return [entry?.stdout, entry?.stderr ? `[stderr]\n${entry.stderr}` : "", status ? `[${status}]` : ""]
        .filter(Boolean)
        .join("\n");
    })
    .join("\n\n");
}

export function createShellCallView() {
  const card = createCard("shell", "Shell");
  const commands = createCodeBlock("bash", "commands");
  card.body.append(commands.el);
  const output = createOutputBlock(card.body, "Result");
  return {
    el: card.el,
    update(item) {
      const list = commandsOf(item);
      card.setTitle(item.type === "local_shell_call" ? "local" : "");
      card.setStatus(item.toolOutput !== undefined ? "completed" : item.status);
      if (item.toolOutput !== undefined) output.set(formatValue(item.toolOutput));
      return commands.set(list.map((c) => `$ ${c}`).join("\n"), isDone(item));
    },
    finish: () => commands.flush(),
  };
}

export function createShellOutputView() {
  const card = createCard("shell", "Shell output");
  const pre = h("pre", { class: "output" });
  card.body.append(pre);
  return {
    el: card.el,
    update(item) {
      card.setStatus(item.status);
      const text = outputText(Array.isArray(item.output) ? item.output : []);
      if (pre.textContent !== text) pre.textContent = text;
      return false;
    },
  };
}
