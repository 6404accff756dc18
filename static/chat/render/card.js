// The frame every tool card shares: a collapsible <details> with a kind, a title and a
// status badge; plus small helpers for code and output blocks inside cards.
import { setCode } from "../code.js";
import { ITEM_FINAL } from "../constants.js";
import { h, setText } from "../dom.js";

const STATUS_LABELS = {
  in_progress: "running",
  searching: "searching",
  interpreting: "interpreting",
  generating: "generating",
  completed: "done",
  failed: "failed",
  incomplete: "incomplete",
  calling: "calling",
};
const MAX_SHOWN_CHARS = 20_000;

/** Whether an item is finished: its output_item.done arrived, or its status says so. */
export function isDone(item) {
  return Boolean(item.done) || ITEM_FINAL.has(item.status);
}

export function createCard(kind, label, { open = true } = {}) {
  const title = h("span", { class: "card-title" });
  const badge = h("span", { class: "badge" });
  const body = h("div", { class: "card-body" });
  const el = h(
    "details",
    { class: `card card-${kind}`, open },
    h("summary", { class: "card-head" }, h("span", { class: "card-kind", text: label }), title, badge),
    body,
  );
  return {
    el,
    body,
    setTitle: (text) => setText(title, text),
    setStatus(status) {
      setText(badge, status ? STATUS_LABELS[status] || String(status).replaceAll("_", " ") : "");
      badge.dataset.status = status || "";
    },
  };
}

/** A <pre><code> whose text can grow; highlighting is redone at most every few frames. */
export function createCodeBlock(lang, className = "") {
  const code = h("code");
  const el = h("pre", { class: `code ${className}`.trim() }, code);
  let shown = null;
  let pending = null;
  let retryAt = 0;
  return {
    el,
    /** Show `text`; returns true when the update was deferred to a later frame. */
    set(text, final = false) {
      const value = text ?? "";
      if (value === shown) return false;
      const now = performance.now();
      if (!final && now < retryAt) {
        pending = value;
        return true;
      }
      setCode(code, value, lang);
      const cost = performance.now() - now;
      retryAt = cost > 2 ? now + cost * 4 : 0;
      shown = value;
      pending = null;
      return false;
    },
    flush() {
      if (pending !== null) this.set(pending, true);
    },
  };
}

/** Readable text for a tool input or output: JSON pretty-printed, long text cut short. */
export function formatValue(value) {
  let text = value;
  if (typeof value === "string") {
    const trimmed = value.trim();
    if (/^[[{]/.test(trimmed)) {
      try {
        text = JSON.stringify(JSON.parse(trimmed), null, 2);
      } catch {
        text = value;
      }
    }
  } else if (value !== undefined && value !== null) {
    text = JSON.stringify(value, null, 2);
  } else {
    text = "";
  }
  if (text.length > MAX_SHOWN_CHARS) {
    text = `${text.slice(0, MAX_SHOWN_CHARS)}\n… (${text.length - MAX_SHOWN_CHARS} more characters)`;
  }
  return text;
}

/** A labelled <pre> block (tool output, logs) that is created on first use. */
export function createOutputBlock(parent, label, className = "") {
  let pre = null;
  return {
    set(text) {
      if (!text) return;
      if (!pre) {
        pre = h("pre", { class: `output ${className}`.trim() });
        parent.append(h("div", { class: "card-label", text: label }), pre);
      }
      setText(pre, text);
    },
  };
}
