// One conversation on the page: loads its history, sends new turns (creating the
// conversation on the first send), streams the running turn, stops, retries and branches.
import { isTerminal } from "./accumulator.js";
import { api } from "./api.js";
import { BranchControls } from "./branches.js";
import { h } from "./dom.js";
import { TurnStream } from "./stream.js";
import { TurnView } from "./turn.js";

const TITLE_CHARS = 60;
const CHECK_AFTER_ATTEMPTS = 3;
const STICK_PX = 48;

function titleFrom(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1)}…` : line;
}

export class Conversation {
  constructor({ id = null, transcript, scroller, composer, sidebar, streamOptions = {} }) {
    Object.assign(this, { id, transcript, scroller, composer, sidebar, streamOptions });
    this.active = null; // {view, stream}
    this.stick = true;
    scroller.addEventListener("scroll", () => {
      this.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < STICK_PX;
    }, { passive: true });
  }

  async load() {
    if (!this.id) {
      this.#showEmpty(true);
      return;
    }
    let data;
    try {
      data = await api("GET", `/api/conversations/${this.id}`);
    } catch (error) {
      this.composer.showError(`Could not load this conversation: ${error.message}`);
      this.composer.rememberTools?.(null);
      return;
    }
    if (data.title) this.setTitle(data.title);
    this.saved = { instructions: data.instructions || "", reasoning_effort: data.reasoning_effort || null };
    this.composer.setOptions(data);
    this.transcript.replaceChildren();
    this.controls = [];
    for (const turn of data.turns || []) {
      const view = this.#addView(turn.id, turn.input, turn.attachments, turn.siblings);
      if (isTerminal(turn.status)) {
        view.loadTurn(turn);
      } else {
        view.state.rememberAnswers(turn.approvals);
        this.#stream(view, turn.ws || `/ws/turns/${turn.id}/`);
      }
      view.controls.showRating(turn.feedback);
    }
    this.#refreshControls();
    const last = (data.turns || []).at(-1);
    this.composer.rememberTools?.(last ? last.tools : null);
    this.#showEmpty(!(data.turns || []).length);
    this.#follow(true);
  }

  /** Send a message; true when it was accepted. */
  async send(text, model, files = []) {
    if (this.active) {
      this.composer.showError("Wait for the current answer, or stop it first.");
      return false;
    }
    try {
      if (!this.id) await this.#create(text);
      await this.#saveOptions();
      const body = model ? { input: text, model } : { input: text };
      if (files.length) body.attachments = files.map((f) => f.id);
      const tools = this.composer.tools;
      if (tools) body.tools = tools;
      const turn = await api("POST", `/api/conversations/${this.id}/turns`, body);
      this.#showEmpty(false);
      const view = this.#addView(turn.id, text, files);
      this.#stream(view, turn.ws || `/ws/turns/${turn.id}/`);
      this.#follow(true);
      return true;
    } catch (error) {
      this.composer.showError(error.message);
      return false;
    }
  }

  setTitle(title) {
    document.title = title;
    const heading = document.querySelector(".chat-title");
    if (heading) heading.textContent = title;
  }

  async stop() {
    if (!this.active) return;
    this.composer.stopping();
    try {
      await api("POST", `/api/turns/${this.active.view.id}/cancel`);
    } catch (error) {
      this.composer.showError(`Could not stop: ${error.message}`);
      this.composer.setBusy(Boolean(this.active));
    }
  }

  /** The composer's instructions and effort, PATCHed when they changed (the next turn's). */
  async #saveOptions() {
    const options = this.composer.options;
    const saved = this.saved || {};
    if (options.instructions === (saved.instructions || "") && options.reasoning_effort === (saved.reasoning_effort ?? null)) return;
    await api("PATCH", `/api/conversations/${this.id}`, options);
    this.saved = options;
  }

  async #create(text) {
    const preset = this.composer.preset;
    const body = preset ? { title: titleFrom(text), preset } : { title: titleFrom(text) };
    const conversation = await api("POST", "/api/conversations", body);
    this.saved = { instructions: conversation.instructions || "", reasoning_effort: conversation.reasoning_effort || null };
    this.composer.presetSelect?.closest(".preset-picker")?.setAttribute("hidden", "");
    this.id = conversation.id;
    window.history.replaceState(null, "", `/c/${conversation.id}/`);
    this.setTitle(conversation.title || titleFrom(text));
    this.sidebar?.add({ title: titleFrom(text), ...conversation });
  }

  #addView(id, input, attachments = [], siblings = []) {
    const view = new TurnView({
      id,
      input,
      attachments,
      onRetry: (text, turnView) => this.#retry(turnView),
      onRendered: () => this.#follow(),
    });
    view.onFinished = () => view.controls?.update();
    view.controls = new BranchControls(view, { siblings, on: this.#branchActions() });
    (this.controls ||= []).push(view.controls);
    this.transcript.append(view.el);
    return view;
  }

  /** What the turns' controls do: a branch request, then the conversation loaded again
   * (the server says which path is active now). Errors show in the composer and reject. */
  #branchActions() {
    const branch = async (path, body) => {
      if (this.active) throw this.#refuse();
      try {
        await api("POST", path, body);
      } catch (error) {
        this.composer.showError(error.message);
        throw error;
      }
      await this.load();
    };
    return {
      edit: (view, text) => branch(`/api/turns/${view.id}/edit`, { input: text }),
      regenerate: (view) => branch(`/api/turns/${view.id}/regenerate`, {}),
      switchTo: (turnId) => branch(`/api/conversations/${this.id}/active`, { turn: turnId }).catch(() => {}),
      feedback: (view, body) => api("POST", `/api/turns/${view.id}/feedback`, body),
    };
  }

  #refuse() {
    const message = "Wait for the current answer, or stop it first.";
    this.composer.showError(message);
    return new Error(message);
  }

  #refreshControls() {
    for (const controls of this.controls || []) controls.update(Boolean(this.active));
  }

  /** Retry a failed or stopped answer at its own place (a new version of it, as Regenerate
   * does), so the conversation does not grow a repeated message at its end. */
  async #retry(view) {
    try {
      await this.#branchActions().regenerate(view);
      this.composer.focus();
    } catch {
      // shown in the composer already
    }
  }

  #stream(view, path) {
    const stream = new TurnStream({
      path,
      after: -1,
      ...this.streamOptions,
      onEnvelopes: (envelopes) => view.applyEnvelopes(envelopes),
      onState: (state, error, attempt) => {
        if (state === "done" || state === "failed") {
          view.setConnection(state, error);
          this.#ended(view);
        } else {
          view.setConnection(state);
          if (state === "reconnecting" && attempt >= CHECK_AFTER_ATTEMPTS) this.#check(view, stream);
        }
      },
    });
    this.active = { view, stream };
    this.composer.setBusy(true);
    this.#refreshControls();
    stream.start();
  }

  /** The socket keeps failing: ask over HTTP whether the turn has ended meanwhile. */
  async #check(view, stream) {
    let turn;
    try {
      turn = await api("GET", `/api/turns/${view.id}`);
    } catch (error) {
      if (error.status === 404 || error.status === 403) {
        stream.stop();
        view.setConnection("failed", "This answer no longer exists.");
        this.#ended(view);
      }
      return;
    }
    if (!isTerminal(turn.status) || view.done || stream.done) return;
    stream.stop();
    const fresh = this.#addView(view.id, turn.input ?? view.input, turn.attachments || []);
    view.el.replaceWith(fresh.el);
    fresh.loadTurn(turn);
    this.#ended(view);
  }

  #ended(view) {
    if (this.active?.view === view) {
      this.active = null;
      this.composer.setBusy(false);
      this.#refreshControls();
    }
  }

  #follow(force = false) {
    if (force) this.stick = true;
    if (this.stick) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  #showEmpty(empty) {
    let hint = this.transcript.querySelector(".empty-state");
    if (empty && !hint) {
      hint = h("div", { class: "empty-state" }, h("h2", { text: "What can I help with?" }), h("p", { text: "Type a message below. Enter sends, Shift+Enter adds a new line." }));
      this.transcript.append(hint);
    } else if (!empty && hint) {
      hint.remove();
    }
  }
}
