"""One module per chapter: its parameters (profiles), the runs it needs, and its study claims.

A chapter module ``fmnist_utils/experiments/<name>.py`` pairs with ``book/NN_<name>.ipynb`` (an appendix
with runs and claims of its own: ``book/appendix_<name>.ipynb``; ``cli.chapter_notebooks``) and defines:

- ``TITLE`` and ``SPEC`` (a ``params.ChapterSpec``), and ``settings_from(namespace)``;
- ``plan(settings)``: every run as ``(RunConfig, needs_weights)``, so ``fmnist-book status`` and
  ``fmnist-book train`` see exactly the store entries the chapter will read;
- optionally ``fill_store(settings, store, workers, runs=None)``: a chapter-specific way to train
  what is missing of ``runs`` (default: the whole plan; for instance several small models trained
  together); ``fmnist-book train`` uses it instead of the generic sweep when present;
- the functions its notebook calls to gather runs and build tables, claims and conclusions.

Chapters are discovered here, so adding a module is enough to register one.
"""
import importlib
import pkgutil

CHAPTERS = {
    info.name: importlib.import_module(f"{__name__}.{info.name}")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
    if not info.name.startswith("_")
}
