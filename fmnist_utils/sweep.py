"""Run many configurations: side by side on this machine, or on a Dask cluster.

Either way each configuration trains through ``store.train_run`` in a worker and finished runs land
in the store as they complete, so a crash loses only the run it hit and nothing in a chapter depends
on the executor. Local worker processes write the store themselves (``ResultStore.get_or_train``).
Dask workers need not see the client's disk: each returns its finished run (a ``store.FinishedRun``)
and the client writes it; resume checkpoints stay on the worker's machine (``worker_checkpoint_dir``).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing.managers import SyncManager
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .config import RunConfig, config_from_dict
from .store import FinishedRun, ResultStore, config_key, train_run


@dataclass
class SweepOutcome:
    key: str
    config: RunConfig
    ok: bool
    error: str | None = None  # the worker's traceback when training failed


def epoch_line(key: str, epoch: int, epochs: int, row: dict) -> str:
    """What a worker reports after each epoch: the run, how far it got, its losses and the time."""
    losses = ", ".join(f"{name.replace('_', ' ')} {row[name]:.4f}" for name in ("train_loss", "val_loss", "test_loss")
                       if name in row)
    accuracy = next((f", {name.replace('_', ' ')} {row[name]:.2%}" for name in ("val_acc", "test_acc") if name in row), "")
    return f"[{key}] epoch {epoch}/{epochs}: {losses}{accuracy} ({row['train_seconds']:.0f} s)"


def _orphaned(signum, frame):
    raise KeyboardInterrupt("the process that started this worker is gone")


def _stop_when_orphaned(interval: float = 5.0, grace: float = 30.0) -> None:
    """End this worker when the process that started it is gone (killed without the chance to stop its
    pool): an orphaned worker would train on unseen, holding its run, and store it with nobody waiting.
    Interrupting it costs only the epoch in progress: the checkpoint keeps the finished ones. The pools'
    ``initializer``, so it runs once in each worker's main thread (never in the process that starts them);
    the watcher signals it with SIGUSR1, whose handler raises KeyboardInterrupt as Ctrl-C does (SIGINT itself
    is ignored in a job started in the background by a non-interactive shell). A pool worker catches what
    its task raises and goes back to wait for the next task, which never comes: ``grace`` seconds later, time
    for the interrupted run to unwind (its lock released), the watcher ends the process. Also the
    ``initializer`` of ``epoch_reports``' manager process, which would otherwise serve on with nobody left."""
    parent = os.getppid()
    signal.signal(signal.SIGUSR1, _orphaned)

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="orphan-watch").start()


def _train_one(store_root: str, config_dict: dict, threads: int, device: str,
               save_weights: bool, reports=None) -> tuple[str, str | None]:
    """Worker body: train one configuration into the store; never raises, so one failure loses nothing else.

    ``reports`` (a queue, or None) receives one ``epoch_line`` per finished epoch.
    """
    config = config_from_dict(config_dict)  # a RunConfig or a ClassicalConfig
    store = ResultStore(store_root)
    try:
        extra = {}
        if reports is not None and isinstance(config, RunConfig):
            key = store.key(config)
            extra["on_epoch_end"] = lambda epoch, row: reports.put(epoch_line(key, epoch, config.epochs, row))
        run = store.get_or_train(config, threads=threads, device=device, progress=False, save_weights=save_weights,
                                 **extra)
        return run.key, None
    except Exception:  # noqa: BLE001 - reported back with the full traceback
        return store.key(config), traceback.format_exc()


def worker_checkpoint_dir() -> Path:
    """Where a Dask worker keeps the checkpoints of the runs it trains: ``fmnist-book-checkpoints`` in
    its machine's temporary folder, shared by the workers there and kept across worker restarts, so
    a run retried on that machine resumes from its last epoch (losing the folder costs only time)."""
    return Path(tempfile.gettempdir()) / "fmnist-book-checkpoints"


def _train_remote(config_dict: dict, threads: int, device: str,
                  save_weights: bool) -> tuple[FinishedRun | None, str | None]:
    """Dask worker body: train one configuration without the client's store, checkpointing in
    ``worker_checkpoint_dir()``; return the finished run for the client to store, or the traceback.
    Never raises, so one failure loses nothing else."""
    try:
        config = config_from_dict(config_dict)  # a RunConfig or a ClassicalConfig
        checkpoint = worker_checkpoint_dir() / f"{config_key(config)}.pt"
        return train_run(config, save_weights=save_weights, checkpoint_path=checkpoint, threads=threads, device=device,
                         progress=False), None
    except Exception:  # noqa: BLE001 - reported back with the full traceback
        return None, traceback.format_exc()


def _store_remote(future, store: ResultStore) -> str | None:
    """Write the run a Dask task returned into ``store``; None once it is there, else why it is not."""
    try:
        run, error = future.result()
    except Exception as error:  # noqa: BLE001 - KilledWorker, a lost worker, a cancelled task, ...
        return (f"the Dask task ended without returning the run: {type(error).__name__}: {error}\n"
                f"(where a worker died while training it, its last epoch's checkpoint stays in "
                f"{worker_checkpoint_dir().name} in that machine's temporary folder, and a retry there resumes)\n")
    if error is not None:
        return error
    try:
        store.write(run)
    except Exception:  # noqa: BLE001 - a full disk, a key that differs on the worker, ...
        return traceback.format_exc()
    return None


