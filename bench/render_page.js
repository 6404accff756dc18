// Benchmark page: streams deltas into the real TurnView at a fixed rate, from a timer, and
// records main-thread time per animation frame.
import { TurnView } from "/static/chat/turn.js";

const transcript = document.getElementById("transcript");

function percentile(values, p) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Per frame: from the first rAF callback to a message posted from it, which runs once the
 *  frame's style, layout and paint are done: the main-thread time that frame cost. */
function frameMeter() {
  const frames = [];
  const channel = new MessageChannel();
  let start = 0;
  let running = true;
  channel.port1.onmessage = () => frames.push(performance.now() - start);
  const tick = () => {
    if (!running) return;
    start = performance.now();
    channel.port2.postMessage(null);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return { frames, stop: () => { running = false; } };
}

window.bench = {
  /** Feed `deltas` at `rate` per second (times `speed`); resolves with the measurements. */
  run(deltas, { rate = 200, speed = 1 } = {}) {
    transcript.replaceChildren();
    const view = new TurnView({ id: "bench", input: "Write a long answer." });
    transcript.append(view.el);
    const renders = [];
    const render = view.render.bind(view);
    view.render = () => {
      const t = performance.now();
      render();
      renders.push(performance.now() - t);
    };
    view.onRendered = () => { transcript.scrollTop = transcript.scrollHeight; };
    const longTasks = [];
    const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
    observer.observe({ type: "longtask" });
    let seq = 0;
    const send = (event) => view.applyEnvelopes([{ seq: seq++, event }]);
    send({ type: "relay.request.started" });
    send({ type: "response.created", response: { status: "in_progress", model: "bench" } });
    send({ type: "response.output_item.added", output_index: 0, item: { type: "message", role: "assistant", status: "in_progress", content: [] } });
    send({ type: "response.content_part.added", output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
    const meter = frameMeter();
    const began = performance.now();
    let sent = 0;
    return new Promise((resolve) => {
      const pump = () => {
        const due = Math.min(deltas.length, Math.floor(((performance.now() - began) / 1000) * rate * speed));
        const batch = [];
        for (; sent < due; sent++) {
          batch.push({ seq: seq++, event: { type: "response.output_text.delta", output_index: 0, content_index: 0, delta: deltas[sent] } });
        }
        if (batch.length) view.applyEnvelopes(batch);
        if (sent < deltas.length) {
          setTimeout(pump, 1000 / (rate * speed));
          return;
        }
        const streamed = performance.now() - began;
        send({ type: "response.output_item.done", output_index: 0, item: { type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: deltas.join(""), annotations: [] }] } });
        send({ type: "relay.turn.done", status: "completed" });
        const finishStart = performance.now();
        view.flush();
        const finishMs = performance.now() - finishStart;
        requestAnimationFrame(() => setTimeout(() => {
          meter.stop();
          observer.disconnect();
          resolve({
            deltas: deltas.length,
            streamed_ms: Math.round(streamed),
            frames: meter.frames.length,
            frame_p50_ms: percentile(meter.frames, 50),
            frame_p95_ms: percentile(meter.frames, 95),
            frame_max_ms: Math.max(...meter.frames),
            render_p95_ms: percentile(renders, 95),
            render_total_ms: renders.reduce((a, b) => a + b, 0),
            finish_ms: finishMs,
            long_tasks: longTasks.length,
            long_task_max_ms: longTasks.length ? Math.max(...longTasks) : 0,
            text_ok: view.state.outputText() === deltas.join(""),
            chunks: transcript.querySelectorAll(".md-chunk").length,
          });
        }, 0));
      };
      pump();
    });
  },
};
document.body.dataset.ready = "true";
