"""Plexus telemetry SDK for CPython: `from plexus import Plexus`."""

from plexus_core import __version__
from plexus_core.errors import PlexusError, AuthenticationError, RateLimitedError
from plexus.config import RetryConfig
from plexus.client import Plexus
from plexus.batching import BatchSender
from plexus.commands import Cancelled, CommandDeclarationError, CommandParamError, CommandRun

__all__ = ["__version__", "Plexus", "PlexusError", "AuthenticationError", "RateLimitedError",
           "RetryConfig", "BatchSender", "CommandRun", "Cancelled", "CommandDeclarationError",
           "CommandParamError", "read_mjpeg_frames"]


def __getattr__(name):
    # Video needs numpy/OpenCV only when used: `import plexus` works without them.
    if name == "read_mjpeg_frames":
        from plexus.video import read_mjpeg_frames
        return read_mjpeg_frames
    raise AttributeError("module 'plexus' has no attribute %r" % name)
