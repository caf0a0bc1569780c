// The fleet: every source the gateway knows, online first, refreshed every 2 s.

import { api } from "./api.js";
import { h, clear, ago } from "./dom.js";

export function fleetView(root) {
  const summary = h("p", { class: "summary muted", text: "Loading…" });
  const body = h("tbody");
  const error = h("p", { class: "error", hidden: true });
  const empty = h("div", { class: "empty", hidden: true },
    h("p", { text: "No device has sent anything yet." }),
    h("p", { class: "muted" }, "Send a reading with ", h("code", { text: "plexus send temp 21.5" }),
      " or run ", h("code", { text: "plexus demo" }), "."));
  root.append(h("section", { class: "fleet" },
    h("h1", { text: "Fleet" }), summary, error,
    h("table", { class: "fleet-table" },
      h("thead", {}, h("tr", {}, h("th", { text: "" }), h("th", { text: "Source" }), h("th", { text: "State" }), h("th", { text: "Last seen" }))),
      body),
    empty));

  let timer = null;
  let stopped = false;

  async function refresh() {
    try {
      const [list, health] = await Promise.all([api.get("/v1/sources"), api.get("/v1/fleet/health").catch(() => null)]);
      const devices = (list && list.devices) || [];
      devices.sort((a, b) => (b.online - a.online) || String(a.source_id).localeCompare(String(b.source_id)));
      render(devices, health);
      error.hidden = true;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
    if (!stopped) timer = setTimeout(refresh, 2000);
  }

  function render(devices, health) {
    const total = health ? health.sources_total : devices.length;
    const online = health ? health.sources_online : devices.filter((d) => d.online).length;
    summary.textContent = total + (total === 1 ? " source, " : " sources, ") + online + " online";
    empty.hidden = devices.length > 0;
    clear(body);
    for (const d of devices) {
      const link = h("a", { href: "#/source/" + encodeURIComponent(d.source_id), text: d.source_id });
      body.append(h("tr", { class: "source-row " + (d.online ? "online" : "offline"), dataset: { source: d.source_id, online: String(!!d.online) } },
        h("td", {}, h("span", { class: "dot", title: d.online ? "online" : "offline" })),
        h("td", {}, link),
        h("td", { text: d.online ? "online" : "offline" }),
        h("td", { text: ago(d.last_seen_ms), title: d.last_seen_ms ? new Date(d.last_seen_ms).toISOString() : "" })));
    }
  }

  refresh();
  return { destroy() { stopped = true; clearTimeout(timer); } };
}

