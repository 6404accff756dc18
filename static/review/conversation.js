// The admin's conversation page: every stored turn rendered by the chat page's TurnView,
// each headed by what a reviewer triages by (status, model, flags, feedback, its own page).
import { h } from "../chat/dom.js";
import { TurnView } from "../chat/turn.js";

function feedbackLine(feedback) {
  if (!feedback) return null;
  // Words, not emoji: a machine without an emoji font showed empty boxes.
  const mark = feedback.rating === "up" ? "Rated up" : "Rated down";
  return h("span", { class: `review-feedback review-feedback-${feedback.rating}`, text: feedback.comment ? `${mark}: ${feedback.comment}` : mark });
}

function flagLine(turn) {
  if (turn.flagged) return h("span", { class: "review-flag", text: `⚑ ${turn.categories.join(", ") || "flagged"}` });
  if (turn.moderation_status === "error") return h("span", { class: "review-flag review-flag-error", text: "unchecked" });
  return null;
}

function turnHead(turn, index) {
  const when = new Date(turn.created_at).toLocaleString();
  return h(
    "header",
    { class: "review-turn-head" },
    h("a", { href: turn.admin_url, text: `Turn ${index + 1}` }),
    h("span", { class: "quiet-line", text: ` · ${when} · ${turn.model} · ${turn.status} ` }),
    flagLine(turn),
    feedbackLine(turn.feedback),
    turn.on_path === false ? h("span", { class: "review-branch", text: "another version (not on the path the user sees)" }) : null,
  );
}

function main(root) {
  const turns = JSON.parse(document.getElementById("conversation-transcript").textContent);
  const transcript = root.querySelector("[data-transcript]");
  const views = turns.map((turn, index) => {
    const view = new TurnView({ id: turn.id, input: turn.input, attachments: turn.attachments });
    view.loadTurn(turn);
    const branch = turn.on_path === false ? " review-turn-off-path" : "";
    return h("div", { class: `review-turn${branch}`, "data-turn-id": turn.id }, turnHead(turn, index), view.el);
  });
  transcript.replaceChildren(...(views.length ? views : [h("p", { class: "quiet-line", text: "No turns yet." })]));
  root.dataset.ready = "true";
}

const root = document.getElementById("conversation-review");
if (root) main(root);
