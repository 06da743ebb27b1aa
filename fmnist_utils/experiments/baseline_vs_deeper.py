"""Chapter 1: baseline CNN (Model-1) vs deeper CNN (Model-2), and an ablation of Model-2's recipe."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from ..claims import counted
from ..config import RunConfig
from ..data import TRAIN_MEAN, TRAIN_STD
from ..params import ChapterSpec, Param, int_list, optional, positive_int, resolve  # noqa: F401
from ..store import describe, stored_runs  # noqa: F401  (the notebook calls chapter.stored_runs)

TITLE = "Baseline CNN vs deeper CNN"
STUDY = "01_baseline_vs_deeper.md"

SPEC = ChapterSpec("baseline_vs_deeper", [
    Param("seeds", {"paper": [42, 43, 44], "quick": [42], "smoke": [42]}, int_list,
          "training seeds of Model-1 and Model-2 (the split stays the study's seed 42)"),
    Param("ablation_seeds", {"paper": [42], "quick": [42], "smoke": [42]}, int_list,
          "training seeds of the ablation grid"),
    Param("epochs", {"paper": 12, "quick": 3, "smoke": 1}, positive_int, "epochs per run"),
    Param("batch_size", 128, positive_int, "training batch size"),
    Param("train_subset", {"paper": None, "quick": 10_000, "smoke": 512}, optional(positive_int),
          "train on only the first n images of the 54k split (None: all)"),
    Param("eval_subset", {"paper": None, "quick": None, "smoke": 500}, optional(positive_int),
          "validate and test on only the first n images (None: all)"),
])

# The two training recipes of the study (everything except the architecture and augmentation).
RECIPES = {
    "model1": dict(normalize=(TRAIN_MEAN, TRAIN_STD), optimizer="adam", weight_decay=0.0),
    "model2": dict(normalize=(0.5, 0.5), optimizer="adamw", weight_decay=1e-5, scheduler="plateau",
                   scheduler_args={"factor": 0.5, "patience": 2}),
}
AUGMENTATION = {"none": {}, "crop+flip": {"crop_padding": 4, "hflip": 0.5}}
STUDY_SETUP = {"model1": ("model1", "none", "model1"), "model2": ("model2", "crop+flip", "model2")}


@dataclass(frozen=True)
class Cell:
    """One ablation cell: which architecture, augmentation and recipe."""

    architecture: str
    augmentation: str
    recipe: str

    @property
    def label(self) -> str:
        return f"{self.architecture} | aug {self.augmentation} | {self.recipe} recipe"


def config(settings, cell: Cell, seed: int) -> RunConfig:
    return RunConfig(
        model=cell.architecture,
        val_fraction=0.1, split_seed=42,  # the study's 54k / 6k random_split
        train_subset=settings.train_subset, eval_subset=settings.eval_subset,
        augment=AUGMENTATION[cell.augmentation],
        epochs=settings.epochs, batch_size=settings.batch_size,
        monitor="val_loss", select_best=True,  # best checkpoint by minimum validation loss
        seed=seed,
        **RECIPES[cell.recipe],
    )


def study_cell(model: str) -> Cell:
    return Cell(*STUDY_SETUP[model])


def ablation_cells() -> list[Cell]:
    return [Cell(a, g, r) for a, g, r in product(("model1", "model2"), AUGMENTATION, RECIPES)]


def settings_from(namespace: dict):
    return resolve(SPEC, namespace)


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """Every run of the chapter as (configuration, needs weights), main runs first."""
    runs = []
    for seed in settings.seeds:  # seed-major: a partial store holds both models of the first seed first
        for model in ("model1", "model2"):
            runs.append((config(settings, study_cell(model), seed), seed == settings.seeds[0]))
    for seed in settings.ablation_seeds:
        for cell in ablation_cells():
            runs.append((config(settings, cell, seed), False))
    return runs


# The study's headline numbers (Table 3, Figures 4 and 5, section 4.1).
STUDY_TEST = {
    "model1": {"accuracy": 0.9272, "macro_f1": 0.9272, "weighted_f1": 0.9272},
    "model2": {"accuracy": 0.9137, "macro_f1": 0.9121, "weighted_f1": 0.9121},
}
STUDY_SHIRT_RECALL = {"model1": 0.8010, "model2": 0.6530}
STUDY_M1_VAL_ACC = (0.927, 0.935)
STUDY_LR_DROP_EPOCH = 8

# Figures 4 and 5 of the study: precision, recall, F1 per class.
STUDY_CLASS_REPORT = {
    "model1": [(0.9013, 0.8680, 0.8844), (0.9959, 0.9780, 0.9869), (0.8786, 0.8970, 0.8877),
               (0.9176, 0.9460, 0.9316), (0.8804, 0.8830, 0.8817), (0.9850, 0.9830, 0.9840),
               (0.8018, 0.8010, 0.8014), (0.9696, 0.9570, 0.9633), (0.9859, 0.9820, 0.9840),
               (0.9578, 0.9770, 0.9673)],
    "model2": [(0.8435, 0.8840, 0.8633), (0.9930, 0.9860, 0.9895), (0.7819, 0.9500, 0.8578),
               (0.9025, 0.9440, 0.9228), (0.8969, 0.8260, 0.8600), (0.9839, 0.9770, 0.9804),
               (0.8558, 0.6530, 0.7408), (0.9617, 0.9530, 0.9573), (0.9841, 0.9930, 0.9886),
               (0.9510, 0.9710, 0.9609)],
}
PARAMETER_SPEC = {"model1": 1_199_882, "model2": 304_682}
# Where the study shows activation maps (section 5, Figures 8-11), as module paths of our models.
ACTIVATION_LAYERS = {
    "model1": {"conv1": "conv1", "conv2": "conv2"},
    "model2": {"in block 1 (conv)": "stages.0.0.0", "after block 1": "stages.0.0", "after block 3": "stages.1.0"},
}


@dataclass
class ChapterRuns:
    main: dict  # model -> [StoredRun | MissingRun] per seed
    ablation: dict  # Cell -> [StoredRun | MissingRun] per ablation seed
    seeds: list
    ablation_seeds: list


def gather(settings) -> ChapterRuns:
    """Every run of the chapter from the store (training missing ones if the settings say so)."""
    from ..store import ResultStore
    from ..sweep import collect_runs

    store = ResultStore(settings.store_dir)
    planned = plan(settings)
    found = {run.key: run for run in collect_runs(planned, settings, store)}

    def runs(cell: Cell, seeds) -> list:
        return [found[store.key(config(settings, cell, seed))] for seed in seeds]

    return ChapterRuns(
        main={m: runs(study_cell(m), settings.seeds) for m in ("model1", "model2")},
        ablation={cell: runs(cell, settings.ablation_seeds) for cell in ablation_cells()},
        seeds=list(settings.seeds), ablation_seeds=list(settings.ablation_seeds),
    )


# ----- what the chapter shows -------------------------------------------------------------------

def overview(runs: ChapterRuns):
    """Which runs the chapter uses and whether the store has them."""
    import pandas as pd

    rows = [{"group": f"study setup: {m}", "seed": r.config.seed, "run": r.key, "status": describe(r)}
            for m, group in runs.main.items() for r in group]
    rows += [{"group": f"ablation: {cell.label}", "seed": r.config.seed, "run": r.key, "status": describe(r)}
             for cell, group in runs.ablation.items() for r in group]
    return pd.DataFrame(rows)


def parameter_table():
    import pandas as pd

    from ..models import build_model, count_parameters

    return pd.DataFrame([{"model": m, "specified": f"{n:,}", "this book": f"{count_parameters(build_model(m)):,}"}
                         for m, n in PARAMETER_SPEC.items()])


def test_table(runs: ChapterRuns):
    """Test metrics of the best-validation checkpoint, per seed, then mean ± std and the study."""
    import pandas as pd

    rows = []
    for model, group in runs.main.items():
        stored = stored_runs(group)
        for run in stored:
            rows.append({"model": model, "seed": str(run.config.seed), "best epoch": run.metrics["best_epoch"],
                         **{k: f"{run.metrics[k]:.4f}" for k in ("accuracy", "macro_f1", "weighted_f1")}})
        if len(stored) > 1:
            rows.append({"model": model, "seed": f"mean ± std (n={len(stored)})", "best epoch": "",
                         **{k: "{:.4f} ± {:.4f}".format(*_mean_std([r.metrics[k] for r in stored]))
                            for k in ("accuracy", "macro_f1", "weighted_f1")}})
        rows.append({"model": model, "seed": "study", "best epoch": "",
                     **{k: f"{v:.4f}" for k, v in STUDY_TEST[model].items()}})
    return pd.DataFrame(rows).set_index(["model", "seed"])


def _mean_std(values):
    from ..claims import mean_std

    mean, std = mean_std(values)
    return mean, std or 0.0


def lr_table(runs: ChapterRuns):
    """Model-2's learning rate per epoch (ReduceLROnPlateau halves it after 2 epochs without improvement)."""
    import pandas as pd

    return pd.DataFrame({f"seed {r.config.seed}": [row["lr"] for row in r.history] for r in stored_runs(runs.main["model2"])},
                        index=pd.RangeIndex(1, 1 + max((len(r.history) for r in stored_runs(runs.main["model2"])), default=0),
                                            name="epoch"))


