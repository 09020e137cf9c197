// The History panel: the space's versions (GET /v1/spaces/{id}/versions, paged, this sheet's record
// commits), a restore preview of the open sheet to a version (GET /v1/spaces/{id}/restore?versionId=…
// &sheetId=…) run after a confirm (POST, a `space:restore` job followed to its outcome), and a
// cell's history (GET /v1/sheets/{id}/records/{rid}/history?field=…) from the cell's context menu
// (right click, or the context-menu key / Shift+F10 on the active cell).
import { h } from "./dom.js";
import { confirmDialog, errorLine, followJob, jobProgress, outcomeDialog } from "./jobs.js";
import { on, registerPanel } from "./registry.js";

const PAGE = 20;
let wanted = null; // { recordId, field, row } the panel should open on (a cell's history)

export function setup(ctx) {
  registerPanel({ id: "history", label: "History", where: "sheet", mount: (body, panelCtx) => mount(ctx, body, panelCtx) });
  on("sheet:opened", ({ grid }) => {
    const open = (row, col) => {
      const record = grid.recordAt(row);
      const field = grid.fields[col];
      if (!record || !field) return;
      wanted = { recordId: record.id, field, row };
      ctx.openPanel("history");
    };
    grid.rowsEl.addEventListener("contextmenu", (event) => {
      const cell = event.target.closest("[role=gridcell][data-row]");
      if (!cell) return;
      event.preventDefault();
      open(Number(cell.dataset.row), Number(cell.dataset.col));
    });
    grid.gridEl.addEventListener("keydown", (event) => {
      if (grid.editing || !(event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey))) return;
      event.preventDefault();
      open(grid.active.row, grid.active.col);
    });
  });
}

function when(text) {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? String(text) : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}

function value(v) {
  if (v === null || v === undefined || v === "") return "(empty)";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function mount(ctx, body, { sheet }) {
  const cellBox = h("section", { class: "cell-history", "data-testid": "cell-history" });
  const list = h("ol", { class: "versions", "data-testid": "versions" });
  const pager = h("div", { class: "pager" });
  const preview = h("section", { class: "restore-preview", "data-testid": "restore-preview" });
  body.append(cellBox, h("h3", {}, "Versions of this sheet"), list, pager, preview);
  let page = 1;

  async function showCell(target) {
    const label = target.field.label || target.field.key;
    cellBox.replaceChildren(h("h3", {}, `${label}, row ${target.row + 1}`), h("p", { class: "muted" }, "Loading…"));
    try {
      const versions = (await ctx.api.get(`/v1/sheets/${encodeURIComponent(sheet.id)}/records/${encodeURIComponent(target.recordId)}/history`,
        { field: target.field.key })).data;
      cellBox.replaceChildren(h("h3", {}, `${label}, row ${target.row + 1}`),
        versions.length ? h("ol", { class: "cell-versions" }, versions.map((v) => h("li", {},
          h("strong", {}, value(v.value)), v.valid === false ? h("span", { class: "bad" }, " invalid") : null,
          h("small", {}, ` · ${when(v.createdAt)} · ${(v.provenance && v.provenance.kind) || v.actorId || ""}`))))
          : h("p", {}, "No history for this cell."));
    } catch (error) {
      cellBox.replaceChildren(h("p", { role: "alert" }, `The cell's history cannot be read. ${errorLine(error)}`));
    }
  }

  async function showPage() {
    list.replaceChildren(h("li", { class: "muted" }, "Loading…"));
    let reply;
    try {
      reply = await ctx.api.get(`/v1/spaces/${encodeURIComponent(ctx.spaceId)}/versions`, { sheetId: sheet.id, pageSize: PAGE, pageNumber: page });
    } catch (error) {
      list.replaceChildren(h("li", { role: "alert" }, `The history cannot be read. ${errorLine(error)}`));
      return;
    }
    const pages = (reply.pagination && reply.pagination.pageCount) || 1;
    list.replaceChildren(...reply.data.map((v) => h("li", { "data-version": v.id },
      h("span", { class: "kind" }, v.kind), h("small", {}, ` · ${when(v.createdAt)}${v.counts && v.counts.records ? ` · ${v.counts.records} records` : ""}`),
      ctx.session.kind === "secret" // restores need a secret key (the API answers 403 to guests)
        ? h("button", { type: "button", onclick: () => showPreview(v) }, "Preview restore") : null)));
    if (!reply.data.length) list.replaceChildren(h("li", {}, "No changes yet."));
    pager.replaceChildren(
      h("button", { type: "button", disabled: page <= 1, onclick: () => { page -= 1; showPage(); } }, "Newer"),
      h("span", {}, ` Page ${page} of ${pages} `),
      h("button", { type: "button", disabled: page >= pages, onclick: () => { page += 1; showPage(); } }, "Older"));
  }

  async function showPreview(version) {
    preview.replaceChildren(h("p", {}, "Computing what a restore would change…"));
    let found;
    try {
      found = (await ctx.api.get(`/v1/spaces/${encodeURIComponent(ctx.spaceId)}/restore`, { versionId: version.id, sheetId: sheet.id })).data;
    } catch (error) {
      preview.replaceChildren(h("p", { role: "alert" }, `No preview. ${errorLine(error)}`));
      return;
    }
    const [change] = (found.sheets || []).filter((s) => s.sheetId === sheet.id);
    const c = change || { createdSince: 0, updatedSince: 0, deletedSince: 0 };
    const summary = `${c.createdSince} created since would be deleted, ${c.updatedSince} updated since reverted, ${c.deletedSince} deleted since re-created`;
    const nothing = !(c.createdSince || c.updatedSince || c.deletedSince);
    preview.replaceChildren(h("h3", {}, `Restore ${sheet.name} to ${when(version.createdAt)}`),
      h("p", { "data-testid": "restore-summary" }, nothing ? "Nothing to restore: the sheet is as it was then." : summary),
      nothing ? null : h("button", { type: "button", class: "primary", onclick: () => runRestore(version, summary) }, "Restore…"));
  }

  async function runRestore(version, summary) {
    const yes = await confirmDialog({ title: `Restore ${sheet.name}?`, text: `${summary}. The restore is itself a new version: it can be undone.`, confirmLabel: "Restore" });
    if (!yes) return;
    const progress = jobProgress(`Restoring ${sheet.name}`);
    preview.replaceChildren(progress.el);
    let job;
    try {
      const created = (await ctx.api.post(`/v1/spaces/${encodeURIComponent(ctx.spaceId)}/restore`, { versionId: version.id, sheetId: sheet.id })).data;
      job = await followJob(ctx.api, created.id, (j) => progress.update(j));
    } catch (error) {
      preview.replaceChildren(h("p", { role: "alert" }, `Not restored. ${errorLine(error)}`));
      return;
    }
    const grid = ctx.currentGrid();
    if (grid) grid.refresh();
    preview.replaceChildren(h("p", {}, (job.outcome && job.outcome.message) || job.status));
    page = 1;
    showPage();
    await outcomeDialog(job, "Restore");
  }

  if (wanted) { showCell(wanted); wanted = null; } else cellBox.append(h("p", { class: "muted" }, "Right-click a cell (or press Shift+F10) for its history."));
  showPage();
  return null;
}
