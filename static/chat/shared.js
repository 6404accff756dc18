// A shared conversation: the stored turns, rendered by the chat renderer; no composer and
// no socket (a turn still streaming shows as it was when the page was opened).
import { TurnView } from "./turn.js";

const turns = JSON.parse(document.getElementById("shared-turns").textContent);
const transcript = document.getElementById("transcript");
for (const turn of turns) {
  const view = new TurnView({ id: turn.id, input: turn.input });
  transcript.append(view.el);
  view.loadTurn(turn);
}
