// The WebSocket client for one turn's event log. Frames are JSON arrays of {seq, event}
// envelopes; anything at or below the last seq seen is dropped, so a resumed connection
// (?after=lastSeq) never shows an event twice. It reconnects with backoff until
// relay.turn.done, reconnects when the stream stalls, and checks itself again when the
// page becomes visible or the network comes back.
//
// It acknowledges what it has rendered ({"ack": lastSeq}): at the latest ack_delay_ms after a
// frame, and at once when ack_bytes arrived since the last acknowledgement. The server keeps
// at most a window of unacknowledged bytes in flight per socket (streaming/live/consumer.py)
// and closes a socket whose page stopped acknowledging (close_too_slow); the page resumes.

import { SOCKET } from "./constants.js";

// Frames the page cannot read, one after another with nothing new between them, before it
// stops: the server would only send the same frame again on every reconnection.
const MAX_BAD_FRAMES = 3;
const BAD_FRAMES = "This answer's stream sent data the page cannot read. Reload the page to try again.";

const FATAL_CLOSE = {
  [SOCKET.close_bad_request]: "The page asked for this answer in a way the server does not accept.",
  [SOCKET.close_not_allowed]: "You are not allowed to see this answer.",
  [SOCKET.close_not_found]: "This answer no longer exists.",
};

export class TurnStream {
  constructor({
    path,
    after = -1,
    onEnvelopes,
    onState = () => {},
    stallMs = 25_000,
    baseDelayMs = 500,
    maxDelayMs = 15_000,
    WebSocketImpl = window.WebSocket,
  }) {
    this.path = path;
    this.lastSeq = after;
    this.onEnvelopes = onEnvelopes;
    this.onState = onState;
    this.stallMs = stallMs;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.WebSocketImpl = WebSocketImpl;
    this.ws = null;
    this.attempts = 0;
    this.badFrames = 0;
    this.done = false;
    this.stopped = false;
    this.lastActivity = 0;
    this.retryTimer = 0;
    this.watchdog = 0;
    this.ackTimer = 0;
    this.unackedBytes = 0;
    this.reconcile = this.reconcile.bind(this);
  }

  start() {
    document.addEventListener("visibilitychange", this.reconcile);
    window.addEventListener("online", this.reconcile);
    this.watchdog = setInterval(() => this.#checkStall(), Math.max(250, this.stallMs / 4));
    this.#connect();
  }

  /** Stop for good (the turn is over, or the page no longer shows it). */
  stop() {
    this.stopped = true;
    document.removeEventListener("visibilitychange", this.reconcile);
    window.removeEventListener("online", this.reconcile);
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    this.#drop(1000, "done");
  }

  /** Reconnect now if the socket is gone or has been silent too long. */
  reconcile() {
    if (this.stopped || this.done || document.visibilityState === "hidden") return;
    const open = this.ws && this.ws.readyState <= 1;
    if (!open || Date.now() - this.lastActivity > this.stallMs) {
      clearTimeout(this.retryTimer);
      this.attempts = 0;
      this.#drop(4000, "reconnect");
      this.#connect();
    }
  }

  #url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = new URL(this.path, `${scheme}//${window.location.host}`);
    url.searchParams.set("after", String(this.lastSeq));
    return url.href;
  }

  #connect() {
    if (this.stopped || this.done) return;
    this.onState(this.attempts ? "reconnecting" : "connecting");
    const ws = new this.WebSocketImpl(this.#url());
    this.ws = ws;
    this.lastActivity = Date.now();
    ws.onopen = () => {
      this.lastActivity = Date.now();
      this.onState("live");
    };
    ws.onmessage = (message) => this.#receive(message.data);
    ws.onclose = (close) => {
      if (this.ws === ws) this.#closed(close.code);
    };
  }

  #receive(data) {
    this.lastActivity = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      this.#unreadable();
      return;
    }
    const before = this.lastSeq;
    const fresh = [];
    for (const envelope of Array.isArray(frame) ? frame : [frame]) {
      if (!envelope || typeof envelope !== "object" || !envelope.event) continue;
      if (typeof envelope.seq === "number") {
        if (envelope.seq <= this.lastSeq) continue;
        this.lastSeq = envelope.seq;
      }
      fresh.push(envelope);
      if (envelope.event.type === "relay.turn.done") this.done = true;
    }
    if (this.lastSeq > before) {
      // Only progress resets the backoff: a socket that only replays nothing and closes
      // (a turn that ended past what it asked for) counts as a failed attempt, so the page
      // asks over HTTP after a few (conversation.js) instead of reconnecting at full speed.
      this.attempts = 0;
      this.badFrames = 0;
    }
    if (fresh.length) this.onEnvelopes(fresh);
    this.#acknowledge(data.length);
    if (this.done) {
      this.onState("done");
      this.stop();
    }
  }

  /** A frame that is not JSON. What followed it would leave a gap, so the page reconnects
   * after the last seq it has, and gives up, saying so, when that keeps happening. */
  #unreadable() {
    this.badFrames++;
    this.#drop(4000, "unreadable frame");
    if (this.badFrames >= MAX_BAD_FRAMES) {
      this.onState("failed", BAD_FRAMES);
      this.stop();
      return;
    }
    this.#closed(4000);
  }

  /** After a frame is rendered: acknowledge it soon, or now if much is unacknowledged. */
  #acknowledge(size) {
    this.unackedBytes += size;
    if (this.unackedBytes >= SOCKET.ack_bytes) {
      this.#sendAck();
    } else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this.#sendAck(), SOCKET.ack_delay_ms);
    }
  }

  #sendAck() {
    clearTimeout(this.ackTimer);
    this.ackTimer = 0;
    this.unackedBytes = 0;
    const ws = this.ws;
    if (this.done || !ws || ws.readyState !== 1 || this.lastSeq < 0) return;
    ws.send(JSON.stringify({ ack: this.lastSeq }));
  }

  #closed(code) {
    this.ws = null;
    if (this.stopped || this.done) return;
    if (FATAL_CLOSE[code]) {
      this.onState("failed", FATAL_CLOSE[code]);
      this.stop();
      return;
    }
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.attempts);
    this.attempts++;
    this.onState("reconnecting", null, this.attempts);
    this.retryTimer = setTimeout(() => this.#connect(), delay * (0.5 + Math.random() / 2));
  }

  #checkStall() {
    if (!this.ws || this.done || this.stopped) return;
    if (Date.now() - this.lastActivity > this.stallMs) {
      this.#drop(4000, "stalled");
      this.#closed(4000);
    }
  }

  /** Close the current socket and forget it, so its close event changes nothing. */
  #drop(code, reason) {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(code, reason);
    } catch {
      // Closing a socket that never opened may throw; it is gone either way.
    }
  }
}
