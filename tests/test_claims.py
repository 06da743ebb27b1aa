"""The chapters' shared formatting helpers (fmnist_utils.claims, fmnist_utils.stats)."""
import json

import pytest

from fmnist_utils.claims import Finding, Registry, StudyClaim, counted
from fmnist_utils.stats import mean_sd_text


def test_mean_sd_formats_a_mean_and_its_seed_spread():
    assert mean_sd_text([0.9233, 0.9225, 0.9252], 4) == "0.9237 ± 0.0014"
    assert mean_sd_text([0.9233, 0.9225, 0.9252], 2, 100, unit="%") == "92.37% ± 0.14"
    assert mean_sd_text([0.9233], 4) == "0.9233"  # one seed has no spread to show


def test_mean_sd_names_an_empty_cell():
    assert mean_sd_text([]) == "missing" and mean_sd_text([], empty="-") == "-"


def test_counted():
    assert (counted(1, "seed"), counted(2, "seed")) == ("1 seed", "2 seeds")


def _saved(tmp_path, verdicts: dict):
    from fmnist_utils.claims import save_claims

    rows = [{"id": cid, "claim": f"claim {cid}", "where": "Table 1", "study": "90%", "ours": "88.00%", "verdict": v}
            for cid, v in verdicts.items()]
    path = save_claims("09_example", "Example", [], tmp_path)
    path.write_text(json.dumps({"chapter": "09_example", "title": "Example", "claims": rows}))


def test_front_page_findings_follow_the_saved_verdicts(tmp_path):
    from fmnist_utils.claims import findings_markdown

    _saved(tmp_path, {"a": "reproduced", "b": "not reproduced", "c": "inconclusive", "d": "missing run"})
    findings = [Finding("09_example", "a", "lead a"), Finding("09_example", "b", "lead b"),
                Finding("09_example", "c", "lead c"), Finding("09_example", "d", "lead d")]
    text = findings_markdown(tmp_path, findings)
    holds, fails, open_, waiting = (text.split(f"**{h}**")[1] for h in (
        "What holds", "What does not hold", "What the evidence cannot settle", "Waiting for runs"))
    assert "Lead a:" in holds.split("**")[0] and "Lead b:" in fails.split("**")[0]
    assert "Lead c:" in open_.split("**")[0] and "Lead d" not in open_.split("**")[0]
    assert "Lead d: the study prints 90%, this book is waiting for runs the store lacks" in waiting  # none settles it
    assert "{doc}`09_example`" in text
    # the whole book at a glance comes first, every row counted, not only the chosen ones
    assert text.startswith("**Every row at a glance.** Of the book's 4 rows that set a claim (a study's, or this "
                           "book's own in chapter 6 and the appendix) against this book's runs: 1 reproduced, "
                           "1 not reproduced, 1 inconclusive, 1 missing run")
    # not comparable and not tested have groups of their own: no verdict falls off the page
    _saved(tmp_path, {"a": "not comparable", "b": "not tested", "c": "inconclusive", "d": "missing run"})
    text = findings_markdown(tmp_path, findings)
    assert "Lead a:" in text.split("**What cannot be measured as the study defined it**")[1].split("**")[0]
    assert "Lead b:" in text.split("**Not tested**")[1]
    _saved(tmp_path, {"a": "not reproduced", "b": "not reproduced", "c": "inconclusive", "d": "missing run"})
    assert "What holds" not in findings_markdown(tmp_path, findings)  # the page follows a changed verdict


def test_a_finding_waiting_for_some_of_its_runs_does_not_say_it_has_none(tmp_path):
    """Chapter 6's trade-off row waits for 19 of its 42 runs: 23 are stored, so "no run yet" was false. The line
    says the row waits, and its note says for how many."""
    from fmnist_utils.claims import findings_markdown

    note = "waiting for every seed of A, B (19 of the row's 42 runs missing)"
    path = tmp_path / "claims" / "09_example.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"chapter": "09_example", "title": "Example", "claims": [
        {"id": "d", "claim": "claim d", "where": "Table 1", "study": "favourable", "ours": "-",
         "verdict": "missing run", "note": note}]}))
    text = findings_markdown(tmp_path, [Finding("09_example", "d", "lead d")])
    assert "no run yet" not in text
    assert f"this book is waiting for runs the store lacks. The row's note: {note}." in text


