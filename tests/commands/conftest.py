"""Command tests never touch the real ~/.plexus or environment settings."""

from support.home import isolated_home  # noqa: F401  (autouse)
