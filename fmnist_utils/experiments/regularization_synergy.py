"""Chapter 5: the "regularisation synergy" study, its sweeps rerun and its synergy claim tested as a factorial.

The study trains a family of small CNNs (``flexible_cnn``) for 300 steps each and reads off one
loss per configuration on its validation stream, which it calls a test loss; the chapter reads that
stream as the test images and judges the study's numbers on the test loss of the same budget's last
model (``test_loss``), and the conclusion names every verdict the other reading, held-out training
images, would change (``reading_changes``). Its sweeps (architecture,
dropout, normalisation, the InstanceNorm + dropout pair and a final model) are rerun here at its own
budget with several seeds.
Its central claim, that normalisation and dropout together do more than the sum of their separate
effects, is an *interaction*; we measure it in a norm x dropout factorial with five seeds per cell,
at the study's budget and trained to convergence, with confidence intervals. Every headline claim
of the study is registered once in ``REGISTRY`` and judged by ``claims`` with the book's verdict
procedure (``fmnist_utils.verdicts``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ..chapter import settings_function
from ..claims import Registry, StudyClaim, counted
from ..config import RunConfig
from ..params import ChapterSpec, Param, int_list, optional, positive_int
from ..stats import mean_sd_text
from ..store import MissingRun, StoredRun, stored_runs as stored, table_or_pending
from ..tables import book_table
from .. import verdicts as v

TITLE = "Regularisation synergy, tested as a factorial experiment"

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


SWEEP_ARCHITECTURES = [[2, 64], [4, 32], [6, 16], [6, 64], [8, 32]]  # the study's architecture sweep
SAMPLE_BATCHES, SAMPLE_BATCH_SIZE = 50, 64  # the study's validation loop: its loss over 50 batches of 64 images
TEST_IMAGES = 10_000  # Fashion-MNIST's test set, the images the chapter reads the study's stream as
# epochs of the final models: the study's code trains them for 5; its journal gives the final model 7, and the
# final loss of its text is the journal's (so that number is set beside runs of 7 epochs, the notebook's beside 5)
CODE_FINAL_EPOCHS, JOURNAL_FINAL_EPOCHS = 5, 7

SPEC = ChapterSpec("regularization_synergy", [
    Param("seeds", {"paper": [42, 43, 44], "quick": [42], "smoke": [42]}, int_list,
          "training seeds of the study's sweeps (the study ran one)"),
    Param("factorial_seeds", {"paper": [42, 43, 44, 45, 46], "quick": [42, 43], "smoke": [42, 43]}, int_list,
          "training seeds of every cell of the norm x dropout factorial"),
    # five, not three, raised after the first three were stored: the study's two final numbers are its headline, and
    # the first three seeds of the final network at the code's budget spread by about 0.005, a quarter of the same
    # network's spread at 3 epochs (0.022) and half of it at 7 (0.010): too few seeds to trust a band that narrow
    Param("final_seeds", {"paper": [42, 43, 44, 45, 46], "quick": [42], "smoke": [42]}, int_list,
          "training seeds of the final network at the code's and the journal's budget (the study's final numbers)"),
    Param("norms", {"paper": ["none", "batch", "instance"], "quick": ["none", "batch", "instance"],
                    "smoke": ["none", "instance"]}, _norm_list, "normalisations of the factorial"),
    Param("dropouts", {"paper": [0.0, 0.1, 0.3], "quick": [0.0, 0.1, 0.3], "smoke": [0.0, 0.1]}, _dropout_list,
          "dropout rates of the factorial"),
    Param("architectures", SWEEP_ARCHITECTURES, _architecture_list,
          "[layers, filters] of the architecture sweep (the study's five)"),
    Param("steps_per_epoch", {"paper": 100, "quick": 30, "smoke": 5}, positive_int,
          "training steps per epoch at the study's budget (study: 100)"),
    Param("val_steps", {"paper": SAMPLE_BATCHES, "quick": 10, "smoke": 2}, positive_int,
          "validation batches per epoch at the study's budget (study: 50)"),
    Param("epochs", {"paper": 3, "quick": 3, "smoke": 1}, positive_int, "epochs of the sweeps (study: 3)"),
    Param("final_epochs", {"paper": CODE_FINAL_EPOCHS, "quick": CODE_FINAL_EPOCHS, "smoke": 2}, positive_int,
          "epochs of the two 'final' models (study code: 5)"),
    Param("journal_final_epochs", {"paper": JOURNAL_FINAL_EPOCHS, "quick": JOURNAL_FINAL_EPOCHS, "smoke": 3},
          positive_int, "epochs of the final model as the study's journal and text measured it (journal: 7)"),
    Param("train_subset", {"paper": None, "quick": None, "smoke": 512}, optional(positive_int),
          "train the study-budget runs on the first n images of the 54k split (None: all)"),
    Param("batch_size", {"paper": SAMPLE_BATCH_SIZE, "quick": 64, "smoke": 16}, positive_int,
          "training and validation batch size (study: 64)"),
    Param("converged_layers", 4, positive_int, "conv layers of the factorial trained to convergence"),
    Param("converged_filters", 16, positive_int, "filters of the factorial trained to convergence"),
    # 60: the slowest runs (dropout 0.3) were still improving at 15 epochs; a run that reaches the cap
    # before early stopping ends it has not converged, and the rows that need it say so
    Param("converged_max_epochs", {"paper": 60, "quick": 5, "smoke": 2}, positive_int,
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


settings_from = settings_function(SPEC)


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

    The study reads its loss after the last epoch; nothing is selected, so the stored test metrics are
    those of the last model, the model the study measured.
    """
    return RunConfig(model=net.model, model_args=net.args, train_subset=settings.train_subset,
                     eval_subset=settings.eval_subset, epochs=epochs or settings.epochs, steps_per_epoch=settings.steps_per_epoch,
                     val_steps=settings.val_steps, batch_size=settings.batch_size, select_best=False,
                     seed=seed, precision=settings.precision, **RECIPE)


def converged_config(settings, net: Net, seed: int) -> RunConfig:
    """Full passes over the 54k split, early stopping on the 6k validation loss, best checkpoint tested."""
    return RunConfig(model=net.model, model_args=net.args, train_subset=settings.converged_subset,
                     eval_subset=settings.eval_subset, epochs=settings.converged_max_epochs,
                     patience=settings.converged_patience, batch_size=settings.batch_size, select_best=True,
                     seed=seed, precision=settings.precision, **RECIPE)


SWEEP_NET = dict(layers=4, filters=32)  # the architecture of the study's regularisation sweeps
FINAL_NET = Net(6, 64, "instance", 0.1)
DEPTH_NORM_NET = Net(6, 64, "instance")
SWEEP_DROPOUTS = (0.1, 0.3, 0.5)
SWEEP_NORMS = ("instance", "batch", "layer", "group", "none")


def design(settings) -> dict[str, dict]:
    """Every group of runs: group -> cell key -> (Net, [RunConfig per seed])."""
    seeds, fseeds = settings.seeds, settings.factorial_seeds
    dropouts = [float(p) for p in settings.dropouts]  # 0 and 0.0 are one cell

    def study(net: Net, seed_list, epochs=None):
        return net, [study_config(settings, net, s, epochs) for s in seed_list]

    groups = {
        "baseline": {"baseline": study(Net(model="synergy_baseline"), seeds)},
        "architecture": {(l, f): study(Net(l, f), seeds) for l, f in map(tuple, settings.architectures)},
        "dropout": {p: study(Net(**SWEEP_NET, norm="batch", dropout=p), seeds) for p in SWEEP_DROPOUTS},
        "norm": {n: study(Net(**SWEEP_NET, norm=n, dropout=0.1), seeds) for n in SWEEP_NORMS},
        "combined": {"combined": study(Net(**SWEEP_NET, norm="instance", dropout=0.1), seeds, settings.final_epochs)},
        "final": {"final": study(FINAL_NET, settings.final_seeds, settings.final_epochs)},
        # the final network at the journal's budget: the text's final loss is the journal's number
        "final_journal": {"final_journal": study(FINAL_NET, settings.final_seeds, settings.journal_final_epochs)},
        # the final network at the sweeps' budget: the fourth corner of architecture x regularisation
        "final_short": {"final_short": study(FINAL_NET, seeds)},
        # the final network with normalisation and no dropout: the fourth corner of depth x normalisation
        "norm_depth": {"norm_depth": study(DEPTH_NORM_NET, seeds)},
        "factorial_study": {(n, p): study(Net(**SWEEP_NET, norm=n, dropout=p), fseeds)
                            for n in settings.norms for p in dropouts},
    }
    converged = dict(layers=settings.converged_layers, filters=settings.converged_filters)
    groups["factorial_converged"] = {
        (n, p): (Net(**converged, norm=n, dropout=p),
                 [converged_config(settings, Net(**converged, norm=n, dropout=p), s) for s in fseeds])
        for n in settings.norms for p in dropouts}
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
    chapter_design = design(settings)
    # one configuration planned in several groups (a sweep's cell is also a factorial cell, with more seeds): every
    # group reads all of its seeds, so that no stored seed of it is left out of a row
    seeds_of: dict[str, dict] = {}
    for group in chapter_design.values():
        for _, configs in group.values():
            for c in configs:
                seeds_of.setdefault(store.key(replace(c, seed=0)), {})[c.seed] = found[store.key(c)]
    groups, nets = {}, {}
    for name, group in chapter_design.items():
        groups[name] = {key: _every_seed(configs, seeds_of, store) for key, (_, configs) in group.items()}
        nets[name] = {key: net for key, (net, _) in group.items()}
    return ChapterRuns(groups, nets, list(settings.seeds), list(settings.factorial_seeds), settings)


def _every_seed(configs: list, seeds_of: dict, store) -> list:
    """The runs of every seed the chapter plans of ``configs``' configuration (in any group), in seed order."""
    every = seeds_of[store.key(replace(configs[0], seed=0))]
    return [every[seed] for seed in sorted(every)]


# ----- reading runs ------------------------------------------------------------------------------

def test_loss(run) -> float:
    """The loss on the test images of the model the run hands back: at the study's budget the last epoch's
    (nothing is selected), trained to convergence the best validation epoch's checkpoint.

    This is the study's "test loss" as the chapter reads it: a loss on test images, which the study
    names a test loss and computes in its validation loop. The book measures it on all test images of
    the profile, the study on 50 batches of 64 of them.
    """
    return run.metrics["loss"]


def last_val_loss(run) -> float:
    """The validation loss (held-out training images) after the last epoch."""
    return run.history[-1]["val_loss"]


def best_val_loss(run) -> float:
    return min(row["val_loss"] for row in run.history)


@dataclass(frozen=True)
class LossReading:
    """Which images the study's "test loss" is read on: how a sweep run gives it, the factorial's column, the
    pool the study's 50 batches were drawn from (None: one too large to correct for) and how many images our own
    value averages (``evaluated(run)``)."""

    images: str
    read: Callable
    column: str
    pool: int | None
    evaluated: Callable


def _evaluated_test_images(run) -> int:
    return len(run.image_losses)


def _validation_images(run) -> int:
    return run.config.val_steps * run.config.batch_size


TEST_READING = LossReading("test images", test_loss, "test loss", TEST_IMAGES, _evaluated_test_images)
VALIDATION_READING = LossReading("held-out training images", last_val_loss, "validation loss", None,
                                 _validation_images)


def initial_train_loss(run) -> float:
    """Mean training loss over the first epoch (the study's "initial training loss")."""
    return run.history[0]["train_loss"]