def first_lr_drop(run) -> int | None:
    """The first epoch trained with a reduced learning rate (None if it never dropped)."""
    rates = [row["lr"] for row in run.history]
    return next((i + 1 for i, lr in enumerate(rates) if lr < rates[0]), None)


def class_report_comparison(run, model: str):
    """Per-class precision / recall / F1: the study's figure beside ours for one run."""
    import pandas as pd

    from ..data import CLASSES
    from ..evaluate import class_report

    ours = class_report(run.targets, run.predictions).loc[list(CLASSES), ["precision", "recall", "f1"]]
    study = pd.DataFrame(STUDY_CLASS_REPORT[model], index=list(CLASSES), columns=["precision", "recall", "f1"])
    frame = pd.concat({"study": study, "this book": ours}, axis=1)
    frame[("difference", "f1")] = frame[("this book", "f1")] - frame[("study", "f1")]
    return frame.round(4)


def ablation_table(runs: ChapterRuns):
    """Test accuracy of every (architecture, augmentation, recipe) cell, mean over the ablation seeds."""
    import pandas as pd

    rows = []
    for cell, group in runs.ablation.items():
        accuracies = [r.metrics["accuracy"] for r in stored_runs(group)]
        mean, std = _mean_std(accuracies) if accuracies else (float("nan"), float("nan"))
        rows.append({"architecture": cell.architecture, "augmentation": cell.augmentation, "recipe": cell.recipe,
                     "test accuracy": mean, "std": std if len(accuracies) > 1 else float("nan"),
                     "runs": f"{len(accuracies)}/{len(group)}"})
    return pd.DataFrame(rows)


