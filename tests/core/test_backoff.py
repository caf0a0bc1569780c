from plexus_core.backoff import reconnect_delay_ms, goodbye_delay_ms, Backoff


def test_schedule_without_jitter():
    got = [reconnect_delay_ms(a, 0) for a in range(9)]
    assert got == [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
    assert reconnect_delay_ms(50, 0) == 60000


def test_jitter_bounds():
    assert reconnect_delay_ms(0, 1) == 1250
    assert reconnect_delay_ms(0, -1) == 750
    assert reconnect_delay_ms(6, 1) == 75000
    assert reconnect_delay_ms(6, -1) == 45000
    for a in range(12):
        for u in (-1, -0.5, 0, 0.3, 1):
            assert reconnect_delay_ms(a, u) >= 100


def test_goodbye_delay():
    assert goodbye_delay_ms(0) == 100
    assert goodbye_delay_ms(0.999) <= 500


def test_backoff_counter_and_reset():
    b = Backoff(lambda: 0.5)  # u = 0
    assert [b.next_ms() for _ in range(4)] == [1000, 2000, 4000, 8000]
    b.reset()
    assert b.next_ms() == 1000
    for _ in range(20):
        b.next_ms()
    assert b.attempt == 10 and b.next_ms() == 60000
