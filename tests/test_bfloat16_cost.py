"""The bfloat16 appendix: its plan (the chapters' own configurations, in both precisions), its difference rows,
its tables, and the chapters' claims re-judged with the bfloat16 runs in place of the float32 ones."""
import dataclasses
import json

import numpy as np
import pytest
from scipy import stats

# the chapters' own constructed runs (their test modules build them for the chapters' verdict tests)
import test_baseline_vs_deeper as chapter1_runs
import test_lightweight_benchmark as chapter4_runs
from fmnist_utils.chapter import complete_rows
from fmnist_utils.experiments import baseline_vs_deeper as chapter1
from fmnist_utils.experiments import bfloat16_cost as appendix
from fmnist_utils.experiments import lightweight_benchmark as chapter4
from fmnist_utils.params import ParameterError
from fmnist_utils.store import DEFAULT_ROOT, MissingRun, ResultStore, StoredRun
from fmnist_utils.verdicts import INCONCLUSIVE, MISSING, NOT_REPRODUCED, REPRODUCED

XEON = "Intel(R) Xeon(R) Processor"


def paper():
    return appendix.settings_from({"profile": "paper"})


# ----- the plan ------------------------------------------------------------------------------------


def test_plan_trains_each_model_in_bfloat16_with_its_chapters_own_configuration():
    settings = paper()
    planned = appendix.plan(settings)
    bfloat16, twins, rest = [c for c, _ in planned[:9]], [c for c, _ in planned[9:18]], [c for c, _ in planned[18:]]
    assert [(c.model, c.seed, c.precision) for c in bfloat16] == [
        (m, s, "bfloat16") for m in ("lenet5", "model1", "model2") for s in (42, 43, 44)]  # cheapest first
    assert not any(weights for _, weights in planned)
    for half, single in zip(bfloat16, twins):  # a twin differs from its bfloat16 run in its precision only
        a, b = half.to_dict(), single.to_dict()
        assert {k for k in a if a[k] != b[k]} == {"precision"} and single.precision == "float32"
    first = chapter1.settings_from({"profile": "paper"})
    fourth = chapter4.settings_from({"profile": "paper", "text_resnet": False})
    own = [c.to_dict() for c, _ in chapter1.plan(first) + chapter4.plan(fourth)]
    assert all(twin.to_dict() in own for twin in twins), "a float32 twin is not its chapter's own run"
    assert [c.to_dict() for c in rest] == [c.to_dict() for c, _ in chapter4.plan(fourth)]
    assert twins[3] == chapter1.config(first, chapter1.study_cell("model1"), 42)
    assert twins[0] == chapter4.corrected_config(fourth, "lenet5", 42)


def test_status_lists_the_bfloat16_runs_first_cheapest_first(tmp_path, capsys):
    from fmnist_utils import cli

    assert cli.main(["status", "bfloat16_cost", "--profile", "smoke", "-p", "store_dir", str(tmp_path),
                     "-p", "train_missing", "False"]) == 0  # status trains nothing: any device will do
    lines = capsys.readouterr().out.splitlines()
    settings = appendix.settings_from({"profile": "smoke", "store_dir": str(tmp_path), "train_missing": False})
    store = ResultStore(tmp_path)
    keys = [store.key(appendix.run_config(settings, m, 42, "bfloat16")) for m in ("lenet5", "model1", "model2")]
    assert [line.split()[:2] for line in lines[:3]] == [["missing", key] for key in keys]
    unique = {store.key(c) for c, _ in appendix.plan(settings)}
    assert lines[-1].startswith(f"{len(unique)} missing") and len(lines) == len(unique) + 1


def test_precision_parameter_stays_float32():
    with pytest.raises(ParameterError) as error:
        appendix.settings_from({"precision": "bfloat16"})
    assert "precision='float32'" in str(error.value)  # ours, or where bfloat16 is slow, the settings' own refusal
    with pytest.raises(ParameterError, match="unknown parameter"):
        appendix.settings_from({"seeds": [1]})  # seeds are the chapters'


def test_training_without_fast_bfloat16_stops_in_the_settings_with_the_reason(monkeypatch):
    from fmnist_utils import train

    reason = "the CPU (Test CPU) lists neither avx512_bf16 nor amx_bf16 among its flags"
    monkeypatch.setattr(train, "fast_bfloat16", lambda device="auto": reason)
    with pytest.raises(ParameterError) as error:
        appendix.settings_from({"profile": "smoke", "device": "cpu"})
    assert str(error.value) == (f"this appendix trains bfloat16 runs (train_missing=True), but cpu has no fast "
                                f"bfloat16: {reason}. Train them on a device that has it, or read the store only "
                                "with train_missing=False, the paper profile's default")
    assert not appendix.settings_from({"profile": "paper", "device": "cpu"}).train_missing  # reads the store only
    assert not appendix.settings_from({"profile": "smoke", "device": "cpu", "train_missing": False}).train_missing
    monkeypatch.setattr(train, "fast_bfloat16", lambda device="auto": None)  # a device with fast bfloat16
    assert appendix.settings_from({"profile": "smoke", "device": "cpu"}).train_missing


