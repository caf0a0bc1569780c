"""Video frames from devices (PROTOCOL.md §4.13): parsed, relayed live to
viewers, never stored."""

import base64
import struct


def parse_binary(data, source_id):
    """A viewer frame from a binary device frame, or None if malformed.

    The source id in the header is ignored: the frame belongs to the
    authenticated connection."""
    try:
        if data[0] != 1:
            return None
        s = data[1]
        c = data[2 + s]
        cam_start = 3 + s
        camera_id = bytes(data[cam_start:cam_start + c]).decode("utf-8")
        width, height, ts = struct.unpack_from(">IIq", data, cam_start + c)
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    jpeg = data[cam_start + c + 16:]
    if not jpeg:
        return None
    return {"type": "video_frame", "source_id": source_id, "camera_id": camera_id, "width": width,
            "height": height, "timestamp": ts, "frame": base64.b64encode(jpeg).decode("ascii")}


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
