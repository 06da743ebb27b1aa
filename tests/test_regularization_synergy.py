"""Chapter 5: the statistics of the factorial, the chapter's runs, and its claim and conclusion logic."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fmnist_utils import stats
from fmnist_utils.chapter import complete_rows
from fmnist_utils.experiments import regularization_synergy as chapter
from fmnist_utils.params import ParameterError
from fmnist_utils.store import MissingRun, StoredRun
from fmnist_utils.verdicts import INCONCLUSIVE, MISSING, NOT_COMPARABLE, NOT_REPRODUCED, NOT_TESTED, REPRODUCED


# ----- statistics on constructed data --------------------------------------------------------------

def make_cells(effects: dict, n: int, sd: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {key: list(mean + sd * rng.standard_normal(n)) for key, mean in effects.items()}


def two_by_two(interaction: float, a_effect: float = -0.5, b_effect: float = 0.1, base: float = 1.0) -> dict:
    return {("none", 0.0): base, ("norm", 0.0): base + a_effect, ("none", 0.1): base + b_effect,
            ("norm", 0.1): base + a_effect + b_effect + interaction}


def test_interaction_recovers_a_known_interaction_from_noise_free_cells():
    cells = {k: [v, v] for k, v in two_by_two(-0.25).items()}
    estimate = stats.interaction(cells, "none", "norm", 0.0, 0.1)
    assert estimate.value == pytest.approx(-0.25)
    assert estimate.se == pytest.approx(0.0)
    assert estimate.df == 4  # N - cells


def test_interaction_sign_convention_and_interval():
    synergy = stats.interaction(make_cells(two_by_two(-0.3), n=8, sd=0.05), "none", "norm", 0.0, 0.1)
    assert abs(synergy.value + 0.3) < 0.1
    assert synergy.side == -1  # below zero: the pair lowers the loss by more than the sum
    overlap = stats.interaction(make_cells(two_by_two(+0.3), n=8, sd=0.05), "none", "norm", 0.0, 0.1)
    assert overlap.side == 1
    additive = stats.interaction(make_cells(two_by_two(0.0), n=8, sd=0.05, seed=1), "none", "norm", 0.0, 0.1)
    assert additive.low < 0 < additive.high and additive.side == 0
    assert additive.format(3).startswith(f"{additive.value:+.3f} [")


def test_mean_interaction_is_the_mean_of_every_2x2_interaction():
    norms, rates = ["none", "batch", "instance"], [0.0, 0.1, 0.3]
    rng = np.random.default_rng(0)
    means = {(n, p): float(rng.normal()) for n in norms for p in rates}
    weights = stats.mean_interaction_weights(norms, rates, "none", 0.0)
    each = [sum(w * means[k] for k, w in stats.interaction_weights("none", n, 0.0, p).items())
            for n in norms[1:] for p in rates[1:]]
    assert sum(w * means[k] for k, w in weights.items()) == pytest.approx(np.mean(each))
    # a contrast of interactions: every row and every column of the grid sums to zero, main effects drop out
    for n in norms:
        assert sum(weights.get((n, p), 0.0) for p in rates) == pytest.approx(0.0)
    for p in rates:
        assert sum(weights.get((n, p), 0.0) for n in norms) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="other than the reference"):
        stats.mean_interaction_weights(["none"], rates, "none", 0.0)


def test_interaction_t_interval_has_its_nominal_coverage():
    rng = np.random.default_rng(7)
    truth, covered, reps = 0.2, 0, 400
    for _ in range(reps):
        cells = {k: list(v + 0.1 * rng.standard_normal(5)) for k, v in two_by_two(truth).items()}
        estimate = stats.interaction(cells, "none", "norm", 0.0, 0.1, level=0.95)
        covered += estimate.low <= truth <= estimate.high
    assert 0.91 <= covered / reps <= 0.99


def test_pooled_variance_uses_every_cell_of_the_factorial():
    cells = make_cells({**two_by_two(0.0), ("norm", 0.3): 2.0, ("none", 0.3): 2.0}, n=5, sd=0.1)
    variance, df = stats.pooled_variance(cells)
    assert df == 6 * 4
    assert variance == pytest.approx(np.mean([np.var(v, ddof=1) for v in cells.values()]))
    estimate = stats.interaction(cells, "none", "norm", 0.0, 0.1)
    assert estimate.df == 24
    assert estimate.se == pytest.approx(np.sqrt(variance * 4 / 5))


def test_welch_interval_uses_only_the_four_cells_and_pooling_is_checked_not_assumed():
    cells = make_cells(two_by_two(-0.1), n=5, sd=0.1, seed=3)
    pooled = stats.interaction(cells, "none", "norm", 0.0, 0.1)
    assert pooled.method == "t, pooled"  # one noise level: Levene does not object
    cells[("other", 0.0)] = [0.0, 10.0, -10.0]  # a wild cell that pooling would pick up
    welch = stats.interaction(cells, "none", "norm", 0.0, 0.1, pooled=False)
    asked = stats.interaction(cells, "none", "norm", 0.0, 0.1)  # pooling asked for, but the spreads differ
    assert asked.method.startswith("t, Welch (the spreads differ: Levene p = ")
    assert (asked.value, asked.se, asked.df) == pytest.approx((welch.value, welch.se, welch.df))
    assert welch.se < 1.0 and welch.df <= 16


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    cells = make_cells(two_by_two(-0.2), n=5, sd=0.05, seed=2)
    weights = stats.interaction_weights("none", "norm", 0.0, 0.1)
    first = stats.bootstrap_contrast(cells, weights, n_boot=2000, seed=0)
    second = stats.bootstrap_contrast(cells, weights, n_boot=2000, seed=0)
    assert first == second
    assert first.low < first.value < first.high
    assert first.value == pytest.approx(stats.interaction(cells, "none", "norm", 0.0, 0.1).value)


def test_contrast_and_anova_refuse_what_they_cannot_estimate():
    with pytest.raises(ValueError, match="at least two values"):
        stats.interaction({k: [v] for k, v in two_by_two(0.0).items()}, "none", "norm", 0.0, 0.1)
    with pytest.raises(KeyError):
        stats.interaction({("none", 0.0): [1.0, 2.0]}, "none", "norm", 0.0, 0.1)
    single = pd.DataFrame([{"a": a, "b": b, "y": 1.0} for a in "xy" for b in "uv"])
    with pytest.raises(ValueError, match="replicates"):
        stats.two_way_anova(single, "a", "b", "y")


def test_mean_sd_text():
    assert stats.mean_sd_text([0.4, 0.5, 0.6]) == "0.500 ± 0.100"
    assert stats.mean_sd_text([0.9012, 0.9034], digits=2, scale=100) == "90.23 ± 0.16"
    assert stats.mean_sd_text([0.25]) == "0.250"
    assert stats.mean_sd_text([]) == "missing" and stats.mean_sd_text([], empty="-") == "-"


def test_mean_interval():
    estimate = stats.mean_interval([1.0, 2.0, 3.0])
    assert estimate.value == 2.0 and estimate.df == 2
    assert estimate.high - estimate.value == pytest.approx(4.302653 * 1 / np.sqrt(3), rel=1e-5)
    assert stats.mean_interval([5.0]).side == 0


def balanced_frame(n=4, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    effects = {"none": 0.0, "batch": -0.3, "instance": -0.5}
    for a, ea in effects.items():
        for b, eb in {0.0: 0.0, 0.1: 0.05, 0.3: 0.2}.items():
            bump = -0.2 if (a, b) == ("instance", 0.1) else 0.0
            rows += [{"norm": a, "dropout": b, "y": 1 + ea + eb + bump + 0.05 * e} for e in rng.standard_normal(n)]
    return pd.DataFrame(rows)


def test_two_way_anova_matches_the_balanced_textbook_formulas():
    frame = balanced_frame()
    table = stats.two_way_anova(frame, "norm", "dropout", "y")
    grand = frame["y"].mean()
    cell = frame.groupby(["norm", "dropout"])["y"].mean()
    a_mean = frame.groupby("norm")["y"].mean()
    b_mean = frame.groupby("dropout")["y"].mean()
    n = 4
    ss_a = 3 * n * ((a_mean - grand) ** 2).sum()
    ss_ab = n * sum((cell[(a, b)] - a_mean[a] - b_mean[b] + grand) ** 2 for a, b in cell.index)
    ss_res = ((frame["y"] - frame.set_index(["norm", "dropout"]).index.map(cell)) ** 2).sum()
    assert table.loc["norm", "sum of squares"] == pytest.approx(ss_a)
    assert table.loc["norm x dropout", "sum of squares"] == pytest.approx(ss_ab)
    assert table.loc["residual (seed to seed)", "sum of squares"] == pytest.approx(ss_res)
    assert list(table["df"]) == [2, 2, 4, 27]
    assert table.loc["norm x dropout", "p"] < 0.001  # the planted (instance, 0.1) bump


def test_anova_interaction_of_a_2x2_is_the_square_of_the_contrast_t():
    frame = balanced_frame()
    frame = frame[frame["norm"].isin(["none", "instance"]) & frame["dropout"].isin([0.0, 0.1])]
    table = stats.two_way_anova(frame, "norm", "dropout", "y")
    cells = {(a, b): g["y"].to_list() for (a, b), g in frame.groupby(["norm", "dropout"])}
    estimate = stats.interaction(cells, "none", "instance", 0.0, 0.1)
    assert table.loc["norm x dropout", "F"] == pytest.approx((estimate.value / estimate.se) ** 2)


def test_anova_handles_an_unbalanced_design():
    frame = balanced_frame().drop(index=[0, 1])  # a cell lost two of its runs
    table = stats.two_way_anova(frame, "norm", "dropout", "y")
    assert table.loc["residual (seed to seed)", "df"] == len(frame) - 9
    assert np.isfinite(table["F"].iloc[:3]).all()


# ----- the chapter's runs --------------------------------------------------------------------------

def paper():
    return chapter.settings_from({"profile": "paper"})


def test_paper_profile_is_the_studys_budget():
    s = paper()
    config = chapter.study_config(s, chapter.Net(4, 32, "batch", 0.1), seed=42)
    assert (config.epochs, config.steps_per_epoch, config.batch_size, config.val_steps) == (3, 100, 64, 50)
    assert config.optimizer == "adam" and config.lr == 1e-3 and config.weight_decay == 1e-5
    assert config.scheduler == "plateau" and config.scheduler_args == {"factor": 0.1, "patience": 10}
    assert config.normalize is None and config.val_fraction == 0.1 and config.split_seed == 42
    assert not config.select_best and config.train_subset is None and config.eval_subset is None
    assert config.model_args == {"layers": 4, "filters": 32, "norm": "batch", "dropout": 0.1}
    assert len(s.seeds) == 3 and len(s.factorial_seeds) >= 5
    assert s.norms == ["none", "batch", "instance"] and s.dropouts == [0.0, 0.1, 0.3]


def test_converged_runs_train_full_passes_with_early_stopping():
    s = paper()
    config = chapter.converged_config(s, chapter.Net(4, 16, "instance", 0.1), seed=1)
    assert config.steps_per_epoch is None and config.val_steps is None
    # the cap is far above where the runs stop: a run that reaches it has not converged
    assert (config.epochs, config.patience, config.monitor, config.select_best) == (60, 3, "val_loss", True)
    assert config.train_subset is None and config.batch_size == 64


def test_study_budget_validates_on_the_first_3200_held_out_images():
    from fmnist_utils.train import prepare_splits

    import torch

    splits = prepare_splits(chapter.study_config(paper(), chapter.Net(), seed=42), torch.device("cpu"), False)
    assert len(splits.val_y) == 50 * 64
    assert len(splits.train_y) == 54_000 and len(splits.test_y) == 10_000
    assert float(splits.train_x.max()) == 1.0 and float(splits.train_x.min()) == 0.0  # pixels in [0, 1]


def test_plan_covers_every_group_once_and_shares_identical_runs():
    s = paper()
    runs = chapter.plan(s)
    identities = [repr(sorted(c.identity().items())) for c, _ in runs]
    assert len(identities) == len(set(identities))
    assert not any(weights for _, weights in runs)
    groups = chapter.design(s)
    assert set(groups["architecture"]) == {(2, 64), (4, 32), (6, 16), (6, 64), (8, 32)}
    assert set(groups["dropout"]) == {0.1, 0.3, 0.5}
    assert set(groups["norm"]) == {"batch", "layer", "instance", "group", "none"}
    assert len(groups["factorial_study"]) == len(groups["factorial_converged"]) == 9
    # the factorial's (instance, 0.1) cell at the study's budget is the normalisation sweep's cell
    assert groups["factorial_study"][("instance", 0.1)][1][0] == groups["norm"]["instance"][1][0]
    final = groups["final"]["final"][1][0]
    assert final.epochs == 5 and final.model_args == {"layers": 6, "filters": 64, "norm": "instance", "dropout": 0.1}
    journal_runs = groups["final_journal"]["final_journal"][1]
    journal = journal_runs[0]
    assert journal.epochs == 7 and journal.model_args == final.model_args
    assert groups["baseline"]["baseline"][1][0].model == "synergy_baseline"
    # the 6-layer network with normalisation alone: the fourth corner of depth x normalisation
    assert groups["norm_depth"]["norm_depth"][1][0].model_args == {"layers": 6, "filters": 64, "norm": "instance",
                                                                   "dropout": 0.0}
    # three seeds a sweep cell (the 6-layer InstanceNorm network's too), five for the final network at both final
    # budgets (its spread decides the study's two final numbers), the factorial's 45 at the study's budget sharing
    # 15 with the sweeps, 45 converged
    assert [c.seed for c in groups["final"]["final"][1]] == [c.seed for c in journal_runs] == [42, 43, 44, 45, 46]
    expected = 3 * (1 + 5 + 3 + 4 + 1 + 1 + 1) + 5 * 2 + (45 - 15) + 45
    assert len(runs) == expected


def test_dropout_rates_given_as_integers_hash_like_floats():
    a = chapter.settings_from({"profile": "smoke", "dropouts": [0, 0.1]})
    b = chapter.settings_from({"profile": "smoke", "dropouts": [0.0, 0.1]})
    assert [c.identity() for c, _ in chapter.plan(a)] == [c.identity() for c, _ in chapter.plan(b)]


@pytest.mark.parametrize("name, value, message", [
    ("norms", ["batch", "instance"], "including 'none'"),
    ("norms", ["none", "weight"], "distinct norms"),
    ("dropouts", [0.1, 0.3], "including 0"),
    ("dropouts", [0.0, 1.0], "in [0, 1)"),
    ("architectures", [[6]], "[layers, filters] pairs"),
    ("steps_per_epoch", 0, "positive integer"),
])
def test_bad_parameters_are_named(name, value, message):
    with pytest.raises(ParameterError, match=name) as error:
        chapter.settings_from({"profile": "paper", name: value})
    assert message in str(error.value)


def test_parameter_table_reproduces_the_code_counts_and_not_the_others():
    table = chapter.parameter_table()
    # the text's counts (20,346, 311,178, 93K, 588K), then the code's and the journal's
    assert list(table["same"]) == ["no", "no", "no", "yes"] + ["yes"] * 4 + ["no"] * 3
    assert table.loc["6L/64F, InstanceNorm (the final model)", "this book"] == "588,106"
    assert list(table["study"][:4]) == [chapter.REGISTRY[i].printed for i, _, _ in chapter.TEXT_COUNTS]


def test_the_studys_numbers_are_typed_once_in_the_registry():
    assert not [name for name in vars(chapter) if name.startswith("STUDY")]  # the old constants are gone
    registry = chapter.REGISTRY
    assert {c.id for c in registry.untested()} == {"vanishing_gradients", "dropout_spatial", "instance_brightness",
                                                   "mechanisms", "placement", "dropout_scales", "dropout_05_converge"}
    assert registry["baseline_loss"].value == pytest.approx(0.676)
    assert registry["baseline_loss"].material_difference == pytest.approx(0.0676)  # 10% of a loss, not 1 point


# ----- claims and conclusion on constructed runs ---------------------------------------------------

def fake_run(config, val_losses, test_loss, accuracy, train_loss=1.0, stopped_early=None, image_losses=None):
    """A stored run with these numbers; ``image_losses``: its per-image test losses (None: stored without them)."""
    history = [{"epoch": e + 1, "train_loss": train_loss if e == 0 else 0.5, "val_loss": v, "val_acc": 0.8}
               for e, v in enumerate(val_losses)]
    best = int(np.argmin(val_losses)) + 1
    if stopped_early is None:  # a run with a patience stops early unless told it reached its cap
        stopped_early = config.patience is not None
    result = {"history": history, "metrics": {"loss": test_loss, "accuracy": accuracy, "epochs_run": len(history),
                                             "best_epoch": best},
              "stopped_early": stopped_early, "timing": {"train_seconds": 1.0}, "provenance": {"threads": 1}}
    run = StoredRun(key=f"k{id(config)}", path=Path("/nonexistent"), config=config, result=result)
    run.__dict__["image_losses"] = image_losses  # what the cached property would read from predictions.npz
    return run


SEED_NOISE = (-1.0, 0.6, 1.0, -0.4, -0.2)


def fake_runs(settings, loss_of, missing_group=None, noise=0.01, missing=(), capped=(), val_offset=-0.01):
    """Every planned run, with test loss ``loss_of(net)`` plus seed noise (the validation loss ``val_offset`` from
    it: held-out training images run a little lower in the store); test error follows the loss.

    ``missing`` and ``capped`` name (group, cell key, seed index) of runs not stored / stopped by their cap. The
    seed noise is the same pattern in every cell, so the constructed effects are exactly what the cells show."""
    groups, nets = {}, {}
    for name, group in chapter.design(settings).items():
        groups[name], nets[name] = {}, {}
        for key, (net, configs) in group.items():
            nets[name][key] = net
            runs = []
            for i, config in enumerate(configs):
                if name == missing_group or (name, key, i) in missing:
                    runs.append(MissingRun(key="missing", config=config))
                    continue
                loss = loss_of(net, config) + noise * SEED_NOISE[i]
                runs.append(fake_run(config, [loss + 0.2, loss + val_offset], loss, 1 - loss / 4,
                                     train_loss=0.7 + 1.5 * net.dropout + noise * SEED_NOISE[-1 - i],
                                     stopped_early=False if (name, key, i) in capped else None))
            groups[name][key] = runs
    return chapter.ChapterRuns(groups, nets, list(settings.seeds), list(settings.factorial_seeds), settings)


def additive_loss(net, config, synergy=0.0):
    loss = 0.6 - {"none": 0.0, "batch": 0.15, "layer": 0.1, "group": 0.1, "instance": 0.2}[net.norm]
    loss -= 0.05 if 0 < net.dropout <= 0.1 else 0.0
    loss += 0.1 * (net.dropout >= 0.3)
    if net.norm == "instance" and net.dropout == 0.1:
        loss += synergy
    if net.model == "synergy_baseline":
        loss = 0.7
    if net.layers == 6 and net.filters == 64:
        loss -= 0.1
    return loss


@pytest.fixture
def small():
    return chapter.settings_from({"profile": "smoke", "seeds": [1, 2, 3], "factorial_seeds": [1, 2, 3, 4, 5],
                                  "final_seeds": [1, 2, 3], "norms": ["none", "batch", "instance"], "dropouts": [0.0, 0.1, 0.3]})


def judged(runs) -> dict:
    return {row.id: row for row in chapter.claims(runs)}


def test_every_registered_claim_gets_exactly_one_row(small):
    rows = complete_rows(chapter.REGISTRY, chapter.claims(fake_runs(small, additive_loss)))
    assert [r.id for r in rows] == [c.id for c in chapter.REGISTRY]
    assert {r.id for r in rows if r.verdict == NOT_TESTED} == {c.id for c in chapter.REGISTRY.untested()}
    assert not [r for r in rows if r.verdict == MISSING]


def test_an_empty_store_leaves_every_measured_row_missing(small):
    empty = fake_runs(small, additive_loss, missing=[(g, k, i) for g, group in chapter.design(small).items()
                                                     for k, (_, configs) in group.items() for i in range(len(configs))])
    rows = complete_rows(chapter.REGISTRY, chapter.claims(empty))
    counts = {claim for claim, _, _ in chapter.TEXT_COUNTS}  # parameter counts need no run
    own = {c.id for c in chapter.REGISTRY if c.against_itself}  # nor do the study's own numbers
    assert {r.id for r in rows if r.verdict == MISSING} == {
        c.id for c in chapter.REGISTRY if not c.not_tested and c.id not in counts | own}
    assert {r.verdict for r in rows if r.id in own} <= {NOT_REPRODUCED, INCONCLUSIVE}
    assert {r.verdict for r in rows if r.id in counts} <= {REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE}
    assert "written once the baseline and final runs are stored" in chapter.conclusion(empty)


def test_additive_runs_leave_the_synergy_inconclusive_not_refuted(small):
    """The interaction of additive effects has an interval covering zero: that is 'inconclusive' (the data
    cannot tell), not 'not reproduced' (which the chapter used to say)."""
    rows = judged(fake_runs(small, additive_loss))
    for claim in ("synergy", "synergy_converged", "synergy_general", "synergy_general_converged", "arch_synergy",
                  "norm_enables_depth"):
        assert rows[claim].verdict == INCONCLUSIVE, claim
        assert "covers zero" in rows[claim].note
    assert rows["params_6l"].verdict == REPRODUCED and rows["params_wide"].verdict == NOT_REPRODUCED
    assert rows["params_4l"].verdict == NOT_COMPARABLE  # the study's code agrees with its text; ours is another net
    # the extra epochs of the study's 'combination' are a difference of two configurations: shown with its interval
    text = chapter.conclusion(fake_runs(small, additive_loss))
    assert re.search(r"epochs alone take it from .* \([+-]0\.\d{3}, 95% Welch interval \[[+-]0\.\d{3}, [+-]0\.\d{3}\]", text)
    assert rows["instance_best"].verdict == REPRODUCED
    assert rows["dropout_best"].verdict == REPRODUCED
    # 2L/64F and 6L/16F are not the study's networks: the ordering is shown, not judged
    assert rows["arch_best"].verdict == NOT_COMPARABLE and rows["arch_best"].ours.startswith("lowest: 6L/64F")
    assert rows["dropout_05_struggles"].verdict == REPRODUCED  # 1.45 against 0.85 first-epoch training loss
    assert rows["very_deep_degrades"].verdict == REPRODUCED  # 8L/32F 0.6 against 6L/64F 0.5
    assert rows["depth_over_width"].verdict == NOT_COMPARABLE
    text = chapter.conclusion(fake_runs(small, additive_loss))
    assert "Not shown" in text and "covers zero" in text
    # the study's own losses against its statement: a row of its own, against itself, which the conclusion names;
    # over its first run the gains contradict the sentence, over the 4L/32F its journal calls the baseline (where
    # both sweeps start) they support it, so its numbers cannot tell
    own = rows["arch_synergy_own"]
    assert own.verdict == INCONCLUSIVE and own.against_itself and "0.406" in own.ours and "0.544" in own.ours
    assert "the sum is 0.517" in own.note and "read as gains over the journal's baseline" in own.note
    assert "combined gain 0.233, sum of the two 0.198; difference +0.035" in own.note and "readings disagree" in own.note
    assert "By the study's own losses" in text and "it is inconclusive" in text
    assert "judged in their own row" in rows["arch_synergy"].note
    # the general lesson is the study's: light dropout (0.1) with every normalisation, the variance pooled over the
    # whole factorial; the heavier rate is described beside it, and the conclusion gives the ANOVA
    general = rows["synergy_general"]
    assert "(batch + 0.1, instance + 0.1)" in general.note and "0.3" not in general.note.split("over every rate")[0]
    assert "variance pooled over 9 configurations" in general.ours
    assert "over every rate, 0.3 included (which it found degrading), the mean is " in general.note
    assert "With the light dropout (0.1) and every normalisation" in text and "two-way ANOVA's test of any " \
        "interaction" in text


def test_network_match_tells_the_studys_network_a_near_miss_and_another_network():
    assert chapter.network_match("4L/32F", chapter.Net(4, 32, "batch", 0.1)) == ("", "")  # the code's 832,554
    assert chapter.network_match("4L/16F", chapter.Net(4, 16)) == ("", "")  # the study gives no count
    reason, note = chapter.network_match("8L/32F", chapter.Net(8, 32))
    assert not reason and "103,338" in note and "103,498" in note and "close" in note
    reason, note = chapter.network_match("2L/64F", chapter.Net(2, 64))
    assert "6,461,514" in reason and "208,522 (study journal)" in reason and not note
    # the study gives 6L/64F two counts; ours is one of them, and the note says which reading we train
    reason, note = chapter.network_match("6L/64F", chapter.Net(6, 64))
    assert not reason and "588,106 (study code)" in note and "not the 311,178" in note
    # InstanceNorm and dropout add no parameters: the final model shares 6L/64F's counts
    assert chapter.study_counts(chapter.FINAL_NET) == chapter.study_counts(chapter.Net(6, 64))


def steep(net, config):
    """Additive losses with deep narrow far worse than shallow wide and the baseline far worse than the rest."""
    loss = additive_loss(net, config)
    return loss + (0.3 if (net.layers, net.filters) == (6, 16) else 0.0) + (0.5 if net.model != "flexible_cnn" else 0)


def test_rows_measured_on_a_network_that_is_not_the_studys_are_not_comparable(small):
    """A row whose network is far from the study's count is not comparable (our number kept); a near miss keeps
    its verdict and says so; a row on a chosen reading names it."""
    rows = judged(fake_runs(small, steep))
    for claim in ("baseline_loss", "improvement", "depth_over_width", "narrow_share", "arch_best"):
        assert rows[claim].verdict == NOT_COMPARABLE, claim
        assert rows[claim].note.startswith("not the study's network") and rows[claim].ours != "-", claim
    assert "6L/16F 0.9" in rows["depth_over_width"].ours  # what would have read 'not reproduced' stays visible
    assert "6,461,514" in rows["depth_over_width"].note and "20,346" in rows["depth_over_width"].note
    for claim in ("baseline_loss", "improvement"):
        assert "361,258" in rows[claim].note and "93,130 (study code)" in rows[claim].note
        assert "our literal reading" in rows[claim].note
    assert rows["very_deep_loss"].verdict != NOT_COMPARABLE and "103,498" in rows["very_deep_loss"].note
    for claim in ("arch_best_loss", "very_deep_degrades", "arch_synergy"):
        assert rows[claim].verdict != NOT_COMPARABLE and "not the 311,178" in rows[claim].note, claim
    assert "the baseline not comparable (not the study's network" in chapter.conclusion(fake_runs(small, steep))


def test_a_count_is_not_reproduced_only_where_another_source_of_the_study_gives_ours(monkeypatch):
    row = {r.id: r for r in chapter.claims(fake_runs(chapter.settings_from({"profile": "smoke"}), additive_loss))}
    assert row["params_4l"].verdict == NOT_COMPARABLE and row["params_4l"].ours == "361,258"
    assert "93,130 (study code), in agreement with its text" in row["params_4l"].note
    # no other source of the study gives 6L/16F a count: nothing shows the text wrong, so ours may be another
    # network, as the loss rows on 6L/16F say
    assert row["params_narrow"].verdict == NOT_COMPARABLE and "no other source of the study" in row["params_narrow"].note
    # the study's other count for 6L/64F is ours: there its text contradicts itself
    assert row["params_wide"].verdict == NOT_REPRODUCED
    baseline = chapter.Net(model="synergy_baseline")
    # without the code's count no source vouches for the text's 93K, but none shows it wrong either
    monkeypatch.setattr(chapter, "CODE_COUNTS", [c for c in chapter.CODE_COUNTS if c[2] != 93_130])
    assert chapter._count_row(chapter.REGISTRY["params_4l"], "baseline", baseline, "").verdict == NOT_COMPARABLE
    # a source of the study that gives our count is the evidence against the text: it contradicts itself
    monkeypatch.setattr(chapter, "CODE_COUNTS", [*chapter.CODE_COUNTS, ("baseline", "study code", 361_258, baseline)])
    assert chapter._count_row(chapter.REGISTRY["params_4l"], "baseline", baseline, "").verdict == NOT_REPRODUCED


def test_the_studys_losses_are_judged_on_both_readings_of_which_images_it_came_from(small):
    """The study's "test loss" most simply reads as a loss on test images, but it never says which images its
    stream held: every loss row is judged on the test loss and on the loss on held-out training images, and keeps
    a verdict only where the two agree (the book's readings rule)."""
    def loss(net, config):
        return 0.351 if (net.norm, net.dropout, net.layers) == ("instance", 0.1, 4) else additive_loss(net, config)

    same = fake_runs(small, loss, noise=0.001, val_offset=0.0)
    rows = judged(same)
    assert rows["instance_loss"].verdict == REPRODUCED and rows["instance_loss"].ours.startswith("35.")
    assert rows["instance_loss"].quantity == chapter.LOSS and chapter.LOSS.startswith("test loss")
    assert chapter.reading_changes(same) == [] and "they agree on every row" in chapter.conclusion(same)
    runs = fake_runs(small, loss, noise=0.001, val_offset=-0.1)
    table = chapter.norm_table(runs)
    assert table.loc["instance", "test loss"].startswith("0.35") and table.loc["instance", "val loss"].startswith("0.25")
    # the held-out images far from the study's number: the readings disagree, and the row cannot tell
    changes = {a.id: (a.verdict, b.verdict) for a, b in chapter.reading_changes(runs)}
    assert changes["instance_loss"][0] == REPRODUCED and changes["instance_loss"][1] != REPRODUCED
    rows = judged(runs)
    assert rows["instance_loss"].verdict == INCONCLUSIVE
    assert ("the readings disagree (read as test images: 35." in rows["instance_loss"].note
            and "; read as held-out training images (our validation loss): " in rows["instance_loss"].note)
    # a row the readings agree on is left as it is, wherever it is shown (scorecard, findings)
    assert all("our validation loss" not in row.note for row in rows.values() if row.id not in changes)
    text = chapter.conclusion(runs)
    assert f"{chapter.REGISTRY['instance_loss'].claim}, reproduced on the test loss (35." in text
    assert "differ and so is inconclusive" in text or "differ and so are inconclusive" in text


def test_a_sweeps_winner_reported_with_the_loss_that_picked_it_is_no_evidence_when_ours_is_higher(small):
    """The study's InstanceNorm, 6L/64F and dropout-0.1 losses are each its sweep's lowest of one-run settings, so
    they sit low: ours above them is what that pick alone could give (inconclusive); ours below them is not."""
    def loss(level):
        return lambda n, c: level if (n.norm, n.dropout, n.layers) == ("instance", 0.1, 4) else additive_loss(n, c)

    higher = judged(fake_runs(small, loss(0.40), noise=0.001, val_offset=0.0))["instance_loss"]
    assert higher.verdict == INCONCLUSIVE and chapter.PICKED in higher.note
    lower = judged(fake_runs(small, loss(0.30), noise=0.001, val_offset=0.0))["instance_loss"]
    assert lower.verdict == NOT_REPRODUCED


def test_the_texts_final_loss_is_judged_at_the_journals_budget_and_the_notebooks_at_the_codes(small):
    """The text's 27.0% is the journal's 7-epoch value, the notebook's 0.3626 the code's 5-epoch run: each is set
    beside runs of its own budget (like with like), and the row says which."""
    def loss(net, config):  # 0.270 after the journal's epochs, 0.3626 after the code's: both reproduced
        return 0.270 if config.epochs == small.journal_final_epochs else 0.3626 if net == chapter.FINAL_NET \
            else additive_loss(net, config)

    rows = judged(fake_runs(small, loss, noise=0.001, val_offset=0.0))  # both readings alike: budgets alone
    assert rows["final_loss"].verdict == rows["final_notebook"].verdict == REPRODUCED
    assert rows["final_loss"].note.startswith(f"{small.journal_final_epochs} epochs, the budget the study's journal")
    assert rows["final_notebook"].note.startswith(f"{small.final_epochs} epochs, as the study's code trains it")
    assert chapter.REGISTRY["final_loss"].quantity == chapter.LOSS_JOURNAL_FINAL
    waiting = judged(fake_runs(small, loss, missing_group="final_journal", noise=0.001, val_offset=0.0))
    assert waiting["final_loss"].verdict == MISSING and waiting["final_notebook"].verdict == REPRODUCED


def test_a_loss_the_study_measured_on_a_sample_of_the_test_images_is_judged_with_that_samples_noise(small):
    """The study's final loss is a mean over 50 batches of 64 test images. With the runs' per-image test losses
    stored, the band adds that sample's noise (one image's spread 0.9: s = 0.013 for 3,200 of 10,000) and a study
    value 0.02 above tight seeds is held; without them the row is not reproduced and says what the band leaves
    out, as does the conclusion."""
    def loss(net, config):
        return 0.250 if config.epochs == small.journal_final_epochs else additive_loss(net, config)

    runs = fake_runs(small, loss, noise=0.001, val_offset=0.0)  # both readings alike: the sample's noise alone
    without = judged(runs)["final_loss"]
    assert without.verdict == NOT_REPRODUCED and "stored without per-image losses" in without.note
    assert "stored without per-image losses" in chapter.conclusion(runs)
    spread = np.resize([-0.9, 0.9], 10_000)
    for run in runs.groups["final_journal"]["final_journal"]:
        run.__dict__["image_losses"] = run.metrics["loss"] + spread
    # the test reading's row (the other reading, over two samples of held-out images, is wider: the row itself
    # keeps only what both readings say)
    row = {r.id: r for r in chapter._both_readings(runs)[0]}["final_loss"]
    assert row.verdict == REPRODUCED and "the study's 3,200 images: s=" in row.rule
    assert ("sampling noise of the study's number: its loss over 50 batches of 64 test images: 3,200 of the 10,000 "
            "images, one image's spread 0.9, pooled over our 3 runs") in row.note
    assert "per-image" not in row.note and "stored without per-image losses" not in chapter.conclusion(runs)
    # the validation reading's row allows for its own two samples of held-out images
    held_out = chapter._both_readings(runs)[1]["final_loss"]
    ours = small.val_steps * small.batch_size
    assert f"held-out training images (ours over {ours:,} fixed held-out training images)" in held_out.note
    assert chapter.study_sample(runs.groups["final_journal"]["final_journal"]).sd == pytest.approx(0.9, rel=1e-3)


def test_the_validation_reading_allows_for_both_its_samples_of_held_out_images(small):
    """Read on held-out training images, the study's 50 batches come from a pool too large to correct for, and our
    validation loss is itself a mean over a fixed 3,200 (here val_steps x batch size) of them: both samples'
    noise joins (one test image's spread standing in). The test reading over all test images adds only the
    study's; over a profile's subset of them, ours too."""
    runs = fake_runs(small, additive_loss, noise=0.001)
    final = runs.groups["final_journal"]["final_journal"]
    for run in final:
        run.__dict__["image_losses"] = run.metrics["loss"] + np.resize([-0.9, 0.9], 10_000)
    held_out = chapter.study_sample(final, chapter.VALIDATION_READING)
    ours = small.val_steps * small.batch_size
    assert held_out.population is None and held_out.ours == ours
    assert held_out.variance == pytest.approx(held_out.sd ** 2 * (1 / 3200 + 1 / ours))
    assert f"ours over {ours:,} fixed held-out training images" in held_out.source
    test = chapter.study_sample(final)
    assert test.ours is None and test.variance == pytest.approx(test.sd ** 2 / 3200 * (1 - 0.32))
    for run in final:
        run.__dict__["image_losses"] = run.image_losses[:2000]  # a profile that evaluates 2,000 test images
    subset = chapter.study_sample(final)
    assert subset.ours == 2000 and subset.variance == pytest.approx(subset.sd ** 2 * (0.68 / 3200 + 0.8 / 2000))


def test_the_parameter_paragraph_follows_the_table(monkeypatch):
    table = chapter.parameter_table()
    other = table[~table["source of the count"].str.startswith("study text")]
    text = chapter.parameter_text()
    assert (f"Of the {len(other)} counts the study's code and journal give, {(other['same'] == 'yes').sum()} are "
            f"reproduced exactly and {(other['same'] == 'no').sum()} are not") in text
    assert "the baseline, 2L/64F and 6L/16F" in text and "close (8L/32F" in text
    assert "the failure is our reconstruction's" in text
    # one more code count that fails changes the paragraph with the table
    monkeypatch.setattr(chapter, "CODE_COUNTS", chapter.CODE_COUNTS + [("4L/16F", "study code", 1, chapter.Net(4, 16))])
    assert f"{(other['same'] == 'no').sum() + 1} are not" in chapter.parameter_text()


def test_the_notebook_prints_the_generated_parameter_paragraph():
    import json

    notebook = json.loads((Path(__file__).parents[1] / "book" / "05_regularization_synergy.ipynb").read_text())
    sources = {cell["id"]: "".join(cell["source"]) for cell in notebook["cells"]}
    assert "chapter.parameter_text()" in sources["c07"]
    assert "first glimpse" not in sources["c09"]  # the two 'baselines' are two networks, not one run twice


def test_the_studys_seven_to_eight_percent_is_judged_as_it_measured_it(small):
    """'7-8% improvement over individual methods': the combination after the final models' budget against each
    single technique after the sweeps' budget, by the relative rule (the range's middle, 7.5%, with half its width
    added to the rounding). Runs that give 7.5% on both reproduce it; 2% on both is outside the band."""
    claim = chapter.REGISTRY["gain_over_instance"]
    assert claim.value == pytest.approx(0.075) and claim.rounding == pytest.approx(0.01)

    def gain(target):
        def loss(net, config):
            if net == chapter.Net(**chapter.SWEEP_NET, norm="instance", dropout=0.1) and config.epochs == small.final_epochs:
                return 0.30
            if net in (chapter.Net(**chapter.SWEEP_NET, norm="instance", dropout=0.1),
                       chapter.Net(**chapter.SWEEP_NET, norm="batch", dropout=0.1)):
                return 0.30 / (1 - target)
            return additive_loss(net, config)
        return loss

    rows = judged(fake_runs(small, gain(0.075), noise=0.0001))
    assert rows["gain_over_instance"].verdict == rows["gain_over_dropout"].verdict == REPRODUCED
    assert rows["gain_over_instance"].ours.startswith("7.")
    assert "the same network as its combination" in rows["gain_over_instance"].note
    rows = judged(fake_runs(small, gain(0.02), noise=0.0001))
    assert rows["gain_over_instance"].verdict == rows["gain_over_dropout"].verdict == NOT_REPRODUCED


def test_a_tie_for_best_is_inconclusive(small):
    """InstanceNorm and BatchNorm equally good: 'InstanceNorm is best' is neither shown nor refuted."""
    def tied(net, config):
        return additive_loss(net, config) - (0.05 if net.norm == "batch" else 0.0)

    rows = judged(fake_runs(small, tied))
    assert rows["instance_best"].verdict == INCONCLUSIVE and "tied with it: batch" in rows["instance_best"].ours
    # dropout 0.1 adds nothing to InstanceNorm: the combination ties with InstanceNorm alone
    rows = judged(fake_runs(small, lambda n, c: additive_loss(n, c, synergy=+0.05)))
    assert rows["combined_beats_singles"].verdict == INCONCLUSIVE


def test_synergistic_runs_reproduce_it(small):
    runs = fake_runs(small, lambda n, c: additive_loss(n, c, synergy=-0.15))
    rows = judged(runs)
    assert rows["synergy"].verdict == rows["synergy_converged"].verdict == REPRODUCED
    # the planted pair alone moves the mean of the four interactions below zero
    assert rows["synergy_general"].verdict == rows["synergy_general_converged"].verdict == REPRODUCED
    assert rows["combined_beats_singles"].verdict == REPRODUCED
    assert "Yes, at the study's budget and trained to convergence" in chapter.conclusion(runs)


@pytest.mark.parametrize("deep_gain, verdict", [(-0.15, REPRODUCED), (+0.15, NOT_REPRODUCED)])
def test_normalisation_enables_depth_is_the_depth_x_norm_interaction_without_dropout(small, deep_gain, verdict):
    """InstanceNorm helping the 6-layer network more than the 4-layer one reproduces 'normalisation enables depth';
    helping it less refutes it. Dropout plays no part: a synergy planted in the dropout pair changes nothing."""
    def loss(net, config):
        extra = deep_gain if (net.layers, net.filters, net.norm) == (6, 64, "instance") else 0.0
        return additive_loss(net, config, synergy=-0.3) + extra

    runs = fake_runs(small, loss)
    row = judged(runs)["norm_enables_depth"]
    assert row.verdict == verdict
    # the 4-layer InstanceNorm cell is the factorial's, with five seeds: the seed noise leaves the estimate 0.002 off
    assert float(row.ours.split()[0]) == pytest.approx(deep_gain, abs=0.005)
    assert "without dropout" in row.note and "6L/64F has 588,106 parameters" in row.note
    assert f"'Normalization enables depth' is {chapter.VERDICT_READING[verdict]}" in chapter.conclusion(runs)
    assert set(chapter.depth_norm_cells(runs)) == set(chapter.DEPTH_CORNERS)
    # the 6-layer corner with normalisation alone missing: the row waits for it
    gone = fake_runs(small, loss, missing=[("norm_depth", "norm_depth", 0)])
    assert judged(gone)["norm_enables_depth"].verdict == MISSING


def test_overlapping_runs_refute_it(small):
    runs = fake_runs(small, lambda n, c: additive_loss(n, c, synergy=+0.15))
    rows = judged(runs)
    assert rows["synergy"].verdict == rows["synergy_general"].verdict == NOT_REPRODUCED
    text = chapter.conclusion(runs)
    # the verdict, without a mechanism no row tests
    assert "partly overlap" not in text and "the mean interaction is less than the sum at the study's budget" in text


def test_census_counts_every_pair_and_tests_nothing_of_its_own(small):
    tested, synergy, overlap = chapter.interaction_census(fake_runs(small, additive_loss))
    # 2 norms x 2 dropout rates x 2 metrics x 2 budgets, all additive: no interval off zero
    assert (tested, synergy, overlap) == (16, [], [])
    text = chapter.conclusion(fake_runs(small, additive_loss))
    assert "Of the 16 interactions measured" in text and "tests nothing of its own" in text
    assert "binomial" not in text  # no rule outside the book's procedure

    runs = fake_runs(small, lambda n, c: additive_loss(n, c, synergy=-0.15))
    tested, synergy, overlap = chapter.interaction_census(runs)
    # the planted pair is a synergy on both metrics at both budgets
    assert {label for label in synergy if label.startswith("instance + dropout 0.1")} == {
        f"instance + dropout 0.1, {metric}, {budget}" for metric in chapter.FACTORIAL_METRICS
        for budget in ("study budget", "converged")}
    assert not [label for label in overlap if label.startswith("instance + dropout 0.1")]


def test_missing_runs_are_missing_not_substituted(small):
    runs = fake_runs(small, additive_loss, missing_group="factorial_converged")
    rows = judged(runs)
    assert rows["synergy_converged"].verdict == rows["synergy_general_converged"].verdict == MISSING
    assert rows["synergy"].verdict == rows["synergy_general"].verdict == INCONCLUSIVE
    text = chapter.conclusion(runs)
    assert "not all in the store yet" in text and "trained to convergence: not measured yet" in text
    assert chapter.interaction_census(runs)[0] == 8  # the study budget's pairs only
    assert chapter.factorial_frame(runs, "factorial_converged").empty
    assert chapter.factorial_figure(chapter.factorial_frame(runs, "factorial_converged")) is None
    assert chapter.overview(runs).loc["factorial, trained to convergence", "stored"] == "0/45"


def test_a_sweep_with_a_seed_missing_is_judged_on_all_its_seeds_or_not_at_all(small):
    rows = judged(fake_runs(small, additive_loss, missing=[("dropout", 0.1, 2)]))
    assert {i for i, r in rows.items() if r.verdict == MISSING} == {"dropout_loss", "dropout_best", "initial_01",
                                                                    "dropout_05_struggles", "gain_over_dropout"}
    table = chapter.dropout_table(fake_runs(small, additive_loss, missing=[("dropout", 0.1, 2)]))
    assert table.loc["0.1", "runs"] == "2/3"  # the tables show what is stored, with the count


def test_a_missing_run_takes_out_its_cell_and_every_interaction_of_its_factorial(small):
    """Every interaction pools its variance over the whole factorial, so one missing run leaves them all missing."""
    runs = fake_runs(small, additive_loss, missing=[("factorial_converged", ("batch", 0.3), 4)])
    rows = judged(runs)
    assert rows["synergy_converged"].verdict == MISSING  # its own four cells are stored, the pooled spread is not
    assert rows["synergy_general_converged"].verdict == MISSING
    assert rows["synergy"].verdict == INCONCLUSIVE  # the other budget's factorial is complete
    cells = chapter.factorial_table(runs, "factorial_converged", "test loss")
    assert cells.loc["batch", "dropout 0.3"] == "missing" and cells.loc["batch", "dropout 0.1"] != "missing"
    table = chapter.interaction_table(runs, "factorial_converged", "test loss")
    assert (table["interaction"] == "missing").all() and "t-interval" not in table
    assert chapter.interaction_census(runs)[0] == 8  # the converged factorial's 4 pairs on both metrics drop out
    assert "the factorial's cells, whose spread the interaction" in chapter.conclusion(runs)
    assert "1 is not in the store yet" in chapter.convergence_note(runs)
    assert "Markdown" in type(chapter.factorial_anova(runs, "factorial_converged")).__name__


def test_runs_that_reached_the_cap_make_their_rows_not_comparable(small):
    """A run that ended at its epoch cap (no early stop) has not converged: the converged interactions that need it
    cannot carry a claim about converged networks; the others still can."""
    runs = fake_runs(small, additive_loss, capped=[("factorial_converged", ("instance", 0.0), 2)])
    rows = judged(runs)
    for row in (rows["synergy_converged"], rows["synergy_general_converged"]):
        assert row.verdict == NOT_COMPARABLE and "2-epoch cap" in row.note and "instance, dropout 0" in row.note
    table = chapter.interaction_table(runs, "factorial_converged", "test loss")
    assert table.loc[("instance", "0.1"), "reading"] == "not comparable: runs not converged"
    assert table.loc[("batch", "0.1"), "reading"] != "not comparable: runs not converged"
    assert chapter.interaction_census(runs)[0] == 12  # the two converged instance pairs on both metrics drop out
    assert "1 reached the 2-epoch cap" in chapter.convergence_note(runs)
    assert "trained to convergence: not comparable" in chapter.conclusion(runs)
    # a capped run elsewhere leaves the study's pair alone
    elsewhere = fake_runs(small, additive_loss, capped=[("factorial_converged", ("batch", 0.3), 0)])
    rows = judged(elsewhere)
    assert rows["synergy_converged"].verdict == INCONCLUSIVE
    assert rows["synergy_general_converged"].verdict == NOT_COMPARABLE  # the mean needs every cell converged


def test_one_seed_per_cell_gives_a_point_and_no_verdict():
    s = chapter.settings_from({"profile": "smoke", "factorial_seeds": [1]})
    rows = judged(fake_runs(s, additive_loss))
    for claim in ("synergy", "synergy_converged", "synergy_general", "synergy_general_converged"):
        assert rows[claim].verdict == INCONCLUSIVE and rows[claim].rule == "no seed-noise estimate", claim
    assert not [r for r in rows.values() if r.verdict == MISSING]


def test_the_studys_own_numbers_are_less_than_the_sum_over_one_baseline_and_more_over_the_other(small):
    # baseline 0.676, 6L/64F 0.484, regularised 4L/32F 0.324, both 0.270 (the study's text)
    combined, separate = 0.676 - 0.270, (0.676 - 0.484) + (0.676 - 0.324)
    # over the journal's 4L/32F baseline (0.503), where both sweeps start, the combined gain is above the sum
    journal = 0.5030
    assert journal - 0.270 > (journal - 0.484) + (journal - 0.324)
    row = chapter._studys_own_arch_row(small)
    assert row.verdict == INCONCLUSIVE and row.rule.startswith("95% Welch interval of the difference on the claimed side")
    assert "judged under each reading" in row.rule and "the readings disagree (read as gains over the text's" in row.note
    assert f"combined gain {combined:.3f}, sum of the two {separate:.3f}" in row.ours and "no noise" in row.ours
    cells = {("4L/32F", "none"): [0.676], ("6L/64F", "none"): [0.484], ("4L/32F", "IN"): [0.324],
             ("6L/64F", "IN"): [0.270]}
    point = chapter._interaction_or_point(cells, "4L/32F", "6L/64F", "none", "IN", 0.95)
    assert point.value == pytest.approx(separate - combined)  # positive on a loss: less than the sum of the gains
    assert point.method == "no replicates"


def test_every_interaction_pools_the_variance_of_the_whole_factorial_where_the_cells_share_one_noise_level(small):
    """The procedure's contrast: one residual variance of the factorial's nine cells (the two-way ANOVA's), the same
    for the 2x2 rows, the interaction table and the plot's intervals; where one cell's spread differs (Levene),
    each is Welch's over the pair's own four cells instead, with the reason."""
    from fmnist_utils.stats import interaction

    def jitter(n, c):  # every cell the same small seed-to-seed spread
        return additive_loss(n, c) + 0.01 * (c.seed % 3 - 1)

    runs = fake_runs(small, jitter)
    every = chapter.interaction_cells(runs, "factorial_study", "test loss")
    assert len(every) == len(small.norms) * len(small.dropouts)
    pooled = interaction(every, "none", "instance", 0.0, 0.1)
    assert pooled.method == "t, pooled"
    table = chapter.interaction_table(runs, "factorial_study", "test loss")
    assert table.loc[("instance", "0.1"), "t-interval"] == f"[{pooled.low:+.3f}, {pooled.high:+.3f}]"
    row = judged(runs)["synergy"]
    assert "variance pooled over 9 configurations" in row.ours and f"df {pooled.df:.0f}" in row.ours

    def noisy(n, c):  # one cell outside the study's pair with a much larger seed-to-seed spread
        return jitter(n, c) + (0.1 * (c.seed % 3 - 1) if (n.norm, n.dropout) == ("batch", 0.3) else 0.0)

    runs = fake_runs(small, noisy)
    every = chapter.interaction_cells(runs, "factorial_study", "test loss")
    checked = interaction(every, "none", "instance", 0.0, 0.1)
    own = interaction({k: every[k] for k in chapter.pair_keys("instance", 0.1)}, "none", "instance", 0.0, 0.1,
                      pooled=False)
    assert checked.method.startswith("t, Welch (the spreads differ") and checked.se == pytest.approx(own.se)
    table = chapter.interaction_table(runs, "factorial_study", "test loss")
    assert table.loc[("instance", "0.1"), "t-interval"] == f"[{checked.low:+.3f}, {checked.high:+.3f}]"
    assert "Welch (the spreads differ: Levene p = " in judged(runs)["synergy"].ours


def test_settings_without_instancenorm_leave_the_studys_pair_missing_not_an_error():
    """A rerun whose factorial leaves out InstanceNorm has no cells for the study's pair: its rows are missing and
    the conclusion says so, rather than the pooled cells raising for the absent pair."""
    s = chapter.settings_from({"profile": "smoke", "factorial_seeds": [1, 2, 3], "norms": ["none", "batch"],
                               "dropouts": [0.0, 0.1, 0.3]})
    runs = fake_runs(s, additive_loss)
    rows = judged(runs)
    assert {rows[i].verdict for i in ("synergy", "synergy_converged", "combined_beats_singles")} == {MISSING}
    assert chapter.headline_interaction(runs, "factorial_study", "test loss") is None
    assert "Factorial at the study's budget" in chapter.conclusion(runs)
    assert chapter.interaction_table(runs, "factorial_study", "test loss").loc[("batch", "0.1"), "interaction"] != \
        "missing"


def test_interaction_table_and_figure_on_constructed_runs(small):
    runs = fake_runs(small, lambda n, c: additive_loss(n, c, synergy=-0.15))
    frame = chapter.factorial_frame(runs, "factorial_study")
    table = chapter.interaction_table(runs, "factorial_study", "test loss")
    assert list(table.index) == [("batch", "0.1"), ("batch", "0.3"), ("instance", "0.1"), ("instance", "0.3")]
    assert table.loc[("instance", "0.1"), "reading"] == "more than the sum of its parts"
    assert table.loc[("batch", "0.1"), "reading"] == "inconclusive: the interval covers zero"
    assert list(chapter.factorial_table(runs, "factorial_study", "test loss").index) == ["none", "batch",
                                                                                                "instance"]
    assert chapter.factorial_anova(runs, "factorial_study").loc["norm x dropout", "p"] < 0.001
    # half-trained grid (a cell with no stored run): no ANOVA rather than one with empty rows
    partial = frame[~((frame["norm"] == "instance") & (frame["dropout"] == 0.3))]
    assert chapter.anova(partial, "test loss") is None
    import matplotlib.pyplot as plt

    for figure in (chapter.factorial_figure(frame), chapter.converged_curves(runs),
                   chapter.sweep_strip(runs, "architecture"), chapter.sweep_curves(runs)):
        assert figure is not None
        plt.close(figure)


def test_a_loss_row_judged_without_per_image_losses_says_what_the_band_leaves_out():
    """The study measured each loss on 50 batches of 64 test images; a row whose runs were stored without
    per-image losses cannot hold that sample's noise: a not-reproduced row says by how much of its half-width it
    misses, a reproduced one that its band could then exceed the material difference, and the improvement row
    names the side whose runs lack them."""
    from dataclasses import replace

    from fmnist_utils.verdicts import Verdict

    row = Verdict("final_loss", "final", "text", "27.0%", "30.18%", NOT_REPRODUCED, "rule", "",
                  chapter.LOSS_JOURNAL_FINAL, difference=0.0318, tolerance=0.0316)
    caveat = chapter.sample_caveat(row)
    assert caveat.startswith("outside the band by 0.6% of its half-width") and "50 batches of 64 test images" in caveat
    held = chapter.sample_caveat(replace(row, verdict=REPRODUCED))
    assert held.startswith("the band leaves out the sampling noise") and "could exceed the material difference" in held
    assert chapter.sample_caveat(replace(row, verdict=INCONCLUSIVE)) == ""
    assert "since the baseline's runs were stored without per-image losses" in chapter.sample_caveat(
        row, "the baseline's runs")  # the relative change names the side that lacks them
    assert chapter.sample_caveat(replace(row, quantity="parameters")) == ""


@pytest.mark.slow
def test_no_flexible_cnn_has_the_texts_count_for_the_narrow_network(small):
    """The 6L/16F count row says no FlexibleCNN as this book builds it has the text's 20,346 parameters, over the
    range its note names; counted on the meta device (no weights allocated)."""
    import torch

    from fmnist_utils.models import build_model, count_parameters

    row = judged(fake_runs(small, additive_loss))["params_narrow"]
    assert "(1-10 layers, 1-128 filters, any norm)" in row.note
    target = chapter.REGISTRY["params_narrow"].value
    found = []
    with torch.device("meta"):
        for layers in range(1, 11):
            for filters in range(1, 129):
                for norm in ("none", "batch", "layer", "group"):  # instance has no parameters here
                    try:
                        net = build_model("flexible_cnn", layers=layers, filters=filters, norm=norm, dropout=0.0)
                    except ValueError:  # GroupNorm's width rule
                        continue
                    if count_parameters(net) == target:
                        found.append((layers, filters, norm))
    assert not found


def test_a_configuration_planned_in_two_groups_is_read_with_every_seed_of_both(small, monkeypatch, tmp_path):
    """The dropout sweep's 0.1 cell (BatchNorm) is the factorial's (batch, 0.1) cell: the sweep plans three seeds,
    the factorial five, and both groups read all five, so no stored seed of a configuration is left out of a row."""
    import fmnist_utils.sweep

    settings = chapter.settings_from({**{p: getattr(small, p) for p in ("seeds", "factorial_seeds", "norms",
                                                                          "dropouts", "final_seeds")},
                                      "profile": "smoke", "store_dir": str(tmp_path)})

    def collect(plan, settings, store):
        runs = [fake_run(config, [0.5, 0.4], 0.4, 0.9) for config, _ in plan]
        for run in runs:
            run.key = store.key(run.config)
        return runs

    monkeypatch.setattr(fmnist_utils.sweep, "collect_runs", collect)
    runs = chapter.gather(settings)
    sweep, cell = runs.groups["dropout"][0.1], runs.groups["factorial_study"][("batch", 0.1)]
    assert len(settings.seeds) == 3 and len(settings.factorial_seeds) == 5
    assert [r.key for r in sweep] == [r.key for r in cell] and [r.config.seed for r in sweep] == [1, 2, 3, 4, 5]
    assert len(runs.groups["dropout"][0.5]) == 3  # a sweep cell the factorial does not plan keeps its own seeds
