import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from fmnist_utils.store import MissingRun, ResultStore, StoreError, StoredRun, describe, timed_on
from fmnist_utils.train import train


def test_get_or_train_stores_then_reuses(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    assert isinstance(store.get_or_train(tiny_config, train_missing=False), MissingRun)
    run = store.get_or_train(tiny_config, progress=False)
    assert isinstance(run, StoredRun) and run.parameters == 1_199_882
    assert sorted(p.name for p in run.path.iterdir()) == ["config.json", "predictions.npz", "result.json"]
    again = store.get_or_train(tiny_config, train_missing=False)
    assert again.key == run.key and again.metrics == run.metrics
    assert len(run.predictions) == len(run.targets) == 200
    assert run.metrics["accuracy"] == pytest.approx(float(np.mean(run.predictions == run.targets)))
    provenance = run.result["provenance"]
    assert provenance["torch"] == torch.__version__ and provenance["threads"] >= 1


def test_weights_round_trip_with_safetensors(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    run = store.get_or_train(tiny_config, progress=False, save_weights=True)
    model = run.load_model()
    from fmnist_utils.data import load_fashion_mnist, to_float

    x = to_float(load_fashion_mnist().test_images[:200], tiny_config.normalize)
    with torch.inference_mode():
        predictions = model(x).argmax(1).numpy()
    assert np.array_equal(predictions, run.predictions)


def test_interrupted_write_leaves_no_entry(tiny_config, tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    result = train(tiny_config, progress=False)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    with pytest.raises(OSError):
        store.put(result)
    assert store.get(tiny_config) is None  # only a hidden temporary directory remains
    assert [p.name.startswith(".tmp-") for p in store.runs_dir.iterdir()] == [True]
    monkeypatch.undo()
    assert store.put(result).metrics == result.metrics
    assert not any(p.name.startswith(".tmp-") for p in store.runs_dir.iterdir())


def test_damaged_entry_names_the_directory_and_the_fix(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    run = store.get_or_train(tiny_config, progress=False)
    (run.path / "result.json").write_text('{"metrics": {"accur')
    with pytest.raises(StoreError) as error:
        store.get(tiny_config)
    assert str(run.path) in str(error.value) and "Delete that directory" in str(error.value)


KILLABLE = """
import json, sys, torch
from fmnist_utils.config import RunConfig
from fmnist_utils.store import ResultStore
torch.set_num_threads(1)
config = RunConfig.from_dict(json.loads(sys.argv[2]))
ResultStore(sys.argv[1]).get_or_train(config, progress=False)
"""


def test_killed_mid_epoch_resumes_and_stores_nothing_partial(tiny_config, tmp_path):
    config = tiny_config.replace(epochs=3, train_subset=3000, eval_subset=500)
    store = ResultStore(tmp_path)
    checkpoint = store.checkpoint_path(config)
    process = subprocess.Popen([sys.executable, "-c", KILLABLE, str(tmp_path), json.dumps(config.to_dict())])
    deadline = time.time() + 240
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), "the first epoch never checkpointed"
    time.sleep(0.3)  # well inside epoch 2
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert store.get(config) is None
    assert not store.runs_dir.exists() or not any(store.runs_dir.iterdir())
    resumed = store.get_or_train(config, progress=False)
    assert resumed.result["timing"]["resumed_from_epoch"] == 1
    assert not checkpoint.exists()
    fresh = train(config, progress=False)
    assert resumed.metrics == fresh.metrics
    assert np.array_equal(resumed.predictions, fresh.predictions["pred"].astype(np.int64))


def test_status_reports_checkpointed_epochs(tiny_config, tmp_path):
    store = ResultStore(tmp_path)
    config = tiny_config.replace(epochs=3)

    def stop(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, progress=False, checkpoint_path=store.checkpoint_path(config), on_epoch_end=stop)
    state = store.status(config)
    assert isinstance(state, MissingRun) and state.checkpoint_epochs == 1


def test_an_empty_table_becomes_a_note_naming_what_is_pending():
    import pandas as pd

    from fmnist_utils.store import table_or_pending

    frame = pd.DataFrame({"accuracy": [0.9]})
    assert table_or_pending(frame, "Timings") is frame
    note = table_or_pending(pd.DataFrame(), "Timings")
    assert "Timings: none of its runs is in the store yet" in note.data


def test_a_run_that_stopped_early_answers_for_a_raised_epoch_cap(tmp_path):
    """Early stopping ends a run at the same epoch whatever its cap: raising the cap retrains nothing that had
    stopped, while a run that hit its cap, or a cap below where the run stopped, is a different run."""
    from fmnist_utils.config import RunConfig

    store = ResultStore(tmp_path)
    config = RunConfig(model="mlp", model_args={"width": 16}, train_subset=256, eval_subset=256, batch_size=32,
                       lr=0.05, epochs=12, patience=1, val_fraction=0.1)
    run = store.get_or_train(config, progress=False, threads=1, device="cpu")
    assert run.result["stopped_early"] and run.metrics["epochs_run"] < 12
    raised = store.get(config.replace(epochs=40))
    assert raised.stored_as == run.key and raised.key == store.key(config.replace(epochs=40))
    assert raised.metrics == run.metrics and raised.config.epochs == 40
    assert describe(raised) == (f"stored ({run.metrics['epochs_run']} epochs) as {run.key}: the same run under an "
                                "epoch cap of 12, stopped early")
    (tmp_path / "runs" / ".tmp-half-written").mkdir()  # a write cut short is no twin and no error
    assert ResultStore(tmp_path).get(config.replace(epochs=40)).stored_as == run.key
    damaged = tmp_path / "runs" / "mlp-000000000000"
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    with pytest.raises(StoreError, match="mlp-000000000000 is damaged.*Delete that directory"):
        ResultStore(tmp_path).get(config.replace(epochs=50))
    shutil.rmtree(damaged)
    assert store.get(config.replace(epochs=run.metrics["epochs_run"] - 1)) is None  # stops before that run did
    assert store.get(config.replace(epochs=40, seed=7)) is None  # anything else differs: another run
    capped = store.get_or_train(config.replace(lr=1e-4, epochs=2), progress=False, threads=1, device="cpu")
    assert not capped.result["stopped_early"]
    assert store.get(config.replace(lr=1e-4, epochs=3)) is None  # a run that hit its cap proves nothing about more


def test_a_finished_run_is_written_like_a_put_and_a_foreign_key_is_refused(tiny_config, tmp_path):
    """What a Dask worker returns (a FinishedRun) makes the same entry as ``put``; one whose key differs
    from the client's (other library versions on the worker) is refused, naming both keys."""
    import pickle

    from fmnist_utils.store import FinishedRun

    result = train(tiny_config, progress=False)
    put = ResultStore(tmp_path / "put").put(result, save_weights=True)
    key = put.key
    finished = pickle.loads(pickle.dumps(FinishedRun.from_result(result, key, save_weights=True)))
    written = ResultStore(tmp_path / "written").write(finished)
    assert sorted(p.name for p in written.path.iterdir()) == sorted(p.name for p in put.path.iterdir())
    for name in ("config.json", "weights.safetensors"):
        assert (written.path / name).read_bytes() == (put.path / name).read_bytes()
    assert written.metrics == put.metrics and written.history == put.history
    assert np.array_equal(written.predictions, put.predictions)
    foreign = FinishedRun(finished.config, {**finished.record, "key": "model1-000000000000"}, finished.predictions)
    with pytest.raises(StoreError, match=f"model1-000000000000.*{key}.*same versions"):
        ResultStore(tmp_path / "foreign").write(foreign)
    assert ResultStore(tmp_path / "foreign").get(tiny_config) is None
    stale_record = {**finished.record, "fingerprint": {**finished.record["fingerprint"], "probe": [0.0]}}
    with pytest.raises(StoreError, match=f"run {key} came back made by other model code"):
        ResultStore(tmp_path / "stale").write(FinishedRun(finished.config, stale_record, finished.predictions))
    assert not (tmp_path / "stale" / "runs" / key).exists()  # refused before the entry exists


def test_a_stopped_run_stored_before_a_new_config_field_still_answers_for_a_raised_cap(tmp_path):
    """A field added to RunConfig later (with its default) is absent from older runs' config.json; their keys
    ignore it (the identity holds non-default fields only), and so must the stopped-twin match."""
    import json

    from fmnist_utils.config import RunConfig

    store = ResultStore(tmp_path)
    config = RunConfig(model="mlp", model_args={"width": 16}, train_subset=256, eval_subset=256, batch_size=32,
                       lr=0.05, epochs=12, patience=1, val_fraction=0.1)
    run = store.get_or_train(config, progress=False, threads=1, device="cpu")
    assert run.result["stopped_early"]
    path = run.path / "config.json"
    data = json.loads(path.read_text())
    del data["fused_optimizer"]  # as in the entries stored before fused_optimizer existed
    path.write_text(json.dumps(data))
    older = ResultStore(tmp_path)
    assert older.get(config).key == run.key
    raised = older.get(config.replace(epochs=40))
    assert raised is not None and raised.stored_as == run.key and raised.metrics == run.metrics


def test_timed_on_names_every_cpu_that_trained_the_runs(tiny_config, tmp_path):
    """Timings read from stored runs say which CPUs took them: one name, or each with its count of runs (a run
    resumed on another CPU under both), and "not recorded" for a run whose provenance kept no name."""
    def run(provenance: dict) -> StoredRun:
        return StoredRun("k", tmp_path, tiny_config, {"provenance": provenance})

    xeon, epyc = {"processor": "Intel Xeon"}, {"processor": "AMD EPYC, AVX512"}
    resumed = {"processor": "AMD EPYC, AVX512", "trained_on": [{"from_epoch": 1, "processor": "Intel Xeon"},
                                                               {"from_epoch": 5, "processor": "AMD EPYC, AVX512"}]}
    assert timed_on([run(xeon), run(xeon)]) == "one CPU (Intel Xeon)"
    assert run(resumed).processors == ("Intel Xeon", "AMD EPYC, AVX512")
    text = timed_on([run(xeon), run(resumed), run({"processor": ""})])
    assert text == ("several CPUs, so the times mix machines: Intel Xeon (2 runs); AMD EPYC, AVX512 (1 run); "
                    "not recorded (1 run)")  # the unrecorded one may be either named CPU, or a third
    assert timed_on([run(xeon), run(resumed)]).startswith("2 CPUs, so the times mix machines")
    assert timed_on([]) == "no stored run yet"
    assert timed_on([run({"processor": ""})]) == "unrecorded CPUs (one or more)"
