"""Chapter 6: the common protocol, its rankings, fronts and study table, and its claims on constructed runs."""
import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pytest

from fmnist_utils.chapter import complete_rows
from fmnist_utils.experiments import CHAPTERS
from fmnist_utils.experiments import common_protocol as chapter
from fmnist_utils.params import ParameterError
from fmnist_utils.store import MissingRun, StoredRun
from fmnist_utils.verdicts import (INCONCLUSIVE, MISSING, NOT_COMPARABLE, NOT_REPRODUCED, REPRODUCED, RULES,
                                   TIMED_FRONT)

MODELS = list(chapter.MODELS)
SEEDS = (42, 43, 44)
# parameters and forward FLOPs of the fourteen networks as the book builds them; test_sizes_are_the_built_networks
# checks them against the real networks (slow: it builds all fourteen), the other tests use them to stay fast
SIZES = {"model1": (1_199_882, 23.984896e6), "model2": (304_682, 58.289664e6), "cnn3_128": (2_067_850, 95.34208e6),
         "light_plain": (174_858, 12.177152e6), "light_bn": (176_406, 10.804872e6),
         "mlp_best": (20_909_706, 41.802624e6), "lenet5": (61_706, 0.83304e6), "resnet_mini": (11_402, 2.515392e6),
         "densenet_tiny": (11_666, 7.727744e6), "mobilenet_lite": (14_218, 3.031936e6),
         "vit_tiny": (105_546, 11.852032e6), "custom_cnn": (6_330, 1.016704e6),
         "synergy_baseline": (361_258, 18.554368e6), "flexible_final": (588_106, 95.638016e6)}


@pytest.fixture(autouse=True)
def known_sizes(monkeypatch):
    monkeypatch.setattr(chapter, "parameters", lambda name: SIZES[name][0])
    monkeypatch.setattr(chapter, "flops", lambda name: SIZES[name][1])


def paper():
    return chapter.settings_from({"profile": "paper"})


# ----- the protocol --------------------------------------------------------------------------------

def test_every_network_trains_under_the_one_recipe():
    settings = paper()
    for name in MODELS:
        c = chapter.config(settings, name, 43)
        assert (c.optimizer, c.lr, c.weight_decay, c.scheduler, c.batch_size) == ("adam", 1e-3, 0.0, None, 128)
        assert (c.val_fraction, c.split_seed, c.augment, c.normalize) == (0.1, 42, {}, (0.2860, 0.3530))
        assert (c.epochs, c.patience, c.monitor, c.select_best, c.seed) == (100, 5, "val_loss", True, 43)
        assert (c.model, c.model_args) == chapter.MODELS[name][:2]
    assert chapter.protocol_text(settings) == (
        "Adam 0.001, batch 128, standardised pixels, 54,000 / 6,000 split, up to 100 epochs, patience 5 on the "
        "validation loss; checkpoint of lowest validation loss")


def test_the_precision_parameter_reaches_every_run():
    settings = SimpleNamespace(**{**vars(paper()), "precision": "bfloat16"})
    assert {c.precision for c, _ in chapter.plan(settings)} == {"bfloat16"}
    assert "bfloat16 forward passes" in chapter.protocol_text(settings)
    assert {c.precision for c, _ in chapter.plan(paper())} == {"float32"}


def test_plan_is_seed_major_and_every_run_is_distinct():
    from fmnist_utils.config import canonical_json

    configs = [c for c, _ in chapter.plan(paper())]
    assert len(configs) == 14 * 3 and not any(needs for _, needs in chapter.plan(paper()))
    assert [c.seed for c in configs[:14]] == [42] * 14 and configs[14].seed == 43
    assert len({canonical_json(c.identity()) for c in configs}) == len(configs)
    subset = chapter.settings_from({"profile": "smoke", "models": ["lenet5", "custom_cnn"]})
    assert [(c.model, c.epochs, c.train_subset) for c, _ in chapter.plan(subset)] == [("lenet5", 1, 256),
                                                                                   ("custom_cnn", 1, 256)]


def test_bad_parameters_fail_with_the_parameter_named():
    with pytest.raises(ParameterError, match="models=.*'resnet'.*drawn from model1"):
        chapter.settings_from({"profile": "paper", "models": ["resnet"]})
    with pytest.raises(ParameterError, match="lr=0"):
        chapter.settings_from({"profile": "paper", "lr": 0})
    with pytest.raises(ParameterError, match="timing_seconds=-1"):
        chapter.settings_from({"profile": "smoke", "timing_seconds": -1})


def test_the_networks_are_those_their_chapters_build():
    ch2, ch3, ch4, ch5 = (CHAPTERS[n] for n in ("cnn3_128_extension", "mlp_analysis", "lightweight_benchmark",
                                                "regularization_synergy"))
    assert chapter.MODELS["light_bn"][:2] == ("cnn3_128_ds", ch2.LIGHT_VARIANTS[ch2.STUDY_LIGHT])
    assert chapter.MODELS["light_plain"][:2] == ("cnn3_128_ds", ch2.LIGHT_VARIANTS["plain"])
    best = ch3.settings_from({"profile": "paper"}).best_width
    assert chapter.MODELS["mlp_best"][:2] == ("mlp", {"hidden_layers": 2, "width": best})
    assert all(chapter.MODELS[k][:2] == ch4.MODELS[k] for k in ch4.MODELS)
    assert chapter.MODELS["flexible_final"][:2] == ("flexible_cnn", ch5.FINAL_NET.args)


@pytest.mark.slow
def test_sizes_are_the_built_networks(monkeypatch):
    monkeypatch.undo()  # the real parameters and flops: each builds its network
    for name, (params, flops) in SIZES.items():
        assert (chapter.parameters(name), chapter.flops(name)) == (params, pytest.approx(flops, rel=1e-6)), name


# ----- the study numbers, read from the chapters ----------------------------------------------------

def test_every_study_number_is_read_from_its_chapters_registry():
    for name, source in chapter.SOURCES.items():
        mine, theirs = chapter.REGISTRY[f"headline_{name}"], source.claim
        assert (mine.printed, mine.value, mine.material_difference) == (theirs.printed, theirs.value,
                                                                        theirs.material_difference)
        assert theirs is source.module.REGISTRY[source.claim_id]
        assert mine.where.startswith(f"chapter {source.chapter}: ")
    assert set(chapter.SOURCES) | set(chapter.NO_STUDY_NUMBER) == set(MODELS)
    ch4 = CHAPTERS["lightweight_benchmark"].REGISTRY
    assert chapter.TABLE1_ORDER == ["mobilenet_lite", "resnet_mini", "custom_cnn", "densenet_tiny", "lenet5",
                                    "vit_tiny"]
    assert chapter.REGISTRY["ch4_order_mobilenet_lite_resnet_mini"].printed == (
        f"{ch4['t1_test_acc_mobilenet_lite'].printed} > {ch4['t1_test_acc_resnet_mini'].printed}")
    assert chapter.REGISTRY["ch1_gap"].value == CHAPTERS["baseline_vs_deeper"].REGISTRY["accuracy_gap"].value
    # nothing of a study typed in the module: its numbers come through SOURCES and the registries
    source = open(chapter.__file__).read()
    assert not re.search(r"\b(0\.9272|92\.72|91\.55|99\.67|98\.98|89\.3|67\.6|27\.0)\b", source)