def test_the_paper_plans_float32_twins_are_all_in_the_committed_store():
    settings = paper()
    store = ResultStore(DEFAULT_ROOT)
    bfloat16 = [c for c, _ in appendix.plan(settings) if c.precision == "bfloat16"]
    absent = [store.key(c.replace(precision="float32")) for c in bfloat16
              if store.get(c.replace(precision="float32")) is None]
    assert len(bfloat16) == 9 and not absent, f"float32 twins not in the store: {absent}"
    assert all(store.key(c) != store.key(c.replace(precision="float32")) for c in bfloat16)


# ----- constructed runs ------------------------------------------------------------------------------


def fake(config, accuracy, seconds=10.0, processor=XEON, threads=1):
    """A stored run with a test accuracy and three epochs of ``seconds``; ``accuracy=None``: not stored."""
    if accuracy is None:
        return MissingRun(f"{config.model}-{config.precision}-{config.seed}", config)
    result = {"metrics": {"accuracy": accuracy},
              "history": [{"epoch": e, "train_seconds": seconds} for e in (1, 2, 3)],
              "provenance": {"device": "cpu", "processor": processor, "threads": threads}}
    return StoredRun(key=f"{config.model}-{config.precision}-{config.seed}", path=None, config=config, result=result)


def constructed(accuracy: dict, seconds=None, processor=None, chapter4_runs_=None) -> appendix.AppendixRuns:
    """``accuracy``: precision -> model -> one value per seed (None: missing); models left out get 0.92 everywhere."""
    settings = paper()
    runs = {}
    for precision in appendix.PRECISIONS:
        runs[precision] = {}
        for model in appendix.MODELS:
            values = accuracy.get(precision, {}).get(model, [0.919, 0.92, 0.921])
            runs[precision][model] = [
                fake(appendix.run_config(settings, model, seed, precision), value,
                     (seconds or {}).get(precision, 10.0), (processor or {}).get(precision, XEON))
                for seed, value in zip(appendix.seeds(settings, model), values)]
    return appendix.AppendixRuns(runs=runs, chapter4=chapter4_runs_, profile="paper")


def own_rows(runs) -> dict:
    return {row.id: row for row in complete_rows(appendix.REGISTRY, appendix.claims(runs))}


def test_the_difference_rows_follow_the_books_difference_rule():
    same = own_rows(constructed({}))["model1_unchanged"]
    assert same.verdict == REPRODUCED and same.ours == "+0.00 points (n=3, 3)" and same.study == "+0.00 points"
    assert "Welch" in same.rule and same.quantity == appendix.quantity("model1")
    # two points lower in bfloat16, seeds a tenth of a point apart: a change beyond the band
    lower = own_rows(constructed({"bfloat16": {"model2": [0.899, 0.90, 0.901]}}))
    assert lower["model2_unchanged"].verdict == NOT_REPRODUCED and lower["model2_unchanged"].ours.startswith("-2.00")
    assert lower["model1_unchanged"].verdict == REPRODUCED
    # the same means, seeds a point apart: the band is wider than a point and cannot tell
    noisy_runs = constructed({p: {"lenet5": [0.91, 0.92, 0.93]} for p in appendix.PRECISIONS})
    noisy = own_rows(noisy_runs)["lenet5_unchanged"]
    assert noisy.verdict == INCONCLUSIVE and "also holds values" in noisy.note
    assert "wider than a point and cannot tell" in appendix.conclusion(noisy_runs).splitlines()[2]
    # reproduced says "consistent with no change" and prints the interval's ends: a change up to them is not ruled out
    line = appendix.conclusion(noisy_runs).splitlines()[0]
    half = same.tolerance
    assert (f"consistent with no change (the band of the book's difference rule holds +0.00 and is at most a point): "
            f"the interval [{-half:+.2f}, {half:+.2f}] points holds zero, so the seeds do not rule out a change "
            f"anywhere from {-half:+.2f} to {half:+.2f} points") in line
    assert "no material change" not in appendix.conclusion(noisy_runs)
    # one seed a side: no spread to judge by
    settings = paper()
    single = appendix.AppendixRuns(runs={p: {m: [fake(appendix.run_config(settings, m, 42, p), 0.92)]
                                            for m in appendix.MODELS} for p in appendix.PRECISIONS},
                                   chapter4=None, profile="smoke")
    alone = own_rows(single)["model1_unchanged"]
    assert (alone.verdict, alone.rule, alone.ours) == (INCONCLUSIVE, "no seed-noise estimate", "+0.00 points (n=1, 1)")
    assert appendix.NO_SPREAD in appendix.conclusion(single).splitlines()[0]


