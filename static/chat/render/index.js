// Which view renders which output item type. Unknown types get a quiet line.
import { createApplyPatchView } from "./apply-patch.js";
import { createCodeInterpreterView } from "./code-interpreter.js";
import { createCustomToolView, createFunctionCallView } from "./tool-call.js";
import { createGenericView } from "./generic.js";
import { createImageGenerationView } from "./image-generation.js";
import { createMcpApprovalView, createMcpCallView, createMcpListToolsView } from "./mcp.js";
import { createMessageView } from "./message.js";
import { createReasoningView } from "./reasoning.js";
import { createFileSearchView, createWebSearchView } from "./search.js";
import { createShellCallView, createShellOutputView } from "./shell.js";

const VIEWS = {
  message: createMessageView,
  reasoning: createReasoningView,
  function_call: createFunctionCallView,
  custom_tool_call: createCustomToolView,
  file_search_call: createFileSearchView,
  web_search_call: createWebSearchView,
  code_interpreter_call: createCodeInterpreterView,
  image_generation_call: createImageGenerationView,
  mcp_list_tools: createMcpListToolsView,
  mcp_call: createMcpCallView,
  mcp_approval_request: createMcpApprovalView,
  mcp_approval_response: createMcpApprovalView,
  shell_call: createShellCallView,
  local_shell_call: createShellCallView,
  shell_call_output: createShellOutputView,
  local_shell_call_output: createShellOutputView,
  apply_patch_call: createApplyPatchView,
};

/** A view for an item: {el, update(item) → true while work is left, finish?()}. */
export function createItemView(item) {
  const create = VIEWS[item.type] || createGenericView;
  const view = create(item);
  view.el.dataset.itemType = item.type || "unknown";
  return view;
}
