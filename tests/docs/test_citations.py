"""Every citation points at something in the repository: "docs/<file>.md §N"
names a numbered heading of that file, nothing cites the wire spec that
lives outside the repository, and no bare pitfall tag (a P or F with a
number, from that outside list) stands in for a reason."""

import os
import re

from doccode import ROOT, rel

SEARCHED = ("core", "cpython", "tests", "tools", "firmware", "docs", "skills")
TEXT = (".py", ".md", ".js", ".html", ".css", ".sh", ".txt", ".toml", ".json")
NUMBER = r"\d+(?:\.\d+)?"
SECTION = re.compile(r"(?<![\w/.])§(%s)(?:-(%s))?" % (NUMBER, NUMBER))       # §4.6, §4.10-4.11
CITATION = re.compile(r"docs/([a-z0-9_-]+\.md) (§%s(?:-%s)?(?:, §%s(?:-%s)?)*)" % ((NUMBER,) * 4))
HEADING = re.compile(r"^#{2,4} (%s)\.? " % NUMBER, re.M)
OUTSIDE_SPEC = "PROTOCOL" + ".md"
PITFALL_TAG = re.compile(r"\b[PF][0-9]{1,2}\b")


def files():
    yield os.path.join(ROOT, "README.md")
    for top in SEARCHED:
        for d, dirs, names in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [x for x in dirs if not x.startswith(".") and x not in ("__pycache__", "node_modules")]
            for n in names:
                if n.endswith(TEXT):
                    yield os.path.join(d, n)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def headings(doc):
    path = os.path.join(ROOT, "docs", doc)
    return set(HEADING.findall(read(path))) if os.path.exists(path) else set()


def where(path, text, pos):
    return "%s:%d" % (rel(path), text.count("\n", 0, pos) + 1)


def test_the_protocol_has_numbered_sections():
    numbers = headings("protocol.md")
    for n in ("1", "2.2", "3.9", "4.6", "4.11", "4.13", "4.14", "8", "11", "12"):
        assert n in numbers, n


def test_every_docs_citation_resolves_to_a_numbered_heading():
    bad, seen = [], 0
    for path in files():
        text = read(path)
        for m in CITATION.finditer(text):
            seen += 1
            known = headings(m.group(1))
            for n in (n for ends in SECTION.findall(m.group(2)) for n in ends if n):
                if n not in known:
                    bad.append("%s: docs/%s §%s" % (where(path, text, m.start()), m.group(1), n))
    assert seen > 20
    assert not bad, "citations of sections that do not exist:\n" + "\n".join(bad)


def test_the_protocol_refers_to_its_own_sections_that_exist():
    path = os.path.join(ROOT, "docs", "protocol.md")
    text, known = read(path), headings("protocol.md")
    bad = [where(path, text, m.start()) + " §" + n for m in SECTION.finditer(text)
           for n in filter(None, m.groups()) if n not in known]
    assert not bad, bad


def test_nothing_cites_the_spec_outside_the_repository():
    bad = []
    for path in files():
        text = read(path)
        i = text.find(OUTSIDE_SPEC)
        if i >= 0:
            bad.append(where(path, text, i))
    assert not bad, "cite docs/protocol.md §N instead:\n" + "\n".join(bad)


def test_no_bare_pitfall_tags_remain():
    bad = []
    for path in files():
        text = read(path)
        for m in PITFALL_TAG.finditer(text):
            bad.append("%s: %s" % (where(path, text, m.start()), m.group(0)))
    assert not bad, "say the reason in words instead of a tag:\n" + "\n".join(bad)
