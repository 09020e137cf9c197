// Extension points for features that live in their own modules (upload + mapping, actions and
// jobs, history, find-and-replace, bulk delete, download…). A module listed in extensions.js
// imports these functions and registers itself; app.js and grid.js call them at the right moments.
//
//   registerToolbarItem({ id, where: "sheet", order?, render(ctx) -> HTMLElement | null })
//   registerPanel({ id, label, where: "sheet" | "space", mount(element, ctx) -> cleanup? })
//   on(name, handler)   events: "space:loaded" (ctx), "sheet:opened" ({ ctx, sheet, grid }),
//                       "sheet:closed" ({ sheet }), "feed" (a Flatfile event from the SSE stream),
//                       "grid:changed" ({ sheet, grid }) after a refresh or an edit
//
// ctx = { api, spaceId, space, session, workbooks, documents, word, notify(text, kind), openPanel(id),
//         navigate(hash), currentSheet(), currentGrid() }

const toolbarItems = [];
const panels = new Map();
const handlers = new Map();

export function registerToolbarItem(item) {
  toolbarItems.push({ order: 100, where: "sheet", ...item });
  toolbarItems.sort((a, b) => a.order - b.order);
}

export function toolbarFor(where) {
  return toolbarItems.filter((item) => item.where === where);
}

export function registerPanel(panel) {
  panels.set(panel.id, { where: "sheet", ...panel });
}

export function panel(id) {
  return panels.get(id);
}

export function panelsFor(where) {
  return [...panels.values()].filter((p) => p.where === where || p.where === "any");
}

export function on(name, handler) {
  if (!handlers.has(name)) handlers.set(name, new Set());
  handlers.get(name).add(handler);
  return () => handlers.get(name).delete(handler);
}

export function emit(name, payload) {
  for (const handler of handlers.get(name) || []) {
    try {
      handler(payload);
    } catch (error) {
      console.error(`handler of ${name} failed`, error);
    }
  }
}
