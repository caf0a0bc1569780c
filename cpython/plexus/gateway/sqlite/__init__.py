"""The gateway's default store: one SQLite file (`plexus gateway --db PATH`),
written by one group-commit thread (gateway/db.py)."""
