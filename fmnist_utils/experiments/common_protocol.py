"""Chapter 6: every network of the five studies under one protocol.

Each study measured its own models under its own protocol (its split, budget, early-stopping rule and,
in two studies, selection on the test set), so their numbers cannot be set side by side. Here every
network trains under one recipe, chosen once for all of them before any result was seen:

- the 60,000 training images split 54,000 / 6,000 (split seed 42), pixels standardised;
- Adam at 1e-3, batch 128, no weight decay, no schedule, no augmentation;
- early stopping on the validation loss (patience 5, at most 100 epochs), the best-validation
  checkpoint evaluated once on the test set;
- three seeds per network.

Why one recipe and not each study's own or a per-model search: the question is which architecture is
best for its size and cost, so everything but the architecture is held fixed; a per-model learning-rate
search would triple the cost on this machine. Adam (AdamW for Model-2) at 1e-3 is what the studies of
chapters 1, 4 and 5 used and chapter 2's reading of a study that names no optimiser; chapter 3's MLPs used
Adam at 2.05e-5.
No augmentation: two studies trained without it, and it would change each network's budget differently.

The studies' numbers are not typed here: ``SOURCES`` names, for every network that has one, the claim
of its chapter's ``REGISTRY`` that holds it, and this chapter's ``REGISTRY`` builds its claims from
those (which rankings of the studies survive the common protocol, their gaps, the best trade-offs, and
each study's headline number against the network's number here). ``claims`` judges them with the
book's verdict procedure (``fmnist_utils.verdicts``); ``conclusion`` writes the chapter's answer from
the judged rows.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

from . import baseline_vs_deeper, cnn3_128_extension, lightweight_benchmark, mlp_analysis, regularization_synergy
from ..chapter import settings_function
from ..claims import Registry, StudyClaim, counted
from ..config import RunConfig
from ..data import TRAIN_IMAGES
from ..params import ChapterSpec, Param, int_list, non_negative_number, optional, positive_int
from ..stats import mean_sd_text
from ..store import StoredRun, describe, stored_runs, timed_on
from ..tables import book_table
from ..verdicts import (INCONCLUSIVE, LEVEL, MISSING, NOT_COMPARABLE, NOT_REPRODUCED, REPRODUCED, TIMED_FRONT,
                        RULES, VERDICTS, Measured, Verdict, as_printed, confounded_place, hardware_bound, judge_best,
                        judge_difference, judge_direction, judge_tradeoff, judge_value, missing, not_comparable, tally,
                        join_notes, top_group, undominated, welch)

TITLE = "Every model under one protocol"

# name -> (registered model, arguments, label, chapter it comes from)
MODELS = {
    "model1": ("model1", {}, "Model-1", 1),
    "model2": ("model2", {}, "Model-2", 1),
    "cnn3_128": ("cnn3_128", {}, "CNN-3-128", 2),
    "light_plain": ("cnn3_128_ds", {}, "lightweight (standard first conv)", 2),
    "light_bn": ("cnn3_128_ds", {"first_block": "separable", "batch_norm": True}, "lightweight (separable + BN)", 2),
    "mlp_best": ("mlp", {"hidden_layers": 2, "width": 4192}, "MLP 2 x 4192", 3),
    "lenet5": ("lenet5", {}, "LeNet-5", 4),
    "resnet_mini": ("resnet_mini", {}, "ResNet-Mini", 4),
    "densenet_tiny": ("densenet_tiny", {}, "DenseNet-Tiny", 4),
    "mobilenet_lite": ("mobilenet_lite", {}, "MobileNet-Lite", 4),
    "vit_tiny": ("vit_tiny", {}, "ViT-Tiny", 4),
    "custom_cnn": ("custom_cnn", {}, "Custom CNN", 4),
    "synergy_baseline": ("synergy_baseline", {}, "study 5 baseline", 5),
    "flexible_final": ("flexible_cnn", {"layers": 6, "filters": 64, "norm": "instance", "dropout": 0.1},
                       "FlexibleCNN 6L/64F, IN, dropout 0.1", 5),
}
LABELS = {name: label for name, (_, _, label, _) in MODELS.items()}
CHAPTER_OF = {name: chapter for name, (_, _, _, chapter) in MODELS.items()}

SPEC = ChapterSpec("common_protocol", [
    Param("models", list(MODELS), lambda v: None if v and set(v) <= set(MODELS) else
          "a non-empty list drawn from " + ", ".join(MODELS), "networks to train and compare"),
    Param("seeds", {"paper": [42, 43, 44], "quick": [42, 43], "smoke": [42]}, int_list, "training seeds"),
    Param("epochs", {"paper": 100, "quick": 5, "smoke": 1}, positive_int,
          "most epochs per run (early stopping ends every paper run before it)"),
    Param("patience", {"paper": 5, "quick": 2, "smoke": 1}, positive_int,
          "early stopping: epochs without a lower validation loss"),
    Param("batch_size", 128, positive_int, "training batch size of every network"),
    Param("lr", 1e-3, lambda v: None if isinstance(v, float) and v > 0 else "a positive float", "Adam's learning rate"),
    Param("train_subset", {"paper": None, "quick": 5000, "smoke": 256}, optional(positive_int),
          "train on only the first n images of the 54,000 (None: all)"),
    Param("eval_subset", {"paper": None, "quick": 2000, "smoke": 200}, optional(positive_int),
          "validate and test on only the first n images (None: all)"),
    Param("timing_threads", 1, positive_int, "threads of the throughput measurement"),
    Param("timing_steps", {"paper": 5, "quick": 3, "smoke": 1}, positive_int,
          "training steps and inference passes timed per network (at least timing_seconds long)"),
    Param("timing_seconds", {"paper": 1.0, "quick": 0.5, "smoke": 0.0}, non_negative_number,
          "shortest time of each throughput measurement, in seconds"),
])
settings_from = settings_function(SPEC)


def config(settings, name: str, seed: int) -> RunConfig:
    """One network under the common protocol."""
    model, model_args, _, _ = MODELS[name]
    return RunConfig(model=model, model_args=dict(model_args), val_fraction=0.1, split_seed=42,
                     train_subset=settings.train_subset, eval_subset=settings.eval_subset,
                     optimizer="adam", lr=float(settings.lr), batch_size=settings.batch_size,
                     epochs=settings.epochs, patience=settings.patience, monitor="val_loss", select_best=True,
                     seed=seed, precision=settings.precision)


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """Every run as (configuration, needs weights), seed-major so a partial store covers every model first."""
    return [(config(settings, name, seed), False) for seed in settings.seeds for name in settings.models]


_OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}
_WATCHED = {"val_loss": "validation loss", "val_acc": "validation accuracy", "test_loss": "test loss",
            "test_acc": "test accuracy", "last": "last epoch"}


def _optimiser(config: RunConfig) -> str:
    """The optimiser, its learning rate and its weight decay."""
    return f"{_OPTIMIZERS[config.optimizer]} {config.lr:g}" + (
        f", weight decay {config.weight_decay:g}" if config.weight_decay else "")


def _budget(config: RunConfig) -> str:
    """How long a run trains, and what stops it."""
    if config.steps_per_epoch:
        return f"{config.epochs} x {config.steps_per_epoch} steps"
    if config.patience:
        return f"up to {config.epochs} epochs, patience {config.patience} on the {_WATCHED[config.monitor]}"
    return f"{config.epochs} epochs"


def _pixels(config: RunConfig) -> str:
    """How a run scales its pixels: [0, 1], [-1, 1] (mean and std 0.5) or standardised (the training set's)."""
    if config.normalize is None:
        return "pixels in [0, 1]"
    if tuple(config.normalize) == (0.5, 0.5):
        return "pixels in [-1, 1]"
    return "standardised pixels"


def _data(config: RunConfig) -> str:
    """The images a run trains on: the split it holds out for validation, or all of them."""
    held = round(TRAIN_IMAGES * config.val_fraction)
    return f"{TRAIN_IMAGES - held:,} / {held:,} split" if held else f"all {TRAIN_IMAGES:,} images, no validation"


# How a recipe trains, facet by facet: each facet's text ("" where the recipe has none of it). Two runs whose facets
# differ were trained differently, so one is no new run of the other's recipe (``Source.other_recipe``).
TRAINING = {
    "optimiser": _optimiser,
    "schedule": lambda config: f"{config.scheduler} schedule" if config.scheduler else "",
    "batch": lambda config: f"batch {config.batch_size}",
    "pixels": _pixels,
    "augmentation": lambda config: "augmented" if config.augment else "",
    "data": _data,
    "budget": _budget,
}


def _kept(config: RunConfig) -> str:
    """Where a run's number is read: the kept model; for a run tested after every epoch (a study that read its number
    off those evaluations, its claim's quantity says how), those evaluations."""
    if config.track_test:
        return "tested after every epoch, its number read off those evaluations"
    if config.select_best:
        return f"checkpoint of lowest {_WATCHED[config.monitor]}"
    if config.eval_at_epochs:
        return "tested after epochs " + ", ".join(str(e) for e in config.eval_at_epochs)
    return "last epoch's model"


def recipe(config: RunConfig) -> str:
    """A run's recipe in one line, read off its configuration: optimiser, batch, data, budget, where its number is
    read."""
    parts = [TRAINING[facet](config) for facet in ("optimiser", "schedule", "batch", "pixels", "augmentation")]
    parts += [f"{config.precision} forward passes" if config.precision != "float32" else "", TRAINING["data"](config),
              f"validated on {config.val_steps} batches" if config.val_steps else "", TRAINING["budget"](config)]
    return ", ".join(part for part in parts if part) + f"; {_kept(config)}"


def protocol_text(settings) -> str:
    """The common protocol as these settings run it (the first network stands for all: only the model differs)."""
    return recipe(config(settings, settings.models[0], settings.seeds[0]))


@lru_cache(maxsize=None)
def registered_protocol() -> RunConfig:
    """The common protocol the chapter's claims are about: its paper settings (the first network stands for all)."""
    settings = settings_from({"profile": "paper"})
    return config(settings, settings.models[0], settings.seeds[0])


# ----- what each study measured, read from its chapter -------------------------------------------

@dataclass(frozen=True)
class Measure:
    """What a row reads from a common-protocol run; ``percent``: a fraction shown in percent (an accuracy),
    else a value in its own unit (a loss). ``quantity``: the same in the words of the claim registries, so a
    study number that measured it can be told from one that measured something else."""

    name: str
    read: Callable
    percent: bool
    quantity: str

    def text(self, value: float) -> str:
        return f"{100 * value:.2f}" if self.percent else f"{value:.3f}"

    def difference(self, value: float) -> str:
        """A difference of two values in this unit (points for an accuracy); a rounded zero has no sign. It carries
        no spread: a study's number is one run, whose own spread nobody measured."""
        scale, digits, unit = (100.0, 2, " points") if self.percent else (1.0, 3, "")
        return f"{round(scale * value, digits) + 0.0:+.{digits}f}{unit}"


def selected_row(run) -> dict:
    """The history row of the epoch a run selected (lowest validation loss)."""
    return next(row for row in run.history if row["epoch"] == run.metrics["best_epoch"])


TEST_ACCURACY = Measure("test accuracy of the checkpoint of lowest validation loss", lambda r: r.metrics["accuracy"],
                        True, f"test accuracy, {baseline_vs_deeper.BEST}")
TEST_LOSS = Measure("test loss of the checkpoint of lowest validation loss", lambda r: r.metrics["loss"], False,
                    f"test loss, {baseline_vs_deeper.BEST}")
VALIDATION_LOSS = Measure("validation loss of the checkpoint of lowest validation loss",
                          lambda r: selected_row(r)["val_loss"], False, f"validation loss, {baseline_vs_deeper.BEST}")


@dataclass(frozen=True)
class Source:
    """Where a network's study number lives: its chapter module and the claim there, what it is set beside
    here, and the chapter's own configuration of the study's run (for its recipe)."""

    chapter: int
    module: object
    claim_id: str
    measure: Measure
    study_run: Callable  # (chapter module, its paper settings) -> RunConfig of the study's recipe
    # (chapter module) -> why our network is not the one the study measured ("" when it is), by its chapter's rule
    other_network: Callable | None = None

    @property
    def claim(self) -> StudyClaim:
        return self.module.REGISTRY[self.claim_id]

    def not_the_study_network(self) -> str:
        return _other_network(self)

    def other_quantity(self) -> str:
        """Why the study's number and the common protocol's are different quantities ("" when they are one):
        the model it kept or the data it scored it on differ, so their difference is no evidence about either."""
        if self.claim.quantity == self.measure.quantity:
            return ""
        return f"the study's number is the {self.claim.quantity}; here it is the {self.measure.name}"

    def other_recipe(self, stored: Sequence[StoredRun] | None = None) -> str:
        """How the study trained its run otherwise than the common protocol does ("" when alike), facet by facet of
        ``TRAINING`` (optimiser, schedule, batch, pixel scaling, augmentation, training images, budget and
        stopping): "study: ...; here: ...". ``stored``: the network's common-protocol runs (every seed, or none while
        it waits for them); a budget that could not have changed them (``budget_immaterial``) is no difference.
        None: the recipes alone, before any run."""
        study, ours = self.config(), registered_protocol()
        differ = [facet for facet, text in TRAINING.items() if text(study) != text(ours)
                  and not (facet == "budget" and stored is not None and budget_immaterial(study, stored))]

        def listed(run: RunConfig) -> str:
            return ", ".join(TRAINING[facet](run) or f"no {facet}" for facet in differ)

        return f"study: {listed(study)}; here: {listed(ours)}" if differ else ""

    def config(self) -> RunConfig:
        """The study's run as its chapter rebuilds it (its paper settings)."""
        return _study_config(self)

    def recipe(self) -> str:
        return recipe(self.config())


def budget_immaterial(study: RunConfig, stored: Sequence[StoredRun]) -> bool:
    """Whether the study's training budget could not have changed these runs: the study trained whole passes for a
    fixed number of epochs (no early stopping) and kept the checkpoint of lowest validation loss, as the common
    protocol keeps it, with no schedule (which could run to the budget's end), and every run kept an epoch within
    that budget and trained at least that long. Each run, cut after the study's last epoch, then keeps the
    checkpoint it kept: it is a draw of the study's recipe (on this machine; another machine's kernels part the
    trajectories from the first epoch, as any seed does). With no run stored it waits for them (True where the
    recipes allow it), so that a row that may become comparable is not ruled out before."""
    ours = registered_protocol()
    fixed = (not study.patience and not study.steps_per_epoch and not study.scheduler and study.select_best
             and ours.select_best and study.monitor == ours.monitor)
    return bool(fixed) and all(r.metrics["best_epoch"] <= study.epochs <= r.metrics["epochs_run"] for r in stored)


def budget_note(runs: ChapterRuns, name: str) -> str:
    """Why a study's budget that differs from ours is no difference for this network's stored runs
    (``budget_immaterial``); "" where the budgets are alike, it could matter or a seed is not stored yet."""
    source, stored = SOURCES.get(name), complete_runs(runs, name)
    if source is None or not stored:
        return ""
    study = source.config()
    if TRAINING["budget"](study) == TRAINING["budget"](registered_protocol()) or not budget_immaterial(study, stored):
        return ""
    kept = ", ".join(str(r.metrics["best_epoch"]) for r in stored)
    ran = ", ".join(str(r.metrics["epochs_run"]) for r in stored)
    return (f"the study's budget ({_budget(study)}) makes no difference to these runs: every seed kept an epoch "
            f"within it (epochs {kept}) and trained at least as long ({ran} epochs), so each, cut after epoch "
            f"{study.epochs}, keeps the checkpoint it kept: a draw of the study's recipe")


@lru_cache(maxsize=None)
def _other_network(source: Source) -> str:  # counting parameters builds the model: once per source
    return source.other_network(source.module) if source.other_network is not None else ""


@lru_cache(maxsize=None)
def _study_config(source: Source) -> RunConfig:
    return source.study_run(source.module, source.module.settings_from({"profile": "paper"}))


_ch1, _ch2, _ch3, _ch4, _ch5 = (baseline_vs_deeper, cnn3_128_extension, mlp_analysis, lightweight_benchmark,
                                regularization_synergy)
# network -> the study number it is compared with; a network its study reports no number for has none
SOURCES = {
    "model1": Source(1, _ch1, "m1_accuracy", TEST_ACCURACY, lambda m, s: m.config(s, m.study_cell("model1"), 42)),
    "model2": Source(1, _ch1, "m2_accuracy", TEST_ACCURACY, lambda m, s: m.config(s, m.study_cell("model2"), 42)),
    "cnn3_128": Source(2, _ch2, "cnn_peak", TEST_ACCURACY, lambda m, s: m.main_config(s)),
    "light_bn": Source(2, _ch2, "light_accuracy", TEST_ACCURACY, lambda m, s: m.light_config(s, m.STUDY_LIGHT)),
    "mlp_best": Source(3, _ch3, "best_test", TEST_ACCURACY, lambda m, s: m.best_config(s)),
    **{key: Source(4, _ch4, f"t1_test_acc_{key}", TEST_ACCURACY, lambda m, s, key=key: m.study_config(s, key, 42))
       for key in _ch4.MODELS},
    "synergy_baseline": Source(5, _ch5, "baseline_loss", TEST_LOSS,
                               lambda m, s: m.study_config(s, m.Net(model="synergy_baseline"), 42),
                               lambda m: m.network_match("the study 5 baseline", m.Net(model="synergy_baseline"))[0]),
    "flexible_final": Source(5, _ch5, "final_loss", TEST_LOSS,
                             lambda m, s: m.study_config(s, m.FINAL_NET, 42, s.journal_final_epochs),
                             lambda m: m.network_match("the final FlexibleCNN", m.FINAL_NET)[0]),
}
NO_STUDY_NUMBER = {"light_plain": "none: the book's standard-first-conv reading of chapter 2's text (read literally, "
                                  "all three blocks are separable), which the study never trained"}


# ----- this chapter's claims ---------------------------------------------------------------------

Q_ORDER = "ordering of test accuracy, common protocol"
Q_LOSS_ORDER = "ordering of test loss, common protocol"
Q_GAP = "difference in test accuracy, common protocol"
Q_SIZE = "trade-off of test accuracy against parameters, common protocol"
Q_COST = "trade-off of test accuracy against parameters and training seconds to the best epoch, common protocol"


def _where(chapter: int, where: str) -> str:
    return f"chapter {chapter}: {where}"


def _study_order(a: str, b: str) -> StudyClaim:
    """Chapter 4's Table 1 ordering of two adjacent models (its printed accuracies)."""
    pa, pb = SOURCES[a].claim, SOURCES[b].claim
    return StudyClaim(f"ch4_order_{a}_{b}", f"{LABELS[a]} above {LABELS[b]} (chapter 4's Table 1)",
                      _where(4, "Table 1"), f"{pa.printed} > {pb.printed}", Q_ORDER)


# Chapter 4's six models in the order of its Table 1, most accurate first
TABLE1_ORDER = sorted(_ch4.MODELS, key=lambda key: -SOURCES[key].claim.value)
# claim -> (the network claimed higher, the other)
ORDERS = {
    "ch1_order": ("model1", "model2"),
    "ch2_order": ("cnn3_128", "light_bn"),
    **{f"ch4_order_{a}_{b}": (a, b) for a, b in zip(TABLE1_ORDER, TABLE1_ORDER[1:])},
    "ch5_order": ("flexible_final", "synergy_baseline"),
}
# chapter 4's claims of the most (least) accurate of its six networks: claim -> (the networks claimed, higher is
# better, "these are the best ones" rather than "one of these is best")
BESTS = {"ch4_best_table1": (("mobilenet_lite",), True, False), "ch4_best_text": (("resnet_mini",), True, False),
         "ch4_top_two": (("resnet_mini", "mobilenet_lite"), True, True), "ch4_vit_lags": (("vit_tiny",), False, False)}
GAPS = {"ch1_gap": ("model1", "model2"), "ch2_gap": ("cnn3_128", "light_bn")}  # claim -> (a, b): mean(a) - mean(b)
TRADEOFFS = {"ch2_tradeoff": "light_bn", "ch4_tradeoff": "resnet_mini"}  # claim -> the network claimed


def _registry() -> Registry:
    ch1, ch2, ch4, ch5 = _ch1.REGISTRY, _ch2.REGISTRY, _ch4.REGISTRY, _ch5.REGISTRY
    order1, cost2 = ch1["m1_more_accurate"], ch2["light_cost"]
    final, base = ch5["final_loss"], ch5["baseline_loss"]
    claims = [
        # which studies' rankings survive
        StudyClaim("ch1_order", f"{LABELS['model1']} above {LABELS['model2']} (chapter 1)",
                   _where(1, order1.where), order1.printed, Q_ORDER),
        StudyClaim("ch2_order", f"{LABELS['cnn3_128']} above its {LABELS['light_bn']} variant (chapter 2)",
                   _where(2, cost2.where), f"{SOURCES['cnn3_128'].claim.printed} > {SOURCES['light_bn'].claim.printed}",
                   Q_ORDER),
        *(_study_order(a, b) for a, b in zip(TABLE1_ORDER, TABLE1_ORDER[1:])),
        *(replace(ch4[claim_id[4:]], id=claim_id, claim=f"{ch4[claim_id[4:]].claim} (chapter 4), among its "
                  f"{len(_ch4.MODELS)} networks", where=_where(4, ch4[claim_id[4:]].where), quantity=Q_ORDER)
          for claim_id in BESTS),
        StudyClaim("ch5_order", f"the final {LABELS['flexible_final']}'s test loss below the "
                   f"{LABELS['synergy_baseline']}'s (chapter 5)", _where(5, final.where),
                   f"test loss {final.printed} < {base.printed}", Q_LOSS_ORDER),
        # the studies' gaps between two of their networks
        replace(ch1["accuracy_gap"], id="ch1_gap", claim=f"{LABELS['model1']}'s lead over {LABELS['model2']} "
                "(chapter 1)", where=_where(1, ch1["accuracy_gap"].where), quantity=Q_GAP),
        replace(cost2, id="ch2_gap", claim=f"{LABELS['cnn3_128']}'s lead over its {LABELS['light_bn']} variant "
                "(chapter 2)", where=_where(2, cost2.where), quantity=Q_GAP),
        # the best networks for their size, among all fourteen
        replace(ch2["tradeoff"], id="ch2_tradeoff", claim=f"the {LABELS['light_bn']} variant of chapter 2 is a "
                "favourable trade-off of accuracy and size, among all the book's networks (this book's widening)",
                where=f"{_where(2, ch2['tradeoff'].where)} (there against {LABELS['cnn3_128']} alone)",
                quantity=Q_SIZE),
        replace(ch4["resnet_tradeoff"], id="ch4_tradeoff", claim=f"{LABELS['resnet_mini']} is the best trade-off of "
                "accuracy, size and training time, among all the book's networks (this book's widening)",
                where=f"{_where(4, ch4['resnet_tradeoff'].where)} (there among its {len(_ch4.MODELS)} networks)",
                quantity=Q_COST),
    ]
    # each study's headline number against the network's number under the common protocol
    claims += [replace(source.claim, id=f"headline_{name}", claim=f"{LABELS[name]}: chapter {source.chapter}'s "
                       "number holds under the common protocol", where=_where(source.chapter, source.claim.where),
                       quantity=f"{source.measure.name}, common protocol", not_tested="")
               for name, source in SOURCES.items()]
    return Registry(claims)


REGISTRY = _registry()


# ----- the runs ----------------------------------------------------------------------------------

@dataclass
class ChapterRuns:
    runs: dict  # network -> [StoredRun | MissingRun] per seed, for the networks of these settings
    seeds: list

    @property
    def models(self) -> list[str]:
        return list(self.runs)


def gather(settings) -> ChapterRuns:
    """Every run of the chapter from the store (training missing ones first, if asked)."""
    from ..store import ResultStore
    from ..sweep import collect_runs

    store = ResultStore(settings.store_dir)
    found = {run.key: run for run in collect_runs(plan(settings), settings, store)}
    return ChapterRuns(runs={name: [found[store.key(config(settings, name, seed))] for seed in settings.seeds]
                             for name in settings.models}, seeds=list(settings.seeds))


def overview(runs: ChapterRuns):
    """One row per network, one column per seed: stored (with its epochs) or missing."""
    import pandas as pd

    rows = []
    for name, group in runs.runs.items():
        row = {"network": LABELS[name], "ch.": CHAPTER_OF[name]}
        row.update({f"seed {run.config.seed}": describe(run) for run in group})
        rows.append(row)
    return book_table(pd.DataFrame(rows).set_index("network"),
                      "ch.: the chapter the network comes from. stored (n epochs): in the store, trained for n "
                      "epochs; missing: not trained yet. A network's numbers are left out everywhere below until "
                      "every seed of it is stored.")


def complete(runs: ChapterRuns, name: str) -> bool:
    """Every seed of the network is stored: its numbers are shown and judged on all seeds, never on fewer."""
    return name in runs.runs and len(stored_runs(runs.runs[name])) == len(runs.seeds)


def complete_runs(runs: ChapterRuns, name: str) -> list[StoredRun]:
    """The network's stored runs once every seed of it is stored (``complete``), else none: the one source of
    every number the chapter shows or judges for a network, so no table, figure or row stands in fewer seeds
    for all of them."""
    return stored_runs(runs.runs[name]) if complete(runs, name) else []


def machines(runs: ChapterRuns) -> str:
    """Which CPUs trained the runs the chapter shows (``store.timed_on``): their times mix machines when several."""
    return timed_on(run for name in runs.models for run in complete_runs(runs, name))


def cpus(stored: Sequence[StoredRun]) -> str:
    """The maker of the CPU that trained these runs, short enough for the ranking table ("AMD", "Intel"; the
    caption's ``machines`` names the models); each with its count of runs where they differ (a run resumed on
    another CPU counts under each); "-" for none."""
    count = Counter(name.replace("(R)", "").split()[0].strip(",") if name != "not recorded" else name
                    for run in stored for name in dict.fromkeys(run.processors))
    if len(count) <= 1:
        return next(iter(count), "-")
    return ", ".join(f"{name} ({n})" for name, n in count.most_common())


def not_shown(runs: ChapterRuns, name: str) -> str:
    """What a table shows instead of a network's numbers until every seed of it is stored: "missing" while none
    is, else how many of its seeds are ("waiting, 1/3 seeds stored")."""
    stored = len(stored_runs(runs.runs.get(name, [])))
    return f"waiting, {stored}/{len(runs.seeds)} seeds stored" if stored else "missing"


def time_to_best(run: StoredRun) -> float:
    """Training seconds up to and including the selected epoch, from the stored history: the CPU time its
    epochs recorded (which runs trained side by side, or paused, do not inflate), else their wall time."""
    rows = [row for row in run.history if row["epoch"] <= run.metrics["best_epoch"]]
    field = "train_cpu_seconds" if all("train_cpu_seconds" in row for row in rows) else "train_seconds"
    return sum(row[field] for row in rows)


def values(runs: ChapterRuns, name: str, read: Callable = TEST_ACCURACY.read) -> list[float]:
    """``read`` of every run of the network once every seed of it is stored (``complete_runs``); empty until then,
    and when it is not in these settings."""
    return [float(read(r)) for r in complete_runs(runs, name)]


def accuracy_groups(runs: ChapterRuns, names: list[str] | None = None) -> dict | None:
    """Network label -> test accuracy per seed, for ``names`` (default: every network of the settings);
    None until each of them has every seed."""
    names = runs.models if names is None else names
    if not names or not all(complete(runs, n) for n in names):
        return None
    return {LABELS[n]: values(runs, n) for n in names}


def capped(runs: ChapterRuns, names) -> str:
    """Why these networks' runs cannot say where training ends: a best epoch at the epoch cap (still improving)."""
    hit = [r for n in names for r in stored_runs(runs.runs.get(n, [])) if r.metrics["best_epoch"] >= r.config.epochs]
    if not hit:
        return ""
    return (f"{counted(len(hit), 'run')} stopped by the {hit[0].config.epochs}-epoch cap with its best epoch last "
            "(still improving): not the accuracy the network reaches under this protocol")


@lru_cache(maxsize=None)
def parameters(name: str) -> int:
    """Trainable parameters of one of the chapter's networks."""
    from ..models import build_model, count_parameters

    model, args, _, _ = MODELS[name]
    return count_parameters(build_model(model, **args))


@lru_cache(maxsize=None)
def flops(name: str) -> float:
    """Forward FLOPs per image of one of the chapter's networks (``benchmark.forward_flops_per_image``)."""
    from ..benchmark import architecture_flops

    model, args, _, _ = MODELS[name]
    return architecture_flops(model, args)


def _pm(x, scale: float = 100.0, digits: int = 2, empty: str = "missing") -> str:
    return mean_sd_text(list(x), digits=digits, scale=scale, empty=empty)


# ----- what the chapter shows --------------------------------------------------------------------

def networks_table(settings):
    """The networks of these settings: where each comes from, how it is built, its size and arithmetic."""
    import pandas as pd

    rows = [{"network": LABELS[n], "ch.": CHAPTER_OF[n],
             "built as": MODELS[n][0] + (f" ({', '.join(f'{k}={v}' for k, v in MODELS[n][1].items())})"
                                         if MODELS[n][1] else ""),
             "parameters": f"{parameters(n):,}", "MFLOPs": round(flops(n) / 1e6, 2)} for n in settings.models]
    return book_table(pd.DataFrame(rows).set_index("network"),
                      "ch.: the chapter the network comes from. built as: the registered model and its arguments. "
                      "MFLOPs: floating-point operations of one forward pass per image, millions (PyTorch's FLOP "
                      "counter: convolutions, linear layers and attention, 2 per multiply-add).")


def tie_groups(accuracy: dict | None) -> dict[str, str] | None:
    """Label -> letters of the groups it belongs to: group a is the most accurate network and every network
    not separable from it (95% Welch); group b the most accurate network outside a and every less accurate
    one not separable from it; and so on. None without at least two seeds per network (no spread)."""
    if not accuracy or any(len(v) < 2 for v in accuracy.values()):
        return None
    order = sorted(accuracy, key=lambda g: -float(np.mean(accuracy[g])))
    letters = {g: "" for g in order}
    grouped: set[str] = set()
    for letter_index in range(len(order)):
        leader = next((g for g in order if g not in grouped), None)
        if leader is None:
            break
        below = {g: accuracy[g] for g in order[order.index(leader):]}
        members = top_group(below)[0]
        letter = "abcdefghijklmnopqrstuvwxyz"[letter_index]
        for g in members:
            letters[g] += letter
        grouped |= set(members)
    return letters


def ranking_table(runs: ChapterRuns):
    """Test accuracy over the seeds, its rank and tie groups, with size, arithmetic and time to the best epoch."""
    import pandas as pd

    accuracy = accuracy_groups(runs)
    groups = tie_groups(accuracy)
    rows = []
    for name in runs.models:
        shown = complete_runs(runs, name)
        accuracies = values(runs, name)
        rows.append({"network": LABELS[name], "ch.": CHAPTER_OF[name],
                     "mean": float(np.mean(accuracies)) if accuracies else -1.0,
                     "test acc (%)": _pm(accuracies, empty=not_shown(runs, name)),
                     "group": groups[LABELS[name]] if groups else "-",
                     "parameters": f"{parameters(name):,}", "MFLOPs": round(flops(name) / 1e6, 2),
                     "to best (s)": _pm([time_to_best(r) for r in shown], scale=1.0, digits=0, empty="-"),
                     "best epoch": ", ".join(str(r.metrics["best_epoch"]) for r in shown) or "-",
                     "CPU": cpus(shown),
                     "seeds": f"{len(stored_runs(runs.runs[name]))}/{len(runs.seeds)}"})
    frame = pd.DataFrame(rows)
    if accuracy is not None:
        frame.insert(2, "rank", frame["mean"].rank(ascending=False, method="min").astype(int))
        frame = frame.sort_values("mean", ascending=False)
    else:
        frame.insert(2, "rank", "-")
    return book_table(frame.drop(columns="mean").set_index("network"), (
        f"test acc: mean ± std over the seeds, checkpoint of lowest validation loss tested once; rank by its mean. "
        f"group: networks sharing a letter are not separable ({LEVEL:.0%} Welch interval of the difference covers "
        "zero) from that letter's best network: a for the most accurate one, b for the most accurate one outside "
        "a and those below it, and so on; a network can carry several letters. A network's numbers wait for every "
        "seed of it (waiting: how many are stored); rank and groups wait for every seed of every network (and need "
        "two seeds). MFLOPs: forward operations per image, millions. to best (s): "
        f"training seconds up to the selected epoch, mean ± std, as the stored runs took them ({machines(runs)}): "
        "the CPU time of the training process (one thread), which other work on the cores does not inflate (wall "
        "time for a run that did not record it). best epoch: the selected epoch of each seed. CPU: the maker of the "
        "processor that trained the network's runs; the times of two networks trained on different CPUs compare machines as "
        "well as networks. seeds: stored of planned."))


def close_calls(runs: ChapterRuns):
    """Neighbours in the ranking that the seeds cannot separate, and whether five seeds would, if the
    networks' seed spreads stayed as measured: the projected 95% Welch half-width with five seeds each
    against the difference measured now. A note instead of a table while the seeds are not all stored, or
    when every neighbour is separable."""
    import pandas as pd
    from IPython.display import Markdown
    from scipy import stats

    accuracy = accuracy_groups(runs)
    if accuracy is None or any(len(v) < 2 for v in accuracy.values()):
        return Markdown("*Close calls: they wait for every seed of every network (two at least); see the run "
                        "overview at the top.*")
    order = sorted(accuracy, key=lambda g: -float(np.mean(accuracy[g])))
    rows = []
    for a, b in zip(order, order[1:]):
        diff, se, df = welch(accuracy[a], accuracy[b])
        half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * se
        if diff - half > 0:
            continue
        parts = [float(np.var(accuracy[g], ddof=1)) / 5 for g in (a, b)]
        denominator = sum(p ** 2 / 4 for p in parts)
        df5 = sum(parts) ** 2 / denominator if denominator > 0 else math.inf
        half5 = (float(stats.t.ppf(0.5 + LEVEL / 2, df5)) if math.isfinite(df5) else 1.96) * math.sqrt(sum(parts))
        rows.append({"pair": f"{a} above {b}", "difference": f"{100 * diff:+.2f}",
                     f"±{LEVEL:.0%} now": f"{100 * half:.2f}", "±five seeds": f"{100 * half5:.2f}",
                     "five seeds": "would separate them" if diff > half5 else "would not"})
    if not rows:
        return Markdown(f"*Every neighbour in the ranking is separable with {counted(len(runs.seeds), 'seed')} "
                        "per network: no close call.*")
    frame = pd.DataFrame(rows)
    return book_table(frame.set_index("pair"), (
        f"Neighbours in the ranking whose {LEVEL:.0%} Welch interval covers zero. difference: mean test accuracy "
        f"of the first minus the second, points; ±{LEVEL:.0%} now: the interval's half-width with the seeds "
        "stored; ±five seeds: the half-width five seeds per network would give if each network's seed spread "
        "stayed as measured (a projection, not a measurement)."))


def throughput_table(settings):
    """Training images/s at the protocol's batch size and inference images/s at batch 1000, one network at a
    time with ``settings.timing_threads`` threads, measured now on this machine."""
    import pandas as pd

    from ..benchmark import measure_throughput, say_how_busy
    from ..data import TRAIN_MEAN, TRAIN_STD

    say_how_busy()  # a busy machine lowers every rate below; say so beside the table
    rows, notes = [], []
    for name in settings.models:
        model, args, _, _ = MODELS[name]
        m = measure_throughput(model, args, threads=settings.timing_threads, train_batch=settings.batch_size,
                               eval_batch=1000, normalize=(TRAIN_MEAN, TRAIN_STD), warmup=1,
                               steps=settings.timing_steps, eval_steps=settings.timing_steps,
                               min_time=settings.timing_seconds)
        notes += m["notes"]
        rows.append({"network": LABELS[name], "train img/s": round(m["train_images_per_s"]),
                     "infer img/s": round(m["inference_images_per_s"]),
                     "µs / image": round(1e6 / m["inference_images_per_s"], 1)})
    return book_table(pd.DataFrame(rows).set_index("network"), (
        f"One network at a time, {counted(settings.timing_threads, 'thread')}, measured when this page was "
        f"executed. train img/s: training images per second at batch {settings.batch_size} (Adam step included); "
        "infer img/s: forward passes in eval mode at batch 1000; µs / image: inference time per image."
        + "".join(f" {note}." for note in notes)))


COST_AXES = {  # cost axis of the Pareto panels -> what it is
    "parameters": "parameters",
    "MFLOPs": "forward MFLOPs per image",
    "seconds": "training seconds to the best epoch",
}


def _costs(runs: ChapterRuns, name: str) -> dict:
    """Each cost axis of a network: (mean, std over seeds); parameters and FLOPs have no spread; time None until
    every seed is stored."""
    times = [time_to_best(r) for r in complete_runs(runs, name)]
    return {"parameters": (float(parameters(name)), 0.0), "MFLOPs": (flops(name) / 1e6, 0.0),
            "seconds": (float(np.mean(times)), float(np.std(times, ddof=1)) if len(times) > 1 else 0.0)
            if times else None}


def fronts(runs: ChapterRuns) -> dict[str, list[str]] | None:
    """Cost axis -> the undominated networks in test accuracy against that cost alone (``verdicts.undominated``);
    None until every network has every seed, at least two."""
    accuracy = accuracy_groups(runs)
    if accuracy is None or any(len(v) < 2 for v in accuracy.values()):
        return None
    return {axis: undominated(accuracy, {LABELS[n]: _front_cost(runs, n, axis) for n in runs.models})
            for axis in COST_AXES}


def _front_cost(runs: ChapterRuns, name: str, axis: str) -> "float | Measured":
    """A network's cost on ``axis`` as a front compares it: exact counts as numbers, time ``Measured`` per seed (two
    networks take the same time unless a 95% Welch interval over their runs separates them)."""
    if axis == "seconds":
        return Measured([time_to_best(r) for r in complete_runs(runs, name)])
    return _costs(runs, name)[axis][0]


def pareto_figure(runs: ChapterRuns):
    """Test accuracy against parameters, FLOPs and time to the best epoch, one panel each, the undominated
    networks of each panel marked and joined; a network waits for every seed of it, and the figure is None while
    none has them all."""
    from .. import plots

    shown = [n for n in runs.models if values(runs, n)]
    if not shown:
        return None
    front = fronts(runs)
    panels = []
    for axis, what in COST_AXES.items():
        points = {}
        for name in shown:
            accuracies, cost = values(runs, name), _costs(runs, name)[axis]
            points[LABELS[name]] = (cost[0], cost[1], 100 * float(np.mean(accuracies)),
                                    100 * float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0)
        panels.append({"xlabel": f"{what} (log scale)", "ylabel": "test accuracy (%)", "logx": True,
                       "points": points, "front": front[axis] if front else None})
    waiting = len(runs.models) - len(shown)
    title = ("Accuracy against cost (bars: std over seeds; ringed: undominated)" if front else
             "Accuracy against cost (bars: std over seeds; no front before every seed is stored)"
             + (f"\n{counted(waiting, 'network')} not shown: waiting for {'its' if waiting == 1 else 'their'} seeds"
                if waiting else ""))  # a second line: one long line widened the figure past the column
    return plots.pareto_panels(panels, groups={LABELS[n]: f"chapter {CHAPTER_OF[n]}" for n in shown}, title=title)


EXPLORER_AXES = {  # axis -> logarithmic
    "parameters": True, "forward MFLOPs per image": True, "test accuracy (%)": False,
    "training seconds to the best epoch": True, "selected epoch": False, "validation loss (selected)": False,
}


def explorer_points(runs: ChapterRuns) -> dict[str, dict]:
    """Network label -> {explorer axis: (mean, std over seeds) or None until every seed of it is stored}."""
    points = {}
    for name in runs.models:
        stored = complete_runs(runs, name)

        def spread(xs):
            return (float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0) if xs else None

        points[LABELS[name]] = {
            "parameters": (float(parameters(name)), 0.0), "forward MFLOPs per image": (flops(name) / 1e6, 0.0),
            "test accuracy (%)": spread([100 * r.metrics["accuracy"] for r in stored]),
            "training seconds to the best epoch": spread([time_to_best(r) for r in stored]),
            "selected epoch": spread([float(r.metrics["best_epoch"]) for r in stored]),
            "validation loss (selected)": spread([VALIDATION_LOSS.read(r) for r in stored]),
        }
    return points


def explorer(runs: ChapterRuns):
    """Pick the x axis, the y axis and the networks: every network's mean over its seeds, with the seed spread as
    error bars, for the networks with every seed stored."""
    from ..explore import scatter_explorer

    return scatter_explorer(explorer_points(runs), log_axes=[a for a, log in EXPLORER_AXES.items() if log],
                            x="parameters", y="test accuracy (%)")


def study_table(runs: ChapterRuns):
    """Every network's study number beside its number under the common protocol, and the difference."""
    import pandas as pd

    rows = []
    for name in runs.models:
        source = SOURCES.get(name)
        measure = source.measure if source else TEST_ACCURACY
        ours, difference = values(runs, name, measure.read), study_difference(runs, name)
        row = {"network": LABELS[name], "ch.": CHAPTER_OF[name],
               "quantity": "test acc (%)" if measure.percent else "test loss"}
        here = _here(measure, ours) if ours else not_shown(runs, name)
        if source is None:
            row.update({"study": "-", "here": here, "difference": "-",
                        "the study's number": NO_STUDY_NUMBER[name]})
        else:
            claim, other = source.claim, source.not_the_study_network()
            row.update({"study": _study_text(claim, measure), "here": here,
                        "difference": "-" if difference is None else "not comparable" if other else
                        measure.difference(difference),
                        "the study's number": f"{claim.quantity} ({claim.where}); {source.recipe()}"
                                              + (f"; not the study's network: {other}" if other else "")})
        rows.append(row)
    loss = SOURCES["synergy_baseline"].claim
    return book_table(pd.DataFrame(rows).set_index("network"), (
        "study: the chapter's study number, read from that chapter's registry (accuracy in percent; chapter 5 "
        f"prints its test losses as percentages, {loss.printed} for {_study_text(loss, TEST_LOSS)}, "
        "shown here as losses). here: the network's test accuracy (test loss) under the common protocol, mean ± "
        "std over the seeds (n), from the checkpoint of lowest validation loss, once every seed is stored (waiting: "
        "how many are); the same quantity as the study's number only where the next column says the study kept "
        "that checkpoint too (chapter 1). difference: here minus study (not comparable where ours is not the "
        "network the study measured); where the study's number is another quantity than ours or was trained with "
        "another recipe (the next column says what it measured and how), the difference is what changing the protocol and everything "
        "else that differs between the two runs moved, a description and not a verdict. "
        "the study's number: what the study measured, where, and the recipe its chapter rebuilt it with."))


def study_difference(runs: ChapterRuns, name: str) -> float | None:
    """The network's mean over its seeds minus its study's number, in the study's quantity; None until every seed
    is stored, and when its study reports no number."""
    source = SOURCES.get(name)
    ours = values(runs, name, source.measure.read) if source else []
    return float(np.mean(ours)) - source.claim.value if ours else None


def _study_text(claim: StudyClaim, measure: Measure) -> str:
    """The study's value in this table's unit, to the precision it was printed with."""
    if measure.percent:
        digits = max(round(-math.log10(2 * claim.rounding * 100)), 0)
        return f"{100 * claim.value:.{digits}f}"
    return f"{claim.value:.{max(round(-math.log10(2 * claim.rounding)), 0)}f}"


def _here(measure: Measure, ours: list[float]) -> str:
    scale, digits = (100.0, 2) if measure.percent else (1.0, 3)
    return f"{_pm(ours, scale=scale, digits=digits)} (n={len(ours)})"


# ----- the claims judged -------------------------------------------------------------------------

def _waiting(runs: ChapterRuns, names) -> str:
    """What a row on these networks still waits for: networks these settings leave out, or seeds not stored
    yet ("" when every seed of each is stored)."""
    absent = [LABELS[n] for n in names if n not in runs.runs]
    if absent:
        return f"not among this notebook's networks: {', '.join(absent)}"
    waiting = [n for n in names if not complete(runs, n)]
    if not waiting:
        return ""
    count = sum(len(runs.seeds) - len(stored_runs(runs.runs[n])) for n in waiting)
    planned = len(names) * len(runs.seeds)
    runs_missing = counted(count, "run") if count == planned else f"{count} of the row's {planned} runs missing"
    return f"waiting for every seed of {', '.join(LABELS[n] for n in waiting)} ({runs_missing})"


def _blocked(runs: ChapterRuns, claim: StudyClaim, names) -> Verdict | None:
    """The row of a claim whose networks cannot be judged yet (missing) or at all (capped); None if they can."""
    waiting = _waiting(runs, names)
    if waiting:
        return missing(claim, waiting)
    stopped = capped(runs, names)
    return not_comparable(claim, "-", stopped) if stopped else None


def other_network(names) -> str:
    """Why a row on these networks is not comparable whatever its runs show ("" when nothing rules it out): its
    chapter found ours to be another network than the study's, so the study's claim cannot be tested on ours."""
    other = "; ".join(reason for n in names if n in SOURCES and (reason := SOURCES[n].not_the_study_network()))
    return (f"not the study's network: {other}; we could not build the study's network from its description, so "
            "its claim cannot be tested on ours") if other else ""


def _quantities(names) -> str:
    """What each study number of these networks measured where it is not what the common protocol measures."""
    return "; ".join(dict.fromkeys(reason for n in names if n in SOURCES and (reason := SOURCES[n].other_quantity())))


def _recipes(names, runs: ChapterRuns | None = None) -> str:
    """How each study trained these networks where it is not how the common protocol trains them (with ``runs``,
    a budget that could not have changed their stored runs is no difference: ``Source.other_recipe``)."""
    networks: dict[str, list[str]] = {}  # networks trained alike are named together
    for n in names:
        if n in SOURCES and (reason := SOURCES[n].other_recipe(None if runs is None else complete_runs(runs, n))):
            networks.setdefault(reason, []).append(LABELS[n])
    return "; ".join(f"{', '.join(labels)} ({reason})" for reason, labels in networks.items())


def other_quantity(names) -> str:
    """Why a row setting these networks' study numbers beside ours is not comparable whatever its runs show ("" when
    each study measured what the common protocol measures, the test accuracy of the lowest-validation-loss
    checkpoint): best of several test evaluations, or last epoch, against a checkpoint chosen on validation is not
    like with like, so their difference is a description, not a verdict."""
    other = _quantities(names)
    return f"different quantities: {other}" if other else ""


def other_recipe(names, runs: ChapterRuns | None = None) -> str:
    """Why a row setting these networks' study numbers beside ours is not comparable whatever its runs show ("" when
    each study trained its network as the common protocol does): the value rule's band stands for a new run under
    the study's recipe, so against runs trained with another optimiser, schedule, batch, pixel scaling, augmentation,
    training set or budget its verdict would measure the change of recipe, not the study's number. With ``runs``,
    a budget that could not have changed them is none (``budget_immaterial``)."""
    other = _recipes(names, runs)
    return (f"different recipes: {other}; the value rule's band stands for a new run under the study's recipe, and "
            "ours ran under another, so the difference between them includes the change of recipe"
            ) if other else ""


def unlike(names, runs: ChapterRuns | None = None) -> str:
    """Why these networks' study numbers and ours are not like with like ("" when they are): another quantity, or
    another recipe (``other_quantity``, ``other_recipe``)."""
    return other_quantity(names) or other_recipe(names, runs)


def _ruled_out(runs: ChapterRuns, claim: StudyClaim, names, reason: str, describe: Callable[[], str], note: str,
               rule: Callable[[StudyClaim, str, str], Verdict] = not_comparable) -> Verdict:
    """The row of a claim that the chapter's rules make not comparable whatever its runs show (``reason``): it needs
    no run, so it is never *missing run*. Once every seed is stored it shows ``describe()``, our numbers as a
    description, with no band or verdict of the rule that would have judged them; until then "-", and the note
    says what the description waits for. ``rule`` makes the row (``verdicts.hardware_bound`` for time)."""
    waiting = _waiting(runs, names)
    detail = f"ours: {waiting}" if waiting else capped(runs, names)
    return rule(claim, "-" if waiting else describe(), "; ".join(part for part in (reason, detail, note) if part))


def _built_otherwise(names) -> str:
    """How these networks, as their chapters build them, differ from the studies' where a description leaves it
    open (chapter 4's ViT-Tiny: dropout the study does not list); "" where none does."""
    return "; ".join(text for n in names if CHAPTER_OF[n] == 4 and (text := _ch4.differs(n)))


def _note(runs: ChapterRuns, names) -> str:
    """The seeds the row rests on, the recipes the studies measured these networks with (one per recipe) and how
    our networks differ from the studies' where their descriptions leave it open."""
    recipes: dict[tuple, list[str]] = {}
    for n in names:
        if n in SOURCES:
            recipes.setdefault((SOURCES[n].chapter, SOURCES[n].recipe()), []).append(LABELS[n])
    note = (f"common protocol, {counted(len(runs.seeds), 'seed')} per network; the study's recipe: "
            + "; ".join(f"{' and '.join(labels)} (chapter {chapter}): {text}"
                        for (chapter, text), labels in recipes.items()))
    return "; ".join(part for part in (note, _built_otherwise(names)) if part)


def _pair_row(runs: ChapterRuns, claim: StudyClaim, names, reason: str, judge: Callable[[], Verdict],
              note: str) -> Verdict:
    """A row on two networks (or more): not comparable with ``reason`` whatever the runs show (the text ``judge()``
    gives our numbers kept as a description), else missing or capped (``_blocked``), else ``judge()``."""
    if reason:
        return _ruled_out(runs, claim, names, reason, lambda: judge().ours, note)
    return _blocked(runs, claim, names) or judge()


def _reread(names, runs: ChapterRuns | None = None) -> str:
    """The note of an ordering (or best-of) row whose study numbers are not like with like with ours (``unlike``):
    the ranking is retested as a claim about the architectures, and the verdict is about them under the common
    protocol's recipe ("" when they are like with like). It names every way the study's numbers differ: the quantity
    they measured and the recipe they were trained with."""
    quantities, recipes = _quantities(names), _recipes(names, runs)
    own = [text for text in (f"measured another quantity: {quantities}" if quantities else "",
                             f"were trained otherwise: {recipes}" if recipes else "") if text]
    if not own:
        return ""
    which = "the two architectures" if len(names) == 2 else f"its {len(names)} architectures"
    chapters = sorted({CHAPTER_OF[n] for n in names})
    return (f"the study's ranking read as a claim about {which}, retested under the common protocol (its own numbers "
            f"{'; and '.join(own)}); the verdict is about {which} under the common protocol's recipe, not the study's: "
            f"chapter {' and '.join(map(str, chapters))} judges the claim on runs of the study's own recipe")


def _placed(row: Verdict, placed, without: Callable[[str], Verdict] | None = None, among=()) -> Verdict:
    """``row``, whose verdict rests on the place of the networks ``placed`` (those it orders or claims): where one is
    built otherwise than the study's in a way whose effect could go either way (chapter 4's ViT-Tiny, with dropout
    the study does not list), the common protocol has no other way to measure the claim, so the row is inconclusive
    whatever its interval says (``confounded_place``, the book's rule). A network of ``among`` that the row only
    compares against rests its verdict on its place where ``without(name)``, the row judged without it, gives
    another verdict."""
    for name in placed:
        if name in _ch4.EXTRA_DROPOUT:
            row = confounded_place(row, f"{LABELS[name]}'s extra dropout")
    for name in among:
        if name in _ch4.EXTRA_DROPOUT and name not in placed and without is not None:
            if without(name).verdict != row.verdict:
                row = confounded_place(row, f"{LABELS[name]}'s extra dropout, without which the verdict differs,")
    return row


def _order_row(runs: ChapterRuns, claim_id: str) -> Verdict:
    """A study's ranking of two networks, judged on the quantity it ordered by: chapter 5's on the test loss. The
    ranking is read as a claim about the two architectures and retested under the common protocol; where the
    study's numbers measured another quantity or were trained otherwise (``unlike``), its gap between them is not
    comparable (the gap rows), its ordering of the architectures is what this row tests, and the note says so. Where
    ours is not the study's network (``other_network``) the claim cannot be tested on ours, and the note gives that
    reason alone."""
    claim, (a, b) = REGISTRY[claim_id], ORDERS[claim_id]
    loss, network = claim.quantity == Q_LOSS_ORDER, other_network((a, b))
    reread = "" if network else _reread((a, b), runs)
    read, note = (TEST_LOSS if loss else TEST_ACCURACY).read, "; ".join(p for p in (reread, _note(runs, (a, b))) if p)
    return _pair_row(runs, claim, (a, b), network, lambda: _placed(judge_direction(
        claim, values(runs, a, read), values(runs, b, read), measured=claim.quantity, higher=not loss,
        names=(LABELS[a], LABELS[b]), scale=1.0 if loss else 100.0, digits=3 if loss else 2, note=note), (a, b)), note)


def _best_row(runs: ChapterRuns, claim_id: str) -> Verdict:
    """Chapter 4's claim of its most (least) accurate network, judged by the best-of rule over its six networks'
    seeds under the common protocol, read as a claim about the architectures (``_order_row``)."""
    claim, (claimed, higher, top_set) = REGISTRY[claim_id], BESTS[claim_id]
    names = tuple(_ch4.MODELS)
    network = other_network(names)
    note = "; ".join(p for p in ("" if network else _reread(names, runs), _note(runs, names)) if p)
    def judge(among) -> Verdict:
        return judge_best(claim, accuracy_groups(runs, list(among)), [LABELS[n] for n in claimed], measured=Q_ORDER,
                          higher=higher, top_set=top_set, scale=100.0, digits=2, note=note)

    return _pair_row(runs, claim, names, network, lambda: _placed(
        judge(names), claimed, lambda left: judge([n for n in names if n != left]), names), note)


def _gap_row(runs: ChapterRuns, claim_id: str) -> Verdict:
    """A study's gap between two of its networks, by the difference rule where ours is each study's network and
    each study number measured what the common protocol measures, trained as the common protocol trains it."""
    claim, (a, b) = REGISTRY[claim_id], GAPS[claim_id]
    note = f"{LABELS[a]} minus {LABELS[b]}; " + _note(runs, (a, b))
    return _pair_row(runs, claim, (a, b), other_network((a, b)) or unlike((a, b), runs), lambda: judge_difference(
        claim, values(runs, a), values(runs, b), measured=Q_GAP, note=note), note)


def loss_as_percent(claim: StudyClaim) -> str:
    """What a loss printed as a percentage means beside ours, a loss as a loss."""
    return f"the study prints its losses as percentages ({claim.printed} for a loss of {claim.value:.3f}); ours is the loss"


def _headline_row(runs: ChapterRuns, name: str) -> Verdict:
    """A study's headline number against the network's under the common protocol: by the value rule where ours is
    the study's network and the study measured what the common protocol measures, trained as the common protocol
    trains it; otherwise not comparable, with our number (and, for another quantity or recipe, its difference from
    the study's) as a description. Our number is in the measure's unit: a loss as a loss, though chapter 5 prints
    its losses as percentages."""
    source, claim = SOURCES[name], REGISTRY[f"headline_{name}"]
    network, quantity, different = other_network((name,)), other_quantity((name,)), unlike((name,), runs)
    said = quantity and not network  # the reason already names what the study's number is
    budget = budget_note(runs, name)
    note = "; ".join(part for part in (
        "" if said else f"the study's number: {source.claim.quantity}", f"the study's recipe: {source.recipe()}",
        f"here: {recipe(runs.runs[name][0].config)}" if name in runs.runs else "", budget,
        _built_otherwise((name,)),
        "" if source.measure.percent else loss_as_percent(source.claim)) if part)

    def judge(stopped: str = "") -> Verdict:
        return judge_value(claim, values(runs, name, source.measure.read), measured=claim.quantity, capped=stopped,
                           note=note)

    def describe() -> str:
        """Ours, and its difference from the study's number in the row's unit: the claim's for an accuracy (as the
        study column prints it: a fraction, or percentage points), the loss's own for a loss (which the study
        prints as a percentage)."""
        diff = study_difference(runs, name)
        if not source.measure.percent:
            ours = _here(source.measure, values(runs, name, source.measure.read))
            difference = source.measure.difference(diff)
        else:
            ours, difference = judge().ours, as_printed(diff, claim, sign=True)
            if claim.unit == "%":
                difference = difference.removesuffix("%") + " points"
        return ours if network else f"{ours}; {difference} against the study"

    if network or different:
        return _ruled_out(runs, claim, (name,), network or different, describe, note)
    waiting = _waiting(runs, (name,))  # a capped run keeps our number in the row: judge_value says not comparable
    if waiting:
        return missing(claim, waiting)
    row = judge(capped(runs, (name,)))
    return replace(row, rule=join_notes(row.rule, RULES["budget"])) if budget else row


def _tradeoff_row(runs: ChapterRuns, claim_id: str) -> Verdict:
    """The best trade-offs among all the networks; one with time as an axis is bound to hardware (chapter 4's rule
    for the same claim), its front on the stored timings a description."""
    claim, claimed, names = REGISTRY[claim_id], TRADEOFFS[claim_id], tuple(MODELS)
    note = "; ".join(part for part in (f"all {len(MODELS)} networks, common protocol, "
                                       f"{counted(len(runs.seeds), 'seed')} each", _built_otherwise(MODELS)) if part)
    timed = claim.quantity == Q_COST

    def front(among=tuple(MODELS)) -> Verdict:
        if timed:
            cost = {LABELS[n]: (parameters(n), _front_cost(runs, n, "seconds")) for n in among}
            cost_name = "parameters and training seconds to the best epoch"
        else:
            cost, cost_name = {LABELS[n]: parameters(n) for n in among}, "parameters"
        return judge_tradeoff(claim, accuracy_groups(runs, list(among)), cost, LABELS[claimed],
                              measured=claim.quantity, cost_name=cost_name, note=note)

    if timed:
        return _ruled_out(runs, claim, names, "speed is one of the claim's three axes (chapter 4 rules the same claim "
                          "not comparable); time: the CPU seconds each run took to its kept epoch, as stored "
                          f"({machines(runs)}; one network faster than another only where a {LEVEL:.0%} Welch "
                          "interval over the seeds says so)", lambda: f"{TIMED_FRONT}{front().ours}", note,
                          rule=hardware_bound)
    return _blocked(runs, claim, names) or _placed(front(), (claimed,),
                                                   lambda left: front(tuple(n for n in MODELS if n != left)), MODELS)


def claims(runs: ChapterRuns) -> list[Verdict]:
    """One judged row per claim of ``REGISTRY``, each by the book's rule for its kind of claim. The rules that make
    a row not comparable whatever its runs show (``other_network``, ``other_quantity``, ``other_recipe``,
    ``hardware_bound`` for time) come before the check for missing runs: a claim that cannot be judged needs no
    run."""
    return ([_order_row(runs, i) for i in ORDERS] + [_best_row(runs, i) for i in BESTS]
            + [_gap_row(runs, i) for i in GAPS]
            + [_tradeoff_row(runs, i) for i in TRADEOFFS] + [_headline_row(runs, n) for n in SOURCES])


# ----- the chapter's answer ----------------------------------------------------------------------

def _verdicts(rows: dict, ids) -> str:
    """'*claim*: **verdict**' for each row, in the order given: the prose says exactly what the rows say."""
    return "; ".join(f"*{rows[i].claim}*: **{rows[i].verdict}**" for i in ids)


def _tally(rows: dict, ids) -> str:
    return tally(rows[i].verdict for i in ids)


def conclusion(runs: ChapterRuns) -> str:
    """The chapter's answer, written from the claim rows (it says no more than their verdicts) and the store."""
    rows = {row.id: row for row in claims(runs)}
    lines = []
    if not any(stored_runs(group) for group in runs.runs.values()):
        return (f"- **Nothing to conclude yet** ({_tally(rows, rows)}). No run is stored (see the run overview at the "
                "top), and the chapter draws no conclusion before its runs are trained: the *missing run* rows wait "
                "for them, and the *not comparable* rows, whose claims cannot be tested on the common protocol "
                "whatever the runs show, wait for them to describe our numbers.")
    accuracy = accuracy_groups(runs)
    if accuracy is not None and all(len(v) > 1 for v in accuracy.values()):
        top, leader = top_group(accuracy)
        seeds = counted(len(runs.seeds), 'seed')
        if len(top) == 1:
            lines.append(f"- **Most accurate under one protocol** ({seeds} per network): {leader}, ahead of every "
                         f"other network ({LEVEL:.0%} Welch).")
        else:
            lines.append(f"- **Most accurate under one protocol** ({seeds} per network): no single network; the top "
                         f"group, not separable from the highest mean ({LEVEL:.0%} Welch), is {', '.join(top)} "
                         f"(highest mean: {leader}).")
    else:
        lines.append("- **Ranking.** Not every network has all its seeds stored yet (two at least); the ranking "
                     "waits for them.")
    orders = [*ORDERS, *BESTS]
    lines.append(f"- **Which studies' rankings survive** ({_tally(rows, orders)}), each a verdict on the "
                 "architectures under this chapter's recipe (the study's own chapter judges the claim on runs of the "
                 "study's recipe): " + _verdicts(rows, orders) + ".")
    lines.append(f"- **The studies' gaps** ({_tally(rows, GAPS)}): " + _verdicts(rows, GAPS) + ".")
    fronts_found = [f"{rows[i].ours[:1].upper() + rows[i].ours[1:]}." for i in TRADEOFFS if rows[i].ours != "-"]
    lines.append("- **Best for its size.** " + " ".join([*fronts_found, _verdicts(rows, TRADEOFFS)]) + ".")
    lines.append(_headlines(runs, rows))
    return "\n".join(lines)


def _headlines(runs: ChapterRuns, rows: dict) -> str:
    """The conclusion's line on the studies' headline numbers: ours beside each study's number, and the plain
    difference, where ours is the study's network (every seed stored: never fewer), and what each row's verdict
    makes of it. Our standard deviation is our seeds' alone: no difference carries a ±, since the study's single
    run has a spread of its own that nobody measured."""
    verdict = {n: rows[f"headline_{n}"].verdict for n in SOURCES}
    other = [n for n in SOURCES if other_network((n,))]
    quantity = [n for n in SOURCES if n not in other and other_quantity((n,))]
    trained = [n for n in SOURCES if n not in other + quantity and other_recipe((n,), runs)]
    shown = [n for n in SOURCES if n not in other and complete(runs, n)]
    headlines = [f"headline_{n}" for n in SOURCES]
    line = f"- **Each study's headline number beside ours** ({_tally(rows, headlines)})."
    if shown:
        line += (" Ours (mean ± standard deviation of our seeds, n) beside the study's number, and ours minus the "
                 "study's: " + "; ".join(_beside_text(runs, n) for n in shown) + ". Where the study measured another "
                 "quantity or trained another recipe, the difference is what changing the protocol and everything "
                 "else that differs between the two runs moved; where the value rule judges the number (below), it "
                 "is set against that rule's band. The ± is the spread of our seeds alone: each study's number is a "
                 "single run, whose own spread nobody measured, so no difference carries one.")
    named = {v: ", ".join(LABELS[n] for n in SOURCES if verdict[n] == v and n not in other + quantity + trained)
             for v in VERDICTS}
    if named[REPRODUCED]:
        line += f" Within the band a new run could fall in (*reproduced*): {named[REPRODUCED]}."
    if named[NOT_REPRODUCED]:
        line += (" Outside it (*not reproduced*): their study measured what the common protocol measures, trained as "
                 "it trains, and under the common protocol these networks reach another number: "
                 f"{named[NOT_REPRODUCED]}.")
    if named[INCONCLUSIVE]:
        line += f" *Inconclusive* (the seeds cannot tell): {named[INCONCLUSIVE]}."
    if named[NOT_COMPARABLE]:
        line += (" *Not comparable*, a run stopped by its epoch cap while still improving (its row says which): "
                 f"{named[NOT_COMPARABLE]}.")
    if quantity:
        line += _described(runs, quantity, "whose study measured another quantity (the best of several test "
                           "evaluations, or the last epoch, where the common protocol scores the checkpoint chosen on "
                           "validation)")
    if trained:
        line += _described(runs, trained, "whose study measured what the common protocol measures but trained the "
                           "network otherwise (optimiser, schedule, batch, pixel scaling, augmentation, training images "
                           "or budget: each row names the differences), while the value rule's band stands for a new "
                           "run under the study's recipe")
    if other:
        line += (f" *Not comparable*: {', '.join(LABELS[n] for n in other)}, where ours is not the network the study "
                 "measured (its row gives the parameter counts).")
    return line


def _described(runs: ChapterRuns, names: list[str], why: str) -> str:
    """The conclusion's sentence on headline rows whose difference is a description (``why``: what makes them
    unlike ours), and which of them still wait for their seeds."""
    waiting = [LABELS[n] for n in names if not complete(runs, n)]
    return (f" *Not comparable*, the difference a description: {', '.join(LABELS[n] for n in names)}, {why}, so the "
            "difference is no evidence for or against the study's number"
            + (f"; for {', '.join(waiting)} it waits for every seed (see the run overview)" if waiting else "") + ".")


def _beside_text(runs: ChapterRuns, name: str) -> str:
    """'LeNet-5 89.52 ± 0.06 (n=3) against the study's 89.07, +0.45 points': ours, the study's number as printed,
    and the plain difference."""
    source = SOURCES[name]
    return (f"{LABELS[name]} {_here(source.measure, values(runs, name, source.measure.read))} against the study's "
            f"{_study_text(source.claim, source.measure)}, {source.measure.difference(study_difference(runs, name))}")
