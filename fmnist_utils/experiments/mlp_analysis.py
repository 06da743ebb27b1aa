"""Chapter 3: MLP hyperparameter sweeps (loss, depth, width, batch size, learning rate), trained side by side.

The study (Adalı 2025) varies one factor at a time. Our base configuration is the study's best model
with the depth sweep's width: 2 hidden layers of 2096 units, cross-entropy, batch 512, Adam at
2.05e-5, pixels in [0, 1], an 80/20 train/validation split of the 60k training images, patience
stopping on the validation loss and the best-validation-loss checkpoint. Each sweep changes one
factor of it (the loss sweep uses the study's 1 x 128 network, as its Figures 2-4 say). Beyond the
study: the best configuration over several seeds, a joint width x learning-rate grid, and dropout /
batch normalisation on the best MLP.

The study stops its runs by patience alone; the paper profile's epoch cap (1000) is only a safety net,
set above where patience stopping is expected to end even the slowest run (learning rate 2.05e-6, ten
times below the base rate). A run the cap ends anyway cannot say what patience stopping would have
reached, and its rows say so ("not comparable").

Every headline claim of the study is registered once in ``REGISTRY`` and judged by
``fmnist_utils.verdicts``. The study reports "final" accuracies, so the rows read the final epoch's
validation accuracy; the test set is evaluated at the kept checkpoint, and after every epoch for the runs
of the best configuration, whose final test accuracy the study reports. The sweeps train one seed
per setting; their noise is the measured seed spread of the sweeps' base configuration (2 x 2096, the network
every sweep varies one factor of), trained with the chapter's seeds like the best configuration.

Runs that share an architecture and batch size (the learning-rate and loss sweeps, the seeds) train
together as one batched computation (``fmnist_utils.batched``) and land in the store under the keys a
sequential run would have.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..chapter import settings_function
from ..claims import ONE_POINT, Registry, StudyClaim, counted
from ..config import RunConfig, canonical_json
from ..data import TRAIN_IMAGES
from ..params import (ChapterSpec, Param, boolean, int_list, optional, positive_float, positive_float_list,
                      positive_int, probability_list, subset_of)
from ..stats import mean_sd_text
from ..store import describe, table_or_pending, timed_on
from ..verdicts import (INCONCLUSIVE, MISSING, NOT_COMPARABLE, NOT_REPRODUCED, REPRODUCED, RULES, TIMED_FRONT,
                        PART_ORDER, Measured, Noise, Sample, confounded, hardware_bound, join_notes, judge_best,
                        judge_direction, judge_readings, judge_threshold, judge_tradeoff,
                        judge_value, missing, not_comparable, top_group)
from ..tables import book_table

TITLE = "MLP hyperparameter sweeps"
LOSSES = ("ce", "mse", "mae")
LOSS_NAMES = {"ce": "cross-entropy", "mse": "MSE (softmax vs one-hot)", "mae": "MAE (softmax vs one-hot)"}

SPEC = ChapterSpec("mlp_analysis", [
    Param("epochs", {"paper": 1000, "quick": 8, "smoke": 2}, positive_int,
          "maximum epochs per run: a safety cap (the study has none); patience stopping ends the paper runs"),
    Param("patience", {"paper": 5, "quick": 3, "smoke": 1}, positive_int,
          "stop after this many epochs without a lower validation loss"),
    Param("train_subset", {"paper": None, "quick": 10_000, "smoke": 512}, optional(positive_int),
          "train on only the first n images of the 48k training split (None: all)"),
    Param("eval_subset", {"paper": None, "quick": 2_000, "smoke": 500}, optional(positive_int),
          "validate and test on only the first n images (None: all)"),
    Param("base_width", {"paper": 2096, "quick": 512, "smoke": 32}, positive_int,
          "width of the base MLP (2 hidden layers) and of the depth sweep"),
    Param("base_batch_size", {"paper": 512, "quick": 512, "smoke": 64}, positive_int,
          "batch size of every run outside the batch-size sweep"),
    Param("base_lr", {"paper": 2.05e-5, "quick": 2.05e-4, "smoke": 2.05e-3}, positive_float,
          "Adam learning rate of every run outside the learning-rate sweep"),
    Param("losses", ["ce", "mse", "mae"], subset_of(*LOSSES), "losses of the loss sweep"),
    Param("loss_width", 128, positive_int, "width of the 1-hidden-layer MLP of the loss sweep"),
    Param("depths", {"paper": [1, 2, 3, 4], "quick": [1, 2, 3, 4], "smoke": [1, 2, 3]}, int_list,
          "hidden layers of the depth sweep"),
    Param("widths", {"paper": [128, 512, 1024, 2096, 4192], "quick": [128, 256, 512, 1024], "smoke": [16, 32, 64]},
          int_list, "widths of the width sweep (2 hidden layers)"),
    Param("batch_sizes", {"paper": [1, 8, 16, 64, 256, 512, 1024], "quick": [16, 64, 256, 512], "smoke": [16, 64]},
          int_list, "batch sizes of the batch-size sweep"),
    Param("lrs", {"paper": [5e-2, 2.05e-3, 2.05e-4, 2.05e-5, 2.05e-6], "quick": [5e-2, 2.05e-3, 2.05e-4, 2.05e-5],
                  "smoke": [2.05e-3, 2.05e-4]}, positive_float_list, "learning rates of the learning-rate sweep"),
    Param("step_batch_size", {"paper": 16, "quick": 16, "smoke": 16}, positive_int,
          "batch size whose loss is also recorded per learning step"),
    Param("log_every_steps", {"paper": 10, "quick": 5, "smoke": 1}, positive_int,
          "record the loss of every n-th learning step of that run"),
    Param("fused_below_batch", 16, positive_int,
          "runs with a smaller batch use PyTorch's fused Adam step (same update rule, different rounding): "
          "at batch 1 and 8 the optimiser step is most of the time"),
    Param("best_width", {"paper": 4192, "quick": 1024, "smoke": 64}, positive_int,
          "width of the study's best MLP (2 hidden layers, base batch size and learning rate, cross-entropy)"),
    Param("seeds", {"paper": [42, 43, 44], "quick": [42, 43], "smoke": [42, 43]}, int_list,
          "seeds of the sweeps' base configuration (whose spread the sweeps' single runs borrow) and of the best "
          "configuration; every other run uses the first"),
    Param("joint_widths", {"paper": [512, 1024, 2096, 4192], "quick": [256, 512, 1024], "smoke": [16, 32]},
          int_list, "widths of the joint width x learning-rate grid"),
    Param("joint_lrs", {"paper": [2.05e-5, 6.5e-5, 2.05e-4], "quick": [2.05e-4, 6.5e-4], "smoke": [2.05e-3, 2.05e-4]},
          positive_float_list, "learning rates of the joint grid"),
    Param("dropouts", {"paper": [0.2], "quick": [0.2], "smoke": [0.2]}, probability_list,
          "dropout rates tried on the best MLP"),
    Param("batch_norm", True, boolean, "also train the best MLP with batch normalisation"),
])
settings_from = settings_function(SPEC)
SWEEPS = ("loss", "depth", "width", "batch", "lr")  # the study's one-factor-at-a-time sweeps

# ----- what a row measures ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    """One number read from a stored run, named by the quantity it is (the claims' like-with-like check)."""

    quantity: str
    read: Callable
    scale: float = 100.0  # display: fractions as percent
    digits: int = 2
    cap_bound: bool = False  # capped runs give a lower bound (an epoch count) rather than nothing
    epochs_needed: int = 1
    # compared on the log scale: a count whose seed spread grows with it (epochs: a single run needing 300 borrows
    # the base's spread as a ratio, not as the base's few epochs)
    log: bool = False

    def __call__(self, run) -> float:
        value = float(self.read(run))
        return math.log(value) if self.log else value

    def shown(self, value: float) -> str:
        """A value (or a mean) of the measure as a reader reads it: a log-scale one back in its own unit (a mean of
        logs: the geometric mean)."""
        return f"{math.exp(value):.0f}" if self.log else f"{value * self.scale:.{self.digits}f}"


FINAL_VAL = Measure("validation accuracy, final epoch", lambda r: r.history[-1]["val_acc"])
FINAL_TRAIN = Measure("training accuracy, final epoch", lambda r: r.history[-1]["train_acc"])
FINAL_GAP = Measure("the train - validation accuracy gap, final epoch",
                    lambda r: r.history[-1]["train_acc"] - r.history[-1]["val_acc"])
KEPT_EPOCH = Measure("the epoch of lowest validation loss (log scale)", lambda r: r.metrics["best_epoch"], scale=1.0,
                     digits=2, cap_bound=True, log=True)
EARLY_VAL = Measure("validation accuracy, epoch 5", lambda r: r.history[4]["val_acc"], epochs_needed=5)
KEPT_TEST = Measure("test accuracy, lowest-validation-loss checkpoint", lambda r: r.metrics["accuracy"])
FINAL_TEST = Measure("test accuracy, final epoch", lambda r: r.history[-1]["test_acc"])


def ordering(measure: Measure) -> str:
    return f"ordering of {measure.quantity}"


ORDER, ORDER_TRAIN, ORDER_GAP = ordering(FINAL_VAL), ordering(FINAL_TRAIN), ordering(FINAL_GAP)
ORDER_EPOCHS, ORDER_EARLY = ordering(KEPT_EPOCH), ordering(EARLY_VAL)
TRADEOFF = f"{FINAL_VAL.quantity}, against training time"
WITHIN_POINT = f"{FINAL_VAL.quantity}: each deeper network's minus 2 x 4192's, below one point"
GAP = "training against validation accuracy, final epoch"


# ----- what the study claims ------------------------------------------------------------------------

REGISTRY = Registry([
    StudyClaim("factors_matter", "architecture and training hyperparameters strongly change dynamics and accuracy",
               "abstract", "significantly influence", "effect of each swept factor",
               not_tested="a summary: each factor's effect has its own row (loss, depth, width, batch size, "
                          "learning rate)"),
    StudyClaim("sweep_ranges", "the ranges of Table 1 are the ranges swept", "Table 1, section 2.1, Figure 10",
               "1.5e-5 - 2.35e-4", "learning rates and widths swept",
               not_tested="an inconsistency of the study's own text, not a measurement: Table 1 gives learning "
                          "rates 1.5e-5 to 2.35e-4 and widths up to 4192, section 2.1 widths up to 4096, while "
                          "Figure 10 sweeps 2.05e-6 to 5e-2; the chapter sweeps the figures' values"),
    StudyClaim("stopping_rule", "patience stopping watches the loss (2.2) or validation accuracy (4.2)",
               "section 2.2, 4.2", "loss / validation accuracy", "stopping criterion",
               not_tested="the study names two criteria for one rule (section 2.2 says only 'the loss', section "
                          "4.2 validation accuracy); the chapter reads 'the loss' as the validation loss and stops "
                          "after 5 epochs without a new minimum (the study gives no patience)"),
    StudyClaim("ce_best", "cross-entropy beats MSE and MAE", "section 3.1, 4.2, 5", "cross-entropy", ORDER),
    StudyClaim("depth_best", "2-3 hidden layers perform best", "section 3.2, 4.1, 5", "2-3 hidden layers", ORDER),
    StudyClaim("depth_one_faster", "one hidden layer converges faster than 2-3", "section 3.2",
               "converged faster", ORDER_EPOCHS),
    StudyClaim("depth_one_lower", "one hidden layer ends slightly less accurate than 2-3", "section 3.2",
               "slightly lower final accuracy", ORDER),
    StudyClaim("depth_four_overfits", "4 hidden layers start overfitting earlier", "section 3.2, 4.1",
               "overfitting earlier", ORDER_EPOCHS),
    StudyClaim("deeper_lower_lr", "deeper networks need lower, more carefully tuned learning rates",
               "section 3.2, 3.5, 4.2", "lower learning rates", "best learning rate per depth",
               not_tested="needs a learning-rate sweep at each depth; the study and the chapter sweep the "
                          "learning rate at 2 hidden layers only"),
    StudyClaim("width_wider_better", "wider layers (1024-4192) reach the highest accuracy", "section 3.3",
               "1024-4192", ORDER),
    StudyClaim("width_underfit", "layers narrower than 512 underfit", "section 3.3", "below 512", ORDER_TRAIN),
    StudyClaim("width_fast_start", "4192-unit layers converge faster at first", "section 3.3",
               "faster initial convergence", ORDER_EARLY),
    StudyClaim("width_regularisation", "4192-unit layers need more careful regularisation", "section 3.3",
               "more careful regularization", "regularisation needed per width",
               not_tested="the study gives no measure; the chapter's dropout and batch-normalisation runs use "
                          "the 4192-unit network only, so they compare no widths"),
    StudyClaim("width_optimum", "about 2096 units balances accuracy and training cost", "section 3.3",
               "around 2096 neurons", TRADEOFF),
    StudyClaim("batch_small_unstable", "batches of 1 and 8 train noisily and unstably", "section 3.4",
               "unstable training", "stability of training",
               not_tested="the study gives no measure of stability, and accuracy is none (a run can end lower "
                          "without being unstable); the chapter shows the curves and, for batch 16, the spread of "
                          "single-step losses"),
    StudyClaim("batch_large_more_epochs", "batches of 256-512 need more epochs than 64-128", "section 3.4",
               "required more epochs", ORDER_EPOCHS),
    StudyClaim("batch_huge_slow", "very large batches (1024) slow convergence down", "section 4.2",
               "slowed down overall convergence", ORDER_EPOCHS),
    StudyClaim("batch_medium_balance", "batches of 64-128 balance stability and speed", "section 3.4", "64, 128",
               TRADEOFF),
    StudyClaim("batch_tradeoff", "batches of 256-512 are the best trade-off", "section 3.4, 4.2, 5", "256-512",
               TRADEOFF),
    StudyClaim("step_spikes", "per-step losses are spikier than per-epoch losses", "section 3.4.1, Figure 9",
               "spikiness", "spread of single-step against per-epoch loss",
               not_tested="an explanation of Figure 9 that holds by construction (an epoch's loss is the mean of "
                          "its steps'); the chapter redraws the figure and tabulates each epoch's step spread"),
    StudyClaim("lr_small_slow", "too small a learning rate (2.05e-6) converges slowly", "section 3.5",
               "slow convergence", ORDER_EPOCHS),
    StudyClaim("lr_large_unstable", "too large a learning rate (5e-2) trains unstably and may diverge", "section 3.5",
               "unstable training", "stability of training",
               not_tested="the study gives no measure of stability or divergence, and accuracy is none (as for "
                          "the small batches); the rate's accuracy is part of the lr_best row and its curves are "
                          "drawn in the chapter"),
    StudyClaim("lr_best", "learning rates of 2e-5 to 3e-5 are best", "section 3.5, 5", "2.0e-5 to 3.0e-5", ORDER),
    StudyClaim("best_config", "the Table 2 configuration is the best of the sweeps", "section 3.6, Table 2",
               "batch size 512, learning rate 2.05e-5, Cross-Entropy, 2 hidden layers, width 4192", ORDER),
    StudyClaim("best_val", "best model: validation accuracy", "Table 2", "89.9%", "validation accuracy, final epoch"),
    StudyClaim("best_val_conclusion", "best model: validation accuracy as the conclusion quotes it", "section 5",
               "89.7%", "validation accuracy, final epoch"),
    StudyClaim("best_test", "best model: test accuracy", "Table 2, section 5", "89.3%", "test accuracy, final epoch"),
    StudyClaim("best_overfits", "the best model overfits (training above validation accuracy)",
               "section 3.6, Figure 11", "overfitting", GAP),
    StudyClaim("best_generalises", "the best model generalises well", "section 5", "good generalization",
               "validation against test accuracy",
               not_tested="no measure is given; it rests on the validation and test accuracies (rows "
                          "best_val_conclusion, best_test) and sits uneasily with section 3.6's 'overfits' (row "
                          "best_overfits)"),
    StudyClaim("width_vs_depth", "widening helps more than deepening", "section 4.1, 5",
               "width more than depth", ORDER),
    StudyClaim("architecture_best", "2-3 hidden layers of 2000+ units are best", "section 4.1, 5",
               "2-3 layers, 2000-4000 neurons", ORDER),
    StudyClaim("wide_matches_deeper", "2 x 4192 is about as accurate as deeper networks (and trains faster)",
               "section 4.1", "nearly the same accuracy", WITHIN_POINT),
    StudyClaim("gap_capacity", "the largest models (4 layers, 4000+ units) have the largest gaps",
               "section 4.1, 4.3", "larger gaps", ORDER_GAP),
    StudyClaim("gap_moderate", "moderate models (2-3 layers, 2000-3000 units) keep smaller gaps than the largest",
               "section 4.3", "smaller generalization gaps", ORDER_GAP),
    StudyClaim("gap_loss", "cross-entropy has a smaller gap than MSE and MAE", "section 4.3", "smaller gaps",
               ORDER_GAP),
    StudyClaim("patience_saves", "patience stopping saved computation", "section 4.2",
               "saved computational resources", "compute saved by early stopping",
               not_tested="a property of the protocol rather than a finding: every run of the chapter stops by "
                          "patience as well"),
])


def fmt_lr(lr: float) -> str:
    return f"{lr:.3g}"


def config(settings, *, depth: int = 2, width: int | None = None, batch_size: int | None = None,
           lr: float | None = None, loss: str = "ce", seed: int | None = None, dropout: float = 0.0,
           batch_norm: bool = False, log_every_steps: int | None = None, track_test: bool = False) -> RunConfig:
    """One MLP run: the base configuration with the given changes; ``track_test`` also evaluates the test set
    after every epoch (it selects nothing: the kept checkpoint is still the lowest validation loss)."""
    model_args = {"hidden_layers": depth, "width": width or settings.base_width}
    if dropout:
        model_args["dropout"] = float(dropout)
    if batch_norm:
        model_args["batch_norm"] = True
    batch_size = batch_size or settings.base_batch_size
    return RunConfig(
        model="mlp", model_args=model_args,
        val_fraction=0.2, split_seed=42,  # 48k / 12k of the 60k training images
        normalize=None,  # pixels in [0, 1]
        train_subset=settings.train_subset, eval_subset=settings.eval_subset,
        loss=loss, optimizer="adam", lr=float(lr or settings.base_lr),
        fused_optimizer=batch_size < settings.fused_below_batch,
        epochs=settings.epochs, batch_size=batch_size,
        monitor="val_loss", patience=settings.patience, select_best=True,
        seed=settings.seeds[0] if seed is None else seed,
        log_every_steps=log_every_steps, precision=settings.precision, track_test=track_test,
    )


def sweeps(settings) -> dict[str, list[tuple[object, RunConfig]]]:
    """Every sweep as (label, configuration) pairs; equal configurations in two sweeps are one run."""
    batch = [(b, config(settings, batch_size=b,
                        log_every_steps=settings.log_every_steps if b == settings.step_batch_size else None))
             for b in settings.batch_sizes]
    steps = [(settings.step_batch_size, config(settings, batch_size=settings.step_batch_size,
                                               log_every_steps=settings.log_every_steps))]
    regularisation = [("none", config(settings, width=settings.best_width))]
    regularisation += [(f"dropout {p:g}", config(settings, width=settings.best_width, dropout=p))
                       for p in settings.dropouts]
    if settings.batch_norm:
        regularisation.append(("batch norm", config(settings, width=settings.best_width, batch_norm=True)))
    found = {
        "loss": [(loss, config(settings, depth=1, width=settings.loss_width, loss=loss)) for loss in settings.losses],
        "depth": [(d, config(settings, depth=d)) for d in settings.depths],
        "width": [(w, config(settings, width=w)) for w in settings.widths],
        "batch": batch,
        "steps": steps,
        "lr": [(lr, config(settings, lr=lr)) for lr in settings.lrs],
        "best": [(seed, config(settings, width=settings.best_width, seed=seed)) for seed in settings.seeds],
        "base": [(seed, config(settings, seed=seed)) for seed in settings.seeds],
        # the loss sweep varies another network (one hidden layer): its cross-entropy run's seeds give its spread
        "loss_base": [(seed, config(settings, depth=1, width=settings.loss_width, loss="ce", seed=seed))
                      for seed in settings.seeds],
        "joint": [((w, lr), config(settings, width=w, lr=lr)) for w in settings.joint_widths for lr in settings.joint_lrs],
        "regularisation": regularisation,
    }
    # every run of the best configuration, in any sweep, is trained as best_config trains it; other runs test
    # their kept checkpoint
    best = best_config(settings)
    return {sweep: [(label, c.replace(track_test=True) if c.replace(seed=best.seed, track_test=True) == best else c)
                    for label, c in pairs] for sweep, pairs in found.items()}


def best_config(settings) -> RunConfig:
    """The study's best configuration (chapter seed): the study tests its best model as it ends (the final epoch),
    so its runs measure the test set after every epoch, selecting nothing."""
    return config(settings, width=settings.best_width).replace(track_test=True)


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """Every distinct run of the chapter (no run needs its weights again)."""
    seen, runs = set(), []
    for pairs in sweeps(settings).values():
        for _, run_config in pairs:
            identity = repr(sorted(run_config.identity().items()))
            if identity not in seen:
                seen.add(identity)
                runs.append((run_config, False))
    return runs


def fill_store(settings, store, workers, runs=None) -> None:
    """Train what the store lacks of ``runs`` (default: the whole plan): runs that share an
    architecture and batch size together (batched)."""
    from ..batched import run_grouped

    runs = plan(settings) if runs is None else runs
    if workers is None and settings.profile == "smoke":
        workers = 1  # seconds of training: starting worker processes would cost more than it saves
    outcomes = run_grouped([c for c, _ in runs], store, workers=workers, device=settings.device,
                           save_weights={store.key(c) for c, needs in runs if needs},
                           progress=settings.progress)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"{counted(len(failed), 'run')} failed; first error:\n{failed[0].error}")


