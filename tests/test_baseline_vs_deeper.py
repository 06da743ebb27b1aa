import numpy as np
import pytest

from fmnist_utils.claims import NOT_REPRODUCED, REPRODUCED, numeric_claim
from fmnist_utils.experiments import baseline_vs_deeper as chapter
from fmnist_utils.store import MissingRun, StoredRun


def paper():
    return chapter.settings_from({"profile": "paper"})


def test_study_setups_follow_the_spec():
    settings = paper()
    m1 = chapter.config(settings, chapter.study_cell("model1"), 42)
    m2 = chapter.config(settings, chapter.study_cell("model2"), 42)
    assert (m1.optimizer, m1.lr, m1.weight_decay, m1.scheduler, m1.augment) == ("adam", 1e-3, 0.0, None, {})
    assert m1.normalize == (0.2860, 0.3530) and m2.normalize == (0.5, 0.5)
    assert (m2.optimizer, m2.weight_decay, m2.scheduler) == ("adamw", 1e-5, "plateau")
    assert m2.scheduler_args == {"factor": 0.5, "patience": 2}
    assert m2.augment == {"crop_padding": 4, "hflip": 0.5}
    for c in (m1, m2):
        assert (c.epochs, c.batch_size, c.val_fraction, c.split_seed, c.monitor, c.select_best) == \
            (12, 128, 0.1, 42, "val_loss", True)


def test_plan_has_every_seed_and_the_full_ablation_grid():
    settings = paper()
    configs = [c for c, _ in chapter.plan(settings)]
    assert len(configs) == 2 * 3 + 8
    assert {(c.model, c.seed) for c in configs[:6]} == {(m, s) for m in ("model1", "model2") for s in (42, 43, 44)}
    cells = {(c.model, bool(c.augment), c.optimizer) for c in configs[6:]}
    assert len(cells) == 8
    weights = [(c.model, c.seed) for c, needs in chapter.plan(settings) if needs]
    assert weights == [("model1", 42), ("model2", 42)]


def test_numeric_verdicts_use_the_floor_or_twice_the_spread():
    assert numeric_claim("x", 0.9272, [0.925, 0.926, 0.927], floor=0.005).verdict == REPRODUCED
    assert numeric_claim("x", 0.9272, [0.915, 0.916, 0.914], floor=0.005).verdict == NOT_REPRODUCED
    wide = numeric_claim("x", 0.9272, [0.90, 0.93, 0.96], floor=0.005)  # spread 0.03 -> tolerance 0.06
    assert wide.verdict == REPRODUCED and wide.tolerance == "±6.00%"
    assert numeric_claim("x", 0.9, [], floor=0.005).verdict == "missing run"


def fake_run(model, seed, accuracy, predictions, targets, lrs=None):
    settings = paper()
    config = chapter.config(settings, chapter.study_cell(model), seed)
    history = [{"epoch": e + 1, "val_acc": 0.93, "lr": lr} for e, lr in enumerate(lrs or [1e-3] * 12)]
    metrics = {"accuracy": accuracy, "macro_f1": accuracy, "weighted_f1": accuracy, "best_epoch": 12, "epochs_run": 12}
    run = StoredRun(key=f"{model}-{seed}", path=None, config=config, result={"metrics": metrics, "history": history})
    run.__dict__.update(predictions=predictions, targets=targets)  # fill the cached properties
    return run


def test_claims_on_constructed_runs():
    targets = np.repeat(np.arange(10), 100)
    good = targets.copy()
    good[600:650] = 4  # 50 shirts called coats: Shirt recall 0.5, the hardest class
    lrs = [1e-3] * 7 + [5e-4] * 5  # first reduced epoch: 8
    runs = chapter.ChapterRuns(
        main={"model1": [fake_run("model1", s, 0.9272, good, targets) for s in (42, 43)],
              "model2": [fake_run("model2", s, 0.9137, good, targets, lrs) for s in (42, 43)]},
        ablation={}, seeds=[42, 43], ablation_seeds=[42])
    claims = {c.claim: c for c in chapter.claims(runs)}
    assert claims["model1: test accuracy"].verdict == REPRODUCED
    assert claims["Model-1 beats Model-2 on test accuracy"].verdict == REPRODUCED
    assert claims["Model-2 learning rate reduced around epoch 8"].verdict == REPRODUCED
    assert claims["model2: Shirt recall"].verdict == NOT_REPRODUCED  # 0.5 vs the study's 0.653
    assert "Shirt" in claims["model2: Shirt recall"].note


def test_missing_runs_become_missing_claims_not_numbers():
    settings = paper()
    missing = [MissingRun("k", chapter.config(settings, chapter.study_cell(m), 42)) for m in ("model1", "model2")]
    runs = chapter.ChapterRuns(main={"model1": missing[:1], "model2": missing[1:]}, ablation={}, seeds=[42],
                               ablation_seeds=[42])
    claims = chapter.claims(runs)
    assert {c.verdict for c in claims if "test accuracy" in c.claim} == {"missing run"}
    assert "once both models" in chapter.conclusion(runs, chapter.ablation_table(runs))


@pytest.mark.parametrize("model, layers", list(chapter.ACTIVATION_LAYERS.items()))
def test_activation_layers_exist_and_give_feature_maps(model, layers):
    import torch

    from fmnist_utils.activations import capture_activations
    from fmnist_utils.models import build_model

    maps = capture_activations(build_model(model), layers, torch.zeros(1, 1, 28, 28))
    assert list(maps) == list(layers) and all(m.dim() == 4 for m in maps.values())


def ablation_frame(depth_effects: dict) -> "pd.DataFrame":
    """Eight cells: Model-1 at 0.90 everywhere, Model-2 ahead by the given points per (augmentation, recipe)."""
    import pandas as pd

    rows = []
    for (augmentation, recipe), points in depth_effects.items():
        for architecture, accuracy in (("model1", 0.90), ("model2", 0.90 + points / 100)):
            rows.append({"architecture": architecture, "augmentation": augmentation, "recipe": recipe,
                         "test accuracy": accuracy, "std": float("nan"), "runs": "1/1"})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("effects, expected", [
    ({("none", "model1"): 0.3, ("none", "model2"): -0.5, ("crop+flip", "model1"): 3.5, ("crop+flip", "model2"): 3.9},
     "it clearly helps with crop+flip and Model-1's recipe (+3.50) and with crop+flip and Model-2's recipe (+3.90)"),
    ({("none", "model1"): -3.0, ("none", "model2"): -2.0, ("crop+flip", "model1"): -2.5, ("crop+flip", "model2"): 0.1},
     "Depth itself costs accuracy here"),
    ({("none", "model1"): -3.0, ("none", "model2"): 0.0, ("crop+flip", "model1"): 3.0, ("crop+flip", "model2"): 0.1},
     "Depth helps with crop+flip and Model-1's recipe (+3.00) but hurts without augmentation and Model-1's recipe"),
])
def test_ablation_answer_counts_only_effects_beyond_seed_noise(effects, expected):
    targets = np.arange(10)
    runs = chapter.ChapterRuns(
        main={"model1": [fake_run("model1", s, a, targets, targets) for s, a in ((42, 0.920), (43, 0.922))],
              "model2": [fake_run("model2", s, a, targets, targets) for s, a in ((42, 0.918), (43, 0.924))]},
        ablation={}, seeds=[42, 43], ablation_seeds=[42])
    text = chapter.conclusion(runs, ablation_frame(effects))
    assert expected in text
    assert "(Ablation seeds: 42; one run per cell.)" in text
