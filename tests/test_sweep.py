import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmnist_utils.config import RunConfig
from fmnist_utils.store import ResultStore
from fmnist_utils.sweep import run_sweep


def configs():
    base = RunConfig(model="mlp", epochs=1, train_subset=256, eval_subset=200, batch_size=64)
    good = [base.replace(seed=s) for s in (1, 2)]
    bad = [base.replace(model_args={"hidden_layers": 99}),  # the model builder rejects it
           base.replace(model_args={"batch_norm": True}, train_subset=1)]  # fails in the worker: BN on one image
    return good, bad


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_sweep_stores_good_runs_and_reports_the_failed_one(executor, tmp_path):
    good, bad = configs()
    store = ResultStore(tmp_path)
    if executor == "dask":
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            outcomes = run_sweep(good + bad, store, executor="dask", address=client, progress=False)
    else:
        outcomes = run_sweep(good + bad, store, executor="local", workers=2, progress=False)
    assert [o.ok for o in outcomes] == [True, True, False, False]
    assert "hidden_layers" in outcomes[2].error
    assert "Expected more than 1 value per channel" in outcomes[3].error
    assert all(store.get(c) is not None for c in good)
    # a second sweep finds everything stored and trains nothing
    again = run_sweep(good, store, executor="local", workers=2, progress=False)
    assert all(o.ok for o in again)


def test_sweep_results_equal_sequential_training(tmp_path):
    good, _ = configs()
    swept = ResultStore(tmp_path / "a")
    run_sweep(good, swept, workers=2, progress=False)
    sequential = ResultStore(tmp_path / "b")
    for config in good:
        assert sequential.get_or_train(config, progress=False, threads=1).metrics == swept.get(config).metrics


def test_workers_report_every_epoch_of_every_run(tmp_path, capsys):
    """Hours-long runs in worker processes print a line per finished epoch, not only when they end."""
    good, _ = configs()
    good = [c.replace(epochs=2) for c in good]
    store = ResultStore(tmp_path)
    run_sweep(good, store, workers=2, progress=True)
    out = capsys.readouterr().out
    for config in good:
        key = store.key(config)
        stored = store.get(config)
        for row in stored.history:
            assert f"[{key}] epoch {row['epoch']}/2: train loss {row['train_loss']:.4f}" in out
        assert f"val acc {stored.history[-1]['val_acc']:.2%}" in out
    run_sweep(good, store, workers=2, progress=True)  # nothing to train: nothing printed
    assert capsys.readouterr().out == ""


def test_unknown_executor():
    with pytest.raises(ValueError, match="executor='ray'"):
        run_sweep([], ResultStore("/nonexistent"), executor="ray")


@pytest.mark.parametrize("chapter", ["baseline_vs_deeper", "lightweight_benchmark"])  # generic sweep, fill_store
def test_train_command_trains_only_the_runs_named_by_only(chapter, tmp_path):
    from fmnist_utils import cli
    from fmnist_utils.experiments import CHAPTERS

    module = CHAPTERS[chapter]
    settings = module.settings_from({"profile": "smoke", "store_dir": str(tmp_path)})
    store = ResultStore(tmp_path)
    wanted, other = [config for config, _ in module.plan(settings)][:2]
    status = cli.main(["train", chapter, "--profile", "smoke", "-p", "store_dir", str(tmp_path), "--workers", "1",
                       "--only", store.key(wanted)])
    assert status == 0
    assert store.get(wanted) is not None and store.get(other) is None


def test_train_command_names_an_unknown_run_and_trains_nothing(tmp_path, capsys):
    from fmnist_utils import cli

    status = cli.main(["train", "baseline_vs_deeper", "--profile", "smoke", "-p", "store_dir", str(tmp_path),
                       "--only", "model1-000000000000"])
    assert status == 2
    error = capsys.readouterr().err
    assert "model1-000000000000" in error and "fmnist-book status baseline_vs_deeper" in error
    assert not list(tmp_path.rglob("result.json"))


