// A quiet one-line mention of an output item this page has no card for.
import { h, setText } from "../dom.js";

export function createGenericView(item) {
  const el = h("div", { class: "quiet-line", role: "note" });
  return {
    el,
    update(current) {
      const name = String(current.type || "item").replaceAll("_", " ");
      setText(el, current.status ? `${name} · ${current.status.replaceAll("_", " ")}` : name);
      return false;
    },
  };
}
