// The composer's tool toggles: what GET /api/tools offers, on by default as the catalogue
// says, and for an existing conversation as its last turn had them (remembered per
// conversation by the server: each turn stores its tool names).
import { api } from "./api.js";
import { h } from "./dom.js";

export class ToolToggles {
  /** `forConversation`: an existing conversation's page, which shows the toggles only once
   * it knows the conversation's last choice (`remember`), never the defaults first. */
  constructor(container, { forConversation = false } = {}) {
    this.container = container;
    this.tools = [];
    this.remembered = null;
    this.settled = !forConversation;
    this.loaded = this.#load();
  }

  async #load() {
    try {
      this.tools = (await api("GET", "/api/tools")).tools || [];
    } catch {
      this.tools = [];
    }
    if (this.settled) this.#render();
  }

  /** Use the tools a conversation's last turn had (not a list: the defaults). */
  async remember(names) {
    if (Array.isArray(names)) this.remembered = names;
    this.settled = true;
    await this.loaded;
    this.#render();
  }

  /** A preset chosen for a new conversation: its default tools on, the rest off (a preset
   *  that names none, or none chosen: the catalogue's defaults, as the server would use). */
  async usePreset(preset) {
    this.remembered = preset?.tools?.length ? preset.tools : null;
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
