"""The two carriers of encoded points: the device WebSocket telemetry frame
and the POST /ingest body. Frames are assembled by joining the encoded
points, never by re-encoding them (cutting points into batches that fit a
carrier is plexus_core.batch)."""

import json


def _joined(encoded_points):
    if encoded_points and not isinstance(encoded_points[0], str):
        encoded_points = [e.decode() for e in encoded_points]
    return ",".join(encoded_points)


def telemetry_frame(encoded_points, seq=None, batch_id=None):
    """The device WebSocket telemetry frame text.

    `seq` only when the gateway offered acks; `batch_id` is our idempotency
    extension (hosted gateways ignore unknown keys)."""
    head = '{"type":"telemetry"'
    if seq is not None:
        head += ',"seq":%d' % seq
    if batch_id is not None:
        head += ',"batch_id":' + json.dumps(batch_id)
    return head + ',"points":[' + _joined(encoded_points) + "]}"


def ingest_body(source_id, encoded_points, batch_id=None):
    """The POST /ingest JSON body."""
    head = '{"source_id":' + json.dumps(source_id)
    if batch_id is not None:
        head += ',"batch_id":' + json.dumps(batch_id)
    return head + ',"points":[' + _joined(encoded_points) + "]}"
