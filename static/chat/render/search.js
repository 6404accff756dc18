// File search and web search cards: status, the queries, and what was found.
import { h, setText } from "../dom.js";
import { safeHref } from "../sanitize.js";
import { createCard } from "./card.js";

const MAX_SNIPPET_CHARS = 300;

function listOf(className, label) {
  const heading = h("div", { class: "card-label", text: label, hidden: true });
  const list = h("ul", { class: className, hidden: true });
  let signature = "";
  return {
    nodes: [heading, list],
    set(entries, render) {
      const next = JSON.stringify(entries);
      if (next === signature) return;
      signature = next;
      list.replaceChildren(...entries.map((entry) => h("li", null, render(entry))));
      heading.hidden = list.hidden = entries.length === 0;
    },
  };
}

function link(url, label) {
  const href = safeHref(url);
  return href
    ? h("a", { href, target: "_blank", rel: "noopener noreferrer", text: label || url })
    : h("span", { text: label || url || "" });
}

export function createFileSearchView() {
  const card = createCard("file-search", "File search");
  const queries = listOf("queries", "Queries");
  const results = listOf("results", "Results");
  card.body.append(...queries.nodes, ...results.nodes);
  return {
    el: card.el,
    update(item) {
      card.setStatus(item.status);
      const qs = Array.isArray(item.queries) ? item.queries.map(String) : [];
      card.setTitle(qs[0] || "");
      queries.set(qs, (q) => q);
      const found = Array.isArray(item.results) ? item.results : [];
      results.set(found, (r) => [
        h("span", { class: "result-name", text: r.filename || r.file_id || "file" }),
        typeof r.score === "number" ? h("span", { class: "result-score", text: ` ${r.score.toFixed(2)}` }) : null,
        r.text ? h("div", { class: "result-text", text: String(r.text).slice(0, MAX_SNIPPET_CHARS) }) : null,
      ]);
      return false;
    },
  };
}

export function createWebSearchView() {
  const card = createCard("web-search", "Web search");
  const detail = h("p", { class: "card-detail" });
  const sources = listOf("sources", "Sources");
  card.body.append(detail, ...sources.nodes);
  return {
    el: card.el,
    update(item) {
      card.setStatus(item.status);
      const action = item.action || {};
      const queries = Array.isArray(action.queries) && action.queries.length ? action.queries : [action.query].filter(Boolean);
      card.setTitle(queries.join(" · ") || action.url || "");
      if (action.type === "open_page") setText(detail, action.url ? `Opened ${action.url}` : "Opened a page");
      else if (action.type === "find") setText(detail, `Looked for “${action.pattern || ""}” in ${action.url || "a page"}`);
      else setText(detail, "");
      detail.hidden = !detail.textContent;
      const found = Array.isArray(action.sources) ? action.sources.filter((s) => s && s.url) : [];
      sources.set(found, (s) => link(s.url, s.title));
      return false;
    },
  };
}
