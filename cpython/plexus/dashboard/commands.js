// Buttons for the commands a device declared, with inputs for their
// parameters and the status of each press.
//
// Two declaration shapes exist (docs/protocol.md §4.3, §4.11):
//   legacy: {name, description?, params?: [{name, type, min?, max?, required?}]}
//           sent with POST /v1/sources/{id}/commands -> {queued}
//   v1:     {name, params: {pname: spec}, danger, title?, description?, ...}
//           started with POST /v1/sources/{id}/runs -> {run_id}; statuses read
//           from GET /v1/sources/{id}/runs/{run_id}
// A new kind of command only needs a normalize() branch and a sender in SENDERS.

import { api, sourcePath } from "./api.js";
import { h, clear, formatValue } from "./dom.js";

const FINAL = new Set(["succeeded", "failed", "expired", "rejected", "error"]);

export function normalize(decl) {
  if (!decl || typeof decl.name !== "string") return null;
  const v1 = decl.params && !Array.isArray(decl.params) && typeof decl.params === "object";
  const params = [];
  if (v1) {
    for (const [name, spec] of Object.entries(decl.params)) {
      params.push({
        name,
        type: spec.enum ? "enum" : spec.type || "string",
        min: spec.minimum, max: spec.maximum, enum: spec.enum, maxLength: spec.maxLength,
        default: spec.default, required: spec.required !== false && spec.default === undefined,
        unit: spec.unit, title: spec.title || name, description: spec.description,
      });
    }
  } else if (Array.isArray(decl.params)) {
    for (const p of decl.params) {
      if (!p || typeof p.name !== "string") continue;
      const type = { float: "number", int: "integer", bool: "boolean" }[p.type] || p.type || "string";
      params.push({
        name: p.name, type: p.enum || p.values ? "enum" : type, min: p.min, max: p.max,
        enum: p.enum || p.values, default: p.default, required: !!p.required, unit: p.unit,
        title: p.name, description: p.description,
      });
    }
  }
  return {
    name: decl.name,
    title: decl.title || decl.name,
    description: decl.description || "",
    danger: decl.danger || "normal",
    kind: v1 || decl.danger || decl.expires_in_s !== undefined ? "v1" : "legacy",
    params,
  };
}

function paramInput(p) {
  const id = "param-" + p.name;
  let input;
  if (p.type === "boolean") {
    input = h("input", { type: "checkbox", name: p.name, id });
    input.checked = p.default === true;
  } else if (p.type === "enum") {
    input = h("select", { name: p.name, id }, (p.enum || []).map((v) => h("option", { value: v, text: String(v) })));
    if (p.default !== undefined) input.value = p.default;
  } else if (p.type === "integer" || p.type === "number") {
    input = h("input", {
      type: "number", name: p.name, id, min: p.min, max: p.max,
      step: p.type === "integer" ? "1" : "any", required: p.required,
    });
    if (p.default !== undefined) input.value = p.default;
  } else {
    input = h("input", { type: "text", name: p.name, id, maxlength: p.maxLength, required: p.required });
    if (p.default !== undefined) input.value = p.default;
  }
  input.dataset.type = p.type;
  const label = p.title + (p.unit ? " (" + p.unit + ")" : "");
  return h("label", { class: "param", title: p.description || "" }, h("span", { text: label }), input);
}

// Read the form into typed params; returns [params, errorText].
function readParams(form, cmd) {
  const out = {};
  for (const p of cmd.params) {
    const el = form.elements[p.name];
    if (p.type === "boolean") { out[p.name] = el.checked; continue; }
    const raw = el.value.trim();
    if (raw === "") {
      if (p.required) return [null, p.title + " is required"];
      continue;
    }
    if (p.type === "integer" || p.type === "number") {
      const n = Number(raw);
      if (!isFinite(n) || (p.type === "integer" && !Number.isInteger(n))) return [null, p.title + " must be " + (p.type === "integer" ? "a whole number" : "a number")];
      if (p.min !== undefined && n < p.min) return [null, p.title + " must be at least " + p.min];
      if (p.max !== undefined && n > p.max) return [null, p.title + " must be at most " + p.max];
      out[p.name] = n;
    } else {
      out[p.name] = raw;
    }
  }
  return [out, null];
}

