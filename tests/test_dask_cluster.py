"""The Dask executor on a real cluster: ``dask scheduler`` and ``dask worker`` processes whose working
directories hold nothing of the client's store.

The client's store is a relative path resolved in the client's own folder, so a worker that wrote
"the store" itself would write into its own folder and the client's store would stay empty.
"""
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fmnist_utils.config import ClassicalConfig, RunConfig
from fmnist_utils.store import REPO_ROOT, ResultStore
from fmnist_utils.sweep import run_sweep
from fmnist_utils.train import train

pytestmark = pytest.mark.slow

DASK = Path(sys.executable).parent / "dask"


class Cluster:
    """A scheduler and workers as separate process groups, each worker in its own empty folder."""

    def __init__(self, root: Path):
        self.root = root
        self.processes: list[subprocess.Popen] = []
        self.workers: list[tuple[subprocess.Popen, Path]] = []
        self.address = None
        self.client = None

    def _start(self, args: list[str], cwd: Path, env: dict) -> subprocess.Popen:
        cwd.mkdir(parents=True, exist_ok=True)
        log = open(cwd / "process.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen([str(DASK), *args], cwd=cwd, env={**os.environ, **env}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        process.log = log
        self.processes.append(process)
        return process

    def start_scheduler(self) -> None:
        folder = self.root / "scheduler"
        scheduler_file = folder / "scheduler.json"
        self._start(["scheduler", "--scheduler-file", str(scheduler_file), "--port", "0", "--no-dashboard"],
                    folder, {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})  # one death fails a task
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), (folder / "process.log").read_text()
        time.sleep(0.2)  # the file is written in one go, but give it a moment
        self.address = json.loads(scheduler_file.read_text())["address"]
        from dask.distributed import Client

        self.client = Client(self.address, timeout=60)

    def add_worker(self) -> Path:
        """Start a worker (its own folder as working directory and temporary folder); wait until it joins."""
        folder = self.root / f"worker{len(self.workers)}"
        (folder / "tmp").mkdir(parents=True)
        path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        process = self._start(["worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                              folder, {"PYTHONPATH": path, "TMPDIR": str(folder / "tmp")})
        self.workers.append((process, folder))
        self.client.wait_for_workers(len([p for p, _ in self.workers if p.poll() is None]), timeout=60)
        return folder

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the nanny and the worker process it started
            process.wait(timeout=30)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        for process in reversed(self.processes):
            self.kill(process)
            process.log.close()


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.start_scheduler()
        cluster.add_worker()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def client_store(tmp_path, monkeypatch) -> ResultStore:
    """The client's store as a relative path, resolved in the client's own folder."""
    (tmp_path / "client").mkdir()
    monkeypatch.chdir(tmp_path / "client")
    return ResultStore("store")


def tiny(**changes) -> RunConfig:
    return RunConfig(model="mlp", epochs=1, train_subset=256, eval_subset=256, batch_size=64).replace(**changes)


def files_under(folder: Path, pattern: str) -> list[Path]:
    return [p for p in folder.rglob(pattern) if p.is_file()]


def test_runs_trained_on_workers_end_in_the_clients_store(cluster, client_store):
    store = client_store
    with_weights, plain = tiny(seed=1), tiny(seed=2)
    classical = ClassicalConfig("GaussianNB", train_subset=300, eval_subset=200)
    broken = tiny(model_args={"batch_norm": True}, train_subset=1)  # fails in the worker: BN on one image
    configs = [with_weights, plain, classical, broken]
    outcomes = run_sweep(configs, store, executor="dask", address=cluster.address,
                         save_weights={store.key(with_weights)}, progress=False)
    assert [o.ok for o in outcomes] == [True, True, True, False]
    assert "Expected more than 1 value per channel" in outcomes[3].error
    for config in configs[:3]:
        assert store.get(config) is not None, f"{store.key(config)} was reported trained but is not in the store"
    assert store.get(broken) is None
    assert store.get(with_weights).has_weights and not store.get(plain).has_weights
    assert store.get(with_weights).load_model() is not None
    # the numbers are those of training here
    assert store.get(plain).metrics == train(plain, progress=False, threads=1).metrics
    worker = cluster.workers[0][1]
    assert not files_under(worker, "result.json") and not (worker / "store").exists()
    assert not files_under(worker, "*.pt"), "a finished run's checkpoint was left on the worker"
    assert {o.key for o in run_sweep(configs[:3], store, executor="dask", address=cluster.address,
                                     progress=False) if o.ok} == {store.key(c) for c in configs[:3]}


def test_train_command_counts_what_the_clients_store_holds(cluster, client_store, capsys):
    from fmnist_utils import cli
    from fmnist_utils.experiments import CHAPTERS

    module = CHAPTERS["baseline_vs_deeper"]
    settings = module.settings_from({"profile": "smoke", "store_dir": "store"})
    wanted = [config for config, _ in module.plan(settings)][0]
    status = cli.main(["train", "baseline_vs_deeper", "--profile", "smoke", "-p", "store_dir", "store",
                       "--executor", "dask", "--address", cluster.address, "--only", client_store.key(wanted)])
    assert "1 runs in the store, 0 failed" in capsys.readouterr().out
    assert status == 0 and client_store.get(wanted) is not None


def test_data_missing_on_a_worker_is_that_runs_failure(cluster, client_store, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "t10k-labels-idx1-ubyte").write_bytes(b"")

    def hide_the_data():  # runs on the worker: only an incomplete folder is findable there
        from fmnist_utils import data

        os.environ["FMNIST_DATA_DIR"] = str(partial)
        data.REPO_DIR = data.SYSTEM_DIR = data.DOWNLOAD_DIR = Path("/nonexistent")

    cluster.client.run(hide_the_data)
    outcomes = run_sweep([tiny(seed=1)], client_store, executor="dask", address=cluster.address, progress=False)
    assert not outcomes[0].ok
    assert "DataError" in outcomes[0].error and f"FMNIST_DATA_DIR points to {partial}" in outcomes[0].error
    assert "FMNIST_DATA_DIR" in outcomes[0].error  # the advice on how to provide the data
    assert client_store.get(tiny(seed=1)) is None


def test_a_run_whose_worker_dies_is_reported_failed(cluster, client_store):
    store = client_store
    doomed = tiny(seed=5, epochs=50, train_subset=5000)
    quick = tiny(seed=6)
    cluster.add_worker()  # the scheduler gives the two runs one worker each
    checkpoint = f"{store.key(doomed)}.pt"
    with ThreadPoolExecutor(1) as background:
        sweep = background.submit(run_sweep, [doomed, quick], store, executor="dask", address=cluster.address,
                                  progress=False)
        deadline = time.time() + 60
        while not any(files_under(folder, checkpoint) for _, folder in cluster.workers) and time.time() < deadline:
            assert not sweep.done(), sweep.result()
            time.sleep(0.05)
        training = [process for process, folder in cluster.workers if files_under(folder, checkpoint)]
        assert training, "the long run never checkpointed an epoch"
        cluster.kill(training[0])  # mid-run: after its first epoch
        outcomes = sweep.result(timeout=120)
    assert [o.ok for o in outcomes] == [False, True], [o.error for o in outcomes]
    assert "KilledWorker" in outcomes[0].error and "died" in outcomes[0].error
    for outcome, config in zip(outcomes, [doomed, quick]):  # reported stored exactly when it is
        assert outcome.ok == (store.get(config) is not None)
    assert [p for p, f in cluster.workers if files_under(f, checkpoint)] == training  # kept there, for a retry
