// Plays a stored log at its original pace (the gaps between received_ms), or faster.
// Events due at the same moment are handed over as one batch, as the relay would have.

export class Player {
  constructor(entries, { onEnvelopes, onChange = () => {}, now = () => performance.now(), setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (id) => clearTimeout(id) }) {
    Object.assign(this, { entries, onEnvelopes, onChange, now, setTimer, clearTimer });
    this.start = entries.length ? entries[0].received_ms : 0;
    this.total = entries.length ? entries[entries.length - 1].received_ms - this.start : 0;
    this.speed = 1;
    this.reset();
  }

  reset() {
    this.pause();
    this.index = 0;
    this.position = 0; // milliseconds into the log
    this.lastSeq = null;
    this.onChange(this);
  }

  get done() {
    return this.index >= this.entries.length;
  }

  get state() {
    if (this.done) return "done";
    return this.playing ? "playing" : "paused";
  }

  /** Where the replay is now, in milliseconds of the original log. */
  current() {
    if (!this.playing) return this.position;
    return Math.min(this.total, this.anchorLog + (this.now() - this.anchorWall) * this.speed);
  }

  play() {
    if (this.playing || this.done) return;
    this.playing = true;
    this.#anchor(this.position);
    this.#step();
  }

  pause() {
    if (this.playing) this.position = this.current();
    this.playing = false;
    this.clearTimer(this.timer);
    this.timer = 0;
    this.onChange?.(this);
  }

  setSpeed(speed) {
    const position = this.current();
    this.speed = speed;
    if (!this.playing) return;
    this.clearTimer(this.timer);
    this.#anchor(position);
    this.#step();
  }

  /** Hand over everything left, at once. */
  finish() {
    this.pause();
    this.#deliver(Infinity);
    this.position = this.total;
    this.onChange(this);
  }

  #anchor(position) {
    this.anchorLog = position;
    this.anchorWall = this.now();
  }

  #offset(index) {
    return this.entries[index].received_ms - this.start;
  }

  #deliver(upTo) {
    const batch = [];
    while (this.index < this.entries.length && this.#offset(this.index) <= upTo) {
      const entry = this.entries[this.index++];
      batch.push({ seq: entry.seq, event: entry.event });
    }
    if (batch.length) {
      this.lastSeq = batch[batch.length - 1].seq;
      this.onEnvelopes(batch);
    }
  }

  #step() {
    if (!this.playing) return;
    const position = this.current();
    this.#deliver(position);
    this.position = position;
    if (this.done) {
      this.position = this.total;
      this.playing = false;
    } else {
      const wait = (this.#offset(this.index) - position) / this.speed;
      this.timer = this.setTimer(() => this.#step(), Math.max(0, wait));
    }
    this.onChange(this);
  }
}
