"""Wait on a condition with a timeout, never on a fixed sleep."""

import time


def wait_for(cond, timeout=60.0, what="condition"):
    """Poll `cond` until it returns something true (returned); AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
