// The list of the user's conversations: open, rename (inline), delete.
import { api } from "./api.js";
import { h } from "./dom.js";

export const UNTITLED = "New chat";

export class Sidebar {
  constructor({ list, status, currentId = null, onDeleted = () => {}, onRenamed = () => {} }) {
    this.list = list;
    this.status = status;
    this.currentId = currentId;
    this.onDeleted = onDeleted;
    this.onRenamed = onRenamed;
    this.rows = new Map(); // id → <li>
  }

  async load() {
    this.list.replaceChildren();
    this.rows.clear();
    this.next = null;
    await this.#page("/api/conversations?limit=50");
    // More as the list scrolls near its end.
    this.list.addEventListener("scroll", () => {
      const list = this.list;
      if (this.next && list.scrollHeight - list.scrollTop - list.clientHeight < 200) this.loadMore();
    }, { passive: true });
  }

  async loadMore() {
    if (!this.next || this.loading) return;
    await this.#page(`/api/conversations?limit=50&cursor=${encodeURIComponent(this.next)}`);
  }

  async #page(path) {
    this.loading = true;
    try {
      const data = await api("GET", path);
      for (const conversation of data.results || []) this.#append(conversation);
      this.next = data.next;
      this.#say(this.rows.size ? "" : "No conversations yet.");
    } catch (error) {
      this.#say(`Could not load conversations: ${error.message}`);
    } finally {
      this.loading = false;
    }
  }

  /** Put a new conversation at the top and mark it current. */
  add(conversation) {
    this.currentId = conversation.id;
    this.#append(conversation, true);
    this.#say("");
    this.#markCurrent();
  }

  #say(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  #append(conversation, first = false) {
    const row = this.#row(conversation);
    const old = this.rows.get(conversation.id);
    if (old) old.replaceWith(row);
    else if (first) this.list.prepend(row);
    else this.list.append(row);
    this.rows.set(conversation.id, row);
    this.#markCurrent();
    return row;
  }

  #row(conversation) {
    const title = conversation.title || UNTITLED;
    const link = h("a", { class: "conv-link", href: `/c/${conversation.id}/`, text: title, title });
    if (conversation.preset_name) link.append(h("span", { class: "conv-preset", text: conversation.preset_name }));
    const rename = h("button", { type: "button", class: "icon-button rename", "aria-label": `Rename “${title}”`, title: "Rename", text: "✎" });
    const remove = h("button", { type: "button", class: "icon-button delete", "aria-label": `Delete “${title}”`, title: "Delete", text: "✕" });
    const row = h("li", { class: "conv", "data-id": conversation.id }, link, rename, remove);
    rename.addEventListener("click", () => this.#startRename(conversation, row));
    remove.addEventListener("click", () => this.#delete(conversation, row));
    return row;
  }

  #markCurrent() {
    for (const [id, row] of this.rows) {
      const link = row.querySelector(".conv-link");
      if (id === this.currentId) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  #startRename(conversation, row) {
    const input = h("input", { type: "text", class: "rename-input", value: conversation.title || "", "aria-label": "New title", maxlength: 200 });
    const form = h("form", { class: "rename-form" }, input);
    row.replaceChildren(form);
    input.focus();
    input.select();
    let settled = false;
    const finish = async (save) => {
      if (settled) return;
      settled = true;
      const title = input.value.trim();
      if (save && title && title !== conversation.title) {
        try {
          await api("PATCH", `/api/conversations/${conversation.id}`, { title });
          conversation.title = title;
          this.onRenamed(conversation);
        } catch (error) {
          this.#say(`Could not rename: ${error.message}`);
        }
      }
      this.#append(conversation).querySelector(".rename").focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      finish(true);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
  }

  async #delete(conversation, row) {
    const title = conversation.title || UNTITLED;
    if (!window.confirm(`Delete “${title}”? This cannot be undone.`)) return;
    try {
      await api("DELETE", `/api/conversations/${conversation.id}`);
    } catch (error) {
      this.#say(`Could not delete: ${error.message}`);
      return;
    }
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    this.rows.delete(conversation.id);
    if (!this.rows.size) this.#say("No conversations yet.");
    (next?.querySelector(".conv-link") || this.list.closest("nav")?.querySelector("a, button"))?.focus();
    this.onDeleted(conversation.id);
  }
}
