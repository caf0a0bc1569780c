"""Plexus telemetry SDK for CPython: `from plexus import Plexus`."""

from plexus_core import __version__
from plexus_core.errors import PlexusError, AuthenticationError, RateLimitedError

__all__ = ["__version__", "PlexusError", "AuthenticationError", "RateLimitedError"]
