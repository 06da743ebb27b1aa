"""Chapter 5: the "regularisation synergy" study, its sweeps rerun and its synergy claim tested as a factorial.

The study trains a family of small CNNs (``flexible_cnn``) for 300 steps each and reads off one
validation loss per configuration. Its sweeps (architecture, dropout, normalisation, the
InstanceNorm + dropout pair and a final model) are rerun here at its own budget with several seeds.
Its central claim, that normalisation and dropout together do more than the sum of their separate
effects, is an *interaction*; we measure it in a norm x dropout factorial with five seeds per cell,
at the study's budget and trained to convergence, with confidence intervals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ..config import RunConfig
from ..params import ChapterSpec, Param, int_list, optional, positive_int, resolve
from ..store import stored_runs as stored, table_or_pending

TITLE = "Regularisation synergy, tested as a factorial experiment"
STUDY = "05_regularization_synergy.md"

NORMS = ("batch", "layer", "instance", "group", "none")


# ----- parameters --------------------------------------------------------------------------------

def _norm_list(value) -> str | None:
    if (not isinstance(value, (list, tuple)) or len(value) < 2 or len(set(value)) != len(value)
            or not all(v in NORMS for v in value) or "none" not in value):
        return f"a list of at least two distinct norms from {', '.join(NORMS)}, including 'none' (the reference)"
    return None


def _dropout_list(value) -> str | None:
    ok = isinstance(value, (list, tuple)) and len(value) >= 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1 for v in value)
    if not ok or 0 not in value or len(set(float(v) for v in value)) != len(value):
        return "a list of at least two distinct dropout rates in [0, 1), including 0 (the reference)"
    return None


def _architecture_list(value) -> str | None:
    ok = isinstance(value, (list, tuple)) and value and all(
        isinstance(pair, (list, tuple)) and len(pair) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair) for pair in value)
    return None if ok else "a non-empty list of [layers, filters] pairs of positive integers"


STUDY_ARCHITECTURES = [[2, 64], [4, 32], [6, 16], [6, 64], [8, 32]]

SPEC = ChapterSpec("regularization_synergy", [
    Param("seeds", {"paper": [42, 43, 44], "quick": [42], "smoke": [42]}, int_list,
          "training seeds of the study's sweeps (the study ran one)"),
    Param("factorial_seeds", {"paper": [42, 43, 44, 45, 46], "quick": [42, 43], "smoke": [42, 43]}, int_list,
          "training seeds of every cell of the norm x dropout factorial"),
    Param("norms", {"paper": ["none", "batch", "instance"], "quick": ["none", "batch", "instance"],
                    "smoke": ["none", "instance"]}, _norm_list, "normalisations of the factorial"),
    Param("dropouts", {"paper": [0.0, 0.1, 0.3], "quick": [0.0, 0.1, 0.3], "smoke": [0.0, 0.1]}, _dropout_list,
          "dropout rates of the factorial"),
    Param("architectures", STUDY_ARCHITECTURES, _architecture_list,
          "[layers, filters] of the architecture sweep (the study's five)"),
    Param("steps_per_epoch", {"paper": 100, "quick": 30, "smoke": 5}, positive_int,
          "training steps per epoch at the study's budget (study: 100)"),
    Param("val_steps", {"paper": 50, "quick": 10, "smoke": 2}, positive_int,
          "validation batches per epoch at the study's budget (study: 50)"),
    Param("epochs", {"paper": 3, "quick": 3, "smoke": 1}, positive_int, "epochs of the sweeps (study: 3)"),
    Param("final_epochs", {"paper": 5, "quick": 5, "smoke": 2}, positive_int,
          "epochs of the two 'final' models (study: 5)"),
    Param("train_subset", {"paper": None, "quick": None, "smoke": 512}, optional(positive_int),
          "train the study-budget runs on the first n images of the 54k split (None: all)"),
    Param("batch_size", {"paper": 64, "quick": 64, "smoke": 16}, positive_int,
          "training and validation batch size (study: 64)"),
    Param("converged_layers", 4, positive_int, "conv layers of the factorial trained to convergence"),
    Param("converged_filters", 16, positive_int, "filters of the factorial trained to convergence"),
    Param("converged_max_epochs", {"paper": 15, "quick": 5, "smoke": 2}, positive_int,
          "most epochs (full passes) of a run trained to convergence"),
    Param("converged_patience", {"paper": 3, "quick": 2, "smoke": 1}, positive_int,
          "early stopping: epochs without a lower validation loss"),
    Param("converged_subset", {"paper": None, "quick": 5000, "smoke": 128}, optional(positive_int),
          "train the converged factorial on the first n images of the 54k split (None: all)"),
    Param("eval_subset", {"paper": None, "quick": 2000, "smoke": 100}, optional(positive_int),
          "test on the first n test images; also the validation size of the converged runs (None: all)"),
    Param("bootstrap", {"paper": 10_000, "quick": 10_000, "smoke": 1000}, positive_int,
          "bootstrap resamples of the interaction intervals"),
])


def settings_from(namespace: dict):
    settings = resolve(SPEC, namespace)
    settings.dropouts = [float(p) for p in settings.dropouts]
    settings.architectures = [tuple(pair) for pair in settings.architectures]
    return settings


# ----- the runs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Net:
    """One FlexibleCNN setting (or the study's baseline network with ``model="synergy_baseline"``)."""

    layers: int = 4
    filters: int = 32
    norm: str = "none"
    dropout: float = 0.0
    model: str = "flexible_cnn"

    @property
    def args(self) -> dict:
        if self.model == "synergy_baseline":
            return {}
        return {"layers": self.layers, "filters": self.filters, "norm": self.norm, "dropout": float(self.dropout)}

    @property
    def label(self) -> str:
        if self.model == "synergy_baseline":
            return "baseline (4 blocks of 32, MaxPool 3)"
        return f"{self.layers}L/{self.filters}F, norm {self.norm}, dropout {self.dropout:g}"


# The study's recipe (Adam, weight decay 1e-5, ReduceLROnPlateau(0.1, 10)), pixels in [0, 1].
RECIPE = dict(normalize=None, optimizer="adam", lr=1e-3, weight_decay=1e-5, scheduler="plateau",
              scheduler_args={"factor": 0.1, "patience": 10}, val_fraction=0.1, split_seed=42, monitor="val_loss")


def study_config(settings, net: Net, seed: int, epochs: int | None = None) -> RunConfig:
    """The study's budget: epochs x ``steps_per_epoch`` steps of 64, ``val_steps`` x 64 validation images.

    The study reads the validation loss after the last epoch; nothing is selected, so the stored test
    metrics are those of the last model too.
    """
    return RunConfig(model=net.model, model_args=net.args, train_subset=settings.train_subset,
                     eval_subset=settings.eval_subset, epochs=epochs or settings.epochs, steps_per_epoch=settings.steps_per_epoch,
                     val_steps=settings.val_steps, batch_size=settings.batch_size, select_best=False,
                     seed=seed, **RECIPE)


def converged_config(settings, net: Net, seed: int) -> RunConfig:
    """Full passes over the 54k split, early stopping on the 6k validation loss, best checkpoint tested."""
    return RunConfig(model=net.model, model_args=net.args, train_subset=settings.converged_subset,
                     eval_subset=settings.eval_subset, epochs=settings.converged_max_epochs,
                     patience=settings.converged_patience, batch_size=settings.batch_size, select_best=True,
                     seed=seed, **RECIPE)


STUDY_NET = dict(layers=4, filters=32)  # the architecture of the study's regularisation sweeps
FINAL_NET = Net(6, 64, "instance", 0.1)
SWEEP_DROPOUTS = (0.1, 0.3, 0.5)
SWEEP_NORMS = ("instance", "batch", "layer", "group", "none")


def design(settings) -> dict[str, dict]:
    """Every group of runs: group -> cell key -> (Net, [RunConfig per seed])."""
    seeds, fseeds = settings.seeds, settings.factorial_seeds

    def study(net: Net, seed_list, epochs=None):
        return net, [study_config(settings, net, s, epochs) for s in seed_list]

    groups = {
        "baseline": {"baseline": study(Net(model="synergy_baseline"), seeds)},
        "architecture": {(l, f): study(Net(l, f), seeds) for l, f in settings.architectures},
        "dropout": {p: study(Net(**STUDY_NET, norm="batch", dropout=p), seeds) for p in SWEEP_DROPOUTS},
        "norm": {n: study(Net(**STUDY_NET, norm=n, dropout=0.1), seeds) for n in SWEEP_NORMS},
        "combined": {"combined": study(Net(**STUDY_NET, norm="instance", dropout=0.1), seeds, settings.final_epochs)},
        "final": {"final": study(FINAL_NET, seeds, settings.final_epochs)},
        # the final network at the sweeps' budget: the fourth corner of architecture x regularisation
        "final_short": {"final_short": study(FINAL_NET, seeds)},
        "factorial_study": {(n, p): study(Net(**STUDY_NET, norm=n, dropout=p), fseeds)
                            for n in settings.norms for p in settings.dropouts},
    }
    converged = dict(layers=settings.converged_layers, filters=settings.converged_filters)
    groups["factorial_converged"] = {
        (n, p): (Net(**converged, norm=n, dropout=p),
                 [converged_config(settings, Net(**converged, norm=n, dropout=p), s) for s in fseeds])
        for n in settings.norms for p in settings.dropouts}
    return groups


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """Every run of the chapter as (configuration, needs weights); groups share identical runs."""
    runs, seen = [], set()
    for group in design(settings).values():
        for _, configs in group.values():
            for config in configs:
                identity = repr(sorted(config.identity().items()))
                if identity not in seen:
                    seen.add(identity)
                    runs.append((config, False))
    return runs


@dataclass
class ChapterRuns:
    groups: dict  # group -> cell key -> [StoredRun | MissingRun] per seed
    nets: dict  # group -> cell key -> Net
    seeds: list
    factorial_seeds: list
    settings: object = field(repr=False, default=None)


def gather(settings) -> ChapterRuns:
    """Every run of the chapter from the store (training missing ones if the settings say so)."""
    from ..store import ResultStore
    from ..sweep import collect_runs

    store = ResultStore(settings.store_dir)
    found = {run.key: run for run in collect_runs(plan(settings), settings, store)}
    groups, nets = {}, {}
    for name, group in design(settings).items():
        groups[name] = {key: [found[store.key(c)] for c in configs] for key, (_, configs) in group.items()}
        nets[name] = {key: net for key, (net, _) in group.items()}
    return ChapterRuns(groups, nets, list(settings.seeds), list(settings.factorial_seeds), settings)


# ----- reading runs ------------------------------------------------------------------------------

def last_val_loss(run) -> float:
    """The study's "test loss": the validation loss after the last epoch."""
    return run.history[-1]["val_loss"]


def best_val_loss(run) -> float:
    return min(row["val_loss"] for row in run.history)


def initial_train_loss(run) -> float:
    """Mean training loss over the first epoch (the study's "initial training loss")."""
    return run.history[0]["train_loss"]


def values(runs: list, metric) -> list[float]:
    return [metric(r) for r in stored(runs)]


def _mean_std(xs) -> tuple[float, float]:
    import numpy as np

    xs = np.asarray(xs, dtype=float)
    if len(xs) == 0:
        return float("nan"), float("nan")
    return float(xs.mean()), float(xs.std(ddof=1)) if len(xs) > 1 else float("nan")


def _fmt(xs, digits: int = 3, scale: float = 1.0) -> str:
    if len(xs) == 0:
        return "missing"
    mean, std = _mean_std(xs)
    if len(xs) == 1:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


@lru_cache(maxsize=None)
def parameters_of(net: Net) -> int:
    from ..models import build_model, count_parameters

    return count_parameters(build_model(net.model, **net.args))


def overview(runs: ChapterRuns):
    """Per group: how many configurations and seeds, and how many runs the store holds."""
    import pandas as pd

    labels = {
        "baseline": "baseline network", "architecture": "architecture sweep", "dropout": "dropout sweep (BatchNorm)",
        "norm": "normalisation sweep (dropout 0.1)", "combined": "InstanceNorm + dropout 0.1, final budget",
        "final": "final model (6L/64F), final budget", "final_short": "final model at the sweeps' budget",
        "factorial_study": "factorial, study's budget", "factorial_converged": "factorial, trained to convergence",
    }
    rows = []
    for name, group in runs.groups.items():
        all_runs = [r for rs in group.values() for r in rs]
        first = all_runs[0].config if all_runs else None
        budget = ("-" if first is None else
                  f"{first.epochs} x {first.steps_per_epoch} steps" if first.steps_per_epoch else
                  f"up to {first.epochs} epochs, patience {first.patience}")
        rows.append({"group": labels[name], "configurations": len(group), "seeds": len(next(iter(group.values()), [])),
                     "budget": budget, "stored": f"{len(stored(all_runs))}/{len(all_runs)}"})
    return pd.DataFrame(rows).set_index("group")


def missing_runs(runs: ChapterRuns) -> list[str]:
    from ..store import MissingRun

    keys = {r.key for group in runs.groups.values() for rs in group.values() for r in rs if isinstance(r, MissingRun)}
    return sorted(keys)


# ----- the study's numbers -----------------------------------------------------------------------

# The study's text ("test loss" = validation loss).
STUDY_CLAIMS = {"baseline": 0.676, "deep_wide": 0.484, "very_deep": 0.521, "dropout_0.1": 0.349,
                "instance": 0.351, "combined": 0.324, "final": 0.270, "improvement": 0.60, "initial_0.1": 0.71,
                "initial_0.5": 1.46, "efficiency": 0.90}
# Per-configuration values of the study's experiment journal (published with its code).
JOURNAL_ARCHITECTURE = {(2, 64): 0.5163, (4, 32): 0.5030, (6, 16): 0.5145, (6, 64): 0.4847, (8, 32): 0.5209}
JOURNAL_ARCH_NAMES = {(2, 64): "shallow_wide", (4, 32): "baseline", (6, 16): "deep_narrow", (6, 64): "deep_wide",
                      (8, 32): "very_deep"}
JOURNAL_DROPOUT = {0.1: 0.3491, 0.3: 0.4284, 0.5: 0.5188}
JOURNAL_NORM = {"instance": 0.3514, "batch": 0.3753, "layer": 0.4219, "group": 0.4266, "none": 0.5299}
JOURNAL_COMBINED, JOURNAL_FINAL, NOTEBOOK_FINAL = 0.3238, 0.2703, 0.3626

# Parameter counts: (what, source, study count, Net or None)
PARAMETER_COUNTS = [
    ("6L/64F, BatchNorm", "study code", 588_874, Net(6, 64, "batch")),
    ("6L/64F, InstanceNorm (the final model)", "study code", 588_106, Net(6, 64, "instance", 0.1)),
    ("4L/32F, BatchNorm (dropout sweep)", "study code", 832_554, Net(4, 32, "batch", 0.1)),
    ("4L/32F, InstanceNorm (the combined model)", "study journal", 832_298, Net(4, 32, "instance", 0.1)),
    ("baseline: 4 blocks of 32, MaxPool 3 (our literal reading)", "study text", 93_130, Net(model="synergy_baseline")),
    ("baseline as the FlexibleCNN 4L/32F, no norm", "study text", 93_130, Net(4, 32)),
    ("6L/16F, no norm (deep narrow)", "study text", 20_346, Net(6, 16)),
    ("6L/64F, no norm (the 'wide variant')", "study text", 311_178, Net(6, 64)),
    ("2L/64F, no norm (shallow wide)", "study journal", 208_522, Net(2, 64)),
    ("8L/32F, no norm (very deep)", "study journal", 103_498, Net(8, 32)),
]


def parameter_table():
    import pandas as pd

    rows = []
    for what, source, study, net in PARAMETER_COUNTS:
        ours = parameters_of(net)
        rows.append({"network": what, "source of the count": source, "study": f"{study:,}", "this book": f"{ours:,}",
                     "same": "yes" if ours == study else "no"})
    return pd.DataFrame(rows).set_index("network")


# ----- sweep tables ------------------------------------------------------------------------------

def _cell_row(net: Net, rs: list, study_value) -> dict:
    return {
        "parameters": f"{parameters_of(net):,}",
        "validation loss (study's 'test loss')": _fmt(values(rs, last_val_loss)),
        "study": "-" if study_value is None else f"{study_value:.4f}",
        "test loss": _fmt(values(rs, lambda r: r.metrics["loss"])),
        "test accuracy (%)": _fmt(values(rs, lambda r: r.metrics["accuracy"]), 2, 100),
        "initial training loss": _fmt(values(rs, initial_train_loss), 2),
        "runs": f"{len(stored(rs))}/{len(rs)}",
    }


def architecture_table(runs: ChapterRuns):
    import pandas as pd

    rows = [{"network": runs.nets["baseline"]["baseline"].label,
             **_cell_row(runs.nets["baseline"]["baseline"], runs.groups["baseline"]["baseline"], STUDY_CLAIMS["baseline"])}]
    for key, rs in runs.groups["architecture"].items():
        name = JOURNAL_ARCH_NAMES.get(key)
        rows.append({"network": f"{key[0]}L/{key[1]}F" + (f" ({name})" if name else ""),
                     **_cell_row(runs.nets["architecture"][key], rs, JOURNAL_ARCHITECTURE.get(key))})
    return pd.DataFrame(rows).set_index("network")


def dropout_table(runs: ChapterRuns):
    import pandas as pd

    return pd.DataFrame([{"dropout": f"{p:g}", **_cell_row(runs.nets["dropout"][p], rs, JOURNAL_DROPOUT.get(p))}
                         for p, rs in runs.groups["dropout"].items()]).set_index("dropout")


def norm_table(runs: ChapterRuns):
    import pandas as pd

    return pd.DataFrame([{"normalisation": n, **_cell_row(runs.nets["norm"][n], rs, JOURNAL_NORM.get(n))}
                         for n, rs in runs.groups["norm"].items()]).set_index("normalisation")


def final_table(runs: ChapterRuns):
    """The InstanceNorm + dropout 0.1 models: 4L/32F at 3 and 5 epochs, 6L/64F at 3 and 5 epochs."""
    import pandas as pd

    s = runs.settings
    items = [
        ("4L/32F, InstanceNorm, dropout 0.1", s.epochs, runs.nets["norm"]["instance"], runs.groups["norm"]["instance"],
         JOURNAL_NORM["instance"]),
        ("4L/32F, InstanceNorm, dropout 0.1", s.final_epochs, runs.nets["combined"]["combined"],
         runs.groups["combined"]["combined"], JOURNAL_COMBINED),
        ("6L/64F, InstanceNorm, dropout 0.1", s.epochs, FINAL_NET, runs.groups["final_short"]["final_short"], None),
        ("6L/64F, InstanceNorm, dropout 0.1", s.final_epochs, FINAL_NET, runs.groups["final"]["final"], JOURNAL_FINAL),
    ]
    rows = [{"network": name, "epochs": epochs, **_cell_row(net, rs, study)} for name, epochs, net, rs, study in items]
    return pd.DataFrame(rows).set_index(["network", "epochs"])


def seeds_frame(runs: ChapterRuns, group: str, label=str):
    """One row per stored run of a sweep: cell label, seed, the study's measure and test metrics."""
    import pandas as pd

    rows = [{"cell": label(key), "seed": r.config.seed, "validation loss": last_val_loss(r),
             "test loss": r.metrics["loss"], "test accuracy": r.metrics["accuracy"]}
            for key, rs in runs.groups[group].items() for r in stored(rs)]
    return pd.DataFrame(rows, columns=["cell", "seed", "validation loss", "test loss", "test accuracy"])


def histories(runs: ChapterRuns, group: str) -> dict:
    """Cell key -> list of stored histories (for loss curves)."""
    return {key: [r.history for r in stored(rs)] for key, rs in runs.groups[group].items()}


def timing_table(runs: ChapterRuns):
    """CPU seconds of training per run, by group (this machine's measurements)."""
    import pandas as pd

    rows = []
    for name, group in runs.groups.items():
        for key, rs in group.items():
            for r in stored(rs):
                rows.append({"group": name, "cell": str(key), "train seconds": r.result["timing"]["train_seconds"],
                             "threads": r.result["provenance"]["threads"], "epochs": r.metrics["epochs_run"]})
    frame = pd.DataFrame(rows, columns=["group", "cell", "train seconds", "threads", "epochs"])
    if frame.empty:
        return table_or_pending(frame, "Training times")
    return frame.groupby("group").agg(runs=("train seconds", "size"), seconds_per_run=("train seconds", "mean"),
                                      total_hours=("train seconds", lambda s: s.sum() / 3600),
                                      threads=("threads", "max"), mean_epochs=("epochs", "mean")).round(2)


# ----- sweep figures -----------------------------------------------------------------------------

def cell_label(group: str, key) -> str:
    if group == "architecture":
        return f"{key[0]}L/{key[1]}F"
    if group == "dropout":
        return f"{key:g}"
    if group in ("factorial_study", "factorial_converged"):
        return f"{key[0]}, dropout {key[1]:g}"
    return str(key)


def sweep_frame(runs: ChapterRuns, group: str):
    """Per-seed rows of a sweep (the architecture sweep starts with the baseline network)."""
    import pandas as pd

    frame = seeds_frame(runs, group, lambda k: cell_label(group, k))
    if group == "architecture":
        frame = pd.concat([seeds_frame(runs, "baseline", lambda k: "baseline"), frame], ignore_index=True)
    return frame


def study_reference(group: str) -> dict:
    """The study's value per cell label (its experiment journal; the text's baseline)."""
    if group == "architecture":
        return {"baseline": STUDY_CLAIMS["baseline"], **{cell_label(group, k): v for k, v in JOURNAL_ARCHITECTURE.items()}}
    if group == "dropout":
        return {cell_label(group, k): v for k, v in JOURNAL_DROPOUT.items()}
    if group == "norm":
        return dict(JOURNAL_NORM)
    return {}


def sweep_strip(runs: ChapterRuns, group: str, title: str = ""):
    """Every seed's validation loss per cell, the study's value as a red cross; None when nothing is stored."""
    from .. import plots

    frame = sweep_frame(runs, group)
    if frame.empty:
        return None
    return plots.strip_box(frame, "cell", "validation loss", reference=study_reference(group),
                           ylabel="validation loss after the last epoch", title=title)


def sweep_curves(runs: ChapterRuns, key: str = "val_loss", ylabel: str = "validation loss"):
    """Per-epoch curves of the three sweeps side by side; None when nothing is stored."""
    from .. import plots

    panels = {}
    for group, title in (("architecture", "architecture (no norm, no dropout)"),
                         ("dropout", "dropout rate (4L/32F, BatchNorm)"),
                         ("norm", "normalisation (4L/32F, dropout 0.1)")):
        panels[title] = {cell_label(group, k): h for k, h in histories(runs, group).items() if h}
    if not any(panels.values()):
        return None
    return plots.run_curves(panels, key=key, ylabel=ylabel, sharey=False)


def factorial_figure(frame, title: str = "", level: float = 0.95):
    """Interaction plots (validation loss, test error) with pooled t-intervals, and every seed per cell."""
    import matplotlib.pyplot as plt

    from .. import plots

    if frame.empty:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.1))
    for ax, value in zip(axes[:2], ("validation loss", "test error (%)")):
        plots.interaction_plot(factorial_means(frame, value, level), x="dropout", trace="norm", xlabel="dropout rate",
                               ylabel=f"{value}, mean and {level:.0%} interval", ax=ax)
    spread = frame.assign(dropout=frame["dropout"].map(lambda p: f"{p:g}"))
    plots.strip_box(spread, "dropout", "validation loss", hue="norm", ylabel="validation loss, every seed",
                    title="every seed", ax=axes[2])
    axes[2].set_xlabel("dropout rate")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def converged_curves(runs: ChapterRuns, key: str = "val_loss", ylabel: str = "validation loss"):
    """The converged factorial's curves: one panel per normalisation, one colour per dropout rate."""
    from .. import plots

    group = runs.groups["factorial_converged"]
    panels = {}
    for (n, p), rs in group.items():
        h = [r.history for r in stored(rs)]
        if h:
            panels.setdefault(f"norm {n}", {})[f"dropout {p:g}"] = h
    if not panels:
        return None
    return plots.run_curves(panels, key=key, ylabel=ylabel)


