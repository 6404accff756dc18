// The sidebar's search box: the user's own turns, with the matched words highlighted.
import { api } from "./api.js";
import { h } from "./dom.js";

const DEBOUNCE_MS = 250;

/** Snippet text with [start, end) ranges wrapped in <mark>, all as text nodes. */
export function highlighted(snippet, ranges) {
  const parts = [];
  let at = 0;
  for (const [start, end] of ranges || []) {
    if (start > at) parts.push(snippet.slice(at, start));
    parts.push(h("mark", { text: snippet.slice(start, end) }));
    at = end;
  }
  parts.push(snippet.slice(at));
  return parts;
}

export class SearchBox {
  constructor({ input, results, list }) {
    Object.assign(this, { input, results, list });
    this.timer = 0;
    this.asked = 0;
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        input.value = "";
        this.run();
      }
    });
  }

  async run() {
    const query = this.input.value.trim();
    const asked = ++this.asked;
    this.results.hidden = !query;
    this.list.hidden = Boolean(query);
    if (!query) return;
    let data;
    try {
      data = await api("GET", `/api/search?q=${encodeURIComponent(query)}`);
    } catch (error) {
      this.results.replaceChildren(h("li", { class: "search-empty", text: `Search failed: ${error.message}` }));
      return;
    }
    if (asked !== this.asked) return; // a later query is on its way
    const rows = data.results.map((hit) => h(
      "li",
      { class: "search-hit" },
      h("a", { href: `/c/${hit.conversation}/#turn-${hit.turn}` },
        h("span", { class: "search-title", text: hit.title || "New chat" }),
        h("span", { class: "search-snippet" }, highlighted(hit.snippet, hit.highlights))),
    ));
    this.results.replaceChildren(...(rows.length ? rows : [h("li", { class: "search-empty", text: "Nothing found." })]));
  }
}
