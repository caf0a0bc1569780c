"""Reconnect schedule of docs/protocol.md §4.9 as pure functions.

Randomness is passed in (u in [-1, 1]) so tests and boards choose the source.
"""

BASE_MS = 1000
CAP_MS = 60000
MAX_ATTEMPT = 10


def reconnect_delay_ms(attempt, u):
    """Delay before reconnect number `attempt` (0-based), jittered +-25 %."""
    if attempt > MAX_ATTEMPT:
        attempt = MAX_ATTEMPT
    b = BASE_MS << attempt
    if b > CAP_MS:
        b = CAP_MS
    d = b + int(b * u) // 4
    return d if d > 100 else 100


def goodbye_delay_ms(u01):
    """After a 1001 goodbye the gateway is redeploying: come back in 0.1-0.5 s."""
    return 100 + int(400 * u01)


class Backoff:
    """Attempt counter around reconnect_delay_ms(); reset on successful auth."""

    def __init__(self, rand):
        self._rand = rand  # returns a float in [0, 1)
        self.attempt = 0

    def next_ms(self):
        d = reconnect_delay_ms(self.attempt, self._rand() * 2 - 1)
        if self.attempt < MAX_ATTEMPT:
            self.attempt += 1
        return d

    def reset(self):
        self.attempt = 0