def test_a_claim_waits_for_every_seed_of_both_precisions():
    rows = own_rows(constructed({"bfloat16": {"model1": [0.92, None, 0.92]}, "float32": {"lenet5": [None] * 3}}))
    waiting = {i: (row.verdict, row.note) for i, row in rows.items()}
    assert waiting["model1_unchanged"] == (MISSING, "bfloat16: 2 of 3 runs stored")
    assert waiting["lenet5_unchanged"] == (MISSING, "float32: 0 of 3 runs stored")
    assert rows["model2_unchanged"].verdict == REPRODUCED


def test_the_accuracy_table_gives_the_difference_with_its_welch_interval():
    half, single = [0.930, 0.932, 0.937], [0.920, 0.921, 0.925]
    table = appendix.accuracy_table(constructed({"bfloat16": {"model1": half}, "float32": {"model1": single}}))
    low, high = stats.ttest_ind(half, single, equal_var=False).confidence_interval(0.95)
    diff = np.mean(half) - np.mean(single)
    assert table.loc["Model-1", "bfloat16 − float32"] == f"{100 * diff:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}]"
    assert table.loc["Model-1", "bfloat16"] == "93.30 ± 0.36" and table.loc["Model-1", "seeds"] == "3 / 3"
    one = appendix.difference_text([0.93], [0.92])
    assert one == "+1.00 (no interval: one seed)" and appendix.difference_text([], [0.92]) == "-"


def test_speed_and_machine_tables_say_where_each_precision_trained():
    runs = constructed({}, seconds={"float32": 30.0, "bfloat16": 12.0}, processor={"float32": ""})
    speed = appendix.speed_table(runs)  # float32 on an unrecorded CPU: its seconds give no speed-up
    assert speed.loc["LeNet-5", "float32 (s)"] == "30.0 ± 0.0" and speed.loc["LeNet-5", "speed-up"] == "not like for like"
    machines = appendix.machine_table(runs)
    assert machines.loc[("Model-2", "float32"), "trained on"] == "cpu: CPU model not recorded, 1 thread"
    assert machines.loc[("Model-2", "bfloat16"), "trained on"] == f"cpu: {XEON}, 1 thread"
    assert not appendix.same_machine(runs, "model2") and "give no speed-up" in appendix.conclusion(runs)
    assert "2.50x" not in appendix.conclusion(runs)
    alike = constructed({}, seconds={"float32": 30.0, "bfloat16": 12.0})
    assert appendix.same_machine(alike, "model2") and "give no speed-up" not in appendix.conclusion(alike)
    assert appendix.speed_table(alike).loc["LeNet-5", "speed-up"] == "2.50x"
    assert "float32 over bfloat16: 2.50x" in appendix.conclusion(alike) and "**reproduced**" in appendix.conclusion(alike)


def empty_store_runs() -> appendix.AppendixRuns:
    missing = constructed({p: {m: [None] * 3 for m in appendix.MODELS} for p in appendix.PRECISIONS},
                          chapter4_runs_=chapter4_runs.empty_store_runs())
    assert not any(isinstance(r, StoredRun) for p in missing.runs.values() for g in p.values() for r in g)
    return missing


def test_an_empty_store_leaves_every_row_missing():
    runs = empty_store_runs()
    rows = complete_rows(appendix.REGISTRY, appendix.claims(runs))
    assert [r.id for r in rows] == ["model1_unchanged", "model2_unchanged", "lenet5_unchanged"]
    assert all(r.verdict == MISSING for r in rows)
    rejudged = appendix.rejudged(runs)
    assert len(rejudged) == len(appendix.CHAPTER1_CLAIMS) + len(appendix.CHAPTER4_BORROWING) + 1 == 16
    assert all(r.float32.verdict == r.bfloat16.verdict == MISSING for r in rejudged)
    assert appendix.verdict_changes(rejudged).startswith(
        "- **Not known yet.** All 16 claims wait for runs (*missing run* in the table)")
    table = appendix.rejudged_table(rejudged)
    assert set(table["float32"]) == set(table["bfloat16"]) == {MISSING}
    assert all(line.endswith("waits for runs (float32: 0 of 3 runs stored; bfloat16: 0 of 3 runs stored).")
               for line in appendix.conclusion(runs).splitlines())
    accuracy, speed = appendix.accuracy_table(runs), appendix.speed_table(runs)  # no number from a missing run
    assert set(accuracy[["float32", "bfloat16", "bfloat16 − float32"]].to_numpy().ravel()) == {"-"}
    assert set(accuracy["seeds"]) == {"0 / 0"} and set(speed.to_numpy().ravel()) == {"-"}
    assert set(appendix.machine_table(runs)["trained on"]) == {"-"}