def test_each_recipe_is_read_off_its_chapters_configuration():
    recipes = {name: source.recipe() for name, source in chapter.SOURCES.items()}
    assert "batch 8" in recipes["resnet_mini"] and "patience 5 on the test loss" in recipes["resnet_mini"]
    assert recipes["model2"].startswith("AdamW 0.001, weight decay 1e-05, plateau schedule")
    assert "augmented" in recipes["model2"]
    assert "Adam 2.05e-05, batch 512" in recipes["mlp_best"] and "48,000 / 12,000 split" in recipes["mlp_best"]
    assert "3 x 100 steps" in recipes["synergy_baseline"] and "7 x 100 steps" in recipes["flexible_final"]
    assert recipes["model1"].endswith("; checkpoint of lowest validation loss")


def test_a_recipe_says_where_a_study_read_its_number_off_the_epochs():
    """A study that read its number off per-epoch test evaluations (chapter 3's final epoch, chapter 4's best epoch,
    chapter 2's stages) did not report the model its run kept: its recipe says where the number was read, not a kept
    model that contradicts its quantity ("final epoch ... checkpoint of lowest validation loss")."""
    read = "; tested after every epoch, its number read off those evaluations"
    for name, source in chapter.SOURCES.items():
        text = source.recipe()
        assert text.endswith(read) == source.config().track_test, name
        if source.config().track_test:
            assert "checkpoint of lowest" not in text and "last epoch's model" not in text, name
    assert {n for n, s in chapter.SOURCES.items() if s.config().track_test} == {
        "cnn3_128", "light_bn", "mlp_best", *CHAPTERS["lightweight_benchmark"].MODELS}


# ----- constructed runs ------------------------------------------------------------------------------

def run(settings, name, seed, accuracy, loss=0.3, best_epoch=10, epochs_run=15, seconds=2.0):
    """A stored common-protocol run: ``accuracy`` and ``loss`` on test, its validation loss 0.01 lower at its
    selected epoch."""
    rows = [{"epoch": e, "train_loss": 0.3, "train_acc": accuracy, "val_acc": accuracy, "train_seconds": seconds,
             "val_loss": loss - 0.01 + 0.01 * abs(e - best_epoch), "eval_seconds": 0.1}
            for e in range(1, epochs_run + 1)]
    return StoredRun(key=f"{name}-{seed}", path=None, config=chapter.config(settings, name, seed),
                     result={"metrics": {"accuracy": accuracy, "loss": loss, "best_epoch": best_epoch,
                                         "epochs_run": epochs_run},
                             "history": rows, "parameters": SIZES[name][0], "provenance": {"threads": 1}})


def study_center(name: str) -> float:
    """Each network's accuracy as its study printed it (chapter 5's networks, which report losses: 90% and 92%)."""
    source = chapter.SOURCES.get(name)
    if source is not None and source.measure.percent:
        return source.claim.value
    return {"light_plain": 0.95, "synergy_baseline": 0.90, "flexible_final": 0.92}[name]


def study_loss(name: str) -> float:
    source = chapter.SOURCES.get(name)
    return 0.3 if source is None or source.measure.percent else source.claim.value


# chapter 1's study trained its CNNs for a fixed 12 epochs: its networks keep epoch 13 here by default, so that the
# budget is one of the differences (``budget_immaterial``), as for a network that needed longer than the study gave it
PAST_BUDGET = {"model1": {"best_epoch": 13, "epochs_run": 18}, "model2": {"best_epoch": 13, "epochs_run": 18}}


def make_runs(accuracy: dict | None = None, seeds=SEEDS, spread=0.001, seconds=None, **run_options):
    """Every network with ``seeds``, accuracies ``spread`` apart around ``accuracy`` (default: its study's)."""
    settings = paper()
    offsets = np.linspace(-spread, spread, len(seeds)) if len(seeds) > 1 else [0.0]
    accuracy = {name: study_center(name) for name in MODELS} | (accuracy or {})
    return chapter.ChapterRuns(runs={name: [
        run(settings, name, s, accuracy[name] + d, study_loss(name) + d, seconds=(seconds or {}).get(name, 2.0),
            **(PAST_BUDGET.get(name, {}) | run_options)) for s, d in zip(seeds, offsets)] for name in MODELS},
        seeds=list(seeds))


def empty_runs():
    settings = paper()
    return chapter.ChapterRuns(runs={n: [MissingRun("k", chapter.config(settings, n, s)) for s in SEEDS]
                                     for n in MODELS}, seeds=list(SEEDS))


def judged(runs) -> dict:
    return {row.id: row for row in complete_rows(chapter.REGISTRY, chapter.claims(runs))}


def test_the_ranking_table_names_the_cpu_that_trained_each_network():
    """Times of networks trained on different CPUs compare machines as well: the table says which CPU each ran on."""
    def on(processor, *more):
        stored = run(paper(), "lenet5", 42, 0.9)
        stored.result["provenance"] = {"trained_on": [{"processor": p} for p in (processor, *more)]}
        return stored

    assert chapter.cpus([on("AMD EPYC, AVX512")] * 3) == "AMD"
    assert chapter.cpus([on("Intel(R) Xeon(R) Processor"), on("AMD EPYC, AVX512"),
                         on("Intel(R) Xeon(R) Processor", "AMD EPYC, AVX512")]) == "Intel (2), AMD (2)"
    assert chapter.cpus([]) == "-"
    table = chapter.ranking_table(make_runs())
    assert set(table["CPU"]) == {"not recorded"} and "CPU: the maker of the processor" in table.note


def test_time_to_best_sums_the_epochs_up_to_the_selected_one():
    stored = run(paper(), "lenet5", 42, 0.9, best_epoch=4, epochs_run=9, seconds=3.0)
    assert chapter.time_to_best(stored) == 12.0
    assert chapter.selected_row(stored)["val_loss"] == pytest.approx(0.29)
    for row in stored.history:  # recorded CPU time wins: wall time counts other work on the cores and pauses
        row["train_cpu_seconds"] = 1.0
    assert chapter.time_to_best(stored) == 4.0


# ----- ranking and tie groups --------------------------------------------------------------------------

def test_tie_groups_give_each_group_its_best_network_and_share_letters_across_groups():
    assert chapter.tie_groups({"A": [0.919, 0.920, 0.921], "B": [0.918, 0.919, 0.920],
                               "C": [0.899, 0.900, 0.901], "D": [0.898, 0.899, 0.900]}) == \
        {"A": "a", "B": "a", "C": "b", "D": "b"}
    # C is too noisy to be told from A or from B, while A and B are separable: C belongs to both groups
    assert chapter.tie_groups({"A": [0.919, 0.920, 0.921], "B": [0.914, 0.915, 0.916],
                               "C": [0.902, 0.912, 0.922]}) == {"A": "a", "B": "b", "C": "ab"}
    assert chapter.tie_groups({"A": [0.92], "B": [0.91]}) is None  # one seed: no spread, no groups
    assert chapter.tie_groups(None) is None


