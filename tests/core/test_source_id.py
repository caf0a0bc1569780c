from plexus_core.source_id import check_source_id, is_valid_source_id, looks_like_uuid
from check import raises, message


def test_valid_ids():
    for s in ("a", "0", "pump-07", "rover_3", "site.a.b", "x" * 256, "a-b_c.d9"):
        assert is_valid_source_id(s), s
        assert check_source_id(s) == s


def test_invalid_ids():
    for s in ("", "-a", ".a", "_a", "A", "Pump", "a b", "a/b", "é", "x" * 257, "a\n"):
        assert not is_valid_source_id(s), s
        raises(ValueError, check_source_id, s)


def test_non_string():
    for s in (None, 7, b"abc", ["a"]):
        raises(ValueError, check_source_id, s)


def test_uuid_shaped_rejected():
    u = "5be1c0f2-a9d8-4e07-b6a1-f3c2d4e5f607"
    assert looks_like_uuid(u)
    assert not is_valid_source_id(u)
    e = raises(ValueError, check_source_id, u)
    assert "UUID" in message(e)
    # one character off the UUID shape is a normal id
    assert is_valid_source_id("5be1c0f2-a9d8-4e07-b6a1-f3c2d4e5f60")
    assert is_valid_source_id("5be1c0f2xa9d8-4e07-b6a1-f3c2d4e5f607")


def test_62_char_ids_of_the_old_regex_work():
    # 0.5.2's `{1,62}` regex: MicroPython's re matches `{1,62}` literally, so
    # such a rule would reject this id on a board. The loop accepts it.
    assert is_valid_source_id("a" + "b" * 62)
    assert is_valid_source_id("ab")