def test_a_front_page_finding_without_a_saved_row_stops_with_the_fix(tmp_path):
    from fmnist_utils.claims import findings_markdown

    _saved(tmp_path, {"a": "reproduced"})
    with pytest.raises(KeyError, match="09_example:zz.*publish those chapters or correct claims.FINDINGS"):
        findings_markdown(tmp_path, [Finding("09_example", "zz", "lead")])


def test_every_front_page_finding_names_a_saved_row():
    from fmnist_utils.claims import FINDINGS, findings_markdown
    from fmnist_utils.store import DEFAULT_ROOT

    assert findings_markdown(DEFAULT_ROOT).count("Evidence: {doc}") == len(FINDINGS)


def test_glue_study_numbers_pastes_each_numeric_claim_and_refuses_a_clash(monkeypatch):
    import myst_nb

    from fmnist_utils.chapter import glue_study_numbers

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.update({name: (value.data, display)}))
    registry = Registry([StudyClaim("acc", "accuracy", "Table 1", "92.72%", "test accuracy"),
                         StudyClaim("order", "A above B", "Table 1", "A > B", "ordering of test accuracy")])
    glue_study_numbers(registry, {"count": "1,234"})
    assert glued == {"acc": ("92.72%", False), "count": ("1,234", False)}
    with pytest.raises(ValueError, match=r"\['acc'\] are claim ids already"):
        glue_study_numbers(registry, {"acc": "1"})


def test_a_front_page_finding_carries_its_rows_caveats_and_the_rows_named_beside_it(tmp_path):
    """A finding drops nothing its row says: the note (what the study's number is, how the verdict could change),
    the difference against the rule's band (a slim margin shows), and a companion row of the study's other number
    for the same claim, with its own verdict."""
    from fmnist_utils.claims import findings_markdown

    rows = [{"id": "final", "claim": "final loss", "where": "section 5", "study": "27.0%", "ours": "30.18% ± 1.02% (n=5)",
             "verdict": "not reproduced", "rule": "±3.16% (n=5, s=1.02%); material 2.70%",
             "note": "7 epochs, the journal's budget; read on held-out training images, inconclusive: 27.56%",
             "difference": 3.178296, "tolerance": 3.162750},
            {"id": "notebook", "claim": "loss in the study's notebook", "where": "study notebook", "study": "0.3626",
             "ours": "0.3231 ± 0.0007 (n=5)", "verdict": "not reproduced", "note": "5 epochs, as the study's code",
             "difference": -0.039549, "tolerance": 0.002225},
            {"id": "best", "claim": "A is best", "where": "section 4", "study": "A", "ours": "highest: A; tied: B",
             "verdict": "inconclusive", "note": "1 run per model", "difference": None, "tolerance": None}]
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "09_example.json").write_text(json.dumps({"chapter": "09_example", "title": "Example",
                                                                      "claims": rows}))
    text = findings_markdown(tmp_path, [Finding("09_example", "final", "the final loss", ("notebook",)),
                                        Finding("09_example", "best", "A as the best")])
    final = next(line for line in text.splitlines() if line.startswith("- The final loss"))
    assert ("the study prints 27.0%, this book measures 30.18% ± 1.02% (n=5), a difference of +3.18% against a band "
            "of ±3.16%.") in final
    assert "The row's note: 7 epochs, the journal's budget; read on held-out training images, inconclusive: 27.56%." in final
    assert ("Beside it, *loss in the study's notebook* (study notebook; not reproduced): the study prints 0.3626, this "
            "book measures 0.3231 ± 0.0007 (n=5), a difference of -0.0395 against a band of ±0.0022; its note: 5 "
            "epochs, as the study's code.") in final
    assert "The row's note: 1 run per model." in text  # a ranking's caveat: one run per model
    with pytest.raises(KeyError, match="09_example:absent"):
        findings_markdown(tmp_path, [Finding("09_example", "final", "lead", ("absent",))])


def test_every_front_page_finding_carries_its_saved_rows_note():
    from fmnist_utils.claims import FINDINGS, _cell, findings_markdown, load_claims
    from fmnist_utils.store import DEFAULT_ROOT

    notes = {(c["chapter"], r["id"]): r.get("note") for c in load_claims(DEFAULT_ROOT) for r in c["claims"]}
    lines = [line for line in findings_markdown(DEFAULT_ROOT).splitlines() if line.startswith("- ")]
    for finding in FINDINGS:
        line = next(line for line in lines if line.startswith(f"- {finding.lead[0].upper() + finding.lead[1:]}"))
        for claim in (finding.claim, *finding.beside):
            assert _cell(notes[(finding.chapter, claim)]) in line, (finding.chapter, claim)