def values(runs: list, metric) -> list[float]:
    return [metric(r) for r in stored(runs)]


def complete(runs: list) -> bool:
    """Every run of a configuration is in the store (a missing one leaves the configuration out)."""
    return all(isinstance(r, StoredRun) for r in runs)


def measured(runs: list | None, metric=test_loss) -> list[float] | None:
    """Every seed's ``metric`` of a configuration, or None while one of its runs is not stored: a claim row
    judges all the planned seeds or none (the tables show what is stored, with the count)."""
    return values(runs, metric) if runs and complete(runs) else None


def converged(run: StoredRun) -> bool:
    """Early stopping ended the run: its validation loss stopped improving before the epoch cap.

    A run that reached its cap instead (its best epoch at or near the cap) was still improving and
    has not converged."""
    return bool(run.result.get("stopped_early"))


_fmt = mean_sd_text


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
        "final": "final model (6L/64F), final budget (code)", "final_journal": "final model, the journal's budget",
        "final_short": "final model at the sweeps' budget",
        "norm_depth": "6L/64F, InstanceNorm, no dropout",
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
    keys = {r.key for group in runs.groups.values() for rs in group.values() for r in rs if isinstance(r, MissingRun)}
    return sorted(keys)


# ----- the study's claims ------------------------------------------------------------------------

# What the study measures. Its "test loss" is the loss on test images (its validation stream) of the
# model after the last epoch of a fixed budget, printed as a percentage (67.6% means 0.676).
LOSS = "test loss after the sweeps' budget (3 x 100 steps), last epoch's model: the study's 'test loss'"
LOSS_FINAL = "test loss after the final models' budget (5 x 100 steps), last epoch's model"
LOSS_JOURNAL_FINAL = (f"test loss after the journal's budget for the final model ({JOURNAL_FINAL_EPOCHS} x 100 "
                      "steps), last epoch's model")
ORDER = "ordering of test loss after the sweeps' budget, last epoch's model"
SHARE = "6L/64F's test loss as a share of 6L/16F's (sweeps' budget, last epoch's model)"
INITIAL = "training loss, mean over the first epoch"
INITIAL_ORDER = "ordering of the first epoch's mean training loss"
RELATIVE = (f"relative reduction of test loss: final model ({JOURNAL_FINAL_EPOCHS} epochs) against the baseline "
            "(3 epochs)")
GAIN = ("relative reduction of test loss: the combination (5 x 100 steps) against {single} (3 x 100 steps), "
        "last epoch's models")
GAIN_INSTANCE = GAIN.format(single="the normalisation sweep's InstanceNorm")
GAIN_DROPOUT = GAIN.format(single="the dropout sweep's dropout 0.1")
PARAMETERS = "parameters"
SYNERGY = "norm x dropout interaction on test loss, sweeps' budget, last epoch's model"
SYNERGY_CONVERGED = ("norm x dropout interaction on test loss, best validation epoch's checkpoint, trained to "
                     "convergence")
SYNERGY_ALL = ("mean norm x dropout interaction over every normalisation of the factorial with light dropout, test "
               "loss, sweeps' budget, last epoch's model")
SYNERGY_ALL_CONVERGED = ("mean norm x dropout interaction over every normalisation of the factorial with light dropout, "
                         "test loss, best validation epoch's checkpoint, trained to convergence")
# the study's general lesson is about "light stochastic regularization combined with strong deterministic
# normalization": its light dropout is its best rate, 0.1; it calls the heavier rates degrading
LIGHT_DROPOUT = 0.1
# how the synergy rows read the study's words, said in their notes
SYNERGY_SCALE = ("tested on the loss itself: below zero, the pair's gain exceeds the sum of the two single gains, "
                 "the opposite of the diminishing returns the study says it disproved; taken literally, "
                 "'multiplicative' gains (each technique scaling the loss by a factor) would put the interaction "
                 "above zero, so the row reads the word as 'more than additive'")
ARCH_SYNERGY_OWN = ("the combined gain over the baseline against the sum of the two separate gains, by the study's "
                    "printed losses")
ARCH_SYNERGY = "architecture x regularisation interaction on test loss, sweeps' budget, last epoch's model"
DEPTH_NORM = ("depth x normalisation interaction on test loss (4L/32F -> 6L/64F, none -> InstanceNorm, no dropout), "
              "sweeps' budget, last epoch's model")


def _loss(claim: StudyClaim) -> StudyClaim:
    """A loss, or a relative change of losses, printed as a percentage: what matters is 10% of it, not one
    percentage point."""
    return replace(claim, material=0.1 * claim.value)


REGISTRY = Registry([
    _loss(StudyClaim("baseline_loss", "baseline CNN's loss", "The Experiments", "67.6%", LOSS)),
    _loss(StudyClaim("arch_best_loss", "6L/64F's loss", "The Experiments", "48.4%", LOSS)),
    StudyClaim("arch_best", "6 layers / 64 filters is the best architecture", "The Experiments", "6L/64F", ORDER),
    StudyClaim("depth_over_width", "depth matters more than width (deep narrow beats shallow wide)",
               "The Experiments", "depth matters more than width", ORDER),
    _loss(StudyClaim("very_deep_loss", "8L/32F's loss", "The Experiments", "52.1%", LOSS)),
    StudyClaim("very_deep_degrades", "8 layers degrade performance against 6L/64F", "The Experiments",
               "degraded", ORDER),
    StudyClaim("vanishing_gradients", "8 layers suffer vanishing gradients without skip connections",
               "The Experiments", "vanishing gradient issues", "gradient norms per layer",
               not_tested="no gradients are measured, by the study or here; the 8-layer network also has half "
                          "the filters of 6L/64F, so depth is not isolated"),
    StudyClaim("narrow_share", "6L/16F delivers 90% of the wide 6-layer network's performance", "The Experiments",
               "90%", SHARE),
    StudyClaim("params_narrow", "6L/16F's parameter count", "The Experiments", "20,346", PARAMETERS),
    StudyClaim("params_wide", "6L/64F's parameter count ('the wide variant')", "The Experiments", "311,178",
               PARAMETERS),
    _loss(StudyClaim("dropout_loss", "dropout 0.1's loss", "Regularization Discoveries", "34.9%", LOSS)),
    StudyClaim("dropout_best", "0.1 is the best dropout rate of 0.1 / 0.3 / 0.5", "Regularization Discoveries",
               "0.1", ORDER),
    StudyClaim("initial_01", "first-epoch training loss at dropout 0.1", "Regularization Discoveries", "0.71",
               INITIAL),
    StudyClaim("initial_05", "first-epoch training loss at dropout 0.5", "Regularization Discoveries", "1.46",
               INITIAL),
    StudyClaim("dropout_05_struggles", "dropout 0.5 starts training at a higher loss than 0.1",
               "Regularization Discoveries", "0.5 > 0.1", INITIAL_ORDER),
    StudyClaim("dropout_05_converge", "at dropout 0.5 the network struggled to converge", "Regularization Discoveries",
               "struggled to converge", "convergence at dropout 0.5",
               not_tested="the study gives no measure of convergence: its only evidence is the first epoch's training "
                          "loss (row dropout_05_struggles), measured with dropout on, which raises it by itself; the "
                          "losses after its budget are in the dropout rows"),
    StudyClaim("dropout_spatial", "feature maps need lighter dropout than dense layers",
               "Regularization Discoveries", "different treatment than dense layer neurons",
               "dropout sweep of a dense network",
               not_tested="no dense network's dropout rate is swept, by the study or here"),
    _loss(StudyClaim("instance_loss", "InstanceNorm's loss", "Regularization Discoveries", "35.1%", LOSS)),
    StudyClaim("instance_best", "InstanceNorm is the best normalisation", "Regularization Discoveries",
               "InstanceNorm", ORDER),
    StudyClaim("instance_brightness", "InstanceNorm wins by removing per-image brightness",
               "Regularization Discoveries", "per-image normalization removes these statistical variations",
               "a brightness analysis", not_tested="an explanation; no per-image brightness analysis is made"),
    _loss(StudyClaim("combined_loss", "InstanceNorm + dropout 0.1's loss", "The Power of Synergy", "32.4%",
                     LOSS_FINAL)),
    StudyClaim("combined_beats_singles", "InstanceNorm + dropout 0.1 beats each technique alone",
               "The Power of Synergy", "improvement over individual methods", ORDER),
    _loss(StudyClaim("gain_over_instance", "the combination improves by 7-8% on the study's 'InstanceNorm' run "
                     "(InstanceNorm + dropout 0.1, 3 epochs)", "The Power of Synergy", "7-8%", GAIN_INSTANCE)),
    _loss(StudyClaim("gain_over_dropout", "the combination improves by 7-8% on the study's 'dropout 0.1' run "
                     "(BatchNorm + dropout 0.1, 3 epochs)", "The Power of Synergy", "7-8%", GAIN_DROPOUT)),
    StudyClaim("synergy", "InstanceNorm + dropout 0.1 gain more than the sum of their single gains (no diminishing "
               "returns)", "The Power of Synergy", "multiplicative rather than additive", SYNERGY),
    StudyClaim("synergy_converged", "InstanceNorm + dropout 0.1 gain more than the sum of their single gains, trained "
               "to convergence", "The Power of Synergy", "multiplicative rather than additive", SYNERGY_CONVERGED),
    StudyClaim("mechanisms", "the two act by complementary mechanisms (gradients vs regularisation)",
               "The Power of Synergy", "address fundamentally different problems", "gradient and variance analysis",
               not_tested="an explanation; neither gradients nor per-image variance are measured"),
    _loss(StudyClaim("final_loss", "final model (6L/64F, InstanceNorm, dropout 0.1)'s loss", "The Power of Synergy",
                     "27.0%", LOSS_JOURNAL_FINAL)),
    StudyClaim("final_notebook", "the final model's loss in the study's own notebook", "study notebook", "0.3626",
               LOSS_FINAL),
    # 10% of the 60% improvement is what matters, as for a loss
    StudyClaim("improvement", "the final model is 60% better than the baseline", "The Power of Synergy", "60%",
               RELATIVE, material=0.06),
    StudyClaim("arch_synergy", "6L/64F + regularisation exceeds the sum of the two improvements",
               "The Power of Synergy", "exceeded the sum of individual improvements", ARCH_SYNERGY),
    StudyClaim("arch_synergy_own", "6L/64F + regularisation exceeds the sum of the two improvements, by the study's "
               "own losses", "The Power of Synergy; against its own numbers", "exceeded the sum of individual "
               "improvements", ARCH_SYNERGY_OWN, against_itself=True),
    StudyClaim("placement", "Dropout2d after ReLU and before pooling is the best placement", "Key Technical Insights",
               "Conv2d → InstanceNorm → ReLU → Dropout2D → MaxPool2d", "placements of dropout",
               not_tested="no other placement is trained, by the study or here"),
    StudyClaim("params_4l", "the 4-layer baseline's parameter count", "Key Technical Insights", "93K", PARAMETERS),
    StudyClaim("params_6l", "the 6-layer model's parameter count", "Key Technical Insights", "588K", PARAMETERS),
    StudyClaim("dropout_scales", "0.1 stays the best dropout rate from 4 to 6 layers", "Key Technical Insights",
               "remained optimal", "dropout sweep of the 6-layer network",
               not_tested="the dropout rate is swept in the 4-layer network only, by the study and here"),
    StudyClaim("norm_enables_depth", "normalisation enables depth: the 6-layer network needs it more than the "
               "4-layer one", "Key Technical Insights", "Normalization enables depth", DEPTH_NORM),
    StudyClaim("synergy_general", "light dropout and normalisation are synergistic (the general lesson), over "
               "every normalisation of the factorial", "Conclusion", "synergy between dropout and normalization",
               SYNERGY_ALL),
    StudyClaim("synergy_general_converged", "light dropout and normalisation are synergistic (the general lesson), "
               "over every normalisation of the factorial, trained to convergence", "Conclusion",
               "synergy between dropout and normalization", SYNERGY_ALL_CONVERGED),
])

