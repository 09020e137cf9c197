// Actions as buttons: the workbook's `actions` and the sheet's `config.actions` (Flatfile's shape:
// operation, label, primary, mode, confirm, description, constraints) in the sheet's toolbar.
// Constraints disable them: hasData and hasAllValid from the counts (every sheet of the workbook
// for a workbook action), hasSelection from the grid's row checkboxes. A click (after the confirm
// dialog when `confirm`) creates the action's job (POST /v1/jobs {type, operation, source, subject}),
// follows its progress and shows its outcome dialog (outcome.heading, outcome.message).
import { h } from "./dom.js";
import { errorLine, followJob, jobProgress, outcomeDialog, confirmDialog } from "./jobs.js";
import { on, registerToolbarItem } from "./registry.js";

let current = null; // { sheet, workbook, buttons: [{ action, kind, button }], counts: Map(sheetId -> counts) }

export function setup(ctx) {
  registerToolbarItem({ id: "actions", where: "sheet", order: 80, render: (itemCtx) => render(ctx, itemCtx) });
  on("sheet:opened", ({ grid }) => { if (current) { current.grid = grid; refresh(ctx); } });
  on("sheet:closed", () => { current = null; });
  on("grid:changed", () => refresh(ctx));
  on("grid:selection", () => update(ctx));
}

function kinds(action) {
  const found = new Set((action.constraints || []).map((c) => c && c.type).filter(Boolean));
  if (action.requireAllValid) found.add("hasAllValid");
  if (action.requireSelection) found.add("hasSelection");
  return found;
}

function render(ctx, { sheet, workbook }) {
  const workbookActions = (workbook && workbook.actions) || [];
  const sheetActions = (sheet.config && sheet.config.actions) || [];
  const all = [...sheetActions.map((a) => ({ action: a, kind: "sheet" })), ...workbookActions.map((a) => ({ action: a, kind: "workbook" }))]
    .filter(({ action }) => action && (action.operation || action.slug) && !(action.mode === "hidden"));
  current = { sheet, workbook, grid: null, buttons: [], counts: new Map() };
  if (!all.length) return null;
  const state = current;
  for (const entry of all) {
    const { action } = entry;
    const label = action.label || action.operation || action.slug;
    entry.button = h("button", {
      type: "button", class: action.primary ? "primary action" : "action", "data-action": action.operation || action.slug,
      "data-kind": entry.kind, title: action.description || action.tooltip || null,
      onclick: () => run(ctx, state, entry),
    }, label);
    state.buttons.push(entry);
  }
  const group = h("div", { class: "actions", role: "group", "aria-label": "Actions", "data-testid": "actions" },
    state.buttons.map((b) => b.button));
  state.reason = h("span", { class: "visually-hidden", id: `actions-why-${sheet.id}` });
  group.append(state.reason);
  update(ctx);
  return group;
}

async function refresh(ctx) {
  const state = current;
  if (!state || !state.buttons.length) return;
  const needWorkbook = state.buttons.some((b) => b.kind === "workbook" && kinds(b.action).size);
  const sheets = needWorkbook ? (state.workbook.sheets || []).map((s) => s.id) : [state.sheet.id];
  try {
    const found = await Promise.all(sheets.map((id) => ctx.api.counts(id)));
    sheets.forEach((id, i) => state.counts.set(id, found[i]));
  } catch {
    /* counts unavailable: leave the buttons as they are; the server re-checks every constraint */
  }
  if (state === current) update(ctx);
}

/** Why `entry` cannot run now (or "" when it can). */
function blocked(ctx, state, entry) {
  if (!ctx.session.canEdit) return "View only: your access does not allow running actions.";
  const need = kinds(entry.action);
  const selected = state.grid ? state.grid.selected.size : 0;
  const sheetIds = entry.kind === "workbook" ? (state.workbook.sheets || []).map((s) => s.id) : [state.sheet.id];
  const counts = sheetIds.map((id) => state.counts.get(id));
  const known = counts.every(Boolean);
  if (need.has("hasSelection") && entry.kind === "sheet" && !selected) return "Select records first.";
  if (need.has("hasData") && known && counts.every((c) => !c.total)) return "There are no records yet.";
  if (need.has("hasAllValid") && known) {
    const invalid = counts.reduce((n, c) => n + (c.error || 0), 0);
    if (invalid && !(entry.kind === "sheet" && selected)) return `Fix the ${invalid.toLocaleString("en")} invalid records first.`;
  }
  return "";
}

function update(ctx) {
  const state = current;
  if (!state) return;
  for (const entry of state.buttons) {
    if (entry.running) continue;
    const why = blocked(ctx, state, entry);
    entry.button.disabled = Boolean(why);
    entry.button.dataset.blocked = why;
    const description = entry.action.description || entry.action.tooltip || "";
    entry.button.title = why || description;
  }
}

async function run(ctx, state, entry) {
  const { action } = entry;
  const label = action.label || action.operation;
  const why = blocked(ctx, state, entry);
  if (why) { ctx.notify(why, "info"); return; }
  if (action.confirm) {
    const yes = await confirmDialog({ title: `${label}?`, text: action.description || `Run “${label}” now?`, confirmLabel: label });
    if (!yes) return;
  }
  // trigger immediate (as Flatfile's app does): the job is `ready` at once and its listener picks it up
  const body = { type: entry.kind, operation: action.operation || action.slug, source: entry.kind === "sheet" ? state.sheet.id : state.workbook.id,
    trigger: "immediate" };
  const selected = state.grid ? [...state.grid.selected] : [];
  if (entry.kind === "sheet" && selected.length) body.subject = { type: "collection", resource: "records", query: { ids: selected } };
  entry.running = true;
  entry.button.disabled = true;
  entry.button.setAttribute("aria-busy", "true");
  const progress = jobProgress(label);
  const slot = h("div", { class: "action-progress", "data-testid": "action-progress" }, progress.el);
  let overlay = null;
  if (action.mode === "foreground" || action.mode === "toolbarBlocking") {
    overlay = h("dialog", { class: "modal", "aria-label": `${label} running` }, slot);
    document.body.append(overlay);
    overlay.addEventListener("cancel", (event) => event.preventDefault()); // a foreground job holds the page
    overlay.showModal();
  } else {
    document.getElementById("toasts").append(slot);
  }
  let job = null;
  try {
    const created = (await ctx.api.post("/v1/jobs", body)).data;
    progress.update(created);
    job = await followJob(ctx.api, created.id, (j) => progress.update(j));
  } catch (error) {
    ctx.notify(`${label} did not run. ${errorLine(error)}`, "error");
  } finally {
    entry.running = false;
    entry.button.removeAttribute("aria-busy");
    if (overlay) { overlay.close(); overlay.remove(); }
    slot.remove();
    update(ctx);
  }
  if (!job) return;
  if (entry.kind === "sheet" || entry.kind === "workbook") {
    const grid = ctx.currentGrid();
    if (grid) grid.refresh();
  }
  await outcomeDialog(job, label);
  if (job.outcome && job.outcome.acknowledge !== false) {
    ctx.api.post(`/v1/jobs/${encodeURIComponent(job.id)}/outcome/ack`).catch(() => {});
  }
}
