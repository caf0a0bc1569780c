"""Compact JSON text, as the hosted gateway's encoder writes it: no spaces
after ':' or ','. Small firmware finds fields by literal substrings
("type":"authenticated"), so every text the gateway writes goes through here."""

import json
from functools import partial

from aiohttp import web

dumps = partial(json.dumps, separators=(",", ":"), ensure_ascii=False)


def json_response(data, status=200, **kw):
    return web.json_response(data, status=status, dumps=dumps, **kw)