# ----- the factorial -----------------------------------------------------------------------------

FACTORIAL_METRICS = {
    "validation loss": "val",
    "test loss": "loss",
    "test error (%)": "error",
}


def factorial_frame(runs: ChapterRuns, group: str):
    """Long frame of a factorial: one row per stored run with norm, dropout, seed and the measures.

    At the study's budget the validation loss is the last epoch's (the study's measure); trained to
    convergence it is the best epoch's, whose checkpoint is the one tested.
    """
    import pandas as pd

    pick = last_val_loss if group == "factorial_study" else best_val_loss
    rows = [{"norm": n, "dropout": p, "seed": r.config.seed, "validation loss": pick(r), "test loss": r.metrics["loss"],
             "test accuracy": r.metrics["accuracy"], "test error (%)": 100 * (1 - r.metrics["accuracy"]),
             "epochs": r.metrics["epochs_run"], "best epoch": r.metrics["best_epoch"]}
            for (n, p), rs in runs.groups[group].items() for r in stored(rs)]
    columns = ["norm", "dropout", "seed", "validation loss", "test loss", "test accuracy", "test error (%)", "epochs",
               "best epoch"]
    return pd.DataFrame(rows, columns=columns)


def cells_of(frame, value: str) -> dict:
    return {(n, p): group[value].to_list() for (n, p), group in frame.groupby(["norm", "dropout"], sort=False)}


