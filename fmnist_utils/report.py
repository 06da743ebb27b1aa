"""Book-wide accounting, generated from the store: what the paper profile of each chapter has cost so
far, which runs it still lacks and what they will cost, and how long a chapter takes per profile on
this machine.

A missing run's cost per epoch comes from stored measurements, each taken on the CPU that trained the run
(the book's runs were trained on several), first match wins: the epochs
in its own checkpoint (after whole runs of its configuration if those epochs were timed on the wall
clock only, which a pause or a busy machine inflates: epochs record their CPU time now, older ones did
not); stored or checkpointed runs of the same architecture, data and batch size;
of the same architecture and batch size; the last benchmark's training throughput of that model;
other sizes of the same model at that batch size, scaled by forward FLOPs. Otherwise it is reported
as not priced yet. Epochs are counted up to the run's limit (*at most*) and up to where stored runs
with the same early-stopping rule stopped (*expected*). A classical baseline has no epochs: its one
fit counts as one, priced by the stored fits of the same baseline (any seed).

Written to ``book/compute.md`` by ``fmnist-book scorecard`` and ``fmnist-book publish``; the wall
times come from ``timings.json`` in the store, which ``fmnist-book publish`` (paper profile, from the
store) and ``fmnist-book time`` (a profile from an empty store) fill in as they measure.
"""
from __future__ import annotations

import datetime as _dt
import dataclasses
import json
import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from .claims import counted
from .config import ClassicalConfig, RunConfig
from .store import MissingRun, ResultStore

TIMINGS_FILE = "timings.json"
PROFILE_COLUMNS = {"smoke": "smoke, from an empty store", "quick": "quick, from an empty store",
                   "paper": "paper, rendered from the store"}


@dataclass(frozen=True)
class ChapterCompute:
    chapter: str
    planned: int
    stored: int
    checkpointed_epochs: int  # epochs done by runs still in progress
    core_hours: float  # wall seconds x threads of the stored runs (training and evaluation)
    missing_runs: tuple = ()  # a MissingCost per run the store lacks
    stored_hours: tuple = ()  # (store key, core-hours) of each stored run: the total counts a shared run once

    @property
    def missing(self) -> int:
        return self.planned - self.stored


def run_core_seconds(result: dict) -> float:
    timing, threads = result["timing"], result["provenance"].get("threads") or 1
    return (timing.get("train_seconds", 0.0) + timing.get("eval_seconds", 0.0)) * threads


@dataclass(frozen=True)
class MissingCost:
    key: str
    config: RunConfig | ClassicalConfig
    epochs_left: int  # up to the run's epoch limit (a classical baseline: its one fit)
    expected_epochs_left: float  # where runs with the same early-stopping rule stopped
    core_hours_per_epoch: float | None  # None: nothing measured for this architecture and batch size yet
    source: str  # what the per-epoch cost was measured on

    @property
    def core_hours(self) -> float | None:
        """At most: every epoch up to the limit."""
        return None if self.core_hours_per_epoch is None else self.core_hours_per_epoch * self.epochs_left

    @property
    def expected_core_hours(self) -> float | None:
        return None if self.core_hours_per_epoch is None else self.core_hours_per_epoch * self.expected_epochs_left


# Fields that change the cost of an epoch; the rest (seed, learning rate, loss, ...) do not.
_EPOCH_COST_FIELDS = ("model", "model_args", "dataset", "val_fraction", "train_subset", "eval_subset", "augment",
                      "train_on", "steps_per_epoch", "val_steps", "batch_size", "eval_batch_size", "track_test",
                      "precision")
_STOPPING_FIELDS = ("epochs", "patience", "monitor")
# the cost model's coarser levels, each per precision
_AT_BATCH = ("model", "model_args", "batch_size", "precision")
_FAMILY = ("model", "batch_size", "precision")
_ARCHITECTURE = ("model", "model_args", "precision")
_FASHION_MNIST_SIZES = {"train": 60_000, "test": 10_000}


