"""Dashboard tests: the real gateway serves the page, Playwright drives
Debian's Chromium (browser downloads are not possible here)."""

import os
import shutil

import pytest

from support.home import isolated_home  # noqa: F401  (autouse: no real ~/.plexus)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    path = os.environ.get("PLEXUS_CHROMIUM", CHROMIUM)
    if not (os.path.exists(path) or shutil.which(path)):
        pytest.fail("Chromium not found at %s: apt-get install chromium (as .ci/run does)" % path)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(60000)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()
    assert not errors, "JavaScript errors on the page: %s" % errors


@pytest.fixture
def artifacts(tmp_path):
    """Screenshots go to the test's tmp dir, or to $PLEXUS_TEST_ARTIFACTS when set (CI)."""
    d = os.environ.get("PLEXUS_TEST_ARTIFACTS") or str(tmp_path / "artifacts")
    os.makedirs(d, exist_ok=True)
    return d
