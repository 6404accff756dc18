// The conversation's menu: export (markdown, JSON) and share a read-only link.
import { api } from "./api.js";
import { h } from "./dom.js";

export function conversationMenu(head, id) {
  if (!id || !head) return;
  const base = `/api/conversations/${id}`;
  const status = h("span", { class: "menu-status", role: "status" });
  const share = h("button", { type: "button", class: "link-button", text: "Share" });
  share.addEventListener("click", async () => {
    try {
      const { url } = await api("POST", `${base}/share`);
      status.textContent = `Teammates can read it at ${url}`;
    } catch (error) {
      status.textContent = `Could not share: ${error.message}`;
    }
  });
  const unshare = h("button", { type: "button", class: "link-button", text: "Stop sharing" });
  unshare.addEventListener("click", async () => {
    try {
      await api("DELETE", `${base}/share`);
      status.textContent = "No longer shared.";
    } catch (error) {
      status.textContent = `Could not stop sharing: ${error.message}`;
    }
  });
  head.append(h(
    "details",
    { class: "conversation-menu" },
    h("summary", { text: "⋯", "aria-label": "Conversation menu" }),
    h("div", { class: "menu-body" },
      h("a", { href: `${base}/export?format=markdown`, download: "", text: "Download as Markdown" }),
      h("a", { href: `${base}/export?format=json`, download: "", text: "Download as JSON" }),
      share, unshare, status),
  ));
}