def _identity(config, names) -> str:
    """The values of ``names`` as one text; a benchmark case, which has no precision, is the float32 engine."""
    return json.dumps([getattr(config, f, "float32" if f == "precision" else None) for f in names], sort_keys=True,
                      default=str)


def images_per_epoch(config: RunConfig) -> int:
    """Training images one epoch of ``config`` passes through (Fashion-MNIST's split sizes)."""
    if config.steps_per_epoch is not None:
        return config.steps_per_epoch * config.batch_size
    n_train = _FASHION_MNIST_SIZES["train"]
    fit = n_train - int(round(n_train * config.val_fraction))
    if config.train_subset is not None:
        fit = min(fit, config.train_subset)
    return fit + (_FASHION_MNIST_SIZES["test"] if config.train_on == "train+test" else 0)


@dataclass(frozen=True)
class _EpochTiming:
    train_core_seconds_per_image: float
    eval_core_seconds: float  # per epoch
    cpu_time: bool = False  # measured as CPU time; else wall time x threads, which a pause or a busy machine inflates

    def core_hours(self, images: int) -> float:
        return (self.train_core_seconds_per_image * images + self.eval_core_seconds) / 3600


def _epoch_timing(history: list[dict], threads: int) -> _EpochTiming | None:
    """Per-image training and per-epoch evaluation core-seconds of ``history``: its CPU time where every row
    recorded it, else its wall time x ``threads``."""
    rows = [r for r in history if r.get("train_images") and "train_seconds" in r]
    if not rows:
        return None
    cpu = all("train_cpu_seconds" in r for r in rows)
    train, evaluation, scale = (("train_cpu_seconds", "eval_cpu_seconds", 1) if cpu else
                                ("train_seconds", "eval_seconds", threads))
    return _EpochTiming(sum(r[train] for r in rows) * scale / sum(r["train_images"] for r in rows),
                        sum(r.get(evaluation, 0.0) for r in rows) * scale / len(rows), cpu)


def _mean(xs) -> float:
    return sum(xs) / len(xs)


def _fit_identity(config: ClassicalConfig) -> str:
    """A classical baseline apart from its seed (the seed does not change what a fit costs)."""
    return json.dumps({k: v for k, v in config.to_dict().items() if k != "seed"}, sort_keys=True)


