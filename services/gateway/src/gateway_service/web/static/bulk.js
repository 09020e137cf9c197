// Bulk work on the open sheet: delete the selected records (DELETE /v1/sheets/{id}/records?ids=…,
// after a confirm), download the sheet as CSV (GET …/download, with the grid's filter/search/sort)
// and find-and-replace in one field (PUT …/find-replace {fieldKey, find, replace}, one commit).
import { h } from "./dom.js";
import { confirmDialog, errorLine } from "./jobs.js";
import { on, registerPanel, registerToolbarItem } from "./registry.js";

let deleteButton = null;

export function setup(ctx) {
  if (ctx.session.canEdit) {
    registerToolbarItem({ id: "bulk-delete", where: "sheet", order: 40, render: ({ sheet }) => renderDelete(ctx, sheet) });
    registerPanel({ id: "find-replace", label: "Find and replace", where: "sheet", mount: (body, panelCtx) => mountFindReplace(ctx, body, panelCtx) });
  }
  registerToolbarItem({ id: "download", where: "sheet", order: 50, render: ({ sheet }) =>
    h("button", { type: "button", "data-testid": "download", onclick: () => download(ctx, sheet) }, "Download CSV") });
  on("grid:selection", ({ selected }) => showSelection(selected.size));
  on("sheet:closed", () => { deleteButton = null; });
}

function showSelection(n) {
  if (!deleteButton) return;
  deleteButton.disabled = n === 0;
  deleteButton.textContent = n ? `Delete ${n.toLocaleString("en")} selected` : "Delete selected";
}

function renderDelete(ctx, sheet) {
  if (sheet.config && sheet.config.readonly) return null;
  deleteButton = h("button", { type: "button", class: "danger-outline", "data-testid": "bulk-delete", disabled: true,
    onclick: () => deleteSelected(ctx, sheet) }, "Delete selected");
  return deleteButton;
}

async function deleteSelected(ctx, sheet) {
  const grid = ctx.currentGrid();
  if (!grid || !grid.selected.size) return;
  const ids = [...grid.selected];
  const n = ids.length;
  const yes = await confirmDialog({ title: `Delete ${n} record${n === 1 ? "" : "s"}?`,
    text: `The selected record${n === 1 ? "" : "s"} of ${sheet.name} will be deleted. The space's history keeps them: an admin can restore them.`,
    confirmLabel: "Delete", danger: true });
  if (!yes) return;
  try {
    for (let i = 0; i < ids.length; i += 200) { // keep the URL short
      await ctx.api.delete(`/v1/sheets/${encodeURIComponent(sheet.id)}/records`, { ids: ids.slice(i, i + 200) });
    }
  } catch (error) {
    ctx.notify(`Not deleted. ${errorLine(error)}`, "error");
    return; // the selection stays: nothing lost, try again
  }
  ctx.notify(`Deleted ${n} record${n === 1 ? "" : "s"}.`);
  grid.clearSelection();
  await grid.refresh();
}

async function download(ctx, sheet) {
  const grid = ctx.currentGrid();
  const url = new URL(`/v1/sheets/${encodeURIComponent(sheet.id)}/download`, window.location.origin);
  for (const [name, value] of Object.entries(grid ? grid.recordQuery() : {})) if (value !== undefined) url.searchParams.set(name, value);
  let blob;
  try {
    const reply = await fetch(url, { headers: ctx.api.headers() });
    if (!reply.ok) throw Object.assign(new Error(`HTTP ${reply.status}`), { kind: reply.status === 403 ? "forbidden" : reply.status >= 500 ? "server" : "invalid" });
    blob = await reply.blob();
  } catch (error) {
    ctx.notify(`The download failed. ${error.kind ? errorLine(error) : "The server cannot be reached."}`, "error");
    return;
  }
  const link = h("a", { href: URL.createObjectURL(blob), download: `${(sheet.slug || sheet.name || sheet.id).replace(/[^\w.-]+/g, "_")}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function mountFindReplace(ctx, body, { sheet }) {
  const fields = ((sheet.config && sheet.config.fields) || []).filter((f) => !f.readonly);
  const field = h("select", { id: "fr-field" }, fields.map((f) => h("option", { value: f.key }, f.label || f.key)));
  const find = h("input", { type: "text", id: "fr-find", autocomplete: "off" });
  const replace = h("input", { type: "text", id: "fr-replace", autocomplete: "off" });
  const result = h("p", { class: "fr-result", role: "status", "aria-live": "polite", "data-testid": "fr-result" });
  const submit = h("button", { type: "submit", class: "primary" }, "Replace all");
  const form = h("form", { class: "find-replace", "data-testid": "find-replace" },
    h("label", { for: "fr-field" }, "Field"), field,
    h("label", { for: "fr-find" }, "Find"), find,
    h("label", { for: "fr-replace" }, "Replace with"), replace,
    h("small", {}, "Finds text inside values; put it in \"quotes\" to match whole values only; leave Find empty to fill empty cells. Applies to the records the grid shows (its filter and search)."),
    submit, result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const grid = ctx.currentGrid();
    submit.disabled = true;
    result.textContent = "Replacing…";
    try {
      await ctx.api.request("PUT", `/v1/sheets/${encodeURIComponent(sheet.id)}/find-replace`, {
        body: { fieldKey: field.value, find: find.value === "" ? null : find.value, replace: replace.value === "" ? null : replace.value },
        query: grid ? grid.recordQuery() : {},
      });
      result.textContent = `Replaced “${find.value}” with “${replace.value}” in ${field.selectedOptions[0].textContent}.`;
      if (grid) await grid.refresh();
    } catch (error) {
      result.textContent = `Nothing replaced. ${errorLine(error)}`;
    } finally {
      submit.disabled = false;
    }
  });
  body.append(form);
  setTimeout(() => find.focus(), 0);
  return null;
}