def ablation_effects(table):
    """Main effect of each factor: mean accuracy at one level minus the other, over all other cells."""
    import pandas as pd

    levels = {"architecture": ("model2", "model1"), "augmentation": ("crop+flip", "none"), "recipe": ("model2", "model1")}
    rows = []
    for factor, (high, low) in levels.items():
        effect = table[table[factor] == high]["test accuracy"].mean() - table[table[factor] == low]["test accuracy"].mean()
        rows.append({"factor": factor, "change": f"{low} -> {high}", "effect on test accuracy (points)": round(100 * effect, 2)})
    return pd.DataFrame(rows)


def claims(runs: ChapterRuns) -> list:
    """Every headline number of the study beside ours."""
    from ..claims import MISSING, NOT_REPRODUCED, REPRODUCED, Claim, numeric_claim
    from ..data import CLASSES
    from ..evaluate import class_report

    rows = []
    names = {"accuracy": "test accuracy", "macro_f1": "macro F1", "weighted_f1": "weighted F1"}
    for model in ("model1", "model2"):
        stored = stored_runs(runs.main[model])
        for metric, label in names.items():
            rows.append(numeric_claim(f"{model}: {label}", STUDY_TEST[model][metric],
                                      [r.metrics[metric] for r in stored], floor=0.005))
    m1, m2 = stored_runs(runs.main["model1"]), stored_runs(runs.main["model2"])
    if m1 and m2:
        gap = [a.metrics["accuracy"] - b.metrics["accuracy"] for a, b in zip(m1, m2)]
        mean, std = _mean_std(gap)
        holds = all(g > 0 for g in gap)
        rows.append(Claim("Model-1 beats Model-2 on test accuracy", "+1.35 points",
                          f"{100 * mean:+.2f} ± {100 * std:.2f} points (n={len(gap)})",
                          REPRODUCED if holds else NOT_REPRODUCED, "sign, every seed"))
    else:
        rows.append(Claim("Model-1 beats Model-2 on test accuracy", "+1.35 points", "-", MISSING))
    if m1:
        best_val = [max(row["val_acc"] for row in r.history) for r in m1]
        low, high = STUDY_M1_VAL_ACC
        inside = all(low - 0.005 <= v <= high + 0.005 for v in best_val)
        rows.append(Claim("Model-1 validation accuracy plateau", "92.7-93.5%",
                          ", ".join(f"{100 * v:.2f}%" for v in best_val) + " (best epoch, per seed)",
                          REPRODUCED if inside else NOT_REPRODUCED, "within the range ±0.5 points"))
    if m2:
        drops = [first_lr_drop(r) for r in m2]
        near = all(d is not None and abs(d - STUDY_LR_DROP_EPOCH) <= 2 for d in drops)
        rows.append(Claim("Model-2 learning rate reduced around epoch 8", "epoch ~8",
                          ", ".join("never" if d is None else f"epoch {d}" for d in drops) + " (first reduced epoch, per seed)",
                          REPRODUCED if near else NOT_REPRODUCED, "±2 epochs"))
    if m1 and m2:
        rows += comparison_claims(m1, m2)
    for model, group in (("model1", m1), ("model2", m2)):
        hardest = [class_report(r.targets, r.predictions).loc[list(CLASSES), "recall"].idxmin() for r in group]
        recalls = [class_report(r.targets, r.predictions).loc["Shirt", "recall"] for r in group]
        rows.append(numeric_claim(f"{model}: Shirt recall", STUDY_SHIRT_RECALL[model], recalls, floor=0.02,
                                  note="hardest class in our runs: " + (", ".join(sorted(set(hardest))) or "-")))
    return rows


