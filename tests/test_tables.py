"""Tables as the book shows them: a DataFrame still, shown without NaN, with its legend under it."""
import numpy as np
import pandas as pd
import pytest

from fmnist_utils.tables import MISSING, NOTE_CLASS, BookTable, book_table, table_html


def frame():
    return pd.DataFrame({"loss": [0.5, np.nan, 0.25], "F": [3.2, 1.0, np.nan], "mean ± std": ["0.912 ± 0.003", None, "-"],
                         "interval": ["[-0.003, +0.054]", "[+0.010, +0.020]", "missing"]},
                        index=pd.Index(["batch", "instance", "residual"], name="source"))


def cells(html: str) -> list[str]:
    return [cell.split("</td>")[0] for cell in html.split("<td>")[1:]]


def test_missing_values_show_as_a_dash_never_nan():
    html = book_table(frame())._repr_html_()
    assert "NaN" not in html and "None" not in html and "nan" not in html.lower().replace("dataframe", "")
    assert cells(html)[4] == cells(html)[6] == cells(html)[9] == MISSING  # the second row's loss and ±, a missing F


def test_a_float_column_shares_its_decimals():
    assert [c for c in cells(book_table(frame())._repr_html_())[::4]] == ["0.50", MISSING, "0.25"]


def test_a_number_with_its_spread_stays_on_one_line():
    html = book_table(frame())._repr_html_()
    assert "0.912\u00a0±\u00a00.003" in html and "0.912 ± 0.003" not in html
    assert "[-0.003, +0.054]" in html  # an interval may break after its comma


def test_a_long_cell_is_shown_whole_whatever_the_notebook_set():
    text = "test accuracy at the epoch of best test accuracy (best over the epochs); Adam 0.001, batch 8"
    with pd.option_context("display.max_colwidth", 50):
        assert cells(book_table(pd.DataFrame({"what": [text]}))._repr_html_()) == [text]


def test_the_note_is_under_the_table_and_escaped():
    html = book_table(frame(), "F < 1: no effect; & the residual has no F")._repr_html_()
    assert html.index("</table>") < html.index(f'<p class="{NOTE_CLASS}">F &lt; 1: no effect; &amp; the residual')
    assert NOTE_CLASS not in book_table(frame())._repr_html_()


def test_it_is_still_a_dataframe_and_derived_frames_keep_the_book_s_display():
    table = book_table(frame(), "legend")
    assert isinstance(table, pd.DataFrame) and table["loss"].max() == 0.5
    for derived in (table.round(1), table.reset_index().set_index("source"), table.assign(extra=1)):
        assert isinstance(derived, BookTable) and derived.note == "legend"
        assert "NaN" not in derived._repr_html_()
    # what a notebook saves as text (and nbval compares) is pandas' own
    assert repr(table) == repr(frame())


def test_the_html_is_the_same_every_time():
    assert table_html(frame(), "n") == table_html(frame().copy(), "n")


def test_only_a_dataframe_is_taken():
    with pytest.raises(TypeError, match="takes a pandas DataFrame, not Series"):
        book_table(frame()["loss"])
