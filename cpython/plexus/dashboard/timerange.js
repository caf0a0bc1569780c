// Time ranges: what the device page shows, kept in the URL so a view can be
// shared. Three kinds:
//   live=5m          the last 5/15/60 minutes, following new readings
//   last=24h         the last 1h/6h/24h/7d/30d when the page was opened
//   from=ISO&to=ISO  a fixed window (custom, or what a drag-to-zoom chose)
// A range here is {live, spanMs, from, to, key}; from/to are ms.

const MIN = 60000, HOUR = 3600000, DAY = 86400000;
export const LIVE = [["5m", 5 * MIN], ["15m", 15 * MIN], ["60m", 60 * MIN]];
export const HISTORY = [["1h", HOUR], ["6h", 6 * HOUR], ["24h", DAY], ["7d", 7 * DAY], ["30d", 30 * DAY]];
export const DEFAULT = "live=5m";

export function parseRange(params, now) {
  const live = LIVE.find(([k]) => k === params.get("live"));
  if (live) return { live: true, spanMs: live[1], from: now - live[1], to: now, key: "live=" + live[0] };
  const last = HISTORY.find(([k]) => k === params.get("last"));
  if (last) return { live: false, spanMs: last[1], from: now - last[1], to: now, key: "last=" + last[0] };
  const from = Date.parse(params.get("from") || ""), to = Date.parse(params.get("to") || "");
  if (isFinite(from) && isFinite(to) && to > from) return fixed(from, to);
  return null;
}

export function fixed(from, to) {
  from = Math.floor(from);
  to = Math.ceil(to);
  return { live: false, spanMs: to - from, from, to,
           key: "from=" + new Date(from).toISOString() + "&to=" + new Date(to).toISOString() };
}

// Which resolution to ask the Data API for: raw readings when the window is
// short enough to draw them, else the bucket size that gives at most ~1,500
// buckets (min/max/avg drawn as a band).
export function intervalFor(spanMs) {
  if (spanMs <= 20 * MIN) return "raw";
  if (spanMs <= 26 * HOUR) return "1m";
  if (spanMs <= 8 * DAY) return "10m";
  if (spanMs <= 32 * DAY) return "1h";
  return "1d";
}

export const BUCKET_MS = { "1m": MIN, "10m": 10 * MIN, "1h": HOUR, "1d": DAY };

// The hour up to an offline device's newest reading.
export function aroundNewest(newestMs) {
  return fixed(newestMs - HOUR, newestMs + MIN);
}

export function describe(range) {
  if (range.live) return "live, last " + Math.round(range.spanMs / MIN) + " min";
  const f = (ms) => new Date(ms).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: range.spanMs < HOUR ? "2-digit" : undefined });
  return f(range.from) + " – " + f(range.to);
}
