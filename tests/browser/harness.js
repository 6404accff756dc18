// Test-only page glue: feeds recorded events through the real accumulator and views.
import { renderMarkdown } from "/static/chat/markdown.js";
import { TurnView } from "/static/chat/turn.js";

const transcript = document.getElementById("transcript");
const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
const squash = (text) => text.replace(/\s+/g, " ").trim();

function newView(input) {
  const view = new TurnView({ id: `t${transcript.children.length}`, input, onRetry: (text) => { window.retried = text; } });
  transcript.append(view.el);
  return view;
}

window.harness = {
  /** Feed events `perFrame` at a time, one batch per animation frame, then relay.turn.done. */
  async feed(events, { perFrame = 8, done = "completed", input = "question" } = {}) {
    const view = newView(input);
    let seq = 0;
    for (let i = 0; i < events.length; i += perFrame) {
      view.applyEnvelopes(events.slice(i, i + perFrame).map((event) => ({ seq: seq++, event })));
      await nextFrame();
    }
    if (done) view.applyEnvelopes([{ seq: seq++, event: { type: "relay.turn.done", status: done } }]);
    view.flush();
    window.lastView = view;
    return view.el.dataset.turnId;
  },
  outputText: () => window.lastView.state.outputText(),
  /** The text shown for the messages of the last turn, whitespace squashed. */
  shownText() {
    const parts = window.lastView.el.querySelectorAll(".msg .msg-text");
    return squash([...parts].map((el) => el.textContent).join(" "));
  },
  /** The text a one-shot render of `markdown` shows, whitespace squashed. */
  oneShotText(markdown) {
    const el = document.createElement("div");
    renderMarkdown(el, markdown);
    return squash(el.textContent);
  },
  loadTurn(turn) {
    const view = newView(turn.input || "");
    view.loadTurn(turn);
    window.lastView = view;
  },
};
document.body.dataset.ready = "true";

/** A WebSocket stand-in the tests drive by hand: open, deliver frames, close. */
class FakeSocket {
  static all = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.closedWith = null;
    this.sent = [];
    FakeSocket.all.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close(code) {
    this.readyState = 3;
    this.closedWith = code ?? 1000;
  }

  open() {
    this.readyState = 1;
    this.onopen?.();
  }

  deliver(frame) {
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  serverClose(code) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

window.streams = {
  sockets: FakeSocket.all,
  /** Start a TurnStream on fake sockets; what it hands on is kept in window.streams.log. */
  async start(options = {}) {
    const { TurnStream } = await import("/static/chat/stream.js");
    this.received = [];
    this.states = [];
    this.stream = new TurnStream({
      path: "/ws/turns/t1/",
      WebSocketImpl: FakeSocket,
      baseDelayMs: 20,
      maxDelayMs: 100,
      ...options,
      onEnvelopes: (envelopes) => this.received.push(...envelopes),
      onState: (state, error) => this.states.push(error ? `${state}: ${error}` : state),
    });
    this.stream.start();
  },
  last: () => FakeSocket.all[FakeSocket.all.length - 1],
  seqs() {
    return this.received.filter((e) => typeof e.seq === "number").map((e) => e.seq);
  },
};
