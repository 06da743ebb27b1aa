"""The built book opened in headless Chromium, page by page, as a reader sees it.

Every page is opened in a desktop window (1280 pixels wide) and a phone's (390). Each must load without
a JavaScript error, every image must decode, every table must have rows, and every saved widget must
render from the state stored in the notebook. And the page must read like a report: it never scrolls
sideways, no table, figure or output is cut off or spills out of the text column (whatever is wider
scrolls inside its own box), and no table prints ``NaN``. In the desktop window, moreover, every table
fits the text column, no table header breaks into a column of single words, and every figure's smallest
text (``plots.MIN_FONT_PT`` at ``plots.DPI``) is still ``plots.MIN_TEXT_PX`` pixels or more once the
browser has scaled the figure to the column. Full-page screenshots go to ``_build/screenshots/``
(named by page and window width) for a human look. Needs Debian's ``chromium`` (`make test` installs it).
"""
import functools
import http.server
import re
import shutil
import threading
import warnings

import pytest

from fmnist_utils import plots
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

DESKTOP, PHONE = 1280, 390  # window widths in CSS pixels
# Headers of notebook tables may wrap once; "effect / of / the / norm / alone" is a column of words.
MAX_HEADER_LINES = 2

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

# How the page reads. An element wider than its box must be inside a box that scrolls sideways (overflow-x
# auto or scroll), and that box must itself fit the text column (the article) or scroll inside another;
# a box that hides its overflow must not cut anything off. Tables that scroll are listed: on a desktop
# every table fits. Text hidden on purpose (MathJax's copy for screen readers) is not looked at.
READER_FACTS = """(maxHeaderLines) => {
  const article = document.querySelector('article');
  const name = e => e.tagName.toLowerCase() + (typeof e.className === 'string' && e.className.trim()
      ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + (e.closest('.cell') ? ' in cell ' +
      [...document.querySelectorAll('article .cell')].indexOf(e.closest('.cell')) : '');
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const hidden = e => e.closest('mjx-assistive-mml') || e.getBoundingClientRect().width === 0;
  const outOfBox = e => {
    let box = e, inner = e.getBoundingClientRect();
    for (let up = e.parentElement; up; up = up.parentElement) {
      const outer = up.getBoundingClientRect();
      const out = inner.right > outer.right + 1 || inner.left < outer.left - 1;
      if (scrolls(up)) { box = up; inner = outer; }  // what sticks out scrolls inside `up`; now `up` must fit
      else if (out && ['hidden', 'clip'].includes(getComputedStyle(up).overflowX))
        return `${name(box)} is cut off by ${name(up)}`;
      if (up === article) return out && !scrolls(up) ? `${name(box)} spills out of the text column` : null;
    }
    return null;
  };
  const lines = e => {
    const range = document.createRange();
    range.selectNodeContents(e);
    return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top / 4))).size;
  };
  const watched = [...article.querySelectorAll('table, img, figure, pre, .cell_output, .cell_output > *')]
      .filter(e => !hidden(e));
  const outputs = [...article.querySelectorAll('.cell_output > *')].filter(e => !hidden(e));
  const column = article.querySelector('.cell_output');
  return {
    pageWidth: document.scrollingElement.scrollWidth, windowWidth: document.scrollingElement.clientWidth,
    outputColumn: column ? column.getBoundingClientRect().width : null,
    outOfBox: [...new Set(watched.map(outOfBox).filter(Boolean))],
    overfullOutputs: outputs.filter(e => e.scrollWidth > e.clientWidth + 1 && !scrolls(e)).map(name),
    nanTables: [...article.querySelectorAll('table')].filter(t => /\\bnan\\b/i.test(t.textContent)).map(name),
    scrollingTables: [...article.querySelectorAll('table')].filter(t => {
        for (let up = t.parentElement; up && up !== article; up = up.parentElement)
          if (scrolls(up) && up.scrollWidth > up.clientWidth + 1) return true;
        return false; }).map(name),
    tallHeaders: [...article.querySelectorAll('.cell_output thead th')].filter(th => lines(th) > maxHeaderLines)
        .map(th => `"${th.textContent.trim()}" (${lines(th)} lines) in ${name(th.closest('table'))}`),
    figures: [...article.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0).map(i => ({
        src: i.src.split('/').pop(), natural: i.naturalWidth, shown: i.getBoundingClientRect().width})),
  };
}"""


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


def screenshot_path(page_path: str, width: int):
    return SCREENSHOTS / f"{page_path.replace('/', '_').removesuffix('.html')}-{width}.png"