@contextmanager
def epoch_reports(bar, enabled: bool = True):
    """A queue that worker processes put ``epoch_line``s into; each is printed above ``bar`` at once.

    Without it a run of hours shows nothing between its start and its end. Yields None when not
    ``enabled`` (no progress wanted, nothing to train).
    """
    if not enabled:
        yield None
        return
    manager = SyncManager(ctx=multiprocessing.get_context("spawn"))
    manager.start(initializer=_stop_when_orphaned)  # its server ends with the process that started it
    reports = manager.Queue()

    def drain():
        for line in iter(reports.get, None):
            bar.write(line)

    printer = threading.Thread(target=drain, daemon=True)
    printer.start()
    try:
        yield reports
    finally:
        reports.put(None)
        printer.join()
        manager.shutdown()


def refuse_slow_precision(configs: list, device: str) -> None:
    """Stop before any worker starts where ``device`` of this machine is slow at a run's precision
    (``train.precision_problem``), rather than have every run refuse it in its own worker. A chapter's
    settings checked the chapter's ``device``; ``fmnist-book train`` trains "auto" on the CPU."""
    from .train import precision_problem

    for precision in sorted({config.precision for config in configs if isinstance(config, RunConfig)}):
        problem = precision_problem(precision, device)
        if problem is not None:
            raise ValueError(problem)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_sweep(
    configs: list[RunConfig],
    store: ResultStore | None = None,
    *,
    executor: str = "local",
    workers: int | None = None,
    threads_per_worker: int = 1,
    address: str | None = None,
    device: str = "cpu",
    save_weights: set[str] | frozenset = frozenset(),
    progress: bool = True,
) -> list[SweepOutcome]:
    """Train every configuration the store lacks; return one outcome per configuration.

    ``executor="local"`` starts ``workers`` processes (default: one per core) with
    ``threads_per_worker`` threads each; ``executor="dask"`` submits to the ``dask.distributed``
    scheduler at ``address`` (or to a ``Client`` given as ``address``), whose workers return each
    finished run to be written here. ``save_weights`` holds the store keys whose weights a chapter
    needs. A run is reported ok only once it is in ``store``; one that failed, or whose Dask worker
    died, is reported with the reason. A precision the local ``device`` is slow at stops before any
    worker starts (``refuse_slow_precision``).
    """
    store = store or ResultStore()
    if executor not in ("local", "dask"):
        raise ValueError(f"executor={executor!r}; allowed: 'local', 'dask'")
    outcomes: dict[str, SweepOutcome] = {}
    keys: list[str] = []
    todo: dict[str, RunConfig] = {}
    for config in configs:
        try:
            key = store.key(config)  # builds the model: a bad model argument fails here
        except Exception:  # noqa: BLE001 - reported like a failed run
            key = f"{config.model}-invalid-{len(keys)}"
            outcomes[key] = SweepOutcome(key, config, ok=False, error=traceback.format_exc())
        else:
            if store.get(config) is not None:
                outcomes[key] = SweepOutcome(key, config, ok=True)
            else:
                todo[key] = config
        keys.append(key)
    todo = list(todo.values())
    if executor == "local":  # a Dask worker's device is on its own machine: its runs check it there
        refuse_slow_precision(todo, device)
    bar = tqdm(total=len(todo), desc="runs", unit="run", disable=not progress or not todo)

    def record(config: RunConfig, key: str, error: str | None):
        outcomes[key] = SweepOutcome(key, config, ok=error is None, error=error)
        bar.update(1)
        if error is not None:
            bar.write(f"run {key} failed:\n{error}")

    # a Manager queue reaches processes on this machine only: Dask workers report whole runs
    with epoch_reports(bar, enabled=progress and bool(todo) and executor == "local") as reports:
        if todo and executor == "local":
            workers = workers or default_workers()
            context = multiprocessing.get_context("spawn")  # fork after torch's thread pools start can hang
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context,
                                     initializer=_stop_when_orphaned) as pool:
                futures = {pool.submit(_train_one, str(store.root), c.to_dict(), threads_per_worker, device,
                                       store.key(c) in save_weights, reports): c for c in todo}
                for future in as_completed(futures):
                    record(futures[future], *future.result())
        elif todo:
            from dask.distributed import Client, as_completed as dask_completed

            client = address if isinstance(address, Client) else Client(address)
            try:
                futures = {client.submit(_train_remote, c.to_dict(), threads_per_worker, device,
                                         store.key(c) in save_weights, pure=False): c for c in todo}
                for future in dask_completed(list(futures)):
                    config = futures[future]
                    record(config, store.key(config), _store_remote(future, store))
                    future.release()  # dealt with: the cluster may drop its result
            finally:
                if not isinstance(address, Client):
                    client.close()
    bar.close()
    return [outcomes[key] for key in keys]


def collect_runs(plan: list[tuple[RunConfig, bool]], settings, store: ResultStore | None = None):
    """What a chapter shows: every planned run from the store, training the missing ones first when
    ``settings.train_missing``; runs still missing come back as ``MissingRun``."""
    store = store or ResultStore(settings.store_dir)
    if settings.train_missing:
        configs = [c for c, _ in plan]
        weights = {store.key(c) for c, needs in plan if needs}
        outcomes = run_sweep(configs, store, workers=settings.workers, device=settings.device,
                             save_weights=weights, progress=settings.progress)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} run(s) failed; first error:\n{failed[0].error}")
    return [store.status(c) for c, _ in plan]
