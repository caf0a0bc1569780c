"""Exceptions shared by every runtime. Bad input raises ValueError/TypeError."""


class PlexusError(Exception):
    """Something went wrong talking to the gateway (never carries the API key)."""


class AuthenticationError(PlexusError):
    """The gateway rejected the API key (missing, invalid, revoked or lacking scope)."""


class RateLimitedError(PlexusError):
    """The gateway refused or dropped data because a rate or plan limit was hit."""


class NotOnBoardError(PlexusError):
    """A CPython-only feature (video, SQLite, ...) was called on a board."""