def in_bfloat16(run, accuracy=None):
    """A chapter's constructed run as its bfloat16 twin (with another test accuracy, if given)."""
    metrics = {**run.metrics, **({} if accuracy is None else {"accuracy": accuracy})}
    twin = dataclasses.replace(run, key=f"{run.key}-bfloat16", config=run.config.replace(precision="bfloat16"),
                               result={**run.result, "metrics": metrics})
    twin.__dict__.update({k: run.__dict__[k] for k in ("predictions", "targets") if k in run.__dict__})
    return twin


def with_chapters(model1_bfloat16=None, lenet5_bfloat16=None, study_seeds=(42,)):
    """The chapters' own constructed runs (chapter 1's study setups, chapter 4 at the study's Table 1 order, with
    ``study_seeds`` of its study protocol) in float32, and the compared models' bfloat16 twins with the test
    accuracies given (None: the float32 ones)."""
    first = chapter1_runs.constructed()
    fourth = chapter4_runs.make_runs(chapter4_runs.STUDY_ORDER, study_seeds=study_seeds)
    single = {**first.main, "lenet5": fourth.corrected["lenet5"]}
    half = {m: [in_bfloat16(r) for r in group] for m, group in single.items()}
    for model, values in (("model1", model1_bfloat16), ("lenet5", lenet5_bfloat16)):
        if values is not None:
            half[model] = [in_bfloat16(r, v) for r, v in zip(single[model], values)]
    return appendix.AppendixRuns(runs={"float32": single, "bfloat16": half}, chapter4=fourth, profile="paper"), first


def test_the_float32_side_is_each_chapters_own_verdict_and_bfloat16_the_same_code_with_its_runs():
    runs, first = with_chapters()
    published = {1: {r.id: r for r in chapter1.claims(first)},  # the chapter's whole runs, ablation grid included
                 4: {r.id: r for r in chapter4.claims(runs.chapter4)}}
    rejudged = appendix.rejudged(runs)
    assert [(r.chapter, r.float32.id) for r in rejudged] == [
        (n, i) for n, ids in appendix.chapter_claims(runs).items() for i in ids]
    for row in rejudged:
        assert row.float32 == published[row.chapter][row.float32.id]
        assert (row.bfloat16.verdict, row.bfloat16.ours) == (row.float32.verdict, row.float32.ours)  # same numbers
    assert appendix.verdict_changes(rejudged) == ("- **No, for the 16 claims judged both ways.** Every one keeps its "
                                                  "float32 verdict.")


def test_chapter_4s_rows_borrow_lenet5s_corrected_spread_only_while_they_read_one_study_run_per_model():
    runs, _ = with_chapters()
    assert appendix.chapter_claims(runs)[4] == appendix.CHAPTER4_BORROWING + ("unbiased",)
    every_seed = dataclasses.replace(runs, chapter4=chapter4_runs.make_runs(chapter4_runs.STUDY_ORDER,
                                                                            study_seeds=(42, 43, 44)))
    assert appendix.chapter_claims(every_seed) == {1: appendix.CHAPTER1_CLAIMS, 4: ("unbiased",)}
    assert [(r.chapter, r.float32.id) for r in appendix.rejudged(every_seed)][-1] == (4, "unbiased")


