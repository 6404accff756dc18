// Incremental markdown. The text is split into finished blocks and an open tail: a block
// is finished once the lexer has started another block after it. Finished blocks are
// rendered once (marked → DOMPurify → DOM, highlight.js on code) and never touched again;
// only the tail is re-rendered, at most once per call to render() (one per animation
// frame). An open code fence streams by appending text, without re-parsing.
import { Lexer, Marked } from "../vendor/marked/marked.esm.js";
import { highlightBlocks } from "./code.js";
import { h } from "./dom.js";
import { sanitizeToFragment } from "./sanitize.js";

const marked = new Marked({ gfm: true, breaks: false, async: false });
// Raw HTML written by the model is shown as text, not interpreted.
marked.use({ renderer: { html: ({ text }) => escapeHtml(text) } });

const OPEN_FENCE = /^ {0,3}(`{3,}|~{3,})([^\n]*)\n/;
const TOKENS_PER_CHUNK = 16;
// Finished chunks are grouped in sections, so a frame's layout walks few children, and
// sections scrolled out of view are skipped entirely (content-visibility in style.css).
const CHUNKS_PER_SECTION = 24;
// A tail render costing more than this is retried later rather than every frame.
const FRAME_BUDGET_MS = 4;

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class IncrementalMarkdown {
  constructor(root) {
    this.root = root;
    root.classList.add("md");
    this.tailEl = h("div", { class: "md-tail" });
    root.append(this.tailEl);
    this.#clearState();
  }

  #clearState() {
    this.tail = "";
    this.carry = "";
    this.links = Object.create(null);
    this.fence = null;
    this.dirty = false;
    this.retryAt = 0;
    this.section = null;
  }

  /** Forget everything rendered so far (the text was replaced, not extended). */
  reset() {
    this.tailEl.replaceChildren();
    this.root.replaceChildren(this.tailEl);
    this.#clearState();
  }

  append(text) {
    if (!text) return;
    let chunk = this.carry + text;
    this.carry = "";
    // A CR at the end may be the first half of a CRLF: keep it until the next append.
    if (chunk.endsWith("\r")) {
      this.carry = "\r";
      chunk = chunk.slice(0, -1);
    }
    this.tail += chunk.replace(/\r\n?/g, "\n");
    this.dirty = true;
  }

  /** Render what changed since the last call; true while work is left for a later frame. */
  render(now = performance.now()) {
    if (!this.dirty) return false;
    if (now < this.retryAt) return true;
    const start = performance.now();
    this.dirty = false;
    this.#step();
    const cost = performance.now() - start;
    this.retryAt = cost > FRAME_BUDGET_MS ? start + cost * 3 : 0;
    return false;
  }

  /** The text is complete: render the tail as finished blocks. */
  finish() {
    if (this.carry) this.tail += "\n";
    this.carry = "";
    this.#commit(this.#lex(this.tail));
    this.tail = "";
    this.fence = null;
    this.dirty = false;
    this.tailEl.replaceChildren();
  }

  #step() {
    if (this.#streamOpenFence()) return;
    let tokens = this.#lex(this.tail);
    let last = tokens.length - 1;
    while (last > 0 && tokens[last].type === "space") last--;
    if (last > 0) {
      const finished = tokens.slice(0, last);
      this.#commit(finished);
      this.tail = this.tail.slice(finished.reduce((n, t) => n + t.raw.length, 0));
      if (this.#streamOpenFence()) return;
      tokens = tokens.slice(last);
    }
    this.tailEl.replaceChildren(sanitizeToFragment(marked.parser(tokens)));
  }

  #lex(src) {
    const lexer = new Lexer(marked.defaults);
    lexer.tokens.links = this.links; // reference definitions carry across blocks
    return lexer.lex(src);
  }

  #commit(tokens) {
    for (let i = 0; i < tokens.length; ) {
      const group = [];
      let solid = 0;
      while (i < tokens.length && solid < TOKENS_PER_CHUNK) {
        if (tokens[i].type !== "space") solid++;
        group.push(tokens[i++]);
      }
      if (!solid) continue;
      const fragment = sanitizeToFragment(marked.parser(group));
      highlightBlocks(fragment);
      if (!this.section || this.section.childElementCount >= CHUNKS_PER_SECTION) {
        this.section = h("div", { class: "md-section" });
        this.root.insertBefore(this.section, this.tailEl);
      }
      this.section.append(h("div", { class: "md-chunk" }, fragment));
    }
  }

  /** While the tail is an unclosed code fence, append its new text; false otherwise. */
  #streamOpenFence() {
    if (!this.fence) {
      const open = OPEN_FENCE.exec(this.tail);
      if (!open || (open[1][0] === "`" && open[2].includes("`"))) return false;
      const lang = open[2].trim().split(/\s+/)[0];
      const code = h("code", { class: lang ? `language-${lang}` : null });
      this.tailEl.replaceChildren(h("pre", { class: "md-streaming-code" }, code));
      const bodyStart = open[0].length;
      const close = new RegExp(`^ {0,3}${escapeRegExp(open[1][0])}{${open[1].length},}[ \\t]*$`, "gm");
      this.fence = { code, close, shown: bodyStart, scanFrom: bodyStart };
    }
    const fence = this.fence;
    fence.close.lastIndex = fence.scanFrom;
    if (fence.close.exec(this.tail)) {
      this.fence = null;
      return false;
    }
    fence.scanFrom = Math.max(fence.scanFrom, this.tail.lastIndexOf("\n") + 1);
    if (this.tail.length > fence.shown) {
      fence.code.append(this.tail.slice(fence.shown));
      fence.shown = this.tail.length;
    }
    return true;
  }
}

/** Render a complete markdown text into `el` (history, small texts). */
export function renderMarkdown(el, text) {
  const md = new IncrementalMarkdown(el);
  md.append(text);
  md.finish();
  return md;
}
