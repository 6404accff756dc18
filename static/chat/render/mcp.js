// MCP items: the tool list a server offered, calls to its tools, and approval requests.
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
  return {
    el: card.el,
    update(current) {
      card.setTitle(`${current.server_label ? `${current.server_label} · ` : ""}${current.name || ""}`);
      if (isRequest) {
        setText(detail, "The model asked to run this tool; approving MCP calls is not available here.");
      } else {
        setText(detail, `${current.approve ? "Approved" : "Declined"}${current.reason ? `: ${current.reason}` : ""}`);
      }
      args.el.hidden = !current.arguments;
      return args.set(formatValue(current.arguments), true);
    },
  };
}