class CostModel:
    """Per-epoch costs and stopping epochs measured in a store (stored runs and checkpoints), with the
    last benchmark's throughput as a fallback for architectures the store has not timed."""

    def __init__(self, store: ResultStore, benchmark: dict | None = None):
        self.store = store
        self.timings: dict[tuple, list[_EpochTiming]] = {}  # (level, identity) -> measurements
        self.own: dict[str, _EpochTiming] = {}  # store key -> timing of its checkpointed epochs
        self.stopped: dict[tuple, list[int]] = {}  # (stopping rule[, model]) -> epochs run
        self.family: dict[str, list] = {}  # (model, batch size) -> [(config, timing)] of any model arguments
        self._flops: dict[str, float] = {}
        self.by_architecture: dict[tuple, list] = {}  # (model, arguments) -> [(batch size, timing)]
        self.fits: dict[str, list[float]] = {}  # classical baseline apart from its seed -> core-hours of its fits
        for run in store.entries():
            if isinstance(run.config, ClassicalConfig):  # no epochs: one fit and one prediction
                self.fits.setdefault(_fit_identity(run.config), []).append(run_core_seconds(run.result) / 3600)
            else:
                self._add(run.config, _epoch_timing(run.history, run.result["provenance"].get("threads") or 1))
                rule = _identity(run.config, _STOPPING_FIELDS)
                for group in ((rule,), (rule, run.config.model)):
                    self.stopped.setdefault(group, []).append(len(run.history))
        threads = self.benchmark_threads = (benchmark or {}).get("threads") or 1
        self.benchmark = {}
        for row in (benchmark or {}).get("cases", []):
            for precision, field in (("float32", "engine_images_per_s"), ("bfloat16", "bfloat16_images_per_s")):
                if not row.get(field):  # bfloat16 only where the benchmark measured it
                    continue
                case = SimpleNamespace(**{**row, "precision": precision})
                timing = _EpochTiming(threads / row[field], 0.0)
                self.benchmark[_identity(case, _AT_BATCH)] = timing
                self.family.setdefault(_identity(case, _FAMILY), []).append((case, timing))
                self.by_architecture.setdefault(_identity(case, _ARCHITECTURE), []).append((case.batch_size, timing))

    def _add(self, config: RunConfig, timing: _EpochTiming | None) -> None:
        if timing is not None:
            self.by_architecture.setdefault(_identity(config, _ARCHITECTURE), []).append(
                (config.batch_size, timing))
            self.timings.setdefault(("same", _identity(config, _EPOCH_COST_FIELDS)), []).append(timing)
            self.timings.setdefault(("batch", _identity(config, _AT_BATCH)), []).append(timing)
            self.family.setdefault(_identity(config, _FAMILY), []).append((config, timing))

    def _same(self, config: RunConfig) -> list[_EpochTiming] | None:
        """Timings of runs of this architecture, data and batch size."""
        return self.timings.get(("same", _identity(config, _EPOCH_COST_FIELDS)))

    def flops(self, config: RunConfig) -> float:
        """Forward FLOPs per image of ``config``'s model (counted once per architecture)."""
        from .benchmark import architecture_flops

        architecture = _identity(config, ("model", "model_args"))
        if architecture not in self._flops:
            self._flops[architecture] = architecture_flops(config.model, config.model_args)
        return self._flops[architecture]

    def add_checkpoint(self, run: MissingRun) -> None:
        """Count the finished epochs of an interrupted run as a measurement too (its own first). Epochs timed
        on the wall clock only count for other runs where nothing else timed their configuration."""
        timing = _epoch_timing(run.history, run.threads)
        if timing is not None and run.key not in self.own:
            self.own[run.key] = timing
            if timing.cpu_time or not self._same(run.config):
                self._add(run.config, timing)

    def per_epoch(self, key: str, config: RunConfig) -> tuple[float | None, str]:
        """Core-hours of one epoch of ``config`` and what they were measured on. Timings are per precision; a
        bfloat16 run nothing in its precision has timed is priced from float32 timings, and says so."""
        hours, source = self._per_epoch(key, config)
        if hours is None and config.precision != "float32":
            hours, source = self._per_epoch(key, dataclasses.replace(config, precision="float32"))
            if hours is not None:
                source = f"{source}, in float32: no bfloat16 epoch of it timed yet"
        return hours, source

    def _per_epoch(self, key: str, config: RunConfig) -> tuple[float | None, str]:
        images = images_per_epoch(config)
        own = self.own.get(key)
        same = self._same(config)
        # a few checkpointed epochs timed on the wall clock are the least reliable measure (a pause or other
        # work on the cores goes into them): whole runs of the same configuration come first then
        if own is not None and (own.cpu_time or not same):
            return own.core_hours(images), "its own checkpointed epochs"
        if same:
            return (_mean([t.core_hours(images) for t in same]), "runs of this architecture, data and batch size"
                    + (" (its own checkpointed epochs have wall-clock times only)" if own is not None else ""))
        # a different augmentation or split costs about the same per image; a different batch size does not
        if timings := self.timings.get(("batch", _identity(config, _AT_BATCH))):
            return _mean([t.core_hours(images) for t in timings]), "runs of this architecture and batch size"
        if (bench := self.benchmark.get(_identity(config, _AT_BATCH))) is not None:
            # core time at the benchmark's threads: small batch-8 models use less of it on one thread
            return bench.core_hours(images), (f"the benchmark's training throughput at {self.benchmark_threads} "
                                              "threads (evaluation not counted)")
        if relatives := self.family.get(_identity(config, _FAMILY)):
            # the same model with other arguments: cost scaled by forward FLOPs. A rough guess either
            # way: memory-bound layers (normalisation) cost more than their FLOPs say, while a small
            # relative's per-step overhead does not grow with FLOPs (ResNet-Mini base 16 scaled from
            # base 4 at batch 8 comes out several times too high); the run's own epochs replace it
            flops = self.flops(config)
            hours = _mean([t.core_hours(images) * flops / self.flops(c) for c, t in relatives])
            return hours, f"other sizes of `{config.model}`, scaled by FLOPs"
        smaller = [(batch, timing) for batch, timing in self.by_architecture.get(_identity(config, _ARCHITECTURE), [])
                   if batch < config.batch_size]
        if smaller:
            # per image, a larger batch costs less (fewer optimiser steps, fuller kernels): the closest smaller
            # batch measured bounds this one from above; the run's own epochs replace it
            batch = max(b for b, _ in smaller)
            hours = _mean([t.core_hours(images) for b, t in smaller if b == batch])
            return hours, f"this architecture at batch {batch} (an upper bound for batch {config.batch_size})"
        return None, "nothing measured at this batch size yet"

    def expected_epochs(self, config: RunConfig) -> float:
        """Where stored runs with the same early-stopping rule stopped (this model's first); else the limit."""
        if config.patience is None:
            return float(config.epochs)
        rule = _identity(config, _STOPPING_FIELDS)
        epochs = self.stopped.get((rule, config.model)) or self.stopped.get((rule,))
        return _mean(epochs) if epochs else float(config.epochs)

    def estimate(self, run: MissingRun) -> MissingCost:
        config = run.config
        if isinstance(config, ClassicalConfig):
            fits = self.fits.get(_fit_identity(config))
            return MissingCost(run.key, config, 1, 1.0, _mean(fits) if fits else None,
                               "stored fits of this baseline (any seed)" if fits else
                               "nothing measured for this baseline yet")
        epochs_left = max(config.epochs - run.checkpoint_epochs, 0)
        expected_left = min(max(self.expected_epochs(config) - run.checkpoint_epochs, min(1, epochs_left)), epochs_left)
        per_epoch, source = self.per_epoch(run.key, config)
        return MissingCost(run.key, config, epochs_left, expected_left, per_epoch, source)


