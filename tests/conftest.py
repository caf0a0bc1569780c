import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "core"))  # the `check` helpers
sys.path.insert(0, HERE)  # tests.support as `support`

from support.gateway import gateway, hosted_gateway  # noqa: E402,F401  (gateway fixtures, for every test directory)