def factorial_means(frame, value: str, level: float = 0.95):
    """Mean per (norm, dropout) with a t-interval from the pooled seed-to-seed variance (for the plot)."""
    import numpy as np
    import pandas as pd

    from ..stats import pooled_variance
    from scipy import stats as st

    cells = cells_of(frame, value)
    if not cells:
        return pd.DataFrame(columns=["norm", "dropout", "mean", "low", "high", "n"])
    try:
        variance, df = pooled_variance(cells)
        t = st.t.ppf(0.5 + level / 2, df)
    except ValueError:
        variance, t = float("nan"), float("nan")
    rows = []
    for (n, p), xs in cells.items():
        half = t * np.sqrt(variance / len(xs))
        rows.append({"norm": n, "dropout": p, "mean": float(np.mean(xs)), "low": float(np.mean(xs) - half),
                     "high": float(np.mean(xs) + half), "n": len(xs)})
    return pd.DataFrame(rows)


def factorial_table(frame, value: str, digits: int = 3):
    """Mean ± std over seeds, norms as rows and dropout rates as columns."""
    import pandas as pd

    if frame.empty:
        return table_or_pending(frame, f"The factorial table of {value}")
    norms = list(dict.fromkeys(frame["norm"]))
    table = frame.groupby(["norm", "dropout"])[value].agg(lambda s: _fmt(s.to_list(), digits)).unstack("dropout")
    table = table.reindex(norms)
    table.columns = [f"dropout {p:g}" for p in table.columns]
    return table


