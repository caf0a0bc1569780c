"""The docs cannot drift from the code: runnable blocks run against a real
gateway, every `plexus ...` command in them parses with the real CLI, and
every HTTP route they name is served by the gateway."""

import os
import re
import subprocess
import sys

import pytest

from doccode import ROOT, blocks, doc_files, plexus_commands, rel, runnable

RUNNABLE_DOCS = [f for f in doc_files() if runnable(f)]


def test_the_docs_exist_and_some_code_runs():
    names = {rel(f) for f in doc_files()}
    for doc in ("docs/sdk.md", "docs/api.md", "docs/firmware.md", "docs/protocol.md", "docs/reliability.md",
                "skills/plexus/SKILL.md"):
        assert doc in names, doc
    assert len(RUNNABLE_DOCS) >= 3


@pytest.mark.parametrize("path", RUNNABLE_DOCS, ids=rel)
def test_runnable_blocks(path, tmp_path):
    """Blocks of one file run in order, sharing one fresh gateway."""
    from support.gateway import Gateway
    gw = Gateway(tmp_path / "gateway")
    gw.start()
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, PLEXUS_API_KEY=gw.key, PLEXUS_GATEWAY_URL=gw.url, HOME=str(home),
               PLEXUS_CONFIG_DIR=str(home / ".plexus"), PLEXUS_QUIET="1", PLEXUS_GATEWAY_DB=gw.db_path,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    for k in ("PLEXUS_GATEWAY_WS_URL", "PLEXUS_ENDPOINT", "PLEXUS_API_URL"):
        env.pop(k, None)
    try:
        for i, (lang, code) in enumerate(runnable(path)):
            if lang == "python":
                script = tmp_path / ("block%d.py" % i)
                script.write_text(code)
                cmd = [sys.executable, str(script)]
            elif lang in ("sh", "bash"):
                cmd = ["bash", "-e", "-o", "pipefail", "-c", code]
            else:
                raise AssertionError("%s: runnable block %d is %r; only python and sh run" % (rel(path), i, lang))
            r = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=180)
            out = r.stdout + r.stderr
            assert r.returncode == 0, "%s block %d failed (exit %d):\n%s\n--- output ---\n%s" % (
                rel(path), i, r.returncode, code, out)
            assert gw.key not in r.stderr
    finally:
        gw.stop()


def _subparsers(parser):
    import argparse
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a.choices
    return {}


def _options(parser):
    return {s for a in parser._actions for s in a.option_strings}


@pytest.mark.parametrize("path", doc_files(), ids=rel)
def test_plexus_commands_in_docs_exist(path):
    from plexus.cli import build_parser
    bad = []
    for argv in plexus_commands(path):
        parser, words = build_parser(), argv[1:]
        while words and words[0] in _subparsers(parser):
            parser, words = _subparsers(parser)[words[0]], words[1:]
        if words and re.fullmatch(r"[a-z][a-z-]*", words[0]) and _subparsers(parser):
            bad.append("%s: unknown subcommand %r" % (" ".join(argv), words[0]))
        for w in words:
            flag = w.split("=")[0]
            if flag.startswith("--") and flag not in _options(parser):
                bad.append("%s: no option %s" % (" ".join(argv), flag))
    assert not bad, "%s names CLI commands that do not exist:\n%s" % (rel(path), "\n".join(bad))


ROUTE = re.compile(r"\b(GET|POST|PATCH|PUT|DELETE|OPTIONS) (/[A-Za-z0-9_{}/.*-]*)")


def _served_routes(tmp_path):
    pytest.importorskip("aiohttp")
    from plexus.gateway.app import make_app
    app = make_app(str(tmp_path / "routes.db"))
    served = set()
    for r in app.router.routes():
        served.add((r.method, re.sub(r"\{[^}]*\}", "{}", r.resource.canonical)))
    return served


def _named_routes(path):
    text = open(path, encoding="utf-8").read()
    named = {(m.group(1), m.group(2).rstrip(".")) for m in ROUTE.finditer(text)}
    return {(meth, p) for meth, p in named
            if "..." not in p and p.startswith(("/v1", "/api", "/ingest", "/health", "/ws"))}


DOCS_WITH_ROUTES = [p for p in doc_files() if _named_routes(p)]


def test_the_api_reference_names_routes():
    assert any(rel(p).endswith("api.md") for p in DOCS_WITH_ROUTES)


@pytest.mark.parametrize("path", DOCS_WITH_ROUTES, ids=rel)
def test_http_routes_in_docs_are_served(path, tmp_path):
    served = _served_routes(tmp_path)
    missing = sorted("%s %s" % (meth, p) for meth, p in _named_routes(path)
                     if (meth, re.sub(r"\{[^}]*\}", "{}", p)) not in served
                     and not (meth == "GET" and p.startswith("/v1/devices")))
    assert not missing, "%s names routes the gateway does not serve: %s" % (rel(path), missing)


def test_skill_front_matter():
    text = open(os.path.join(ROOT, "skills", "plexus", "SKILL.md"), encoding="utf-8").read()
    assert text.startswith("---\n")
    head = text.split("---\n")[1]
    fields = dict(line.split(":", 1) for line in head.strip().splitlines() if ":" in line)
    assert fields["name"].strip() == "plexus"
    assert len(fields["description"].strip()) > 40
    for ref in re.findall(r"\]\((references/[^)#]+)", text):
        assert os.path.exists(os.path.join(ROOT, "skills", "plexus", ref)), ref


def test_examples_named_in_docs_exist():
    missing = []
    for path in doc_files():
        for name in re.findall(r"\b((?:firmware/)?examples/[a-z0-9_]+\.py)\b", open(path, encoding="utf-8").read()):
            if not os.path.exists(os.path.join(ROOT, name)):
                missing.append("%s: %s" % (rel(path), name))
    assert not missing, missing


def test_no_block_is_marked_with_an_unknown_language():
    for path in doc_files():
        for info, _ in blocks(path):
            if len(info) > 1:
                assert info[1] == "runnable" and info[0] in ("python", "sh"), (rel(path), info)


def test_cli_reference_lists_every_command_and_option():
    from plexus.cli import build_parser
    text = open(os.path.join(ROOT, "skills", "plexus", "references", "cli.md"), encoding="utf-8").read()
    missing = []

    def walk(parser, path):
        if path:
            head = "### `plexus %s`" % " ".join(path)
            if head not in text:
                missing.append(head)
            section = text.split(head, 1)[-1].split("\n### ", 1)[0]
            for opt in _options(parser) - {"-h", "--help"}:
                if "`%s" % opt not in section:
                    missing.append("plexus %s %s" % (" ".join(path), opt))
        for name, sub in _subparsers(parser).items():
            walk(sub, path + [name])
    walk(build_parser(), [])
    assert not missing, ("skills/plexus/references/cli.md misses %s: regenerate it with "
                         "`.venv/bin/python tests/docs/make_cli_reference.py`" % missing)
