// The message box: Enter sends, Shift+Enter starts a new line; Stop while a turn streams;
// the model picker.
import { api } from "./api.js";
import { h } from "./dom.js";

const MODEL_KEY = "chat.model";

export class Composer {
  constructor({ form, textarea, sendButton, stopButton, modelSelect, errorEl, onSend, onStop, onIdle }) {
    Object.assign(this, { form, textarea, sendButton, stopButton, modelSelect, errorEl, onSend, onStop, onIdle });
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
    modelSelect.addEventListener("change", () => localStorage.setItem(MODEL_KEY, modelSelect.value));
    this.#refresh(); // the page serves Send disabled until this script is ready
  }

  async loadModels() {
    try {
      const data = await api("GET", "/api/models");
      const models = (data.models || []).map((m) => (typeof m === "string" ? m : m.id)).filter(Boolean);
      const saved = localStorage.getItem(MODEL_KEY);
      const chosen = models.includes(saved) ? saved : data.default || models[0];
      this.modelSelect.replaceChildren(...models.map((m) => h("option", { value: m, text: m, selected: m === chosen })));
      this.modelSelect.closest(".model-picker").hidden = models.length < 2;
    } catch {
      this.modelSelect.closest(".model-picker").hidden = true;
    }
  }

  get model() {
    return this.modelSelect.value || undefined;
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
    if (!text || this.busy || this.sending) return;
    this.sending = true;
    this.#refresh();
    this.showError("");
    try {
      const sent = await this.onSend(text, this.model);
      if (sent) {
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