def _confusion_between(run, a: str, b: str) -> float:
    """Share of class-a images called b plus share of class-b images called a."""
    from ..data import CLASSES
    from ..evaluate import normalized_confusion

    matrix = normalized_confusion(run.targets, run.predictions)
    i, j = CLASSES.index(a), CLASSES.index(b)
    return float(matrix[i, j] + matrix[j, i])


def _class_f1(run, name: str) -> float:
    from ..evaluate import class_report

    return float(class_report(run.targets, run.predictions).loc[name, "f1"])


def comparison_claims(m1: list, m2: list) -> list:
    """The study's qualitative Model-1 vs Model-2 statements (sections 4.4 and 5), checked on means over seeds."""
    import numpy as np

    from ..claims import NOT_REPRODUCED, REPRODUCED, Claim

    def compare(claim: str, study: str, ours1: list, ours2: list, model2_should_be_lower: bool):
        # paired by seed: the direction must hold for every seed both models have, not just on the mean
        pairs = list(zip(ours1, ours2))
        holds = all((b < a) if model2_should_be_lower else (b > a) for a, b in pairs)
        mean1, mean2 = float(np.mean(ours1)), float(np.mean(ours2))
        return Claim(claim, study, f"Model-1 {mean1:.4f}, Model-2 {mean2:.4f} (mean)",
                     REPRODUCED if holds else NOT_REPRODUCED,
                     f"direction, in each of {counted(len(pairs), 'seed pair')}")

    rows = [
        compare("Model-2 confuses Dress and Coat less", "Figures 6-7 (qualitative)",
                [_confusion_between(r, "Dress", "Coat") for r in m1], [_confusion_between(r, "Dress", "Coat") for r in m2],
                True),
        compare("Model-1 separates Pullover and Shirt better", "Figures 6-7 (qualitative)",
                [_confusion_between(r, "Pullover", "Shirt") for r in m1],
                [_confusion_between(r, "Pullover", "Shirt") for r in m2], False),
    ]
    for name in ("Trouser", "Sneaker", "Bag"):
        rows.append(compare(f"Model-2 has the higher F1 on {name} (shape-driven class)", "section 5",
                            [_class_f1(r, name) for r in m1], [_class_f1(r, name) for r in m2], False))
    return rows


def activation_maps(run, model: str, image) -> dict:
    """Feature maps of one test image at the layers the study shows, from the stored weights."""
    from ..activations import capture_activations
    from ..data import to_float

    network = run.load_model()
    x = to_float(image[None], run.config.normalize)
    return {label: a[0].numpy() for label, a in capture_activations(network, ACTIVATION_LAYERS[model], x).items()}


