"""Every wire limit in one place (docs/protocol.md §2.5, §3.9, §4.6, §4.7).

The client enforces all of them before sending; the gateway enforces the same
numbers on receipt, so both sides read them from here.
"""

MAX_NAME_BYTES = 256          # metric, source_id, tag key/value, string event
MAX_EVENT_JSON_BYTES = 4096   # event object/array, encoded
MAX_TAGS = 16
MAX_TIMESTAMP_MS = 32503680000000  # 3000-01-01: later times are unit mistakes

MAX_POINTS_PER_BATCH = 10000  # per WebSocket frame or /ingest body
WS_READ_LIMIT = 1048576       # gateway closes the socket above this
WS_FRAME_TARGET = 900000      # what a client puts in one telemetry frame
HTTP_BODY_LIMIT = 5 * 1024 * 1024
GZIP_THRESHOLD = 1024         # bodies strictly longer than this are gzipped

ACK_WINDOW_FRAMES = 32
ACK_WINDOW_POINTS = 10000
ACK_TIMEOUT_MS = 30000
AUTH_TIMEOUT_MS = 10000
HEARTBEAT_MS = 30000

# Envelope bytes budgeted per frame: {"type":"telemetry","seq":N,
# "batch_id":"...","points":[...]} with a batch id of up to 64 bytes.
FRAME_ENVELOPE_BYTES = 160
