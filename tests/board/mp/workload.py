"""The standard board workload: create the client, send N readings, flush
them to the gateway, close. Used by the heap budget test and by
tools/bench_board.py to find the smallest heap that runs it.

micropython -X heapsize=H workload.py CORE URL KEY SOURCE STORE N TRANSPORT
Prints `OK <delivered> <gc.mem_alloc after>`; exits 1 if anything stayed behind.
"""

import gc
import sys

sys.path.insert(0, sys.argv[1] + "/board")  # the `plexus` shim
sys.path.insert(0, sys.argv[1])

from plexus import Plexus  # noqa: E402  (the board shim, as user code imports it)

URL, KEY, SOURCE, STORE = sys.argv[2:6]
N = int(sys.argv[6])
TRANSPORT = sys.argv[7]

px = Plexus(KEY, SOURCE, URL, transport=TRANSPORT, store=STORE)
for i in range(N):
    px.send("temp", i)
ok = px.flush(60)
left = px.buffer_size()
px.close()
gc.collect()
print("OK" if ok and not left else "FAILED", N - left, gc.mem_alloc())
sys.exit(0 if ok and not left else 1)