def chapter_compute(name: str, module, store: ResultStore, costs: CostModel | None = None) -> ChapterCompute:
    """The paper profile of one chapter (``name``: its notebook's stem), as the store holds it now."""
    costs = costs or CostModel(store)
    settings = module.settings_from({"profile": "paper", "store_dir": str(store.root)})
    unique = {store.key(config): config for config, _ in module.plan(settings)}  # grids repeat main runs
    states = [store.status(config) for config in unique.values()]
    stored = [s for s in states if not isinstance(s, MissingRun)]
    missing = [s for s in states if isinstance(s, MissingRun)]
    for run in missing:
        costs.add_checkpoint(run)
    hours = tuple((s.key, run_core_seconds(s.result) / 3600) for s in stored)
    return ChapterCompute(
        chapter=name, planned=len(states), stored=len(stored),
        checkpointed_epochs=sum(s.checkpoint_epochs for s in missing),
        core_hours=sum(h for _, h in hours), missing_runs=tuple(costs.estimate(s) for s in missing),
        stored_hours=hours)


def _total_row(ledger: list[ChapterCompute]) -> str:
    """The ledger's last row: every run once, though several chapters read it (an appendix reads chapters' runs)."""
    stored = dict(h for row in ledger for h in row.stored_hours)
    missing = {c.key: c for row in ledger for c in row.missing_runs}
    shared = sum(row.planned for row in ledger) > len(stored) + len(missing)
    return (f"| **all chapters**{' (a run several chapters read counted once)' if shared else ''} "
            f"| {len(stored) + len(missing)} | {len(stored)} | {len(missing)} | {sum(stored.values()):.1f} "
            f"| {core_hours_text(tuple(missing.values()))} |")


