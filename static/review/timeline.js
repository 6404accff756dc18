// The event timeline of a stored log: seq, type, +ms from the first event, size; a type
// filter; the raw JSON of the chosen event. Rows are added a page at a time, so a log of
// tens of thousands of events stays quick to open.
import { h, setText } from "../chat/dom.js";

const PAGE = 500;

export class Timeline {
  constructor(root, entries) {
    this.root = root;
    this.entries = entries;
    this.start = entries.length ? entries[0].received_ms : 0;
    this.shown = [];
    this.selected = null;
    this.#build();
    this.filter("");
  }

  #build() {
    const counts = new Map();
    for (const entry of this.entries) counts.set(entry.type, (counts.get(entry.type) || 0) + 1);
    const options = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([type, n]) => h("option", { value: type, text: `${type} (${n})` }));
    this.select = h("select", { "data-type-filter": true }, h("option", { value: "", text: `all types (${this.entries.length})` }), options);
    this.select.addEventListener("change", () => this.filter(this.select.value));
    this.count = h("span", { class: "review-count" });
    this.body = h("tbody");
    this.more = h("button", { type: "button", class: "button", text: "Show more", hidden: true });
    this.more.addEventListener("click", () => this.#addRows());
    this.raw = h("pre", { class: "review-pre review-raw", "data-raw": true, text: "Choose an event to see its JSON." });
    const head = h("tr", null, ["seq", "type", "+ms", "size"].map((name) => h("th", { scope: "col", text: name })));
    const table = h("table", { class: "review-events" }, h("thead", null, head), this.body);
    this.root.replaceChildren(
      h("p", { class: "review-filter" }, h("label", null, "Type ", this.select), " ", this.count),
      h("div", { class: "review-split" }, h("div", { class: "review-table" }, table, this.more), this.raw),
    );
  }

  filter(type) {
    this.shown = type ? this.entries.filter((entry) => entry.type === type) : this.entries;
    this.body.replaceChildren();
    setText(this.count, `${this.shown.length} events`);
    this.#addRows();
  }

  #addRows() {
    const from = this.body.childElementCount;
    const rows = this.shown.slice(from, from + PAGE).map((entry) => this.#row(entry));
    this.body.append(...rows);
    this.more.hidden = this.body.childElementCount >= this.shown.length;
  }

  #row(entry) {
    const button = h("button", { type: "button", class: "review-seq", text: String(entry.seq), "aria-label": `Show event ${entry.seq}` });
    const row = h(
      "tr",
      { "data-seq": entry.seq },
      h("td", null, button),
      h("td", { class: "review-type", text: entry.type }),
      h("td", { class: "review-num", text: `+${entry.received_ms - this.start}` }),
      h("td", { class: "review-num", text: String(entry.size) }),
    );
    button.addEventListener("click", () => this.show(entry, row));
    return row;
  }

  show(entry, row) {
    this.selected?.classList.remove("selected");
    this.selected = row;
    row.classList.add("selected");
    setText(this.raw, JSON.stringify(entry.event, null, 2));
  }
}
