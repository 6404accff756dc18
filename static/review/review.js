// The admin's turn page: the transcript rendered from the stored log by the chat page's own
// TurnView, and the event timeline.
import { TurnView } from "../chat/turn.js";
import { envelopesOf, loadLog } from "./log.js";
import { Timeline } from "./timeline.js";

async function main(root) {
  const transcript = root.querySelector("[data-transcript]");
  let log;
  try {
    log = await loadLog(root.dataset.logUrl);
  } catch (error) {
    transcript.textContent = error.message;
    return;
  }
  const view = new TurnView({ id: log.turn.id, input: log.turn.input });
  view.applyEnvelopes(envelopesOf(log.events));
  view.flush();
  transcript.replaceChildren(view.el);
  new Timeline(root.querySelector("[data-timeline]"), log.events);
  root.dataset.ready = "true";
}

const root = document.getElementById("review");
if (root) main(root);
