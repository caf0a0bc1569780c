"""Board-side `plexus` package: the same `from plexus import Plexus` as on
CPython, backed by plexus_board and plexus_core. Installed by mip
(package.json)."""

from plexus_core import __version__
from plexus_core.errors import PlexusError, AuthenticationError, RateLimitedError, NotOnBoardError

try:
    from plexus_board.client import Plexus
except ImportError:  # the board client is not part of this install
    pass
