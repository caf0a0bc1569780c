// Video tiles: the gateway relays camera frames live (docs/protocol.md §8 video
// stream). The first frame, `init`, names the cameras each online source
// streams; when ours has cameras we are not watching, reopen asking for them.

import { LiveStream, sourcePath } from "./api.js";
import { h, clear } from "./dom.js";

export function videoPanel(container, sourceId) {
  const tiles = new Map(); // camera_id -> {img, info, frames, since}
  let cameras = [];
  let stream = null;
  let retry = null;

  function open() {
    const q = cameras.map((c) => "camera_id=" + encodeURIComponent(c)).join("&");
    stream = new LiveStream(sourcePath(sourceId, "/video/stream") + (q ? "?" + q : ""), onMessage);
  }

  function onMessage(msg) {
    if (msg.type === "init") {
      const mine = (msg.online_sources || []).find((s) => s.source_id === sourceId);
      const cams = mine && Array.isArray(mine.cameras) ? mine.cameras.map((c) => (typeof c === "string" ? c : c.camera_id || c.id)).filter(Boolean) : [];
      const missing = cams.filter((c) => !cameras.includes(c));
      if (missing.length) {
        cameras = cameras.concat(missing);
        stream.close();
        open();
      } else if (!cams.length && !cameras.length) {
        // No camera yet: look again in a while instead of holding a socket open.
        stream.close();
        retry = setTimeout(open, 10000);
      }
    } else if (msg.type === "video_frame" && msg.source_id === sourceId && msg.frame) {
      tile(msg.camera_id || "camera").show(msg);
    }
  }

  function tile(cameraId) {
    let t = tiles.get(cameraId);
    if (t) return t;
    const img = h("img", { alt: "camera " + cameraId });
    const info = h("span", { class: "muted" });
    const el = h("figure", { class: "video-tile", dataset: { camera: cameraId } }, img,
      h("figcaption", {}, h("strong", { text: cameraId }), " ", info));
    if (!tiles.size) clear(container);
    container.append(el);
    container.closest("section").hidden = false;
    t = {
      frames: 0, since: performance.now(),
      show(msg) {
        img.src = "data:image/jpeg;base64," + msg.frame;
        this.frames++;
        el.dataset.frames = String(this.frames);
        const secs = (performance.now() - this.since) / 1000;
        info.textContent = (msg.width && msg.height ? msg.width + "×" + msg.height + " · " : "") +
          (secs > 1 ? (this.frames / secs).toFixed(1) + " fps" : "");
      },
    };
    tiles.set(cameraId, t);
    return t;
  }

  open();
  return {
    destroy() {
      clearTimeout(retry);
      if (stream) stream.close();
    },
  };
}
