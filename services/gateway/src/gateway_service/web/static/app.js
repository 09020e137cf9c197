// The space web app: boot (token, session, space), sidebar, routes (#/sheet/<id>, #/document/<id>),
// live updates, extension modules (extensions.js, registry.js).
import { Api, describe, forgetToken, takeToken } from "./api.js";
import { renderDocument } from "./document.js";
import { h } from "./dom.js";
import { EXTENSIONS } from "./extensions.js";
import { Grid } from "./grid.js";
import { follow } from "./live.js";
import { emit, on, panel, panelsFor, toolbarFor } from "./registry.js";
import { capitalize, markCurrent, orderedWorkbooks, renderSidebar } from "./sidebar.js";
import { applyTheme } from "./theme.js";

const LIVE_TOPICS = new Set([
  "commit:created", "commit:completed", "records:created", "records:updated", "records:deleted",
  "sheet:updated", "sheet:counts-updated", "layer:created",
]);

const main = document.getElementById("main");
const sidebar = document.getElementById("sidebar");
const panelEl = document.getElementById("panel");
const app = document.getElementById("app");

let ctx = null;
let grid = null;
let currentSheet = null;
let liveState = "connecting";

function notify(text, kind = "info") {
  const toast = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  document.getElementById("toasts").append(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 8000 : 4000);
}

function fatal(error, word = "space") {
  const { title, text, detail } = describe(error, word);
  app.dataset.state = "error";
  app.dataset.error = error && error.kind ? error.kind : "unknown";
  sidebar.hidden = true;
  main.replaceChildren(h("div", { class: "fatal-box", role: "alert", "data-testid": "fatal" },
    h("h1", {}, title), h("p", {}, text), detail && detail !== text ? h("p", { class: "detail" }, detail) : null,
    error && error.kind === "network" ? h("button", { type: "button", onclick: () => window.location.reload() }, "Try again")
      : null));
}

