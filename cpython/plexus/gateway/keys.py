"""API keys: made here, stored only as SHA-256 hashes, checked on every request.

Keys are 32 random bytes, so a plain SHA-256 is enough (no password
stretching is needed for a secret that cannot be guessed). Only a short hint
(`plx_ab12…`) is kept for people to tell keys apart.
"""

import hashlib
import secrets
import time

SCOPES = ("write", "read", "commands")
DEFAULT_SCOPES = "write,read,commands"


class Key:
    """What a request may do, as decided by its key."""

    __slots__ = ("id", "name", "scopes", "source_id")

    def __init__(self, id, name, scopes, source_id):
        self.id = id
        self.name = name
        self.scopes = frozenset(scopes)
        self.source_id = source_id  # None: any source

    def can(self, scope):
        return scope in self.scopes

    def may_use(self, source_id):
        return self.source_id is None or self.source_id == source_id


def hash_key(key):
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_scopes(text):
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValueError("scope must be a comma-separated list of %s (got %r)" % (", ".join(SCOPES), text))
    return ",".join(s for s in SCOPES if s in scopes)


def new_key(name=None, scopes=DEFAULT_SCOPES, source_id=None):
    """(key, row): a fresh key and the (name, hash, hint, scopes, source_id,
    created_ms) row any store keeps for it."""
    from plexus_core.source_id import source_id_error

    scopes = parse_scopes(scopes)
    if source_id is not None:
        err = source_id_error(source_id)
        if err:
            raise ValueError(err)
    key = "plx_" + secrets.token_hex(24)
    return key, (name or "key", hash_key(key), key[:8] + "…", scopes, source_id, int(time.time() * 1000))


def create(conn, name=None, scopes=DEFAULT_SCOPES, source_id=None):
    """Store a new key's hash; returns the key, which is never stored or shown again."""
    key, row = new_key(name, scopes, source_id)
    conn.execute("INSERT INTO keys (name, hash, hint, scopes, source_id, created_ms) VALUES (?,?,?,?,?,?)", row)
    return key


def plausible(key):
    """False for what cannot be a key (checked before any lookup)."""
    return isinstance(key, str) and key.startswith("plx_") and len(key) <= 200


def find(conn, key):
    """The Key for a presented key string, or None if unknown or revoked."""
    if not plausible(key):
        return None
    row = conn.execute("SELECT id, name, scopes, source_id FROM keys WHERE hash=? AND revoked_ms IS NULL",
                       (hash_key(key),)).fetchone()
    if row is None:
        return None
    return Key(row[0], row[1], row[2].split(","), row[3])


def listing(conn):
    rows = conn.execute("SELECT id, name, hint, scopes, source_id, created_ms, revoked_ms FROM keys ORDER BY id")
    return [dict(zip(("id", "name", "hint", "scopes", "source_id", "created_ms", "revoked_ms"), r)) for r in rows]


def revoke(conn, ident):
    """Revoke by id or name; returns how many keys were revoked."""
    now = int(time.time() * 1000)
    if str(ident).isdigit():
        cur = conn.execute("UPDATE keys SET revoked_ms=? WHERE id=? AND revoked_ms IS NULL", (now, int(ident)))
    else:
        cur = conn.execute("UPDATE keys SET revoked_ms=? WHERE name=? AND revoked_ms IS NULL", (now, ident))
    return cur.rowcount