def _synergy_word(estimate, lower_is_better: bool) -> str:
    side = estimate.side if not lower_is_better else -estimate.side
    return {1: "more than the sum of its parts", -1: "less than the sum of its parts",
            0: "additive within the uncertainty"}[side]


def interaction_table(frame, value: str, settings, level: float = 0.95):
    """Every 2x2 interaction against (none, 0): estimate, t-interval, bootstrap interval and a verdict.

    interaction = (y[norm, p] - y[norm, 0]) - (y[none, p] - y[none, 0]): the change dropout ``p`` makes
    with the normalisation minus the change it makes without. On a loss or an error, below zero means
    the pair helps more than the sum of the two separate effects.
    """
    import pandas as pd

    from ..stats import bootstrap_contrast, interaction, interaction_weights

    cells = cells_of(frame, value)
    rows = []
    for n in settings.norms:
        for p in settings.dropouts:
            if n == "none" or p == 0.0:
                continue
            keys = [(n, p), (n, 0.0), ("none", p), ("none", 0.0)]
            if not all(k in cells for k in keys):
                rows.append({"normalisation": n, "dropout": f"{p:g}", "interaction": "missing"})
                continue
            t = interaction(cells, "none", n, 0.0, p, level)
            boot = bootstrap_contrast(cells, interaction_weights("none", n, 0.0, p), level, settings.bootstrap)
            separate = (cells[(n, 0.0)], cells[("none", p)], cells[("none", 0.0)])
            mean = {k: sum(v) / len(v) for k, v in zip(("norm", "drop", "none"), separate)}
            both = sum(cells[(n, p)]) / len(cells[(n, p)])
            rows.append({
                "normalisation": n, "dropout": f"{p:g}",
                "effect of the norm alone": f"{mean['norm'] - mean['none']:+.3f}",
                "effect of dropout alone": f"{mean['drop'] - mean['none']:+.3f}",
                "sum of the two": f"{mean['norm'] + mean['drop'] - 2 * mean['none']:+.3f}",
                "effect of both": f"{both - mean['none']:+.3f}",
                "interaction": f"{t.value:+.3f}",
                f"{level:.0%} t-interval": f"[{t.low:+.3f}, {t.high:+.3f}]",
                f"{level:.0%} bootstrap": f"[{boot.low:+.3f}, {boot.high:+.3f}]",
                "reading": _synergy_word(t, lower_is_better=True),
            })
    return pd.DataFrame(rows).set_index(["normalisation", "dropout"]) if rows else pd.DataFrame()