def test_a_chapters_claims_table_shows_every_cell_whole(tmp_path):
    """The rendered claims tables cut a row's interval and note at pandas' 50 characters ("..."), hiding the
    caveats a verdict rests on."""
    from types import SimpleNamespace

    from fmnist_utils.chapter import claims_table
    from fmnist_utils.verdicts import judge_value

    claim = StudyClaim("acc", "accuracy", "Table 1", "92.72%", "test accuracy")
    note = "a caveat long enough that pandas would cut it at fifty characters, which it must not do here"
    chapter = SimpleNamespace(REGISTRY=Registry([claim]), TITLE="Example", claims=lambda runs: [
        judge_value(claim, [0.927, 0.928, 0.926], measured="test accuracy", note=note)])
    html = claims_table("09_example", chapter, None, tmp_path)._repr_html_()
    assert note in html and "..." not in html
    assert '<table border="1" class="dataframe claims">' in html  # the stylesheet lets its cells break long words


def test_a_printed_range_reads_as_its_middle_with_half_its_width_as_latitude():
    """"7-8%": 7.5%, any value in the range the study's (half a point of latitude plus half a unit of the last
    digit); the latitude is reported apart so that the material check can leave it out."""
    claim = StudyClaim("gain", "a gain", "text", "7-8%", "relative reduction")
    assert claim.numeric and claim.value == pytest.approx(0.075) and claim.unit == "%"
    assert claim.span == pytest.approx(0.005) and claim.rounding == pytest.approx(0.01)
    assert StudyClaim("x", "", "", "7.5%", "q").span == 0.0
    assert StudyClaim("x", "", "", "6.5-8.25%", "q").rounding == pytest.approx((0.875 + 0.005) / 100)



def test_the_scorecard_counts_the_rows_that_check_a_study_against_itself_apart(tmp_path):
    from fmnist_utils.claims import save_claims, scorecard_markdown

    rows = [{"id": i, "claim": f"claim {i}", "where": "Table 1", "study": "90%", "ours": "88.00%", "verdict": v,
             "against_itself": own} for i, v, own in (("a", "reproduced", False), ("b", "not reproduced", True),
                                                      ("c", "not reproduced", True), ("d", "inconclusive", False))]
    path = save_claims("09_example", "Example", [], tmp_path)
    path.write_text(json.dumps({"chapter": "09_example", "title": "Example", "claims": rows}))
    assert ("{doc}`09_example`: 1 reproduced, 2 not reproduced, 1 inconclusive; 2 rows of these check the study "
            "against its own numbers (2 not reproduced).") in scorecard_markdown(tmp_path)
    rows[1]["against_itself"] = False
    path.write_text(json.dumps({"chapter": "09_example", "title": "Example", "claims": rows}))
    assert "1 row of these checks the study against its own numbers (1 not reproduced)." in scorecard_markdown(tmp_path)
    rows[2]["against_itself"] = False
    path.write_text(json.dumps({"chapter": "09_example", "title": "Example", "claims": rows}))
    assert "against its own numbers" not in scorecard_markdown(tmp_path)


def test_the_worked_examples_skip_a_row_whose_seeds_print_no_spread(tmp_path):
    """The introduction's example of each verdict is a real row; where a row's seeds happen to print a spread of
    zero (its band the study's rounding alone) a later row with a measured spread shows the procedure instead."""
    import json

    from fmnist_utils.claims import verdict_examples_markdown

    def row(claim, rule):
        return {"id": claim, "claim": claim, "where": "T", "study": "1", "ours": "2", "verdict": "not reproduced",
                "rule": rule, "note": ""}

    (tmp_path / "claims").mkdir()
    rows = [row("flat", "±0.0002 (n=3, s=0.0000); material 0.0100"), row("measured", "±0.0069 (n=3, s=0.0014)")]
    (tmp_path / "claims" / "01_x.json").write_text(json.dumps({"chapter": "01_x", "title": "x", "claims": rows}))
    assert "*measured*" in verdict_examples_markdown(tmp_path) and "*flat*" not in verdict_examples_markdown(tmp_path)
    (tmp_path / "claims" / "01_x.json").write_text(json.dumps({"chapter": "01_x", "title": "x", "claims": rows[:1]}))
    assert "*flat*" in verdict_examples_markdown(tmp_path)  # the only row of its verdict is still shown
