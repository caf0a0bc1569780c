"""The gateway's store on PostgreSQL (asyncpg): `plexus gateway --store postgresql://...`."""
