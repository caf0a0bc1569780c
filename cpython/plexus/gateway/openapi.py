"""`GET /openapi.json`: the gateway's own OpenAPI document (openapi.json
beside this file). The hosted Data API's routes are described exactly as the
hosted document has them; what the gateway adds is marked
`x-plexus-extension: true` (tests/gateway/test_openapi.py keeps both true)."""

import json
import os

from plexus.gateway.jsontext import json_response
from plexus_core import __version__

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi.json")


def load():
    with open(PATH, encoding="utf-8") as f:
        doc = json.load(f)
    doc["info"]["version"] = __version__
    return doc


_DOC = load()


async def document(request):
    return json_response(_DOC)
