"""API keys on PostgreSQL (made and hashed by gateway/keys.py)."""

from plexus.gateway import keys
from plexus.gateway.store import now_ms


async def find(c, presented):
    if not keys.plausible(presented):
        return None
    r = await c.fetchrow("SELECT id, name, scopes, source_id FROM keys WHERE hash=$1 AND revoked_ms IS NULL",
                         keys.hash_key(presented))
    return keys.Key(r[0], r[1], r[2].split(","), r[3]) if r else None


async def insert(c, row):
    await c.execute("INSERT INTO keys (name, hash, hint, scopes, source_id, created_ms) VALUES ($1,$2,$3,$4,$5,$6)",
                    *row)


async def listing(c):
    rows = await c.fetch("SELECT id, name, hint, scopes, source_id, created_ms, revoked_ms FROM keys ORDER BY id")
    return [dict(r) for r in rows]


async def revoke(c, ident):
    if str(ident).isdigit():
        sql, arg = "UPDATE keys SET revoked_ms=$1 WHERE id=$2 AND revoked_ms IS NULL", int(ident)
    else:
        sql, arg = "UPDATE keys SET revoked_ms=$1 WHERE name=$2 AND revoked_ms IS NULL", ident
    return int((await c.execute(sql, now_ms(), arg)).split()[-1])