def test_ranking_table_ranks_groups_and_costs_every_network():
    table = chapter.ranking_table(make_runs(seconds={"lenet5": 3.0}))
    assert list(table.index[:3]) == ["CNN-3-128", "lightweight (separable + BN)", "lightweight (standard first conv)"]
    assert table.loc["CNN-3-128", "rank"] == 1 and table.loc["ViT-Tiny", "rank"] == 14
    assert table.loc["CNN-3-128", "test acc (%)"] == "99.67 ± 0.10" and table.loc["CNN-3-128", "group"] == "a"
    # Custom CNN (90.04) and the study-5 baseline (90.00) cannot be told apart with 0.1-point seeds
    assert table.loc["Custom CNN", "group"] == table.loc["study 5 baseline", "group"]
    assert table.loc["LeNet-5", "to best (s)"] == "30 ± 0" and table.loc["LeNet-5", "best epoch"] == "10, 10, 10"
    assert table.loc["Custom CNN", "parameters"] == "6,330" and table.loc["Custom CNN", "seeds"] == "3/3"
    assert "several letters" in table.note


def test_ranking_waits_for_every_seed_and_shows_missing_runs():
    runs = make_runs()
    runs.runs["vit_tiny"][1] = MissingRun("k", runs.runs["vit_tiny"][1].config)
    table = chapter.ranking_table(runs)
    assert set(table["rank"]) == {"-"} and set(table["group"]) == {"-"}
    # two seeds of three: no number stands in for all three, the table says how many are stored
    assert table.loc["ViT-Tiny", "seeds"] == "2/3"
    assert table.loc["ViT-Tiny", ["test acc (%)", "to best (s)", "best epoch"]].tolist() == [
        "waiting, 2/3 seeds stored", "-", "-"]
    assert table.loc["LeNet-5", "test acc (%)"] == "89.07 ± 0.10"
    empty = chapter.ranking_table(empty_runs())
    assert set(empty["test acc (%)"]) == {"missing"} and set(empty["to best (s)"]) == {"-"}
    assert "the ranking waits for them" in chapter.conclusion(runs)


def test_close_calls_name_the_neighbours_five_seeds_could_separate():
    from IPython.display import Markdown

    assert isinstance(chapter.close_calls(empty_runs()), Markdown)
    # Custom CNN 90.04 against the study-5 baseline 90.00: 0.04 points apart, 0.1-point seeds
    calls = chapter.close_calls(make_runs())
    assert "Custom CNN above study 5 baseline" in calls.index
    assert calls.loc["Custom CNN above study 5 baseline", "five seeds"] == "would not"
    closer = chapter.close_calls(make_runs({"synergy_baseline": 0.8983}))  # 0.21 points: inside ±0.23, not ±0.15
    assert closer.loc["Custom CNN above study 5 baseline", "five seeds"] == "would separate them"
    separable = make_runs({"custom_cnn": 0.905, "mobilenet_lite": 0.9185, "model2": 0.914, "flexible_final": 0.924,
                           "lenet5": 0.890})
    assert isinstance(chapter.close_calls(separable), Markdown)


# ----- fronts and the Pareto figure ----------------------------------------------------------------

def test_fronts_hold_the_undominated_networks_of_each_cost():
    fronts = chapter.fronts(make_runs(seconds={"custom_cnn": 1.0}))
    assert fronts["parameters"] == ["CNN-3-128", "lightweight (standard first conv)", "lightweight (separable + BN)",
                                    "ResNet-Mini", "MobileNet-Lite", "Custom CNN"]
    assert "LeNet-5" in fronts["MFLOPs"] and "LeNet-5" not in fronts["parameters"]  # the fewest FLOPs, not params
    # every network takes 20 s to its best epoch except Custom CNN (10 s): it and the most accurate are the front
    assert fronts["seconds"] == ["CNN-3-128", "Custom CNN"]
    assert chapter.fronts(make_runs(seeds=(42,))) is None  # no spread: no network can be called beaten


def test_pareto_figure_marks_the_front_on_log_axes_and_waits_while_nothing_is_stored():
    import matplotlib.pyplot as plt

    assert chapter.pareto_figure(empty_runs()) is None
    fig = chapter.pareto_figure(make_runs())
    axes = fig.axes
    assert len(axes) == 3 and all(ax.get_xscale() == "log" for ax in axes)
    assert [ax.get_xlabel() for ax in axes] == ["parameters (log scale)", "forward MFLOPs per image (log scale)",
                                                "training seconds to the best epoch (log scale)"]
    named = {t.get_text() for t in axes[0].texts}
    assert named == {"CNN-3-128", "lightweight (standard first conv)", "lightweight (separable + BN)", "ResNet-Mini",
                     "MobileNet-Lite", "Custom CNN"}  # the front of the size panel, and only it
    partial = make_runs()
    partial.runs["lenet5"] = [MissingRun("k", r.config) for r in partial.runs["lenet5"]]
    fig = chapter.pareto_figure(partial)
    assert len({t.get_text() for t in fig.axes[0].texts}) == 13  # no front yet: every network shown is named
    assert "no front" in fig._suptitle.get_text()
    plt.close("all")


def test_explorer_points_carry_spreads_and_none_for_networks_without_runs():
    runs = make_runs()
    runs.runs["lenet5"] = [MissingRun("k", r.config) for r in runs.runs["lenet5"]]
    points = chapter.explorer_points(runs)
    assert points["LeNet-5"]["test accuracy (%)"] is None and points["LeNet-5"]["parameters"] == (61_706, 0.0)
    mean, sd = points["ResNet-Mini"]["test accuracy (%)"]
    assert mean == pytest.approx(91.10) and sd == pytest.approx(0.1)
    assert set(next(iter(points.values()))) == set(chapter.EXPLORER_AXES)
    explorer = chapter.explorer(runs)
    assert "no value yet for LeNet-5" in explorer.children[2].value


# ----- the study table ---------------------------------------------------------------------------

def test_study_table_sets_each_study_number_beside_ours_and_names_what_it_is(monkeypatch):
    monkeypatch.setitem(chapter.SOURCES, "synergy_baseline",  # as if ours were the study's network (it is not)
                        dataclasses.replace(chapter.SOURCES["synergy_baseline"], other_network=None))
    table = chapter.study_table(make_runs({"model1": 0.90}))
    assert table.loc["Model-1", ["study", "here", "difference"]].tolist() == ["92.72", "90.00 ± 0.10 (n=3)",
                                                                               "-2.72 points"]
    assert table.loc["ResNet-Mini", "difference"] == "+0.00 points"
    assert table.loc["MLP 2 x 4192", "study"] == "89.3"  # to the precision the study printed
    assert table.loc["study 5 baseline", ["quantity", "study", "here"]].tolist() == ["test loss", "0.676",
                                                                                     "0.676 ± 0.001 (n=3)"]
    assert table.loc["lightweight (standard first conv)", "study"] == "-"
    what = table.loc["ResNet-Mini", "the study's number"]
    assert what.startswith("test accuracy at the epoch of best test accuracy") and "batch 8" in what
    assert table.loc["CNN-3-128", "the study's number"].startswith("test accuracy, best of the evaluated stages")


