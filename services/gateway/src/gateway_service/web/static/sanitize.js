// A small allowlist HTML sanitiser for documents (no library): the HTML is parsed inert by
// DOMParser (no scripts run, nothing loads), then only allowed elements and attributes are
// copied into a fragment of this document. Dropped with their content: script, style, iframe,
// object, embed, form controls, svg, math, template… Other unknown elements are unwrapped
// (their text kept). URLs: http(s), mailto, relative and #anchors; images also data:image/*.

const ALLOWED = new Set([
  "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div", "dl",
  "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
  "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
  "tfoot", "th", "thead", "tr", "u", "ul",
]);
const DROPPED = new Set([
  "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button",
  "textarea", "select", "option", "link", "meta", "base", "svg", "math", "template", "noscript", "audio", "video",
  "source", "track", "canvas", "portal", "title", "head",
]);
const ATTRIBUTES = new Set(["title", "alt", "colspan", "rowspan", "scope", "width", "height", "start", "reversed", "open"]);
const URL_ATTRIBUTES = { a: "href", img: "src" };

function safeUrl(value, tag) {
  const text = value.trim();
  if (text.startsWith("#")) return text;
  if (tag === "img" && /^data:image\/(png|gif|jpe?g|webp);base64,[a-z0-9+/=\s]+$/i.test(text)) return text;
  try {
    const url = new URL(text, window.location.origin);
    const ok = tag === "a" ? ["http:", "https:", "mailto:"] : ["http:", "https:"];
    return ok.includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function copy(node, into) {
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      into.appendChild(document.createTextNode(child.textContent));
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      const tag = child.localName;
      if (DROPPED.has(tag)) continue;
      if (!ALLOWED.has(tag)) {
        copy(child, into); // unwrap
        continue;
      }
      const clean = document.createElement(tag);
      for (const attribute of child.attributes) {
        const name = attribute.name.toLowerCase();
        if (ATTRIBUTES.has(name)) clean.setAttribute(name, attribute.value);
        else if (URL_ATTRIBUTES[tag] === name) {
          const url = safeUrl(attribute.value, tag);
          if (url) clean.setAttribute(name, url);
        }
      }
      if (tag === "a" && clean.hasAttribute("href") && !clean.getAttribute("href").startsWith("#")) {
        clean.setAttribute("target", "_blank");
        clean.setAttribute("rel", "noopener noreferrer");
      }
      if (tag === "img") clean.setAttribute("referrerpolicy", "no-referrer");
      copy(child, clean);
      into.appendChild(clean);
    }
    // comments, processing instructions: dropped
  }
}

/** A DocumentFragment with the safe part of `html`. */
export function sanitize(html) {
  const parsed = new DOMParser().parseFromString(String(html || ""), "text/html");
  const fragment = document.createDocumentFragment();
  copy(parsed.body, fragment);
  return fragment;
}