@dataclass
class ChapterRuns:
    sweeps: dict  # sweep -> [(label, StoredRun | MissingRun)]
    settings: object


def gather(settings) -> ChapterRuns:
    """Every run of the chapter from the store, training the missing ones first if the settings say so."""
    from ..store import ResultStore

    store = ResultStore(settings.store_dir)
    if settings.train_missing:
        fill_store(settings, store, settings.workers)
    return ChapterRuns({name: [(label, store.status(c)) for label, c in pairs]
                        for name, pairs in sweeps(settings).items()}, settings)


# ----- reading runs -------------------------------------------------------------------------------

def is_stored(run) -> bool:
    from ..store import StoredRun

    return isinstance(run, StoredRun)


def selected_row(run) -> dict:
    """The history row of the checkpoint the run kept (minimum validation loss)."""
    return run.history[run.metrics["best_epoch"] - 1]


def val_acc(run) -> float:
    """Validation accuracy of the kept checkpoint."""
    return selected_row(run)["val_acc"]


def ended_by_cap(run) -> bool:
    """Trained to its epoch cap without meeting the patience rule."""
    return not run.result.get("stopped_early") and run.metrics["epochs_run"] >= run.config.epochs


def cap_text(run) -> str:
    best, cap = run.metrics["best_epoch"], run.config.epochs
    return f"ended by the {cap}-epoch cap " + (
        "while still improving" if best == cap else f"{counted(cap - best, 'epoch')} after its best, patience unmet")


