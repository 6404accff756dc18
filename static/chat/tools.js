// The composer's tool toggles: what GET /api/tools offers, on by default as the catalogue
// says, and for an existing conversation as its last turn had them (remembered per
// conversation by the server: each turn stores its tool names).
import { api } from "./api.js";
import { h } from "./dom.js";

export class ToolToggles {
  constructor(container) {
    this.container = container;
    this.tools = [];
    this.remembered = null;
    this.loaded = this.#load();
  }

  async #load() {
    try {
      this.tools = (await api("GET", "/api/tools")).tools || [];
    } catch {
      this.tools = [];
    }
    this.#render();
  }

  /** Use the tools a conversation's last turn had. */
  async remember(names) {
    if (!Array.isArray(names)) return;
    this.remembered = names;
    await this.loaded;
    this.#render();
  }

  /** The chosen names, or undefined when nothing is offered (the server uses its defaults). */
  get names() {
    if (!this.tools.length) return undefined;
    return [...this.container.querySelectorAll("input[type=checkbox]")].filter((box) => box.checked).map((box) => box.value);
  }

  #render() {
    const on = (tool) => (this.remembered ? this.remembered.includes(tool.name) : tool.default);
    const toggles = this.tools.map((tool) =>
      h("label", { class: "tool-toggle", title: tool.kind }, [
        h("input", { type: "checkbox", value: tool.name, checked: on(tool), name: "tools" }),
        h("span", { text: tool.label }),
      ]),
    );
    this.container.replaceChildren(...toggles);
    this.container.hidden = !toggles.length;
  }
}
