"""A NOR-flash block device in RAM for littlefs (MicroPython's extended
block interface), with a journal of every program and erase so a power cut
at any operation can be rebuilt afterwards. Runs inside MicroPython."""

import vfs

BLOCK = 4096


class Flash:
    def __init__(self, count, size=BLOCK, image=None):
        self.count = count
        self.size = size
        self.data = bytearray(image) if image is not None else bytearray(b"\xff" * (count * size))
        self.journal = None     # list of (addr, bytes) programs and (block, None) erases
        self.programmed = 0     # bytes written
        self.erased = 0         # blocks erased

    def readblocks(self, block, buf, off=0):
        a = block * self.size + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, block, buf, off=0):
        a = block * self.size + off
        self.data[a:a + len(buf)] = buf
        self.programmed += len(buf)
        if self.journal is not None:
            self.journal.append((a, bytes(buf)))

    def ioctl(self, op, arg):
        if op == 4:
            return self.count
        if op == 5:
            return self.size
        if op == 6:
            a = arg * self.size
            self.data[a:a + self.size] = b"\xff" * self.size
            self.erased += 1
            if self.journal is not None:
                self.journal.append((arg, None))
        return 0


def apply(image, size, op, torn=False):
    """Replay one journalled operation on an image; torn: only its first half."""
    a, data = op
    if data is None:
        a *= size
        n = size // 2 if torn else size
        image[a:a + n] = b"\xff" * n
    else:
        n = len(data) // 2 if torn else len(data)
        image[a:a + n] = data[:n]


def mkfs(flash, progsize=None):
    if progsize:
        vfs.VfsLfs2.mkfs(flash, progsize=progsize)
    else:
        vfs.VfsLfs2.mkfs(flash)


def mount(flash, point, progsize=None):
    fs = vfs.VfsLfs2(flash, progsize=progsize) if progsize else vfs.VfsLfs2(flash)
    vfs.mount(fs, point)
    return fs


def read_segment(log, seq):
    """(batch_id, payload bytes, point count) of a segment, or None if the log
    found it corrupt; read the way the links read it (check, then stream)."""
    r = log.check(seq, bytearray(300))
    if r is None:
        return None
    out = bytearray()
    log.stream(seq, bytearray(333), out.extend)
    assert len(out) == r[2]
    return r[0], bytes(out), r[1]