def run_seconds(run) -> float:
    """Training seconds of the whole run as stored (one thread per run, on the CPU that trained it)."""
    return sum(row["train_seconds"] for row in run.history)


def run_name(sweep: str, label) -> str:
    """A sweep setting named so that it reads alone (in lists that mix sweeps)."""
    prefix = {"loss": "loss ", "best": "Table 2 ", "base": "base ", "loss_base": "loss cross-entropy ",
              "joint": "joint grid ", "steps": "steps "}.get(
        sweep, "")
    if sweep == "regularisation" and label == "none":
        return "no regularisation"
    return prefix + setting_name(sweep, label)


def setting_name(sweep: str, label) -> str:
    if sweep == "loss":
        return LOSS_NAMES[label]
    if sweep == "depth":
        return f"{label} hidden layer{'s' if label != 1 else ''}"
    if sweep == "width":
        return f"width {label}"
    if sweep in ("batch", "steps"):
        return f"batch {label}"
    if sweep == "lr":
        return f"lr {fmt_lr(label)}"
    if sweep in ("best", "base", "loss_base"):
        return f"seed {label}"
    if sweep == "joint":
        return f"width {label[0]}, lr {fmt_lr(label[1])}"
    return str(label)


def architecture(config: RunConfig) -> str:
    return f"{config.model_args['hidden_layers']} x {config.model_args['width']}"


@dataclass
class Setting:
    """One configuration with every seed the chapter trains of it (stored or missing runs)."""

    name: str
    runs: list

    @property
    def config(self) -> RunConfig:
        return self.runs[0].config

    @property
    def missing(self) -> bool:
        return not all(is_stored(run) for run in self.runs)

    @property
    def capped(self) -> list:
        return [run for run in self.runs if is_stored(run) and ended_by_cap(run)]

    def values(self, measure: Measure) -> list[float]:
        return [measure(run) for run in self.runs]

    def mean(self, measure: Measure) -> float:
        return float(np.mean(self.values(measure)))


def _family(config: RunConfig) -> str:
    """A configuration apart from its seed."""
    return canonical_json({k: v for k, v in config.identity().items() if k != "seed"})


def _families(runs: "ChapterRuns") -> dict[str, dict]:
    """Every run of the chapter, by configuration apart from the seed (the seeds of one configuration)."""
    families: dict[str, dict] = {}
    for pairs in runs.sweeps.values():
        for _, run in pairs:
            families.setdefault(_family(run.config), {}).setdefault(run.key, run)
    return families


