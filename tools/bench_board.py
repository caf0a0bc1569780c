"""Board client benchmark: flash log speed and wear, and the smallest heap.

    .venv/bin/python tools/bench_board.py          # everything (starts a local gateway)
    micropython tools/bench_board.py flash         # only the flash part, in MicroPython
    .venv/bin/python tools/bench_board.py heap     # only the smallest heaps

Under MicroPython (the `flash` part) it prints, on a littlefs2 RAM flash
with ESP32 defaults and with the Pico's progsize=256:
  - readings/s into the flash log (encoded readings, and whole send() calls),
  - write amplification (bytes programmed to the block device per byte of
    reading payload, acknowledged segments deleted as they would be),
next to a naive log that appends each reading to one file and flushes it.

Under CPython it runs that part in MicroPython, then bisects
`micropython -X heapsize=N` for the smallest heap that runs the standard
workload (tests/board/mp/workload.py: client, 1,000 sends, flush to a real
local gateway, close), from .py source (as mip installs package.json), from
.mpy, and from the compiled mip install (package-mpy.json, installed by the
real `micropython -m mip`).
"""

import os
import sys

def _up(path, levels):
    """dirname, levels times (MicroPython has no os.path)."""
    for _ in range(levels):
        path = path.rsplit("/", 1)[0] if "/" in path else "."
    return path


ROOT = _up(__file__ if __file__.startswith("/") else os.getcwd() + "/" + __file__, 2)
N_READINGS = 5000


# -- the flash part (MicroPython) ------------------------------------------------------

class RamFlash:
    """NOR flash in RAM for littlefs (extended block interface), counting programs."""

    def __init__(self, blocks, size=4096):
        self.size = size
        self.blocks = blocks
        self.data = bytearray(b"\xff" * (blocks * size))
        self.programmed = 0

    def readblocks(self, n, buf, off=0):
        a = n * self.size + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, n, buf, off=0):
        a = n * self.size + off
        self.data[a:a + len(buf)] = buf
        self.programmed += len(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.size
        if op == 6:
            a = arg * self.size
            self.data[a:a + self.size] = b"\xff" * self.size
        return 0


def _mount(point, progsize):
    import vfs
    flash = RamFlash(128)
    kw = {"progsize": progsize} if progsize else {}
    vfs.VfsLfs2.mkfs(flash, **kw)
    vfs.mount(vfs.VfsLfs2(flash, **kw), point)
    return flash


def _umount(point):
    import gc
    import vfs
    vfs.umount(point)
    gc.collect()


def _readings(n):
    return ['{"class":"metric","metric":"env.temp_c","value":%d.%d,"timestamp":%d}'
            % (20 + i % 10, i % 10, 1760000000000 + i * 100) for i in range(n)]


def _flash_log(progsize, readings, point, ack):
    import time
    from plexus_board.flashlog import FlashLog
    flash = _mount(point, progsize)
    log = FlashLog(point + "/px")
    flash.programmed = 0
    payload = 0
    t = time.ticks_us()
    for r in readings:
        log.add(r)
        payload += len(r)
        while ack and len(log.seqs) > 4:  # acknowledged: deleted, as delivery would
            log.delete(log.seqs[0])
    log.seal()
    us = time.ticks_diff(time.ticks_us(), t)
    _umount(point)
    return len(readings) * 1000000 // us, flash.programmed / payload


def _naive_log(progsize, readings, point):
    import time
    flash = _mount(point, progsize)
    flash.programmed = 0
    payload = 0
    t = time.ticks_us()
    with open(point + "/naive.log", "ab") as f:
        for r in readings:
            f.write(r)
            f.write("\n")
            f.flush()  # durable per reading: littlefs rewrites the last block
            payload += len(r)
    us = time.ticks_diff(time.ticks_us(), t)
    _umount(point)
    return len(readings) * 1000000 // us, flash.programmed / payload


def _sends(progsize, point):
    import time
    from plexus_board.client import Plexus
    _mount(point, progsize)
    px = Plexus("plx_bench", "bench", "http://127.0.0.1:9", store=point + "/px")
    t = time.ticks_us()
    for i in range(N_READINGS):
        px.send("env.temp_c", 20 + i % 10 / 10)
    px.persist()
    us = time.ticks_diff(time.ticks_us(), t)
    _umount(point)
    return N_READINGS * 1000000 // us


def flash_part(root):
    sys.path.insert(0, root + "/core")
    readings = _readings(N_READINGS)
    print("flash log, %d readings of ~%d bytes, 4 KiB segments, littlefs2 RAM flash"
          % (N_READINGS, len(readings[0])))
    n = 0
    res = {}
    for name, progsize in (("ESP32 defaults", 0), ("progsize=256", 256)):
        n += 1
        rate, amp = _flash_log(progsize, readings, "/b%da" % n, False)
        arate, aamp = _flash_log(progsize, readings, "/b%dd" % n, True)
        nrate, namp = _naive_log(progsize, readings, "/b%db" % n)
        srate = _sends(progsize, "/b%dc" % n)
        print("  %s:" % name)
        print("    segment log      %7d readings/s  write amplification %.2fx "
              "(%.2fx with acknowledged segments deleted)" % (rate, amp, aamp))
        print("    send() to flash  %7d readings/s  (validate, encode, stage, seal)" % srate)
        print("    naive log        %7d readings/s  write amplification %.2fx "
              "(append and flush each reading)" % (nrate, namp))
        key = "" if not progsize else "_progsize256"
        res["flash_readings_per_s" + key] = rate
        res["send_readings_per_s" + key] = srate
        res["write_amplification" + key] = round(aamp, 3)
        res["naive_write_amplification" + key] = round(namp, 2)
        res["naive_readings_per_s" + key] = nrate
    import json
    print("FLASH " + json.dumps(res))


# -- the heap part (CPython drives MicroPython) --------------------------------------------

def _micropython():
    if os.environ.get("PLEXUS_MICROPYTHON"):  # another build, as in tests/support/mpy.py
        return os.environ["PLEXUS_MICROPYTHON"]
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.path.exists(here) else "micropython"


def smallest_heap(core, gw, transport, tmp):
    """Bisect -X heapsize (KiB) for the standard workload."""
    import shutil
    import subprocess
    workload = os.path.join(ROOT, "tests", "board", "mp", "workload.py")
    runs = [0]

    def ok(kib):
        runs[0] += 1
        store = os.path.join(tmp, "store-%s-%d" % (transport, runs[0]))
        shutil.rmtree(store, ignore_errors=True)
        r = subprocess.run([_micropython(), "-X", "heapsize=%dK" % kib, workload, core, gw.url, gw.key,
                            "bench-heap-" + transport, store, "1000", transport],
                           capture_output=True, text=True, timeout=120)
        return r.returncode == 0 and r.stdout.startswith("OK 1000")

    lo, hi = 16, 512
    if not ok(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def mip_install_compiled(tmp):
    """Install package-mpy.json (with the .mpy files make_package_json.py
    builds) over HTTP with the real `micropython -m mip`; returns the target."""
    import functools
    import http.server
    import shutil
    import subprocess
    import threading
    import make_package_json
    served = os.path.join(tmp, "served")
    make_package_json.build_mpy(served)
    shutil.copy(os.path.join(ROOT, "package-mpy.json"), served)
    target = os.path.join(tmp, "mip-lib")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=served)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/package-mpy.json" % srv.server_address[1]
        r = subprocess.run([_micropython(), "-m", "mip", "install", "--target", target, url],
                           capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=tmp))
    finally:
        srv.shutdown()
        srv.server_close()
    if "Done" not in r.stdout + r.stderr:
        sys.exit("mip install of package-mpy.json failed:\n" + r.stdout + r.stderr)
    return target


