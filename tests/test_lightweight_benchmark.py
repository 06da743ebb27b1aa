"""Chapter 4: protocols, the reading of the study's Table 1, verdict logic, throughput measurement."""
import numpy as np
import pytest
import torch

from fmnist_utils.claims import MISSING, NOT_COMPARABLE, NOT_REPRODUCED, REPRODUCED
from fmnist_utils.experiments import lightweight_benchmark as chapter
from fmnist_utils.params import ParameterError
from fmnist_utils.store import MissingRun, StoredRun

MODELS = list(chapter.MODELS)


def paper():
    return chapter.settings_from({"profile": "paper"})


# ----- configurations ----------------------------------------------------------------------------

def test_study_protocol_follows_the_studys_code():
    for key in MODELS:
        c = chapter.study_config(paper(), key, 42)
        assert (c.optimizer, c.lr, c.weight_decay, c.batch_size, c.epochs, c.patience) == ("adam", 1e-3, 0.0, 8, 100, 5)
        assert c.normalize is None and c.augment == {} and c.scheduler is None  # ToTensor only
        assert (c.val_fraction, c.track_test, c.monitor, c.select_best) == (0.0, True, "test_loss", False)
        assert c.train_subset is None and c.eval_subset is None


def test_corrected_protocol_touches_the_test_set_once():
    for key in MODELS:
        study, c = chapter.study_config(paper(), key, 42), chapter.corrected_config(paper(), key, 43)
        assert (c.val_fraction, c.split_seed, c.monitor, c.select_best, c.track_test) == (0.1, 42, "val_loss", True, False)
        same = ("model", "model_args", "optimizer", "lr", "batch_size", "epochs", "patience", "normalize")
        assert all(getattr(c, f) == getattr(study, f) for f in same)
        assert c.seed == 43


def test_plan_covers_both_protocols_every_seed_and_the_text_resnet():
    settings = paper()
    planned = chapter.plan(settings)
    configs = [c for c, _ in planned]
    assert len(configs) == 6 * 1 + 6 * 3 + 1
    assert not any(needs for _, needs in planned)  # nothing in the chapter reloads a model
    assert sum(c.monitor == "test_loss" for c in configs) == 6
    assert {(c.model, c.seed) for c in configs if c.monitor == "val_loss" and not c.model_args} == \
        {(chapter.MODELS[k][0], s) for k in MODELS for s in (42, 43, 44)}
    assert [c.model_args for c in configs if c.model_args] == [{"base": 16}]
    from fmnist_utils.config import canonical_json
    assert len({canonical_json(c.identity()) for c in configs}) == len(configs)
    no_text = chapter.settings_from({"profile": "paper", "text_resnet": False})
    assert len(chapter.plan(no_text)) == len(configs) - 1


def test_longest_runs_start_first():
    order = [chapter._key_of(c) for c, _ in chapter.longest_first(chapter.plan(paper()))]
    assert order[0] == "vit_tiny" and order[-1] == "lenet5"


def test_bad_parameters_fail_with_the_parameter_named():
    with pytest.raises(ParameterError, match="val_fraction=1.5"):
        chapter.settings_from({"profile": "paper", "val_fraction": 1.5})
    with pytest.raises(ParameterError, match="timing_seconds=-1"):
        chapter.settings_from({"profile": "smoke", "timing_seconds": -1})
    with pytest.raises(ParameterError, match="parallel_steps"):
        chapter.settings_from({"profile": "smoke", "parallel_steps": 1.5})


def test_a_real_study_protocol_run_records_test_metrics_and_times_every_epoch():
    from fmnist_utils.train import train

    settings = chapter.settings_from({"profile": "smoke", "train_subset": 48, "eval_subset": 40, "epochs": 2})
    result = train(chapter.study_config(settings, "custom_cnn", 1), progress=False, threads=1)
    assert len(result.history) == 2
    for row in result.history:
        assert {"test_loss", "test_acc", "train_seconds", "eval_seconds"} <= set(row)
        assert "val_loss" not in row  # no validation split in the study's protocol
    assert result.metrics["best_epoch"] == 2  # the last model is kept