const SENDERS = {
  async legacy(sourceId, cmd, params, show, isLive) {
    let res;
    try {
      res = await api.post(sourcePath(sourceId, "/commands"), { command: cmd.name, params });
    } catch (e) {
      if (e.status === 409) return show("failed", "not delivered: the device is not connected");
      throw e;
    }
    if (!res || res.queued === false) return show("failed", "not delivered: the device is not connected");
    show("sent", "sent to the device");
    if (!res.id) return res;
    // The device answers with command_result frames (ack, then result or
    // error); the gateway keeps them with the command.
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline && isLive()) {
      await new Promise((r) => setTimeout(r, 400));
      let rec;
      try {
        rec = await api.get(sourcePath(sourceId, "/commands/" + encodeURIComponent(res.id)));
      } catch (e) {
        if (e.status === 404) return res; // this gateway does not keep results
        continue;
      }
      const evs = (rec && rec.events) || [];
      const done = evs.find((f) => f.event === "result" || f.event === "error");
      if (done) {
        if (done.event === "result") show("succeeded", resultText(done.result === undefined ? {} : done.result));
        else show("failed", String(done.error));
        return rec;
      }
      if (evs.some((f) => f.event === "ack")) show("acknowledged", "acknowledged");
    }
    return res;
  },
  async v1(sourceId, cmd, params, show, isLive) {
    const res = await api.post(sourcePath(sourceId, "/runs"), { command: cmd.name, params });
    const runId = res && res.run_id;
    if (!runId) return show("sent", "sent");
    show(res.state || "queued", "run " + runId);
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline && isLive()) {
      await new Promise((r) => setTimeout(r, 400));
      let run;
      try {
        run = await api.get(sourcePath(sourceId, "/runs/" + encodeURIComponent(runId)));
      } catch (e) {
        continue;
      }
      const state = run.state || (run.statuses && run.statuses.length && run.statuses[run.statuses.length - 1].state) || "queued";
      let text = state;
      if (run.progress !== undefined && run.progress !== null && !FINAL.has(state)) text += " " + Math.round(run.progress) + "%";
      if (run.result !== undefined && run.result !== null) text = resultText(run.result);
      if (run.error_code) text = run.error_code + (run.error_message ? ": " + run.error_message : "");
      show(state, text);
      if (FINAL.has(state)) return run;
    }
    return null;
  },
};

function resultText(result) {
  if (result && typeof result === "object" && Object.keys(result).length === 0) return "done";
  return formatValue(result);
}

// Renders the command panel; returns {update(decls), legacyResult(frame), destroy()}.
export function commandPanel(container, sourceId) {
  let live = true;
  let signature = "";
  const statusById = new Map();

  function update(decls) {
    const cmds = (Array.isArray(decls) ? decls : []).map(normalize).filter(Boolean);
    const sig = JSON.stringify(cmds);
    if (sig === signature) return;
    signature = sig;
    clear(container);
    if (!cmds.length) {
      container.append(h("p", { class: "muted", text: "This device declares no commands." }));
      return;
    }
    for (const cmd of cmds) container.append(commandForm(cmd));
  }

  function commandForm(cmd) {
    const status = h("div", { class: "command-status", dataset: { state: "" } });
    const button = h("button", { type: "submit", class: "command-button danger-" + cmd.danger, text: cmd.title });
    const confirmBox = h("div", { class: "confirm", hidden: true });
    // novalidate: our own checks say what is wrong next to the button.
    const form = h("form", { class: "command", novalidate: true, dataset: { command: cmd.name } },
      h("div", { class: "command-head" }, button, cmd.description ? h("span", { class: "muted", text: cmd.description }) : null),
      cmd.params.length ? h("div", { class: "params" }, cmd.params.map(paramInput)) : null,
      confirmBox, status);

    function show(state, text) {
      status.dataset.state = state;
      status.textContent = text;
    }

    async function send(params) {
      button.disabled = true;
      show("sending", "sending…");
      try {
        const res = await SENDERS[cmd.kind](sourceId, cmd, params, show, () => live);
        if (res && res.id) statusById.set(res.id, show);
      } catch (e) {
        show("failed", e.message);
      } finally {
        button.disabled = false;
      }
    }

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const [params, err] = readParams(form, cmd);
      if (err) return show("invalid", err);
      if (cmd.danger === "normal") return send(params);
      // Dangerous: confirm. Critical: confirm by typing the device id.
      clear(confirmBox).hidden = false;
      const typed = cmd.danger === "critical" ? h("input", { type: "text", placeholder: "type " + sourceId + " to confirm" }) : null;
      const ok = h("button", { type: "button", class: "danger-" + cmd.danger, text: "Confirm " + cmd.title });
      const cancel = h("button", { type: "button", text: "Cancel" });
      ok.addEventListener("click", () => {
        if (typed && typed.value.trim() !== sourceId) return show("invalid", "type the device id to confirm");
        confirmBox.hidden = true;
        send(params);
      });
      cancel.addEventListener("click", () => { confirmBox.hidden = true; });
      confirmBox.append(typed || "", ok, cancel);
    });
    return form;
  }

  // A legacy command_result relayed by the gateway (if it relays them).
  function legacyResult(frame) {
    const show = statusById.get(frame.id);
    if (!show) return;
    if (frame.event === "result") show("succeeded", resultText(frame.result));
    else if (frame.event === "error") show("failed", String(frame.error));
    else if (frame.event === "ack") show("acknowledged", "acknowledged");
  }

  return { update, legacyResult, destroy() { live = false; } };
}
