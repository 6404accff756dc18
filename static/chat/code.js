// Syntax highlighting with the vendored highlight.js. Only languages it knows are
// highlighted: auto-detection runs every grammar and is too slow for streaming.
import hljs from "../vendor/highlight.js/highlight.min.js";

const MAX_HIGHLIGHT_CHARS = 200_000;

export function knownLanguage(lang) {
  const name = String(lang || "").trim().toLowerCase();
  return name && hljs.getLanguage(name) ? name : null;
}

/** Fill a <code> element with `text`, highlighted when the language is known. */
export function setCode(codeEl, text, lang) {
  const language = knownLanguage(lang);
  codeEl.classList.add("hljs");
  if (!language || text.length > MAX_HIGHLIGHT_CHARS) {
    codeEl.textContent = text;
    return;
  }
  // highlight.js escapes the source; its output holds only <span class="hljs-…">.
  codeEl.innerHTML = hljs.highlight(text, { language, ignoreIllegals: true }).value;
}

/** Highlight the fenced code blocks inside a freshly rendered markdown fragment. */
export function highlightBlocks(root) {
  for (const codeEl of root.querySelectorAll("pre > code")) {
    const match = /(?:^|\s)language-([\w+#.-]+)/.exec(codeEl.className);
    setCode(codeEl, codeEl.textContent, match ? match[1] : null);
  }
}
