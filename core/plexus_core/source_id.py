"""source_id rules of the 0.16 client, written as a loop.

MicroPython's re treats `{1,62}` as literal text, so a regex with counted
repetition silently rejects every id on a board: no regex here at all.
"""

from plexus_core.limits import MAX_NAME_BYTES

_FIRST = "abcdefghijklmnopqrstuvwxyz0123456789"
_REST = _FIRST + "._-"
_HEX = "0123456789abcdef"


def looks_like_uuid(s):
    if len(s) != 36:
        return False
    for i in range(36):
        c = s[i]
        if i in (8, 13, 18, 23):
            if c != "-":
                return False
        elif c not in _HEX:
            return False
    return True


def source_id_error(s, allow_uuid=False):
    """None if `s` is a valid source_id, else a message saying what to fix.

    Gateways accept UUID-shaped ids (0.5 clients could declare them); the
    0.16 client rule, the default here, does not."""
    if not isinstance(s, str):
        return "source_id must be a string, got %s" % type(s).__name__
    if not s:
        return "source_id must not be empty"
    if len(s) > MAX_NAME_BYTES:
        return "source_id is %d characters; the limit is %d" % (len(s), MAX_NAME_BYTES)
    if s[0] not in _FIRST:
        return "source_id %r must start with a lowercase letter or digit" % s
    for c in s:
        if c not in _REST:
            return ("source_id %r contains %r; use only lowercase letters, digits, "
                    "'.', '_' and '-'" % (s, c))
    if not allow_uuid and looks_like_uuid(s):
        return "source_id %r looks like a UUID; use a readable name such as 'pump-07'" % s
    return None


def check_source_id(s):
    """Return `s` if valid, else raise ValueError saying how to fix it."""
    err = source_id_error(s)
    if err:
        raise ValueError(err)
    return s


def is_valid_source_id(s):
    return source_id_error(s) is None