def test_study_table_shows_missing_runs_as_missing():
    table = chapter.study_table(empty_runs())
    assert set(table["here"]) == {"missing"} and set(table["difference"]) == {"-"}
    assert table.loc["Model-1", "study"] == "92.72"


def test_no_table_or_figure_shows_a_network_before_every_seed_of_it_is_stored():
    """The rows wait for every seed of a network; so do the tables, the figure and the explorer: one seed of three
    is no stand-in for all three, beside a study's number or anywhere else."""
    import matplotlib.pyplot as plt

    runs = make_runs()
    del runs.runs["vit_tiny"][1:]  # seed 42 alone, as the store holds ViT-Tiny
    runs.runs["vit_tiny"] += [MissingRun("k", chapter.config(paper(), "vit_tiny", s)) for s in SEEDS[1:]]
    assert chapter.values(runs, "vit_tiny") == [] and chapter.complete_runs(runs, "vit_tiny") == []
    table = chapter.study_table(runs)
    assert table.loc["ViT-Tiny", ["here", "difference"]].tolist() == ["waiting, 1/3 seeds stored", "-"]
    assert table.loc["LeNet-5", "here"] == "89.07 ± 0.10 (n=3)"
    assert chapter.ranking_table(runs).loc["ViT-Tiny", "test acc (%)"] == "waiting, 1/3 seeds stored"
    assert chapter.explorer_points(runs)["ViT-Tiny"]["test accuracy (%)"] is None
    assert chapter.explorer_points(runs)["ViT-Tiny"]["training seconds to the best epoch"] is None
    fig = chapter.pareto_figure(runs)
    assert "ViT-Tiny" not in {t.get_text() for t in fig.axes[0].texts}
    assert "1 network not shown: waiting for its seeds" in fig._suptitle.get_text()
    plt.close("all")
    alone = empty_runs()
    alone.runs["lenet5"][0] = make_runs().runs["lenet5"][0]
    assert chapter.pareto_figure(alone) is None  # no network has every seed: nothing to draw


# ----- the claims --------------------------------------------------------------------------------

# the rows the chapter's rules make not comparable whatever the runs show: on a network that is not the study's
# (chapter 5's baseline), on a study number of another quantity than ours (every study but chapter 1's) or trained
# with another recipe (chapter 1's), on time
RULED_OUT = {"ch5_order", "ch1_gap", "ch2_gap", "ch4_tradeoff"} | {f"headline_{n}" for n in chapter.SOURCES}


@pytest.fixture
def like_the_protocol(monkeypatch):
    """As if chapter 1's study had trained its two CNNs as the common protocol does: their rows are judged, so the
    tests can reach the value and difference rules (no study's number is like ours as the book stands)."""
    protocol = lambda m, s, name: chapter.config(paper(), name, 42)  # noqa: E731
    for name in ("model1", "model2"):
        monkeypatch.setitem(chapter.SOURCES, name, dataclasses.replace(
            chapter.SOURCES[name], study_run=lambda m, s, name=name: protocol(m, s, name)))


def test_every_claim_gets_one_row_and_runs_like_the_studies_reproduce_them():
    rows = judged(make_runs())
    assert list(rows) == [c.id for c in chapter.REGISTRY]
    # chapter 4's text names ResNet-Mini its most accurate network, its Table 1 MobileNet-Lite: runs like Table 1
    # reproduce the table's claim and refute the text's
    assert rows["ch4_best_text"].verdict == NOT_REPRODUCED and rows["ch4_best_table1"].verdict == REPRODUCED
    # the rows that rest on ViT-Tiny's place (the study's ViT-Tiny has no dropout) cannot be judged on ours
    vit_place = {"ch4_order_lenet5_vit_tiny", "ch4_vit_lags"}
    assert {rows[i].verdict for i in vit_place} == {INCONCLUSIVE}
    assert all("ViT-Tiny's extra dropout could put it on either side" in rows[i].note for i in vit_place)
    assert rows["ch4_best_text"].note.startswith("the study's ranking read as a claim about its 6 architectures")
    assert {row.verdict for i, row in rows.items() if i not in RULED_OUT | vit_place | {"ch4_best_text"}} == {REPRODUCED}
    # a ViT-Tiny on top of chapter 4's six would decide a row that does not name it: judged without it, the row
    # differs, so its verdict rests on ViT-Tiny's place (its extra dropout) and is inconclusive
    ahead = judged(make_runs({"vit_tiny": 0.95}))
    assert ahead["ch4_best_table1"].verdict == INCONCLUSIVE
    assert "ViT-Tiny's extra dropout, without which the verdict differs, could put it on either side" in \
        ahead["ch4_best_table1"].note
    assert ahead["ch4_best_text"].verdict == NOT_REPRODUCED  # MobileNet-Lite beats it, with or without ViT-Tiny
    assert {rows[i].verdict for i in RULED_OUT} == {NOT_COMPARABLE}
    assert rows["ch2_tradeoff"].ours.startswith("undominated in accuracy and parameters: CNN-3-128")
    assert "Model-1 (chapter 1): Adam 0.001, batch 128" in rows["ch1_order"].note


def test_a_claim_widened_to_every_network_says_where_the_study_said_it_and_among_which():
    """The trade-off rows test a study's word among all fourteen networks: where the study said it names among
    which networks, so that the widening is not read as the study's; the study column keeps its own words."""
    assert chapter.REGISTRY["ch2_tradeoff"].printed == "favourable"
    assert chapter.REGISTRY["ch2_tradeoff"].where.endswith("(there against CNN-3-128 alone)")
    assert chapter.REGISTRY["ch4_tradeoff"].where.endswith("(there among its 6 networks)")


def test_an_empty_store_leaves_the_rows_missing_but_those_no_run_can_make_comparable():
    """A claim the chapter's rules cannot judge whatever the runs show needs no run: it is not comparable now, with
    its reason, and the description of our numbers it will carry waits for the runs."""
    rows = {r.id: r for r in complete_rows(chapter.REGISTRY, chapter.claims(empty_runs()))}
    assert len(rows) == len(chapter.REGISTRY)
    # Model-1's budget may turn out to make no difference (``budget_immaterial``): its row waits for the runs
    ruled_out = RULED_OUT - {"headline_model1"}
    assert {i for i, r in rows.items() if r.verdict == NOT_COMPARABLE} == ruled_out
    assert {r.verdict for i, r in rows.items() if i not in ruled_out} == {MISSING}
    assert {rows[i].ours for i in ruled_out} == {"-"}
    assert rows["headline_lenet5"].note.startswith("different quantities: the study's number is the test accuracy at ")
    assert "; ours: waiting for every seed of LeNet-5 (3 runs); " in rows["headline_lenet5"].note
    assert rows["ch5_order"].note.startswith("not the study's network: the study 5 baseline has 361,258")
    assert "ours: waiting for every seed of FlexibleCNN" in rows["ch5_order"].note
    assert rows["ch2_gap"].note.startswith("different quantities: ")
    assert rows["ch4_tradeoff"].note.startswith("timings bound to hardware")
    assert "ours: waiting for every seed of Model-1, Model-2, " in rows["ch4_tradeoff"].note
    assert "(42 runs)" in rows["ch4_tradeoff"].note
    assert rows["headline_model1"].note == "waiting for every seed of Model-1 (3 runs)"
    assert rows["headline_model2"].note.startswith("different recipes: Model-2 (study: AdamW 0.001, ")
    text = chapter.conclusion(empty_runs())
    assert text.startswith(f"- **Nothing to conclude yet** ({len(ruled_out)} not comparable, "
                           f"{len(rows) - len(ruled_out)} missing runs). No run is stored")


