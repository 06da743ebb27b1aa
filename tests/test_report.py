"""The compute ledger and the per-profile timings of book/compute.md."""
import dataclasses
import json
import types

import pytest

from fmnist_utils.report import chapter_compute, compute_markdown, load_timings, record_timing
from fmnist_utils.store import ResultStore


def fake_chapter(configs):
    """A chapter module reduced to what the ledger uses: settings and a plan (with a repeated run)."""
    return types.SimpleNamespace(settings_from=lambda namespace: namespace,
                                 plan=lambda settings: [(c, False) for c in configs] + [(configs[0], False)])


def test_ledger_counts_stored_and_missing_runs_and_their_core_hours(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    run = store.get_or_train(tiny_config, progress=False)
    other = dataclasses.replace(tiny_config, seed=4)
    ledger = chapter_compute("01_x", fake_chapter([tiny_config, other]), store)
    assert (ledger.planned, ledger.stored, ledger.missing, ledger.checkpointed_epochs) == (2, 1, 1, 0)
    timing, threads = run.result["timing"], run.result["provenance"]["threads"]
    expected = (timing["train_seconds"] + timing["eval_seconds"]) * threads / 3600
    assert ledger.core_hours == pytest.approx(expected) and ledger.core_hours > 0


def test_timings_keep_the_latest_measurement_per_chapter_and_profile(tmp_path):
    record_timing(tmp_path, "01_x", "smoke", 50.0)
    record_timing(tmp_path, "01_x", "smoke", 42.04)
    record_timing(tmp_path, "01_x", "paper", 7200.0)
    timings = load_timings(tmp_path)
    assert timings["01_x"]["smoke"]["seconds"] == 42.0 and timings["01_x"]["paper"]["seconds"] == 7200.0
    assert json.loads((tmp_path / "timings.json").read_text()) == timings
    assert not list(tmp_path.glob("*.tmp"))


def test_compute_page_lists_every_chapter_and_says_what_is_not_measured(tiny_config, tmp_path):
    ResultStore(tmp_path).get_or_train(tiny_config, progress=False)
    record_timing(tmp_path, "01_x", "smoke", 42.0)
    record_timing(tmp_path, "02_y", "paper", 7200.0)
    page = compute_markdown(tmp_path, {"01_x": fake_chapter([tiny_config]),
                                       "02_y": fake_chapter([dataclasses.replace(tiny_config, seed=9)])})
    assert "| {doc}`01_x` | 1 | 1 | 0 |" in page and "| {doc}`02_y` | 1 | 0 | 1 |" in page
    assert "| **all chapters** | 2 | 1 | 1 |" in page
    assert "| {doc}`01_x` | 42 s | *not measured* | *not measured* |" in page
    assert "| {doc}`02_y` | *not measured* | *not measured* | 2.0 h |" in page
