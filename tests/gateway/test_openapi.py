"""The gateway's own OpenAPI document (/openapi.json): the hosted routes as
the hosted document has them, every addition marked `x-plexus-extension`,
and nothing served that it leaves out (or documented that is not served)."""

import re

from plexus.gateway.app import make_app
from plexus.gateway.state import STATE
from plexus_core import __version__

from support.openapi import hosted_document, our_document
from support.raw import http

HOSTED = hosted_document()
OURS = our_document()
METHODS = ("get", "post", "put", "patch", "delete", "options")

# Served, but not described by an OpenAPI document, each for its reason:
UNDOCUMENTED = {
    "/": "the dashboard's static files",
    "/{name}": "the dashboard's static files",
    "/openapi.json": "the document itself (the hosted one does not list itself either)",
    "/vendor/{name}": "the dashboard's chart library files",
    "/metrics": "Prometheus text, not JSON (the hosted gateway serves its own the same way)",
}


def undocumented(path):
    """Also: WebSocket routes (OpenAPI has no words for them; the hosted document
    leaves its streams out too) and the /v1/devices alias (hosted keeps it out)."""
    return path in UNDOCUMENTED or path.startswith(("/ws/", "/v1/devices")) or path.endswith("/stream")


def operations(doc):
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}


def test_hosted_routes_are_as_hosted_and_additions_are_marked(gateway):
    status, served, _ = http(gateway, "GET", "/openapi.json")
    assert status == 200 and served["info"]["version"] == __version__
    assert dict(served, info=None) == dict(OURS, info=None)
    for path, item in HOSTED["paths"].items():
        assert served["paths"][path] == item, path
    for name, schema in HOSTED["components"]["schemas"].items():
        assert served["components"]["schemas"][name] == schema, name
    added = operations(served) - operations(HOSTED)
    assert added and all(served["paths"][p][m.lower()].get("x-plexus-extension") is True for m, p in added), added
    assert all("x-plexus-extension" not in op for p in HOSTED["paths"] for op in served["paths"][p].values())


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_every_reference_in_our_document_resolves():
    names = set(OURS["components"]["schemas"])
    refs = set(_refs(OURS))
    assert refs and all(r.startswith("#/components/schemas/") and r.rsplit("/", 1)[1] in names for r in refs), refs


def test_the_document_names_exactly_the_routes_the_router_serves(tmp_path):
    app = make_app(str(tmp_path / "gateway.db"))
    try:
        served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    finally:
        app[STATE].store.close()
    served = {(m, p) for m, p in served if not undocumented(p)}
    assert served == operations(OURS), (sorted(served - operations(OURS)), sorted(operations(OURS) - served))


def test_every_documented_operation_is_answered_by_a_real_gateway(gateway):
    for method, path in sorted(operations(OURS)):
        url = re.sub(r"\{[^}]+\}", "x", path)
        status, body, _ = http(gateway, method, url, body={} if method in ("POST", "PATCH") else None,
                               key=gateway.key)
        routed = status != 405 and (status, body) not in ((404, {"detail": "Not Found"}), (404, "404: Not Found"))
        assert routed, (method, path, status, body)