def test_a_row_no_run_can_make_comparable_waits_only_for_its_description():
    runs = make_runs()
    del runs.runs["lenet5"][1:]  # one seed of three: the description waits, the verdict does not
    runs.runs["flexible_final"][2] = MissingRun("k", runs.runs["flexible_final"][2].config)
    rows = judged(runs)
    assert (rows["headline_lenet5"].verdict, rows["headline_lenet5"].ours) == (NOT_COMPARABLE, "-")
    # one of its three runs stored: the note says how many are missing of how many, not that none is there
    assert "ours: waiting for every seed of LeNet-5 (2 of the row's 3 runs missing)" in rows["headline_lenet5"].note
    assert (rows["ch5_order"].verdict, rows["ch5_order"].ours) == (NOT_COMPARABLE, "-")
    assert ("ours: waiting for every seed of FlexibleCNN 6L/64F, IN, dropout 0.1 (1 of the row's 6 runs missing)"
            in rows["ch5_order"].note)
    assert (rows["ch4_tradeoff"].verdict, rows["ch4_tradeoff"].ours) == (NOT_COMPARABLE, "-")
    assert rows["ch4_order_densenet_tiny_lenet5"].verdict == MISSING  # a claim the runs can judge still waits
    assert rows["ch2_tradeoff"].verdict == MISSING
    assert rows["ch2_tradeoff"].note.endswith("LeNet-5, FlexibleCNN 6L/64F, IN, dropout 0.1 (3 of the row's 42 runs "
                                              "missing)")
    del runs.runs["synergy_baseline"]  # a network these settings leave out: the row stays not comparable
    row = judged(runs)["ch5_order"]
    assert row.verdict == NOT_COMPARABLE and "ours: not among this notebook's networks: study 5 baseline" in row.note
    assert judged(runs)["headline_synergy_baseline"].verdict == NOT_COMPARABLE


def test_a_not_comparable_row_carries_no_band_and_names_the_studys_number_once(like_the_protocol):
    """The value rule's band belongs to a judged row: a row not comparable for another quantity keeps our numbers as
    a description, not the band the rule would have judged them with."""
    rows = judged(make_runs(spread=0.01))  # seeds a point apart: the band is wider than the material point
    assert rows["headline_model1"].verdict == INCONCLUSIVE and "also holds values" in rows["headline_model1"].note
    for claim_id in RULED_OUT - {"ch1_gap", "headline_model1", "headline_model2"}:
        assert "also holds values" not in rows[claim_id].note, claim_id
    for name in chapter.SOURCES:
        assert rows[f"headline_{name}"].note.count("the study's number") == 1, name
    assert rows["headline_resnet_mini"].ours == "91.10% ± 1.00% (n=3); +0.00 points against the study"


def test_a_study_number_trained_with_another_recipe_is_set_beside_ours_but_not_judged():
    """A value rule's band stands for a new run under the study's recipe: chapter 1 measured what the common protocol
    measures, but trained Model-1 for a fixed 12 epochs and Model-2 with AdamW, weight decay, a plateau schedule and
    augmentation, so a verdict on its numbers would measure the change of recipe. Its headline and gap rows keep our
    numbers as a description, with the differences read off the two configurations; its ranking is still tested, as
    a claim about the architectures."""
    runs = make_runs({"model1": 0.9100, "model2": 0.9250})
    rows = judged(runs)
    for claim_id in ("headline_model1", "headline_model2", "ch1_gap"):
        assert rows[claim_id].verdict == NOT_COMPARABLE, claim_id
        assert rows[claim_id].note.startswith("different recipes: "), claim_id
        assert not rows[claim_id].rule and rows[claim_id].tolerance is None, claim_id  # no band
    assert rows["headline_model1"].note.startswith(
        "different recipes: Model-1 (study: 12 epochs; here: up to 100 epochs, patience 5 on the validation loss); "
        "the value rule's band stands for a new run under the study's recipe")
    assert ("Model-2 (study: AdamW 0.001, weight decay 1e-05, plateau schedule, pixels in [-1, 1], augmented, 12 "
            "epochs; here: Adam 0.001, no schedule, standardised pixels, no augmentation, up to 100 epochs, patience 5 "
            "on the validation loss)" in rows["ch1_gap"].note)
    assert rows["headline_model1"].ours == "0.9100 ± 0.0010 (n=3); -0.0172 against the study"  # the claim's unit
    assert rows["ch1_order"].verdict == NOT_REPRODUCED  # the ranking, retested on the architectures
    assert rows["ch1_order"].note.startswith("the study's ranking read as a claim about the two architectures, "
                                             "retested under the common protocol (its own numbers were trained "
                                             "otherwise: Model-1 (study: 12 epochs; ")
    text = chapter.conclusion(runs)
    assert ("*Not comparable*, the difference a description: Model-1, Model-2, whose study measured what the common "
            "protocol measures but trained the network otherwise") in text
    assert "Model-1 91.00 ± 0.10 (n=3) against the study's 92.72, -1.72 points" in text
    assert "Outside it (*not reproduced*)" not in text
    # the differences come from the configurations: a study trained as the common protocol trains has none
    assert chapter.SOURCES["lenet5"].other_recipe() == (
        "study: batch 8, pixels in [0, 1], all 60,000 images, no validation, up to 100 epochs, patience 5 on the test "
        "loss; here: batch 128, standardised pixels, 54,000 / 6,000 split, up to 100 epochs, patience 5 on the "
        "validation loss")
    same = dataclasses.replace(chapter.SOURCES["model1"], study_run=lambda m, s: chapter.config(paper(), "model1", 42))
    assert same.other_recipe() == ""
    # a recipe that differs in batch size, pixel scaling or training images alone is another recipe too
    for change, text in (({"batch_size": 8}, "study: batch 8; here: batch 128"),
                         ({"normalize": None}, "study: pixels in [0, 1]; here: standardised pixels"),
                         ({"val_fraction": 0.2}, "study: 48,000 / 12,000 split; here: 54,000 / 6,000 split")):
        other = dataclasses.replace(chapter.SOURCES["model1"], study_run=lambda m, s, change=change: dataclasses.replace(
            chapter.config(paper(), "model1", 42), **change))
        assert other.other_recipe() == text, change