# ----- the reading of Table 1 --------------------------------------------------------------------

def history(test_acc, test_loss, seconds=1.0, eval_seconds=0.1, train_acc=0.92):
    return [{"epoch": e + 1, "train_loss": 0.3, "train_acc": train_acc, "test_acc": a, "test_loss": loss,
             "train_seconds": seconds, "eval_seconds": eval_seconds} for e, (a, loss) in enumerate(zip(test_acc, test_loss))]


def test_best_epoch_is_highest_test_accuracy_and_stop_is_lowest_test_loss():
    # MobileNet-like: lowest test loss at epoch 3, best accuracy at epoch 5 of 6 (as E=41 of 43 in the study)
    rows = history([0.80, 0.85, 0.88, 0.87, 0.89, 0.86], [0.5, 0.4, 0.3, 0.31, 0.32, 0.35])
    assert chapter.best_epoch_row(rows)["epoch"] == 5
    assert chapter.stopping_row(rows)["epoch"] == 3
    tie = history([0.9, 0.9], [0.3, 0.3])
    assert chapter.best_epoch_row(tie)["epoch"] == 1 and chapter.stopping_row(tie)["epoch"] == 1


def test_study_time_per_parameter_column_is_microseconds_per_parameter():
    table = chapter.unit_check()
    assert (table["µs per parameter"] - table["printed ('µs/K')"]).abs().max() <= 1
    assert (table["µs per 1K parameters"] < 20).all()


def test_parameter_table_matches_the_specification():
    table = chapter.parameter_table()
    assert list(table["this book"]) == list(table["specification"])
    assert table.loc["ResNet-Mini (base 16)", "this book"] == "175,370"
    macs = table["multiply-adds per parameter per image"]
    assert macs["LeNet-5"] < macs["ViT-Tiny"] < macs["Custom CNN"]  # dense weights are used least


# ----- verdicts on constructed runs ---------------------------------------------------------------

def stored(config, metrics=None, rows=None, parameters=1000, predictions=None, targets=None):
    result = {"metrics": metrics or {}, "history": rows or [], "parameters": parameters, "provenance": {"threads": 1}}
    run = StoredRun(key=f"{config.model}-{config.seed}", path=None, config=config, result=result)
    if predictions is not None:
        run.__dict__.update(predictions=predictions, targets=targets)
    return run


def make_runs(corrected_acc: dict, study_best: dict | None = None, seconds: dict | None = None, seeds=(42, 43, 44)):
    """Study runs whose best epoch has ``study_best`` (default: Table 1), corrected runs with ``corrected_acc``."""
    settings = paper()
    seconds = seconds or {k: chapter.STUDY_TABLE2[k][0] for k in MODELS}
    study = {}
    for key in MODELS:
        best = (study_best or {}).get(key, chapter.STUDY_TABLE1[key][3])
        rows = history([best - 0.01, best, best - 0.005], [0.3, 0.29, 0.31], seconds=seconds[key],
                       eval_seconds=chapter.STUDY_TABLE2[key][2] / 1000, train_acc=chapter.STUDY_TABLE1[key][2])
        study[key] = [stored(chapter.study_config(settings, key, 42), {"accuracy": best - 0.005}, rows,
                             chapter.SPEC_PARAMETERS[key])]
    targets = np.repeat(np.arange(10), 10)
    corrected = {key: [stored(chapter.corrected_config(settings, key, s),
                              {"accuracy": acc, "macro_f1": acc, "best_epoch": 10, "epochs_run": 15},
                              parameters=chapter.SPEC_PARAMETERS[key], predictions=targets.copy(), targets=targets)
                       for s, acc in zip(seeds, corrected_acc[key])] for key in MODELS}
    return chapter.ChapterRuns(study=study, corrected=corrected, text_resnet=None, study_seeds=[42], seeds=list(seeds))


