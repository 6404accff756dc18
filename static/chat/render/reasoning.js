// Reasoning: the summary (or a provider's visible reasoning text) streams as markdown in a
// collapsible card that folds itself away when done, unless the reader opened or closed it.
import { h } from "../dom.js";
import { createCard, isDone } from "./card.js";
import { PartFeed } from "./message.js";

export function createReasoningView(item) {
  const card = createCard("reasoning", "Reasoning", { open: !isDone(item) });
  card.setTitle("");
  let touched = false;
  card.el.querySelector("summary").addEventListener("click", () => {
    touched = true;
  });
  const feeds = new Map(); // "summary:0" → PartFeed
  const empty = h("p", { class: "quiet", text: "Thinking…" });
  card.body.append(empty);

  function feed(key) {
    if (!feeds.has(key)) {
      const root = h("div", { class: "reasoning-part" });
      card.body.append(root);
      feeds.set(key, new PartFeed(root));
    }
    return feeds.get(key);
  }

  return {
    el: card.el,
    update(current) {
      const done = isDone(current);
      let more = false;
      for (const field of ["summary", "content"]) {
        current[field].forEach((part, i) => {
          if (part && feed(`${field}:${i}`).update(part, done)) more = true;
        });
      }
      const hasText = [...feeds.values()].some((f) => f.taken > 0);
      empty.hidden = hasText;
      empty.textContent = done ? "Reasoned without a visible summary." : "Thinking…";
      card.setStatus(current.status);
      if (done && !touched) card.el.open = false;
      return more;
    },
    finish() {
      for (const f of feeds.values()) f.finish();
      empty.textContent = "Reasoned without a visible summary.";
      if (!touched) card.el.open = false;
    },
  };
}