def anova(frame, value: str):
    from ..stats import two_way_anova

    if frame.empty:
        return None
    sizes = frame.groupby(["norm", "dropout"]).size()
    # a two-way ANOVA needs every combination of the levels present and some replication
    if len(sizes) < frame["norm"].nunique() * frame["dropout"].nunique() or sizes.max() < 2:
        return None
    return two_way_anova(frame, "norm", "dropout", value).round(4)


def _interaction_or_point(cells: dict, a0, a1, b0, b1, level: float):
    """The interaction with its t-interval; with one run per cell only the point (an unbounded interval)."""
    from ..stats import Estimate, interaction, interaction_weights

    if all(len(v) < 2 for v in cells.values()):
        value = sum(w * sum(cells[k]) / len(cells[k]) for k, w in interaction_weights(a0, a1, b0, b1).items())
        return Estimate(value, float("-inf"), float("inf"), level, None, 0, "no replicates")
    return interaction(cells, a0, a1, b0, b1, level)


def headline_interaction(frame, value: str, norm: str = "instance", dropout: float = 0.1, level: float = 0.95):
    """The study's pair (InstanceNorm, dropout 0.1) against (none, 0), or None if a cell is missing."""
    cells = cells_of(frame, value)
    keys = [(norm, dropout), (norm, 0.0), ("none", dropout), ("none", 0.0)]
    if not all(k in cells for k in keys):
        return None
    return _interaction_or_point(cells, "none", norm, 0.0, dropout, level)