function spaceIdFromPath() {
  const match = window.location.pathname.match(/^\/space\/([^/]+)\/?$/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function boot() {
  const spaceId = spaceIdFromPath();
  const token = takeToken(spaceId);
  if (!token) {
    fatal({ kind: "unauthorized", message: "This page was opened without an access token: use the full link you were given." });
    return;
  }
  const api = new Api(token);
  let session;
  let space;
  let workbooks;
  let documents;
  try {
    session = await api.session(spaceId);
    [space, workbooks, documents] = await Promise.all([api.space(spaceId), api.workbooks(spaceId), api.documents(spaceId)]);
  } catch (error) {
    if (error.kind === "unauthorized") forgetToken(spaceId);
    fatal(error);
    return;
  }
  workbooks = visibleWorkbooks(workbooks, session);
  let word = "space";
  if (space.appId) {
    try {
      const found = await api.app(space.appId);
      if (found && found.entity) word = found.entity.toLowerCase();
    } catch {
      /* guests may not read apps: keep "space" */
    }
  }
  const { logo } = applyTheme((space.metadata || {}).theme);
  document.title = `${space.name || capitalize(word)} · Spaceport`;
  ctx = {
    api, spaceId, space, session, workbooks, documents, word, notify,
    navigate: (hash) => { window.location.hash = hash; },
    openPanel, currentSheet: () => currentSheet, currentGrid: () => grid,
  };
  for (const path of EXTENSIONS) {
    try {
      const module = await import(path);
      if (typeof module.setup === "function") await module.setup(ctx);
    } catch (error) {
      console.error(`extension ${path} failed to load`, error);
    }
  }
  renderSidebar(sidebar, { space, word, logo, workbooks, documents, session });
  app.dataset.state = "ready";
  app.dataset.role = session.role;
  emit("space:loaded", ctx);
  window.addEventListener("hashchange", route);
  route();
  follow(api, spaceId, (state) => {
    liveState = state;
    showLive();
  });
  on("feed", onFeed);
}

/** A guest whose grant names workbooks sees only those (the API already answers only them: this
 * keeps the sidebar and the router to the same set even if a list were ever wider). */
function visibleWorkbooks(workbooks, session) {
  const allowed = Array.isArray(session.workbookIds) ? new Set(session.workbookIds) : null;
  return allowed ? workbooks.filter((wb) => allowed.has(wb.id)) : workbooks;
}

function showLive() {
  const slot = grid && grid.liveSlot;
  if (!slot) return;
  slot.replaceChildren(h("span", { class: "live", "data-state": liveState, "data-testid": "live" },
    liveState === "live" ? "Live" : liveState === "reconnecting" ? "Reconnecting…" : "Connecting…"));
}

let refreshTimer = null;
function onFeed(event) {
  const sheetId = event && event.context && event.context.sheetId;
  if (!grid || !currentSheet || sheetId !== currentSheet.id || !LIVE_TOPICS.has(event.topic)) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => grid && grid.refresh(), 250);
}

function defaultHash() {
  const config = (ctx.space.settings || {}).sidebarConfig || {};
  const page = config.defaultPage || {};
  if (page.documentId && ctx.documents.some((doc) => doc.id === page.documentId)) return `#/document/${page.documentId}`;
  // a default page in a workbook the caller does not see (a guest limited to other workbooks) is skipped
  if (page.workbook && page.workbook.sheetId && findSheet(page.workbook.sheetId)) return `#/sheet/${page.workbook.sheetId}`;
  const ordered = orderedWorkbooks(ctx.workbooks, config);
  const primary = ctx.workbooks.find((wb) => wb.id === ctx.space.primaryWorkbookId);
  for (const wb of primary ? [primary, ...ordered] : ordered) {
    if ((wb.sheets || []).length) return `#/sheet/${wb.sheets[0].id}`;
  }
  if (ctx.documents.length) return `#/document/${ctx.documents[0].id}`;
  return "";
}

function findSheet(sheetId) {
  for (const wb of ctx.workbooks) {
    for (const sheet of wb.sheets || []) if (sheet.id === sheetId) return { sheet, workbook: wb };
  }
  return null;
}

async function route() {
  let hash = window.location.hash;
  if (!/^#\/(sheet|document)\//.test(hash)) {
    hash = defaultHash();
    if (hash) {
      history.replaceState(null, "", window.location.pathname + hash);
    }
  }
  markCurrent(sidebar, hash);
  closeSheet();
  const [, kind, id] = hash.match(/^#\/(sheet|document)\/(.+)$/) || [];
  if (kind === "sheet") {
    const found = findSheet(id);
    if (!found) return fatalInMain("This sheet was not found", "It may have been deleted.");
    openSheet(found.sheet, found.workbook);
  } else if (kind === "document") {
    try {
      renderDocument(main, await ctx.api.document(ctx.spaceId, id));
    } catch (error) {
      const { title, text } = describe(error, ctx.word);
      fatalInMain(title, text);
    }
  } else {
    main.replaceChildren(h("div", { class: "empty" }, `This ${ctx.word} has no workbooks or documents yet.`));
  }
}

function fatalInMain(title, text) {
  main.replaceChildren(h("div", { class: "fatal-box", role: "alert" }, h("h1", {}, title), h("p", {}, text)));
}

function closeSheet() {
  if (grid) {
    emit("sheet:closed", { sheet: currentSheet });
    grid.destroy();
  }
  grid = null;
  currentSheet = null;
  panelEl.hidden = true;
}

function openSheet(sheet, workbook) {
  currentSheet = sheet;
  const toolbar = toolbarFor("sheet").map((item) => item.render({ ...ctx, sheet, workbook })).filter(Boolean);
  for (const p of panelsFor("sheet")) {
    toolbar.push(h("button", { type: "button", "data-panel": p.id, onclick: () => openPanel(p.id) }, p.label));
  }
  grid = new Grid(main, { api: ctx.api, sheet, canEdit: ctx.session.canEdit, notify, toolbar });
  showLive();
  grid.load();
  emit("sheet:opened", { ctx, sheet, workbook, grid });
}

let panelCleanup = null;
function openPanel(id) {
  const found = panel(id);
  if (!found) return;
  if (typeof panelCleanup === "function") panelCleanup();
  panelEl.hidden = false;
  panelEl.setAttribute("aria-label", found.label);
  const body = h("div", { class: "panel-body" });
  const close = h("button", { type: "button", "aria-label": `Close ${found.label}`, onclick: () => {
    if (typeof panelCleanup === "function") panelCleanup();
    panelCleanup = null;
    panelEl.hidden = true;
  } }, "×");
  panelEl.replaceChildren(h("header", {}, h("h2", {}, found.label), close), body);
  panelCleanup = found.mount(body, { ...ctx, sheet: currentSheet, grid });
}

boot().catch((error) => fatal(error));
