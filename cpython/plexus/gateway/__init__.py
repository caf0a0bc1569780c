"""The local Plexus gateway: the hosted gateway's device protocol (HTTP
`/ingest`, `/ws/device`), its Data API and live streams, API keys and a web
dashboard, on one SQLite file. Run it with `plexus gateway`."""