def architecture_interaction(runs: ChapterRuns, level: float = 0.95):
    """The study's second synergy claim: architecture (4L/32F -> 6L/64F) x regularisation (none -> IN + 0.1).

    All four corners at the sweeps' budget, validation loss after the last epoch; None if missing.
    """
    corners = {
        ("4L/32F", "none"): runs.groups["architecture"].get((4, 32), []),
        ("6L/64F", "none"): runs.groups["architecture"].get((6, 64), []),
        ("4L/32F", "IN + 0.1"): runs.groups["norm"]["instance"],
        ("6L/64F", "IN + 0.1"): runs.groups["final_short"]["final_short"],
    }
    cells = {k: values(rs, last_val_loss) for k, rs in corners.items()}
    if not all(cells.values()):
        return None, cells
    return _interaction_or_point(cells, "4L/32F", "6L/64F", "none", "IN + 0.1", level), cells


def architecture_corners(runs: ChapterRuns):
    """The four corners of architecture x regularisation: runs and validation loss, and the interaction."""
    import pandas as pd

    estimate, corners = architecture_interaction(runs)
    frame = pd.DataFrame([{"network": a, "regularisation": r, "runs": len(v), "validation loss": _fmt(v)}
                          for (a, r), v in corners.items()]).set_index(["network", "regularisation"])
    return frame, ("missing runs" if estimate is None else describe_interaction(estimate))


# ----- claims ------------------------------------------------------------------------------------

def _loss_claim(name: str, study: float, xs, note: str = ""):
    from ..claims import numeric_claim

    return numeric_claim(name, study, xs, floor=0.02, scale=1.0, unit="", digits=3, note=note)


def _ranking_claim(name: str, study: str, pick, cells: dict):
    """Reproduced when the study's pick has the lowest mean loss of the cells."""
    from ..claims import MISSING, NOT_REPRODUCED, REPRODUCED, Claim

    means = {k: _mean_std(v)[0] for k, v in cells.items() if v}
    if pick not in means or len(means) < len(cells):
        return Claim(name, study, "-", MISSING)
    order = sorted(means, key=means.get)
    best, runner = order[0], order[1] if len(order) > 1 else None
    if best == pick and runner is not None:
        ours = f"lowest: {best} ({means[best]:.3f}); next {runner} ({means[runner]:.3f})"
    else:
        ours = f"lowest: {best} ({means[best]:.3f}); {pick}: {means[pick]:.3f} (rank {order.index(pick) + 1})"
    spread = [_mean_std(v)[1] for v in cells.values() if len(v) > 1]
    note = f"typical seed-to-seed std {sum(spread) / len(spread):.3f}" if spread else "one seed per cell"
    return Claim(name, study, ours, REPRODUCED if best == pick else NOT_REPRODUCED, "lowest mean loss", note)


def _interaction_claim(name: str, study: str, estimate, budget: str, unit: str = "", scale: float = 1.0,
                       lower_is_better: bool = True):
    from ..claims import MISSING, NOT_COMPARABLE, NOT_REPRODUCED, REPRODUCED, Claim

    if estimate is None:
        return Claim(name, study, "-", MISSING)
    if estimate.method == "no replicates":
        return Claim(name, study, f"interaction {scale * estimate.value:+.3f}{unit} ({budget}; one run per cell)",
                     NOT_COMPARABLE, "needs two seeds per cell for an interval")
    synergy = estimate.side == (-1 if lower_is_better else 1)
    digits = 2 if unit else 3
    ours = f"interaction {estimate.format(digits, scale, unit)} ({estimate.level:.0%} t-interval, {budget})"
    return Claim(name, study, ours, REPRODUCED if synergy else NOT_REPRODUCED,
                 f"{estimate.level:.0%} interval {'below' if lower_is_better else 'above'} zero",
                 _synergy_word(estimate, lower_is_better))


