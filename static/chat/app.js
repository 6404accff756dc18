// Page wiring for the chat page: sidebar, composer and the conversation.
import { Attachments } from "./attachments.js";
import { Composer } from "./composer.js";
import { ToolToggles } from "./tools.js";
import { BudgetNote } from "./budget.js";
import { Conversation } from "./conversation.js";
import { conversationMenu } from "./menu.js";
import { SearchBox } from "./search.js";
import { Sidebar } from "./sidebar.js";

const $ = (id) => document.getElementById(id);

function wireSidebarToggle(layout) {
  const toggle = layout.querySelector(".sidebar-toggle");
  const sidebar = $("sidebar");
  const setOpen = (open) => {
    layout.classList.toggle("sidebar-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (open) sidebar.querySelector("a, button")?.focus();
  };
  toggle.addEventListener("click", () => setOpen(!layout.classList.contains("sidebar-open")));
  // On a phone the open sidebar covers the chat; a tap beside it closes it.
  layout.querySelector(".chat").addEventListener("click", (event) => {
    if (layout.classList.contains("sidebar-open") && !toggle.contains(event.target)) setOpen(false);
  });
  sidebar.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && layout.classList.contains("sidebar-open")) {
      setOpen(false);
      toggle.focus();
    }
  });
}

function main() {
  const layout = $("app");
  const id = layout.dataset.conversationId || null;
  const stallMs = Number(layout.dataset.stallMs) || undefined;
  const sidebar = new Sidebar({
    list: $("conversation-list"),
    status: $("sidebar-status"),
    currentId: id,
    onDeleted: (deletedId) => {
      if (deletedId === conversation.id) window.location.assign("/");
    },
    onRenamed: (renamed) => {
      if (renamed.id === conversation.id) conversation.setTitle(renamed.title);
    },
  });
  const attachments = new Attachments({
    form: $("composer"),
    list: $("attachment-list"),
    input: $("file-input"),
    button: $("attach-button"),
    onError: (message) => composer.showError(message),
  });
  const budget = new BudgetNote($("composer-budget"));
  const composer = new Composer({
    effortSelect: $("effort-select"),
    instructions: $("instructions-input"),
    attachments,
    form: $("composer"),
    textarea: $("composer-input"),
    sendButton: $("send-button"),
    stopButton: $("stop-button"),
    modelSelect: $("model-select"),
    toolToggles: new ToolToggles($("tool-toggles"), { forConversation: Boolean(id) }),
    errorEl: $("composer-error"),
    onSend: (text, model, files) => conversation.send(text, model, files),
    onStop: () => conversation.stop(),
    onIdle: () => budget.load(),
  });
  const conversation = new Conversation({
    id,
    transcript: $("transcript"),
    scroller: $("transcript"),
    composer,
    sidebar,
    streamOptions: stallMs ? { stallMs } : {},
  });
  wireSidebarToggle(layout);
  new SearchBox({ input: $("search-input"), results: $("search-results"), list: $("conversation-list") });
  conversationMenu(layout.querySelector(".chat-head"), id);
  sidebar.load();
  budget.load();
  composer
    .loadModels()
    .then(() => composer.loadPresets($("preset-select"), !id))
    .then(() => conversation.load())
    .then(() => composer.focus());
}

main();
