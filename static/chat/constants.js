// The status sets, as the server defines them (streaming/protocol/statuses.py). The page
// carries them as JSON in <script type="application/json" id="relay-constants"> (Django's
// json_script: data, which the Content-Security-Policy lets through), so no list is repeated
// here. A page without them is a bug in that page: fail at once rather than guess.

function readConstants() {
  const el = document.getElementById("relay-constants");
  if (!el) throw new Error("this page has no #relay-constants element (render it with json_script)");
  return JSON.parse(el.textContent);
}

const constants = readConstants();

function setOf(name) {
  const values = constants?.[name];
  if (!Array.isArray(values)) throw new Error(`#relay-constants has no list "${name}"`);
  return new Set(values);
}

/** The socket's close codes and how the page acknowledges (streaming/protocol/socket.py). */
export const SOCKET = constants.socket;

/** Turn statuses: waiting for or held by a worker. */
export const TURN_ACTIVE = setOf("turn_active");
/** Turn statuses a turn ends in; relay.turn.done carries one. */
export const TURN_FINAL = setOf("turn_final");
/** Upstream event types after which a response streams nothing more. */
export const TERMINAL_EVENT_TYPES = setOf("terminal_event_types");
/** An output item's status as `response.<item>.<phase>` events set it. */
export const ITEM_PHASES = setOf("item_phases");
/** The item statuses that mean the item is finished. */
export const ITEM_FINAL = setOf("item_final");
