"""The end-of-epoch rules of one run, shared by ``train.train`` and ``batched.BatchedTrainer``.

``RunProgress`` owns what a run accumulates between its epochs and how it is judged: the history rows
(their fields and order), the staged evaluations, the monitored value (best value and epoch, the best
state for ``select_best``, epochs without improvement), the scheduler step on the monitored value,
early stopping, the per-epoch checkpoint (its keys and format, which ``ResultStore.status`` reads and
older checkpoints already have), resuming from it, and the end: restoring the selected state, the final
evaluation and the ``TrainResult``. The training loops only compute each epoch's numbers.
"""
from __future__ import annotations

import fcntl
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .config import RunConfig
from .evaluate import evaluate_model, summary_metrics

# A checkpoint larger than this cannot be committed (GitHub refuses files over 100 MB), so a run whose checkpoint
# is larger cannot carry its progress from one session to the next: it must be trained in one sitting.
COMMITTABLE_CHECKPOINT_BYTES = 100 * 10**6
# float32 tensors per parameter that the optimiser keeps beside the weights (Adam's and AdamW's two moments,
# SGD's momentum buffer)
_OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "sgd": 1}


def checkpoint_bytes(config: RunConfig, parameters: int) -> int:
    """About how large ``RunProgress.save_checkpoint`` writes a run's checkpoint: its float32 weights, the
    optimiser's state per parameter and, for a run that restores its best epoch, a copy of the best weights
    (histories, RNG states and buffers such as batch-norm statistics are small beside them)."""
    tensors = 1 + _OPTIMIZER_STATES[config.optimizer] + (1 if config.select_best else 0)
    return 4 * parameters * tensors


# lock file -> its open handle, for every run this process is training (or was, until interrupted)
_held_locks: dict[Path, object] = {}


def lock_path(checkpoint_path: Path) -> Path:
    """The file a process locks while it trains the run of ``checkpoint_path`` (``RunProgress._claim``)."""
    return checkpoint_path.with_name(f".{checkpoint_path.stem}.lock")


def trained_by(checkpoint_path: Path) -> str | None:
    """Who is training the run of ``checkpoint_path`` now ("process 123 since ..."), or None."""
    path = lock_path(Path(checkpoint_path))
    if path in _held_locks:
        return f"this process ({os.getpid()})"
    try:
        with open(path) as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return lock.read().strip() or "another process"
    except FileNotFoundError:
        pass
    return None


