// The gateway's Data API (docs/api.md). The key goes in the x-api-key header
// and in the first frame of a live stream, never in a URL.
//
// The login lasts for the browser session, in every tab: the key is kept in
// localStorage beside a marker, and a session cookie (which holds no key and
// ends when the browser closes) says the session is the same one. A key
// found without the cookie is from an earlier session and is dropped.

const KEY_NAME = "plexus.api_key";
const SESSION_COOKIE = "plexus_session";

function sessionAlive() {
  return document.cookie.split("; ").includes(SESSION_COOKIE + "=1");
}

export function savedKey() {
  try {
    if (!sessionAlive()) {
      localStorage.removeItem(KEY_NAME);
      return null;
    }
    return localStorage.getItem(KEY_NAME);
  } catch (e) {
    return null; // storage blocked: log in again
  }
}

export function saveKey(key) {
  document.cookie = SESSION_COOKIE + "=1; path=/; SameSite=Strict";
  localStorage.setItem(KEY_NAME, key);
}

export function forgetKey() {
  localStorage.removeItem(KEY_NAME);
  document.cookie = SESSION_COOKIE + "=; path=/; SameSite=Strict; max-age=0";
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status; // 0 = the gateway could not be reached
  }
}

// Listeners called when the gateway rejects the key (401), so the page can log out.
const rejectedListeners = [];
export function onKeyRejected(fn) {
  rejectedListeners.push(fn);
}

async function request(method, path, body, key) {
  const headers = { "x-api-key": key || savedKey() || "" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "The gateway cannot be reached. Is it running?");
  }
  let data = null;
  const text = await res.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    let detail = (data && (data.detail || data.error || data.message)) || text || res.statusText;
    if (typeof detail !== "string") detail = JSON.stringify(detail); // {"detail": [...]} from validation
    if (/^\s*</.test(detail)) detail = res.statusText || "error"; // an HTML error page: say less
    if (res.status === 401 && !key) rejectedListeners.forEach((fn) => fn());
    throw new ApiError(res.status, explain(res.status, detail));
  }
  return data;
}

function explain(status, detail) {
  if (status === 401) return "The gateway rejected this key.";
  if (status === 403) return "This key is not allowed to do that (" + detail + ").";
  if (status === 404) return "Not found (" + detail + ").";
  return "Gateway answered " + status + ": " + detail;
}

export const api = {
  get: (path, key) => request("GET", path, undefined, key),
  post: (path, body) => request("POST", path, body),
};

export function sourcePath(id, rest) {
  return "/v1/sources/" + encodeURIComponent(id) + (rest || "");
}

// A live WebSocket stream with the auth-first-frame rule, reconnecting with
// backoff until closed. onMessage gets each parsed frame; onState gets
// "connecting" | "live" | "reconnecting" | "closed" | "unauthorized".
export class LiveStream {
  constructor(path, onMessage, onState) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.closed = false;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + this.path);
    this.ws = ws;
    this.onState(this.attempt ? "reconnecting" : "connecting");
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", api_key: savedKey() || "" }));
      this.onState("live");
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      this.attempt = 0;
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      if (ev.code === 4401 || ev.code === 4001) {
        this.closed = true;
        this.onState("unauthorized");
        rejectedListeners.forEach((fn) => fn());
        return;
      }
      // 4008 = the video stream's timeout ran out: reopen at once.
      const delay = ev.code === 4008 ? 0 : Math.min(10000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt = Math.min(this.attempt + 1, 6);
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
    this.onState("closed");
  }
}
