"""The compute ledger and the per-profile timings of book/compute.md."""
import dataclasses
import json
import types

import pytest

from fmnist_utils.config import RunConfig
from fmnist_utils.report import (CostModel, chapter_compute, compute_markdown, core_hours_text, load_timings,
                                 record_timing, run_core_seconds)
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


def test_a_missing_run_is_costed_from_stored_runs_of_the_same_architecture(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    run = store.get_or_train(tiny_config, progress=False, threads=1)
    missing = dataclasses.replace(tiny_config, seed=4, epochs=5)
    ledger = chapter_compute("01_x", fake_chapter([tiny_config, missing]), store)
    (cost,) = ledger.missing_runs
    rows = run.history  # priced from CPU time, which every row of a run on the CPU records
    per_image = sum(r["train_cpu_seconds"] for r in rows) / sum(r["train_images"] for r in rows)
    per_epoch = (per_image * 256 + sum(r["eval_cpu_seconds"] for r in rows) / len(rows)) / 3600
    assert cost.key == store.key(missing) and cost.epochs_left == 5
    assert cost.core_hours == pytest.approx(5 * per_epoch) and cost.core_hours > 0
    assert cost.expected_core_hours == cost.core_hours  # no early stopping: every epoch runs
    assert "same architecture" in cost.source or "this architecture, data and batch size" in cost.source


def checkpoint_one_epoch(config, store):
    """Train ``config`` for one epoch and interrupt it: its checkpoint in ``store`` holds that epoch."""
    from fmnist_utils.train import train

    def stop_after_one(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, progress=False, threads=1, checkpoint_path=store.checkpoint_path(config),
              on_epoch_end=stop_after_one)


def test_an_interrupted_run_is_costed_from_its_own_epochs_and_counts_only_those_left(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    config = dataclasses.replace(tiny_config, epochs=4)
    checkpoint_one_epoch(config, store)
    (cost,) = chapter_compute("01_x", fake_chapter([config]), store).missing_runs
    assert cost.epochs_left == 3 and cost.source == "its own checkpointed epochs" and cost.core_hours > 0


def test_a_checkpoint_timed_on_the_wall_clock_only_does_not_outweigh_whole_runs(tiny_config, tmp_path):
    """Older checkpoints have wall-clock epochs only: a pause or a busy machine inflates them (10x, seen in
    this book's store), so whole runs of the configuration price the run; CPU-timed epochs price it."""
    import torch

    store = ResultStore(tmp_path)
    config = dataclasses.replace(tiny_config, epochs=4)
    stored = store.get_or_train(dataclasses.replace(config, seed=5), progress=False, threads=1)
    checkpoint_one_epoch(config, store)
    (own,) = chapter_compute("01_x", fake_chapter([config]), store).missing_runs
    assert own.source == "its own checkpointed epochs"
    state = torch.load(store.checkpoint_path(config), weights_only=True)
    for row in state["history"]:  # as an old checkpoint trained while paused: ten times the wall time, no CPU time
        row["train_seconds"] = 10 * (row["train_seconds"] + 1.0)
        del row["train_cpu_seconds"], row["eval_cpu_seconds"]
    torch.save(state, store.checkpoint_path(config))
    (cost,) = chapter_compute("01_x", fake_chapter([config]), store).missing_runs
    rows = stored.history
    per_epoch = (sum(r["train_cpu_seconds"] for r in rows) / sum(r["train_images"] for r in rows) * 256
                 + sum(r["eval_cpu_seconds"] for r in rows) / len(rows)) / 3600
    assert cost.source.startswith("runs of this architecture, data and batch size")
    assert "wall-clock times only" in cost.source and cost.core_hours == pytest.approx(3 * per_epoch)


def test_early_stopping_makes_the_expected_cost_smaller_than_the_limit(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    # an absurd learning rate stalls the validation loss: patience 1 stops the stored run early
    stopping = dataclasses.replace(tiny_config, epochs=6, patience=1, lr=5.0)
    stored = store.get_or_train(stopping, progress=False, threads=1)
    assert len(stored.history) < 6
    missing = dataclasses.replace(stopping, seed=8)
    (cost,) = chapter_compute("01_x", fake_chapter([stopping, missing]), store).missing_runs
    assert cost.epochs_left == 6 and cost.expected_epochs_left == len(stored.history)
    assert cost.expected_core_hours < cost.core_hours


def test_an_unmeasured_architecture_is_reported_as_such_and_a_relative_is_scaled_by_flops(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    unknown = dataclasses.replace(tiny_config, model="lenet5")
    (cost,) = chapter_compute("01_x", fake_chapter([unknown]), store).missing_runs
    assert cost.core_hours is None and "nothing measured" in cost.source

    small = RunConfig(model="mlp", model_args={"hidden_layers": 1, "width": 32}, epochs=1, train_subset=256,
                      eval_subset=200, batch_size=64)
    store.get_or_train(small, progress=False, threads=1)
    wide = dataclasses.replace(small, model_args={"hidden_layers": 1, "width": 256})
    costs = CostModel(store)
    (cost,) = chapter_compute("01_x", fake_chapter([wide]), store, costs).missing_runs
    assert "scaled by FLOPs" in cost.source
    assert costs.flops(wide) > 7 * costs.flops(small)  # 784 x 256 against 784 x 32 weights
    measured = CostModel(store).per_epoch(store.key(small), small)[0]
    assert cost.core_hours == pytest.approx(measured * costs.flops(wide) / costs.flops(small))


def test_the_compute_page_lists_every_missing_run_with_its_cost(tiny_config, tmp_path):
    ResultStore(tmp_path).get_or_train(tiny_config, progress=False, threads=1)
    missing = [dataclasses.replace(tiny_config, seed=s) for s in (5, 6)]
    page = compute_markdown(tmp_path, {"01_x": fake_chapter([tiny_config, *missing])})
    store = ResultStore(tmp_path)
    for config in missing:
        assert f"| `{store.key(config)}` | `model1`" in page
    assert ":::{dropdown} {doc}`01_x`: 2 runs missing" in page
    total = next(line for line in page.splitlines() if line.startswith("| **all chapters**"))
    assert "not priced" not in total and not total.endswith("| 0 |")


def test_runs_that_cannot_be_priced_are_counted_beside_the_core_hours_never_added_to_them():
    from types import SimpleNamespace

    from fmnist_utils.report import core_hours_text, run_core_hours_text

    priced = SimpleNamespace(core_hours=2.0, expected_core_hours=1.0)
    unpriced = SimpleNamespace(core_hours=None, expected_core_hours=None)
    assert core_hours_text((priced, priced)) == "2.0 / 4.0"
    assert core_hours_text((priced, unpriced, unpriced)) == "1.0 / 2.0, plus 2 runs not priced yet"
    assert core_hours_text((unpriced,)) == "1 run not priced yet"
    assert core_hours_text(()) == "0"
    assert (run_core_hours_text(priced), run_core_hours_text(unpriced)) == ("1.0 / 2.0", "not priced yet")


def test_status_command_prints_each_missing_runs_cost(tmp_path, capsys):
    from fmnist_utils import cli
    from fmnist_utils.experiments import baseline_vs_deeper

    settings = baseline_vs_deeper.settings_from({"profile": "smoke", "store_dir": str(tmp_path)})
    first, _ = baseline_vs_deeper.plan(settings)[0]
    ResultStore(tmp_path).get_or_train(first, progress=False, threads=1)
    cli.main(["status", "baseline_vs_deeper", "--profile", "smoke", "-p", "store_dir", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("stored ")
    missing = [line for line in lines if line.startswith("missing ")]
    assert missing and all("core-hours (expected / at most): " in line for line in missing)
    assert lines[-1].startswith(f"{len(missing)} missing, core-hours (expected / at most): ")
    assert not [line for line in lines if "training now" in line]


def test_status_command_says_which_run_a_process_is_training_now(tmp_path, capsys):
    import fcntl

    from fmnist_utils import cli
    from fmnist_utils.epochs import lock_path
    from fmnist_utils.experiments import baseline_vs_deeper

    settings = baseline_vs_deeper.settings_from({"profile": "smoke", "store_dir": str(tmp_path)})
    busy, _ = baseline_vs_deeper.plan(settings)[0]
    store = ResultStore(tmp_path)
    lock = lock_path(store.checkpoint_path(busy))
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as held:  # as the process training it holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("process 4242 since 2026-12-02 07:00:00\n")
        held.flush()
        cli.main(["status", "baseline_vs_deeper", "--profile", "smoke", "-p", "store_dir", str(tmp_path)])
        training = [line for line in capsys.readouterr().out.splitlines() if "training now" in line]
        assert training == [line for line in training if line.startswith(f"missing  {store.key(busy)} ")]
        assert len(training) == 1 and "[training now: process 4242 since 2026-12-02 07:00:00]" in training[0]
    cli.main(["status", "baseline_vs_deeper", "--profile", "smoke", "-p", "store_dir", str(tmp_path)])
    assert "training now" not in capsys.readouterr().out  # the lock file stays; nobody holds it


def test_a_larger_batch_is_bounded_by_the_closest_smaller_batch_measured(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    run = store.get_or_train(tiny_config, progress=False, threads=1)
    larger = dataclasses.replace(tiny_config, batch_size=tiny_config.batch_size * 4, seed=5)
    smaller = dataclasses.replace(tiny_config, batch_size=max(1, tiny_config.batch_size // 2), seed=6)
    costs = CostModel(store)
    hours, source = costs.per_epoch(store.key(larger), larger)
    assert hours == pytest.approx(costs.per_epoch(run.key, tiny_config)[0])
    assert f"batch {tiny_config.batch_size} (an upper bound" in source
    assert costs.per_epoch(store.key(smaller), smaller) == (None, "nothing measured at this batch size yet")


def test_a_missing_classical_baseline_is_priced_by_the_stored_fits_of_the_same_baseline(tmp_path):
    from fmnist_utils.config import ClassicalConfig

    store = ResultStore(tmp_path)
    fitted = ClassicalConfig("GaussianNB", train_subset=300, eval_subset=200)
    run = store.get_or_train(fitted)
    other_seed, other_data = fitted.replace(seed=43), fitted.replace(train_subset=400)
    ledger = chapter_compute("02_x", fake_chapter([fitted, other_seed, other_data]), store)
    same, unmeasured = ledger.missing_runs  # before: the estimate read the epochs a classical baseline lacks
    timing = run.result["timing"]
    expected = (timing["train_seconds"] + timing["eval_seconds"]) * run.result["provenance"]["threads"] / 3600
    assert (same.epochs_left, same.expected_epochs_left) == (1, 1.0)
    assert same.core_hours == same.expected_core_hours == pytest.approx(expected) and same.core_hours > 0
    assert same.source == "stored fits of this baseline (any seed)"
    assert unmeasured.core_hours is None and unmeasured.source == "nothing measured for this baseline yet"
    page = compute_markdown(tmp_path, {"02_x": fake_chapter([fitted, other_seed])})
    assert f"| `{store.key(other_seed)}` | `GaussianNB` (classical, one fit) | 43 | 1 |" in page


def test_the_total_counts_a_run_two_chapters_read_once(tiny_config, tmp_path):
    """An appendix reads chapters' runs: the ledger's total counts each stored and each missing run once."""
    store = ResultStore(tmp_path)
    run = store.get_or_train(tiny_config, progress=False, threads=1)
    missing = dataclasses.replace(tiny_config, seed=5)
    page = compute_markdown(tmp_path, {"01_x": fake_chapter([tiny_config, missing]),
                                       "appendix_y": fake_chapter([tiny_config, missing])})
    hours = run_core_seconds(run.result) / 3600
    assert f"| {{doc}}`appendix_y` | 2 | 1 | 1 | {hours:.1f} |" in page
    total = next(line for line in page.splitlines() if line.startswith("| **all chapters**"))
    assert total.startswith(f"| **all chapters** (a run several chapters read counted once) | 2 | 1 | 1 "
                            f"| {hours:.1f} |")
    (cost,) = chapter_compute("01_x", fake_chapter([missing]), store).missing_runs
    assert total.endswith(f"| {core_hours_text((cost,))} |")


def test_timings_are_per_precision_and_an_untimed_bfloat16_run_says_it_is_priced_in_float32(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    run = store.get_or_train(tiny_config, progress=False, threads=1)
    low = dataclasses.replace(tiny_config, seed=4, precision="bfloat16")
    float32_hours = CostModel(store).per_epoch(run.key, tiny_config)[0]
    hours, source = CostModel(store).per_epoch(store.key(low), low)
    assert hours == pytest.approx(float32_hours) and source.endswith("in float32: no bfloat16 epoch of it timed yet")

    # a benchmark that timed both precisions of an architecture the store has not run prices each in its own
    case = {"model": "lenet5", "model_args": {}, "batch_size": 32, "engine_images_per_s": 1000.0,
            "bfloat16_images_per_s": 2000.0}
    costs = CostModel(store, {"threads": 1, "cases": [case]})
    lenet = RunConfig(model="lenet5", batch_size=32, train_subset=256)
    f32, f32_source = costs.per_epoch("a", lenet)
    bf16, bf16_source = costs.per_epoch("b", dataclasses.replace(lenet, precision="bfloat16"))
    assert f32 == pytest.approx(256 / 1000 / 3600) and bf16 == pytest.approx(f32 / 2)
    assert "benchmark" in bf16_source and "float32" not in bf16_source


def test_a_missing_run_whose_checkpoint_is_too_large_to_commit_says_so():
    """A checkpoint over 100 MB cannot be committed, so such a run cannot carry its progress across sessions:
    the compute page and `status` say it must be trained in one sitting."""
    from fmnist_utils.classical import ClassicalConfig
    from fmnist_utils.config import RunConfig
    from fmnist_utils.report import checkpoint_text

    wide = RunConfig(model="mlp", model_args={"hidden_layers": 2, "width": 4192}, lr=2.05e-5, batch_size=512)
    assert checkpoint_text(wide).startswith("335 MB (over 100 MB, too large to commit")  # 20.9M parameters x 4
    cnn = RunConfig(model="cnn3_128", epochs=62, patience=None, select_best=False, monitor="last")
    assert checkpoint_text(cnn) == "25 MB"  # weights and Adam's two moments, no best copy
    assert checkpoint_text(ClassicalConfig(estimator="GaussianNB")) == "-"