def sweep_settings(runs: "ChapterRuns", sweep: str, name: Callable | None = None) -> dict:
    """{label: Setting} of a sweep; a configuration trained with several seeds brings all of them."""
    families = _families(runs)
    return {label: Setting(name(run.config) if name else setting_name(sweep, label),
                           list(families[_family(run.config)].values()))
            for label, run in runs.sweeps[sweep]}


def best_setting(runs: "ChapterRuns") -> Setting:
    """The study's best configuration (Table 2) over the chapter's seeds."""
    seeds = [run for _, run in runs.sweeps["best"]]
    return Setting(f"Table 2: {architecture(seeds[0].config)}", seeds)


def base_setting(runs: "ChapterRuns") -> Setting:
    """The sweeps' base configuration (the network each sweep varies one factor of) over the chapter's seeds."""
    seeds = [run for _, run in runs.sweeps["base"]]
    return Setting(f"base {architecture(seeds[0].config)}", seeds)


def loss_setting(runs: "ChapterRuns") -> Setting:
    """The loss sweep's cross-entropy network over the chapter's seeds: the network that sweep varies."""
    seeds = [run for _, run in runs.sweeps["loss_base"]]
    return Setting(f"cross-entropy {architecture(seeds[0].config)}", seeds)


def overview(runs: ChapterRuns):
    """Which runs each sweep reads and whether the store has them."""
    import pandas as pd

    rows = [{"sweep": sweep, "setting": setting_name(sweep, label), "run": run.key, "status": describe(run)}
            for sweep, pairs in runs.sweeps.items() for label, run in pairs]
    return pd.DataFrame(rows)


def training_groups(settings):
    """How the missing runs of this profile are trained: which share one batched computation."""
    import pandas as pd

    from ..batched import batchable, group_configs

    configs = [c for c, _ in plan(settings)]
    groups, alone = group_configs(configs, max_members=8)
    rows = []
    for group in groups:
        c = group[0]
        rows.append({"architecture": f"{c.model_args['hidden_layers']} x {c.model_args['width']}",
                     "batch": c.batch_size, "runs": len(group), "fmnist-book train trains them": "together (batched)",
                     "differ in": ", ".join(sorted({name for m in group for name in ("loss", "lr", "seed")
                                                     if getattr(m, name) != getattr(c, name)})) or "-"})
    for c in alone:
        extra = {k: v for k, v in c.model_args.items() if k not in ("hidden_layers", "width")}
        rows.append({"architecture": f"{c.model_args['hidden_layers']} x {c.model_args['width']}"
                                     + "".join(f", {k} {v}" for k, v in extra.items()),
                     "batch": c.batch_size, "runs": 1,
                     "fmnist-book train trains them": "alone" + (f" ({batchable(c)})" if batchable(c) else ""),
                     "differ in": "-"})
    return pd.DataFrame(rows)


def parameter_table(settings):
    """Parameters of every architecture the chapter trains."""
    import pandas as pd

    from ..models import build_model, count_parameters

    shapes = sorted({(c.model_args["hidden_layers"], c.model_args["width"]) for c, _ in plan(settings)})
    return pd.DataFrame([{"hidden layers": d, "width": w,
                          "parameters": f"{count_parameters(build_model('mlp', hidden_layers=d, width=w)):,}"}
                         for d, w in shapes])


def sweep_table(runs: ChapterRuns, sweep: str):
    """Per setting: how the run ended, the final epoch's accuracies (what the claims read) and the kept checkpoint's."""
    import pandas as pd

    rows = []
    for label, run in runs.sweeps[sweep]:
        row = {"setting": setting_name(sweep, label)}
        if is_stored(run):
            final = run.history[-1]
            row.update({"epochs run": run.metrics["epochs_run"], "best epoch": run.metrics["best_epoch"],
                        "ended by": cap_text(run) if ended_by_cap(run) else "patience",
                        "train acc": final["train_acc"], "val acc": final["val_acc"],
                        "gap": final["train_acc"] - final["val_acc"],
                        "val acc (kept)": val_acc(run), "test acc (kept)": run.metrics["accuracy"]})
        else:
            row.update({"epochs run": "missing"})
        rows.append(row)
    return book_table(pd.DataFrame(rows).set_index("setting").round(4),
                      "ended by: the patience rule or the epoch cap; train acc, val acc: the last epoch's accuracies "
                      "(what the study's figures read); gap: train acc - val acc; best epoch: the kept checkpoint "
                      "(lowest validation loss); val acc (kept), test acc (kept): its accuracies, test read once.")


def histories(runs: ChapterRuns, sweep: str) -> dict:
    """{setting: [history]} of the stored runs of a sweep, for plots.learning_curves."""
    return {setting_name(sweep, label): [run.history] for label, run in runs.sweeps[sweep] if is_stored(run)}


def missing_settings(runs: ChapterRuns, sweep: str) -> list[str]:
    return [setting_name(sweep, label) for label, run in runs.sweeps[sweep] if not is_stored(run)]


def step_run(runs: ChapterRuns):
    """The run whose loss was recorded per learning step, or None while it is missing."""
    run = runs.sweeps["steps"][0][1]
    return run if is_stored(run) else None


def step_series(run) -> dict:
    """Per-step losses with their step numbers, and the per-epoch losses at the epochs' last steps."""
    import math

    every = run.config.log_every_steps
    n_train = run.history[0]["train_images"]
    per_epoch = run.config.steps_per_epoch or math.ceil(n_train / run.config.batch_size)
    steps, losses = [], []
    for number, row in enumerate(run.history):
        for k, loss in enumerate(row["step_losses"]):
            steps.append(number * per_epoch + k * every + 1)
            losses.append(loss)
    return {"steps": steps, "losses": losses, "steps_per_epoch": per_epoch,
            "epoch_end_steps": [(i + 1) * per_epoch for i in range(len(run.history))],
            "train_loss": [r["train_loss"] for r in run.history], "val_loss": [r["val_loss"] for r in run.history]}


def step_noise_table(run):
    """How spiky the per-step loss is compared with the per-epoch mean, epoch by epoch."""
    import numpy as np
    import pandas as pd

    rows = []
    for row in run.history:
        values = np.asarray(row["step_losses"], dtype=float)
        rows.append({"epoch": row["epoch"], "epoch mean train loss": row["train_loss"],
                     "recorded steps": len(values), "step loss min": values.min(), "step loss max": values.max(),
                     "step loss std": values.std(ddof=1) if len(values) > 1 else float("nan")})
    return book_table(pd.DataFrame(rows).set_index("epoch").round(4))