def claims(runs: ChapterRuns) -> list:
    """Every headline number of the study beside ours."""
    from ..claims import MISSING, NOT_REPRODUCED, REPRODUCED, Claim

    g = runs.groups
    rows = []
    arch = {k: values(rs, last_val_loss) for k, rs in g["architecture"].items()}
    base = values(g["baseline"]["baseline"], last_val_loss)
    flex = arch.get((4, 32), [])
    rows.append(_loss_claim("Baseline validation loss", STUDY_CLAIMS["baseline"], base,
                            note="literal reading of the baseline (MaxPool 3); the FlexibleCNN 4L/32F gives "
                                 + (_fmt(flex) if flex else "-")))
    rows.append(_loss_claim("6L/64F: best architecture's loss", STUDY_CLAIMS["deep_wide"], arch.get((6, 64), [])))
    labelled = {f"{l}L/{f}F": v for (l, f), v in arch.items()}
    rows.append(_ranking_claim("6L/64F is the best architecture", "6L/64F lowest", "6L/64F", labelled))
    rows.append(_loss_claim("8L/32F degrades", STUDY_CLAIMS["very_deep"], arch.get((8, 32), []),
                            note="6L/64F: " + (_fmt(arch[(6, 64)]) if arch.get((6, 64)) else "-")))
    wide, narrow = arch.get((6, 64), []), arch.get((6, 16), [])
    if wide and narrow:
        ratio = _mean_std(wide)[0] / _mean_std(narrow)[0]
        acc = (_mean_std(values(g["architecture"][(6, 16)], lambda r: r.metrics["accuracy"]))[0]
               / _mean_std(values(g["architecture"][(6, 64)], lambda r: r.metrics["accuracy"]))[0])
        rows.append(Claim("6L/16F gives 90% of 6L/64F's performance", "90%",
                          f"{100 * ratio:.0f}% (loss ratio 6L/64F : 6L/16F); test accuracy ratio {100 * acc:.1f}%",
                          REPRODUCED if ratio >= 0.9 else NOT_REPRODUCED, "loss ratio at least 90%"))
    else:
        rows.append(Claim("6L/16F gives 90% of 6L/64F's performance", "90%", "-", MISSING))
    n16, n64 = parameters_of(Net(6, 16)), parameters_of(Net(6, 64))
    rows.append(Claim("6L/16F vs 6L/64F parameters", "20,346 vs 311,178 (15x)",
                      f"{n16:,} vs {n64:,} ({n64 / n16:.1f}x)",
                      REPRODUCED if (n16, n64) == (20_346, 311_178) else NOT_REPRODUCED, "exact count",
                      "the study's counts do not follow from its code"))
    nb = parameters_of(Net(model="synergy_baseline"))
    rows.append(Claim("Baseline parameters", "93,130", f"{nb:,} (literal reading); {parameters_of(Net(4, 32)):,} "
                      "(FlexibleCNN 4L/32F)", REPRODUCED if nb == 93_130 else NOT_REPRODUCED, "exact count"))
    for what, study_count, net in (("6L/64F BatchNorm parameters", 588_874, Net(6, 64, "batch")),
                                   ("6L/64F InstanceNorm parameters", 588_106, Net(6, 64, "instance")),
                                   ("4L/32F BatchNorm parameters", 832_554, Net(4, 32, "batch"))):
        ours = parameters_of(net)
        rows.append(Claim(what, f"{study_count:,}", f"{ours:,}", REPRODUCED if ours == study_count else NOT_REPRODUCED,
                          "exact count"))

    drop = {p: values(rs, last_val_loss) for p, rs in g["dropout"].items()}
    rows.append(_loss_claim("Dropout 0.1 (BatchNorm net): loss", STUDY_CLAIMS["dropout_0.1"], drop[0.1]))
    rows.append(_ranking_claim("0.1 is the best dropout rate", "0.1 lowest", "0.1",
                               {f"{p:g}": v for p, v in drop.items()}))
    init = {p: values(rs, initial_train_loss) for p, rs in g["dropout"].items()}
    rows.append(numeric_initial("Initial training loss, dropout 0.1", STUDY_CLAIMS["initial_0.1"], init[0.1]))
    rows.append(numeric_initial("Initial training loss, dropout 0.5", STUDY_CLAIMS["initial_0.5"], init[0.5]))

    norm = {n: values(rs, last_val_loss) for n, rs in g["norm"].items()}
    rows.append(_loss_claim("InstanceNorm (dropout 0.1): loss", STUDY_CLAIMS["instance"], norm["instance"]))
    rows.append(_ranking_claim("InstanceNorm is the best normalisation", "instance lowest", "instance", norm))
    combined = values(g["combined"]["combined"], last_val_loss)
    rows.append(_loss_claim("InstanceNorm + dropout 0.1: loss", STUDY_CLAIMS["combined"], combined,
                            note=f"{runs.settings.final_epochs} epochs; the same network after "
                                 f"{runs.settings.epochs}: " + (_fmt(norm["instance"]) if norm["instance"] else "-")))
    final = values(g["final"]["final"], last_val_loss)
    rows.append(_loss_claim("Final model (6L/64F, IN, dropout 0.1): loss", STUDY_CLAIMS["final"], final,
                            note="the study's own notebook shows 0.3626"))
    pairs = list(zip(stored(g["final"]["final"]), stored(g["baseline"]["baseline"])))
    if pairs:
        from ..claims import numeric_claim

        gains = [1 - last_val_loss(f) / last_val_loss(b) for f, b in pairs]
        rows.append(numeric_claim("Final model vs baseline: lower loss", STUDY_CLAIMS["improvement"], gains, floor=0.05,
                                  digits=1, note="1 - final / baseline, seed by seed"))
    else:
        rows.append(Claim("Final model vs baseline: lower loss", "60.0%", "-", MISSING))

    study_frame = factorial_frame(runs, "factorial_study")
    converged_frame = factorial_frame(runs, "factorial_converged")
    rows.append(_interaction_claim("IN + dropout 0.1: more than the sum of its parts (validation loss)",
                                   "synergy", headline_interaction(study_frame, "validation loss"), "study's budget"))
    rows.append(_interaction_claim("IN + dropout 0.1: more than the sum of its parts (validation loss)",
                                   "synergy", headline_interaction(converged_frame, "validation loss"), "converged"))
    rows.append(_interaction_claim("IN + dropout 0.1: more than the sum of its parts (test error)",
                                   "synergy", headline_interaction(converged_frame, "test error (%)"), "converged",
                                   unit=" pts"))
    estimate, _ = architecture_interaction(runs)
    rows.append(_interaction_claim("6L/64F + regularisation exceeds the sum of the two improvements",
                                   "0.406 gain vs 0.192 + 0.352", estimate, "study's budget"))
    return rows


def numeric_initial(name: str, study: float, xs):
    from ..claims import numeric_claim

    return numeric_claim(name, study, xs, floor=0.1, scale=1.0, unit="", digits=2,
                         note="mean training loss over the first epoch")


# ----- conclusion --------------------------------------------------------------------------------

def describe_interaction(estimate, digits: int = 3, unit: str = "") -> str:
    if estimate.method == "no replicates":
        return f"{estimate.value:+.{digits}f}{unit} (one run per cell, so no interval)"
    return (f"{estimate.format(digits, 1.0, unit)} ({estimate.level:.0%} t-interval): "
            f"{_synergy_word(estimate, True)}")


def _ranking_sentence(cells: dict, what: str) -> str:
    means = {k: _mean_std(v)[0] for k, v in cells.items() if v}
    if len(means) < 2:
        return ""
    order = sorted(means, key=means.get)
    stds = [_mean_std(v)[1] for v in cells.values() if len(v) > 1]
    gap = means[order[1]] - means[order[0]]
    noise = (f"; the gap to {order[1]} ({gap:.3f}) is "
             + ("larger" if stds and gap > 2 * max(stds) else "not larger")
             + " than twice the largest seed-to-seed standard deviation") if stds else ""
    return f"the lowest {what} loss is {order[0]} ({means[order[0]]:.3f}){noise}"


FACTORIAL_BUDGETS = (("factorial_study", "study budget"), ("factorial_converged", "converged"))
FACTORIAL_METRICS = ("validation loss", "test error (%)")


def interaction_census(runs: ChapterRuns, level: float = 0.95):
    """Every 2x2 interaction of the factorial (each norm x each dropout rate against (none, 0), both
    budgets, both metrics) sorted by its interval's side; None until a budget has replicated cells.

    Returns (tested, synergy labels, overlap labels, chance p): the chance p is a one-sided binomial
    test of seeing that many intervals on the synergy side if every interaction were zero (each side
    then has probability (1 - level) / 2). The interactions share cells, so it is a rough guide.
    """
    from scipy.stats import binomtest

    tested, synergy, overlap = 0, [], []
    for group, budget in FACTORIAL_BUDGETS:
        frame = factorial_frame(runs, group)
        for value in FACTORIAL_METRICS:
            cells = cells_of(frame, value)
            for n in runs.settings.norms:
                for p in runs.settings.dropouts:
                    keys = [(n, p), (n, 0.0), ("none", p), ("none", 0.0)]
                    if n == "none" or p == 0.0 or not all(k in cells for k in keys):
                        continue
                    estimate = _interaction_or_point(cells, "none", n, 0.0, p, level)
                    if estimate.method == "no replicates":
                        continue
                    tested += 1
                    label = f"{n} + dropout {p:g}, {value}, {budget}"
                    if estimate.side == -1:  # both metrics: lower is better
                        synergy.append(label)
                    elif estimate.side == 1:
                        overlap.append(label)
    if not tested:
        return None
    chance = binomtest(len(synergy), tested, (1 - level) / 2, alternative="greater").pvalue
    return tested, synergy, overlap, chance


