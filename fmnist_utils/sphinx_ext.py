"""The book's Sphinx extension: widgets and formulas that render offline, and each page script loaded once.

**Widgets and MathJax.** `make book` and `make test` fetch `@jupyter-widgets/html-manager`, RequireJS
and MathJax 3 from the npm registry into `_vendor/` (not committed). With those files the published
explorers and formulas render without any CDN, which the offline browser test needs; without them
the CDN defaults of myst-nb and Sphinx stay. (Not `_static/`: Jupyter Book would load every script
found there on every page.)

**Tables.** ``sphinx_static/fmnist_book.css`` tightens the Markdown tables and the chapters' pandas
tables so that their many numeric columns fit the text column; an output that is still wider (on a
phone) scrolls inside its own box, never the page.

**Scripts.** With Sphinx 7.4, sphinx-thebe 0.3.1 registers its configuration script twice, and the
second `const THEBE_JS_URL` is a JavaScript error on every page; identical scripts are dropped.
"""
from pathlib import Path

WIDGETS_DIR = "jupyter-widgets"
CDN = "https://cdn.jsdelivr.net/npm/"  # only for widget libraries the bundle does not contain


STATIC_DIR = Path(__file__).parent / "sphinx_static"
BOOK_CSS = "fmnist_book.css"
VENDOR_DIR = "_vendor"
MATHJAX_SCRIPT = "mathjax/tex-mml-chtml.js"  # finds its fonts in output/chtml/fonts/ beside itself


def local_renderer(vendor_dir: Path) -> dict | None:
    """myst-nb's ``nb_ipywidgets_js`` setting for the vendored files, or None if they are absent."""
    folder = vendor_dir / WIDGETS_DIR
    if not ((folder / "require.js").is_file() and (folder / "embed-amd.js").is_file()):
        return None
    return {f"{WIDGETS_DIR}/require.js": {},
            f"{WIDGETS_DIR}/embed-amd.js": {"data-jupyter-widgets-cdn": CDN}}


def local_mathjax(vendor_dir: Path) -> str | None:
    """Sphinx's ``mathjax_path`` (relative to ``_static/``) for the vendored MathJax, or None if absent."""
    return MATHJAX_SCRIPT if (vendor_dir / MATHJAX_SCRIPT).is_file() else None


def _use_local_assets(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC_DIR)]
    vendor = Path(app.srcdir) / VENDOR_DIR
    scripts, mathjax = local_renderer(vendor), local_mathjax(vendor)
    if scripts or mathjax:
        config.html_static_path = [*config.html_static_path, str(vendor)]  # copied into _build/html/_static/
    if scripts:
        config.nb_ipywidgets_js = scripts
    if mathjax:
        config.mathjax_path = mathjax


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # The second copy differs only in filename None vs '' (no file, an inline body).
        identity = (getattr(script, "filename", script) or "",
                    tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if identity not in seen:
            seen.add(identity)
            unique.append(script)
    if "script_files" in context:
        context["script_files"] = unique


def setup(app):
    app.connect("config-inited", _use_local_assets)
    app.add_css_file(BOOK_CSS)
    app.connect("html-page-context", _drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