class Stopwatch:
    """Seconds since the last ``lap`` (or since it was made): wall-clock and, for a run on the CPU, the CPU time
    of this process (all its threads). Wall time is what a reader waits; CPU time is what the work costs,
    and neither a paused process nor other work on the same cores inflates it."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.cpu = torch.device(device).type == "cpu"  # off the CPU, process time does not measure the work
        self.wall, self.process = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float | None]:
        """(wall seconds, CPU seconds or None off the CPU) since the last lap; starts the next one."""
        wall, process = time.perf_counter(), time.process_time()
        lap = (wall - self.wall, process - self.process if self.cpu else None)
        self.wall, self.process = wall, process
        return lap


@dataclass
class TrainResult:
    config: RunConfig
    model: nn.Module  # the selected (best or last) model, in eval mode
    history: list[dict]  # one row per epoch
    metrics: dict  # final evaluation of the selected model
    predictions: dict[str, np.ndarray]  # "pred" (uint8), "confidence" (float16), "loss" (float32) per eval image
    staged: list[dict] = field(default_factory=list)  # evaluations after `eval_at_epochs`
    best_epoch: int | None = None
    stopped_early: bool = False
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    device: str = "cpu"
    threads: int = 1
    resumed_from_epoch: int = 0
    # where its epochs ran, when a checkpoint carried it from one CPU to another: [{"from_epoch", "processor"}, ...]
    trained_on: list[dict] | None = None
    layout_note: str | None = None  # why it did not train in channels_last where its model prefers it


def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class RunProgress:
    """One run's history, staged evaluations, monitor bookkeeping and checkpoint, epoch by epoch.

    ``generator`` is the run's shuffling (and augmentation) generator: its state goes into the checkpoint.
    """

    config: RunConfig
    generator: torch.Generator
    checkpoint_path: str | Path | None = None  # kept as a Path
    history: list[dict] = field(default_factory=list)
    staged: list[dict] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    best_state: dict | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    resumed_from: int = 0  # epochs done when the run was resumed from its checkpoint
    # the CPU of each stretch of epochs (a new entry where a resumed checkpoint was written on another CPU)
    segments: list[dict] = field(default_factory=list)
    _lock: Path | None = field(default=None, repr=False)  # the run's lock file while this process trains it

    def __post_init__(self):
        if self.checkpoint_path is not None:
            self.checkpoint_path = Path(self.checkpoint_path)
        if not self.segments:
            self.segments = [{"from_epoch": 1, "processor": _processor()}]

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def over(self) -> bool:
        """Stopped early or through its epochs."""
        return self.stopped_early or self.epochs_done >= self.config.epochs

    @property
    def wants_checkpoint(self) -> bool:
        """A checkpoint path is set and the run goes on (a finished run leaves no checkpoint)."""
        return self.checkpoint_path is not None and not self.over

    def trained_seconds(self, this_epoch: float = 0.0) -> float:
        """Training time of the recorded epochs, plus ``this_epoch`` (one not recorded yet)."""
        return sum(r["train_seconds"] for r in self.history) + this_epoch

    def improved(self, value: float) -> bool:
        """Strictly better than the best so far (higher for accuracies, lower for losses)."""
        if self.best_value is None:
            return True
        return value > self.best_value if self.config.monitor.endswith("acc") else value < self.best_value

    def add_stage(self, epoch: int, loss: float, accuracy: float, train_seconds: float) -> None:
        """An evaluation after ``epoch`` (one of ``eval_at_epochs``), before that epoch's row is recorded;
        ``train_seconds`` is that epoch's training time, the entry keeps the run's total."""
        self.staged.append({"epoch": epoch, "loss": loss, "accuracy": accuracy,
                            "train_seconds": self.trained_seconds(train_seconds)})

    def record(self, epoch: int, *, train_loss: float, train_acc: float, train_images: int, lr: float,
               step_losses: list[float] | None = None, val: tuple[float, float] | None = None,
               test: tuple[float, float] | None = None, train_seconds: float, eval_seconds: float,
               train_cpu_seconds: float | None = None, eval_cpu_seconds: float | None = None) -> dict:
        """Append the epoch's history row and return it. ``val`` and ``test`` are (loss, accuracy);
        ``step_losses`` goes in only when the configuration logs them; the CPU seconds (``Stopwatch``) only when
        measured."""
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "train_images": train_images,
               "lr": lr}
        if self.config.log_every_steps:  # losses of steps 1, 1 + n, 1 + 2n, ... of this epoch
            row["step_losses"] = step_losses
        if val is not None:
            row.update(val_loss=val[0], val_acc=val[1])
        if test is not None:
            row.update(test_loss=test[0], test_acc=test[1])
        row.update(train_seconds=train_seconds, eval_seconds=eval_seconds)
        if train_cpu_seconds is not None:
            row.update(train_cpu_seconds=train_cpu_seconds, eval_cpu_seconds=eval_cpu_seconds)
        self.history.append(row)
        return row

    def judge(self, model_state: Callable[[], dict], scheduler=None) -> None:
        """Apply the monitor to the last row: the scheduler steps on the monitored value, an improvement
        becomes the best (with ``model_state()``, a copy of the model's state, when ``select_best``), and
        ``patience`` epochs without one stop the run."""
        config = self.config
        if config.monitor != "last":
            value = self.history[-1][config.monitor]
            if scheduler is not None:
                scheduler.step(value)
            if self.improved(value):
                self.best_value, self.best_epoch, self.bad_epochs = value, self.epochs_done, 0
                if config.select_best:
                    self.best_state = model_state()
            else:
                self.bad_epochs += 1
        self.stopped_early = config.patience is not None and self.bad_epochs >= config.patience

    def save_checkpoint(self, model_state: dict, optimizer_state: dict, scheduler_state: dict | None) -> None:
        """Write the checkpoint ``resume`` reads (``ResultStore.status`` reads its history, staged, threads)."""
        save_atomic({
            "model": model_state, "optimizer": optimizer_state, "scheduler": scheduler_state,
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "history": self.history, "staged": self.staged, "best_value": self.best_value,
            "best_epoch": self.best_epoch, "best_state": self.best_state, "bad_epochs": self.bad_epochs,
            "threads": torch.get_num_threads(),  # for the cost estimates of book/compute.md
            "segments": self.segments,
        }, self.checkpoint_path)

    def resume(self) -> dict | None:
        """Take over the checkpoint's history, staged evaluations, monitor and generator state, if there
        is a checkpoint; returns it (the caller restores model, optimiser, scheduler), else None."""
        if self.checkpoint_path is None:
            return None
        self._claim()
        if not self.checkpoint_path.exists():
            return None
        # RNG and generator states must stay CPU tensors; model, optimiser and best states are copied onto the
        # training device when loaded into the model and optimiser
        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        self.generator.set_state(state["generator"])
        self.history, self.staged = state["history"], state["staged"]
        self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
        self.best_state, self.bad_epochs = state["best_state"], state["bad_epochs"]
        self.resumed_from = self.epochs_done
        self._continue_segments(state.get("segments"))
        return state

    def _claim(self) -> None:
        """Hold an exclusive lock beside the checkpoint while this process trains the run (the system drops it
        when the process ends, however it ends). A second process on the same run stops at once instead of
        training it again and overwriting the first one's checkpoint every epoch."""
        path = lock_path(self.checkpoint_path)
        if path in _held_locks:  # this process's own, left by an interrupted run (a notebook cell run again)
            self._lock = path
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise RuntimeError(
                f"{self.checkpoint_path.stem} is being trained by {holder}: two processes on one run would overwrite "
                "each other's checkpoint. Wait for it to finish, or stop it (its checkpoint keeps its last epoch) "
                "and start again.") from None
        lock.truncate(0)
        lock.write(f"process {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        lock.flush()
        _held_locks[path] = lock
        self._lock = path

    def _continue_segments(self, earlier: list[dict] | None) -> None:
        """Take over the checkpoint's CPUs; where this CPU is another (or the checkpoint, written before
        checkpoints kept it, does not say), the run goes on as a new stretch, says so, and its result
        records both: float results differ between CPUs, so such a run is not the copy of an uninterrupted
        one that the same seed gives on one machine."""
        here = self.segments[-1]["processor"]
        self.segments = list(earlier or [{"from_epoch": 1, "processor": None}])
        before = self.segments[-1]["processor"]
        if before != here:
            self.segments.append({"from_epoch": self.epochs_done + 1, "processor": here})
            warnings.warn(
                f"resuming {self.checkpoint_path.name} at epoch {self.epochs_done + 1} on {here or 'an unnamed CPU'}; "
                f"its first {self.epochs_done} epochs ran on {before or 'a CPU the checkpoint does not name'}. "
                "The run records both CPUs (provenance 'trained_on'); like a run trained on another machine, it "
                "is not a bit-for-bit copy of one trained here from the start. To train it here from the start, "
                "delete the checkpoint first.", stacklevel=3)

    def finish(self, model: nn.Module, eval_x: torch.Tensor, eval_y: torch.Tensor, loss_fn,
               device: torch.device) -> TrainResult:
        """Restore the best state into ``model`` (with ``select_best``), evaluate it on the eval set (in the
        run's precision), delete the checkpoint and return the run's result."""
        config = self.config
        if config.select_best and self.best_state is not None:
            model.load_state_dict(self.best_state)
        started = time.perf_counter()
        final = evaluate_model(model, eval_x, eval_y, loss_fn, config.eval_batch_size, config.precision)
        metrics = summary_metrics(eval_y.cpu().numpy(), final.predictions)
        metrics.update(loss=final.loss, epochs_run=self.epochs_done,
                       best_epoch=self.best_epoch if config.select_best else self.epochs_done)
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.checkpoint_path.unlink()
        if self._lock is not None:
            _held_locks.pop(self._lock).close()  # releases the run's lock (the file stays, meaning nothing)
            self._lock = None
        return TrainResult(
            config=config, model=model.eval(), history=self.history, metrics=metrics,
            predictions={"pred": final.predictions.astype(np.uint8), "confidence": final.confidence.astype(np.float16),
                         "loss": final.losses},
            staged=self.staged, best_epoch=self.best_epoch, stopped_early=self.stopped_early,
            train_seconds=self.trained_seconds(),
            eval_seconds=sum(r["eval_seconds"] for r in self.history) + time.perf_counter() - started,
            device=str(device), threads=torch.get_num_threads(), resumed_from_epoch=self.resumed_from,
            trained_on=self.segments if len(self.segments) > 1 else None,
        )


def _processor() -> str | None:
    from .train import cpu_model  # the reading provenance records (train imports this module)

    return cpu_model()
