// What the dashboard reads from the Data API, in the hosted gateway's shapes
// (GET /v1/sources/{id}/metrics/query, /logs, /v1/fleet/metrics), tolerating
// the local gateway's older ones where that costs a line.

import { api, sourcePath } from "./api.js";

const iso = (ms) => new Date(ms).toISOString();

// The window as query parameters: live windows ask for `last`, so the
// gateway's clock decides where "now" is.
function windowParams(range) {
  if (range.live) return "last=" + Math.round(range.spanMs / 60000) + "m";
  return "start=" + encodeURIComponent(iso(range.from)) + "&end=" + encodeURIComponent(iso(range.to));
}

// One metric over a window: {interval, truncated, t, value} for raw, or
// {interval, truncated, t, min, max, avg, count} for buckets.
export async function queryMetric(sourceId, metric, range, interval) {
  const res = await api.get(sourcePath(sourceId, "/metrics/query?metrics=" + encodeURIComponent(metric) + "&" +
    windowParams(range) + "&interval=" + interval));
  const col = (res && res.series && res.series[metric]) || {};
  const out = { interval: (res && res.interval) || interval, truncated: !!(res && res.truncated), t: (col.timestamp_ms || []).map(Number) };
  if (out.interval === "raw") out.value = col.value || [];
  else for (const k of ["min", "max", "avg", "count"]) out[k] = col[k] || [];
  return out;
}

// The newest `tail` events (class "event") in a window, oldest first. The
// hosted API sends `value` as a string (JSON text for anything else);
// objects are read back.
export async function queryEvents(sourceId, range, tail) {
  const rows = await api.get(sourcePath(sourceId, "/logs?" + windowParams(range) + "&tail=" + tail));
  return (Array.isArray(rows) ? rows : []).map((e) => ({
    t: Number(e.timestamp_ms ?? e.timestamp), metric: e.metric, value: readValue(e.value), tags: e.tags || {},
  }));
}

export function readValue(v) {
  if (typeof v !== "string" || !/^\s*[[{]/.test(v)) return v;
  try {
    return JSON.parse(v);
  } catch (e) {
    return v;
  }
}

// Per-source buckets of one metric across the fleet:
// [{source_id, t: [...], avg: [...]}]. An older gateway answers one summary
// per source instead of bucket arrays; then each source is asked directly.
export async function fleetMetric(metric, lastMs, sourceIds) {
  const last = Math.round(lastMs / 60000) + "m";
  const res = await api.get("/v1/fleet/metrics?metric=" + encodeURIComponent(metric) + "&last=" + last);
  const rows = (res && res.sources) || [];
  if (rows.every((r) => Array.isArray(r.avg))) {
    return rows.map((r) => ({ source_id: r.source_id, t: r.timestamp_ms.map(Number), avg: r.avg }));
  }
  const ids = rows.map((r) => r.source_id).filter((id) => !sourceIds || sourceIds.includes(id));
  return Promise.all(ids.map(async (id) => {
    const q = await queryMetric(id, metric, { live: true, spanMs: lastMs }, "1m").catch(() => ({ t: [], avg: [] }));
    return { source_id: id, t: q.t, avg: q.avg };
  }));
}

// When a device's newest reading was taken (ms), for a device that is not
// sending: first the hour before it was last seen, else narrowing down from
// daily buckets over 30 days to hours and minutes; then the readings of that
// minute. null: nothing found.
export async function newestReading(sourceId, lastSeenMs) {
  const newest = async (range, interval) => {
    const res = await api.get(sourcePath(sourceId, "/metrics/query?" + windowParams(range) + "&interval=" + interval));
    let t = -Infinity;
    for (const col of Object.values((res && res.series) || {})) {
      const ts = col.timestamp_ms || [];
      if (ts.length) t = Math.max(t, Number(ts[ts.length - 1]));
    }
    return isFinite(t) ? t : null;
  };
  const span = (from, ms) => ({ live: false, from, to: from + ms });
  let minute = lastSeenMs ? await newest(span(lastSeenMs - 3600000, 3660000), "1m") : null;
  if (minute === null) {
    const day = await newest({ live: true, spanMs: 30 * 86400000 }, "1d");
    if (day === null) return null;
    const hour = await newest(span(day, 86400000), "1h");
    minute = hour === null ? null : await newest(span(hour, 3600000), "1m");
    if (minute === null) return hour ?? day;
  }
  return (await newest(span(minute, 60000), "raw")) ?? minute;
}
