// One turn on the page: the user's message, the assistant's output items as live views,
// notices with Retry, and the status line. Events are folded at once; the DOM is updated
// at most once per animation frame.
import { TURN, TurnState } from "./accumulator.js";
import { attachmentChips } from "./attachments.js";
import { h, setText } from "./dom.js";
import { createItemView } from "./render/index.js";
import { noticeText, statusDetails, statusText } from "./status.js";

export class TurnView {
  constructor({ id = null, input = "", attachments = [], onRetry = null, onRendered = null } = {}) {
    this.id = id;
    this.input = input;
    this.attachments = attachments;
    this.onRetry = onRetry;
    this.onRendered = onRendered;
    this.state = new TurnState();
    this.views = new Map();
    this.dirty = new Set();
    this.turnDirty = true;
    this.finished = false;
    this.frame = 0;
    this.connection = null;
    this.connectionError = null;
    this.#build();
  }

  #build() {
    this.items = h("div", { class: "turn-items" });
    this.errorsEl = h("ul", { class: "turn-errors", hidden: true });
    this.unknownEl = h("p", { class: "quiet-line turn-unknown", hidden: true });
    this.noticeText = h("p", { class: "notice-text" });
    this.retryButton = h("button", { type: "button", class: "retry", text: "Retry" });
    this.retryButton.addEventListener("click", () => this.onRetry?.(this.input, this));
    this.notice = h(
      "div",
      { class: "notice", role: "alert", hidden: true },
      h("div", { class: "notice-body" }, this.noticeText, this.errorsEl),
      this.retryButton,
    );
    this.statusEl = h("p", { class: "turn-status" });
    this.assistant = h("div", { class: "turn-assistant" }, this.items, this.unknownEl, this.notice, this.statusEl);
    this.userEl = h(
      "div",
      { class: "turn-user" },
      this.attachments.length ? h("div", { class: "turn-attachments" }, attachmentChips(this.attachments, { link: true })) : null,
      h("p", { class: "bubble", text: this.input }),
    );
    this.el = h("article", { class: "turn", "data-turn-id": this.id }, this.userEl, this.assistant);
  }

  setId(id) {
    this.id = id;
    this.el.dataset.turnId = id;
  }

  /** Fold a batch of {seq, event} envelopes and schedule a render. */
  applyEnvelopes(envelopes) {
    for (const envelope of envelopes) {
      const key = this.state.apply(envelope?.event);
      if (key === TURN) this.turnDirty = true;
      else if (key) this.dirty.add(key);
    }
    this.invalidate();
  }

  /** Show a finished (or not yet started) turn from the HTTP API, all at once. */
  loadTurn(turn) {
    this.state.loadTurn(turn);
    for (const key of this.state.order) this.dirty.add(key);
    this.turnDirty = true;
    this.flush();
  }

  setConnection(connection, error = null) {
    this.connection = connection;
    if (error) this.connectionError = error;
    this.turnDirty = true;
    this.invalidate();
  }

  get done() {
    return this.state.done;
  }

  invalidate() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Render now, without waiting for a frame. */
  flush() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.render();
  }

  render() {
    for (const key of [...this.dirty]) {
      const item = this.state.items.get(key);
      let view = this.views.get(key);
      if (!view) {
        view = createItemView(item);
        this.views.set(key, view);
        this.items.append(view.el);
      }
      if (!view.update(item)) this.dirty.delete(key);
    }
    if (this.state.done && !this.finished) {
      this.finished = true;
      this.onFinished?.(this);
      for (const view of this.views.values()) view.finish?.();
      this.dirty.clear();
    }
    if (this.turnDirty) this.#renderTurn();
    if (this.dirty.size) this.invalidate();
    this.onRendered?.(this);
  }

  #renderTurn() {
    this.turnDirty = false;
    const state = this.state;
    const messages = [...new Set(state.errors.map((e) => e.message))];
    if (this.connectionError) messages.push(this.connectionError);
    this.errorsEl.replaceChildren(...messages.map((m) => h("li", { text: m })));
    this.errorsEl.hidden = messages.length === 0;
    const unknown = [...state.unknown].map(([type, n]) => (n > 1 ? `${type} ×${n}` : type));
    setText(this.unknownEl, unknown.length ? `Also received: ${unknown.join(", ")}` : "");
    this.unknownEl.hidden = unknown.length === 0;
    // Errors show at once (the relay may still recover); Retry once the turn has ended.
    const ended = noticeText(state) || (this.connectionError ? "This answer cannot be shown." : null);
    setText(this.noticeText, ended || "");
    this.noticeText.hidden = !ended;
    this.notice.hidden = !ended && messages.length === 0;
    this.notice.classList.toggle("notice-warning", !ended || state.status === "cancelled");
    this.retryButton.hidden = !this.onRetry || !ended;
    // A turn waiting on approvals holds no worker: nothing streams until someone answers.
    const waiting = state.status === "waiting" && !state.done;
    const busy = !state.done && !this.connectionError && !waiting;
    this.el.classList.toggle("streaming", busy);
    this.el.classList.toggle("waiting", waiting);
    this.assistant.setAttribute("aria-busy", String(busy));
    const status = statusText(state.status, busy ? this.connection : null);
    setText(this.statusEl, [status, ...statusDetails(state)].join(" · "));
    this.statusEl.dataset.status = state.status;
  }
}