def test_a_bfloat16_run_that_changes_an_accuracy_changes_the_chapters_verdicts_and_only_those():
    runs, _ = with_chapters(model1_bfloat16=[0.9070, 0.9072, 0.9074], lenet5_bfloat16=[0.949, 0.95, 0.951])
    rows = {r.float32.id: r for r in appendix.rejudged(runs)}
    ordering = rows["m1_more_accurate"]
    assert (ordering.float32.verdict, ordering.bfloat16.verdict) == (REPRODUCED, NOT_REPRODUCED)
    assert rows["m2_accuracy"].bfloat16 == rows["m2_accuracy"].float32
    # chapter 4's orderings read its study-protocol runs, so LeNet-5's corrected runs in bfloat16 move only the
    # spread its single run borrows (they are re-judged all the same); its held-out row reads them directly: 95% in
    # bfloat16 is no longer "no rise"
    assert "best_table1" in rows and rows["best_table1"].bfloat16.ours == rows["best_table1"].float32.ours
    # the held-out row's interval comes from the study-protocol seeds, so it is judged once every model has them
    assert rows["unbiased"].float32.verdict == INCONCLUSIVE and "no seed-noise" in rows["unbiased"].float32.rule
    runs, _ = with_chapters(model1_bfloat16=[0.9070, 0.9072, 0.9074], lenet5_bfloat16=[0.949, 0.95, 0.951],
                            study_seeds=(42, 43, 44))
    rows = {r.float32.id: r for r in appendix.rejudged(runs)}
    best = rows["unbiased"]
    # LeNet-5 at 95% in bfloat16 puts the six-model mean a point below zero, its seeds 0.1 point apart
    assert (best.float32.verdict, best.bfloat16.verdict) == (REPRODUCED, NOT_REPRODUCED)
    table = appendix.rejudged_table(list(rows.values()))
    assert table.loc[(1, ordering.float32.claim), ["float32", "bfloat16"]].tolist() == [REPRODUCED, NOT_REPRODUCED]
    answer = appendix.verdict_changes(list(rows.values()))
    assert answer.startswith(f"- **Yes, for the {len(rows)} claims judged both ways.**")
    assert (f"chapter 1, *{ordering.float32.claim}*: reproduced in float32, not reproduced in bfloat16" in answer
            and f"chapter 4, *{best.float32.claim}*" in answer)


def test_a_side_waits_until_every_compared_run_of_its_chapter_is_stored():
    runs, _ = with_chapters()
    runs.runs["bfloat16"]["model2"][1] = MissingRun("m", runs.runs["bfloat16"]["model2"][1].config)
    rows = appendix.rejudged(runs)
    first = [r for r in rows if r.chapter == 1]
    assert all(r.bfloat16.verdict == MISSING and r.float32.verdict != MISSING for r in first)
    assert first[0].bfloat16.note == "waiting for the bfloat16 runs (Model-2: 2 of 3 runs stored)"
    assert all(r.bfloat16.verdict != MISSING for r in rows if r.chapter == 4)
    assert "- **Waiting for runs:** 5 claims (chapter 1)" in appendix.verdict_changes(rows)


# ----- the committed store -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored():
    return appendix.gather(paper())


def shifted(run, by: float):
    return dataclasses.replace(run, result={**run.result, "metrics": {**run.metrics,
                                                                      "accuracy": run.metrics["accuracy"] + by}})


@pytest.mark.slow
def test_the_float32_side_says_what_the_chapters_published(stored):
    published = {1: "01_baseline_vs_deeper", 4: "04_lightweight_benchmark"}
    for row in appendix.rejudged(stored):
        saved = json.loads((DEFAULT_ROOT / "claims" / f"{published[row.chapter]}.json").read_text())
        match = next(c for c in saved["claims"] if c["id"] == row.float32.id)
        assert (row.float32.verdict, row.float32.ours) == (match["verdict"], match["ours"]), row.float32.id


@pytest.mark.slow
def test_the_rejudged_claims_are_those_the_compared_accuracies_move(stored):
    """Every row of chapters 1 and 4 that moves when the compared models' float32 test accuracies move (all seeds
    down by 3 or 20 points, up by 5, or spread a point apart) is re-judged, and no other row is."""
    compared = {1: ("model1", "model2"), 4: ("lenet5",)}
    for number, models in compared.items():
        module = appendix.CHAPTERS[number]
        base = {r.id: r for r in module.claims(appendix.chapter_runs(stored, number, "float32"))}
        moved = set()
        for model in models:
            for by in ((-0.2,) * 3, (-0.03,) * 3, (0.05,) * 3, (-0.01, 0.0, 0.01), (-0.1, 0.0, 0.1)):
                group = [shifted(r, b) for r, b in zip(stored.runs["float32"][model], by)]
                single = {**stored.runs["float32"], model: group}
                runs = dataclasses.replace(stored, runs={**stored.runs, "float32": single})
                rows = {r.id: r for r in module.claims(appendix.chapter_runs(runs, number, "float32"))}
                moved |= {i for i in rows if rows[i] != base[i]}
        assert moved == set(appendix.chapter_claims(stored)[number]), (number, sorted(moved))
