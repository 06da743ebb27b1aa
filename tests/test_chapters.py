"""Every chapter executed for real with profile ``smoke`` into an empty store, and the book built."""
import json

import papermill
import pytest

from fmnist_utils.claims import claims_label, counted, scorecard_markdown
from fmnist_utils.cli import (COMPUTE, EXAMPLES, FINDINGS, HIDE_INPUT, PARAMETERS, SCORECARD, SHOW_INPUT, SPEED,
                              VERDICT_FIGURE, chapter_name, chapter_notebooks, fold_code, report_texts,
                              verdict_figure_png)
from fmnist_utils.experiments import CHAPTERS
from fmnist_utils.store import DEFAULT_ROOT, REPO_ROOT

BOOK = REPO_ROOT / "book"
NOTEBOOKS = list(chapter_notebooks().values())  # the numbered chapters, then the appendices with runs


def test_every_chapter_has_a_notebook_and_an_experiment_module():
    assert sorted(chapter_name(p) for p in NOTEBOOKS) == sorted(CHAPTERS)
    assert [p.name for p in BOOK.glob("*.ipynb") if p not in NOTEBOOKS] == [], "a notebook no chapter module reads"
    toc = (REPO_ROOT / "_toc.yml").read_text()
    assert all(f"book/{p.stem}" in toc for p in NOTEBOOKS)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_runs_end_to_end_with_profile_smoke(notebook, tmp_path):
    from fmnist_utils.train import precision_problem

    if chapter_name(notebook) == "bfloat16_cost" and (problem := precision_problem("bfloat16", "auto")):
        pytest.skip(f"the bfloat16 appendix trains bfloat16 runs, refused here: {problem}")
    store = tmp_path / "store"
    papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), cwd=str(BOOK), kernel_name="python3",
                               parameters={"profile": "smoke", "store_dir": str(store), "progress": False},
                               progress_bar=False)
    executed = json.loads((tmp_path / "out.ipynb").read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any(store.glob("runs/*/result.json")), "the smoke profile trained nothing"
    claims = json.loads((store / "claims" / f"{notebook.stem}.json").read_text())["claims"]
    assert claims and all(c["verdict"] != "missing run" for c in claims)


@pytest.mark.slow
def test_bad_parameter_fails_in_the_first_cells_with_a_clear_message(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(str(NOTEBOOKS[0]), str(tmp_path / "out.ipynb"), cwd=str(BOOK),
                                   kernel_name="python3", parameters={"profile": "fast"}, progress_bar=False)
    assert "profile='fast'; allowed values: paper, quick, smoke" in str(error.value)
    assert error.value.exec_count <= 3  # parameters, injected parameters, settings


def test_parameters_are_documented_for_papermill_help():
    for notebook in NOTEBOOKS:
        parameters = papermill.inspect_notebook(str(notebook))
        assert {"profile", "train_missing", "store_dir", "device"} <= set(parameters)
        assert all(p["help"] for p in parameters.values()), f"undocumented parameter in {notebook.name}"
        # the cell a reader edits lists exactly what the chapter accepts: nothing missing, nothing stale
        assert set(parameters) == set(CHAPTERS[chapter_name(notebook)].SPEC.names()), notebook.name


def test_published_chapters_hold_no_training_logs_or_errors():
    for notebook in NOTEBOOKS:
        cells = json.loads(notebook.read_text())["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert outputs, f"{notebook.name} is committed without outputs: run `make publish`"
        assert not [o for o in outputs if o["output_type"] == "error"]
        assert not [o for o in outputs if o.get("name") == "stderr"], f"{notebook.name} has stderr output"


def test_publishing_folds_the_code_except_parameters_and_show_input_cells():
    notebook = {"cells": [{"cell_type": "code", "metadata": {"tags": [PARAMETERS]}},
                          {"cell_type": "markdown", "metadata": {}},
                          {"cell_type": "code", "metadata": {}},
                          {"cell_type": "code", "metadata": {"tags": ["nbval-ignore-output"]}},
                          {"cell_type": "code", "metadata": {"tags": [SHOW_INPUT, HIDE_INPUT]}}]}
    fold_code(notebook)
    fold_code(notebook)  # publishing again changes nothing
    assert [c["metadata"].get("tags") for c in notebook["cells"]] == [
        [PARAMETERS], None, [HIDE_INPUT], ["nbval-ignore-output", HIDE_INPUT], [SHOW_INPUT]]


def test_published_chapters_show_their_code_only_on_request():
    """Every code cell of a committed chapter is folded in the book, except the parameters cell and
    cells tagged show-input, as `fmnist-book publish` leaves them."""
    for notebook in NOTEBOOKS:
        cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
        for number, cell in enumerate(cells):
            tags = cell["metadata"].get("tags", [])
            shown = PARAMETERS in tags or SHOW_INPUT in tags
            assert (HIDE_INPUT in tags) != shown, (f"{notebook.name}, code cell {number}: tags {tags}; "
                                                   "`fmnist-book publish` folds every code cell but these")
        assert PARAMETERS in cells[0]["metadata"].get("tags", []), f"{notebook.name} has no parameters cell first"


def test_published_prose_has_no_placeholder_plurals():
    """Generated sentences say '1 seed' and '3 seeds', never 'seed(s)'."""
    assert (counted(1, "seed"), counted(3, "seed"), counted(0, "stored run")) == ("1 seed", "3 seeds", "0 stored runs")
    pages = [notebook.read_text() for notebook in NOTEBOOKS] + [path.read_text() for path in (SCORECARD, COMPUTE)]
    for word in ("epoch", "seed", "run", "model", "seed pair"):
        assert not [page for page in pages if f"{word}(s)" in page], f"'{word}(s)' in a published page"


def test_scorecard_compute_ledger_and_speed_page_are_generated_from_the_store():
    texts = report_texts()
    assert set(texts) == {SCORECARD, COMPUTE, SPEED, EXAMPLES, FINDINGS}
    for path, text in texts.items():
        assert path.read_text() == text, f"{path.name} is stale: run `fmnist-book scorecard`"
    assert texts[SCORECARD].split("\n", 2)[2] == scorecard_markdown(DEFAULT_ROOT)
    assert VERDICT_FIGURE.read_bytes() == verdict_figure_png(), "book/figures/verdicts.png is stale: run `fmnist-book scorecard`"


@pytest.mark.slow
def test_book_builds_with_warnings_as_errors(built_book):
    for notebook in NOTEBOOKS:
        assert (built_book / "book" / f"{notebook.stem}.html").exists()


def test_no_stored_early_stopping_run_of_a_chapter_has_its_best_epoch_at_its_cap():
    """A run that stopped at its epoch cap while still improving cannot carry a claim about where training
    ends: every early-stopping run a chapter's paper profile uses must have stopped before its best epoch
    reached the cap (runs not stored yet are the chapters' missing runs, and do not count here)."""
    from fmnist_utils.store import ResultStore, StoredRun

    store = ResultStore()
    capped = []
    for name, module in CHAPTERS.items():
        for config, _ in module.plan(module.settings_from({"profile": "paper"})):
            if getattr(config, "patience", None) is None:
                continue
            run = store.status(config)
            if isinstance(run, StoredRun) and run.metrics.get("best_epoch") == config.epochs:
                capped.append(f"{name}: {run.stored_as or run.key} (best epoch {config.epochs} = cap)")
    assert not capped, "runs stopped by their cap while improving:\n" + "\n".join(sorted(set(capped)))


def _markdown(notebook) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "markdown")


def test_no_chapter_types_a_study_number_in_its_prose():
    """A study's number is typed once, in its chapter's registry; prose pastes it in with {glue:md}. Bare
    numbers ("8", "0.1") are skipped: they read as epochs, layers or rates in any sentence."""
    import re

    for notebook in NOTEBOOKS:
        module = CHAPTERS[chapter_name(notebook)]
        prose = _markdown(notebook)
        typed = [claim.id for claim in module.REGISTRY if claim.numeric
                 and not re.fullmatch(r"[0-9]+(\.[0-9]+)?", claim.printed.strip())
                 and re.search(rf"(?<![0-9.,]){re.escape(claim.printed.strip())}(?![0-9])", prose)]
        assert typed == [], f"{notebook.name} types the study's numbers of {typed}: write {{glue:md}}`id` instead"


def test_every_number_the_prose_pastes_is_glued_by_its_notebook():
    import re

    for notebook in NOTEBOOKS:
        pasted = set(re.findall(r"\{glue:md\}`([^`]+)`", _markdown(notebook)))
        glued = {output["metadata"]["scrapbook"]["name"] for cell in json.loads(notebook.read_text())["cells"]
                 for output in cell.get("outputs", []) if "scrapbook" in output.get("metadata", {})}
        assert pasted - glued == set(), f"{notebook.name} pastes {sorted(pasted - glued)} that no cell glues"


def test_the_intro_describes_the_verdict_figure_it_shows():
    """The figure has a panel only for a chapter with a row of ours against a tolerance, and leaves out the rows that
    check a study against itself: the introduction promises no panel the figure lacks, and says what it leaves out."""
    from fmnist_utils.claims import load_claims
    from fmnist_utils.plots import verdict_overview

    chapters = load_claims(DEFAULT_ROOT)
    fig = verdict_overview(chapters)
    drawn = {ax.get_title(loc="left") for ax in fig.axes}
    intro = " ".join((BOOK / "intro.md").read_text().split())
    if drawn < {chapter["title"] for chapter in chapters}:
        assert "one panel per chapter" not in intro and "a panel for each chapter that has such a row" in intro
    assert "rows that check a study against itself are left out" in intro


def test_every_chapter_has_the_target_the_front_page_links_its_claims_to():
    """The findings link to each chapter's table of claims by a MyST target: a chapter without it would leave the
    front page with a broken reference."""
    for notebook in NOTEBOOKS:
        markdown = [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                    for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "markdown"]
        label = f"({claims_label(notebook.stem)})="
        assert sum(text.count(label) for text in markdown) == 1, f"{notebook.name} lacks {label}"
