"""Tables as the book shows them.

A chapter returns each table through :func:`book_table`. What it returns is still a pandas DataFrame
(to compute with, test and plot; derived frames keep the type and the note), but a notebook, and so the
rendered book, shows it the book's way:

- a missing value as ``-``, never ``NaN``;
- the numbers of a float column with the same decimals (pandas' own column formatting, at the
  ``display.precision`` the chapter's notebook sets);
- a number and its ``±`` spread on one line;
- every cell whole: pandas' ``display.max_colwidth`` (50 characters, then "...") does not apply, since a
  book table's text columns (what a study measured, a row's note) are read, not skimmed;
- ``note`` under the table: the legend that lets its headers stay short.

How tables sit on the page (compact cells; a table wider than the text column scrolls inside its own
box, never the page) is the book's stylesheet, ``sphinx_static/fmnist_book.css``.
"""
from __future__ import annotations

import html
import re

import pandas as pd

MISSING = "-"
NOTE_CLASS = "table-note"
_NBSP = "\u00a0"
# The spaces of "0.912 ± 0.003" in the rendered HTML do not break (an interval "[low, high]" may, after its comma).
_KEEP_TOGETHER = re.compile(r"(?<=\d) ± (?=[+\-−]?\d)")


class BookTable(pd.DataFrame):
    """A DataFrame shown the book's way (see the module's docstring); ``note`` is the legend under it."""

    _metadata = ["note", "css_class"]
    note = ""
    css_class = ""  # an extra class of the HTML table, for the book's stylesheet (a claims table: "claims")

    @property
    def _constructor(self):
        return BookTable

    def _repr_html_(self) -> str:
        return table_html(self, self.note, self.css_class)


def book_table(frame: pd.DataFrame, note: str = "", css_class: str = "") -> BookTable:
    """``frame`` as the book shows it, with ``note`` (plain text) under it; ``css_class``: an extra class of the
    HTML table, which the book's stylesheet may style."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"book_table takes a pandas DataFrame, not {type(frame).__name__}")
    table = BookTable(frame)
    table.note, table.css_class = note, css_class
    return table


def table_html(frame: pd.DataFrame, note: str = "", css_class: str = "") -> str:
    """The HTML a notebook shows for ``frame``: pandas' own, with the book's missing values, whole cells,
    unbroken spreads and ``note`` in a paragraph under the table."""
    with pd.option_context("display.max_colwidth", None):
        text = frame.to_html(na_rep=MISSING, notebook=True, classes=css_class or None,
                             max_rows=pd.get_option("display.max_rows"),
                             max_cols=pd.get_option("display.max_columns"),
                             show_dimensions=pd.get_option("display.show_dimensions"),
                             float_format=pd.get_option("display.float_format"))
    text = _KEEP_TOGETHER.sub(f"{_NBSP}±{_NBSP}", text)
    if note:
        text += f'\n<p class="{NOTE_CLASS}">{html.escape(note)}</p>'
    return text