STUDY_ORDER = {k: [chapter.STUDY_TABLE1[k][3] - 0.001 + 0.001 * i for i in range(3)] for k in MODELS}


def test_claims_when_our_runs_repeat_the_study():
    runs = make_runs(STUDY_ORDER)
    claims = {c.claim: c for c in chapter.claims(runs)}
    assert claims["Parameter counts (Table 1)"].verdict == REPRODUCED
    assert claims["ResNet-Mini: 16 initial channels and 11K parameters (appendix, Table 1)"].verdict == NOT_REPRODUCED
    for key in MODELS:
        assert claims[f"{chapter.LABELS[key]}: test accuracy (Table 1, best epoch, study protocol)"].verdict == REPRODUCED
    assert claims["Most accurate model: MobileNet-Lite (Table 1)"].verdict == REPRODUCED
    assert claims["Most accurate model: ResNet-Mini (text and conclusion)"].verdict == NOT_REPRODUCED
    assert claims["ResNet-Mini (11K) more accurate than ViT-Tiny (106K)"].verdict == REPRODUCED
    assert claims["LeNet-5 overfits most: largest train-test gap (Table 1)"].verdict == REPRODUCED
    # the study's own timings: MobileNet is slower than ResNet and more accurate, so ResNet is not dominated
    assert claims["ResNet-Mini: best trade-off of accuracy, speed and size"].verdict == REPRODUCED
    assert claims["Custom CNN: most parameter-efficient (6K, 90.04%)"].verdict == REPRODUCED
    assert claims["Fastest training per epoch: LeNet-5 and Custom CNN"].verdict == REPRODUCED
    assert claims["Slowest training per epoch: MobileNet-Lite and DenseNet-Tiny"].verdict == REPRODUCED
    assert claims["MobileNet-Lite slower than DenseNet-Tiny despite similar size"].verdict == REPRODUCED
    assert claims["Slowest test pass: MobileNet-Lite (Table 2)"].verdict == REPRODUCED
    # the text's efficiency claim contradicts the study's own table, and so our copy of it
    per_param = claims["Lowest training time per parameter: ResNet-Mini and Custom CNN (text)"]
    assert per_param.verdict == NOT_REPRODUCED and "LeNet-5, ViT-Tiny" in per_param.ours
    assert claims["Table 2 last column is training time per 1K parameters ('µs/K')"].verdict == NOT_REPRODUCED
    assert claims["Per-epoch training time (Table 2)"].verdict == NOT_COMPARABLE
    # identical accuracy under both protocols (up to 0.1 point noise): no detectable flattery
    assert claims["Table 1 accuracies are unbiased held-out estimates"].verdict == REPRODUCED
    assert not [c for c in claims.values() if c.verdict == MISSING]


def test_rankings_wait_for_every_seed_of_every_model():
    """One model short of a seed: the ranking and protocol claims stay missing, never judged on fewer seeds."""
    runs = make_runs(STUDY_ORDER)
    runs.corrected["vit_tiny"][2] = MissingRun("k", runs.corrected["vit_tiny"][2].config)
    claims = {c.claim: c for c in chapter.claims(runs)}
    waiting = ["Most accurate model: MobileNet-Lite (Table 1)", "Most accurate model: ResNet-Mini (text and conclusion)",
               "ResNet-Mini (11K) more accurate than ViT-Tiny (106K)",
               "ResNet-Mini: best trade-off of accuracy, speed and size", "Custom CNN: most parameter-efficient (6K, 90.04%)",
               "Table 1 accuracies are unbiased held-out estimates"]
    assert [claims[c].verdict for c in waiting] == [MISSING] * len(waiting)
    assert claims["LeNet-5 overfits most: largest train-test gap (Table 1)"].verdict == REPRODUCED
    conclusion = chapter.conclusion(runs)
    assert "the ranking is written once all six models have every seed" in conclusion
    assert "What test-set early stopping is worth" not in conclusion


