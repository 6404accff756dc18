// The message box: Enter sends, Shift+Enter starts a new line; Stop while a turn streams;
// the model picker.
import { api } from "./api.js";
import { h } from "./dom.js";

const MODEL_KEY = "chat.model";

export class Composer {
  constructor({ form, textarea, sendButton, stopButton, modelSelect, effortSelect, instructions, attachments, errorEl, onSend, onStop, onIdle, toolToggles = null }) {
    Object.assign(this, { form, textarea, sendButton, stopButton, modelSelect, effortSelect, instructions, attachments, errorEl, onSend, onStop, onIdle, toolToggles });
    this.reasoning = new Set();
    this.busy = false;
    this.sending = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        this.#submit();
      }
    });
    textarea.addEventListener("input", () => this.#grow());
    stopButton.addEventListener("click", () => this.onStop());
    modelSelect.addEventListener("change", () => {
      localStorage.setItem(MODEL_KEY, modelSelect.value);
      this.#showEffort();
    });
    this.#refresh(); // the page serves Send disabled until this script is ready
  }

  async loadModels() {
    try {
      const data = await api("GET", "/api/models");
      const entries = (data.models || []).map((m) => (typeof m === "string" ? { id: m } : m)).filter((m) => m.id);
      const models = entries.map((m) => m.id);
      this.reasoning = new Set(entries.filter((m) => m.reasoning).map((m) => m.id));
      const saved = localStorage.getItem(MODEL_KEY);
      const chosen = models.includes(saved) ? saved : data.default || models[0];
      this.modelSelect.replaceChildren(...entries.map((m) => h("option", { value: m.id, text: m.label || m.id, selected: m.id === chosen })));
      this.modelSelect.closest(".model-picker").hidden = models.length < 2;
      this.#showEffort();
    } catch {
      this.modelSelect.closest(".model-picker").hidden = true;
    }
  }

  /** The tool names chosen for the next turn (undefined: the server's defaults). */
  get tools() {
    return this.toolToggles?.names;
  }

  rememberTools(names) {
    this.toolToggles?.remember(names);
  }

  get model() {
    return this.modelSelect.value || undefined;
  }

  /** What the conversation runs with: instructions and, for reasoning models, the effort. */
  get options() {
    const effort = this.reasoning.has(this.model) ? this.effortSelect.value : "";
    return { instructions: this.instructions.value.trim(), reasoning_effort: effort || null };
  }

  /** Presets for a new conversation: choosing one fills model, instructions, effort and the
   *  tool toggles. */
  async loadPresets(select, isNew) {
    this.presetSelect = select;
    let presets = [];
    try {
      presets = (await api("GET", "/api/presets")).presets || [];
    } catch {
      presets = [];
    }
    this.presets = new Map(presets.map((p) => [String(p.id), p]));
    select.append(...presets.map((p) => h("option", { value: p.id, text: p.name, title: p.description || "" })));
    select.closest(".preset-picker").hidden = !presets.length || !isNew;
    select.addEventListener("change", () => {
      const preset = this.presets.get(select.value);
      if (preset) this.setOptions(preset);
      this.toolToggles?.usePreset(preset || null);
    });
  }

  /** The preset chosen for a new conversation, or null. */
  get preset() {
    const value = this.presetSelect?.value;
    return value && !this.presetSelect.closest(".preset-picker").hidden ? Number(value) : null;
  }

  /** A loaded conversation's settings go back into the controls. */
  setOptions(conversation) {
    this.instructions.value = conversation.instructions || "";
    this.effortSelect.value = conversation.reasoning_effort || "";
    if (conversation.model && [...this.modelSelect.options].some((o) => o.value === conversation.model)) {
      this.modelSelect.value = conversation.model;
    }
    this.#showEffort();
  }

  #showEffort() {
    this.effortSelect.closest(".effort-picker").hidden = !this.reasoning.has(this.model);
  }

  /** While a turn streams: Stop instead of Send (typing the next message stays possible). */
  setBusy(busy) {
    this.busy = busy;
    this.stopButton.hidden = !busy;
    this.sendButton.hidden = busy;
    this.stopButton.disabled = false;
    this.#refresh();
    if (!busy) this.onIdle?.(); // a turn ended: what is left of the budget changed
  }

  stopping() {
    this.stopButton.disabled = true;
  }

  showError(message) {
    this.errorEl.textContent = message || "";
    this.errorEl.hidden = !message;
  }

  focus() {
    this.textarea.focus();
  }

  #refresh() {
    this.sendButton.disabled = this.sending;
  }

  async #submit() {
    const text = this.textarea.value.trim();
    if (!text || this.busy || this.sending || this.attachments.busy) return;
    this.sending = true;
    this.#refresh();
    this.showError("");
    try {
      const sent = await this.onSend(text, this.model, this.attachments.files);
      if (sent) {
        this.attachments.take();
        this.textarea.value = "";
        this.#grow();
      }
    } finally {
      this.sending = false;
      this.#refresh();
    }
  }

  #grow() {
    this.textarea.style.height = "auto";
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, window.innerHeight * 0.4)}px`;
  }
}
