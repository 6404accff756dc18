// Image generation: partial images while it works, then the result. Only base64 data:image
// URLs of raster formats are ever put in src.
import { h, setText } from "../dom.js";
import { dataImageUrl } from "../sanitize.js";
import { createCard } from "./card.js";

export function createImageGenerationView() {
  const card = createCard("image", "Image generation");
  const img = h("img", { class: "generated", alt: "Generated image", hidden: true });
  const note = h("p", { class: "quiet", hidden: true });
  const caption = h("p", { class: "card-detail", hidden: true });
  card.body.append(img, note, caption);
  let shown = null;
  return {
    el: card.el,
    update(item) {
      card.setStatus(item.status);
      const b64 = item.result || item.partial?.b64;
      const format = item.output_format || item.partial?.format || "png";
      if (b64 && b64 !== shown) {
        shown = b64;
        const src = dataImageUrl(b64, format);
        if (src) img.src = src;
        img.hidden = !src;
        setText(note, src ? "" : "The image data could not be shown.");
        note.hidden = Boolean(src);
        img.alt = item.revised_prompt ? `Generated image: ${item.revised_prompt}` : "Generated image";
      }
      card.setTitle(item.result ? "" : item.partial ? `partial image ${Number(item.partial.index ?? 0) + 1}` : "");
      setText(caption, item.revised_prompt || "");
      caption.hidden = !item.revised_prompt;
      return false;
    },
  };
}
