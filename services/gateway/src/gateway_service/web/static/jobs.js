// Shared by the feature modules: following a job to its end (GET /v1/jobs/{id}, nudged by the SSE
// feed's job:* events), a progress line, confirm and outcome dialogs (<dialog>, keyboard friendly).
import { describe } from "./api.js";
import { h } from "./dom.js";
import { on } from "./registry.js";

export const DONE = new Set(["complete", "failed", "canceled"]);

/** Poll the job until it ends; `onUpdate(job)` on every read. Resolves with the final job. */
export function followJob(api, jobId, onUpdate = () => {}, { interval = 400 } = {}) {
  return new Promise((resolve, reject) => {
    let timer = null;
    let stopped = false;
    let failures = 0;
    const off = on("feed", (event) => {
      if (event && event.context && event.context.jobId === jobId) { clearTimeout(timer); tick(); }
    });
    async function tick() {
      if (stopped) return;
      try {
        const job = (await api.get(`/v1/jobs/${encodeURIComponent(jobId)}`)).data;
        failures = 0;
        onUpdate(job);
        if (DONE.has(job.status)) { stopped = true; off(); resolve(job); return; }
      } catch (error) {
        failures += 1;
        if (failures > 20 || (error.kind && !["network", "server", "rateLimited"].includes(error.kind))) {
          stopped = true; off(); reject(error); return;
        }
      }
      timer = setTimeout(tick, interval);
    }
    tick();
  });
}

/** A progress element for a job: label, <progress>, info line. */
export function jobProgress(label) {
  const bar = h("progress", { max: "100", "aria-label": label });
  const text = h("span", { class: "job-info", role: "status", "aria-live": "polite" }, "Starting…");
  const el = h("div", { class: "job-progress", "data-testid": "job-progress" }, h("span", { class: "job-label" }, label), bar, text);
  return {
    el,
    update(job) {
      el.dataset.status = job.status;
      if (typeof job.progress === "number") bar.value = job.progress;
      if (DONE.has(job.status)) bar.value = 100;
      text.textContent = job.status === "complete" ? "Done" : job.status === "failed" ? "Failed"
        : job.status === "canceled" ? "Canceled" : `${job.info || capitalise(job.status)}${typeof job.progress === "number" ? ` (${job.progress}%)` : ""}`;
    },
  };
}

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

function dialog(testid, children, onClose) {
  const el = h("dialog", { class: "modal", "data-testid": testid, "aria-modal": "true" }, children);
  document.body.append(el);
  el.addEventListener("close", () => { el.remove(); onClose(el.returnValue); });
  el.showModal();
  return el;
}

/** Ask before doing something: resolves true for Confirm, false for Cancel / Esc. */
export function confirmDialog({ title, text, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const cancel = h("button", { type: "button", onclick: () => el.close("cancel") }, "Cancel");
    const ok = h("button", { type: "button", class: danger ? "primary danger" : "primary", onclick: () => el.close("ok") }, confirmLabel);
    const el = dialog("confirm-dialog", [h("h2", { id: titleId }, title), text ? h("p", {}, text) : null,
      h("div", { class: "modal-buttons" }, cancel, ok)], (value) => resolve(value === "ok"));
    el.setAttribute("aria-labelledby", titleId);
    ok.focus();
  });
}

/** A finished job's outcome (heading, message) or a failure; resolves when closed. */
export function outcomeDialog(job, fallbackTitle) {
  return new Promise((resolve) => {
    const outcome = job.outcome || {};
    const failed = job.status !== "complete";
    const title = outcome.heading || (failed ? `${fallbackTitle} failed` : `${fallbackTitle} complete`);
    const message = outcome.message || (failed ? "The job did not finish." : "Done.");
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const close = h("button", { type: "button", class: "primary", onclick: () => el.close("ok") }, "Close");
    const el = dialog("outcome-dialog", [h("h2", { id: titleId }, title),
      h("p", { class: failed ? "outcome error" : "outcome", "data-status": job.status }, message),
      h("div", { class: "modal-buttons" }, close)], () => resolve());
    el.setAttribute("aria-labelledby", titleId);
    el.dataset.status = job.status;
    close.focus();
  });
}

/** The words for an API error, as one line. */
export function errorLine(error) {
  const { title, detail } = describe(error);
  return detail && detail !== title ? `${title}: ${detail}` : title;
}
