"""What a Delivery answers (plexus_core.delivery): actions, tuples whose
first item is one of these kinds, and the kinds of REPORT. Drivers, the
delivery policy and its setbacks all speak this vocabulary.
"""

# Actions: tuples whose first item is one of these.
DELETE = 1      # (DELETE, [key, ...])  stored by the gateway: remove them
RESEND = 2      # (RESEND, [key, ...])  not stored: keep them, send again first
SPLIT = 3       # (SPLIT, key, why)     refused as invalid: halve it (one reading: drop it)
DROP = 4        # (DROP, key, why)      refused as invalid: drop it, count its readings
RECONNECT = 5   # (RECONNECT, after_ms) close the socket; connect again after this
READY = 6       # (READY, reply)        authenticated: run what follows an auth
COMMAND = 7     # (COMMAND, frame)      for the command layer
REPORT = 8      # (REPORT, kind, detail) tell the user; kinds below

# REPORT kinds
KEY_REFUSED = 11   # detail: why; readings are kept
NO_PLAN = 12       # streaming is not in the plan: telemetry goes over HTTP
HELD = 13          # not stored for a limit: kept and sent again (detail: code)
LIMITED = 14       # a limit error not tied to a frame (detail: code)
ANSWERED = 15      # an /ingest answer nothing can be done about (detail: why)
GATEWAY_ERROR = 16  # another error frame (detail: "code: detail")
LINK_UP = 17       # the gateway is reachable (detail: True when it is back)
LINK_DOWN = 18     # it was reachable and is not any more
