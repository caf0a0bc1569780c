// A metric declares its unit by the last part of its name, after the last
// "_" or ".": coolant.temp_c is in °C, motor.rpm in rpm, battery_v in V.
// Names whose last part is no known unit have none.

const UNITS = {
  c: "°C", f: "°F", k: "K", v: "V", mv: "mV", a: "A", ma: "mA", w: "W", kw: "kW", wh: "Wh", kwh: "kWh",
  hz: "Hz", khz: "kHz", rpm: "rpm", pct: "%", percent: "%", ms: "ms", s: "s", us: "µs",
  m: "m", mm: "mm", cm: "cm", km: "km", mps: "m/s", kmh: "km/h", deg: "°",
  pa: "Pa", kpa: "kPa", hpa: "hPa", bar: "bar", psi: "psi", lux: "lx", db: "dB", dbm: "dBm",
  kg: "kg", nm: "N·m", lpm: "L/min", ppm: "ppm", mb: "MB", kb: "kB", fps: "fps",
};

export function unitOf(metric) {
  const m = /[._]([A-Za-z]+)$/.exec(metric);
  return (m && UNITS[m[1].toLowerCase()]) || "";
}

// The subsystem a metric belongs to: the part before its first ".".
export function subsystemOf(metric) {
  const i = metric.indexOf(".");
  return i > 0 ? metric.slice(0, i) : "";
}