def visit(browser, base: str, page_path: str, width: int = DESKTOP) -> dict:
    """Open one page in a window ``width`` pixels wide, wait for it to settle, and return what went
    wrong on it plus its facts."""
    page = browser.new_page(viewport={"width": width, "height": 900})
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
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
    facts = {**page.evaluate(PAGE_FACTS), **page.evaluate(READER_FACTS, MAX_HEADER_LINES)}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot_path(page_path, width)), full_page=True)
    page.close()
    return {**problems, **facts}


def book_pages(html):
    """Every page of the table of contents (the front page, the chapters, the scorecard, the appendix)."""
    import yaml

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    return [f"{entry}.html" for entry in [toc["root"]] + [c["file"] for c in toc["chapters"]]]


@pytest.fixture(scope="module")
def visits(served_book, browser) -> dict:
    """Every page of the book seen in both windows, once per test module: (page, width) -> facts."""
    html, base = served_book
    pages = book_pages(html)
    assert len(pages) == 10 and all((html / p).exists() for p in pages), pages
    return {(page_path, width): visit(browser, base, page_path, width)
            for page_path in pages for width in (DESKTOP, PHONE)}


def test_every_page_renders_cleanly_in_chromium(visits):
    for (page_path, width), seen in visits.items():
        where = f"{page_path} at {width} px"
        if VENDORED:
            assert not seen["outside requests"], f"{where} asked for outside resources: {seen['outside requests']}"
            assert seen["typesetFormulas"] == seen["formulas"], f"{where}: formulas MathJax did not typeset"
        elif seen["outside requests"]:  # the CDN copies npm could not vendor: absent offline, there for readers online
            warnings.warn(f"{where} asked for outside resources: {seen['outside requests']}")
        assert not seen["page errors"], f"{where}: {seen['page errors']}"
        assert not seen["missing files"], f"{where}: {seen['missing files']}"
        assert not seen["brokenImages"], f"{where}: images that did not load: {seen['brokenImages']}"
        assert seen["tableRows"] and all(seen["tableRows"]), f"{where}: an empty table: {seen['tableRows']}"
        assert seen["widgetErrors"] == 0, f"{where}: a widget failed to render"
        assert seen["renderedWidgets"] >= seen["savedWidgets"], where


def layout_problems(seen: dict, width: int) -> list[str]:
    """What keeps one page, seen in a window ``width`` pixels wide, from reading like a report."""
    problems = []
    if seen["pageWidth"] > seen["windowWidth"] + 1:
        problems.append(f"the page scrolls sideways ({seen['pageWidth']} px in a {seen['windowWidth']} px window)")
    problems += seen["outOfBox"]
    problems += [f"{box} is wider than its box and does not scroll" for box in seen["overfullOutputs"]]
    problems += [f"NaN in {table}" for table in seen["nanTables"]]
    if width == DESKTOP:
        problems += [f"{table} does not fit the text column (it scrolls)" for table in seen["scrollingTables"]]
        problems += [f"a header breaks into a column of words: {header}" for header in seen["tallHeaders"]]
        if seen["outputColumn"] is not None and seen["outputColumn"] < plots.COLUMN_PX - 1:
            problems.append(f"the output column is {seen['outputColumn']:.0f} px wide, narrower than the "
                            f"{plots.COLUMN_PX} px the figures are sized for (plots.COLUMN_PX)")
        for figure in seen["figures"]:  # the smallest text of the figure rule, as the browser scaled it
            text = plots.text_px(plots.MIN_FONT_PT, figure["natural"], figure["shown"])
            if text < plots.MIN_TEXT_PX:
                problems.append(f"figure {figure['src']} ({figure['natural']} px) is shown {figure['shown']:.0f} px "
                                f"wide: its smallest text is {text:.1f} px, under {plots.MIN_TEXT_PX}")
    return problems


def test_every_page_reads_like_a_report_on_a_desktop_and_a_phone(visits):
    problems = {f"{page_path} at {width} px": found for (page_path, width), seen in visits.items()
                if (found := layout_problems(seen, width))}
    assert not problems, "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in problems.items())


def test_chapter_one_explorers_render_from_saved_state(visits):
    seen = visits[("book/01_baseline_vs_deeper.html", DESKTOP)]
    assert seen["savedWidgets"] == 2 and seen["renderedWidgets"] == 2
    assert screenshot_path("book/01_baseline_vs_deeper.html", DESKTOP).stat().st_size > 50_000


def test_chapter_six_explorer_renders_from_saved_state(visits):
    seen = visits[("book/06_common_protocol.html", DESKTOP)]
    assert seen["savedWidgets"] == 1 and seen["renderedWidgets"] == 1
