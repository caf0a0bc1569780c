from plexus_core import clock
from plexus_core.clock import Clock, Monotonic, epoch_shift_ms, wall_ms, EPOCH_2000_SHIFT_MS


class FakeTime:
    """A board's `time` module: optional time_ns, optional 2000 epoch."""

    def __init__(self, ns=None, secs=None, epoch=1970):
        self._ns = ns
        self._secs = secs
        self.epoch = epoch
        if ns is not None:
            self.time_ns = lambda: self._ns

    def time(self):
        return self._secs

    def gmtime(self, t):
        return (self.epoch, 1, 1, 0, 0, 0, 0, 1)


def test_wall_ms_is_int_and_current():
    ms = wall_ms()
    assert type(ms) is int
    assert 1700000000000 < ms < 4102444800000  # between 2023 and 2100


def test_epoch_2000_detected():
    assert epoch_shift_ms(FakeTime(epoch=2000).gmtime) == EPOCH_2000_SHIFT_MS
    assert epoch_shift_ms(FakeTime(epoch=1970).gmtime) == 0


def test_esp32_clock_counts_from_2000():
    # An ESP32 at 2025-10-09T08:53:20Z: 813315200 s since 2000.
    board = FakeTime(ns=813315200 * 1000000000 + 123000000, epoch=2000)
    saved = clock._SHIFT_MS
    try:
        clock._SHIFT_MS = epoch_shift_ms(board.gmtime)
        assert wall_ms(board) == 1760000000123
    finally:
        clock._SHIFT_MS = saved


def f32(x):
    """Round to single precision, as ESP32/RP2 floats are."""
    import struct
    return struct.unpack("f", struct.pack("f", x))[0]


def test_single_precision_float_epoch_is_never_used():
    # A float32 epoch is off by tens of seconds; the integer path is exact.
    true_ms = 1760000045123
    assert abs(f32(true_ms / 1000) * 1000 - true_ms) > 1000
    board = FakeTime(ns=true_ms * 1000000, secs=f32(true_ms / 1000))
    assert wall_ms(board) == true_ms + clock._SHIFT_MS


def test_no_time_ns_uses_integer_seconds():
    board = FakeTime(secs=1760000000)
    assert wall_ms(board) == 1760000000000 + clock._SHIFT_MS


PERIOD = 1 << 30  # board tick period


def test_monotonic_survives_tick_wrap():
    t = [PERIOD - 50]

    def ticks():
        return t[0] % PERIOD

    def diff(a, b):  # time.ticks_diff semantics for a 2^30 period
        d = (a - b) & (PERIOD - 1)
        return d - PERIOD if d >= PERIOD // 2 else d

    m = Monotonic(ticks, diff)
    assert m.ms() == 0
    t[0] += 30
    assert m.ms() == 30
    t[0] += 40          # crosses the wrap: raw ticks go from 2^30-20 to 20
    assert ticks() == 20
    assert m.ms() == 70
    for _ in range(5):  # many more periods, polled often enough
        t[0] += PERIOD // 4
        m.ms()
    assert m.ms() == 70 + 5 * (PERIOD // 4)


def test_clock_offset_with_rtt():
    local = [1760000000000]
    c = Clock(lambda: local[0])
    assert c.now_ms() == 1760000000000 and not c.synced
    # server says 3250 ms ahead at the moment it answered; reply took 20 ms
    assert c.sample(1760000003250, 40, 1760000000000)
    assert c.offset_ms == 3250 + 20
    assert c.now_ms() == 1760000003270
    assert c.synced and c.rtt_ms == 40


def test_clock_skips_slow_samples_then_adapts():
    c = Clock(lambda: 1000000)
    assert c.sample(2000000, 10, 1000000)
    off = c.offset_ms
    assert not c.sample(5000000, 900, 1000000)   # far slower than best: skipped
    assert c.offset_ms == off
    assert not c.sample(5000000, 900, 1000000)
    assert not c.sample(5000000, 900, 1000000)
    assert c.sample(5000000, 900, 1000000)        # persistent: network is slower now
    assert c.offset_ms == 4000000 + 450


def test_clock_ignores_bad_server_time():
    c = Clock(lambda: 5)
    for bad in (None, 0, -1, "1", True, 1.5):
        assert not c.sample(bad, 1, 5)
    assert c.offset_ms == 0 and not c.synced
