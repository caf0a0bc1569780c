"""plexus_board: the board runtime (MicroPython), beside the shared core.

The board client (plexus_board.client.Plexus, what `from plexus import
Plexus` gives on a board), its flash log, the WebSocket and HTTP links and
the socket code they use. Nothing here is imported by the CPython package.
Modules load when first needed: this file imports nothing.
"""
