"""Chapter 5: the statistics of the factorial, the chapter's runs, and its claim and conclusion logic."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fmnist_utils import stats
from fmnist_utils.claims import MISSING, NOT_COMPARABLE, NOT_REPRODUCED, REPRODUCED
from fmnist_utils.experiments import regularization_synergy as chapter
from fmnist_utils.params import ParameterError
from fmnist_utils.store import MissingRun, StoredRun


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


def test_welch_interval_uses_only_the_four_cells():
    cells = make_cells(two_by_two(-0.1), n=5, sd=0.1, seed=3)
    cells[("other", 0.0)] = [0.0, 10.0, -10.0]  # a wild cell that pooling would pick up
    pooled = stats.interaction(cells, "none", "norm", 0.0, 0.1)
    welch = stats.interaction(cells, "none", "norm", 0.0, 0.1, pooled=False)
    assert welch.value == pytest.approx(pooled.value)
    assert welch.se < pooled.se and welch.df <= 16


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
    assert (config.epochs, config.patience, config.monitor, config.select_best) == (15, 3, "val_loss", True)
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
    assert groups["baseline"]["baseline"][1][0].model == "synergy_baseline"
    expected = 3 * (1 + 5 + 3 + 4 + 1 + 1 + 1) + (45 - 15) + 45
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
    assert list(table["same"]) == ["yes"] * 4 + ["no"] * 6
    assert table.loc["6L/64F, InstanceNorm (the final model)", "this book"] == "588,106"


# ----- claims and conclusion on constructed runs ---------------------------------------------------

def fake_run(config, val_losses, test_loss, accuracy, train_loss=1.0):
    history = [{"epoch": e + 1, "train_loss": train_loss if e == 0 else 0.5, "val_loss": v, "val_acc": 0.8}
               for e, v in enumerate(val_losses)]
    result = {"history": history, "metrics": {"loss": test_loss, "accuracy": accuracy, "epochs_run": len(history),
                                             "best_epoch": int(np.argmin(val_losses)) + 1},
              "timing": {"train_seconds": 1.0}, "provenance": {"threads": 1}}
    return StoredRun(key=f"k{id(config)}", path=Path("/nonexistent"), config=config, result=result)


def fake_runs(settings, loss_of, missing_group=None, noise=0.01):
    """Every planned run, with validation loss ``loss_of(net)`` plus seed noise; test error follows the loss."""
    rng = np.random.default_rng(0)
    groups, nets = {}, {}
    for name, group in chapter.design(settings).items():
        groups[name], nets[name] = {}, {}
        for key, (net, configs) in group.items():
            nets[name][key] = net
            runs = []
            for config in configs:
                if name == missing_group:
                    runs.append(MissingRun(key="missing", config=config))
                    continue
                loss = loss_of(net, config) + noise * rng.standard_normal()
                runs.append(fake_run(config, [loss + 0.2, loss], loss + 0.01, 1 - loss / 4,
                                     train_loss=0.7 + 1.5 * net.dropout))
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
                                  "norms": ["none", "batch", "instance"], "dropouts": [0.0, 0.1, 0.3]})


def test_claims_on_additive_runs_reject_the_synergy(small):
    claims = chapter.claims(fake_runs(small, additive_loss))
    assert not [c for c in claims if c.verdict == MISSING]
    synergy = [c for c in claims if "sum of its parts" in c.claim]
    assert len(synergy) == 3 and all(c.verdict == NOT_REPRODUCED for c in synergy)
    assert all(c.note == "additive within the uncertainty" for c in synergy)
    by_name = {c.claim: c for c in claims}
    assert by_name["6L/64F BatchNorm parameters"].verdict == REPRODUCED
    assert by_name["Baseline parameters"].verdict == NOT_REPRODUCED
    assert by_name["InstanceNorm is the best normalisation"].verdict == REPRODUCED
    assert by_name["0.1 is the best dropout rate"].verdict == REPRODUCED
    assert by_name["6L/64F is the best architecture"].verdict == REPRODUCED
    assert by_name["Initial training loss, dropout 0.5"].verdict == REPRODUCED  # 0.7 + 1.5 * 0.5 = 1.45


def test_claims_on_synergistic_runs_accept_it(small):
    claims = chapter.claims(fake_runs(small, lambda n, c: additive_loss(n, c, synergy=-0.15)))
    synergy = [c for c in claims if "sum of its parts" in c.claim]
    assert all(c.verdict == REPRODUCED for c in synergy)
    assert all(c.note == "more than the sum of its parts" for c in synergy)
    assert "Yes" in chapter.conclusion(fake_runs(small, lambda n, c: additive_loss(n, c, synergy=-0.15)))


def test_conclusion_reads_overlap_as_diminishing_returns(small):
    runs = fake_runs(small, lambda n, c: additive_loss(n, c, synergy=+0.15))
    text = chapter.conclusion(runs)
    assert "partly overlap" in text
    assert "less than the sum of its parts" in text


def test_conclusion_of_additive_runs(small):
    text = chapter.conclusion(fake_runs(small, additive_loss))
    assert "indistinguishable from zero" in text
    assert "0.406" in text and "0.544" in text


def test_census_counts_every_pair_and_weighs_it_against_chance(small):
    tested, synergy, overlap, chance = chapter.interaction_census(fake_runs(small, additive_loss))
    # 2 norms x 2 dropout rates x 2 metrics x 2 budgets, all additive: nothing beyond chance
    assert tested == 16 and chance > 0.05
    assert "no more synergy than noise gives" in chapter.conclusion(fake_runs(small, additive_loss))

    runs = fake_runs(small, lambda n, c: additive_loss(n, c, synergy=-0.15))
    tested, synergy, overlap, chance = chapter.interaction_census(runs)
    # the planted pair is a synergy on both metrics at both budgets
    assert {label for label in synergy if label.startswith("instance + dropout 0.1")} == {
        f"instance + dropout 0.1, {metric}, {budget}" for metric in chapter.FACTORIAL_METRICS
        for budget in ("study budget", "converged")}
    assert not [label for label in overlap if label.startswith("instance + dropout 0.1")]
    assert chance < 0.05 and "some pairs do more than the sum of their parts" in chapter.conclusion(runs)


def test_missing_runs_are_missing_not_substituted(small):
    runs = fake_runs(small, additive_loss, missing_group="factorial_converged")
    claims = chapter.claims(runs)
    converged = [c for c in claims if c.ours.endswith("converged)") or (c.verdict == MISSING and "sum of its parts" in c.claim)]
    assert [c.verdict for c in converged] == [MISSING, MISSING]
    assert "not complete in the store yet" in chapter.conclusion(runs)
    assert chapter.interaction_census(runs)[0] == 8  # the study budget's pairs only
    assert chapter.factorial_frame(runs, "factorial_converged").empty
    assert chapter.factorial_figure(chapter.factorial_frame(runs, "factorial_converged")) is None
    assert chapter.overview(runs).loc["factorial, trained to convergence", "stored"] == "0/45"


def test_one_seed_per_cell_gives_a_point_and_no_verdict():
    s = chapter.settings_from({"profile": "smoke", "factorial_seeds": [1]})
    claims = chapter.claims(fake_runs(s, additive_loss))
    interactions = [c for c in claims if c.claim.startswith("IN + dropout")]
    assert interactions and all(c.verdict == NOT_COMPARABLE for c in interactions)
    assert not [c for c in claims if c.verdict == MISSING]


def test_the_studys_own_numbers_are_less_than_the_sum():
    # baseline 0.676, 6L/64F 0.484, regularised 4L/32F 0.324, both 0.270 (the study's text)
    cells = {("4L/32F", "none"): [0.676], ("6L/64F", "none"): [0.484], ("4L/32F", "IN"): [0.324],
             ("6L/64F", "IN"): [0.270]}
    point = chapter._interaction_or_point(cells, "4L/32F", "6L/64F", "none", "IN", 0.95)
    assert point.value == pytest.approx(0.138)  # positive on a loss: less than the sum of the two gains
    assert point.method == "no replicates"


def test_interaction_table_and_figure_on_constructed_runs(small):
    runs = fake_runs(small, lambda n, c: additive_loss(n, c, synergy=-0.15))
    frame = chapter.factorial_frame(runs, "factorial_study")
    table = chapter.interaction_table(frame, "validation loss", small)
    assert list(table.index) == [("batch", "0.1"), ("batch", "0.3"), ("instance", "0.1"), ("instance", "0.3")]
    assert table.loc[("instance", "0.1"), "reading"] == "more than the sum of its parts"
    assert table.loc[("batch", "0.1"), "reading"] == "additive within the uncertainty"
    assert list(chapter.factorial_table(frame, "validation loss").index) == ["none", "batch", "instance"]
    assert chapter.anova(frame, "validation loss").loc["norm x dropout", "p"] < 0.001
    # half-trained grid (a cell with no stored run): no ANOVA rather than one with empty rows
    partial = frame[~((frame["norm"] == "instance") & (frame["dropout"] == 0.3))]
    assert chapter.anova(partial, "validation loss") is None
    import matplotlib.pyplot as plt

    for figure in (chapter.factorial_figure(frame), chapter.converged_curves(runs),
                   chapter.sweep_strip(runs, "architecture"), chapter.sweep_curves(runs)):
        assert figure is not None
        plt.close(figure)