def _census_sentence(census) -> str:
    tested, synergy, overlap, chance = census
    listed = lambda labels: f" ({'; '.join(labels)})" if labels else ""  # noqa: E731
    text = (f"- **Every pair, not just the study's.** Of the {tested} interactions measured (each normalisation "
            f"with each dropout rate, on validation loss and test error, at both budgets) {len(synergy)} "
            f"{'lies' if len(synergy) == 1 else 'lie'} entirely on the synergy side of zero{listed(synergy)} and {len(overlap)} entirely on the overlap "
            f"side{listed(overlap)}; the rest include zero. ")
    if chance < 0.05:
        text += (f"That many synergies would be unlikely if no pair interacted (one-sided binomial p = {chance:.3f}), "
                 "so some pairs do more than the sum of their parts.")
    else:
        text += (f"If no pair interacted at all, that many intervals would still fall on the synergy side by chance "
                 f"(one-sided binomial p = {chance:.2f}; the intervals share cells, so this is only a rough "
                 "guide): no more synergy than noise gives.")
    return text


def conclusion(runs: ChapterRuns) -> str:
    """The chapter's answer, written from the stored numbers (nothing typed in by hand)."""
    s, g = runs.settings, runs.groups
    lines = []
    base = values(g["baseline"]["baseline"], last_val_loss)
    final = values(g["final"]["final"], last_val_loss)
    if base and final:
        lines.append(f"- **The headline improvement.** The final network (6L/64F, InstanceNorm, dropout 0.1, "
                     f"{s.final_epochs} epochs) reaches a validation loss of {_fmt(final)} against {_fmt(base)} for "
                     f"the baseline (study: 0.270 and 0.676).")
    else:
        lines.append("- **The headline improvement** is written once the baseline and final runs are stored.")
    sweeps = []
    for group, what, label in (("architecture", "architecture", lambda k: f"{k[0]}L/{k[1]}F"),
                               ("dropout", "dropout", lambda k: f"dropout {k:g}"),
                               ("norm", "normalisation", lambda k: k)):
        sentence = _ranking_sentence({label(k): values(rs, last_val_loss) for k, rs in g[group].items()}, what)
        if sentence:
            sweeps.append(sentence)
    if sweeps:
        lines.append("- **The sweeps.** At the study's budget " + "; ".join(sweeps) + ".")
    short, longer = values(g["norm"]["instance"], last_val_loss), values(g["combined"]["combined"], last_val_loss)
    if short and longer:
        drop = _mean_std(short)[0] - _mean_std(longer)[0]
        study_gain = 0.351 - 0.324
        reading = ("more than the study's whole 'synergy' gain (0.027)" if drop >= study_gain else
                   "part of the study's 'synergy' gain (0.027)" if drop > 0 else
                   "nothing, so the extra epochs do not explain the study's gain")
        lines.append(f"- **The study's 'combination'** (0.324) is the very network of its normalisation sweep "
                     f"(InstanceNorm, dropout 0.1: 0.351) trained for {s.final_epochs} instead of {s.epochs} epochs. "
                     f"Here the extra epochs alone take it from {_fmt(short)} to {_fmt(longer)}, a change of "
                     f"{-drop:+.3f}: {reading}. Comparing the two numbers says nothing about combining.")
    verdicts = []
    for group, budget in (("factorial_study", "at the study's budget"),
                          ("factorial_converged", f"trained to convergence ({s.converged_layers}L/"
                                                  f"{s.converged_filters}F)")):
        frame = factorial_frame(runs, group)
        loss = headline_interaction(frame, "validation loss")
        if loss is None:
            lines.append(f"- **Factorial {budget}:** not complete in the store yet.")
            continue
        cells = cells_of(frame, "validation loss")
        norm_effect = _mean_std(cells[("instance", 0.0)])[0] - _mean_std(cells[("none", 0.0)])[0]
        drop_effect = _mean_std(cells[("none", 0.1)])[0] - _mean_std(cells[("none", 0.0)])[0]
        text = (f"- **Factorial {budget}.** Alone, InstanceNorm changes the validation loss by {norm_effect:+.3f} and "
                f"dropout 0.1 by {drop_effect:+.3f}; the interaction of the two is {describe_interaction(loss)}.")
        error = headline_interaction(frame, "test error (%)")
        if error is not None:
            text += f" On test error the interaction is {describe_interaction(error, 2, ' points')}."
        lines.append(text)
        if loss.method != "no replicates":
            verdicts.append(loss.side)
    estimate, _ = architecture_interaction(runs)
    if estimate is not None:
        lines.append(f"- **Architecture x regularisation.** Going from 4L/32F to 6L/64F and adding InstanceNorm with "
                     f"dropout 0.1 interact by {describe_interaction(estimate)}. By the study's own numbers the combined gain "
                     f"(0.676 - 0.270 = 0.406) is smaller than the sum of the two separate gains "
                     f"(0.192 + 0.352 = 0.544), the opposite of 'more than the sum'.")
    census = interaction_census(runs)
    if census is not None:
        lines.append(_census_sentence(census))
    if verdicts:
        if all(v == -1 for v in verdicts):
            answer = "Yes: at every budget we measured the pair does more than the sum of its parts."
        elif any(v == -1 for v in verdicts):
            answer = ("Only in part: the interaction is below zero at one budget and not at the other, so any "
                      "synergy depends on how long the networks train.")
        elif any(v == 1 for v in verdicts):
            answer = ("No. Where the interaction is distinguishable from zero it is positive: the two techniques "
                      "partly overlap - the diminishing returns the study set out expecting.")
        else:
            answer = ("No. The interaction is indistinguishable from zero: normalisation and dropout add up, and "
                      "nothing more, within the seed-to-seed noise.")
        lines.append(f"- **Is the combination more than the sum of its parts?** {answer}")
    return "\n".join(lines)
