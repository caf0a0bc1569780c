"""Video frames from devices (docs/protocol.md §4.13): parsed, relayed live to
viewers, never stored."""

import base64

from plexus_core.videoframe import parse_frame


def parse_binary(data, source_id):
    """A viewer frame from a binary device frame, or None if malformed.

    The source id in the header is ignored: the frame belongs to the
    authenticated connection."""
    try:
        f = parse_frame(data)  # the layout the client builds, from the core
    except ValueError:
        return None
    if not f["jpeg"]:
        return None
    return {"type": "video_frame", "source_id": source_id, "camera_id": f["camera_id"], "width": f["width"],
            "height": f["height"], "timestamp": f["timestamp"], "frame": base64.b64encode(f["jpeg"]).decode("ascii")}


def from_json(f, source_id):
    """A viewer frame from a JSON `video_frame`, or an error text."""
    cam, frame = f.get("camera_id"), f.get("frame")
    if not isinstance(cam, str) or not isinstance(frame, str):
        return "video_frame needs string camera_id and frame"
    out = {"type": "video_frame", "source_id": source_id, "camera_id": cam, "frame": frame,
           "width": f.get("width", 0), "height": f.get("height", 0), "timestamp": f.get("timestamp")}
    for k in ("video_type", "sensor_width", "sensor_height", "temp_min", "temp_max", "temps"):
        if k in f:
            out[k] = f[k]
    return out
