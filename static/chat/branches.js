// A turn's controls for working with answers: edit the message in place (Save/Cancel),
// regenerate, `‹ 2/3 ›` between the turns at its place, thumbs up/down with a comment.
// The conversation does the requests; every button is disabled while a turn streams.
import { h } from "./dom.js";

const COMMENT_CHARS = 4000;

export class BranchControls {
  /** `on`: {edit(view, text), regenerate(view), switchTo(turnId), feedback(view, body)}, each
   * a promise that rejects with an error to show. */
  constructor(view, { siblings = [], on }) {
    Object.assign(this, { view, on });
    this.siblings = siblings.length ? siblings : [view.id];
    this.busy = false;
    this.#buildUser();
    this.#buildAnswer();
    this.update();
  }

  #buildUser() {
    const index = this.siblings.indexOf(this.view.id);
    this.prev = h("button", { type: "button", class: "branch-prev", "aria-label": "Previous version", text: "‹" });
    this.next = h("button", { type: "button", class: "branch-next", "aria-label": "Next version", text: "›" });
    this.prev.addEventListener("click", () => this.on.switchTo(this.siblings[index - 1]));
    this.next.addEventListener("click", () => this.on.switchTo(this.siblings[index + 1]));
    this.pager = h("span", { class: "branch-pager", hidden: this.siblings.length < 2 }, this.prev, h("span", { class: "branch-position", text: `${index + 1}/${this.siblings.length}` }), this.next);
    this.editButton = h("button", { type: "button", class: "edit-message", text: "Edit" });
    this.editButton.addEventListener("click", () => this.#startEdit());
    this.userBar = h("div", { class: "turn-actions user-actions" }, this.pager, this.editButton);
    this.view.userEl.append(this.userBar);
  }

  #buildAnswer() {
    this.regenerateButton = h("button", { type: "button", class: "regenerate", text: "Regenerate" });
    this.regenerateButton.addEventListener("click", () => this.#run(() => this.on.regenerate(this.view)));
    this.up = h("button", { type: "button", class: "thumb thumb-up", "aria-label": "Good answer", "aria-pressed": "false", title: "Good answer" });
    this.down = h("button", { type: "button", class: "thumb thumb-down", "aria-label": "Bad answer", "aria-pressed": "false", title: "Bad answer" });
    this.up.addEventListener("click", () => this.#rate("up"));
    this.down.addEventListener("click", () => this.#rate("down"));
    this.comment = h("input", { type: "text", class: "feedback-comment", maxlength: COMMENT_CHARS, placeholder: "Add a comment (optional)", "aria-label": "Feedback comment" });
    this.commentSave = h("button", { type: "button", class: "feedback-save", text: "Send" });
    this.commentSave.addEventListener("click", () => this.#rate(this.rating, this.comment.value.trim()));
    this.commentForm = h("span", { class: "feedback-form", hidden: true }, this.comment, this.commentSave);
    this.note = h("span", { class: "feedback-note quiet-line", role: "status" });
    this.answerBar = h("div", { class: "turn-actions answer-actions" }, this.regenerateButton, this.up, this.down, this.commentForm, this.note);
    this.view.assistant.append(this.answerBar);
  }

  /** Enable what makes sense now: nothing while any turn streams, answers once ended. */
  update(busy = this.busy) {
    this.busy = busy;
    const index = this.siblings.indexOf(this.view.id);
    this.prev.disabled = busy || index <= 0;
    this.next.disabled = busy || index >= this.siblings.length - 1;
    this.editButton.disabled = busy || !this.view.id;
    const ended = this.view.done;
    for (const button of [this.regenerateButton, this.up, this.down, this.commentSave]) button.disabled = busy || !ended || !this.view.id;
    this.answerBar.hidden = !ended;
    if (this.editor) for (const el of this.editor.querySelectorAll("button")) el.disabled = busy && el.classList.contains("edit-save");
  }

  #startEdit() {
    if (this.editor || this.busy) return;
    const bubble = this.view.userEl.querySelector(".bubble");
    const area = h("textarea", { class: "edit-input", rows: 3, "aria-label": "Edit your message" });
    area.value = this.view.input;
    const save = h("button", { type: "button", class: "edit-save", text: "Save" });
    const cancel = h("button", { type: "button", class: "edit-cancel", text: "Cancel" });
    const finish = () => {
      this.editor.remove();
      this.editor = null;
      bubble.hidden = false;
      this.userBar.hidden = false;
    };
    cancel.addEventListener("click", finish);
    save.addEventListener("click", async () => {
      const text = area.value;
      if (!text.trim()) {
        this.note.textContent = "";
        area.setCustomValidity("The message must not be empty.");
        area.reportValidity();
        return;
      }
      save.disabled = true;
      try {
        await this.on.edit(this.view, text);
      } catch {
        save.disabled = false; // the conversation showed the error; the text stays
      }
    });
    area.addEventListener("input", () => area.setCustomValidity(""));
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") finish();
    });
    this.editor = h("div", { class: "edit-form" }, area, h("div", { class: "edit-buttons" }, cancel, save));
    bubble.hidden = true;
    this.userBar.hidden = true;
    bubble.after(this.editor);
    area.focus();
  }

  async #run(action) {
    if (this.busy) return;
    this.update(true);
    try {
      await action();
    } catch {
      this.update(false);
    }
  }

  async #rate(rating, comment = "") {
    if (!rating) return;
    const body = comment ? { rating, comment } : { rating };
    try {
      await this.on.feedback(this.view, body);
    } catch (error) {
      this.note.textContent = `Could not save: ${error.message}`;
      return;
    }
    this.rating = rating;
    this.up.setAttribute("aria-pressed", String(rating === "up"));
    this.down.setAttribute("aria-pressed", String(rating === "down"));
    this.commentForm.hidden = false;
    this.note.textContent = comment ? "Thanks, comment saved." : "Thanks for the feedback.";
  }

  showRating(rating) {
    if (!rating) return;
    this.rating = rating;
    this.up.setAttribute("aria-pressed", String(rating === "up"));
    this.down.setAttribute("aria-pressed", String(rating === "down"));
    this.commentForm.hidden = false;
  }
}
