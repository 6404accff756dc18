// One turn's stored log, from the admin's staff-only JSON endpoint:
// {turn: {...}, events: [{seq, type, received_ms, size, event}]}.

export async function loadLog(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`Could not load the log (HTTP ${response.status}).`);
  return response.json();
}

/** The entries as the WebSocket would have delivered them: {seq, event} envelopes. */
export function envelopesOf(entries) {
  return entries.map((entry) => ({ seq: entry.seq, event: entry.event }));
}

/** Milliseconds as the admin shows them. */
export function formatMs(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