def main():
    if sys.implementation.name == "micropython":
        flash_part(ROOT)
        return
    import subprocess
    import tempfile
    import json
    part = sys.argv[1] if len(sys.argv) > 1 else None
    result = {}
    if part != "heap":
        r = subprocess.run([_micropython(), "-X", "heapsize=8M", os.path.join(ROOT, "tools", "bench_board.py"), "flash"],
                           capture_output=True, text=True, timeout=600)
        for line in (r.stdout + r.stderr).splitlines():
            if line.startswith("FLASH "):
                result.update(json.loads(line[6:]))
            else:
                print(line)
    if part == "flash":
        print("RESULT " + json.dumps(result))
        return
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    sys.path.insert(0, os.path.join(ROOT, "cpython"))
    from support.gateway import Gateway  # the real local gateway, as the tests run it
    from support.mpy import compile_core
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(os.path.join(tmp, "gw"))
        gw.start()
        try:
            mpy_core = compile_core(os.path.join(tmp, "mpy"))
            mip_core = mip_install_compiled(tmp)
            print("smallest heap for the standard workload (client, 1,000 sends, flush to a "
                  "local gateway, close), 64-bit unix port:")
            for transport in ("ws", "http"):
                src = smallest_heap(os.path.join(ROOT, "core"), gw, transport, tmp)
                mpy = smallest_heap(mpy_core, gw, transport, tmp)
                mip = smallest_heap(mip_core, gw, transport, tmp)
                print("  %-4s from .py source: %sK   from .mpy: %sK   from the compiled mip install "
                      "(package-mpy.json): %sK" % (transport, src, mpy, mip))
                result["min_heap_kib_%s_source" % transport] = src
                result["min_heap_kib_%s_mpy" % transport] = mpy
                result["min_heap_kib_%s_mip_mpy" % transport] = mip
        finally:
            gw.stop()
    # the headline: the default transport (ws) as `plexus deploy` installs it (.mpy)
    result["min_heap_kib"] = result.get("min_heap_kib_ws_mpy")
    print("RESULT " + json.dumps(result))


main()