def test_train_command_counts_the_store_not_the_reports(tmp_path, monkeypatch, capsys):
    """A run reported finished that is not in the store is counted as failed and named."""
    from fmnist_utils import cli, sweep
    from fmnist_utils.experiments import CHAPTERS

    settings = CHAPTERS["baseline_vs_deeper"].settings_from({"profile": "smoke", "store_dir": str(tmp_path)})
    config = [c for c, _ in CHAPTERS["baseline_vs_deeper"].plan(settings)][0]
    key = ResultStore(tmp_path).key(config)
    monkeypatch.setattr(sweep, "run_sweep", lambda configs, store, **kwargs: [sweep.SweepOutcome(key, config, ok=True)])
    status = cli.main(["train", "baseline_vs_deeper", "--profile", "smoke", "-p", "store_dir", str(tmp_path),
                       "--executor", "dask", "--only", key])
    out = capsys.readouterr().out
    assert status == 1
    assert f"reported finished but not in {tmp_path}: {key}" in out and "0 runs in the store, 1 failed" in out


ORPHAN = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; from fmnist_utils.sweep import _stop_when_orphaned; "
                          "_stop_when_orphaned(0.1); print('watching', flush=True); time.sleep(60)"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
assert child.stdout.readline().strip() == "watching"
print(child.pid, flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_a_worker_whose_parent_was_killed_stops_instead_of_training_on_unseen():
    """`kill` of `fmnist-book train` (not Ctrl-C, which reaches the workers too) leaves its workers orphaned."""
    # started as a background job of a non-interactive shell is: with SIGINT ignored, which its children inherit
    parent = subprocess.run([sys.executable, "-c", ORPHAN], capture_output=True, text=True, timeout=60, check=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    worker = int(parent.stdout.split()[-1])
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), "the orphaned worker still runs"


POOL_ORPHAN = """
import functools, multiprocessing, os, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.managers import SyncManager
from fmnist_utils.sweep import _stop_when_orphaned
watch = functools.partial(_stop_when_orphaned, 0.1, 1.0)
spawn = multiprocessing.get_context("spawn")
pool = ProcessPoolExecutor(1, mp_context=spawn, initializer=watch)
worker = pool.submit(os.getpid).result()
pool.submit(time.sleep, 60)  # a run in progress: the worker catches its interruption and waits for more work
manager = SyncManager(ctx=spawn)
manager.start(initializer=watch)
print(worker, manager._process.pid, flush=True)
os._exit(0)  # killed: no pool shutdown, no manager shutdown
"""


@pytest.mark.slow
def test_an_orphaned_pool_worker_and_report_manager_end_after_the_interrupted_task():
    """A pool worker catches what its task raises and goes back to wait for work: interrupted alone, it would wait
    forever (seen: two orphaned training workers and their managers idle for minutes after `kill`); the watch
    ends it after its grace, and the epoch-report manager with it."""
    parent = subprocess.run([sys.executable, "-c", POOL_ORPHAN], capture_output=True, text=True, timeout=120,
                            check=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    pids = [int(pid) for pid in parent.stdout.split()[-2:]]
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _alive(pid)], "an orphaned pool worker or manager still runs"


class _Started(Exception):
    pass


def test_both_pools_start_their_workers_with_the_orphan_watch_and_never_this_process(monkeypatch, tiny_config, tmp_path):
    """The watcher belongs in the workers: in the process that starts them (a notebook, `fmnist-book train`, a
    single-worker sweep that trains in-process) it would watch the wrong parent."""
    from fmnist_utils import batched, sweep

    started = []

    def pool(*args, **kwargs):
        started.append(kwargs.get("initializer"))
        raise _Started

    monkeypatch.setattr(sweep, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(batched, "ProcessPoolExecutor", pool)
    configs = [tiny_config, tiny_config.replace(seed=4)]
    with pytest.raises(_Started):
        run_sweep(configs, ResultStore(tmp_path), workers=2, progress=False)
    with pytest.raises(_Started):
        batched.run_grouped(configs, ResultStore(tmp_path), workers=2, progress=False, max_members=1)
    assert started == [sweep._stop_when_orphaned] * 2
    assert signal.getsignal(signal.SIGUSR1) is not sweep._orphaned  # nothing installed here
