// Import into the open sheet: a file drop zone (drag and drop or a file picker) uploading through
// POST /v1/files with a progress bar (XMLHttpRequest upload progress), the file's extraction job
// followed to its end, then the mapping screen: a `workbook:map` job from the file's workbook into
// this sheet, its plan (source column → destination field, enum values) edited and saved
// (PUT /v1/jobs/{id}/plan), run (POST …/execute) and followed; the grid then shows the records.
import { h } from "./dom.js";
import { DONE, errorLine, followJob, jobProgress, outcomeDialog } from "./jobs.js";
import { registerPanel } from "./registry.js";

const views = new Map(); // sheetId -> the panel's content, kept while the page lives (closing the panel loses nothing)

export function setup(ctx) {
  if (!ctx.session.canEdit) return; // a viewer cannot import
  // A guest limited to some workbooks imports too: its upload and the source workbook extracted from
  // it are its own (the API adds them to its grant; another guest's answer 404), and it maps into the
  // open sheet, which is in its grant.
  registerPanel({
    id: "import", label: "Import", where: "sheet",
    mount(body, panelCtx) {
      const sheet = panelCtx.sheet;
      if (!sheet) return null;
      if (!views.has(sheet.id)) views.set(sheet.id, new Importer(ctx, sheet).el);
      body.append(views.get(sheet.id));
      return null;
    },
  });
}

function sleep(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

/** POST /v1/files with upload progress; resolves with the file, rejects with {status, message}. */
function upload(api, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files");
    xhr.setRequestHeader("Authorization", `Bearer ${api.token}`);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(Math.round((event.loaded / event.total) * 100));
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 200 && body && body.data) { resolve(body.data); return; }
      const first = body && (body.errors || [])[0];
      reject({ status: xhr.status, message: (first && first.message) || (body && body.detail) || `HTTP ${xhr.status}` });
    });
    xhr.addEventListener("error", () => reject({ status: 0, message: "The server cannot be reached." }));
    xhr.addEventListener("abort", () => reject({ status: 0, message: "The upload was interrupted." }));
    xhr.send(form);
  });
}

function uploadMessage(error) {
  if (error.status === 413) return `This file is too large to upload. ${error.message}`;
  if (error.status === 0) return `The upload did not reach the server: ${error.message} Your file is still selected: try again.`;
  if (error.status === 401) return "This link has expired or is not valid.";
  if (error.status === 403) return "Your access does not allow uploading files here.";
  return `The upload failed: ${error.message}`;
}

function planned(plan) {
  return ["fieldMapping", "unmappedSourceFields", "unmappedDestinationFields"].some((k) => (plan[k] || []).length);
}

