// Code interpreter: the code streams in with highlighting; then its logs and images.
import { h } from "../dom.js";
import { safeImageSrc } from "../sanitize.js";
import { createCard, createCodeBlock, isDone } from "./card.js";

function renderOutput(output) {
  if (output?.type === "logs") return h("pre", { class: "output logs", text: String(output.logs ?? "") });
  if (output?.type === "image") {
    const src = safeImageSrc(output.url);
    return src
      ? h("img", { class: "generated", src, alt: "Code interpreter output image" })
      : h("p", { class: "quiet", text: "Image output (not shown: only embedded images are displayed)" });
  }
  return h("p", { class: "quiet", text: `Output: ${output?.type || "unknown"}` });
}

export function createCodeInterpreterView() {
  const card = createCard("code-interpreter", "Code interpreter");
  card.setTitle("python");
  const code = createCodeBlock("python", "ci-code");
  const outputs = h("div", { class: "ci-outputs" });
  card.body.append(code.el, outputs);
  let shownOutputs = "";
  return {
    el: card.el,
    update(item) {
      card.setStatus(item.status);
      const list = Array.isArray(item.outputs) ? item.outputs : [];
      const signature = `${list.length}:${list.map((o) => (o?.logs ?? o?.url ?? "").length).join(",")}`;
      if (signature !== shownOutputs) {
        shownOutputs = signature;
        outputs.replaceChildren(...list.map(renderOutput));
      }
      return code.set(item.code || "", isDone(item));
    },
    finish: () => code.flush(),
  };
}
