// The /v1 API from the browser, with the token the page was opened with.
// Every failure becomes an ApiError with a `kind` the page turns into a plain message.

const TOKEN_KEY = (spaceId) => `spaceport.token.${spaceId}`;

/** Take `?token=` off the URL (into sessionStorage) so it is not in history, bookmarks or screenshots. */
export function takeToken(spaceId) {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY(spaceId), fromUrl);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + (url.search || "") + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY(spaceId));
}

export function forgetToken(spaceId) {
  sessionStorage.removeItem(TOKEN_KEY(spaceId));
}

export class ApiError extends Error {
  /** kind: unauthorized | forbidden | notFound | invalid | rateLimited | server | network */
  constructor(kind, status, message, key) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.key = key;
  }
}

function kindOf(status) {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "notFound";
  if (status === 429) return "rateLimited";
  if (status >= 500) return "server";
  return "invalid";
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  /** fetch `path` (relative to the origin); JSON in and out; throws ApiError. */
  async request(method, path, { query, body, signal } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(name, v));
      else url.searchParams.set(name, String(value));
    }
    const init = { method, headers: this.headers(), signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let reply;
    try {
      reply = await fetch(url, init);
    } catch (error) {
      if (error && error.name === "AbortError") throw error;
      throw new ApiError("network", 0, "The server cannot be reached.");
    }
    if (reply.ok) {
      const text = await reply.text();
      return text ? JSON.parse(text) : null;
    }
    let message = `HTTP ${reply.status}`;
    let key;
    try {
      const envelope = await reply.json();
      const first = (envelope.errors || [])[0];
      if (first && first.message) ({ message, key } = first);
    } catch {
      /* not JSON (a proxy's page): keep the status */
    }
    throw new ApiError(kindOf(reply.status), reply.status, message, key);
  }

  get(path, query, signal) { return this.request("GET", path, { query, signal }); }
  put(path, body, query) { return this.request("PUT", path, { body, query }); }
  post(path, body, query) { return this.request("POST", path, { body, query }); }
  delete(path, query) { return this.request("DELETE", path, { query }); }

  // ---- the calls the app makes ----
  session(spaceId) { return this.get(`/space/${encodeURIComponent(spaceId)}/session`).then((r) => r.data); }
  space(spaceId) { return this.get(`/v1/spaces/${encodeURIComponent(spaceId)}`).then((r) => r.data); }
  workbooks(spaceId) { return this.get("/v1/workbooks", { spaceId }).then((r) => r.data); }
  documents(spaceId) { return this.get(`/v1/spaces/${encodeURIComponent(spaceId)}/documents`).then((r) => r.data); }
  document(spaceId, documentId) {
    return this.get(`/v1/spaces/${encodeURIComponent(spaceId)}/documents/${encodeURIComponent(documentId)}`)
      .then((r) => r.data);
  }
  app(appId) { return this.get(`/v1/apps/${encodeURIComponent(appId)}`).then((r) => r.data); }
  records(sheetId, query, signal) {
    return this.get(`/v1/sheets/${encodeURIComponent(sheetId)}/records`, query, signal).then((r) => r.data.records);
  }
  counts(sheetId, query) {
    return this.get(`/v1/sheets/${encodeURIComponent(sheetId)}/counts`, query).then((r) => r.data.counts);
  }
  updateRecords(sheetId, records) { return this.put(`/v1/sheets/${encodeURIComponent(sheetId)}/records`, records); }
}

/** What a person reads for an error (no stack traces, no JSON). `word` is the app's name for a space. */
export function describe(error, word = "space") {
  const detail = error && error.message ? error.message : "";
  switch (error && error.kind) {
    case "unauthorized":
      return { title: "This link has expired or is not valid",
        text: "Ask the person who shared it with you for a new link.", detail };
    case "forbidden":
      return { title: "You don't have access", text: `Your link does not give access to this ${word}, or to this action.`, detail };
    case "notFound":
      return { title: `This ${word} was not found`, text: "It may have been deleted, or the link is incomplete.", detail };
    case "network":
      return { title: "The server cannot be reached",
        text: "Check your connection. Nothing you typed is lost: try again in a moment.", detail: "" };
    case "server":
      return { title: "The server had a problem", text: "Try again in a moment.", detail };
    case "rateLimited":
      return { title: "Too many requests", text: "Wait a few seconds and try again.", detail };
    default:
      return { title: "Something went wrong", text: detail || "Try again.", detail: "" };
  }
}