class Importer {
  constructor(ctx, sheet) {
    this.ctx = ctx;
    this.api = ctx.api;
    this.sheet = sheet;
    this.workbook = ctx.workbooks.find((wb) => (wb.sheets || []).some((s) => s.id === sheet.id));
    this.file = null; // the File chosen
    this.input = h("input", { type: "file", id: `file-${sheet.id}`, class: "file-input", accept: ".csv,.tsv,.txt,.json,.xlsx,.xls,text/csv" });
    this.input.addEventListener("change", () => this.input.files[0] && this.start(this.input.files[0]));
    const zone = h("label", { class: "drop-zone", for: this.input.id, "data-testid": "drop-zone" },
      h("strong", {}, "Drop a file here"), h("span", {}, " or "), h("span", { class: "link" }, "choose a file"),
      h("small", {}, `CSV, TSV, JSON or Excel, imported into ${sheet.name}`));
    for (const name of ["dragenter", "dragover"]) {
      zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); });
    }
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) this.start(file);
    });
    this.status = h("div", { class: "import-status", "data-testid": "import-status", role: "status", "aria-live": "polite" });
    this.stage = h("div", { class: "import-stage" });
    this.el = h("div", { class: "importer", "data-testid": "importer" }, h("div", { class: "picker" }, this.input, zone), this.status, this.stage);
  }

  say(text, kind = "info") {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
    this.status.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  async start(file) {
    this.file = file;
    this.planBox = null;
    const bar = h("progress", { max: "100", value: "0", "aria-label": `Uploading ${file.name}` });
    const retry = h("button", { type: "button", hidden: true, onclick: () => this.start(file) }, "Try again");
    this.stage.replaceChildren(h("div", { class: "upload", "data-testid": "upload" }, h("span", {}, file.name), bar, retry));
    this.say(`Uploading ${file.name}…`);
    const form = new FormData();
    form.append("spaceId", this.ctx.spaceId);
    if (this.ctx.space.environmentId) form.append("environmentId", this.ctx.space.environmentId);
    form.append("file", file, file.name);
    let created;
    try {
      created = await upload(this.api, form, (percent) => { bar.value = percent; });
    } catch (error) {
      this.say(uploadMessage(error), "error");
      retry.hidden = error.status === 413;
      return;
    }
    bar.value = 100;
    await this.extraction(created);
  }

  async extraction(created) {
    this.say(`Uploaded ${created.name}. Reading its rows…`);
    const progress = jobProgress(`Reading ${created.name}`);
    this.stage.append(progress.el);
    let job = null;
    try {
      for (let i = 0; !job && i < 100; i += 1) {
        const jobs = (await this.api.get("/v1/jobs", { fileId: created.id })).data;
        job = jobs.find((j) => j.operation === "extract") || jobs[0] || null;
        if (!job) await sleep(300);
      }
      if (!job) throw new Error("The file was uploaded but its rows were not read: try uploading it again.");
      job = await followJob(this.api, job.id, (j) => progress.update(j));
    } catch (error) {
      this.say(error.kind ? errorLine(error) : error.message, "error");
      return;
    }
    if (job.status !== "complete") {
      this.say(`This file could not be read: ${(job.outcome && job.outcome.message) || "the extraction failed."}`, "error");
      return;
    }
    let file;
    try {
      file = (await this.api.get(`/v1/files/${encodeURIComponent(created.id)}`)).data;
      if (file.sheetId && !(await this.api.counts(file.sheetId)).total) {
        this.say("This file has no rows to import: check that it has a header row and data below it.", "error");
        return;
      }
    } catch (error) {
      this.say(errorLine(error), "error");
      return;
    }
    const read = ((job.outcome && job.outcome.message) || "The file was read").replace(/[.!]?$/, ".");
    this.say(`${read} Now map its columns.`);
    await this.mapping(file);
  }

  async mapping(file) {
    if (!file.workbookId || !file.sheetId) {
      this.say("The file has no rows to import.", "error");
      return;
    }
    let job;
    try {
      job = (await this.api.post("/v1/jobs", {
        type: "workbook", operation: "map", source: file.workbookId, destination: this.workbook.id,
        config: { sourceSheetId: file.sheetId, destinationSheetId: this.sheet.id },
      })).data;
      let found = null;
      for (let i = 0; i < 150; i += 1) {
        found = (await this.api.get(`/v1/jobs/${encodeURIComponent(job.id)}/plan`)).data;
        if (planned(found.plan) || DONE.has(found.job.status)) break;
        await sleep(300);
      }
      if (!found || !planned(found.plan)) throw new Error("The mapping could not be planned.");
      this.jobId = job.id;
      this.sourceSheetId = file.sheetId;
      this.showPlan(found.plan);
    } catch (error) {
      this.say(error.kind ? `The mapping could not start. ${errorLine(error)}` : error.message, "error");
    }
  }

  showPlan(plan) {
    const fields = (this.sheet.config && this.sheet.config.fields) || [];
    const sources = [
      ...(plan.fieldMapping || []).map((edge) => ({ source: edge.sourceField, destination: edge.destinationField.key, edge })),
      ...(plan.unmappedSourceFields || []).map((u) => ({ source: u.sourceField, destination: "", edge: null })),
    ];
    this.rows = sources.map(({ source, destination, edge }) => {
      const label = source.label || source.key;
      const select = h("select", { "aria-label": `Destination field for ${label}`, "data-source": source.key },
        h("option", { value: "" }, "— don't import —"),
        fields.map((f) => h("option", { value: f.key, selected: f.key === destination ? "" : null }, f.label || f.key)));
      select.value = destination;
      const enumBox = h("div", { class: "enum-map" });
      const row = { source, select, enumBox, enumSelects: [] };
      const renderEnum = (mapping) => this.renderEnum(row, fields.find((f) => f.key === select.value), mapping);
      select.addEventListener("change", () => renderEnum([]));
      renderEnum((edge && edge.enumDetails && edge.enumDetails.mapping) || []);
      row.el = h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, "→"), h("td", {}, select, enumBox));
      return row;
    });
    const save = h("button", { type: "button", onclick: () => this.save(false) }, "Save mapping");
    const run = h("button", { type: "button", class: "primary", onclick: () => this.save(true) }, "Import records");
    this.planBox = this.planBox || h("div", { class: "plan-box" });
    this.stage.append(this.planBox);
    this.planBox.replaceChildren(h("section", { class: "mapping", "data-testid": "mapping", "aria-label": "Map columns" },
      h("h3", {}, `Map columns into ${this.sheet.name}`),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Column in the file"), h("th", {}, ""),
        h("th", { scope: "col" }, "Field"))), h("tbody", {}, this.rows.map((r) => r.el))),
      h("div", { class: "mapping-buttons" }, save, run)));
  }

  /** The value mapping of an enum destination: each distinct source value (GET …/cells) → an option. */
  async renderEnum(row, field, planned) {
    row.enumSelects = [];
    row.enumBox.replaceChildren();
    if (!field || field.type !== "enum") return;
    const options = (field.config && field.config.options) || [];
    const chosen = new Map(planned.map((m) => [String(m.sourceValue), m.destinationValue]));
    let values = planned.map((m) => m.sourceValue);
    try {
      const cells = (await this.api.get(`/v1/sheets/${encodeURIComponent(this.sourceSheetId)}/cells`,
        { fieldKey: row.source.key, pageSize: 100 })).data[row.source.key] || [];
      values = [...new Set([...values, ...cells.map((c) => c.value).filter((v) => v !== null && v !== "")])];
    } catch {
      /* the planned values only */
    }
    if (row.select.value !== field.key) return; // changed again meanwhile
    const guess = (value) => {
      const text = String(value).trim().toLowerCase();
      const found = options.find((o) => String(o.value).toLowerCase() === text || String(o.label || "").toLowerCase() === text);
      return found ? found.value : null;
    };
    const mapping = values.map((v) => ({ sourceValue: v, destinationValue: chosen.has(String(v)) ? chosen.get(String(v)) : guess(v) }));
    if (!mapping.length) return;
    row.enumSelects = mapping.map((m) => {
      const select = h("select", { "aria-label": `Value for ${m.sourceValue}`, "data-source-value": String(m.sourceValue) },
        h("option", { value: "" }, "— leave empty —"),
        options.map((o) => h("option", { value: String(o.value) }, o.label || String(o.value))));
      select.value = m.destinationValue === null || m.destinationValue === undefined ? "" : String(m.destinationValue);
      return { sourceValue: m.sourceValue, select };
    });
    row.enumBox.replaceChildren(h("small", {}, "Values:"),
      ...row.enumSelects.map(({ sourceValue, select }) => h("label", {}, `${sourceValue} → `, select)));
  }

  planBody() {
    const fieldMapping = [];
    const unmappedSourceFields = [];
    for (const row of this.rows) {
      if (!row.select.value) { unmappedSourceFields.push({ sourceField: { key: row.source.key } }); continue; }
      const edge = { sourceField: { key: row.source.key }, destinationField: { key: row.select.value } };
      if (row.enumSelects.length) {
        const mapping = row.enumSelects.filter(({ select }) => select.value)
          .map(({ sourceValue, select }) => ({ sourceValue, destinationValue: select.value }));
        if (mapping.length) edge.enumDetails = { mapping };
      }
      fieldMapping.push(edge);
    }
    return { fieldMapping, unmappedSourceFields };
  }

  async save(andRun) {
    const buttons = [...this.planBox.querySelectorAll(".mapping-buttons button")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const saved = (await this.api.put(`/v1/jobs/${encodeURIComponent(this.jobId)}/plan`, this.planBody())).data;
      if (!andRun) {
        this.say("Mapping saved.");
        this.showPlan(saved.plan);
        return;
      }
      await this.api.post(`/v1/jobs/${encodeURIComponent(this.jobId)}/execute`);
    } catch (error) {
      this.say(`${andRun ? "The import did not start" : "The mapping was not saved"}. ${errorLine(error)}`, "error");
      buttons.forEach((b) => { b.disabled = false; });
      return;
    }
    this.say("Importing records…");
    const progress = jobProgress(`Importing into ${this.sheet.name}`);
    this.planBox.replaceChildren(progress.el);
    let job;
    try {
      job = await followJob(this.api, this.jobId, (j) => progress.update(j));
    } catch (error) {
      this.say(errorLine(error), "error");
      return;
    }
    const message = (job.outcome && job.outcome.message) || (job.status === "complete" ? "Imported." : "The import failed.");
    this.say(message, job.status === "complete" ? "info" : "error");
    const again = h("button", { type: "button", onclick: () => { this.stage.replaceChildren(); this.say(""); this.input.value = ""; } },
      "Import another file");
    this.planBox.append(again);
    const grid = this.ctx.currentGrid();
    if (grid && grid.sheet.id === this.sheet.id) grid.refresh();
    await outcomeDialog(job, "Import");
  }
}
