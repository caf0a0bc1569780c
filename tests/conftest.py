import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "core"))  # the `check` helpers
sys.path.insert(0, HERE)  # tests.support as `support`

from support.gateway import gateway  # noqa: E402,F401  (the `gateway` fixture, for every test directory)
from support.postgres import postgres  # noqa: E402,F401  (a PostgreSQL server for the session, on first use)
from support.balancer import haproxy_bin  # noqa: E402,F401  (skips when HAProxy is not installed)