def test_a_consistent_test_set_bonus_is_flagged_as_flattery():
    lower = {k: [v - 0.006 + 0.0005 * i for i, v in enumerate(STUDY_ORDER[k])] for k in MODELS}
    runs = make_runs(lower)
    lift = chapter.flattery(runs)
    assert all(0.5 < v < 0.6 for v in lift.values())
    claim = next(c for c in chapter.claims(runs) if c.claim.startswith("Table 1 accuracies"))
    assert claim.verdict == NOT_REPRODUCED and "higher for 6 of 6" in claim.ours


def test_rankings_need_every_seed():
    accs = {k: list(v) for k, v in STUDY_ORDER.items()}
    accs["resnet_mini"] = [0.9170, 0.9140, 0.9175]  # beats MobileNet (0.9145, 0.9155, 0.9165) in 2 of 3 seeds
    runs = make_runs(accs)
    assert chapter.wins(runs, "resnet_mini", "mobilenet_lite") == (2, 3)
    claims = {c.claim: c for c in chapter.claims(runs)}
    top = claims["Most accurate model: ResNet-Mini (text and conclusion)"]
    assert top.verdict == NOT_REPRODUCED and "MobileNet-Lite 2/3" in top.note
    assert claims["Most accurate model: MobileNet-Lite (Table 1)"].verdict == NOT_REPRODUCED
    assert "not settled" in chapter.conclusion(runs)


def test_domination_uses_cost_and_every_seed():
    accs = {k: list(v) for k, v in STUDY_ORDER.items()}
    accs["custom_cnn"] = [0.95, 0.95, 0.95]  # smallest, fastest but one, and best in every seed
    runs = make_runs(accs)
    assert chapter.dominated_by(runs, "resnet_mini", chapter.SPEC_PARAMETERS) == ["custom_cnn"]
    assert chapter.dominated_by(runs, "custom_cnn", chapter.SPEC_PARAMETERS) == []
    claims = {c.claim: c for c in chapter.claims(runs)}
    assert claims["ResNet-Mini: best trade-off of accuracy, speed and size"].verdict == NOT_REPRODUCED
    ranking = chapter.ranking_table(runs)
    assert ranking.loc["Custom CNN", "rank"] == 1
    assert "Custom CNN" in ranking.loc["ResNet-Mini", "dominated on parameters by"]


def test_timing_claims_follow_the_stored_epoch_times():
    seconds = {"lenet5": 20, "resnet_mini": 115, "densenet_tiny": 167, "mobilenet_lite": 76, "vit_tiny": 530,
               "custom_cnn": 82}
    claims = {c.claim: c for c in chapter.claims(make_runs(STUDY_ORDER, seconds=seconds))}
    assert claims["Fastest training per epoch: LeNet-5 and Custom CNN"].verdict == NOT_REPRODUCED  # MobileNet is 2nd
    assert claims["Slowest training per epoch: MobileNet-Lite and DenseNet-Tiny"].verdict == NOT_REPRODUCED
    assert claims["MobileNet-Lite slower than DenseNet-Tiny despite similar size"].verdict == NOT_REPRODUCED


def test_tables_and_figures_from_constructed_runs():
    runs = make_runs(STUDY_ORDER)
    assert list(chapter.table1(runs).index.get_level_values("source")[:2]) == ["study", "seed 42"]
    assert chapter.table1(runs).loc[("LeNet-5", "seed 42"), "best epoch"] == "2"
    assert len(chapter.table2(runs)) == 12
    assert chapter.corrected_table(runs).loc["MobileNet-Lite", "mean ± std"] == "91.55 ± 0.10"
    assert chapter.per_class_f1(runs).to_numpy().min() == 1.0  # the constructed predictions are perfect
    assert set(chapter.flattery_bars_frame(runs)["protocol"]) == {"study protocol (best epoch on test)",
                                                                   "corrected (validation-selected)"}
    assert chapter.pairwise_table(runs).loc["MobileNet-Lite", "LeNet-5"] == "3/3"
    from fmnist_utils import plots
    import matplotlib.pyplot as plt

    fig = plots.epoch_curves(chapter.first_histories(runs), {"test_acc": "test"}, marks=chapter.stop_marks(runs))
    assert len(fig.axes[0].lines) == 12  # a line and a dot per model
    fig2 = plots.errorbar_scatter(chapter.tradeoff_frame(runs), "parameters", "test accuracy (%)", "model",
                                  hue="source", yerr="std", logx=True)
    assert fig2.axes[0].get_xscale() == "log"
    plt.close("all")


