// The admin's Replay page: the stored log fed to the chat page's TurnView at the pace it
// was received (or 2×, 10×), with play/pause, restart and skip to the end.
import { TurnView } from "../chat/turn.js";
import { formatMs, loadLog } from "./log.js";
import { Player } from "./player.js";

function controls(root) {
  const button = (action) => root.querySelector(`[data-action="${action}"]`);
  return {
    play: button("play"),
    restart: button("restart"),
    end: button("end"),
    speed: root.querySelector("[data-speed]"),
    progress: root.querySelector("[data-progress]"),
    transcript: root.querySelector("[data-transcript]"),
  };
}

async function main(root) {
  const ui = controls(root);
  let log;
  try {
    log = await loadLog(root.dataset.logUrl);
  } catch (error) {
    ui.progress.textContent = error.message;
    return;
  }
  const last = log.events.length ? log.events[log.events.length - 1].seq : -1;
  let view = null;
  let ticker = 0;
  const fresh = () => {
    view = new TurnView({ id: log.turn.id, input: log.turn.input });
    ui.transcript.replaceChildren(view.el);
  };
  const show = (player) => {
    const seq = player.lastSeq ?? -1;
    ui.progress.textContent = `event ${seq + 1} of ${last + 1} · ${formatMs(player.current())} of ${formatMs(player.total)}`;
    ui.play.textContent = player.playing ? "Pause" : "Play";
    ui.play.disabled = player.done;
    root.dataset.state = player.state;
    root.dataset.seq = String(seq);
    clearInterval(ticker);
    if (player.playing) ticker = setInterval(() => show(player), 250);
  };
  fresh();
  const player = new Player(log.events, { onEnvelopes: (batch) => view.applyEnvelopes(batch), onChange: show });
  ui.play.addEventListener("click", () => (player.playing ? player.pause() : player.play()));
  ui.restart.addEventListener("click", () => {
    player.reset();
    fresh();
    player.play();
  });
  ui.end.addEventListener("click", () => player.finish());
  ui.speed.addEventListener("change", () => player.setSpeed(Number(ui.speed.value) || 1));
  for (const el of [ui.play, ui.restart, ui.end]) el.disabled = false;
  player.setSpeed(Number(ui.speed.value) || 1);
  player.play();
}

const root = document.getElementById("replay");
if (root) main(root);
