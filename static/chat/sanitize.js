// Everything model-made that becomes HTML passes through here. Links may only be http(s)
// or mailto and always open in a new tab without an opener; images only data:image URLs.
import createDOMPurify from "../vendor/dompurify/purify.es.mjs";

const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const DATA_IMAGE = /^data:image\/(?:png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$/;
const IMAGE_FORMATS = new Set(["png", "jpeg", "jpg", "gif", "webp"]);

const purify = createDOMPurify(window);
purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.hasAttribute("href")) {
    const href = safeHref(node.getAttribute("href"));
    if (href && node.tagName === "A") {
      node.setAttribute("href", href);
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    } else {
      node.removeAttribute("href");
    }
  }
  if (node.hasAttribute("src") && !(node.tagName === "IMG" && safeImageSrc(node.getAttribute("src")))) {
    node.removeAttribute("src");
  }
});

const CONFIG = {
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|data:image\/(?:png|jpe?g|gif|webp);base64,)/i,
  FORBID_TAGS: [
    "style", "form", "button", "textarea", "select", "option", "iframe", "frame", "object",
    "embed", "svg", "math", "template", "dialog", "base", "link", "meta", "video", "audio",
  ],
  FORBID_ATTR: ["style", "id", "name", "srcset", "tabindex", "autofocus", "formaction", "action"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

/** The URL if it is an absolute http(s) or mailto URL, else null. */
export function safeHref(url) {
  if (typeof url !== "string") return null;
  let parsed;
  try {
    parsed = new URL(url.trim());
  } catch {
    return null;
  }
  return LINK_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
}

/** The URL if it is a base64 data:image URL of a raster format, else null. */
export function safeImageSrc(url) {
  return typeof url === "string" && DATA_IMAGE.test(url.trim()) ? url.trim() : null;
}

/** A data:image URL from raw base64 and a format name, or null when either is unfit. */
export function dataImageUrl(base64, format = "png") {
  const fmt = String(format || "png").toLowerCase();
  if (!IMAGE_FORMATS.has(fmt) || typeof base64 !== "string") return null;
  return safeImageSrc(`data:image/${fmt};base64,${base64.replace(/\s+/g, "")}`);
}

/** Sanitize an HTML string into a DocumentFragment that is safe to insert. */
export function sanitizeToFragment(html) {
  const fragment = purify.sanitize(html, CONFIG);
  for (const img of fragment.querySelectorAll("img:not([src])")) {
    const alt = img.getAttribute("alt");
    img.replaceWith(document.createTextNode(alt ? `[image: ${alt}]` : "[image]"));
  }
  for (const input of fragment.querySelectorAll("input")) {
    if (input.getAttribute("type") === "checkbox") input.setAttribute("disabled", "");
    else input.remove();
  }
  return fragment;
}