def batch_timing_table(runs: ChapterRuns):
    """Seconds per epoch and to the kept epoch as stored, per batch size (volatile: not checked)."""
    import pandas as pd

    rows = []
    for label, run in runs.sweeps["batch"]:
        if is_stored(run):
            seconds = [r["train_seconds"] for r in run.history]
            rows.append({"batch": label, "steps per epoch": -(-run.history[0]["train_images"] // label),
                         "seconds per epoch": sum(seconds) / len(seconds),
                         "seconds to best epoch": sum(seconds[: run.metrics["best_epoch"]]),
                         "Adam step": "fused" if run.config.fused_optimizer else "default",
                         "val acc (kept)": val_acc(run)})  # the kept checkpoint's, not the final epoch's
    return table_or_pending(pd.DataFrame(rows).set_index("batch").round(3) if rows else pd.DataFrame(),
                            "Batch-size timings")


def _tested_each_epoch(run) -> bool:
    return "test_acc" in run.history[-1]


def _final_test_text(run) -> str:
    """The last epoch's test accuracy, or why there is none (a run that tested only its kept checkpoint)."""
    return f"{FINAL_TEST(run):.4f}" if _tested_each_epoch(run) else "not evaluated"


def best_table(runs: ChapterRuns):
    """The study's best configuration over seeds, beside Table 2 of the study."""
    import pandas as pd

    rows, stored = [], [run for _, run in runs.sweeps["best"] if is_stored(run)]
    for label, run in runs.sweeps["best"]:
        if is_stored(run):
            rows.append({"run": f"seed {label}", "epochs run": run.metrics["epochs_run"],
                         "train acc": f"{FINAL_TRAIN(run):.4f}", "val acc": f"{FINAL_VAL(run):.4f}",
                         "best epoch": run.metrics["best_epoch"], "val acc (kept)": f"{val_acc(run):.4f}",
                         "test acc (kept)": f"{KEPT_TEST(run):.4f}", "test acc": _final_test_text(run)})
        else:
            rows.append({"run": f"seed {label}", "epochs run": "missing"})
    if len(stored) > 1:
        def spread(values) -> str:
            return mean_sd_text(values, digits=4)

        rows.append({"run": f"mean ± std (n={len(stored)})", "epochs run": "",
                     "train acc": spread([FINAL_TRAIN(r) for r in stored]),
                     "val acc": spread([FINAL_VAL(r) for r in stored]), "best epoch": "",
                     "val acc (kept)": spread([val_acc(r) for r in stored]),
                     "test acc (kept)": spread([KEPT_TEST(r) for r in stored]),
                     "test acc": spread([FINAL_TEST(r) for r in stored]) if all(map(_tested_each_epoch, stored))
                     else ""})
    quoted = REGISTRY["best_val_conclusion"].printed
    rows.append({"run": "study (Table 2)", "epochs run": "", "train acc": "",
                 "val acc": f"{REGISTRY['best_val'].value:.4f} ({quoted} in section 5)",
                 "best epoch": "", "val acc (kept)": "", "test acc (kept)": "",
                 "test acc": f"{REGISTRY['best_test'].value:.4f}"})
    return book_table(pd.DataFrame(rows).set_index("run"),
                      "train acc, val acc, test acc: the last epoch's accuracies (test acc: the study's Table 2 "
                      "column, which the claims read; measured after every epoch, selecting nothing); best epoch: "
                      "the kept checkpoint (lowest validation loss); val acc (kept), test acc (kept): its accuracies.")


def joint_table(runs: ChapterRuns, metric: str = "val acc"):
    """Width x learning rate: the final epoch's validation accuracy ("val acc", mean over seeds where a cell has
    several) or the kept checkpoint's test accuracy ("test acc"); NaN where missing."""
    import pandas as pd

    measure = {"val acc": FINAL_VAL, "test acc": KEPT_TEST}[metric]
    cells = {}
    for (width, lr), setting in sweep_settings(runs, "joint").items():
        value = float("nan") if setting.missing else setting.mean(measure)
        cells.setdefault(f"lr {fmt_lr(lr)}", {})[width] = value
    frame = pd.DataFrame(cells)
    frame.index.name = "width (2 hidden layers)"
    return book_table(frame.round(4))


def regularisation_table(runs: ChapterRuns):
    return sweep_table(runs, "regularisation")


def capped_runs(runs: ChapterRuns) -> list[str]:
    """Stored runs that the epoch cap ended before the patience rule did, as "sweep setting (how)"."""
    seen, capped = set(), []
    for sweep, pairs in runs.sweeps.items():
        for label, run in pairs:
            if is_stored(run) and run.key not in seen and ended_by_cap(run):
                seen.add(run.key)
                capped.append(f"{run_name(sweep, label)} ({cap_text(run)})")
    return capped


# ----- the study's claims, judged --------------------------------------------------------------------

@dataclass
class Blocked:
    """Why a row cannot be judged yet (a run is missing) or at all (a run cannot measure the quantity)."""

    verdict: str
    note: str


def _blocked(settings: list[Setting], measure: Measure, *, bounds: bool = False) -> Blocked | None:
    """Missing runs first, then runs the epoch cap ended (unless ``bounds``: the caller uses them as lower
    bounds), then runs too short for the measure. Each run is named once, by the first setting that reads it."""
    named = {}
    for setting in settings:
        for run in setting.runs:
            seed = f", seed {run.config.seed}" if len(setting.runs) > 1 else ""
            named.setdefault(run.key, (setting.name + seed, run))
    absent = [name for name, run in named.values() if not is_stored(run)]
    if absent:
        return Blocked(MISSING, "not in the store yet: " + ", ".join(absent))
    capped = [f"{name} {cap_text(run)}" for name, run in named.values() if ended_by_cap(run)]
    if capped and not bounds:
        return Blocked(NOT_COMPARABLE, "; ".join(capped) + f": the epoch cap, not patience stopping, ended "
                       f"{'it' if len(capped) == 1 else 'them'}, so {measure.quantity} is not what the study's "
                       "patience stopping gives")
    short = [name for name, run in named.values() if len(run.history) < measure.epochs_needed]
    if short:
        return Blocked(NOT_COMPARABLE, f"shorter than {counted(measure.epochs_needed, 'epoch')}: " + ", ".join(short))
    return None


def _means(settings: list[Setting], measure: Measure) -> str:
    return ", ".join(f"{s.name} {measure.shown(s.mean(measure))}" for s in settings)


def _stop(claim: StudyClaim, blocked: Blocked, settings: list[Setting], measure: Measure):
    if blocked.verdict == MISSING:
        return missing(claim, blocked.note)
    return not_comparable(claim, _means(settings, measure), blocked.note)


def noise_seeds(runs: ChapterRuns, loss: bool = False) -> Setting:
    """The seeds whose spread the sweeps' single runs borrow: the sweeps' base configuration's (``loss``: the loss
    sweep's cross-entropy network, the one-hidden-layer network that sweep varies)."""
    seeds = loss_setting(runs) if loss else base_setting(runs)
    return Setting(f"{seeds.name} (noise)", seeds.runs)


def family_noise(runs: ChapterRuns, measure: Measure, loss: bool = False) -> Noise | None:
    """The seed spread of ``measure`` in the network a sweep varies one factor of: the sweeps' base configuration
    (``loss``: the loss sweep's cross-entropy network); the noise of the sweeps' single runs (a setting with seeds
    of its own, the base's or the best configuration's, reads those)."""
    seeds = loss_setting(runs) if loss else base_setting(runs)
    which = "the loss sweep's cross-entropy network" if loss else "the sweeps' base configuration"
    return Noise.of(seeds.values(measure),
                    f"seed spread of {measure.quantity} in {which} ({architecture(seeds.config)}, "
                    f"{counted(len(seeds.runs), 'seed')}); the sweeps train one seed per setting")


def _absent(claim: StudyClaim, what: str):
    return not_comparable(claim, "-", f"this profile's sweeps lack {what}")


def _best(claim: StudyClaim, runs: ChapterRuns, groups: list[Setting], claimed: list[Setting], measure: Measure, *,
          higher: bool = True, note: str = "", loss: bool = False):
    """``loss``: the groups are the loss sweep's, whose single runs borrow its own network's spread."""
    blocked = _blocked(groups + [noise_seeds(runs, loss)], measure)
    if blocked:
        return _stop(claim, blocked, groups, measure)

    def judged(top_set: bool):
        return judge_best(claim, {s.name: s.values(measure) for s in groups}, [s.name for s in claimed],
                          measured=ordering(measure), higher=higher, noise=family_noise(runs, measure, loss),
                          scale=measure.scale, digits=measure.digits, note=note, top_set=top_set)

    if len(claimed) == 1:
        return judged(False)
    # "2-3 layers are best": one of them the best, or each of them ahead of every other; nothing settles which
    return judge_readings({"one of them the best": judged(False), "each of them ahead of every other": judged(True)})


def _direction(claim: StudyClaim, runs: ChapterRuns, a: Setting, b: Setting, measure: Measure, *, higher: bool,
               note: str = "", among: list[Setting] = ()):
    """"a is higher (lower) than b". With an epoch count, a single capped run's count is a lower bound (the book's
    bound rule): the verdict stands when a larger count could only strengthen it, and the row is not comparable
    otherwise. ``among``: further settings the row waits for."""
    seeds = noise_seeds(runs)
    blocked = _blocked([a, b, *among, seeds], measure, bounds=measure.cap_bound) or _blocked([seeds], measure)
    if blocked:
        return _stop(claim, blocked, [a, b], measure)
    row = judge_direction(claim, a.values(measure), b.values(measure), measured=ordering(measure), higher=higher,
                          noise=family_noise(runs, measure), names=(a.name, b.name), scale=measure.scale,
                          digits=measure.digits, note=join_notes(note, (
                              f"compared as logs, the spread a ratio; in epochs (geometric means): "
                              f"{_means([a, b], measure)}") if measure.log else ""))
    capped = [s for s in (a, b) if s.capped]
    if not capped:
        return row
    # the book's bound rule: a's count growing raises a - b; b's lowers it. Only a single run: a capped seed among
    # several would move their spread too, so nothing is sure to strengthen
    grows_toward = {REPRODUCED: higher, NOT_REPRODUCED: not higher}.get(row.verdict)
    stands = (len(capped) == 1 and len(capped[0].runs) == 1 and grows_toward is not None
              and (capped[0] is a) == grows_toward)
    bounds = "; ".join(f"{s.name} {cap_text(run)}" for s in capped for run in s.capped)
    if stands:
        return replace(row, rule=join_notes(row.rule, RULES["bound"]), note=join_notes(
            row.note, f"{bounds}: its epoch is a lower bound, which can only strengthen this verdict"))
    return not_comparable(claim, row.ours, f"{bounds}: its epoch is only a lower bound, which cannot settle this")


def _tradeoff(claim: StudyClaim, runs: ChapterRuns, groups: list[Setting], claimed: list[Setting], note: str = ""):
    blocked = _blocked(groups + [noise_seeds(runs)], FINAL_VAL)
    if blocked:
        return _stop(claim, blocked, groups, FINAL_VAL)
    seeds = noise_seeds(runs)
    spread = Measured.log_noise([run_seconds(run) for run in seeds.runs],
                                f"log training time, seed spread of {seeds.name} ({counted(len(seeds.runs), 'seed')})")
    seconds = {s.name: Measured([run_seconds(run) for run in s.runs], spread) for s in groups}
    costs = ", ".join(f"{name} {value.mean:,.0f} s" for name, value in seconds.items())
    front = judge_tradeoff(claim, {s.name: s.values(FINAL_VAL) for s in groups}, seconds, [s.name for s in claimed],
                           measured=TRADEOFF, cost_name="training time", noise=family_noise(runs, FINAL_VAL))
    if front.verdict == MISSING:
        return front
    # time is one of the claim's axes: the book's rule for timings makes the front on the stored timings a description
    machines = timed_on(run for s in groups for run in s.runs)
    return hardware_bound(claim, f"{TIMED_FRONT}{front.ours}", "; ".join(p for p in (
        note, f"training time of the whole run as stored ({machines}), one thread per run (a member of a batched "
              f"group is charged its share of the group's time), mean over each setting's runs: {costs}; one "
              "setting faster than another only where a 95% Welch interval of the log times says so, a single run "
              f"borrowing the {spread.source if spread else 'spread of no seeds (none stored)'}") if p))


def _every_pair(claim: StudyClaim, runs: ChapterRuns, side: list[Setting], other: list[Setting], measure: Measure, *,
                higher: bool, note: str = ""):
    """"every setting of ``side`` is higher (lower) than every one of ``other``", each pair by ``_direction`` over
    its seeds (never a pair chosen on means, which the settings' different seed counts would bias): reproduced when
    every pair is, not reproduced when any pair is, else the weakest pair's verdict; the row shown is that pair's."""
    return _combine([_direction(claim, runs, a, b, measure, higher=higher, note=note)
                     for a in side for b in other if a is not b])


def _combine(rows: list):
    """One claim's rows over several pairs as one (the book's rule for a claim over several parts,
    ``verdicts.PART_ORDER``: a failed pair decides it while another waits); the row shown is the first with the
    verdict, its note listing every pair."""
    verdict = min((row.verdict for row in rows), key=PART_ORDER.index)
    shown = next(row for row in rows if row.verdict == verdict)
    if len(rows) > 1 and verdict != MISSING:
        pairs = "; ".join(f"{row.ours}: {row.verdict}" for row in rows)
        shown = replace(shown, note=join_notes(shown.note, f"every pair: {pairs}"))
    return shown


def _below_point(claim: StudyClaim, runs: ChapterRuns, deeper: Setting, wide: Setting):
    """"about as accurate": the deeper network at most one point (the book's material difference) more accurate
    than the wide one, by the threshold rule on the Welch interval of the difference (chapter 2's trade-off reads
    'a small drop' the same way); the wide one ahead is within the claim."""
    blocked = _blocked([deeper, wide, noise_seeds(runs)], FINAL_VAL)
    if blocked:
        return _stop(claim, blocked, [deeper, wide], FINAL_VAL)
    return judge_threshold(claim, deeper.values(FINAL_VAL), ONE_POINT, minus=wide.values(FINAL_VAL),
                           measured=WITHIN_POINT, higher=False, noise=family_noise(runs, FINAL_VAL),
                           scale=FINAL_VAL.scale, digits=FINAL_VAL.digits,
                           note=f"{deeper.name} minus {wide.name}; 'nearly the same' read as no more than a point "
                                "behind (the book's material difference), the wide network ahead being within it; "
                                "'trains faster' is bound to the study's hardware and not judged")


def _architectures(runs: ChapterRuns) -> list[Setting]:
    """The depth and width sweeps and the best configuration: every architecture at the base training settings."""
    found = {}
    for setting in [best_setting(runs), *sweep_settings(runs, "depth", architecture).values(),
                    *sweep_settings(runs, "width", architecture).values()]:
        found.setdefault(_family(setting.config), setting)
    return list(found.values())


def _one_factor(runs: ChapterRuns) -> list[Setting]:
    """Every configuration the study's sweeps try, and its best configuration, once each."""
    found = {_family(best_setting(runs).config): best_setting(runs)}
    base = runs.settings
    for sweep in SWEEPS:
        for label, setting in sweep_settings(runs, sweep).items():
            config = setting.config
            is_base = (config.model_args == {"hidden_layers": 2, "width": base.base_width} and config.loss == "ce"
                       and config.batch_size == base.base_batch_size and config.lr == base.base_lr)
            name = f"base {architecture(config)}" if is_base else run_name(sweep, label)
            found.setdefault(_family(config), Setting(name, setting.runs))
    return list(found.values())


def _loss_rows(runs: ChapterRuns) -> list:
    losses = sweep_settings(runs, "loss")
    rows = []
    for claim_id, measure, higher in (("ce_best", FINAL_VAL, True), ("gap_loss", FINAL_GAP, False)):
        claim = REGISTRY[claim_id]
        if "ce" not in losses or len(losses) < 2:
            rows.append(_absent(claim, "cross-entropy beside another loss"))
        else:
            rows.append(_best(claim, runs, list(losses.values()), [losses["ce"]], measure, higher=higher,
                              note=f"1 hidden layer of {runs.settings.loss_width} units", loss=True))
    return rows


def _depth_rows(runs: ChapterRuns) -> list:
    depths = sweep_settings(runs, "depth")
    middle = [depths[d] for d in (2, 3) if d in depths]
    rows = []
    claim = REGISTRY["depth_best"]
    rows.append(_best(claim, runs, list(depths.values()), middle, FINAL_VAL, note=f"width {runs.settings.base_width}")
                if middle and len(depths) > len(middle) else _absent(claim, "2 or 3 hidden layers beside other depths"))
    for claim_id, measure in (("depth_one_faster", KEPT_EPOCH), ("depth_one_lower", FINAL_VAL)):
        claim = REGISTRY[claim_id]
        if 1 not in depths or not middle:
            rows.append(_absent(claim, "1 hidden layer beside 2 or 3"))
            continue
        rows.append(_every_pair(claim, runs, [depths[1]], middle, measure, higher=False,
                                note="against each of 2 and 3 layers"))
    claim = REGISTRY["depth_four_overfits"]
    shallower = [s for d, s in depths.items() if d < 4]
    if 4 not in depths or not shallower:
        rows.append(_absent(claim, "4 hidden layers beside fewer"))
    else:
        rows.append(_every_pair(claim, runs, [depths[4]], shallower, KEPT_EPOCH, higher=False,
                                note="the validation loss rises after its lowest epoch; against each shallower "
                                     "network; the same epoch marks convergence (row depth_one_faster), so an "
                                     "earlier one cannot tell overfitting sooner from learning faster"))
    return rows


def _width_rows(runs: ChapterRuns) -> list:
    widths = sweep_settings(runs, "width")
    rows = []
    claim = REGISTRY["width_wider_better"]
    wide = [s for w, s in widths.items() if w >= 1024]
    rows.append(_best(claim, runs, list(widths.values()), wide, FINAL_VAL) if wide and len(wide) < len(widths)
                else _absent(claim, "widths on both sides of 1024"))
    claim = REGISTRY["width_underfit"]
    narrow, rest = [w for w in widths if w < 512], [w for w in widths if w >= 512]
    rows.append(_every_pair(claim, runs, [widths[w] for w in narrow], [widths[w] for w in rest], FINAL_TRAIN,
                            higher=False, note="underfitting read as a lower training accuracy; each width below 512 "
                                               "against each from 512")
                if narrow and rest else _absent(claim, "widths on both sides of 512"))
    claim = REGISTRY["width_fast_start"]
    below = [w for w in widths if w < 4192]
    rows.append(_every_pair(claim, runs, [widths[4192]], [widths[w] for w in below], EARLY_VAL, higher=True,
                            note="against each narrower width") if 4192 in widths and below
                else _absent(claim, "width 4192 beside a narrower one"))
    claim = REGISTRY["width_optimum"]
    rows.append(_tradeoff(claim, runs, list(widths.values()), [widths[2096]]) if 2096 in widths and len(widths) > 1
                else _absent(claim, "width 2096 beside other widths"))
    return rows


def _batch_rows(runs: ChapterRuns) -> list:
    batches = sweep_settings(runs, "batch")
    large = [s for b, s in batches.items() if b in (256, 512)]
    medium = [s for b, s in batches.items() if b in (64, 128)]
    rows = []
    claim = REGISTRY["batch_large_more_epochs"]
    rows.append(_every_pair(claim, runs, large, medium, KEPT_EPOCH, higher=True,
                            note="each large batch against each medium one") if large and medium
                else _absent(claim, "a batch of 256 or 512 beside one of 64 or 128"))
    claim = REGISTRY["batch_huge_slow"]
    huge = batches.get(1024)
    rows.append(_every_pair(claim, runs, [huge], large, KEPT_EPOCH, higher=True,
                            note="convergence read in epochs, as in row batch_large_more_epochs (in seconds it would "
                                 "be bound to hardware); against each of the large batches")
                if huge and large else _absent(claim, "a batch of 1024 beside one of 256 or 512"))
    note = ("accuracy for the study's performance, whole-run time for its efficiency and speed (stability has no "
            "measure); batches below 16 use the fused Adam step")
    for claim_id, claimed, what in (("batch_medium_balance", medium, "a batch of 64 or 128"),
                                    ("batch_tradeoff", large, "a batch of 256 or 512")):
        claim = REGISTRY[claim_id]
        rows.append(_tradeoff(claim, runs, list(batches.values()), claimed, note=note)
                    if claimed and len(batches) > len(claimed) else _absent(claim, f"{what} beside other batches"))
    return rows


def _lr_rows(runs: ChapterRuns) -> list:
    rates = sweep_settings(runs, "lr")
    base = runs.settings.base_lr
    rows = []
    claim = REGISTRY["lr_small_slow"]
    smallest = min(rates)
    rows.append(_direction(claim, runs, rates[smallest], rates[base], KEPT_EPOCH, higher=True)
                if base in rates and smallest < base else _absent(claim, "a rate below the base rate"))
    claim = REGISTRY["lr_best"]
    inside = [s for lr, s in rates.items() if 2.0e-5 <= lr <= 3.0e-5]
    rows.append(_best(claim, runs, list(rates.values()), inside, FINAL_VAL,
                      note=f"2 x {runs.settings.base_width}, batch {runs.settings.base_batch_size}")
                if inside and len(inside) < len(rates) else _absent(claim, "rates inside and outside 2e-5 to 3e-5"))
    return rows


# the study reports its best model's validation accuracy for the configuration it chose by that same accuracy:
# a number picked as the highest of several runs tends to sit above a new run of its configuration, and the same
# run's test accuracy with it (the two measure one network): a known second effect, lowering ours against the study's
SELECTED_ON_VALIDATION = ("the study chose this configuration by this same validation accuracy among its sweeps' "
                          "runs, so its number may sit above a new run of it (the band allows for one new run, "
                          "not for that choice)")
SELECTED = "the study's choice of this configuration, and of its run, by the highest validation accuracy"


def validation_sample(config, accuracy: float) -> Sample:
    """The noise of a validation accuracy measured on a random split of the training images: the study's split (the
    same share of all 60,000) and ours (one fixed split for every seed, so its deviation is in no seed spread; a
    smaller profile validates on the first images of it only) each hold a sample of the training images."""
    study = round(config.val_fraction * TRAIN_IMAGES)  # the study split all 60,000 training images
    # what the training loop validates on (``train.py``): a number of batches, else the first eval_subset, else all
    ours = min(study, config.val_steps * config.batch_size if config.val_steps is not None
               else config.eval_subset or study)
    return Sample.of_accuracy(accuracy, study, TRAIN_IMAGES, f"validation on a random {config.val_fraction:.0%} split "
                                                            "of the training images", ours=ours)


def _best_model_rows(runs: ChapterRuns) -> list:
    best = best_setting(runs)
    rows = []
    blocked = _blocked([best], FINAL_VAL)
    for claim_id in ("best_val", "best_val_conclusion"):
        claim = REGISTRY[claim_id]
        if blocked and blocked.verdict == MISSING:
            rows.append(missing(claim, blocked.note))
        else:
            values = best.values(FINAL_VAL)
            rows.append(confounded(judge_value(
                claim, values, measured=FINAL_VAL.quantity, capped=blocked.note if blocked else "",
                sample=validation_sample(best.runs[0].config, float(np.mean(values))),
                note=join_notes("the study's 'final' accuracy: the last epoch patience stopping reached",
                                SELECTED_ON_VALIDATION)), -1, SELECTED))
    claim = REGISTRY["best_test"]
    if blocked and blocked.verdict == MISSING:
        rows.append(missing(claim, blocked.note))
    else:
        kept = np.asarray(best.values(KEPT_TEST))
        rows.append(confounded(judge_value(
            claim, best.values(FINAL_TEST), measured=FINAL_TEST.quantity, capped=blocked.note if blocked else "",
            note="the final epoch's model, as the study tests it; the kept checkpoint (lowest validation loss) scores "
                 f"{100 * kept.mean():.2f}%; the study's run was chosen by its validation accuracy, which moves its "
                 "test accuracy the same way"), -1, SELECTED))
    claim = REGISTRY["best_overfits"]
    if blocked:
        rows.append(_stop(claim, blocked, [best], FINAL_VAL))
    else:
        rows.append(judge_direction(claim, best.values(FINAL_TRAIN), best.values(FINAL_VAL), measured=GAP,
                                    higher=True, names=("training", "validation"), scale=100, digits=2,
                                    note="training accuracy averaged over the final epoch, validation at its end; "
                                         "the same seeds on both sides, compared unpaired (conservative); the row "
                                         "tests the gap the study points to, which most trained networks show, not "
                                         "its reading of it as overfitting"))
    return rows


def _architecture_rows(runs: ChapterRuns) -> list:
    rows = []
    settings = runs.settings
    claim = REGISTRY["width_vs_depth"]
    deeper = [s for d, s in sweep_settings(runs, "depth", architecture).items() if d > 2]
    rows.append(_every_pair(claim, runs, [best_setting(runs)], deeper, FINAL_VAL, higher=True,
                            note=f"both grow the base 2 x {settings.base_width}: widening to 2 x "
                                 f"{settings.best_width} against each deeper network")
                if deeper and settings.best_width > settings.base_width
                else _absent(claim, "a wider best configuration and deeper networks"))
    claim = REGISTRY["wide_matches_deeper"]
    rows.append(_combine([_below_point(claim, runs, deep, best_setting(runs)) for deep in deeper]) if deeper
                else _absent(claim, "deeper networks beside the best configuration"))
    shapes = _architectures(runs)
    claim = REGISTRY["architecture_best"]
    good = [s for s in shapes
            if s.config.model_args["hidden_layers"] in (2, 3) and s.config.model_args["width"] >= 2000]
    rows.append(_best(claim, runs, shapes, good, FINAL_VAL) if good and len(good) < len(shapes)
                else _absent(claim, "2-3 layers of 2000+ units beside other architectures"))
    claim = REGISTRY["gap_capacity"]
    big = [s for s in shapes if s.config.model_args["hidden_layers"] >= 4 or s.config.model_args["width"] >= 4000]
    rows.append(_best(claim, runs, shapes, big, FINAL_GAP, note="'4 layers, 4000+ units' read as either: no network "
                      "of the sweeps has both") if big and len(big) < len(shapes)
                else _absent(claim, "4+ layers or 4000+ units beside smaller networks"))
    claim = REGISTRY["gap_moderate"]
    moderate = [s for s in shapes if s.config.model_args["hidden_layers"] in (2, 3)
                and 2000 <= s.config.model_args["width"] <= 3000]
    rows.append(_every_pair(claim, runs, moderate, big, FINAL_GAP, higher=False,
                            note="each moderate network against each of the largest; the 'high accuracy' half of "
                                 "the statement is row architecture_best")
                if moderate and big else _absent(claim, "moderate networks beside the largest"))
    claim = REGISTRY["best_config"]
    candidates = _one_factor(runs)
    rows.append(_best(claim, runs, candidates, [candidates[0]], FINAL_VAL))
    return rows


def claims(runs: ChapterRuns) -> list:
    """One judged row per tested claim of ``REGISTRY`` (``chapter.complete_rows`` adds the untested ones)."""
    return (_loss_rows(runs) + _depth_rows(runs) + _width_rows(runs) + _batch_rows(runs) + _lr_rows(runs)
            + _best_model_rows(runs) + _architecture_rows(runs))


def joint_finding(runs: ChapterRuns) -> dict | None:
    """The joint grid's most accurate cell and the cells not separable from it (final-epoch validation accuracy,
    95% Welch, a single run with the sweeps' base configuration's seed spread), or None while a cell is missing or
    capped."""
    cells = {setting.name: setting for setting in sweep_settings(runs, "joint").values()}
    study = best_setting(runs)
    if _blocked(list(cells.values()) + [study, noise_seeds(runs)], FINAL_VAL):
        return None
    inside = next((name for name, s in cells.items() if _family(s.config) == _family(study.config)), None)
    if inside is None:
        return None
    top, leader = top_group({name: s.values(FINAL_VAL) for name, s in cells.items()},
                            noise=family_noise(runs, FINAL_VAL))
    return {"leader": leader, "val_acc": cells[leader].mean(FINAL_VAL), "test_acc": cells[leader].mean(KEPT_TEST),
            "tied": [name for name in top if name != leader], "study": inside, "study_in_top": inside in top,
            "study_val_acc": study.mean(FINAL_VAL), "study_test_acc": study.mean(KEPT_TEST), "seeds": len(study.runs)}


def regularisation_effects(runs: ChapterRuns) -> list[tuple[str, float]] | None:
    """(variant, final-epoch validation accuracy minus the plain network's): a description, since the study
    makes no claim about them."""
    variants = sweep_settings(runs, "regularisation")
    if "none" not in variants or len(variants) < 2 or _blocked(list(variants.values()), FINAL_VAL):
        return None
    plain = variants["none"]
    return [(label, setting.mean(FINAL_VAL) - plain.mean(FINAL_VAL)) for label, setting in variants.items()
            if label != "none"]


def _claim_list(rows: list) -> str:
    return "; ".join(f"{row.claim} ({row.id})" for row in rows)


def conclusion(runs: ChapterRuns) -> str:
    """The chapter's answer, written from the stored numbers and saying no more than the claim rows."""
    from ..chapter import complete_rows

    if not any(is_stored(run) for pairs in runs.sweeps.values() for _, run in pairs):
        return "_The conclusion is written once the chapter has stored runs._"
    settings = runs.settings
    rows = complete_rows(REGISTRY, claims(runs))
    row = {r.id: r for r in rows}
    best = best_setting(runs)
    lines = []
    if best.missing:
        lines.append(f"- **Best model.** Not every seed of the study's best configuration is in the store yet, so its "
                     f"rows wait ({row['best_val'].note}).")
    else:
        val, test, kept = best.values(FINAL_VAL), best.values(FINAL_TEST), best.values(KEPT_TEST)
        spread = (lambda v: f" ± {100 * np.std(v, ddof=1):.2f}" if len(v) > 1 else "")  # noqa: E731
        lines.append(
            f"- **Best model.** The study's best configuration (2 x {settings.best_width}, batch "
            f"{settings.base_batch_size}, learning rate {fmt_lr(settings.base_lr)}, cross-entropy) ends at "
            f"{100 * np.mean(val):.2f}%{spread(val)} validation accuracy over {counted(len(val), 'seed')}: against the "
            f"study's {REGISTRY['best_val'].printed} (Table 2) that is *{row['best_val'].verdict}*, against the "
            f"{REGISTRY['best_val_conclusion'].printed} of its conclusion *{row['best_val_conclusion'].verdict}*. "
            f"Its final model tests at {100 * np.mean(test):.2f}%{spread(test)} against the study's "
            f"{REGISTRY['best_test'].printed} (*{row['best_test'].verdict}*); the kept checkpoint (lowest validation "
            f"loss) at {100 * np.mean(kept):.2f}%{spread(kept)}. Training accuracy above validation accuracy (the gap the study reads as overfitting): "
            f"*{row['best_overfits'].verdict}*.")
    tested = [r for r in rows if r.verdict != "not tested"]
    counts = {v: [r for r in tested if r.verdict == v] for v in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE,
                                                                   NOT_COMPARABLE, MISSING)}
    judged = len(tested) - len(counts[MISSING])
    lines.append(f"- **Verdicts.** {counted(len(REGISTRY), 'claim')} registered, {judged} judged so far"
                 + (f", {len(counts[MISSING])} waiting for runs" if counts[MISSING] else "")
                 + (f", {len(rows) - len(tested)} not tested" if len(rows) > len(tested) else "")
                 + (": " + ", ".join(f"{v} {len(rs)}" for v, rs in counts.items() if v != MISSING and rs)
                    if judged else "") + ".")
    labels = {REPRODUCED: "Reproduced", NOT_REPRODUCED: "Not reproduced",
              INCONCLUSIVE: "Inconclusive (the data cannot tell)",
              NOT_COMPARABLE: "Not comparable", MISSING: "Waiting for runs"}
    for verdict, label in labels.items():
        if counts[verdict]:
            lines.append(f"  - *{label}:* {_claim_list(counts[verdict])}.")
    capped = capped_runs(runs)
    if capped:
        lines.append(f"- **Epoch cap.** {counted(len(capped), 'stored run')} ended at the {settings.epochs}-epoch cap "
                     f"before the patience rule stopped {'it' if len(capped) == 1 else 'them'} ({'; '.join(capped)}). "
                     "The study has no cap: their final accuracy is not the one patience stopping would reach, so the "
                     "rows that read them are not comparable; the epoch of their lowest validation loss is a lower "
                     "bound.")
    else:
        lines.append("- **Epoch cap.** Every stored run ended by patience stopping, none at the "
                     f"{settings.epochs}-epoch cap.")
    finding = joint_finding(runs)
    if finding is not None:
        lines.append(
            f"- **Did one factor at a time miss a better MLP?** The most accurate cell of the width x learning-rate "
            f"grid is {finding['leader']} ({100 * finding['val_acc']:.2f}% validation at the final epoch, "
            f"{100 * finding['test_acc']:.2f}% test at the kept checkpoint), against "
            f"{100 * finding['study_val_acc']:.2f}% ({100 * finding['study_test_acc']:.2f}%) for the study's "
            f"configuration ({finding['study']}, {counted(finding['seeds'], 'seed')}). "
            + "A description of a grid the study did not run, not a verdict: most cells are one run each, "
            + "and with the sweeps' base configuration's seed spread for single runs (95% Welch) the two are "
            + ("not separable" if finding["study_in_top"] else "separable")
            + (f"; other cells not separable from the most accurate: {'; '.join(finding['tied'])}"
               if finding["tied"] else "") + ". The claim "
            f"row on the study's own sweeps is `best_config` (*{row['best_config'].verdict}*).")
    effects = regularisation_effects(runs)
    if effects:
        lines.append("- **Regularisation** (the study's future work, which it does not measure: no claim row) on "
                     "the best MLP changes the final-epoch validation accuracy by: " + ", ".join(
                         f"{label} {100 * change:+.2f} points" for label, change in effects)
                     + ", one run per variant against the plain network's seeds; a description, not a verdict.")
    return "\n".join(lines)


