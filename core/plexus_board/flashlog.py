"""Power-cut-safe store of readings on flash, in whole segment files.

Readings collect in a RAM buffer the size of one flash block; when it is
full (or the caller seals it) it becomes one segment file, written once and
closed. On littlefs a closed file is durable and a remove is atomic, so
nothing is ever rewritten in place: write amplification stays near 1x,
where appending and syncing each reading rewrites a block per reading.

A segment is deleted once the gateway acknowledged it. Order comes from the
sequence number in the file name (no cursor file). Each segment carries its
batch id, so a resend after a reboot is recognised by the gateway.

Segment file: 12-byte header, batch id, payload (encoded points joined
with ","). Header: b"PX", version, id length, point count (u16), payload
length (u16), CRC-32 (u32) of the header's first 8 bytes, id and payload.
A file whose size or CRC does not match is torn or corrupt: it is removed
and counted on recovery, never delivered.
"""

import os
import struct
from binascii import crc32

MAGIC = b"PX\x01"
HEAD = 12
SUFFIX = ".seg"
ENOSPC = 28  # MicroPython's errno module has no ENOSPC name


class FlashLog:
    def __init__(self, path, segment_bytes=4096, max_segments=256, prefix=None):
        from plexus_core import forget
        from plexus_board import recovery  # what runs once: checks, mkdir -p, recovery
        recovery.check(segment_bytes, max_segments)  # before anything is allocated
        self.path = path.rstrip("/") or "/"
        self.segment_bytes = segment_bytes
        self.max_segments = max_segments
        self.prefix = prefix
        # RAM batch: the payload of the next segment (header room kept free).
        self._buf = bytearray(segment_bytes)
        self._n = 0           # payload bytes staged
        self.staged = 0       # readings staged
        self.seqs = []        # segment numbers on flash, oldest first
        self.npts = []        # readings in each of them
        self.stored = 0       # readings in segments on flash
        self.discarded = 0    # torn/corrupt segments removed on recovery
        self.evicted = 0      # readings dropped because the log was full
        self._next = 0
        try:
            recovery.open_log(self, SUFFIX)  # mkdir -p, the boot's batch-id prefix, recovery
        finally:
            recovery = None
            forget("plexus_board.recovery")  # runs once: free its code
        self._cap = segment_bytes - HEAD - len(self.prefix) - 12

    # -- names -------------------------------------------------------------------

    def _name(self, seq):
        return "%s/%08x%s" % (self.path, seq, SUFFIX)

    def _remove(self, seq):
        try:
            os.remove(self._name(seq))
        except OSError:
            pass  # already gone

    # -- writing -----------------------------------------------------------------

    def add(self, encoded):
        """Stage one encoded reading (str or bytes); seals a full segment first."""
        b = encoded.encode() if isinstance(encoded, str) else encoded
        n = len(b)
        need = n + 1 if self._n else n
        if self._n + need > self._cap:
            self.seal()
            need = n
            if n > self._cap:  # too big for any block-sized segment: it goes alone
                self._write(b, n, 1)
                return
        if self._n:
            self._buf[self._n] = 44  # ","
            self._n += 1
        self._buf[self._n:self._n + n] = b
        self._n += n
        self.staged += 1

    def seal(self):
        """Write the staged readings as one segment; returns its number or None."""
        if not self.staged:
            return None
        seq = self._write(self._buf, self._n, self.staged)
        self._n = 0
        self.staged = 0
        return seq

    def _write(self, data, n, npts):
        while len(self.seqs) >= self.max_segments:
            self._evict()
        seq = self._next
        self._next += 1
        bid = self.batch_id(seq).encode()
        head = bytearray(HEAD)
        head[:3] = MAGIC
        head[3] = len(bid)
        struct.pack_into("<HH", head, 4, npts, n)
        mv = memoryview(data)[:n]
        crc = crc32(mv, crc32(bid, crc32(memoryview(head)[:8]))) & 0xFFFFFFFF
        struct.pack_into("<I", head, 8, crc)
        while True:
            try:
                with open(self._name(seq), "wb") as f:
                    f.write(head)
                    f.write(bid)
                    f.write(mv)
                break
            except OSError as e:
                # Flash full: make room from the oldest and try again.
                if e.args[0] != ENOSPC or not self.seqs:
                    self._remove(seq)
                    raise
                self._remove(seq)
                self._evict()
        self.seqs.append(seq)
        self.npts.append(npts)
        self.stored += npts
        return seq

    def batch_id(self, seq):
        return "%s-%d" % (self.prefix, seq)

    def _evict(self):
        self.evicted += self.npts[0]
        self.delete(self.seqs[0])

    # -- reading and acknowledging -------------------------------------------------

    def check(self, seq, buf):
        """(batch_id, point count, payload length) of an intact segment, read
        through `buf` (any size) to check its CRC; None when it is gone or
        corrupt (then it is removed and counted). Then stream() sends it."""
        r = self._verify(seq, buf)
        if r is None:
            if seq in self.seqs:
                self.discarded += 1
            self.delete(seq)
        return r

    def _verify(self, seq, buf):
        """The one check of a segment: header, length and CRC."""
        try:
            with open(self._name(seq), "rb") as f:
                head = f.read(HEAD)
                if len(head) < HEAD or head[:3] != MAGIC:
                    return None
                npts, plen, want = struct.unpack("<HHI", head[4:])
                bid = f.read(head[3])
                crc = crc32(bid, crc32(memoryview(head)[:8]))
                left = plen
                mv = memoryview(buf)
                while left > 0:
                    k = f.readinto(mv[:left] if left < len(buf) else mv)
                    if not k:
                        return None  # shorter than its header says: torn
                    crc = crc32(mv[:k], crc)
                    left -= k
                if f.read(1) or len(bid) != head[3]:
                    return None  # longer than its header says
        except OSError:
            return None
        if crc & 0xFFFFFFFF != want or npts == 0:
            return None
        return bid.decode(), npts, plen

    def stream(self, seq, buf, out):
        """Call out(memoryview) with the payload of a checked segment, in
        pieces of up to len(buf) bytes: no segment-sized copy in RAM."""
        mv = memoryview(buf)
        with open(self._name(seq), "rb") as f:
            head = f.read(HEAD)
            left = struct.unpack("<H", head[6:8])[0]
            f.seek(HEAD + head[3])
            while left > 0:
                k = f.readinto(mv[:left] if left < len(buf) else mv)
                if not k:
                    raise OSError(5)  # shorter than when it was checked
                out(mv[:k])
                left -= k

    def delete(self, seq):
        """The gateway stored this segment: remove it (atomic on littlefs)."""
        self._remove(seq)
        try:
            i = self.seqs.index(seq)
        except ValueError:
            return
        self.stored -= self.npts[i]
        del self.seqs[i]
        del self.npts[i]

    def points(self):
        """Readings not yet acknowledged: on flash plus staged in RAM."""
        return self.stored + self.staged
