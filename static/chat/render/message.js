// An assistant message: each output_text part as incremental markdown with its citations,
// each refusal set apart as plain text.
import { h, setText } from "../dom.js";
import { textOf } from "../items.js";
import { IncrementalMarkdown } from "../markdown.js";
import { safeHref } from "../sanitize.js";
import { isDone } from "./card.js";

/** Feeds a part's new chunks into a markdown view; starts over when the part was replaced. */
export class PartFeed {
  constructor(root) {
    this.md = new IncrementalMarkdown(root);
    this.part = null;
    this.taken = 0;
    this.finished = false;
  }

  /** Returns true while rendering is left for a later frame. */
  update(part, done) {
    if (part !== this.part) {
      if (this.part) this.md.reset();
      this.part = part;
      this.taken = 0;
      this.finished = false;
    }
    if (part.chunks.length > this.taken) {
      this.md.append(part.chunks.slice(this.taken).join(""));
      this.taken = part.chunks.length;
      this.finished = false;
    }
    if (done) {
      this.finish();
      return false;
    }
    return this.md.render();
  }

  finish() {
    if (this.finished) return;
    this.md.finish();
    this.finished = true;
  }
}

/** Our own URL for a file a hosted tool made (the server fetches it with the key). */
function containerFileHref(turnId, annotation) {
  const { container_id: container, file_id: file } = annotation;
  if (!turnId || typeof container !== "string" || typeof file !== "string") return null;
  return `/api/turns/${encodeURIComponent(turnId)}/files/${encodeURIComponent(container)}/${encodeURIComponent(file)}`;
}

function citationOf(annotation, turnId) {
  if (!annotation) return null;
  if (annotation.type === "url_citation") {
    const href = safeHref(annotation.url);
    return { key: annotation.url, href, label: annotation.title || annotation.url };
  }
  const name = annotation.filename || annotation.file_id;
  const href = annotation.type === "container_file_citation" ? containerFileHref(turnId, annotation) : null;
  return name ? { key: name, href, label: name, download: Boolean(href) } : null;
}

function renderCitations(list, annotations) {
  const turnId = list.closest("article.turn[data-turn-id]")?.dataset.turnId;
  const seen = new Set();
  const items = [];
  for (const citation of annotations.map((a) => citationOf(a, turnId))) {
    if (!citation || seen.has(citation.key)) continue;
    seen.add(citation.key);
    const body = citation.download
      ? h("a", { href: citation.href, class: "file-download", download: citation.label, text: citation.label })
      : citation.href
      ? h("a", { href: citation.href, target: "_blank", rel: "noopener noreferrer", text: citation.label })
      : h("span", { class: "file-citation", text: citation.label });
    items.push(h("li", null, body));
  }
  list.replaceChildren(...items);
  list.hidden = items.length === 0;
}

function createSlot(part) {
  if (part.type === "refusal") {
    const el = h("div", { class: "refusal", role: "note" });
    return { el, update: (p) => setText(el, textOf(p)) || false, finish() {} };
  }
  const text = h("div", { class: "msg-text" });
  const list = h("ol", { class: "citations", "aria-label": "Sources", hidden: true });
  const feed = new PartFeed(text);
  let cited = -1;
  return {
    el: h("div", { class: "msg-part" }, text, list),
    update(p, done) {
      const annotations = p.annotations.filter(Boolean);
      if (annotations.length !== cited) {
        cited = annotations.length;
        renderCitations(list, annotations);
      }
      return feed.update(p, done);
    },
    finish: () => feed.finish(),
  };
}

export function createMessageView() {
  const el = h("div", { class: "msg" });
  const slots = [];
  return {
    el,
    update(item) {
      let more = false;
      item.content.forEach((part, i) => {
        if (!part) return;
        const kind = part.type === "refusal" ? "refusal" : "text";
        if (!slots[i] || slots[i].kind !== kind) {
          const slot = Object.assign(createSlot(part), { kind });
          if (slots[i]) slots[i].el.replaceWith(slot.el);
          else el.append(slot.el);
          slots[i] = slot;
        }
        if (slots[i].update(part, isDone(item))) more = true;
      });
      return more;
    },
    finish() {
      for (const slot of slots) slot?.finish();
    },
  };
}
