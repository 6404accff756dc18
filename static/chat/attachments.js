// Files for the next message: by the Attach button, drag-and-drop onto the composer, or
// paste. Each is uploaded at once (POST /api/files) and shown as a thumbnail with Remove.
import { ApiError, csrfToken } from "./api.js";
import { h } from "./dom.js";

async function uploadFile(file) {
  const body = new FormData();
  body.append("file", file, file.name || "pasted");
  const response = await fetch("/api/files", {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(data?.error || `Upload failed (${response.status})`, response.status);
  return data;
}

/** A row of chips for uploaded files: images as thumbnails, others by name; with `link`,
 *  each opens the stored file (a sent message's attachments, not the composer's). */
export function attachmentChips(files, { onRemove = null, preview = null, link = false } = {}) {
  return files.map((file) => {
    const isImage = file.content_type?.startsWith("image/");
    const src = preview?.get(file.id) || file.url;
    let shown = isImage ? h("img", { src, alt: file.name, class: "attachment-thumb" }) : h("span", { class: "attachment-name", text: file.name });
    if (link && file.url) shown = h("a", { href: file.url, target: "_blank", rel: "noopener", class: "attachment-link" }, shown);
    const chip = h("span", { class: "attachment", "data-file-id": file.id, title: file.name }, shown);
    if (onRemove) {
      chip.append(h("button", { type: "button", class: "attachment-remove", "aria-label": `Remove ${file.name}`, text: "×", onclick: () => onRemove(file) }));
    }
    return chip;
  });
}

export class Attachments {
  constructor({ form, list, input, button, onError }) {
    Object.assign(this, { list, input, onError });
    this.files = [];
    this.previews = new Map();
    this.pending = 0;
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.addAll(input.files);
      input.value = "";
    });
    form.addEventListener("dragover", (event) => {
      event.preventDefault();
      form.classList.add("dropping");
    });
    form.addEventListener("dragleave", () => form.classList.remove("dropping"));
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      form.classList.remove("dropping");
      this.addAll(event.dataTransfer?.files || []);
    });
    form.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (files.length) {
        event.preventDefault();
        this.addAll(files);
      }
    });
  }

  get ids() {
    return this.files.map((f) => f.id);
  }

  get busy() {
    return this.pending > 0;
  }

  async addAll(files) {
    for (const file of files) await this.#add(file);
  }

  async #add(file) {
    this.pending += 1;
    try {
      const uploaded = await uploadFile(file);
      if (uploaded.content_type?.startsWith("image/")) this.previews.set(uploaded.id, URL.createObjectURL(file));
      this.files.push(uploaded);
      this.#render();
    } catch (error) {
      this.onError(`${file.name}: ${error.message}`);
    } finally {
      this.pending -= 1;
    }
  }

  /** What was sent goes with the message; the composer starts empty again. */
  take() {
    const taken = this.files;
    this.files = [];
    this.#render();
    return taken;
  }

  #render() {
    this.list.replaceChildren(...attachmentChips(this.files, { preview: this.previews, onRemove: (file) => {
      this.files = this.files.filter((f) => f !== file);
      this.#render();
    } }));
    this.list.hidden = !this.files.length;
  }
}
