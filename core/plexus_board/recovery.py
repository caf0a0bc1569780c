"""Recovering a flash log (plexus_board.flashlog) at start: check its
settings, create its directory, pick this boot's batch-id prefix, and take up the segments left
on flash in order, discarding (and counting) torn or corrupt ones.

FlashLog() loads this and drops it after: on a board every loaded line of
code costs heap.
"""

import os
import struct
from binascii import hexlify


def check(segment_bytes, max_segments):
    """ValueError unless the flash log's sizes are usable."""
    if not isinstance(segment_bytes, int) or not 256 <= segment_bytes <= 65535:
        raise ValueError("segment_bytes must be an int from 256 to 65535 (one flash "
                         "block, 4096 on ESP32 and Pico), got %r" % (segment_bytes,))
    if not isinstance(max_segments, int) or max_segments < 2:
        raise ValueError("max_segments must be an int >= 2, got %r" % (max_segments,))


def make_dirs(path):
    """mkdir -p (MicroPython has no os.makedirs)."""
    part = ""
    for name in path.split("/"):
        if not name:
            continue
        part += "/" + name if (part or path.startswith("/")) else name
        try:
            os.mkdir(part)
        except OSError:
            pass  # exists


def boot_prefix():
    """Unique per boot: batch ids of this boot never repeat an earlier one's."""
    try:
        b = os.urandom(8)
    except Exception:  # ports without urandom
        import random
        import time
        b = struct.pack("<II", random.getrandbits(32), time.ticks_us() if hasattr(time, "ticks_us") else 0)
    return hexlify(b).decode()


def open_log(log, suffix):
    """Fill a new FlashLog from its directory; suffix: its segment files'."""
    make_dirs(log.path)
    if not log.prefix:
        log.prefix = boot_prefix()
    found = []
    for name in os.listdir(log.path):
        if name.endswith(suffix) and len(name) == 8 + len(suffix):
            try:
                found.append(int(name[:8], 16))
            except ValueError:
                pass
    found.sort()
    for seq in found:
        r = log._verify(seq, log._buf)  # the RAM batch is empty yet: scratch
        if r is None:
            log.discarded += 1
            log._remove(seq)
        else:
            log.seqs.append(seq)
            log.npts.append(r[1])
            log.stored += r[1]
    log._next = found[-1] + 1 if found else 0
