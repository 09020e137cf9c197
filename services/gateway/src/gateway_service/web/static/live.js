// Live updates: the SSE stream GET /v1/events/stream?spaceId=… read with fetch (EventSource cannot
// send the Authorization header), resumed after a drop with Last-Event-ID. Each Flatfile event is
// emitted as "feed" on the registry; `onState` gets "live" | "reconnecting".
import { emit } from "./registry.js";

export function follow(api, spaceId, onState = () => {}) {
  let lastId = null;
  let stopped = false;
  let controller = null;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = api.headers({ Accept: "text/event-stream" });
        if (lastId) headers["Last-Event-ID"] = lastId;
        const url = `/v1/events/stream?spaceId=${encodeURIComponent(spaceId)}`;
        const reply = await fetch(url, { headers, signal: controller.signal });
        if (!reply.ok || !reply.body) throw new Error(`stream answered ${reply.status}`);
        onState("live");
        await read(reply.body.getReader());
      } catch (error) {
        if (stopped) return;
      }
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        dispatch(block);
      }
    }
  }

  function dispatch(block) {
    let id = null;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (id) lastId = id;
    if (!data.length) return;
    try {
      emit("feed", JSON.parse(data.join("\n")));
    } catch {
      /* not an event */
    }
  }

  run();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
