// A space document: its title and its HTML body, sanitised (sanitize.js).
import { h } from "./dom.js";
import { sanitize } from "./sanitize.js";

export function renderDocument(element, doc) {
  const body = h("div", { class: "document-body" });
  body.append(sanitize(doc.body));
  element.replaceChildren(h("article", { class: "document", "aria-labelledby": "doc-title" },
    h("h1", { id: "doc-title" }, doc.title), body));
}
