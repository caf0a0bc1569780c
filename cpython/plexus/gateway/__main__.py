import sys

from plexus.gateway.cli import main

sys.exit(main())