def load_timings(store_root: Path) -> dict:
    path = Path(store_root) / TIMINGS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def record_timing(store_root: Path, chapter: str, profile: str, seconds: float) -> None:
    """Keep the latest measured wall time of executing ``chapter`` with ``profile`` (atomic rewrite)."""
    timings = load_timings(store_root)
    timings.setdefault(chapter, {})[profile] = {
        "seconds": round(seconds, 1), "date": _dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    path = Path(store_root) / TIMINGS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _hours(value: float) -> str:
    return f"{value:.2f}" if value < 0.095 else f"{value:.1f}"


def _span(expected: float, most: float) -> str:
    """``expected / most``, or one number where early stopping changes nothing."""
    return _hours(most) if _hours(expected) == _hours(most) else f"{_hours(expected)} / {_hours(most)}"


def core_hours_text(missing: tuple) -> str:
    """Expected and at most core-hours of ``missing`` runs ('23.2 / 111.7'), and how many of them cannot be
    priced yet ('23.2 / 111.7, plus 3 runs not priced yet'): nothing of their kind has been timed."""
    known = [c for c in missing if c.core_hours is not None]
    text = _span(sum(c.expected_core_hours for c in known), sum(c.core_hours for c in known)) if known else ""
    unknown = len(missing) - len(known)
    if not unknown:
        return text or "0"
    return (f"{text}, plus " if text else "") + f"{counted(unknown, 'run')} not priced yet"


def run_core_hours_text(cost) -> str:
    """One missing run's expected and at most core-hours, or 'not priced yet'."""
    return core_hours_text((cost,)) if cost.core_hours is not None else "not priced yet"


def _model_text(config: RunConfig | ClassicalConfig) -> str:
    if isinstance(config, ClassicalConfig):
        args = " ".join(f"{k}={v}" for k, v in config.params.items())
        return f"`{config.estimator}` {args}".strip() + " (classical, one fit)"
    args = " ".join(f"{k}={v}" for k, v in config.model_args.items())
    extras = [f"batch {config.batch_size}", f"lr {config.lr:g}"]
    if config.augment:
        extras.append("augmented")
    if config.train_on != "train":
        extras.append(f"trained on {config.train_on}")
    return f"`{config.model}` {args}".strip() + " (" + ", ".join(extras) + ")"


@lru_cache(maxsize=None)
def _parameters(model: str, model_args: str) -> int:
    """Trainable parameters of a model (built on the meta device: no weights allocated)."""
    import torch

    from .models import build_model, count_parameters

    with torch.device("meta"):
        return count_parameters(build_model(model, **json.loads(model_args)))


def checkpoint_text(config: RunConfig | ClassicalConfig) -> str:
    """A missing run's checkpoint size ("25 MB"), and where it is too large to commit, what that means: the run
    cannot carry its progress from one session to the next. "-" for a classical fit, which keeps none."""
    from .epochs import COMMITTABLE_CHECKPOINT_BYTES, checkpoint_bytes

    if isinstance(config, ClassicalConfig):
        return "-"
    size = checkpoint_bytes(config, _parameters(config.model, json.dumps(config.model_args, sort_keys=True)))
    text = f"{size / 1e6:,.0f} MB" if size >= 1e6 else f"{size / 1e6:.1f} MB"
    if size > COMMITTABLE_CHECKPOINT_BYTES:
        text += f" (over {COMMITTABLE_CHECKPOINT_BYTES / 1e6:.0f} MB, too large to commit: train it in one sitting)"
    return text


def missing_runs_markdown(ledger: list[ChapterCompute]) -> list[str]:
    """One folded table per chapter: every missing run, its epochs left and its estimated cost."""
    lines = []
    for row in ledger:
        if not row.missing_runs:
            continue
        lines += ["", f":::{{dropdown}} {{doc}}`{row.chapter}`: {counted(row.missing, 'run')} missing, "
                      f"core-hours {core_hours_text(row.missing_runs)}", "",
                  "| Store key | Model | Seed | Epochs left | Core-hours | Epoch cost from | Checkpoint |",
                  "|---|---|---:|---:|---:|---|---|"]
        for cost in row.missing_runs:
            expected = f"{cost.expected_epochs_left:.0f}"
            epochs = expected if expected == str(cost.epochs_left) else f"{expected} / {cost.epochs_left}"
            lines.append(f"| `{cost.key}` | {_model_text(cost.config)} | {cost.config.seed} | {epochs} "
                         f"| {run_core_hours_text(cost)} | {cost.source} | {checkpoint_text(cost.config)} |")
        lines += ["", ":::"]
    return lines


def compute_markdown(store_root: Path, chapters: dict, benchmark: dict | None = None) -> str:
    """The paper profile's runs, core-hours so far and still needed; wall time per chapter and profile;
    then every missing run with its estimated cost (``benchmark``: the last benchmark's JSON, a
    fallback measurement for architectures the store has not timed)."""
    store = ResultStore(store_root)
    costs = CostModel(store, benchmark)
    ledger = [chapter_compute(name, module, store, costs) for name, module in chapters.items()]
    lines = ["| Chapter | Paper-profile runs | Stored | Missing | Core-hours of the stored runs "
             "| Core-hours still needed (expected / at most) |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in ledger:
        n = row.checkpointed_epochs
        in_progress = f" ({n} epoch{'' if n == 1 else 's'} checkpointed)" if n else ""
        lines.append(f"| {{doc}}`{row.chapter}` | {row.planned} | {row.stored} | {row.missing}{in_progress} "
                     f"| {row.core_hours:.1f} | {core_hours_text(row.missing_runs)} |")
    lines.append(_total_row(ledger))
    timings = load_timings(store_root)
    machines = sorted({t["machine"] for chapter in timings.values() for t in chapter.values()})
    lines += ["", "Wall time to execute a chapter" + (f" (measured on {', '.join(machines)})" if machines else "")
              + "; *not measured* where no run has been timed yet:", "",
              "| Chapter | " + " | ".join(PROFILE_COLUMNS.values()) + " |",
              "|---|" + "---:|" * len(PROFILE_COLUMNS)]
    for name in chapters:
        cells = [_duration(timings[name][p]["seconds"]) if p in timings.get(name, {}) else "*not measured*"
                 for p in PROFILE_COLUMNS]
        lines.append(f"| {{doc}}`{name}` | " + " | ".join(cells) + " |")
    if any(row.missing_runs for row in ledger):
        lines += ["", "Every run still missing, with the epochs it has left and its cost in core-hours. The "
                  "cost of an epoch is measured, on the CPUs that trained the runs it reads (several, so an "
                  "estimate is as close as they are alike): on the run's own checkpoint, on stored runs "
                  "of the same architecture and batch size, in the last benchmark, or on other sizes of the "
                  "same model scaled by FLOPs (the last column says which; the last is the roughest, and too "
                  "high for a small model at a small batch, whose per-step overhead does not grow with its "
                  "FLOPs). *Expected* counts the epochs at "
                  "which stored runs with the same early-stopping rule stopped, *at most* every epoch up to "
                  "the limit. A run resumes from its checkpoint, written after every epoch and committed with the "
                  "store; one whose checkpoint is too large to commit must be trained to the end in one sitting."]
        lines += missing_runs_markdown(ledger)
    return "\n".join(lines) + "\n"