def test_a_fixed_budget_within_which_every_seed_kept_its_checkpoint_is_no_difference():
    """Chapter 1's study trained Model-1 as the common protocol does but for a fixed 12 epochs, keeping the checkpoint
    of lowest validation loss. Where every seed of ours kept an epoch within those 12 and trained at least 12, a run of
    the study's recipe is ours stopped after epoch 12, with the same checkpoint: the row is judged by the value rule.
    Where a seed kept a later epoch, or stopped before the 12th, the budget could have changed it: not comparable."""
    def model1(**options):
        runs = make_runs({"model1": 0.9272})
        runs.runs["model1"] = [run(paper(), "model1", s, 0.9272 + d, **options)
                               for s, d in zip(SEEDS, (-0.001, 0.0, 0.001))]
        return runs

    within = model1(best_epoch=8, epochs_run=13)
    rows = judged(within)
    row = rows["headline_model1"]
    assert row.verdict == REPRODUCED and row.tolerance is not None
    assert row.rule.endswith(RULES["budget"])  # the rule column names the budget rule, written in the procedure
    from fmnist_utils.store import REPO_ROOT
    assert "fixed budget is no difference where the study kept the checkpoint of lowest validation loss" in " ".join(
        (REPO_ROOT / "book" / "intro.md").read_text().split())
    # a schedule could run to the budget's end: then the budget is a difference whatever the runs kept
    scheduled = dataclasses.replace(chapter.SOURCES["model1"], study_run=lambda m, s: dataclasses.replace(
        m.config(s, m.study_cell("model1"), 42), scheduler="plateau"))
    assert not chapter.budget_immaterial(scheduled.config(), chapter.complete_runs(within, "model1"))
    assert chapter.budget_immaterial(chapter.SOURCES["model1"].config(), chapter.complete_runs(within, "model1"))
    assert ("the study's budget (12 epochs) makes no difference to these runs: every seed kept an epoch within it "
            "(epochs 8, 8, 8) and trained at least as long (13, 13, 13 epochs)") in row.note
    assert "Model-1 (study" not in rows["ch1_order"].note and "Model-2 (study: AdamW" in rows["ch1_order"].note
    assert rows["ch1_gap"].verdict == NOT_COMPARABLE  # Model-2's recipe still differs
    assert "Within the band a new run could fall in (*reproduced*): Model-1." in chapter.conclusion(within)
    assert chapter.SOURCES["model1"].other_recipe() == ("study: 12 epochs; here: up to 100 epochs, patience 5 on the "
                                                        "validation loss")  # the recipes alone, before any run
    for options in ({"best_epoch": 13, "epochs_run": 18}, {"best_epoch": 8, "epochs_run": 11}):
        row = judged(model1(**options))["headline_model1"]
        assert row.verdict == NOT_COMPARABLE and row.note.startswith("different recipes: Model-1 (study: 12 epochs; ")
    # one seed still training: the row waits for it, rather than ruling itself out
    waiting = model1(best_epoch=8, epochs_run=13)
    waiting.runs["model1"][2] = MissingRun("k", waiting.runs["model1"][2].config)
    assert judged(waiting)["headline_model1"].verdict == MISSING


def test_a_ranking_that_does_not_survive_is_not_reproduced(like_the_protocol):
    # Model-2 clearly above Model-1, and ViT-Tiny above LeNet-5: both studies' orders reversed
    rows = judged(make_runs({"model1": 0.9100, "model2": 0.9250, "vit_tiny": 0.8950}))
    assert rows["ch1_order"].verdict == NOT_REPRODUCED and rows["ch1_gap"].verdict == NOT_REPRODUCED
    # ...but ViT-Tiny's place is no evidence either way: its extra dropout could put it on either side
    vit_row = rows["ch4_order_lenet5_vit_tiny"]
    assert vit_row.verdict == INCONCLUSIVE and "difference -0.43 [-0.66, -0.20]" in vit_row.ours  # reversed
    assert vit_row.note.endswith("ViT-Tiny's extra dropout could put it on either side: the ordering is no evidence "
                                 "for or against the claim")
    assert rows["ch4_order_resnet_mini_custom_cnn"].verdict == REPRODUCED
    # chapter 4 ranked its best-over-test values: the ordering row retests the architectures and says so
    assert rows["ch4_order_lenet5_vit_tiny"].note.startswith(
        "the study's ranking read as a claim about the two architectures, retested under the common protocol "
        "(its own numbers measured another quantity: ")
    assert "read as a claim" not in rows["ch1_order"].note  # as if chapter 1 had measured and trained as ours
    # a ranking retested under another recipe is a verdict on the architectures under this one, and says so
    assert rows["ch4_order_lenet5_vit_tiny"].note.split("; ")[2:4] == [
        "and were trained otherwise: LeNet-5, ViT-Tiny (study: batch 8, pixels in [0, 1], all 60,000 images, no "
        "validation, up to 100 epochs, patience 5 on the test loss",
        "here: batch 128, standardised pixels, 54,000 / 6,000 split, up to 100 epochs, patience 5 on the validation "
        "loss))"]
    assert ("the verdict is about the two architectures under the common protocol's recipe, not the study's: chapter "
            "4 judges the claim on runs of the study's own recipe") in rows["ch4_order_lenet5_vit_tiny"].note
    assert ("each a verdict on the architectures under this chapter's recipe"
            in chapter.conclusion(make_runs({"model1": 0.9100, "model2": 0.9250, "vit_tiny": 0.8950})))
    # every row on this book's ViT-Tiny names the dropout the study does not list, as chapter 4's rows do
    vit = CHAPTERS["lightweight_benchmark"].differs("vit_tiny")
    for claim_id in ("ch4_order_lenet5_vit_tiny", "headline_vit_tiny", "ch4_tradeoff"):
        assert vit in rows[claim_id].note, claim_id
    assert "differs from the study's" not in rows["ch4_order_resnet_mini_custom_cnn"].note
    assert rows["headline_model1"].verdict == NOT_REPRODUCED  # 1.72 points under the study's 92.72
    text = chapter.conclusion(make_runs({"model1": 0.9100, "model2": 0.9250}))
    assert "*Model-1 above Model-2 (chapter 1)*: **not reproduced**" in text
    assert "Model-1 91.00 ± 0.10 (n=3) against the study's 92.72, -1.72 points" in text
    assert "Outside it (*not reproduced*)" in text


def test_a_tie_is_inconclusive_and_a_beaten_tradeoff_is_not_reproduced():
    noisy = make_runs({"mobilenet_lite": 0.9112}, spread=0.01)
    assert judged(noisy)["ch4_order_mobilenet_lite_resnet_mini"].verdict == INCONCLUSIVE
    # a network as small as the light variant and more accurate beats it on size
    beaten = judged(make_runs({"light_plain": 0.9960}))
    assert beaten["ch2_tradeoff"].verdict == NOT_REPRODUCED
    assert beaten["ch2_tradeoff"].ours.endswith("lightweight (standard first conv), ResNet-Mini, MobileNet-Lite, "
                                                "Custom CNN")
    # Custom CNN as accurate as ResNet-Mini, smaller and faster to its best epoch: ResNet-Mini is beaten on this
    # machine, but speed is bound to hardware (chapter 4's rule), so the front is a description, not a verdict
    slow = judged(make_runs({"custom_cnn": 0.9110}, seconds={"custom_cnn": 1.0}))["ch4_tradeoff"]
    assert slow.verdict == NOT_COMPARABLE and "timings bound to hardware" in slow.note
    assert "speed is one of the claim's three axes" in slow.note and slow.ours.startswith(TIMED_FRONT + "undominated")