def conclusion(runs: ChapterRuns, ablation) -> str:
    """The chapter's answer, written from the stored numbers (nothing here is typed in by hand)."""
    m1, m2 = stored_runs(runs.main["model1"]), stored_runs(runs.main["model2"])
    if not m1 or not m2:
        return "_The conclusion is written once both models have stored runs._"
    acc1, sd1 = _mean_std([r.metrics["accuracy"] for r in m1])
    acc2, sd2 = _mean_std([r.metrics["accuracy"] for r in m2])
    gap = 100 * (acc1 - acc2)
    paired = [a.metrics["accuracy"] - b.metrics["accuracy"] for a, b in zip(m1, m2)]
    if all(d > 0 for d in paired):
        verdict = f"Model-1 is ahead in every one of {len(paired)} seed pairs, so the study's ranking holds."
    elif all(d < 0 for d in paired):
        verdict = f"Model-2 is ahead in every one of {len(paired)} seed pairs, so the study's ranking is reversed."
    else:
        verdict = (f"The lead changes sides between seeds ({', '.join(f'{100 * d:+.2f}' for d in paired)} points, "
                   "Model-1 minus Model-2), so the study's ranking is not established: the difference is within "
                   "seed-to-seed variation.")
    lines = [
        f"- **Ranking.** Over {len(m1)} and {len(m2)} seeds, Model-1 reaches {100 * acc1:.2f}% ± {100 * sd1:.2f} "
        f"and Model-2 {100 * acc2:.2f}% ± {100 * sd2:.2f} test accuracy (study: 92.72% and 91.37%). " + verdict,
    ]
    if ablation["test accuracy"].notna().all():
        grid = ablation.set_index(["architecture", "augmentation", "recipe"])["test accuracy"]
        depth = {(g, r): 100 * (grid[("model2", g, r)] - grid[("model1", g, r)])
                 for g in AUGMENTATION for r in RECIPES}
        augmentation = {(a, r): 100 * (grid[(a, "crop+flip", r)] - grid[(a, "none", r)])
                        for a in ("model1", "model2") for r in RECIPES}
        recipe = {(a, g): 100 * (grid[(a, g, "model2")] - grid[(a, g, "model1")])
                  for a in ("model1", "model2") for g in AUGMENTATION}

        def spread(effects: dict) -> str:
            values = list(effects.values())
            return f"{min(values):+.2f} to {max(values):+.2f} points"

        # Ablation cells have one seed each; an effect counts only beyond twice the larger seed-to-seed
        # standard deviation of the main runs.
        noise = 200 * max(sd1, sd2)
        gains = {k: v for k, v in depth.items() if v > noise}
        losses = {k: v for k, v in depth.items() if v < -noise}

        def settings_text(effects: dict) -> str:
            return " and ".join(f"{'without augmentation' if g == 'none' else 'with ' + g} and Model-{r[-1]}'s "
                                f"recipe ({v:+.2f})" for (g, r), v in effects.items())

        lines.append(
            f"- **Depth, with everything else fixed.** Swapping Model-1 for Model-2 changes test accuracy by "
            f"{spread(depth)} across the four augmentation/recipe settings. Trained each its own way (the study's "
            f"comparison, {len(m1)} and {len(m2)} seeds), Model-2 minus Model-1 is {-gap:+.2f} points.")
        largest = min({**augmentation, **recipe}.items(), key=lambda item: -abs(item[1]))
        lines.append(f"- **Augmentation** (crop and flip) changes it by {spread(augmentation)}, and the "
                     f"**recipe** (optimiser, schedule, input scaling) by {spread(recipe)}. The largest single "
                     f"effect is {'augmentation' if largest[0] in augmentation else 'the recipe'} on "
                     f"{largest[0][0].replace('model', 'Model-')} ({largest[1]:+.2f} points).")
        if losses and not gains:
            answer = "Depth itself costs accuracy here, as the study concluded."
        elif not losses:
            answer = (f"Depth costs accuracy in none of the four settings beyond seed noise (±{noise:.2f} points, "
                      f"twice the larger seed spread)" + (f"; it clearly helps {settings_text(gains)}"
                                                          if gains else "") + ". The study's lower Model-2 "
                      "accuracy is therefore not a depth effect"
                      + (", and in our runs the two models are within seed noise of each other."
                         if abs(gap) <= noise else "; it comes from how each model was trained."))
        else:
            answer = (f"Depth helps {settings_text(gains)} but hurts {settings_text(losses)}, so the answer "
                      "depends on how the networks are trained.")
        lines.append(f"- **Answer to the study's open question.** {answer} "
                     f"(Ablation seeds: {', '.join(map(str, runs.ablation_seeds))}; one run per cell.)")
    else:
        lines.append("- **Open question.** The ablation grid is not complete in the store yet; its answer "
                     "appears when all eight cells are trained.")
    return "\n".join(lines)
