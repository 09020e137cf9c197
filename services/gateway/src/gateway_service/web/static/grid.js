// The records grid: virtual scrolling over pages of GET /v1/sheets/{id}/records (pageSize/pageNumber),
// invalid cells marked with their messages, filter all/valid/error with counts, search, sort,
// inline edit through PUT /v1/sheets/{id}/records, keyboard navigation, ARIA grid roles.
//
// Only the visible rows exist in the DOM. Scroll positions map to row numbers through one formula
// that also works when the sheet is taller than a browser can scroll (the spacer is capped at
// MAX_PX and the position is scaled), so 1,000,000 rows scroll like 1,000.
import { describe } from "./api.js";
import { h } from "./dom.js";
import { emit } from "./registry.js";

const PAGE = 100; // records per request
const MAX_PAGES = 80; // pages kept in memory
const MAX_PX = 8_000_000; // tallest spacer (browsers stop somewhere above 16M px)
const ROW_H = 30;
const FETCH_DELAY = 40; // ms after the last scroll before pages are asked for
const FILTERS = [["all", "All"], ["valid", "Valid"], ["error", "Errors"]];

export function cellText(cell) {
  const value = cell ? cell.value : null;
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function cellMessages(cell) {
  return (cell && Array.isArray(cell.messages)) ? cell.messages : [];
}

function coerce(text, field) {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  if (field.type === "number") {
    const number = Number(trimmed);
    return Number.isFinite(number) ? number : text;
  }
  if (field.type === "boolean") {
    if (/^(true|yes|1)$/i.test(trimmed)) return true;
    if (/^(false|no|0)$/i.test(trimmed)) return false;
  }
  return text;
}

export class Grid {
  /** options: { api, sheet, canEdit, notify(text, kind), toolbar: HTMLElement[] } */
  constructor(container, { api, sheet, canEdit, notify, toolbar = [] }) {
    this.api = api;
    this.sheet = sheet;
    this.fields = (sheet.config && sheet.config.fields) || [];
    this.sheetReadonly = Boolean(sheet.config && sheet.config.readonly) || Boolean(sheet.lockedBy);
    this.canEdit = canEdit && !this.sheetReadonly;
    this.notify = notify;
    this.query = { filter: "all", searchValue: "", sortField: null, sortDirection: "asc" };
    this.counts = null;
    this.total = 0;
    this.pages = new Map(); // pageNumber -> records
    this.loading = new Set(); // pageNumbers in flight
    this.generation = 0; // bumped when the query changes: late pages of an older query are dropped
    this.active = { row: 0, col: 0 };
    this.editing = null; // { row, col, input }
    this.selected = new Set(); // ids of the records whose row checkbox is ticked (bulk actions use it)
    this.fetchTimer = null;
    this.frame = 0;
    this.build(container, toolbar);
  }

  // ---- DOM ---------------------------------------------------------------------------------

  build(container, toolbar) {
    const name = this.sheet.name;
    this.filterButtons = FILTERS.map(([filter, label]) =>
      h("button", { type: "button", "data-filter": filter, "aria-pressed": String(filter === "all"),
        onclick: () => this.setQuery({ filter }) }, label, h("span", { class: "count" }, "")));
    this.search = h("input", { type: "search", id: `search-${this.sheet.id}`, placeholder: "Search records",
      "aria-label": `Search ${name}`, autocomplete: "off" });
    let searchTimer = null;
    this.search.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => this.setQuery({ searchValue: this.search.value.trim() }), 300);
    });
    this.status = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    const note = this.canEdit ? null
      : h("span", { class: "readonly-note", "data-testid": "readonly-note" },
        this.sheetReadonly ? "This sheet is read-only" : "View only: your access does not allow editing");
    this.header = h("header", { class: "sheet-header" },
      h("h2", { id: `title-${this.sheet.id}` }, name),
      h("div", { class: "toolbar", role: "toolbar", "aria-label": `${name} tools` },
        h("div", { class: "filters", role: "group", "aria-label": "Show records" }, this.filterButtons),
        this.search, note, ...toolbar, h("span", { class: "spacer" }), this.liveSlot = h("span", {})));

    const headCells = [h("div", { class: "head-cell num", role: "columnheader", "aria-colindex": "1" }, "#")];
    this.fields.forEach((field, col) => {
      const required = (field.constraints || []).some((c) => c.type === "required");
      const button = h("button", { type: "button", tabindex: "-1", title: `Sort by ${field.label || field.key}`,
        onclick: () => this.toggleSort(field.key) }, field.label || field.key,
      required ? h("span", { class: "req", "aria-label": "required" }, " *") : null);
      headCells.push(h("div", { class: "head-cell", role: "columnheader", "aria-colindex": String(col + 2),
        "aria-sort": "none", "data-key": field.key }, button));
    });
    this.headRow = h("div", { class: "grid-head", role: "row", "aria-rowindex": "1" }, headCells);
    this.rowsEl = h("div", { class: "rows", role: "rowgroup" });
    this.spacer = h("div", { class: "spacer-rows" }, this.rowsEl);
    this.viewport = h("div", { class: "viewport" },
      h("div", { role: "rowgroup", class: "head-group" }, this.headRow), this.spacer);
    this.gridEl = h("div", {
      class: "grid", role: "grid", tabindex: "0", "aria-labelledby": `title-${this.sheet.id}`,
      "aria-colcount": String(this.fields.length + 1), "aria-rowcount": "1",
      "aria-readonly": String(!this.canEdit), "aria-multiselectable": "false",
    }, this.viewport);
    const width = `calc(var(--num-w) + ${this.fields.length} * var(--col-w))`;
    this.spacer.style.width = width;
    this.rowsEl.style.width = width;
    this.headRow.style.width = width;

    this.viewport.addEventListener("scroll", () => this.onScroll());
    this.gridEl.addEventListener("keydown", (event) => this.onKey(event));
    this.rowsEl.addEventListener("click", (event) => this.onClick(event));
    this.rowsEl.addEventListener("click", (event) => this.onSelect(event));
    this.rowsEl.addEventListener("dblclick", (event) => {
      if (this.onClick(event)) this.startEdit();
    });
    this.resizeObserver = new ResizeObserver(() => this.render());
    this.resizeObserver.observe(this.viewport);
    this.root = h("section", { class: "sheet-view", "data-sheet-id": this.sheet.id, style: "display:contents" },
      this.header, this.gridEl, this.info = h("div", { class: "cell-info", "data-testid": "cell-info" }), this.status);
    container.replaceChildren(this.root);
  }

  destroy() {
    this.resizeObserver.disconnect();
    clearTimeout(this.fetchTimer);
    this.generation += 1;
  }

  // ---- data --------------------------------------------------------------------------------

  async load() {
    await this.refreshCounts();
    this.render();
  }

  /** Drop what is cached and read the visible pages and counts again (after a change elsewhere). */
  async refresh() {
    this.generation += 1;
    this.pages.clear();
    this.loading.clear();
    await this.refreshCounts();
    this.render();
    emit("grid:changed", { sheet: this.sheet, grid: this });
  }

  setQuery(change) {
    this.commitEdit();
    Object.assign(this.query, change);
    for (const button of this.filterButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.filter === this.query.filter));
    }
    for (const cell of this.headRow.querySelectorAll("[data-key]")) {
      const sorted = cell.dataset.key === this.query.sortField;
      cell.setAttribute("aria-sort", sorted ? (this.query.sortDirection === "asc" ? "ascending" : "descending") : "none");
    }
    this.viewport.scrollTop = 0;
    this.active.row = 0;
    this.refresh();
  }

  toggleSort(key) {
    if (this.query.sortField !== key) this.setQuery({ sortField: key, sortDirection: "asc" });
    else if (this.query.sortDirection === "asc") this.setQuery({ sortDirection: "desc" });
    else this.setQuery({ sortField: null, sortDirection: "asc" });
  }

  recordQuery() {
    const { filter, searchValue, sortField, sortDirection } = this.query;
    return {
      filter: filter === "all" ? undefined : filter,
      searchValue: searchValue || undefined,
      sortField: sortField || undefined,
      sortDirection: sortField ? sortDirection : undefined,
    };
  }

  async refreshCounts() {
    const generation = this.generation;
    try {
      const counts = await this.api.counts(this.sheet.id, { searchValue: this.query.searchValue || undefined });
      if (generation !== this.generation) return;
      this.counts = counts;
      const key = this.query.filter === "all" ? "total" : this.query.filter;
      this.total = counts[key] || 0;
      FILTERS.forEach(([filter], i) => {
        const n = counts[filter === "all" ? "total" : filter] || 0;
        this.filterButtons[i].querySelector(".count").textContent = n.toLocaleString("en");
      });
      this.gridEl.setAttribute("aria-rowcount", String(this.total + 1));
    } catch (error) {
      this.fail(error);
    }
  }

  fail(error) {
    const { title, detail } = describe(error);
    this.notify(detail && detail !== title ? `${title}: ${detail}` : title, "error");
  }

  recordAt(row) {
    const page = this.pages.get(Math.floor(row / PAGE) + 1);
    if (!page) return undefined;
    // recently used pages move to the end of the Map (LRU)
    return page[row % PAGE];
  }

  scheduleFetch() {
    clearTimeout(this.fetchTimer);
    this.fetchTimer = setTimeout(() => this.fetchVisible(), FETCH_DELAY);
  }

  fetchVisible() {
    const { first, count } = this.windowRows();
    const firstPage = Math.floor(first / PAGE) + 1;
    const lastPage = Math.floor(Math.max(first, first + count - 1) / PAGE) + 1;
    for (let page = firstPage; page <= lastPage; page += 1) {
      if ((page - 1) * PAGE >= this.total) break;
      if (this.pages.has(page)) {
        const records = this.pages.get(page);
        this.pages.delete(page);
        this.pages.set(page, records);
      } else if (!this.loading.has(page)) {
        this.fetchPage(page);
      }
    }
  }

  async fetchPage(pageNumber) {
    const generation = this.generation;
    this.loading.add(pageNumber);
    try {
      const records = await this.api.records(this.sheet.id, { ...this.recordQuery(), pageSize: PAGE, pageNumber });
      if (generation !== this.generation) return;
      this.pages.set(pageNumber, records);
      while (this.pages.size > MAX_PAGES) this.pages.delete(this.pages.keys().next().value);
      this.render();
    } catch (error) {
      if (generation === this.generation) this.fail(error);
    } finally {
      if (generation === this.generation) this.loading.delete(pageNumber);
    }
  }

  // ---- geometry ------------------------------------------------------------------------------

  /** The first visible row (fractional) for the current scroll position, and how many rows show. */
  windowRows() {
    const headH = this.headRow.offsetHeight || ROW_H;
    const bodyH = Math.max(ROW_H, this.viewport.clientHeight - headH);
    const visible = bodyH / ROW_H;
    const spacerH = Math.min(this.total * ROW_H, MAX_PX);
    const maxScroll = Math.max(0, spacerH - bodyH);
    const maxTop = Math.max(0, this.total - visible);
    const top = maxScroll > 0 ? (Math.min(this.viewport.scrollTop, maxScroll) / maxScroll) * maxTop : 0;
    const first = Math.floor(top);
    return { top, first, count: Math.ceil(visible) + 1, visible, maxScroll, maxTop, bodyH };
  }

  scrollForTop(top) {
    const { maxScroll, maxTop } = this.windowRows();
    return maxTop > 0 ? (top / maxTop) * maxScroll : 0;
  }

  /** Scroll so that `row` is fully visible. */
  reveal(row) {
    const { top, visible } = this.windowRows();
    let wanted = top;
    if (row < top) wanted = row;
    else if (row + 1 > top + visible) wanted = row + 1 - visible;
    if (wanted !== top) this.viewport.scrollTop = this.scrollForTop(wanted);
  }

  onScroll() {
    if (this.editing && Math.abs(this.viewport.scrollTop - this.editing.scrollTop) > 1) this.commitEdit();
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  // ---- rendering -----------------------------------------------------------------------------

  render() {
    this.spacer.style.height = `${Math.min(this.total * ROW_H, MAX_PX)}px`;
    if (this.editing) return; // the edited row stays as it is until the edit ends
    const { top, first, count } = this.windowRows();
    const offset = (top - first) * ROW_H;
    const scrollTop = Math.min(this.viewport.scrollTop, Math.max(0, this.spacer.offsetHeight));
    this.rowsEl.style.transform = `translateY(${Math.max(0, scrollTop - offset)}px)`;
    const rows = [];
    let missing = false;
    for (let row = first; row < Math.min(this.total, first + count); row += 1) {
      const record = this.recordAt(row);
      if (!record) missing = true;
      rows.push(this.renderRow(row, record));
    }
    if (!this.total) {
      rows.push(h("div", { class: "empty", role: "row" }, h("div", { role: "gridcell" },
        this.query.searchValue || this.query.filter !== "all" ? "No records match." : "No records yet.")));
    }
    this.rowsEl.replaceChildren(...rows);
    const activeId = this.cellId(this.active.row, this.active.col);
    if (document.getElementById(activeId)) this.gridEl.setAttribute("aria-activedescendant", activeId);
    else this.gridEl.removeAttribute("aria-activedescendant");
    if (missing) this.scheduleFetch();
    this.showInfo();
  }

  /** The footer line: where the active cell is and what its messages say. */
  showInfo() {
    const field = this.fields[this.active.col];
    const record = this.recordAt(this.active.row);
    if (!field || !this.total) {
      this.info.replaceChildren();
      return;
    }
    const messages = record ? cellMessages((record.values || {})[field.key]) : [];
    this.info.replaceChildren(
      h("span", { class: "where" }, `Row ${(this.active.row + 1).toLocaleString("en")} · ${field.label || field.key}`),
      ...messages.map((m) => h("span", { class: `message ${m.type}` }, m.message)));
  }

  cellId(row, col) {
    return `cell-${this.sheet.id}-${row}-${col}`;
  }

  renderRow(row, record) {
    const number = (row + 1).toLocaleString("en");
    // a role=checkbox span, not an <input>: the grid's only inputs are its cell editors
    const select = record ? h("span", { role: "checkbox", class: "select", tabindex: "-1", "data-select": record.id,
      "aria-label": `Select row ${number}`, "aria-checked": String(this.selected.has(record.id)) }) : null;
    const cells = [h("div", { class: "cell num", role: "rowheader", "aria-colindex": "1" }, select, number)];
    this.fields.forEach((field, col) => {
      const cell = record ? (record.values || {})[field.key] : undefined;
      const messages = cellMessages(cell);
      const errors = messages.filter((m) => m.type === "error");
      const warnings = messages.filter((m) => m.type === "warn");
      const classes = ["cell"];
      if (errors.length) classes.push("invalid");
      else if (warnings.length) classes.push("warn");
      if (row === this.active.row && col === this.active.col) classes.push("active");
      const text = record ? cellText(cell) : "";
      const note = messages.map((m) => m.message).join("\n");
      cells.push(h("div", {
        class: classes.join(" "), role: "gridcell", id: this.cellId(row, col), "aria-colindex": String(col + 2),
        "data-row": String(row), "data-col": String(col), "data-key": field.key,
        "aria-invalid": errors.length ? "true" : null, title: note || null,
        "aria-readonly": !this.canEdit || field.readonly ? "true" : null,
      }, h("span", { class: "value" }, text), note ? h("span", { class: "visually-hidden" }, ` (${note})`) : null));
    });
    return h("div", {
      class: record ? "row" : "row placeholder", role: "row", "aria-rowindex": String(row + 2),
      "data-record-id": record ? record.id : null, "aria-busy": record ? null : "true",
    }, cells);
  }

  // ---- interaction ---------------------------------------------------------------------------

  onClick(event) {
    const cell = event.target.closest("[role=gridcell][data-row]");
    if (!cell) return false;
    if (this.editing && this.editing.cell === cell) return false;
    this.commitEdit();
    this.active = { row: Number(cell.dataset.row), col: Number(cell.dataset.col) };
    this.gridEl.focus({ preventScroll: true });
    this.render();
    return true;
  }

  /** A row checkbox clicked: `selected` follows, "grid:selection" tells the bulk actions. */
  onSelect(event) {
    const box = event.target.closest("[data-select]");
    if (!box) return;
    const id = box.dataset.select;
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
    box.setAttribute("aria-checked", String(this.selected.has(id)));
    emit("grid:selection", { sheet: this.sheet, grid: this, selected: this.selected });
  }

  toggleSelected(row) {
    const record = this.recordAt(row);
    if (!record) return;
    if (this.selected.has(record.id)) this.selected.delete(record.id);
    else this.selected.add(record.id);
    this.render();
    emit("grid:selection", { sheet: this.sheet, grid: this, selected: this.selected });
  }

  clearSelection() {
    this.selected.clear();
    this.render();
    emit("grid:selection", { sheet: this.sheet, grid: this, selected: this.selected });
  }

  move(dRow, dCol) {
    const row = Math.max(0, Math.min(this.total - 1, this.active.row + dRow));
    const col = Math.max(0, Math.min(this.fields.length - 1, this.active.col + dCol));
    this.active = { row, col };
    this.reveal(row);
    this.render();
  }

  onKey(event) {
    if (this.editing) return; // the input handles its own keys
    const { visible } = this.windowRows();
    const page = Math.max(1, Math.floor(visible) - 1);
    const keys = {
      ArrowDown: () => this.move(1, 0), ArrowUp: () => this.move(-1, 0),
      ArrowRight: () => this.move(0, 1), ArrowLeft: () => this.move(0, -1),
      PageDown: () => this.move(page, 0), PageUp: () => this.move(-page, 0),
      Home: () => (event.ctrlKey ? this.move(-this.total, -this.fields.length) : this.move(0, -this.fields.length)),
      End: () => (event.ctrlKey ? this.move(this.total, this.fields.length) : this.move(0, this.fields.length)),
      Enter: () => this.startEdit(), F2: () => this.startEdit(),
      " ": () => this.toggleSelected(this.active.row), // Space ticks the active row's checkbox
    };
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  announce(text) {
    this.status.textContent = text;
  }

  /** Edit the active cell; `text`: what the input starts with (a failed save's text, kept). */
  startEdit(text = null) {
    const { row, col } = this.active;
    const record = this.recordAt(row);
    const field = this.fields[col];
    if (!record || !field) return;
    if (!this.canEdit || field.readonly) {
      const why = this.sheetReadonly ? "This sheet is read-only." : field.readonly ? `${field.label || field.key} is read-only.`
        : "View only: your access does not allow editing.";
      this.announce(why);
      this.notify(why, "info");
      return;
    }
    this.reveal(row);
    this.render();
    const cell = document.getElementById(this.cellId(row, col));
    if (!cell) return;
    const original = cellText((record.values || {})[field.key]);
    const input = h("input", { type: "text", "aria-label": `${field.label || field.key}, row ${row + 1}` });
    input.value = text ?? original;
    this.editing = { row, col, input, cell, original, record, field, scrollTop: this.viewport.scrollTop };
    cell.replaceChildren(input);
    input.focus();
    input.select();
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        this.commitEdit();
        this.gridEl.focus({ preventScroll: true });
        if (event.key === "Tab") this.move(0, event.shiftKey ? -1 : 1);
        else this.move(1, 0);
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.cancelEdit();
      }
      event.stopPropagation();
    });
    input.addEventListener("blur", () => this.commitEdit());
  }

  cancelEdit() {
    if (!this.editing) return;
    this.editing = null;
    this.gridEl.focus({ preventScroll: true });
    this.render();
  }

  commitEdit() {
    const editing = this.editing;
    if (!editing) return;
    this.editing = null;
    const text = editing.input.value;
    if (text !== editing.original) this.save(editing.row, editing.record, editing.field, text);
    this.render();
  }

  async save(row, record, field, text) {
    const value = coerce(text, field);
    const page = Math.floor(row / PAGE) + 1;
    const generation = this.generation;
    // show the new value at once (marked as saving) while the write goes through
    const pending = { ...record, values: { ...record.values, [field.key]: { ...(record.values || {})[field.key], value } } };
    this.replaceRecord(page, record.id, pending);
    this.render();
    const cell = document.getElementById(this.cellId(row, this.fields.indexOf(field)));
    if (cell) cell.classList.add("saving");
    try {
      await this.api.updateRecords(this.sheet.id, [{ id: record.id, values: { [field.key]: { value } } }]);
      const [fresh] = await this.api.records(this.sheet.id, { ids: record.id });
      if (generation !== this.generation) return;
      if (fresh) this.replaceRecord(page, record.id, fresh);
      const errors = cellMessages(fresh && fresh.values[field.key]).filter((m) => m.type === "error");
      this.announce(errors.length ? `Saved; ${field.label || field.key}: ${errors.map((m) => m.message).join("; ")}`
        : `Saved; ${field.label || field.key} is valid.`);
      this.render();
      await this.refreshCounts();
      emit("grid:changed", { sheet: this.sheet, grid: this });
    } catch (error) {
      // Nothing lost: the stored value is shown again and, if the write may succeed later, the
      // editor reopens with what was typed so Enter retries it.
      this.replaceRecord(page, record.id, record);
      this.render();
      const { title, detail } = describe(error);
      const retry = ["network", "server", "rateLimited"].includes(error.kind);
      this.notify(`Not saved. ${title}${detail && detail !== title ? `: ${detail}` : ""}${retry ? " Press Enter to try again." : ""}`,
        "error");
      if (retry && generation === this.generation && !this.editing) {
        this.active = { row, col: this.fields.indexOf(field) };
        this.startEdit(text);
      }
    }
  }

  replaceRecord(page, id, record) {
    const records = this.pages.get(page);
    if (!records) return;
    const at = records.findIndex((r) => r.id === id);
    if (at >= 0) records[at] = record;
  }
}