# The study's experiment journal (published with its code): the value of every configuration it ran,
# for the tables' and figures' "study" marks. The claims above are the text's.
JOURNAL_ARCHITECTURE = {(2, 64): 0.5163, (4, 32): 0.5030, (6, 16): 0.5145, (6, 64): 0.4847, (8, 32): 0.5209}
JOURNAL_ARCH_NAMES = {(2, 64): "shallow_wide", (4, 32): "baseline", (6, 16): "deep_narrow", (6, 64): "deep_wide",
                      (8, 32): "very_deep"}
JOURNAL_DROPOUT = {0.1: 0.3491, 0.3: 0.4284, 0.5: 0.5188}
JOURNAL_NORM = {"instance": 0.3514, "batch": 0.3753, "layer": 0.4219, "group": 0.4266, "none": 0.5299}
JOURNAL_COMBINED, JOURNAL_FINAL = 0.3238, 0.2703

# Parameter counts of the study's code and journal: (network, source, count, Net)
CODE_COUNTS = [
    ("6L/64F, BatchNorm", "study code", 588_874, Net(6, 64, "batch")),
    ("6L/64F, InstanceNorm (the final model)", "study code", 588_106, Net(6, 64, "instance", 0.1)),
    ("4L/32F, BatchNorm (dropout sweep)", "study code", 832_554, Net(4, 32, "batch", 0.1)),
    ("4L/32F, InstanceNorm (the combined model)", "study journal", 832_298, Net(4, 32, "instance", 0.1)),
    ("baseline: 4 blocks of 32, MaxPool 3 (our literal reading)", "study code", 93_130, Net(model="synergy_baseline")),
    ("2L/64F, no norm (shallow wide)", "study journal", 208_522, Net(2, 64)),
    ("8L/32F, no norm (very deep)", "study journal", 103_498, Net(8, 32)),
]
# The counts of the text, with the network each describes: (claim id, network, Net)
TEXT_COUNTS = [
    ("params_narrow", "6L/16F, no norm (deep narrow)", Net(6, 16)),
    ("params_wide", "6L/64F, no norm (the 'wide variant')", Net(6, 64)),
    ("params_4l", "the 4-layer baseline: 4 blocks of 32, MaxPool 3 (our literal reading)",
     Net(model="synergy_baseline")),
    ("params_6l", "the 6-layer model: 6L/64F, InstanceNorm, dropout 0.1", FINAL_NET),
]


def parameter_table():
    """Every parameter count the study gives (text, code and journal) beside the network's count here; "same"
    at the study's printed precision."""
    import pandas as pd

    rows = [(what, f"study text, {REGISTRY[claim].where}", REGISTRY[claim].printed, REGISTRY[claim].value,
             REGISTRY[claim].rounding, net) for claim, what, net in TEXT_COUNTS]
    rows += [(what, source, f"{count:,}", count, 0, net) for what, source, count, net in CODE_COUNTS]
    table = [{"network": what, "source of the count": source, "study": printed, "this book": f"{parameters_of(net):,}",
              "same": "yes" if abs(parameters_of(net) - count) <= rounding else "no"}
             for what, source, printed, count, rounding, net in rows]
    return pd.DataFrame(table).set_index("network")


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def parameter_text() -> str:
    """The paragraph before ``parameter_table``, written from it and from ``network_match`` (so that it
    cannot contradict the table or the claim rows)."""
    table = parameter_table()
    text = table[table["source of the count"].str.startswith("study text")]
    other = table[~table["source of the count"].str.startswith("study text")]
    same, differ = list(other.index[other["same"] == "yes"]), list(other.index[other["same"] == "no"])
    parts = [f"Parameter counts, the study's beside ours. Of the {len(other)} counts the study's code and journal "
             f"give, {len(same)} {'is' if len(same) == 1 else 'are'} reproduced exactly"
             + (f" and {len(differ)} {'is' if len(differ) == 1 else 'are'} not: {_names(differ)}" if differ else "")
             + f". Of the {len(text)} counts of its text, {int((text['same'] == 'yes').sum())} "
               f"agree{'s' if (text['same'] == 'yes').sum() == 1 else ''} with ours."]
    measured_nets = {"the baseline": Net(model="synergy_baseline"),
                     **{f"{l}L/{f}F": Net(l, f) for l, f in SWEEP_ARCHITECTURES}}
    matches = {name: network_match(name, net) for name, net in measured_nets.items()}
    far = [name for name, (reason, _) in matches.items() if reason]
    close = [note for _, (reason, note) in matches.items() if not reason and "close" in note]
    readings = [note for _, (reason, note) in matches.items() if not reason and note and "close" not in note]
    wide, six = REGISTRY["params_wide"], REGISTRY["params_6l"]
    parts.append(f"The text contradicts itself: it gives the 6-layer, 64-filter network {wide.printed} parameters "
                 f"({wide.where}) and {six.printed}, the code's count, in {six.where}; we train the code's network "
                 f"({v.join_notes(*readings)}). Our baseline is a literal reading of the study's \"4 blocks of 32 filters "
                 f"with MaxPool 3\" (`synergy_baseline`, one 3x3 max pooling) with "
                 f"{parameters_of(measured_nets['the baseline']):,} parameters; the study gives its baseline "
                 f"{_listed(study_counts(measured_nets['the baseline']))}"
                 + (", which agree with each other: the study is consistent, and the failure is our reconstruction's"
                    if _consistent(study_counts(measured_nets["the baseline"])) else "")
                 + ". The model's docstring lists the readings we tried. The 4-layer, 32-filter FlexibleCNN, which the "
                 f"study's journal also calls \"baseline\", is the second row of the architecture sweep.")
    if far:
        parts.append(f"Where our network is far from the count the study gives for the one it measured "
                     f"({_names(far)}), it is not the study's network: every claim row measured on it is not "
                     f"comparable, with the counts as the reason and our number kept."
                     + (f" Where it is close ({v.join_notes(*close)}), the row keeps its verdict and its note gives the "
                        f"difference." if close else ""))
    return " ".join(parts)


# ----- is our network the study's? ----------------------------------------------------------------

# Norms without parameters (InstanceNorm has no affine ones here) and dropout leave a count unchanged.
_PARAMETER_FREE_NORMS = ("none", "instance")


@dataclass(frozen=True)
class StudyCount:
    """One parameter count the study gives for a network, with its source and printed precision."""

    source: str
    printed: str
    value: float
    rounding: float
    claim: str | None = None  # the registry claim that states it, for the text's counts

    def agrees(self, count: int) -> bool:
        return abs(count - self.value) <= self.rounding * (1 + 1e-9)


def _architecture(net: Net) -> tuple:
    """What a parameter count depends on: model, depth, width and a norm that has parameters."""
    return net.model, net.layers, net.filters, "none" if net.norm in _PARAMETER_FREE_NORMS else net.norm


def study_counts(net: Net) -> list[StudyCount]:
    """Every count the study gives (text, code, journal) for ``net``'s architecture."""
    key = _architecture(net)
    text = [StudyCount(f"study text, {REGISTRY[c].where}", REGISTRY[c].printed, REGISTRY[c].value,
                       REGISTRY[c].rounding, c) for c, _, other in TEXT_COUNTS if _architecture(other) == key]
    code = [StudyCount(source, f"{count:,}", count, 0) for _, source, count, other in CODE_COUNTS
            if _architecture(other) == key]
    return text + code


def _consistent(counts: list[StudyCount]) -> bool:
    """Two or more counts that agree with each other at the coarser one's printed precision."""
    return len(counts) > 1 and all(abs(a.value - b.value) <= max(a.rounding, b.rounding) * (1 + 1e-9)
                                   for a in counts for b in counts)


def _listed(counts: list[StudyCount]) -> str:
    return ", ".join(f"{c.printed} ({c.source})" for c in counts)


def network_match(name: str, net: Net) -> tuple[str, str]:
    """(reason, note) on whether ``net`` is the network the study measured, judged by parameter counts.

    reason (not empty): ours is far from every count the study gives for it, so it is another network
    and a row measured on it is not comparable. note: ours agrees with one of the study's counts and
    not with another (the reading we train), or is close to the study's count without equalling it.
    Both empty when the study gives no count or every count agrees with ours."""
    ours, counts = parameters_of(net), study_counts(net)
    if not counts:
        return "", ""
    same = [c for c in counts if c.agrees(ours)]
    other = [c for c in counts if not c.agrees(ours)]
    if same:
        return "", (f"{name} has {ours:,} parameters here, as in {_listed(same)}, not the {_listed(other)} the study "
                    f"also gives" if other else "")
    if v.same_network(ours, [c.value for c in counts]):  # the book's rule: within 1% of every count
        return "", f"{name} has {ours:,} parameters here, {_listed(counts)} in the study: close, not equal"
    return f"{name} has {ours:,} parameters here, {_listed(counts)} in the study", ""


def on_study_networks(row: v.Verdict, nets: dict[str, Net], note: str = "") -> v.Verdict:
    """``row`` as judged when every network it measures is the study's; not comparable (our number kept)
    when one of them is far from the study's count, with the counts as the reason and ``note`` (the note
    the row was judged with); the readings and near misses added to its note otherwise. A missing row
    stays missing."""
    matches = [network_match(name, net) for name, net in nets.items()]
    far = v.join_notes(*(reason for reason, _ in matches))
    readings = v.join_notes(*(reading for _, reading in matches))
    if row.verdict == v.MISSING:
        return row
    if far:
        return v.not_comparable(REGISTRY[row.id], row.ours,
                                v.join_notes(f"not the study's network: {far}; we could not build the study's network "
                                        f"from its description", note, readings))
    return replace(row, note=v.join_notes(row.note, readings))


# ----- sweep tables ------------------------------------------------------------------------------

SWEEP_NOTE = ("params: trainable parameters; test loss: loss on the test set of the model after the last epoch "
              "(what the study calls its 'test loss'), mean ± std over the seeds; study: the study's value of it; "
              "val loss: loss on the held-out training images after the last epoch; test acc: the test set, "
              "mean ± std; first loss: training loss of the first epoch; runs: stored / planned.")


def _cell_row(net: Net, rs: list, study_value) -> dict:
    return {
        "params": f"{parameters_of(net):,}",
        "test loss": _fmt(values(rs, test_loss)),
        "study": "-" if study_value is None else f"{study_value:.4f}",
        "val loss": _fmt(values(rs, last_val_loss)),
        "test acc (%)": _fmt(values(rs, lambda r: r.metrics["accuracy"]), 2, 100),
        "first loss": _fmt(values(rs, initial_train_loss), 2),
        "runs": f"{len(stored(rs))}/{len(rs)}",
    }


def architecture_table(runs: ChapterRuns):
    import pandas as pd

    rows = [{"network": runs.nets["baseline"]["baseline"].label,
             **_cell_row(runs.nets["baseline"]["baseline"], runs.groups["baseline"]["baseline"],
                         REGISTRY["baseline_loss"].value)}]
    for key, rs in runs.groups["architecture"].items():
        name = JOURNAL_ARCH_NAMES.get(key)
        rows.append({"network": f"{key[0]}L/{key[1]}F" + (f" ({name})" if name else ""),
                     **_cell_row(runs.nets["architecture"][key], rs, JOURNAL_ARCHITECTURE.get(key))})
    return book_table(pd.DataFrame(rows).set_index("network"), SWEEP_NOTE)


