"""The results store: one directory per run under ``book/results/runs/<key>/``.

Each entry holds ``config.json``, ``result.json`` (history, metrics, staged evaluations, timing,
provenance), ``predictions.npz`` (each evaluated image's predicted class and confidence and, for a network
trained since the store keeps them, its loss) and, where a chapter needs the model again,
``weights.safetensors``.
An entry is written into a temporary directory and renamed into place, so a reader never sees half
of one; a run in progress lives in ``checkpoints/<key>.pt`` and resumes from its last epoch.
Training itself needs no store (``train_run``): it returns a ``FinishedRun``, plain data that
``ResultStore.write`` stores, so a Dask worker trains with checkpoints of its own and returns the
run to the client, which writes it.
A classical baseline (``config.ClassicalConfig``, fitted by ``classical.fit_classical``) is an entry
of the same layout: no history or weights, its fit and predict times under ``timing``.

Every entry records the fingerprint of the code that made it (``fingerprint.fingerprint``), and every
read checks it against the current code: a run whose model no longer computes what it was trained
with is refused (``StaleRunError``) instead of shown. ``verify`` also re-derives each run's headline
metrics from its stored predictions (and its test loss from its per-image losses), so a changed metric
definition cannot hide behind the store.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .claims import counted
from .config import ClassicalConfig, RunConfig, canonical_json, classical_key, config_from_dict, run_key
from .fingerprint import check as check_fingerprint, fingerprint, probe_agrees
from .models import build_model, count_parameters

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO_ROOT / "book" / "results"


class StoreError(RuntimeError):
    """A store entry is unreadable; the message says which one and how to fix it."""


class StaleRunError(StoreError):
    """A stored run was made by code that computes something else than the current code."""


def stale_message(problems: dict[str, list[str]]) -> str:
    """One message for stale runs: which runs, what changed (with its file), and the two ways out."""
    lines = [f"{len(problems)} stored run(s) no longer match the code that reads them:"]
    for key, found in problems.items():
        lines += [f"  {key}: " + "; ".join(found)]
    lines.append("If the change was meant to change what these models compute, delete those entries under "
                 "book/results/runs/ and train them again (fmnist-book train CHAPTER). If it computes the same "
                 "(a refactoring), `fmnist-book verify --update` records the new code hashes; it refuses where "
                 "the model's outputs changed.")
    return "\n".join(lines)


def model_structure(config: RunConfig) -> str:
    """Architecture text and parameter count of the configured model, part of its key (building it is
    cheap). What ``forward`` computes is checked by the recorded ``fingerprint`` instead."""
    model = build_model(config.model, **config.model_args)
    return f"{model!r}|{count_parameters(model)}"


def config_key(config: RunConfig | ClassicalConfig) -> str:
    """A configuration's store key (``ResultStore.key`` caches it)."""
    if isinstance(config, ClassicalConfig):
        return classical_key(config)
    return run_key(config, model_structure(config))


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(device: str, threads: int) -> dict:
    from .train import cpu_model

    return {
        "fmnist_utils": __version__, "commit": _git_commit(), "torch": torch.__version__,
        "python": platform.python_version(), "machine": platform.machine(), "processor": cpu_model(),
        "device": device, "threads": threads, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


@dataclass
class StoredRun:
    key: str
    path: Path
    config: RunConfig | ClassicalConfig
    result: dict
    # the entry that holds it, when that is a twin with another epoch cap that stopped early, at or before both caps
    stored_as: str | None = None
    stored_cap: int | None = None  # that twin's epoch cap

    @property
    def history(self) -> list[dict]:
        return self.result["history"]

    @property
    def metrics(self) -> dict:
        return self.result["metrics"]

    @property
    def staged(self) -> list[dict]:
        return self.result.get("staged", [])

    @property
    def parameters(self) -> int | None:
        return self.result["parameters"]  # None for a classical run

    @property
    def processors(self) -> tuple[str, ...]:
        """The CPUs that trained this run, one per stretch (a run resumed on another CPU has several), as its
        provenance names them; "not recorded" where the store kept no name (runs stored before it did)."""
        provenance = self.result.get("provenance", {})
        stretches = provenance.get("trained_on") or [{"processor": provenance.get("processor")}]
        return tuple(stretch.get("processor") or "not recorded" for stretch in stretches)

    @cached_property
    def predictions(self) -> np.ndarray:
        with np.load(self.path / "predictions.npz") as archive:
            return archive["pred"].astype(np.int64)

    @cached_property
    def confidence(self) -> np.ndarray:
        with np.load(self.path / "predictions.npz") as archive:
            return archive["confidence"].astype(np.float32)

    @cached_property
    def image_losses(self) -> np.ndarray | None:
        """The loss of each evaluated image (its mean is ``metrics["loss"]``); None for a run stored before the
        store kept them, and for a classical run."""
        with np.load(self.path / "predictions.npz") as archive:
            return archive["loss"].astype(np.float64) if "loss" in archive.files else None

    @cached_property
    def targets(self) -> np.ndarray:
        """True labels aligned with ``predictions``."""
        if isinstance(self.config, ClassicalConfig):
            from .classical import eval_labels
        else:
            from .train import eval_labels

        return eval_labels(self.config)

    @property
    def has_weights(self) -> bool:
        return (self.path / "weights.safetensors").exists()

    def load_model(self) -> torch.nn.Module:
        """The stored (selected) model in eval mode; only for runs stored with weights."""
        from safetensors.torch import load_file

        if not self.has_weights:
            raise StoreError(f"run {self.key} was stored without weights; retrain it with save_weights=True "
                             f"(delete {self.path} first)")
        model = build_model(self.config.model, **self.config.model_args)
        model.load_state_dict(load_file(self.path / "weights.safetensors"))
        return model.eval()


@dataclass
class MissingRun:
    """A configuration the store does not hold yet; chapters show it as missing, never substitute."""

    key: str
    config: RunConfig
    # the staged test evaluations that run already made: each is final (later epochs cannot change it)
    staged: list = field(default_factory=list)
    # the finished epochs' history rows of an interrupted run and the thread count they ran on
    history: list = field(default_factory=list)
    threads: int = 1

    @property
    def checkpoint_epochs(self) -> int:
        """Epochs already done by an interrupted run."""
        return len(self.history)


def stored_runs(runs: list) -> list[StoredRun]:
    """The runs a chapter can compute from: stored ones, in order; missing ones are left out."""
    return [run for run in runs if isinstance(run, StoredRun)]


def describe(run: StoredRun | MissingRun) -> str:
    """One line for a chapter's run overview: stored (with its epochs) or missing (with checkpointed epochs)."""
    if isinstance(run, MissingRun):
        done = f", {run.checkpoint_epochs}/{run.config.epochs} epochs checkpointed" if run.checkpoint_epochs else ""
        return f"missing{done}"
    epochs = run.metrics.get("epochs_run")
    text = "stored" + (f" ({epochs} epochs)" if epochs else "")
    if run.stored_as:
        text += f" as {run.stored_as}: the same run under an epoch cap of {run.stored_cap}, stopped early"
    return text


def timed_on(runs: Iterable[StoredRun]) -> str:
    """Which CPUs trained ``runs``, for a note beside timings read from them: "one CPU (name)", or each CPU with
    its count of runs (a run resumed on another CPU counts under each), since such timings then mix machines."""
    count = Counter(name for run in runs for name in dict.fromkeys(run.processors))
    if not count:
        return "no stored run yet"
    if len(count) == 1:
        name = next(iter(count))
        # runs that did not record their CPU may each have had another: "not recorded" names no one machine
        return ("unrecorded CPUs (one or more)" if name == "not recorded"
                else f"one CPU ({name})")
    # an unrecorded CPU may be one of the named ones or others: no count of machines then
    return (f"{'several' if 'not recorded' in count else len(count)} CPUs, so the times mix machines: "
            + "; ".join(f"{name} ({counted(n, 'run')})" for name, n in count.most_common()))


def table_or_pending(frame, what: str):
    """``frame``, or while none of its runs is stored a note saying so: an empty table reads as a bug."""
    if len(frame):
        return frame
    from IPython.display import Markdown

    return Markdown(f"*{what}: none of its runs is in the store yet (see the run overview at the top).*")


def _without_cap(config: RunConfig) -> str:
    """What the store key hashes, less the epoch cap: equal for the same run under two caps."""
    return canonical_json({k: v for k, v in config.identity().items() if k != "epochs"})


class ResultStore:
    def __init__(self, root: str | Path | None = None):
        root = root or os.environ.get("FMNIST_STORE") or DEFAULT_ROOT
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.checkpoint_dir = self.root / "checkpoints"
        self._keys: dict[str, str] = {}
        self._by_rest: dict | None = None  # configurations without their epoch cap -> entries (stopped twins)

    def key(self, config: RunConfig | ClassicalConfig) -> str:
        identity = canonical_json(config.identity())
        if identity not in self._keys:
            self._keys[identity] = config_key(config)
        return self._keys[identity]

    def checkpoint_path(self, config: RunConfig) -> Path:
        return self.checkpoint_dir / f"{self.key(config)}.pt"

    def _stopped_twin(self, config: RunConfig) -> Path | None:
        """A stored run that is provably this run: the same configuration with another epoch cap, stopped early
        at or before either cap. Early stopping ends training at the same epoch whatever the cap, and nothing else in a
        run depends on the cap (no schedule reads it), so raising a cap never retrains a run that had stopped."""
        if not isinstance(config, RunConfig) or config.patience is None:
            return None
        if self._by_rest is None:
            self._by_rest = {}
            for path in sorted(self.runs_dir.glob("[!.]*/config.json")):  # not a half-written .tmp-* entry
                data = self._read_json(path)
                if "estimator" not in data:
                    # through RunConfig: an entry written before a field existed lacks it in its file
                    try:
                        stored = RunConfig.from_dict(data)
                    except (TypeError, ValueError) as error:
                        raise StoreError(f"store entry {path.parent} has a configuration this code cannot read "
                                         f"({error}); delete that directory to train it again") from None
                    self._by_rest.setdefault(_without_cap(stored), []).append((stored.epochs, path.parent))
        for epochs, path in self._by_rest.get(_without_cap(config), []):
            if epochs == config.epochs or path.name != self.key(config.replace(epochs=epochs)):
                continue
            result = self._read_json(path / "result.json")
            if result.get("stopped_early") and result["metrics"]["epochs_run"] <= config.epochs:
                return path
        return None

    @staticmethod
    def _read_json(path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise StoreError(f"store entry {path.parent} is damaged ({error}). Delete that directory and the run "
                             f"will be trained again; nothing else in the store is affected.") from None

    def get(self, config: RunConfig) -> StoredRun | None:
        key = self.key(config)
        path = self.runs_dir / key
        if not path.exists():
            path = self._stopped_twin(config)
            if path is None:
                return None
        try:
            result = json.loads((path / "result.json").read_text())
            stored_config = config_from_dict(json.loads((path / "config.json").read_text()))
            if not (path / "predictions.npz").exists():
                raise FileNotFoundError(path / "predictions.npz")
        except (OSError, ValueError) as error:
            raise StoreError(f"store entry {path} is damaged ({error}). Delete that directory and the run "
                             f"will be trained again; nothing else in the store is affected.") from None
        problems = check_fingerprint(result.get("fingerprint"), fingerprint(stored_config))
        if problems:
            raise StaleRunError(stale_message({path.name: problems}))
        if path.name != key:  # the stopped twin answers for this configuration under its own entry
            return StoredRun(key=key, path=path, config=config, result=result, stored_as=path.name,
                             stored_cap=stored_config.epochs)
        return StoredRun(key=key, path=path, config=stored_config, result=result)

    def status(self, config: RunConfig) -> StoredRun | MissingRun:
        run = self.get(config)
        if run is not None:
            return run
        history, staged, threads = [], [], 1
        checkpoint = self.checkpoint_path(config)
        if checkpoint.exists():
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            history, staged = state["history"], list(state.get("staged", []))
            threads = state.get("threads") or 1  # older checkpoints: one thread, the sweeps' setting
        return MissingRun(key=self.key(config), config=config, staged=staged, history=history, threads=threads)

    def put(self, result, save_weights: bool = False) -> StoredRun:
        """Write a ``TrainResult`` (or ``ClassicalResult``) atomically; see ``write``."""
        return self.write(FinishedRun.from_result(result, self.key(result.config), save_weights))

    def write(self, run: FinishedRun) -> StoredRun:
        """Write a finished run atomically (temporary directory, then rename); a Dask client writes what
        its workers return this way. A run whose key differs from this store's key for its configuration
        (a worker with other library versions) is refused."""
        config = config_from_dict(run.config)
        key = self.key(config)
        if run.record["key"] != key:
            raise StoreError(f"a run came back with the key {run.record['key']}, but its configuration's key here "
                             f"is {key}: the package or library versions where it trained (a Dask worker) differ "
                             f"from these. Install the same versions in both places and train it again.")
        problems = check_fingerprint(run.record.get("fingerprint"), fingerprint(config))
        if problems:  # checked before the entry exists: a stale run never lands in the store
            raise StoreError(f"run {key} came back made by other model code than this one ("
                             f"{'; '.join(problems)}): the package where it trained (a Dask worker) differs from "
                             f"this one. Install the same version in both places and train it again.")
        final = self.runs_dir / key
        tmp = self.runs_dir / f".tmp-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "config.json").write_text(json.dumps(run.config, indent=1, sort_keys=True) + "\n")
        (tmp / "result.json").write_text(json.dumps(run.record, indent=1) + "\n")
        np.savez_compressed(tmp / "predictions.npz", **run.predictions)
        if run.weights is not None:
            (tmp / "weights.safetensors").write_bytes(run.weights)
        if final.exists():  # a concurrent writer finished first: keep the existing entry
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
        self._by_rest = None  # the new entry may be another configuration's stopped twin
        return self.get(config)

    def get_or_train(self, config: RunConfig, *, train_missing: bool = True, save_weights: bool = False,
                     **train_kwargs) -> StoredRun | MissingRun:
        """The stored run, else train it (resuming any checkpoint) and store it.

        With ``train_missing=False`` a run not in the store comes back as a ``MissingRun``.
        """
        run = self.get(config)
        if run is not None:
            if save_weights and not run.has_weights:
                held = f" (it is stored as {run.stored_as}, the same run under another epoch cap)" if run.stored_as else ""
                raise StoreError(f"run {run.key} is stored without weights but weights are needed{held}; delete "
                                 f"{run.path} and train it again")
            return run
        if not train_missing:
            return self.status(config)
        return self.write(train_run(config, save_weights=save_weights, checkpoint_path=self.checkpoint_path(config),
                                    **train_kwargs))

    def verify(self, run: StoredRun) -> list[str]:
        """What is wrong with a stored run: its code fingerprint against the current code, and its headline
        metrics against those re-derived from its stored predictions and the true labels."""
        from .evaluate import summary_metrics

        problems = check_fingerprint(run.result.get("fingerprint"), fingerprint(run.config))
        derived = summary_metrics(run.targets, run.predictions)
        for name, value in derived.items():
            stored = run.metrics.get(name)
            if stored is None or not np.isclose(stored, value, rtol=0, atol=1e-9):
                problems.append(f"metric {name} is {stored} in the store but {value:.6f} from its predictions "
                                f"(fmnist_utils/evaluate.py summary_metrics)")
        losses = run.image_losses
        if losses is not None and not np.isclose(losses.mean(), run.metrics.get("loss", np.nan), rtol=1e-5, atol=0):
            problems.append(f"metric loss is {run.metrics.get('loss')} in the store but {losses.mean():.6f} from its "
                            "per-image losses (fmnist_utils/evaluate.py evaluate_model)")
        return problems

    def record_fingerprint(self, run: StoredRun) -> bool:
        """Re-record the current code's fingerprint in a run's ``result.json`` (atomically) where its code
        hashes changed while its model still computes the same on the probe (a refactor). A run whose
        outputs changed, or that has no fingerprint to compare, is never recorded. Returns whether the entry
        was written."""
        current, stored = fingerprint(run.config), run.result.get("fingerprint")
        if stored == current or not stored or not probe_agrees(stored, current):
            return False
        result = {**run.result, "fingerprint": current}
        tmp = run.path / f".result.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, run.path / "result.json")
        run.result = result
        return True

    def entries(self) -> list[StoredRun]:
        """Every stored run (for the scorecard and compute totals)."""
        runs = []
        for path in sorted(self.runs_dir.glob("*")):
            if path.is_dir() and not path.name.startswith("."):
                config = config_from_dict(json.loads((path / "config.json").read_text()))
                runs.append(StoredRun(key=path.name, path=path, config=config,
                                      result=json.loads((path / "result.json").read_text())))
        return runs


@dataclass
class FinishedRun:
    """A trained run as plain, picklable data: what ``ResultStore.write`` stores.

    Built where the run trained (a local process or a Dask worker) by ``from_result``; a Dask worker
    returns it to the client, which writes it into its own store.
    """

    config: dict  # ``config.to_dict()``
    record: dict  # result.json: key, parameters, metrics, history, staged, timing, provenance
    predictions: dict[str, np.ndarray]  # "pred", "confidence" and (networks) "loss" per evaluated image
    weights: bytes | None = None  # the selected model as safetensors, only where asked

    @classmethod
    def from_result(cls, result, key: str, save_weights: bool = False) -> FinishedRun:
        """From a ``train.TrainResult`` or a ``classical.ClassicalResult`` stored under ``key``."""
        weights = None
        if save_weights:
            from safetensors.torch import save

            weights = save({k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()})
        return cls(config=result.config.to_dict(), record=run_record(result, key), predictions=result.predictions,
                   weights=weights)


def train_run(config: RunConfig | ClassicalConfig, *, save_weights: bool = False, checkpoint_path=None,
              **train_kwargs) -> FinishedRun:
    """Train a ``RunConfig`` (``train.train``, resuming from ``checkpoint_path``) or fit a
    ``ClassicalConfig`` (``classical.fit_classical``; only ``threads`` applies) and return the run.
    Needs no store: a Dask worker calls it with a checkpoint folder of its own."""
    key = config_key(config)
    if isinstance(config, ClassicalConfig):
        if save_weights:
            raise StoreError(f"run {key} is a classical baseline; it has no weights to store")
        from .classical import fit_classical

        return FinishedRun.from_result(fit_classical(config, threads=train_kwargs.get("threads")), key)
    from .train import train

    return FinishedRun.from_result(train(config, checkpoint_path=checkpoint_path, **train_kwargs), key, save_weights)


def run_record(result, key: str) -> dict:
    """``result.json`` of a ``TrainResult``, or of a ``ClassicalResult`` (the same layout: no history,
    fit and predict times); the provenance is that of the machine it runs on."""
    if isinstance(result.config, ClassicalConfig):
        return {
            "key": key,
            "kind": "classical",
            "parameters": None,
            "metrics": result.metrics,
            "history": [],
            "staged": [],
            "details": result.details,
            "timing": {"train_seconds": result.fit_seconds, "eval_seconds": result.predict_seconds,
                       "fit_seconds": result.fit_seconds, "predict_seconds": result.predict_seconds},
            "provenance": provenance("cpu", result.threads),
            "fingerprint": fingerprint(result.config),
        }
    return {
        "key": key,
        "parameters": count_parameters(result.model),
        "metrics": result.metrics,
        "history": result.history,
        "staged": result.staged,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "timing": {"train_seconds": result.train_seconds, "eval_seconds": result.eval_seconds,
                   "resumed_from_epoch": result.resumed_from_epoch},
        "provenance": provenance(result.device, result.threads)
        | ({"trained_on": result.trained_on} if result.trained_on else {})
        | ({"layout": result.layout_note} if result.layout_note else {}),
        "fingerprint": fingerprint(result.config),  # of the code that trained it (a Dask worker's own)
    }
