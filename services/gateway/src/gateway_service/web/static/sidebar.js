// The space's sidebar: logo and name, workbooks with their sheets, documents.
// Order (Flatfile): `settings.sidebarConfig.workbookSidebarOrder` (workbook ids) first, then
// workbooks labelled "pinned", then the rest as they were added; documents as they were added.
import { h } from "./dom.js";

export function orderedWorkbooks(workbooks, sidebarConfig) {
  const order = (sidebarConfig && Array.isArray(sidebarConfig.workbookSidebarOrder))
    ? sidebarConfig.workbookSidebarOrder : [];
  const rank = (wb) => {
    const at = order.indexOf(wb.id);
    if (at >= 0) return [0, at];
    if ((wb.labels || []).includes("pinned")) return [1, 0];
    return [2, 0];
  };
  return [...workbooks].sort((a, b) => {
    const [ra, ia] = rank(a);
    const [rb, ib] = rank(b);
    return ra - rb || ia - ib || String(a.createdAt).localeCompare(String(b.createdAt));
  });
}

export function orderedDocuments(documents) {
  return [...documents].sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)));
}

export function renderSidebar(element, { space, word, logo, workbooks, documents, session }) {
  const sidebarConfig = (space.settings || {}).sidebarConfig || {};
  element.hidden = sidebarConfig.showSidebar === false;
  const workbookItems = orderedWorkbooks(workbooks, sidebarConfig).map((wb) =>
    h("li", { "data-workbook-id": wb.id },
      h("div", { class: "workbook", id: `wb-${wb.id}` }, wb.name),
      h("ul", { "aria-labelledby": `wb-${wb.id}` },
        (wb.sheets || []).map((sheet) =>
          h("li", {}, h("a", { href: `#/sheet/${sheet.id}`, "data-sheet-id": sheet.id }, sheet.name))))));
  const documentItems = orderedDocuments(documents).map((doc) =>
    h("li", {}, h("a", { href: `#/document/${doc.id}`, "data-document-id": doc.id }, doc.title)));
  const granted = Array.isArray(session.workbookIds) ? session.workbookIds.length : null; // null: the whole space
  const scope = granted === null ? "" : ` · ${granted} workbook${granted === 1 ? "" : "s"}`;
  const who = session.kind === "secret" ? "Admin" : `Guest · ${session.role}${scope}`;
  element.replaceChildren(...[
    logo ? h("img", { class: "logo", src: logo, alt: "", referrerpolicy: "no-referrer" }) : null,
    h("h1", {}, space.name || `Untitled ${word}`),
    h("p", { class: "kind" }, `${capitalize(word)} · ${who}`),
    h("h2", { id: "nav-workbooks" }, "Workbooks"),
    workbookItems.length ? h("ul", { "aria-labelledby": "nav-workbooks", class: "workbooks" }, workbookItems)
      : h("p", { class: "kind" }, "No workbooks yet."),
    documentItems.length ? h("h2", { id: "nav-documents" }, "Documents") : null,
    documentItems.length ? h("ul", { "aria-labelledby": "nav-documents", class: "documents" }, documentItems) : null,
  ].filter(Boolean));
}

/** Mark the link of what is open (aria-current). */
export function markCurrent(element, hash) {
  for (const link of element.querySelectorAll("a[href^='#/']")) {
    if (link.getAttribute("href") === hash) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

export function capitalize(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : word;
}
