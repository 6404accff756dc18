// An apply_patch call: which file, what operation, and the diff as it streams.
import { createCard, createCodeBlock, isDone } from "./card.js";

export function createApplyPatchView() {
  const card = createCard("patch", "Patch");
  const diff = createCodeBlock("diff", "diff");
  card.body.append(diff.el);
  return {
    el: card.el,
    update(item) {
      const op = item.operation || {};
      card.setTitle(`${(op.type || "").replaceAll("_", " ")} ${op.path || ""}`.trim());
      card.setStatus(item.status);
      return diff.set(op.diff || "", isDone(item));
    },
    finish: () => diff.flush(),
  };
}