def dropout_table(runs: ChapterRuns):
    import pandas as pd

    return book_table(pd.DataFrame([{"dropout": f"{p:g}", **_cell_row(runs.nets["dropout"][p], rs, JOURNAL_DROPOUT.get(p))}
                                    for p, rs in runs.groups["dropout"].items()]).set_index("dropout"), SWEEP_NOTE)


def norm_table(runs: ChapterRuns):
    import pandas as pd

    return book_table(pd.DataFrame([{"normalisation": n, **_cell_row(runs.nets["norm"][n], rs, JOURNAL_NORM.get(n))}
                                    for n, rs in runs.groups["norm"].items()]).set_index("normalisation"), SWEEP_NOTE)


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
        ("6L/64F, InstanceNorm, dropout 0.1", s.final_epochs, FINAL_NET, runs.groups["final"]["final"],
         REGISTRY["final_notebook"].value),  # the study's own notebook, which trains the code's budget
        ("6L/64F, InstanceNorm, dropout 0.1", s.journal_final_epochs, FINAL_NET,
         runs.groups["final_journal"]["final_journal"], JOURNAL_FINAL),
    ]
    rows = [{"network": name, "epochs": epochs, **_cell_row(net, rs, study)} for name, epochs, net, rs, study in items]
    return book_table(pd.DataFrame(rows).set_index(["network", "epochs"]),
                      SWEEP_NOTE + f" The study's value after {s.final_epochs} epochs of 6L/64F is its own notebook's; "
                                   f"after {s.journal_final_epochs}, its journal's (the text's).")


