"""One client per buffer file.

Two live clients draining one store would send each other's batches
under the wrong source id.
A lock file next to the store (flock, released by the kernel when a process
dies, so a crash never leaves it stuck) makes the second one fail at once
with a message saying what to change.
"""

import os

from plexus_core.errors import PlexusError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here, the store still works
    fcntl = None


class BufferLock:
    def __init__(self, db_path):
        self.path = str(db_path) + ".lock"
        self._fd = None
        if fcntl is None:
            return
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise PlexusError(
                "The buffer %s is in use by another Plexus client (the same source_id in "
                "another process, or an unclosed client in this one). Give each client its "
                "own source_id or buffer_path, or close() the other one." % db_path) from None
        self._fd = fd

    def release(self):
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