# ----- figures --------------------------------------------------------------------------------------

def sweep_figure(runs: ChapterRuns, sweep: str, title: str, loss_label: str = "cross-entropy loss",
                 log_loss: bool = False):
    """Loss and accuracy per epoch of every stored run of a sweep (dashed: training, solid: validation)."""
    from .. import plots

    groups = histories(runs, sweep)
    missing = missing_settings(runs, sweep)
    if missing:
        print("not in the store yet: " + ", ".join(missing))
    if not groups:
        return None
    fig = plots.learning_curves(groups, title=title)
    if log_loss:
        fig.axes[0].set_yscale("log")
    plots.value_label(fig.axes[0], loss_label)
    return fig


def step_figure(runs: ChapterRuns):
    """Loss per learning step against loss per epoch for the step-logged run (study Figure 9)."""
    from .. import plots

    run = step_run(runs)
    if run is None:
        print("the step-logged run is not in the store yet")
        return None
    series = step_series(run)
    every = run.config.log_every_steps
    return plots.step_and_epoch_loss(series["steps"], series["losses"], series["epoch_end_steps"],
                                     {"training": series["train_loss"], "validation": series["val_loss"]},
                                     title=f"Batch {run.config.batch_size}: single-step losses ("
                                           + ("every step" if every == 1 else f"one step in {every}") + ") and epoch means")


def best_figure(runs: ChapterRuns):
    """Training dynamics of the study's best configuration, mean and range over the seeds (study Figure 11)."""
    from .. import plots

    stored = [run for _, run in runs.sweeps["best"] if is_stored(run)]
    if not stored:
        print("the best configuration is not in the store yet")
        return None
    settings = runs.settings
    label = f"2 x {settings.best_width}, batch {settings.base_batch_size}, lr {fmt_lr(settings.base_lr)}"
    return plots.learning_curves({label: [run.history for run in stored]},
                                 title=f"Best configuration: {counted(len(stored), 'seed')}, up to the shortest run")
