"""Plexus telemetry SDK for CPython: `from plexus import Plexus`."""

from plexus_core import __version__
from plexus_core.errors import PlexusError, AuthenticationError, RateLimitedError
from plexus.config import RetryConfig
from plexus.client import Plexus
from plexus.batching import BatchSender
from plexus_core.commands import Cancelled, CommandDeclarationError, CommandParamError

__all__ = ["__version__", "Plexus", "PlexusError", "AuthenticationError", "RateLimitedError",
           "RetryConfig", "BatchSender", "CommandRun", "Cancelled", "CommandDeclarationError",
           "CommandParamError", "read_mjpeg_frames"]


def __getattr__(name):
    # The command layer loads when used: a client that only sends starts faster.
    if name == "CommandRun":
        from plexus.commands import CommandRun
        return CommandRun
    # Video needs numpy/OpenCV only when used: `import plexus` works without them.
    if name == "read_mjpeg_frames":
        from plexus.video import read_mjpeg_frames
        return read_mjpeg_frames
    raise AttributeError("module 'plexus' has no attribute %r" % name)