def test_missing_runs_are_shown_as_missing_and_never_computed():
    settings = paper()
    runs = chapter.ChapterRuns(
        study={k: [MissingRun("k", chapter.study_config(settings, k, 42))] for k in MODELS},
        corrected={k: [MissingRun("k", chapter.corrected_config(settings, k, s)) for s in (42, 43, 44)] for k in MODELS},
        text_resnet=MissingRun("t", chapter.corrected_config(settings, chapter.TEXT_RESNET, 42)),
        study_seeds=[42], seeds=[42, 43, 44])
    claims = chapter.claims(runs)
    measured = [c for c in claims if not c.claim.startswith(("Parameter counts", "ResNet-Mini: 16", "Table 2 last"))]
    assert {c.verdict for c in measured} == {MISSING}
    assert "missing" in chapter.overview(runs)["status"].iloc[0]
    assert chapter.table1(runs).loc[("LeNet-5", "this book"), "train loss"] == "missing"
    assert chapter.corrected_table(runs).loc["ViT-Tiny", "seed 43"] == "missing"
    assert chapter.text_resnet_table(runs)["test accuracy"].tolist() == ["missing", "missing"]
    assert chapter.per_class_f1(runs).empty and chapter.flattery_bars_frame(runs).empty
    assert "missing" in chapter.conclusion(runs)


def test_conclusion_with_one_study_run_names_the_untrained_models():
    runs = make_runs(STUDY_ORDER, study_best={"lenet5": 0.8930})
    settings = paper()
    for key in MODELS:
        if key != "lenet5":
            runs.study[key] = [MissingRun("k", chapter.study_config(settings, key, 42))]
    text = chapter.conclusion(runs)
    assert "For 1 of 1 models" in text and "the difference is +0.23 points" in text
    assert "Not trained yet: ResNet-Mini, DenseNet-Tiny, MobileNet-Lite, ViT-Tiny, Custom CNN." in text


# ----- timing ---------------------------------------------------------------------------------------

def test_measure_throughput_reports_both_rates_and_restores_threads():
    from fmnist_utils.benchmark import measure_throughput

    torch.set_num_threads(1)
    result = measure_throughput("custom_cnn", threads=1, eval_batch=64, warmup=1, steps=2, eval_steps=1, min_time=0.0)
    assert result["train_images_per_s"] > 0 and result["inference_images_per_s"] > 0
    assert result["parameters"] == 6_330 and result["eval_batch"] == 64 and result["train_batch"] == 8
    assert result["train_run"]["images"] == 16
    assert result["train_flops_per_image"] == pytest.approx(3 * result["forward_flops_per_image"])
    assert torch.get_num_threads() == 1


def test_parallel_table(monkeypatch):
    import fmnist_utils.benchmark as benchmark

    assert chapter.parallel_table(chapter.settings_from({"profile": "smoke", "parallel_steps": 0})) is None
    seen = {}

    def fake(case, threads, warmup, steps, min_time):
        seen.update(model=case.model, batch=case.batch_size, threads=threads, steps=steps)
        return {"side_by_side": {"images_per_s": 900.0}, "one_after_another": {"images_per_s": 300.0}, "ratio": 3.0}

    monkeypatch.setattr(benchmark, "measure_parallel", fake)
    table = chapter.parallel_table(chapter.settings_from({"profile": "paper"}))
    assert seen == {"model": "resnet_mini", "batch": 8, "threads": 2, "steps": 200}
    assert table["relative speed"].tolist() == [3.0, 1.0]
    assert table["images/s (both trainings)"].tolist() == [900.0, 300.0]