def seeds_frame(runs: ChapterRuns, group: str, label=str):
    """One row per stored run of a sweep: cell label, seed, the study's measure and test metrics."""
    import pandas as pd

    rows = [{"cell": label(key), "seed": r.config.seed, "validation loss": last_val_loss(r),
             "test loss": test_loss(r), "test accuracy": r.metrics["accuracy"]}
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
    table = frame.groupby("group").agg(**{"runs": ("train seconds", "size"), "s per run": ("train seconds", "mean"),
                                          "hours": ("train seconds", lambda s: s.sum() / 3600),
                                          "threads": ("threads", "max"), "epochs": ("epochs", "mean")}).round(2)
    return book_table(table, "s per run: training seconds of one run, mean; hours: all runs of the group together; "
                             "threads: the most any run used; epochs: mean epochs per run.")


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
        return {"baseline": REGISTRY["baseline_loss"].value,
                **{cell_label(group, k): v for k, v in JOURNAL_ARCHITECTURE.items()}}
    if group == "dropout":
        return {cell_label(group, k): v for k, v in JOURNAL_DROPOUT.items()}
    if group == "norm":
        return dict(JOURNAL_NORM)
    return {}


def sweep_strip(runs: ChapterRuns, group: str, title: str = ""):
    """Every seed's test loss per cell, the study's value as a red cross, or a hollow red circle where our network
    is not the one the study measured (``network_match``: its parameter count is far from the study's), so the two
    are not read as like with like; None when nothing is stored."""
    from .. import plots

    frame = sweep_frame(runs, group)
    if frame.empty:
        return None
    nets = {cell_label(group, k): net for k, net in runs.nets.get(group, {}).items()}
    if group == "architecture":
        nets["baseline"] = runs.nets["baseline"]["baseline"]
    unlike = {label for label, net in nets.items() if network_match(label, net)[0]}
    return plots.strip_box(frame, "cell", "test loss", reference=study_reference(group), unlike=unlike,
                           ylabel="test loss after the last epoch", title=title)


CURVE_LOSS = "validation loss"  # held-out training images: the only loss measured after every epoch


def sweep_curves(runs: ChapterRuns, key: str = "val_loss", ylabel: str = CURVE_LOSS):
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
    """Interaction plots (test loss, test error) with pooled t-intervals side by side, and below
    them every seed per cell."""
    from .. import plots

    if frame.empty:
        return None
    fig, axes = plots.figure(3, row_height=[3.2, 3.0])
    for ax, value in zip(axes[:2], FACTORIAL_METRICS):
        plots.interaction_plot(factorial_means(frame, value, level), x="dropout", trace="norm", xlabel="dropout rate",
                               ylabel=value, title=f"mean and {level:.0%} interval", ax=ax)
        ax.get_legend().remove()  # one legend for the three panels: the colours of the panel below
    spread = frame.assign(dropout=frame["dropout"].map(lambda p: f"{p:g}"))
    plots.strip_box(spread, "dropout", "test loss", hue="norm", ylabel="test loss",
                    title="every seed", ax=axes[2])
    axes[2].set_xlabel("dropout rate")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def converged_curves(runs: ChapterRuns, key: str = "val_loss", ylabel: str = CURVE_LOSS):
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

FACTORIAL_BUDGETS = (("factorial_study", "study budget"), ("factorial_converged", "converged"))
FACTORIAL_METRICS = ("test loss", "test error (%)")


def factorial_frame(runs: ChapterRuns, group: str):
    """Long frame of a factorial: one row per run of every *complete* cell (all its seeds stored), with norm,
    dropout, seed, the measures, and whether early stopping ended the run.

    A cell with a run not yet stored is left out whole, so every table, figure and interval below
    shows it as missing rather than computed from some of its seeds. The test loss is the study's
    measure (``test_loss``); the validation loss beside it is the last epoch's at the study's budget and,
    trained to convergence, the best epoch's, whose checkpoint is the one tested.
    """
    import pandas as pd

    pick = last_val_loss if group == "factorial_study" else best_val_loss
    rows = [{"norm": n, "dropout": p, "seed": r.config.seed, "validation loss": pick(r), "test loss": test_loss(r),
             "test accuracy": r.metrics["accuracy"], "test error (%)": 100 * (1 - r.metrics["accuracy"]),
             "epochs": r.metrics["epochs_run"], "best epoch": r.metrics["best_epoch"], "stopped early": converged(r)}
            for (n, p), rs in runs.groups[group].items() if complete(rs) for r in rs]
    columns = ["norm", "dropout", "seed", "validation loss", "test loss", "test accuracy", "test error (%)", "epochs",
               "best epoch", "stopped early"]
    return pd.DataFrame(rows, columns=columns)


def factorial_complete(runs: ChapterRuns, group: str) -> bool:
    return all(complete(rs) for rs in runs.groups[group].values())


def pair_keys(norm: str, dropout: float) -> list[tuple]:
    """The four cells of the interaction of ``norm`` and ``dropout``: both, each alone, neither."""
    return [(norm, dropout), (norm, 0.0), ("none", dropout), ("none", 0.0)]


def interaction_cells(runs: ChapterRuns, group: str, value: str, needed=()) -> dict | None:
    """The per-seed values of every cell of a factorial, None while one has a run not stored, or while the
    factorial lacks a cell of ``needed`` (an interaction's four cells: these settings may leave out its
    normalisation or rate). Every interaction of the factorial takes its variance from all of them (the two-way
    ANOVA's residual: the cells share one noise level), as the book's procedure says, so the 2x2 rows, the
    interaction table and the plot's intervals agree."""
    s = runs.settings
    cells = cells_of(factorial_frame(runs, group), value)
    every = [(n, float(p)) for n in s.norms for p in s.dropouts]
    if not all(k in cells for k in every) or not all((n, float(p)) in cells for n, p in needed):
        return None
    return {k: cells[k] for k in every}


def factorial_cells(runs: ChapterRuns, group: str, value: str, rates=None) -> tuple[dict | None, dict]:
    """The per-seed values of every cell of a factorial (None while one has a run not stored: the variance is
    pooled over them all) and the weights of its mean interaction: each normalisation with each dropout rate of
    ``rates`` (None: every rate of the factorial), against no normalisation and no dropout."""
    from ..stats import mean_interaction_weights

    s = runs.settings
    levels = [0.0] + [float(p) for p in s.dropouts if float(p) != 0.0 and (rates is None or float(p) in rates)]
    weights = mean_interaction_weights(s.norms, levels, "none", 0.0)
    return interaction_cells(runs, group, value), weights


def unconverged(runs: ChapterRuns, keys=None, group: str = "factorial_converged") -> list[StoredRun]:
    """The stored runs of the converged factorial (of its cells ``keys``; None: all) that reached the epoch
    cap before early stopping ended them."""
    return [r for key, rs in runs.groups[group].items() if keys is None or key in keys
            for r in stored(rs) if not converged(r)]


def capped_reason(runs: ChapterRuns, keys=None) -> str:
    """Why the converged factorial's cells ``keys`` (None: all) cannot carry a claim about converged networks;
    empty when every run of them converged."""
    late = unconverged(runs, keys)
    if not late:
        return ""
    cells = sorted({cell_label("factorial_converged", (r.config.model_args["norm"], r.config.model_args["dropout"]))
                    for r in late})
    return (f"{counted(len(late), 'run')} ({', '.join(cells)}) reached the {runs.settings.converged_max_epochs}-epoch "
            f"cap before early stopping ended {'it' if len(late) == 1 else 'them'}: not converged")


def convergence_note(runs: ChapterRuns) -> str:
    """How the runs of the converged factorial ended: early stopping, the epoch cap, or not stored yet."""
    every = [r for rs in runs.groups["factorial_converged"].values() for r in rs]
    done, late = stored(every), unconverged(runs)
    text = (f"Of the {len(every)} runs, {len(done) - len(late)} stopped early (converged), {len(late)} reached the "
            f"{runs.settings.converged_max_epochs}-epoch cap and {len(every) - len(done)} "
            f"{'is' if len(every) - len(done) == 1 else 'are'} not in the store yet.")
    if late:
        reason = capped_reason(runs)
        text += f" {reason[0].upper()}{reason[1:]}; the interactions that need them are not comparable."
    if len(done) < len(every):
        text += " The cells with a run not stored yet are shown as missing, and so are the interactions that need them."
    return text


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


def factorial_table(runs: ChapterRuns, group: str, value: str, digits: int = 3):
    """Mean ± std over seeds, norms as rows and dropout rates as columns; a cell with a run not stored yet
    reads "missing"."""
    import pandas as pd

    frame = factorial_frame(runs, group)
    keys = list(runs.groups[group])
    if frame.empty and not any(stored(rs) for rs in runs.groups[group].values()):
        return table_or_pending(frame, f"The factorial table of {value}")
    cells = cells_of(frame, value)
    norms = list(dict.fromkeys(n for n, _ in keys))
    dropouts = list(dict.fromkeys(p for _, p in keys))
    table = pd.DataFrame({f"dropout {p:g}": [_fmt(cells.get((n, p), []), digits) for n in norms] for p in dropouts},
                         index=pd.Index(norms, name="norm"))
    return book_table(table, f"{value}: mean ± std over the seeds of each cell.")


def _synergy_word(estimate, lower_is_better: bool) -> str:
    side = estimate.side if not lower_is_better else -estimate.side
    return {1: "more than the sum of its parts", -1: "less than the sum of its parts",
            0: "inconclusive: the interval covers zero"}[side]


def interaction_table(runs: ChapterRuns, group: str, value: str, level: float = 0.95):
    """Every 2x2 interaction against (none, 0): estimate, t-interval, bootstrap interval and its reading.

    interaction = (y[norm, p] - y[norm, 0]) - (y[none, p] - y[none, 0]): the change dropout ``p`` makes
    with the normalisation minus the change it makes without. On a loss or an error, below zero means
    the pair helps more than the sum of the two separate effects. Each t-interval takes the seed-to-seed
    variance pooled over every cell of the factorial (``interaction_cells``), so every interaction is missing
    while a cell has a run not stored; one with a run that did not converge (trained to convergence) is not
    comparable.
    """
    import pandas as pd

    from ..stats import bootstrap_contrast, interaction, interaction_weights

    s = runs.settings
    rows = []
    cells = interaction_cells(runs, group, value)
    for n in s.norms:
        for p in map(float, s.dropouts):
            if n == "none" or p == 0.0:
                continue
            if cells is None:
                rows.append({"norm": n, "dropout": f"{p:g}", "interaction": "missing",
                             "reading": "missing: a run of the factorial is not stored"})
                continue
            t = interaction(cells, "none", n, 0.0, p, level)
            boot = bootstrap_contrast(cells, interaction_weights("none", n, 0.0, p), level, s.bootstrap)
            mean = {k: sum(cells[c]) / len(cells[c]) for k, c in zip(("both", "norm", "drop", "none"), pair_keys(n, p))}
            capped = capped_reason(runs, pair_keys(n, p)) if group == "factorial_converged" else ""
            rows.append({
                "norm": n, "dropout": f"{p:g}",
                "norm alone": f"{mean['norm'] - mean['none']:+.3f}",
                "dropout alone": f"{mean['drop'] - mean['none']:+.3f}",
                "sum": f"{mean['norm'] + mean['drop'] - 2 * mean['none']:+.3f}",
                "both": f"{mean['both'] - mean['none']:+.3f}",
                "interaction": f"{t.value:+.3f}",
                "t-interval": f"[{t.low:+.3f}, {t.high:+.3f}]",
                "bootstrap": f"[{boot.low:+.3f}, {boot.high:+.3f}]",
                "reading": "not comparable: runs not converged" if capped else _synergy_word(t, lower_is_better=True),
            })
    if not rows:
        return pd.DataFrame()
    note = (f"Changes of the mean {value} from the cell with neither (none, dropout 0). norm alone: the "
            "normalisation without dropout; dropout alone: the dropout rate without normalisation; sum: the two "
            f"added; both: the two together; interaction = both - sum, with its {level:.0%} t-interval (the "
            f"seed-to-seed variance pooled over all {len(s.norms) * len(s.dropouts)} cells of the factorial) and "
            f"{level:.0%} bootstrap interval ({s.bootstrap:,} resamples).")
    return book_table(pd.DataFrame(rows).fillna("-").set_index(["norm", "dropout"]), note)


def anova(frame, value: str):
    from ..stats import two_way_anova

    if frame.empty:
        return None
    sizes = frame.groupby(["norm", "dropout"]).size()
    # a two-way ANOVA needs every combination of the levels present and some replication
    if len(sizes) < frame["norm"].nunique() * frame["dropout"].nunique() or sizes.max() < 2:
        return None
    return book_table(two_way_anova(frame, "norm", "dropout", value).round(4),
                      "Two-way ANOVA, Type II sums of squares; the residual row has no F and no p.")


def factorial_anova(runs: ChapterRuns, group: str, value: str = "test loss"):
    """The two-way ANOVA of a factorial once every cell is stored (a note until then)."""
    table = anova(factorial_frame(runs, group), value) if factorial_complete(runs, group) else None
    if table is None:
        from IPython.display import Markdown

        return Markdown("*The ANOVA needs every cell of the factorial stored, with at least two seeds in one.*")
    return table


def _interaction_or_point(cells: dict, a0, a1, b0, b1, level: float):
    """The interaction with its t-interval; with one run per cell only the point (an unbounded interval)."""
    from ..stats import Estimate, interaction, interaction_weights

    if all(len(v) < 2 for v in cells.values()):
        value = sum(w * sum(cells[k]) / len(cells[k]) for k, w in interaction_weights(a0, a1, b0, b1).items())
        return Estimate(value, float("-inf"), float("inf"), level, None, 0, "no replicates")
    return interaction(cells, a0, a1, b0, b1, level)


def headline_interaction(runs: ChapterRuns, group: str, value: str, norm: str = "instance", dropout: float = 0.1,
                         level: float = 0.95):
    """The study's pair (InstanceNorm, dropout 0.1) against (none, 0), or None while a cell is missing."""
    cells = interaction_cells(runs, group, value, pair_keys(norm, dropout))
    return None if cells is None else _interaction_or_point(cells, "none", norm, 0.0, dropout, level)


ARCH_CORNERS = (("4L/32F", "none"), ("6L/64F", "none"), ("4L/32F", "IN + 0.1"), ("6L/64F", "IN + 0.1"))


def architecture_cells(runs: ChapterRuns, read=test_loss) -> dict:
    """The four corners of architecture (4L/32F -> 6L/64F) x regularisation (none -> InstanceNorm + dropout 0.1)
    at the sweeps' budget: test loss of the last epoch's model; None for a corner with a run missing."""
    arch = runs.groups["architecture"]
    corners = dict(zip(ARCH_CORNERS, (arch.get((4, 32)), arch.get((6, 64)), runs.groups["norm"]["instance"],
                                      runs.groups["final_short"]["final_short"])))
    return {k: measured(rs, read) for k, rs in corners.items()}


DEPTH_CORNERS = (("4L/32F", "none"), ("6L/64F", "none"), ("4L/32F", "InstanceNorm"), ("6L/64F", "InstanceNorm"))


def depth_norm_cells(runs: ChapterRuns, read=test_loss) -> dict:
    """The four corners of depth (4L/32F -> 6L/64F) x normalisation (none -> InstanceNorm), all without dropout,
    at the sweeps' budget: the architecture sweep's two networks, the factorial's InstanceNorm cell and the
    6-layer network with InstanceNorm alone; None for a corner with a run missing (or not in the settings)."""
    arch = runs.groups["architecture"]
    corners = dict(zip(DEPTH_CORNERS, (arch.get((4, 32)), arch.get((6, 64)),
                                       runs.groups["factorial_study"].get(("instance", 0.0)),
                                       runs.groups["norm_depth"]["norm_depth"])))
    return {k: measured(rs, read) for k, rs in corners.items()}


def _levels(corners: tuple) -> tuple:
    """The two levels of each factor of four corners ((a0, b0), (a1, b0), (a0, b1), (a1, b1)): a0, a1, b0, b1."""
    (a0, b0), (a1, _), (_, b1), _ = corners
    return a0, a1, b0, b1


def _corners_interaction(cells: dict, corners: tuple, level: float):
    """The interaction of four corners (``_levels``) with its t-interval; None while a corner is missing."""
    if not all(cells.values()):
        return None
    return _interaction_or_point(cells, *_levels(corners), level)


def _corners_table(cells: dict, factor: str):
    """Four corners of network x ``factor``: runs and test loss."""
    import pandas as pd

    return pd.DataFrame([{"network": a, factor: b, "runs": len(v or []), "test loss": _fmt(v or [])}
                         for (a, b), v in cells.items()]).set_index(["network", factor])


def architecture_interaction(runs: ChapterRuns, level: float = 0.95):
    """The study's second synergy claim as an interaction with a t-interval (None while a corner is missing)."""
    return _corners_interaction(architecture_cells(runs), ARCH_CORNERS, level)


def architecture_corners(runs: ChapterRuns):
    """The four corners of architecture x regularisation: runs and test loss."""
    return _corners_table(architecture_cells(runs), "regularisation")


def depth_norm_interaction(runs: ChapterRuns, level: float = 0.95):
    """"Normalisation enables depth" as the depth x normalisation interaction (None while a corner is missing)."""
    return _corners_interaction(depth_norm_cells(runs), DEPTH_CORNERS, level)


def depth_norm_corners(runs: ChapterRuns):
    """The four corners of depth x normalisation, without dropout: runs and test loss."""
    return _corners_table(depth_norm_cells(runs), "normalisation")


# ----- claims ------------------------------------------------------------------------------------

def _arch(runs: ChapterRuns, layers: int, filters: int, read=test_loss) -> list[float] | None:
    return measured(runs.groups["architecture"].get((layers, filters)), read)


def _studys_own_arch_row(s) -> v.Verdict:
    """"Exceeded the sum of individual improvements" against the study's own printed losses: the final model's
    gain against the architecture's gain plus the regularisation combination's. Printed numbers, no noise.

    The gains need a reference, and the study has two baselines: the text's "original baseline" (its first run)
    and the 4L/32F network its journal calls the baseline, from which both the architecture sweep and the
    regularisation sweeps start. The row reads both (``verdicts.judge_readings``); where they disagree, the
    study's numbers cannot tell, and the row is inconclusive, naming both. The budgets differ (architecture sweep 3 epochs, combination 5, final
    model 7); read with the combination's 3-epoch run instead, the separate gains are smaller still, and the
    extra epochs of the final model only raise its gain: the note gives that reading too."""
    R = REGISTRY
    journal_base = JOURNAL_ARCHITECTURE[(SWEEP_NET["layers"], SWEEP_NET["filters"])]
    rows = {}
    for label, base, printed in (
            ("the text's original baseline", R["baseline_loss"].value, R["baseline_loss"].printed),
            (f"the journal's baseline ({SWEEP_NET['layers']}L/{SWEEP_NET['filters']}F, the network both sweeps "
             "start from)", journal_base, f"{journal_base:.3f} in its journal")):
        combined = base - R["final_loss"].value
        arch, regularised, short = (base - R[c].value for c in ("arch_best_loss", "combined_loss", "instance_loss"))
        rows[f"gains over {label}"] = v.judge_direction(
            R["arch_synergy_own"], [combined], [arch + regularised], measured=ARCH_SYNERGY_OWN, higher=True,
            noise=v.Noise.none("the study's own losses: printed numbers"), names=("combined gain", "sum of the two"),
            scale=1, digits=3,
            note=f"gains over {label}, {printed}: the final model's ({R['final_loss'].printed}, "
                 f"{JOURNAL_FINAL_EPOCHS} epochs) {combined:.3f}; 6L/64F's ({R['arch_best_loss'].printed}, "
                 f"{s.epochs} epochs) {arch:.3f}; InstanceNorm + dropout 0.1's ({R['combined_loss'].printed}, "
                 f"{s.final_epochs} epochs) {regularised:.3f}; with the same pair's {s.epochs}-epoch run "
                 f"({R['instance_loss'].printed}) instead, the sum is {arch + short:.3f}; the final model's extra "
                 "epochs only raise its gain")
    # the study has two baselines and does not say which its sentence means: the book's readings rule
    return v.judge_readings(rows)


def _pick(nets: dict[str, Net], *names: str) -> dict[str, Net]:
    """The named networks of the architecture sweep that it holds."""
    return {name: nets[name] for name in names if name in nets}


def _count_row(claim: StudyClaim, what: str, net: Net, note: str) -> v.Verdict:
    """A count of the study's text against our network's. A count that differs from ours is evidence against
    the text only where another source of the study (its text elsewhere, its code or journal) gives the
    network our count: the study then contradicts itself, not reproduced. Otherwise ours may simply not be the
    network the study measured (where another source agrees with the text, or where none gives a count):
    not comparable, our count kept, as the rows measured on that network are."""
    ours = parameters_of(net)
    row = v.judge_count(claim, ours, measured=PARAMETERS, note=f"{what}; {note}")
    others = [c for c in study_counts(net) if c.claim != claim.id]
    if row.verdict != v.NOT_REPRODUCED or any(c.agrees(ours) for c in others):
        return row
    own = StudyCount("", claim.printed, claim.value, claim.rounding, claim.id)
    vouching = [c for c in others if _consistent([own, c])]
    sources = (f"the study gives it {_listed(vouching)}, in agreement with its text" if vouching
               else "no other source of the study gives it a count, so nothing shows that the text's count is wrong")
    return v.not_comparable(claim, row.ours,
                            f"not the study's network: {sources}; {what} has {ours:,}; we could not build the "
                            f"study's network from its description; {note}")


def claims(runs: ChapterRuns) -> list[v.Verdict]:
    """One judged row per tested claim of ``REGISTRY``, with the book's verdict procedure, reading the study's
    loss on the test images and on held-out training images (the study does not say which images its stream
    held): the book's rule for readings nothing settles keeps a verdict only where the two agree."""
    return _noted(*_both_readings(runs))


def _noted(rows: list[v.Verdict], other: dict[str, v.Verdict]) -> list[v.Verdict]:
    """The test-loss rows under the book's readings rule (``verdicts.judge_readings``) wherever the validation
    reading (``other``) gives another verdict; a row both readings agree on is left as it is."""
    return [row if row.verdict == other[row.id].verdict else
            v.judge_readings({TEST_READING.images: row,
                              f"{VALIDATION_READING.images} (our validation loss)": other[row.id]})
            for row in rows]


LOSS_SAMPLE = f"{SAMPLE_BATCHES} batches of {SAMPLE_BATCH_SIZE} test images"
SAMPLED_LOSSES = (LOSS, LOSS_FINAL, LOSS_JOURNAL_FINAL, RELATIVE, GAIN_INSTANCE, GAIN_DROPOUT)  # read off samples


def study_sample(rs: list | None, reading: LossReading = TEST_READING, what: str = "its loss") -> v.Sample | None:
    """The noise of the study's loss, measured on 50 batches of 64 images of ``reading``'s pool: one image's spread
    from the per-image test losses of our runs ``rs`` (None while a run is missing or was stored without them).
    Where our own value averages fewer images than the pool (a profile's ``eval_subset``; the 3,200 held-out
    images of the validation reading, where one test image's spread stands in for a held-out one's), the noise of
    our fixed sample joins."""
    if not rs or not complete(rs) or any(run.image_losses is None for run in rs):
        return None
    ours = reading.evaluated(rs[0])
    ours = ours if reading.pool is None or ours < reading.pool else None
    mine = f" (ours over {ours:,} fixed {reading.images})" if ours else ""
    return v.Sample.of([run.image_losses for run in rs], SAMPLE_BATCHES * SAMPLE_BATCH_SIZE, reading.pool,
                       f"{what} over {SAMPLE_BATCHES} batches of {SAMPLE_BATCH_SIZE} {reading.images}{mine}", ours)


def sample_caveat(row: v.Verdict, runs: str = "these runs") -> str:
    """What a loss row judged without the study's sampling noise (``study_sample`` None: ``runs`` were stored
    without per-image losses) leaves out: the noise would widen the band, so a not-reproduced row says by how
    much it misses (a narrow miss is weak evidence) and a reproduced one that its band could then exceed the
    material difference; "" for other rows."""
    if row.verdict not in (v.NOT_REPRODUCED, v.REPRODUCED) or row.quantity not in SAMPLED_LOSSES or not row.tolerance:
        return ""
    left_out = (f"the band leaves out the sampling noise of the study's number, measured on {LOSS_SAMPLE}, since "
                f"{runs} were stored without per-image losses")
    if row.verdict == v.REPRODUCED:
        return f"{left_out}; with it the band is wider and could exceed the material difference (inconclusive)"
    beyond = abs(row.difference) / row.tolerance - 1
    return f"outside the band by {beyond:.1%} of its half-width; {left_out}, so a narrow miss is weak evidence"


def _relative(claim: StudyClaim, a: list | None, b: list | None, reading: LossReading, note: str,
              named: tuple[str, str], what: tuple[str, str]) -> v.Verdict:
    """1 - loss(a) / loss(b) by the relative rule, each side with the noise of the study's sample where its runs
    store per-image losses; where a side's do not, the row names it (``named``: each side's runs, for the note;
    ``what``: each side's loss, for the sample's source)."""
    samples = {side: study_sample(rs, reading, label) for side, rs, label in zip(named, (a, b), what)}
    row = v.judge_relative(claim, measured(a, reading.read), measured(b, reading.read), measured=claim.quantity,
                           note=note, samples=tuple(samples.values()))
    lacking = " and ".join(side for side, sample in samples.items() if sample is None)
    return replace(row, note=v.join_notes(row.note, sample_caveat(row, lacking))) if lacking else row


def _gain_rows(runs: ChapterRuns, reading: LossReading) -> list[v.Verdict]:
    """The study's "7-8% improvement over individual methods", as it measured it: its combination after the final
    models' budget against each single technique of its sweeps after theirs (so the extra epochs are in it)."""
    g, s, R = runs.groups, runs.settings, REGISTRY
    combined = g["combined"]["combined"]
    same = (f"the study's 'InstanceNorm' run already had dropout 0.1: the same network as its combination, after "
            f"{s.epochs} epochs instead of {s.final_epochs}, so the gain is extra training")
    return [_relative(R["gain_over_instance"], combined, g["norm"].get("instance"), reading,
                      f"1 - combination / InstanceNorm, means over seeds (unpaired); {same}",
                      ("the combination's runs", "InstanceNorm's runs"), ("its combination's loss", "its InstanceNorm's loss")),
            _relative(R["gain_over_dropout"], combined, g["dropout"].get(0.1), reading,
                      "1 - combination / dropout 0.1, means over seeds (unpaired); the dropout sweep's network has "
                      f"BatchNorm, and trains {s.epochs} epochs against the combination's {s.final_epochs}",
                      ("the combination's runs", "dropout 0.1's runs"), ("its combination's loss", "its dropout 0.1's loss"))]


def _loss_value(claim: StudyClaim, rs: list | None, quantity: str, reading: LossReading, note: str = "") -> v.Verdict:
    """A loss the study measured on a sample of the test images, by the value rule: with that sample's noise where
    our runs store per-image losses (``study_sample``), else with the caveat that the band leaves it out."""
    sample = study_sample(rs, reading)
    row = v.judge_value(claim, measured(rs, reading.read), measured=quantity, note=note, sample=sample)
    return row if sample is not None else replace(row, note=v.join_notes(row.note, sample_caveat(row)))


# a sweep's winner, reported with the loss that made it the winner: the best of several one-run settings sits low
# like the best of several runs of one setting, so ours above it is what that choice alone could give (the confound
# rule; chapter 3 applies it to its best configuration the same way)
PICKED = "the study's pick of this setting as its sweep's best by this same loss, one run each"


def _picked(row: v.Verdict) -> v.Verdict:
    return v.confounded(row, +1, PICKED)


def _both_readings(runs: ChapterRuns) -> tuple[list[v.Verdict], dict[str, v.Verdict]]:
    """The rows on the test loss, and the same rows on the validation loss by id: each judged once."""
    return _judged(runs, TEST_READING), {row.id: row for row in _judged(runs, VALIDATION_READING)}


def _judged(runs: ChapterRuns, reading: LossReading) -> list[v.Verdict]:
    """The rows with the study's loss read on ``reading``'s images."""
    g, s, R = runs.groups, runs.settings, REGISTRY
    loss = reading.read
    rows = []

    flex = _arch(runs, 4, 32, loss)
    baseline = {"the baseline (our literal reading: 4 blocks of 32, MaxPool 3)": Net(model="synergy_baseline")}
    note = "the FlexibleCNN 4L/32F, which the study's journal also calls 'baseline', gives " + _fmt(flex or [])
    rows.append(on_study_networks(_loss_value(R["baseline_loss"], g["baseline"]["baseline"], LOSS, reading, note),
                                  baseline, note))
    wide, narrow, deep = _arch(runs, 6, 64, loss), _arch(runs, 6, 16, loss), _arch(runs, 8, 32, loss)
    nets = {f"{l}L/{f}F": Net(l, f) for l, f in g["architecture"]}
    rows.append(on_study_networks(_picked(_loss_value(R["arch_best_loss"], g["architecture"].get((6, 64)), LOSS,
                                                      reading)), _pick(nets, "6L/64F")))
    arch = {f"{l}L/{f}F": measured(rs, loss) for (l, f), rs in g["architecture"].items()}
    rows.append(on_study_networks(v.judge_best(R["arch_best"], arch if "6L/64F" in arch else None, "6L/64F",
                                               measured=ORDER, higher=False, scale=1, digits=3), nets))
    note = "deep narrow (6L/16F) against shallow wide (2L/64F), the sweep's pair that trades depth for width"
    rows.append(on_study_networks(v.judge_direction(R["depth_over_width"], narrow, _arch(runs, 2, 64, loss),
                                                    measured=ORDER,
                                                    higher=False, names=("6L/16F", "2L/64F"), scale=1, digits=3,
                                                    note=note), _pick(nets, "6L/16F", "2L/64F"), note))
    rows.append(on_study_networks(_loss_value(R["very_deep_loss"], g["architecture"].get((8, 32)), LOSS, reading),
                                  _pick(nets, "8L/32F")))
    note = "the 8-layer network also has half the filters"
    rows.append(on_study_networks(v.judge_direction(R["very_deep_degrades"], deep, wide, measured=ORDER, higher=True,
                                                    names=("8L/32F", "6L/64F"), scale=1, digits=3, note=note),
                                  _pick(nets, "8L/32F", "6L/64F"), note))
    share = R["narrow_share"].value
    note = f"'at least {share:.0%}': loss(6L/64F) - {share:g} x loss(6L/16F) above zero" + (
        f"; 6L/64F's loss is {sum(wide) / len(wide) / (sum(narrow) / len(narrow)):.0%} of 6L/16F's"
        if wide and narrow else "")
    rows.append(on_study_networks(v.judge_contrast(R["narrow_share"], {"6L/64F": wide, "6L/16F": narrow},
                                                   {"6L/64F": 1.0, "6L/16F": -share}, measured=SHARE, higher=True,
                                                   pooled=False, note=note), _pick(nets, "6L/64F", "6L/16F"), note))
    for claim, what, net in TEXT_COUNTS:
        notes = {
            "params_wide": f"the study also gives this architecture {R['params_6l'].printed} parameters "
                           f"({R['params_6l'].where}), as its code does: the two counts contradict each other",
            "params_narrow": "no FlexibleCNN as this book builds it (1-10 layers, 1-128 filters, any norm) has this "
                             "count",
            "params_4l": f"no FlexibleCNN has this count either; the network of the dropout sweep it speaks of (4L/32F, "
                         f"BatchNorm) has {parameters_of(Net(4, 32, 'batch', 0.1)):,}",
            "params_6l": f"contradicts the {R['params_wide'].printed} the study gives 6L/64F "
                         f"({R['params_wide'].where})",
        }
        rows.append(_count_row(R[claim], what, net, notes[claim]))

    drop = {p: measured(rs, loss) for p, rs in g["dropout"].items()}
    rows.append(_picked(_loss_value(R["dropout_loss"], g["dropout"].get(0.1), LOSS, reading,
                                    note="4L/32F with BatchNorm, as in the study's dropout sweep")))
    rows.append(v.judge_best(R["dropout_best"], {f"{p:g}": x for p, x in drop.items()}, "0.1", measured=ORDER,
                             higher=False, scale=1, digits=3))
    init = {p: measured(rs, initial_train_loss) for p, rs in g["dropout"].items()}
    rows.append(v.judge_value(R["initial_01"], init.get(0.1), measured=INITIAL))
    rows.append(v.judge_value(R["initial_05"], init.get(0.5), measured=INITIAL))
    rows.append(v.judge_direction(R["dropout_05_struggles"], init.get(0.5), init.get(0.1), measured=INITIAL_ORDER,
                                  higher=True, names=("0.5", "0.1"), scale=1, digits=2,
                                  note="the study's only evidence that 0.5 'struggled to converge'; the training "
                                       "loss is measured with dropout on, which raises it by itself, so the row says "
                                       "nothing of where training ends: the losses after the budget are in the "
                                       "best-rate row"))

    norm = {n: measured(rs, loss) for n, rs in g["norm"].items()}
    rows.append(_picked(_loss_value(R["instance_loss"], g["norm"].get("instance"), LOSS, reading,
                                    note="with dropout 0.1, as in the study's normalisation sweep")))
    rows.append(v.judge_best(R["instance_best"], norm, "instance", measured=ORDER, higher=False, scale=1, digits=3))

    rows.append(_loss_value(R["combined_loss"], g["combined"]["combined"], LOSS_FINAL, reading,
                            note=f"{s.final_epochs} epochs; the same network after {s.epochs}: "
                                 + _fmt(norm.get("instance") or [])))
    study_cells = interaction_cells(runs, "factorial_study", reading.column, pair_keys("instance", 0.1))
    singles = {"IN + dropout 0.1": ("instance", 0.1), "IN alone": ("instance", 0.0), "dropout 0.1 alone": ("none", 0.1)}
    stored = cells_of(factorial_frame(runs, "factorial_study"), reading.column)  # complete cells: these three alone
    groups = ({name: stored[cell] for name, cell in singles.items()} if all(c in stored for c in singles.values())
              else None)
    rows.append(v.judge_best(R["combined_beats_singles"], groups, "IN + dropout 0.1", measured=ORDER, higher=False,
                             scale=1, digits=3,
                             note=f"the factorial's cells, all at the sweeps' budget; the study's 7-8% compared its "
                                  f"combination after {s.final_epochs} epochs with single techniques after "
                                  f"{s.epochs}, and its 'InstanceNorm' run already had dropout 0.1 (the same network)"))
    rows += _gain_rows(runs, reading)
    rows.append(v.judge_interaction(R["synergy"], study_cells, "none", "instance", 0.0, 0.1, measured=SYNERGY,
                                    higher=False, note=f"4L/32F; the study never trained InstanceNorm without dropout, "
                                                       f"so its design could not measure this; {SYNERGY_SCALE}"))

    epochs = (f"{s.journal_final_epochs} epochs, the budget the study's journal gives the final model (its code "
              f"trains it for {CODE_FINAL_EPOCHS}); the text's number is the journal's")
    rows.append(_loss_value(R["final_loss"], g["final_journal"]["final_journal"], LOSS_JOURNAL_FINAL, reading,
                            note=f"{epochs}; the study's own notebook shows {R['final_notebook'].printed}"))
    rows.append(_loss_value(R["final_notebook"], g["final"]["final"], LOSS_FINAL, reading,
                            note=f"{s.final_epochs} epochs, as the study's code trains it; the study's text says "
                                 f"{R['final_loss'].printed}"))
    note = f"1 - final / baseline, means over seeds (unpaired); the final model after {epochs}"
    improvement = _relative(R["improvement"], g["final_journal"]["final_journal"], g["baseline"]["baseline"], reading,
                            note, ("the final model's runs", "the baseline's runs"),
                            ("its final model's loss", "its baseline's loss"))
    rows.append(on_study_networks(improvement, baseline, note))
    rows.append(on_study_networks(
        v.judge_interaction(R["arch_synergy"], architecture_cells(runs, loss), *_levels(ARCH_CORNERS),
                            measured=ARCH_SYNERGY, higher=False,
                            note="4L/32F stands for the baseline, so that all four corners share one family; the "
                                 "study's own printed losses are judged in their own row"),
        {"4L/32F": Net(4, 32), "6L/64F": Net(6, 64)}))
    rows.append(_studys_own_arch_row(s))
    rows.append(on_study_networks(
        v.judge_interaction(R["norm_enables_depth"], depth_norm_cells(runs, loss), *_levels(DEPTH_CORNERS),
                            measured=DEPTH_NORM, higher=False,
                            note="below zero, InstanceNorm lowers the 6-layer network's loss by more than the "
                                 "4-layer one's: what 'enables depth' needs; without dropout, so that normalisation "
                                 "is not confounded with it; the study's own architecture sweep (no normalisation) "
                                 f"found 6L/64F its best network, at {R['arch_best_loss'].printed}"),
        {"4L/32F": Net(4, 32), "6L/64F": Net(6, 64)}))
    converged = (f"{s.converged_layers}L/{s.converged_filters}F, full passes with early stopping (patience "
                 f"{s.converged_patience}, at most {s.converged_max_epochs} epochs)")
    rows.append(v.judge_interaction(R["synergy_converged"],
                                    interaction_cells(runs, "factorial_converged", reading.column,
                                                      pair_keys("instance", 0.1)),
                                    "none", "instance", 0.0, 0.1, measured=SYNERGY_CONVERGED, higher=False,
                                    capped=capped_reason(runs, pair_keys("instance", 0.1)),
                                    note=f"{converged}; {SYNERGY_SCALE}"))
    general = ("the mean of the norm x dropout interactions of every normalisation with the study's light dropout "
               "({pairs}), each against no normalisation and no dropout, the variance pooled over the whole "
               "factorial; the study scopes its lesson to 'light stochastic regularization', its best rate{heavier}; "
               "{budget}")
    for claim, group, measured_as, budget, capped in (
            ("synergy_general", "factorial_study", SYNERGY_ALL, f"{SWEEP_NET['layers']}L/{SWEEP_NET['filters']}F, the "
             "study's budget", ""),
            ("synergy_general_converged", "factorial_converged", SYNERGY_ALL_CONVERGED, converged,
             capped_reason(runs))):
        if LIGHT_DROPOUT not in [float(p) for p in s.dropouts]:
            rows.append(v.missing(R[claim], f"this notebook's dropouts {s.dropouts} leave out the light rate "
                                            f"{LIGHT_DROPOUT:g}"))
            continue
        cells, weights = factorial_cells(runs, group, reading.column, rates=(LIGHT_DROPOUT,))
        pairs = ", ".join(f"{n} + {p:g}" for n, p in weights if n != "none" and p != 0.0)
        rows.append(v.judge_contrast(R[claim], cells, weights, measured=measured_as, higher=False, capped=capped,
                                     note=general.format(pairs=pairs, budget=budget,
                                                         heavier=heavier_rates(cells, runs))))
    return rows


def heavier_rates(cells: dict | None, runs: ChapterRuns) -> str:
    """The same mean interaction over every dropout rate of the factorial, heavier ones included: a description
    beside the light-dropout row (the study calls the heavier rates degrading), "" when there are none."""
    from ..stats import contrast, mean_interaction_weights

    s = runs.settings
    rates = [float(p) for p in s.dropouts]
    if cells is None or not [p for p in rates if p > LIGHT_DROPOUT]:
        return ""
    weights = mean_interaction_weights(s.norms, rates, "none", 0.0)
    try:
        estimate = contrast(cells, weights, v.LEVEL, True)
    except ValueError:  # too few seeds for a variance
        return ""
    heavier = ", ".join(f"{p:g}" for p in rates if p > LIGHT_DROPOUT)
    return (f"; over every rate, {heavier} included (which it found degrading), the mean is "
            f"{estimate.format(3, 1.0, '')}: a description, beyond the lesson's scope")


def reading_changes(runs: ChapterRuns, readings: tuple | None = None) -> list[tuple[v.Verdict, v.Verdict]]:
    """The rows whose verdict depends on which images the study's loss is read on: (the row on the test loss,
    the same row on the validation loss) for every row whose verdict differs between the two. ``readings``: the
    rows of both readings (``_both_readings``) where the caller has them already."""
    rows, other = readings or _both_readings(runs)
    return [(row, other[row.id]) for row in rows if row.verdict != other[row.id].verdict]


def _reading_sentence(runs: ChapterRuns, readings: tuple) -> str:
    changes = reading_changes(runs, readings)
    text = (f"- **Which images the study's loss came from.** The study does not say, so every loss row is judged "
            f"on our test loss and, read as {VALIDATION_READING.images}, on our validation loss, and keeps a "
            "verdict only where the two agree (the book's rule for readings that nothing settles): ")
    if not changes:
        return text + "they agree on every row."
    return text + f"{counted(len(changes), 'row')} differ and so {'is' if len(changes) == 1 else 'are'} " \
        "inconclusive: " + "; ".join(
            f"{REGISTRY[a.id].claim}, {VERDICT_READING[a.verdict]} on the test loss ({a.ours}) and "
            f"{VERDICT_READING[b.verdict]} on the validation loss ({b.ours})" for a, b in changes) + "."


# ----- conclusion --------------------------------------------------------------------------------

def describe_interaction(estimate, digits: int = 3, unit: str = "") -> str:
    if estimate.method == "no replicates":
        return f"{estimate.value:+.{digits}f}{unit} (one run per cell, so no interval)"
    return (f"{estimate.format(digits, 1.0, unit)} ({estimate.level:.0%} t-interval): "
            f"{_synergy_word(estimate, True)}")


def interaction_census(runs: ChapterRuns, level: float = 0.95):
    """Every 2x2 interaction of the factorial (each norm x each dropout rate against (none, 0), both
    budgets, both metrics) sorted by its interval's side; None until one has replicated cells.

    An interaction counts once every cell of the factorial is stored (its variance is pooled over them all),
    and trained to convergence only when every run of its own four cells converged. Returns (tested, synergy
    labels, overlap labels): a description of the intervals, not a test of its own (the interactions share
    cells, and the book's procedure judges the study's pairs in their own rows).
    """
    tested, synergy, overlap = 0, [], []
    for group, budget in FACTORIAL_BUDGETS:
        for value in FACTORIAL_METRICS:
            for n in runs.settings.norms:
                for p in map(float, runs.settings.dropouts):
                    if n == "none" or p == 0.0:
                        continue
                    cells = interaction_cells(runs, group, value)
                    if cells is None or (group == "factorial_converged" and unconverged(runs, pair_keys(n, p))):
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
    return tested, synergy, overlap


def _anova_sentence(runs: ChapterRuns) -> str:
    """The two-way ANOVA's test of the norm x dropout interaction on test loss at each budget whose factorial is
    complete: whether the cells' means depart from adding up at all, on either side (the mean interaction above
    gives the side); "" when neither is complete."""
    from ..stats import two_way_anova

    parts = []
    for group, budget in (("factorial_study", "at the study's budget"), ("factorial_converged", "converged")):
        frame = factorial_frame(runs, group)
        if not factorial_complete(runs, group) or frame.groupby(["norm", "dropout"]).size().max() < 2:
            continue
        table = two_way_anova(frame, "norm", "dropout", "test loss")
        row, residual = table.loc["norm x dropout"], table.iloc[-1]  # the last row: seed-to-seed residual
        parts.append(f"{budget} F({row['df']:.0f}, {residual['df']:.0f}) = {row['F']:.2f}, p = {row['p']:.3f}")
    if not parts:
        return ""
    return (" The two-way ANOVA's test of any interaction at all, on either side (its table above): "
            + "; ".join(parts) + ".")


def _census_sentence(census) -> str:
    tested, synergy, overlap = census
    listed = lambda labels: f" ({'; '.join(labels)})" if labels else ""  # noqa: E731
    return (f"- **Every pair, not just the study's.** Of the {tested} interactions measured (each normalisation "
            f"with each dropout rate, on test loss and test error, at both budgets, where its runs are stored "
            f"and converged) {len(synergy)} "
            f"{'lies' if len(synergy) == 1 else 'lie'} entirely on the synergy side of zero{listed(synergy)} and "
            f"{len(overlap)} entirely on the overlap side{listed(overlap)}; the rest include zero. The count "
            "describes the intervals and tests nothing of its own: at 95% about one interval in 40 falls on "
            "each side by chance, the interactions share cells, and each is counted twice, on test loss and on "
            "test error, which measure it on the same runs; the rows above test the mean interaction and the "
            "ANOVA tests whether there is any.")


VERDICT_READING = {
    v.REPRODUCED: "reproduced",
    v.NOT_REPRODUCED: "not reproduced",
    v.INCONCLUSIVE: "inconclusive",
    v.NOT_COMPARABLE: "not comparable",
    v.MISSING: "not measured yet (runs missing)",
}


def _verdict(row: v.Verdict) -> str:
    """The verdict and our value; a row not comparable gives its reason's first clause too."""
    reason = f"{row.note.split('; ')[0]}; " if row.verdict == v.NOT_COMPARABLE and row.note else ""
    return f"{VERDICT_READING[row.verdict]} ({reason}ours: {row.ours})"


def _synergy_answer(rows: dict) -> str:
    """The answer to the chapter's question, in agreement with the two synergy rows' verdicts."""
    budgets = {"at the study's budget": rows["synergy"].verdict,
               "trained to convergence": rows["synergy_converged"].verdict}
    judged = {b: verdict for b, verdict in budgets.items()
              if verdict in (v.REPRODUCED, v.NOT_REPRODUCED, v.INCONCLUSIVE)}
    if not judged:
        return ""
    pending = [f"{b}: {VERDICT_READING[verdict]}" for b, verdict in budgets.items() if b not in judged]
    found = set(judged.values())
    where = lambda verdict: " and ".join(b for b, x in judged.items() if x == verdict)  # noqa: E731
    if found == {v.REPRODUCED}:
        answer = f"Yes, {where(v.REPRODUCED)}: the pair does more than the sum of its parts."
    elif found == {v.NOT_REPRODUCED}:
        answer = (f"No, {where(v.NOT_REPRODUCED)}: the interaction is distinguishable from zero and positive, so "
                  "together they gain less than the sum of their single gains - the diminishing returns the study set "
                  "out expecting.")
    elif found == {v.INCONCLUSIVE}:
        answer = (f"Not shown. {where(v.INCONCLUSIVE)[0].upper()}{where(v.INCONCLUSIVE)[1:]} the interaction's 95% "
                  "interval covers zero: the pair may simply add up, or do somewhat more or less than the sum, and "
                  "these seeds cannot tell which. The study's single runs could not tell either.")
    else:
        parts = [f"{VERDICT_READING[x]} {where(x)}" for x in (v.REPRODUCED, v.NOT_REPRODUCED, v.INCONCLUSIVE)
                 if x in found]
        answer = "It depends on the budget: " + "; ".join(parts) + "."
    if pending:
        answer += " (" + "; ".join(pending) + ".)"
    general = {b: rows[i].verdict for b, i in (("at the study's budget", "synergy_general"),
                                               ("trained to convergence", "synergy_general_converged"))
               if rows[i].verdict in (v.REPRODUCED, v.NOT_REPRODUCED, v.INCONCLUSIVE)}
    if general:
        meaning = {v.REPRODUCED: "more than the sum", v.NOT_REPRODUCED: "less than the sum",
                   v.INCONCLUSIVE: "not distinguishable from the sum"}
        answer += (f" With the light dropout ({LIGHT_DROPOUT:g}) and every normalisation of the factorial, the mean "
                   "interaction is "
                   + "; ".join(f"{meaning[x]} {b}" for b, x in general.items()) + ".")
    return answer


def conclusion(runs: ChapterRuns) -> str:
    """The chapter's answer, written from the claim rows and the stored numbers (nothing typed in by hand)."""
    s, g, R = runs.settings, runs.groups, REGISTRY
    readings = _both_readings(runs)  # every row judged once on each reading
    rows = {row.id: row for row in _noted(*readings)}
    lines = []
    base, final = measured(g["baseline"]["baseline"]), measured(g["final_journal"]["final_journal"])
    caveat = sample_caveat(rows["final_loss"])
    caveat = caveat if caveat and caveat in rows["final_loss"].note else ""  # only a row judged without the sample
    if base and final:
        lines.append(f"- **The headline improvement.** The final network (6L/64F, InstanceNorm, dropout 0.1, "
                     f"{s.journal_final_epochs} epochs, the journal's budget) reaches a test loss of "
                     f"{_fmt(final)} against {_fmt(base)} for "
                     f"the baseline (study: {R['final_loss'].printed} and {R['baseline_loss'].printed}, i.e. "
                     f"{R['final_loss'].value:.3f} and {R['baseline_loss'].value:.3f}). The final value is "
                     f"{VERDICT_READING[rows['final_loss'].verdict]} after {s.journal_final_epochs} epochs (after the "
                     f"code's {s.final_epochs}, beside the study's own "
                     f"notebook, {R['final_notebook'].printed}: {VERDICT_READING[rows['final_notebook'].verdict]}), the baseline "
                     f"{_verdict(rows['baseline_loss'])}, and the "
                     f"'{R['improvement'].printed} better' {VERDICT_READING[rows['improvement'].verdict]} (ours: "
                     f"{rows['improvement'].ours})."
                     + (f" The final value after {s.journal_final_epochs} epochs: {caveat}." if caveat else ""))
    else:
        lines.append("- **The headline improvement** is written once the baseline and final runs are stored.")
    sweeps = [f"'{R[i].printed} is best' {_verdict(rows[i])}" for i in ("arch_best", "dropout_best", "instance_best")
              if rows[i].verdict != v.MISSING]
    if sweeps:
        lines.append("- **The sweeps**, at the study's budget, by the top group over seeds: " + "; ".join(sweeps) + ".")
    short, longer = measured(g["norm"]["instance"]), measured(g["combined"]["combined"])
    if short and longer:
        change = sum(longer) / len(longer) - sum(short) / len(short)
        study_change = R["combined_loss"].value - R["instance_loss"].value
        spread = ""
        if len(short) > 1 and len(longer) > 1:
            from ..stats import contrast

            welch = contrast({"longer": longer, "short": short}, {"longer": 1.0, "short": -1.0}, v.LEVEL, False)
            spread = (f", 95% Welch interval [{welch.low:+.3f}, {welch.high:+.3f}]"
                      + ("; these seeds cannot tell it from zero" if welch.side == 0 else ""))
        lines.append(f"- **The study's 'combination'** ({R['combined_loss'].printed}) is the very network of its "
                     f"normalisation sweep (InstanceNorm, dropout 0.1: {R['instance_loss'].printed}) trained for "
                     f"{s.final_epochs} instead of {s.epochs} epochs (study: {study_change:+.3f}). Here the extra "
                     f"epochs alone take it from {_fmt(short)} to {_fmt(longer)} ({change:+.3f}{spread}). Comparing "
                     f"the two numbers measures training time, not combining. Its '{R['gain_over_instance'].printed}' gain, "
                     f"measured as it measured it (the extra epochs in it), over its 'InstanceNorm' run (InstanceNorm "
                     f"+ dropout 0.1) is {_verdict(rows['gain_over_instance'])} and over its 'dropout 0.1' run "
                     f"(BatchNorm + dropout 0.1) {_verdict(rows['gain_over_dropout'])}; at one budget, in the "
                     f"factorial, the combination against InstanceNorm without dropout and dropout 0.1 without "
                     f"normalisation is {_verdict(rows['combined_beats_singles'])}.")
    for group, budget, row in (("factorial_study", "at the study's budget", rows["synergy"]),
                               ("factorial_converged", f"trained to convergence ({s.converged_layers}L/"
                                                       f"{s.converged_filters}F)", rows["synergy_converged"])):
        needed = [("instance", 0.0), ("none", 0.1), ("none", 0.0), ("instance", 0.1)]
        cells = interaction_cells(runs, group, "test loss", needed)
        if cells is None:
            missing_count = sum(isinstance(r, MissingRun) for rs in g[group].values() for r in rs)
            lines.append(f"- **Factorial {budget}:** the factorial's cells, whose spread the interaction of "
                         f"InstanceNorm x dropout 0.1 pools, are not all in the store yet "
                         f"({counted(missing_count, 'run')} missing).")
            continue
        mean = {k: sum(cells[k]) / len(cells[k]) for k in needed}
        text = (f"- **Factorial {budget}.** In the cells' means (a description: no row judges a single "
                f"technique's effect), InstanceNorm alone changes the test loss by "
                f"{mean[('instance', 0.0)] - mean[('none', 0.0)]:+.3f} and dropout 0.1 by "
                f"{mean[('none', 0.1)] - mean[('none', 0.0)]:+.3f}; the interaction of the two is {row.ours}: "
                f"{VERDICT_READING[row.verdict]}" + (f" ({row.note.split('; ')[0]})" if row.verdict == v.NOT_COMPARABLE
                                                       else "") + ".")
        error = headline_interaction(runs, group, "test error (%)")
        if error is not None and error.method != "no replicates":
            text += (f" On test error it is {error.format(2, 1.0, ' points')} "
                     f"({'covering zero' if error.side == 0 else 'below zero' if error.side < 0 else 'above zero'}).")
        lines.append(text)
    general = [(budget, rows[i]) for budget, i in (("at the study's budget", "synergy_general"),
                                                   ("trained to convergence", "synergy_general_converged"))
               if rows[i].verdict != v.MISSING]
    if general:
        lines.append(f"- **Light dropout with every normalisation (the general lesson).** The mean of the "
                     f"interactions of every normalisation with dropout {LIGHT_DROPOUT:g} is " + "; ".join(
                         f"{budget}: {_verdict(row)}" for budget, row in general) + "." + _anova_sentence(runs))
    if rows["arch_synergy"].verdict != v.MISSING:
        own = rows["arch_synergy_own"]
        lines.append(f"- **Architecture x regularisation.** Going from 4L/32F to 6L/64F and adding InstanceNorm with "
                     f"dropout 0.1 interact by {rows['arch_synergy'].ours}: "
                     f"'{R['arch_synergy'].printed}' is {VERDICT_READING[rows['arch_synergy'].verdict]}. By the "
                     f"study's own losses ({own.ours}) it is {VERDICT_READING[own.verdict]}.")
    depth = rows["norm_enables_depth"]
    if depth.verdict != v.MISSING:
        lines.append(f"- **Normalisation and depth.** Without dropout, InstanceNorm's effect on the 6-layer network "
                     f"less its effect on the 4-layer one: '{R['norm_enables_depth'].printed}' is {_verdict(depth)}.")
    census = interaction_census(runs)
    if census is not None:
        lines.append(_census_sentence(census))
    lines.append(_reading_sentence(runs, readings))
    answer = _synergy_answer(rows)
    if answer:
        lines.append(f"- **Is the combination more than the sum of its parts?** {answer}")
    return "\n".join(lines)