def test_one_seed_per_network_is_inconclusive_never_missing(like_the_protocol):
    rows = judged(make_runs(seeds=(42,)))
    assert not [r for r in rows.values() if r.verdict == MISSING]
    assert rows["ch1_order"].verdict == INCONCLUSIVE and rows["headline_model1"].verdict == INCONCLUSIVE
    assert rows["ch2_tradeoff"].verdict == INCONCLUSIVE


def test_a_study_number_of_another_quantity_is_set_beside_ours_but_not_judged(like_the_protocol):
    """Best of several test evaluations (chapter 4), or the last epoch (chapters 2, 3, 5), against the test accuracy
    of a checkpoint chosen on validation is not like with like: the row keeps both numbers and the difference, as a
    description; a study that measured what the common protocol measures, trained as it trains (chapter 1, as if it
    had), has its rows judged."""
    runs = make_runs({"lenet5": 0.8952, "custom_cnn": 0.8968, "model1": 0.9100})
    rows = judged(runs)
    for name in ("lenet5", "custom_cnn", "cnn3_128", "mlp_best", "flexible_final"):
        assert rows[f"headline_{name}"].verdict == NOT_COMPARABLE, name
        assert rows[f"headline_{name}"].note.startswith("different quantities: the study's number is the "), name
    assert rows["headline_lenet5"].ours == "89.52% ± 0.10% (n=3); +0.45 points against the study"
    assert "test accuracy at the epoch of best test accuracy" in rows["headline_lenet5"].note
    assert rows["ch2_gap"].verdict == NOT_COMPARABLE and rows["ch1_gap"].verdict != NOT_COMPARABLE
    assert rows["headline_model1"].verdict == NOT_REPRODUCED
    text = chapter.conclusion(runs)
    assert "LeNet-5 89.52 ± 0.10 (n=3) against the study's 89.07, +0.45 points" in text
    assert "Custom CNN 89.68 ± 0.10 (n=3) against the study's 90.04, -0.36 points" in text
    assert "*Not comparable*, the difference a description: CNN-3-128" in text
    assert "Outside it (*not reproduced*): their study measured what the common protocol measures" in text
    assert "these networks reach another number: Model-1." in text
    del runs.runs["lenet5"][1:]  # one seed of three: the row's description waits, and so does the conclusion's
    text = chapter.conclusion(runs)
    assert "LeNet-5 +" not in text and judged(runs)["headline_lenet5"].verdict == NOT_COMPARABLE
    assert "no evidence for or against the study's number; for LeNet-5 it waits for every seed" in text


def test_the_conclusion_calls_a_headline_difference_no_more_than_its_rows_do():
    """Ours minus the study's number is what changing the protocol and everything else that differs moved, not the
    protocol's share. It is shown as a description: ours with our seeds' spread beside the study's single number and
    the plain difference; a ± on the difference would leave out the spread of the study's run, which nobody
    measured, and make a description look precise."""
    text = chapter.conclusion(make_runs({"resnet_mini": 0.8958}, spread=0.0119))
    assert "the protocol's share" not in text and "was its protocol" not in text
    line = next(line for line in text.splitlines() if "headline number" in line)
    assert line.startswith("- **Each study's headline number beside ours** (")
    assert "ResNet-Mini 89.58 ± 1.19 (n=3) against the study's 91.10, -1.52 points" in line
    assert not re.search(r"[+-][0-9.]+ ±", line), "a difference carries a ±"
    assert "our seeds alone: each study's number is a single run, whose own spread nobody measured" in line
    assert chapter.TEST_ACCURACY.difference(-0.0152) == "-1.52 points"
    assert chapter.TEST_LOSS.difference(0.0104) == "+0.010"
    assert chapter.TEST_ACCURACY.difference(-0.00001) == "+0.00 points"  # a rounded zero has no sign


def test_a_run_stopped_by_its_cap_while_improving_is_not_comparable(like_the_protocol):
    runs = make_runs()
    capped = runs.runs["model2"][0]
    capped.result["metrics"]["best_epoch"] = capped.config.epochs
    rows = judged(runs)
    for claim_id in ("ch1_order", "ch1_gap", "headline_model2", "ch2_tradeoff", "ch4_tradeoff"):
        assert rows[claim_id].verdict == NOT_COMPARABLE, claim_id
    assert "100-epoch cap" in rows["headline_model2"].note and rows["headline_model2"].ours.startswith("0.9137")
    assert rows["headline_model1"].verdict == REPRODUCED


def test_networks_left_out_of_the_settings_leave_their_rows_missing():
    runs = make_runs()
    del runs.runs["model2"]
    rows = judged(runs)
    assert rows["ch1_order"].verdict == MISSING
    assert "not among this notebook's networks: Model-2" in rows["ch1_order"].note
    assert rows["ch2_order"].verdict == REPRODUCED


def test_the_conclusion_names_a_most_accurate_network_only_when_the_seeds_separate_it():
    """'Most accurate' is a best-of claim: tested over the seeds (the top group), never read off the means."""
    level = {name: 0.90 for name in MODELS}
    clear = chapter.conclusion(make_runs(level | {"cnn3_128": 0.95}))
    assert "**Most accurate under one protocol** (3 seeds per network): CNN-3-128, ahead of every other network" in clear
    tied = chapter.conclusion(make_runs(level | {"cnn3_128": 0.95, "model1": 0.9499}, spread=0.004))
    assert "no single network; the top group, not separable from the highest mean (95% Welch), is " in tied
    assert "(highest mean: CNN-3-128)" in tied and "Model-1" in tied.split("top group")[1].split(".")[0]


def test_the_conclusion_says_what_the_rows_say():
    partial = make_runs()
    del partial.runs["vit_tiny"][1:]
    for runs in (make_runs(), make_runs({"model1": 0.9100, "model2": 0.9250}, spread=0.004), partial):
        rows = judged(runs)
        text = chapter.conclusion(runs)
        stated = re.findall(r"\*([^*]+)\*: \*\*([a-z ]+)\*\*", text)
        assert len(stated) == len(chapter.ORDERS) + len(chapter.BESTS) + len(chapter.GAPS) + len(chapter.TRADEOFFS)
        by_claim = {row.claim: row.verdict for row in rows.values()}
        assert all(by_claim[claim] == verdict for claim, verdict in stated)
        headlines = [rows[f"headline_{n}"].verdict for n in chapter.SOURCES]
        assert all(f"{headlines.count(v)} {v}" in text for v in set(headlines))


@pytest.mark.slow
def test_throughput_is_measured_for_each_network_asked():
    settings = chapter.settings_from({"profile": "smoke", "models": ["custom_cnn", "lenet5"]})
    table = chapter.throughput_table(settings)
    assert list(table.index) == ["Custom CNN", "LeNet-5"] and (table["infer img/s"] > 0).all()


