// MCP items: the tool list a server offered, calls to its tools, and approval requests.
import { api } from "../api.js";
import { h, setText } from "../dom.js";
import { createCard, createCodeBlock, createOutputBlock, formatValue, isDone } from "./card.js";

export function createMcpListToolsView() {
  const card = createCard("mcp", "MCP tools", { open: false });
  const list = h("ul", { class: "mcp-tools" });
  const error = h("p", { class: "card-error", hidden: true });
  card.body.append(list, error);
  let count = -1;
  return {
    el: card.el,
    update(item) {
      const tools = Array.isArray(item.tools) ? item.tools : [];
      card.setTitle(`${item.server_label || "server"}${tools.length ? ` · ${tools.length} tools` : ""}`);
      card.setStatus(item.error ? "failed" : item.status || (tools.length ? "completed" : "in_progress"));
      if (tools.length !== count) {
        count = tools.length;
        list.replaceChildren(...tools.map((t) => h("li", { title: t.description || null }, h("code", { text: t.name || "?" }))));
      }
      setText(error, item.error ? formatValue(item.error) : "");
      error.hidden = !item.error;
      return false;
    },
  };
}

export function createMcpCallView() {
  const card = createCard("mcp", "MCP call");
  const args = createCodeBlock("json", "args");
  card.body.append(h("div", { class: "card-label", text: "Arguments" }), args.el);
  const output = createOutputBlock(card.body, "Result");
  const error = createOutputBlock(card.body, "Error", "card-error");
  return {
    el: card.el,
    update(item) {
      card.setTitle(`${item.server_label ? `${item.server_label} · ` : ""}${item.name || ""}`);
      card.setStatus(item.error ? "failed" : item.status);
      output.set(item.output ? formatValue(item.output) : "");
      error.set(item.error ? formatValue(item.error) : "");
      const done = isDone(item);
      return args.set(done ? formatValue(item.arguments) : item.arguments || "", done);
    },
    finish: () => args.flush(),
  };
}

export function createMcpApprovalView(item) {
  const isRequest = item.type === "mcp_approval_request";
  const card = createCard("mcp", isRequest ? "MCP approval requested" : "MCP approval");
  const detail = h("p", { class: "card-detail" });
  const args = createCodeBlock("json", "args");
  card.body.append(detail, args.el);
  // Only the chat page (it has a composer) answers; the review pages show the request.
  const actions = isRequest && document.getElementById("composer") ? approvalActions(card, item, detail) : null;
  if (actions) card.body.append(actions.row);
  let last = item;
  return {
    el: card.el,
    update(current) {
      last = current;
      card.setTitle(`${current.server_label ? `${current.server_label} · ` : ""}${current.name || ""}`);
      if (isRequest && typeof current.approve === "boolean") {
        // The decision as the turn's log holds it (this tab's, another tab's, or a replay).
        actions?.close();
        setText(detail, current.approve ? "Approved." : "Denied.");
      } else if (isRequest) {
        if (!detail.dataset.answered) setText(detail, actions ? "The model asks to run this tool. Allow it?" : "The model asked to run this tool.");
      } else {
        setText(detail, `${current.approve ? "Approved" : "Declined"}${current.reason ? `: ${current.reason}` : ""}`);
      }
      args.el.hidden = !current.arguments;
      return args.set(formatValue(current.arguments), true);
    },
    finish() {
      if (!isRequest || typeof last.approve === "boolean") return;
      actions?.close();
      setText(detail, "Not answered: the turn ended first.");
    },
  };
}

/** Approve and Deny: POST /api/turns/<id>/approvals; the turn then streams on. */
function approvalActions(card, item, detail) {
  const answer = async (approve) => {
    const turnId = card.el.closest("article.turn[data-turn-id]")?.dataset.turnId;
    for (const button of buttons) button.disabled = true;
    try {
      await api("POST", `/api/turns/${turnId}/approvals`, { approval_request_id: item.id, approve });
      detail.dataset.answered = "1";
      setText(detail, approve ? "Approved." : "Denied.");
      row.hidden = true;
    } catch (error) {
      detail.dataset.answered = "1";
      setText(detail, `Could not answer: ${error.message}`);
    }
  };
  const buttons = [
    h("button", { type: "button", class: "approve", text: "Approve", onclick: () => answer(true) }),
    h("button", { type: "button", class: "deny", text: "Deny", onclick: () => answer(false) }),
  ];
  const row = h("div", { class: "card-actions" }, buttons);
  return {
    row,
    close() {
      detail.dataset.answered = "1";
      row.remove();
    },
  };
}
