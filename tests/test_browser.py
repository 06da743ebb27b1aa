"""The built book opened in headless Chromium, page by page, as a reader sees it.

Each page must load without a JavaScript error, every image must decode, every table must have rows,
and every saved widget must render from the state stored in the notebook. Full-page screenshots go to
``_build/screenshots/`` for a human look. Needs Debian's ``chromium`` (`make test` installs it).
"""
import functools
import http.server
import re
import shutil
import threading
import warnings

import pytest

from fmnist_utils.store import REPO_ROOT

CHROMIUM = shutil.which("chromium")
SCREENSHOTS = REPO_ROOT / "_build" / "screenshots"
# No network here, and none needed: anything not served by the test server is refused and recorded.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
# The widget bundle looks for its icon fonts beside the page (under @jupyter-widgets/ there, whichever
# subfolder the bundle names); the explorers use no icons, so only those font files may be missing.
TOLERATED_MISSING = re.compile(r"/@jupyter-widgets/(?:[\w-]+/)*[0-9a-f]{20}\.(?:woff2?|ttf|eot|svg)$")
# With the vendored renderer and MathJax (`make setup` fetches them) a page needs nothing from outside.
VENDORED = all((REPO_ROOT / "_vendor" / f).is_file()
               for f in ("jupyter-widgets/embed-amd.js", "jupyter-widgets/require.js", "mathjax/tex-mml-chtml.js"))

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (`make browser`)")]

PAGE_FACTS = """() => ({
  brokenImages: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  tableRows: [...document.querySelectorAll('article table')].map(t => t.querySelectorAll('tbody tr').length),
  savedWidgets: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  renderedWidgets: document.querySelectorAll('.widget-image').length,
  widgetErrors: [...document.querySelectorAll('.jupyter-widgets')].filter(
      w => w.textContent.includes('Error displaying widget')).length,
  formulas: document.querySelectorAll('article .math').length,
  typesetFormulas: document.querySelectorAll('article .math mjx-container').length,
})"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served_book(built_book):
    handler = functools.partial(QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield built_book, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def visit(browser, base: str, page_path: str) -> dict:
    """Open one page, wait for it to settle, and return what went wrong on it plus its facts."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = {"page errors": [], "missing files": [], "outside requests": []}
    page.on("pageerror", lambda error: problems["page errors"].append(str(error)))
    page.on("response", lambda response: response.status >= 400
            and not TOLERATED_MISSING.search(response.url)
            and problems["missing files"].append(f"{response.status} {response.url}"))

    def local_only(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            problems["outside requests"].append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(base + page_path, wait_until="networkidle")
    first = page.evaluate(PAGE_FACTS)
    if first["savedWidgets"]:  # the renderer replaces each saved view with live DOM; give it time to do so
        page.wait_for_function(f"document.querySelectorAll('.widget-image').length >= {first['savedWidgets']}",
                               timeout=30_000)
    if first["formulas"] and VENDORED:  # MathJax typesets after the page has loaded
        page.wait_for_function(f"document.querySelectorAll('article .math mjx-container').length >= "
                               f"{first['formulas']}", timeout=30_000)
    facts = page.evaluate(PAGE_FACTS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "_").removesuffix(".html") + ".png")),
                    full_page=True)
    page.close()
    return {**problems, **facts}


def book_pages(html):
    """The intro, the five chapters and the appendix: every page of the table of contents."""
    return ["book/intro.html"] + sorted(p.relative_to(html).as_posix() for p in (html / "book").glob("0*.html")) \
        + ["book/appendix_speed.html"]


def test_every_page_renders_cleanly_in_chromium(served_book, browser):
    html, base = served_book
    pages = book_pages(html)
    assert len(pages) == 7 and all((html / p).exists() for p in pages), pages
    for page_path in pages:
        seen = visit(browser, base, page_path)
        if VENDORED:
            assert not seen["outside requests"], f"{page_path} asked for outside resources: {seen['outside requests']}"
            assert seen["typesetFormulas"] == seen["formulas"], f"{page_path}: formulas MathJax did not typeset"
        elif seen["outside requests"]:  # the CDN copies npm could not vendor: absent offline, there for readers online
            warnings.warn(f"{page_path} asked for outside resources: {seen['outside requests']}")
        assert not seen["page errors"], f"{page_path}: {seen['page errors']}"
        assert not seen["missing files"], f"{page_path}: {seen['missing files']}"
        assert not seen["brokenImages"], f"{page_path}: images that did not load: {seen['brokenImages']}"
        assert seen["tableRows"] and all(seen["tableRows"]), f"{page_path}: an empty table: {seen['tableRows']}"
        assert seen["widgetErrors"] == 0, f"{page_path}: a widget failed to render"
        assert seen["renderedWidgets"] >= seen["savedWidgets"], page_path


def test_chapter_one_explorers_render_from_saved_state(served_book, browser):
    html, base = served_book
    seen = visit(browser, base, "book/01_baseline_vs_deeper.html")
    assert seen["savedWidgets"] == 2 and seen["renderedWidgets"] == 2
    assert (SCREENSHOTS / "book_01_baseline_vs_deeper.png").stat().st_size > 50_000