def test_chapter_5s_ordering_is_judged_on_the_test_loss_it_claims(monkeypatch):
    """The study ordered its two networks by a loss on test images: the row reads the test loss (not the validation
    loss beside it), whatever the accuracies say."""
    # as if our baseline were the study's network (it is not: see the next test)
    monkeypatch.setitem(chapter.SOURCES, "synergy_baseline",
                        dataclasses.replace(chapter.SOURCES["synergy_baseline"], other_network=None))
    rows = judged(make_runs({"flexible_final": 0.85, "synergy_baseline": 0.95}))  # accuracy reversed, loss as claimed
    row = rows["ch5_order"]
    assert row.verdict == REPRODUCED and row.quantity == chapter.Q_LOSS_ORDER
    assert "0.270, study 5 baseline 0.676; difference -0.406" in row.ours


def test_a_row_on_a_network_its_chapter_found_not_to_be_the_studys_is_not_comparable():
    """Chapter 5's rule: our baseline has 361,258 parameters, the study's 93K, so the study's claims about its
    baseline cannot be tested on ours, under the study's protocol or this one; our number stays in the row."""
    runs = make_runs({"flexible_final": 0.85, "synergy_baseline": 0.95})
    rows = judged(runs)
    for claim_id in ("ch5_order", "headline_synergy_baseline"):
        row = rows[claim_id]
        assert row.verdict == NOT_COMPARABLE and "361,258 parameters here, 93K" in row.note, claim_id
        assert row.ours != "-"
    # the claim cannot be tested on ours: the note does not say it was retested
    assert "retested" not in rows["ch5_order"].note and "read as a claim" not in rows["ch5_order"].note
    # losses as losses, as the study table shows them, though chapter 5 prints them as percentages
    assert rows["headline_synergy_baseline"].ours == "0.676 ± 0.001 (n=3)"
    assert rows["headline_flexible_final"].ours == "0.270 ± 0.001 (n=3); +0.000 against the study"
    assert "prints its losses as percentages (27.0% for a loss of 0.270)" in rows["headline_flexible_final"].note
    # 588,106: the count of the study's code, so the final network is the study's (its row is not comparable for
    # another reason: the study's loss is the last epoch's)
    assert "not the study's network" not in rows["headline_flexible_final"].note
    table = chapter.study_table(runs)
    assert table.loc["study 5 baseline", "difference"] == "not comparable"
    assert "not the study's network: the study 5 baseline has 361,258" in table.loc["study 5 baseline",
                                                                                    "the study's number"]
    assert table.loc[chapter.LABELS["flexible_final"], "difference"].startswith(("+", "-"))
    assert "*Not comparable*: study 5 baseline" in chapter.conclusion(runs)


def test_the_front_page_and_the_chapter_frame_the_headline_rows_as_the_rows_do():
    """Every headline row is not comparable (the study measured another quantity or another network, or trained
    another recipe): the prose that announces them says they are descriptions, not how far each study's number
    moves."""
    import json

    from fmnist_utils.store import REPO_ROOT

    ruled_out = [n for n in chapter.SOURCES if chapter.unlike((n,)) or chapter.other_network((n,))]
    assert ruled_out == list(chapter.SOURCES)  # before any run: the budget test waits for the runs
    # on runs that kept their checkpoint within chapter 1's 12 epochs, Model-1 alone is judged ("but one")
    within = make_runs()
    within.runs["model1"] = [run(paper(), "model1", s, 0.92) for s in SEEDS]
    assert [n for n in chapter.SOURCES
            if not (chapter.unlike((n,), within) or chapter.other_network((n,)))] == ["model1"]
    intro = " ".join((REPO_ROOT / "book" / "intro.md").read_text().split())
    cells = json.loads((REPO_ROOT / "book" / "06_common_protocol.ipynb").read_text())["cells"]
    opening = " ".join("".join(cells[0]["source"]).split())
    for text in (intro, opening):
        assert "headline number moves" not in text and "how far is each study" not in text.lower()
        assert "a description, not a verdict" in text
    assert "for every network but one" in opening.lower() and "another recipe" in opening
    assert "nobody measured" in opening
    assert "For every network but one" in intro and "another recipe" in intro and "Model-1" in intro
    claims_section = " ".join(next("".join(c["source"]) for c in cells
                                   if "## This book's claims" in "".join(c["source"]).splitlines()).split())
    # the prose says what the rows do: no study's own number is judged, chapter 1's for its recipe
    assert "chapter 1's two CNNs and their gap" not in claims_section
    assert "Every other headline row and both gaps are therefore *not comparable*" in claims_section
    assert "Only chapter 1's Model-1 passes both" in claims_section
    assert {f"headline_{n}" for n in chapter.SOURCES} | set(chapter.GAPS) <= RULED_OUT


def test_the_chapter_says_which_rules_were_revised_after_runs_were_seen():
    """The claims were registered before the runs, but two rules were revised once some runs were stored (the headline
    rule in 0cdf99c, chapter 5's loss in 178b45d): the chapter says so instead of "written before the runs"."""
    import json

    from fmnist_utils.store import REPO_ROOT

    cells = json.loads((REPO_ROOT / "book" / "06_common_protocol.ipynb").read_text())["cells"]
    text = " ".join(next("".join(c["source"]) for c in cells
                         if "## This book's claims" in "".join(c["source"]).splitlines()).split())
    assert "were written before the runs were trained" not in text
    assert "registered from the studies' own statements before the runs were trained" in text
    # the claims added after runs were stored are named (chapter 4's best-of claims)
    assert f"except chapter 4's {len(chapter.BESTS)} claims".replace(" 4 claims", " four claims") in text
    assert "commit 0cdf99c" in text and "commit 178b45d" in text and "like with like" in text
    assert "Six of the rules" in text and "commit b72be9a" in text  # the other-network rule, after the baseline's runs
    assert "the budget test below" in text and "from *not comparable* to *reproduced*" in text


def test_the_seed_count_prose_gives_the_welch_degrees_of_freedom_both_ways():
    """Welch's degrees of freedom for three seeds a side are 4 only with equal spreads and about 2 where one spread
    dominates (as in this chapter's intervals); the prose gives both, and what five seeds would do to each."""
    import json

    from scipy import stats

    from fmnist_utils.store import REPO_ROOT

    def half_width(seeds: int, dominated: bool) -> float:
        parts = [1.0 / seeds, 0.0 if dominated else 1.0 / seeds]
        df = sum(parts) ** 2 / sum(p ** 2 / (seeds - 1) for p in parts)
        return float(stats.t.ppf(0.975, df)) * sum(parts) ** 0.5

    cells = json.loads((REPO_ROOT / "book" / "06_common_protocol.ipynb").read_text())["cells"]
    text = " ".join(next("".join(c["source"]) for c in cells if "**Three seeds, not five.**" in "".join(c["source"]))
                    .split())
    bullet = text.split("**Three seeds, not five.**")[1].split("- **")[0]
    for df in (2, 4, 8):
        assert f"t = {stats.t.ppf(0.975, df):.2f}" in bullet, df
    assert "about 2 (t = 4.30) when one spread dominates" in bullet
    assert round(half_width(5, False) / half_width(3, False), 2) == 0.64  # "about two thirds"
    assert round(half_width(5, True) / half_width(3, True), 2) == 0.50  # "about half"
    assert "about two thirds of its width with equal spreads and to about half where one spread dominates" in bullet
