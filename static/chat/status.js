// Words and numbers for a turn's status line and its notice.

const STATUS_TEXT = {
  queued: "Waiting for the model…",
  streaming: "Answering…",
  waiting: "Waiting for your approval",
  completed: "Done",
  incomplete: "Incomplete",
  failed: "Failed",
  cancelled: "Stopped",
  interrupted: "Interrupted",
};

const NOTICE_TEXT = {
  incomplete: "The answer is incomplete",
  failed: "The answer failed",
  cancelled: "You stopped this answer",
  interrupted: "The answer was interrupted",
};

const INCOMPLETE_REASONS = {
  max_output_tokens: "it reached the output token limit",
  content_filter: "the content filter stopped it",
};

export function statusText(status, connection) {
  if (connection === "reconnecting") return "Reconnecting…";
  if (connection === "connecting") return "Connecting…";
  return STATUS_TEXT[status] || String(status || "");
}

function formatMs(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return null;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function formatCount(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : null;
}

/** The facts after the status: model, time to first token, total time, token counts. */
export function statusDetails(state) {
  const parts = [];
  if (state.model) parts.push(state.model);
  const ttft = formatMs(state.timings?.ttft_ms);
  if (ttft) parts.push(`first token ${ttft}`);
  const total = formatMs(state.timings?.total_ms ?? state.timings?.duration_ms);
  if (total) parts.push(`total ${total}`);
  const usage = state.usage;
  if (usage) {
    const tokens = [];
    const input = formatCount(usage.input_tokens);
    const output = formatCount(usage.output_tokens);
    if (input) tokens.push(`${input} in`);
    if (output) tokens.push(`${output} out`);
    const reasoning = usage.output_tokens_details?.reasoning_tokens;
    if (reasoning) tokens.push(`${formatCount(reasoning)} reasoning`);
    if (tokens.length) parts.push(`${tokens.join(" / ")} tokens`);
  }
  return parts;
}

/** The notice for a turn that ended other than completed, or null. */
export function noticeText(state) {
  if (!state.done || state.status === "completed") return null;
  let text = NOTICE_TEXT[state.status] || `The answer ended: ${state.status}`;
  if (state.status === "incomplete" && state.incompleteReason) {
    text += `: ${INCOMPLETE_REASONS[state.incompleteReason] || state.incompleteReason.replaceAll("_", " ")}`;
  }
  return `${text}.`;
}
