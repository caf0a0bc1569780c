"""OpenAPI documents for the tests: the hosted Data API's (kept outside the
repository, in shared/spec/ beside it) and the gateway's own, and checking an
answer against the operation a document gives for it."""

import json
import os
import re
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
OURS = ROOT / "cpython" / "plexus" / "gateway" / "openapi.json"


def hosted_document():
    """The hosted document: $PLEXUS_HOSTED_OPENAPI, or shared/spec/ beside the repository (or above it)."""
    env = os.environ.get("PLEXUS_HOSTED_OPENAPI")
    candidates = [Path(env)] if env else [p / "shared" / "spec" / "hosted-openapi.json" for p in ROOT.parents]
    for c in candidates:
        if c.is_file():
            return json.loads(c.read_text(encoding="utf-8"))
    raise AssertionError("hosted-openapi.json not found beside the repository; set PLEXUS_HOSTED_OPENAPI")


def our_document():
    return json.loads(OURS.read_text(encoding="utf-8"))


def operation(doc, method, path):
    """(path template, operation) the document gives for a request, or (None, None)."""
    for template, item in doc["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


def check_answer(doc, method, path, status, body):
    """Raises unless `body` is what the document says this operation answers
    with `status`. A status the document leaves out is a handler's own
    error, which FastAPI answers `{"detail": text}`."""
    template, op = operation(doc, method, path)
    assert op is not None, "%s %s is not in the document" % (method, path)
    resp = op["responses"].get(str(status))
    if resp is None:
        assert isinstance(body, dict) and set(body) == {"detail"} and isinstance(body["detail"], str), \
            (method, path, status, body)
        return template
    schema = resp.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        jsonschema.Draft202012Validator(dict(schema, components=doc["components"])).validate(body)
    return template
