"""What every chapter module is, and the scaffolding they share.

A chapter module (``fmnist_utils/experiments/<name>.py``) holds only its study: what it claims
(``REGISTRY``), what it runs (``SPEC``, ``plan``, ``gather``), its tables, figures and prose. The
contract is ``Chapter``; this module supplies the rest: settings from the notebook's parameters, the
claim rows completed from the registry (every registered claim gets exactly one row), and the
notebook's closing table, saved for the book's scorecard, and the study's numbers pasted into the
chapter's prose (``glue_study_numbers``), so that no markdown cell types one.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Mapping, Protocol

from .claims import Registry, claims_frame, save_claims
from .params import ChapterSpec, resolve
from .tables import book_table
from .verdicts import NOT_TESTED, Verdict, not_tested


class Chapter(Protocol):
    """The contract of a chapter module (its notebook and ``fmnist-book`` rely on it)."""

    TITLE: str
    SPEC: ChapterSpec
    REGISTRY: Registry

    def settings_from(self, namespace: dict) -> SimpleNamespace: ...

    def plan(self, settings) -> list[tuple[Any, bool]]: ...  # (configuration, needs weights)

    def gather(self, settings) -> Any: ...

    def claims(self, runs) -> list[Verdict]: ...  # one judged row per tested claim of REGISTRY


def settings_function(spec: ChapterSpec) -> Callable[[dict], SimpleNamespace]:
    """``settings_from`` for a chapter: the notebook's globals resolved against its parameters."""

    def settings_from(namespace: dict) -> SimpleNamespace:
        return resolve(spec, namespace)

    return settings_from


def complete_rows(registry: Registry, judged: list[Verdict]) -> list[Verdict]:
    """Every registered claim once, in the registry's order: the judged rows and the not-tested ones.

    A tested claim without a row, a row for an unregistered or untested claim, or two rows for one
    claim is a mistake in the chapter, and stops here rather than leaving a claim out silently."""
    by_id: dict[str, Verdict] = {}
    for row in judged:
        if row.id in by_id:
            raise ValueError(f"claim {row.id!r} has two rows")
        claim = registry[row.id]  # raises for an unregistered id
        if claim.not_tested:
            raise ValueError(f"claim {row.id!r} is registered as not tested ({claim.not_tested}) but was judged")
        by_id[row.id] = row
    unjudged = [c.id for c in registry if not c.not_tested and c.id not in by_id]
    if unjudged:
        raise ValueError(f"registered claims without a row: {', '.join(unjudged)}")
    return [by_id[c.id] if c.id in by_id else not_tested(c) for c in registry]


def claims_table(name: str, chapter: Chapter, runs, store_root):
    """The notebook's 'study vs this book' table: judge, complete from the registry, save, show."""
    rows = complete_rows(chapter.REGISTRY, chapter.claims(runs))
    save_claims(name, chapter.TITLE, rows, store_root)
    # every cell whole: a row's interval and note are read, not skimmed ("claims": the stylesheet lets its cells
    # break a long word rather than scroll)
    return book_table(claims_frame(rows), css_class="claims")



def glue_study_numbers(registry: Registry, extra: Mapping[str, str] | None = None) -> None:
    """Paste numbers into the chapter's prose: every numeric claim's value as the study prints it, under
    the claim's id, and each of ``extra`` (numbers of the chapter's own, such as a counted parameter
    total) under its key. A markdown cell writes ``{glue:md}`cnn_2``` where it would type "99.06%";
    the book renders the value, so a number is typed once, in the registry or the code that counts it.
    """
    from IPython.display import Markdown
    from myst_nb import glue

    numbers = {claim.id: claim.printed for claim in registry if claim.numeric}
    clashes = sorted(set(numbers) & set(extra or {}))
    if clashes:
        raise ValueError(f"glue_study_numbers: {clashes} are claim ids already; rename these extra numbers")
    for key, text in {**numbers, **(extra or {})}.items():
        glue(key, Markdown(text), display=False)
