"""Stored runs are tied to the code that made them, and their metrics to their predictions.

The end-to-end tests edit a copy of the package (never this checkout) and read the committed store
through it, as a developer's change would.
"""
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fmnist_utils import fingerprint as fp
from fmnist_utils.config import RunConfig
from fmnist_utils.store import REPO_ROOT, ResultStore, StaleRunError

MODEL_SOURCE = '''
"""A tiny model family for the fingerprint tests."""
import torch.nn.functional as F
from torch import nn

WIDTH = 8


def activation(x):
    return F.relu(x)


class Tiny(nn.Module):
    """Docstring."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, WIDTH)  # a comment
        self.out = nn.Linear(WIDTH, 10)

    def forward(self, x):
        return self.out(activation(self.fc(x.flatten(1))))


class Other(nn.Module):
    def forward(self, x):
        return x
'''


def hashes_of(tmp_path, source: str, name: str) -> dict:
    """Code hashes of ``Tiny`` from a fresh package ``name`` (made unique per test) holding ``source``."""
    name = f"{name}_{tmp_path.name.replace('-', '_').replace('[', '_').replace(']', '_')}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "family.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(f"{name}.family")
        return {k.split(".", 1)[1]: v for k, v in fp.code_hashes([module.Tiny], within=name).items()}
    finally:
        sys.path.remove(str(tmp_path))


def test_code_hash_ignores_comments_docstrings_and_formatting(tmp_path):
    base = hashes_of(tmp_path, MODEL_SOURCE, "fp_base")
    edited = (MODEL_SOURCE.replace('"""Docstring."""', '"""Another docstring, longer."""')
              .replace("# a comment", "# another comment").replace("self.out(activation(self.fc(x.flatten(1))))",
                                                                     "self.out(\n            activation(self.fc(x.flatten(1)))\n        )"))
    assert edited != MODEL_SOURCE
    assert hashes_of(tmp_path, edited, "fp_cosmetic") == base
    assert set(base) == {"family.Tiny", "family.activation"}  # the helper forward calls; not the unused class


@pytest.mark.parametrize("old, new, changed", [
    ("F.relu(x)", "F.gelu(x)", "family.activation"),  # a helper that forward calls
    ("x.flatten(1))))", "x.flatten(1) * 2)))", "family.Tiny"),  # forward itself
    ("WIDTH = 8", "WIDTH = 9", "family.Tiny"),  # a package constant the code reads
])
def test_code_hash_names_what_changed(tmp_path, old, new, changed):
    base = hashes_of(tmp_path, MODEL_SOURCE, "fp_before")
    after = hashes_of(tmp_path, MODEL_SOURCE.replace(old, new), "fp_after")
    assert {name for name in base if base[name] != after[name]} == {changed}


def test_probe_sees_a_changed_activation(monkeypatch):
    import torch.nn.functional as F
    from fmnist_utils.models import baseline

    config = RunConfig(model="model1")
    recorded = {"code": {}, "probe": fp.probe(config.model, config.model_args)}
    assert fp.probe(config.model, config.model_args) == recorded["probe"]  # deterministic
    monkeypatch.setattr(baseline.F, "relu", F.gelu)  # what BaselineCNN.forward calls
    problems = fp.check(recorded, {"code": {}, "probe": fp.probe(config.model, config.model_args)})
    assert len(problems) == 1 and "outputs on the probe input changed" in problems[0]


def test_fingerprint_is_recorded_and_checked_on_read(tmp_path, monkeypatch):
    from fmnist_utils.train import train

    store = ResultStore(tmp_path)
    config = RunConfig(model="mlp", model_args={"width": 16}, train_subset=64, eval_subset=64, epochs=1,
                       batch_size=32)
    run = store.put(train(config, device="cpu", threads=1, progress=False))
    assert run.result["fingerprint"] == fp.fingerprint(config)
    assert store.verify(run) == []
    # the same entry, as if recorded by code whose MLP computed something else
    stale = dict(run.result["fingerprint"], probe=[v + 1.0 for v in run.result["fingerprint"]["probe"]])
    assert not store.record_fingerprint(run)  # nothing to do: it matches
    (run.path / "result.json").write_text(__import__("json").dumps({**run.result, "fingerprint": stale}))
    with pytest.raises(StaleRunError, match=rf"{run.key}.*outputs on the probe input changed"):
        store.get(config)
    # --update refuses where the outputs changed
    assert not store.record_fingerprint(store.entries()[0])
    unrecorded = {k: v for k, v in run.result.items() if k != "fingerprint"}
    (run.path / "result.json").write_text(__import__("json").dumps(unrecorded))
    assert not store.record_fingerprint(store.entries()[0])  # no fingerprint: never vouched for afterwards
    with pytest.raises(StaleRunError, match="no fingerprint recorded: nothing ties it"):
        store.get(config)


def test_verify_rederives_metrics_from_predictions(tmp_path):
    import json

    from fmnist_utils.train import train

    store = ResultStore(tmp_path)
    config = RunConfig(model="mlp", model_args={"width": 16}, train_subset=64, eval_subset=64, epochs=1,
                       batch_size=32)
    run = store.put(train(config, device="cpu", threads=1, progress=False))
    result = json.loads((run.path / "result.json").read_text())
    result["metrics"]["macro_f1"] += 0.01
    (run.path / "result.json").write_text(json.dumps(result))
    (problem,) = store.verify(store.entries()[0])
    assert problem.startswith("metric macro_f1 is") and "from its predictions" in problem


def test_a_network_run_stores_each_test_images_loss_and_verify_rederives_the_test_loss_from_them(tmp_path):
    import json

    from fmnist_utils.train import train

    store = ResultStore(tmp_path)
    for loss in ("ce", "mse"):
        config = RunConfig(model="mlp", model_args={"width": 16}, train_subset=64, eval_subset=64, epochs=1,
                           batch_size=32, loss=loss)
        run = store.put(train(config, device="cpu", threads=1, progress=False))
        losses = ResultStore(tmp_path).get(config).image_losses
        assert losses.shape == (64,) and losses.mean() == pytest.approx(run.metrics["loss"], rel=1e-6)
        assert store.verify(run) == []
        result = json.loads((run.path / "result.json").read_text())
        result["metrics"]["loss"] *= 1.01
        (run.path / "result.json").write_text(json.dumps(result))
        (problem,) = store.verify(ResultStore(tmp_path).get(config))
        assert problem.startswith("metric loss is") and "from its per-image losses" in problem
    # a run stored before the store kept them has none, and nothing to check
    with np.load(run.path / "predictions.npz") as archive:
        np.savez_compressed(run.path / "predictions.npz", pred=archive["pred"], confidence=archive["confidence"])
    assert ResultStore(tmp_path).get(config).image_losses is None
    assert store.verify(ResultStore(tmp_path).get(config)) == []  # the test loss has nothing to be checked against


# ----- end to end, on a copy of the package against the committed store ------------------------------------


def package_copy(tmp_path, path: str, old: str, new: str) -> Path:
    """A copy of the package with one edit in ``path`` (the edit must apply)."""
    root = tmp_path / "copy"
    shutil.copytree(REPO_ROOT / "fmnist_utils", root / "fmnist_utils",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = root / "fmnist_utils" / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new))
    return root


def verify_with(root: Path, *keys: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "FMNIST_STORE": str(REPO_ROOT / "book" / "results")}
    return subprocess.run([sys.executable, "-m", "fmnist_utils.cli", "verify", *keys], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300)


def chapter1_keys() -> list[str]:
    return [run.key for run in ResultStore().entries() if run.config.model == "model1"][:2]


@pytest.mark.slow
def test_changed_forward_fails_naming_runs_and_file(tmp_path):
    root = package_copy(tmp_path, "models/baseline.py", "x = F.relu(self.conv1(x))", "x = F.gelu(self.conv1(x))")
    keys = chapter1_keys()
    done = verify_with(root, *keys)
    assert done.returncode == 1, done.stdout + done.stderr
    for key in keys:
        assert key in done.stderr
    assert "fmnist_utils.models.baseline.BaselineCNN (fmnist_utils/models/baseline.py) changed" in done.stderr
    assert "outputs on the probe input changed" in done.stderr


@pytest.mark.slow
def test_cosmetic_edit_keeps_every_run(tmp_path):
    root = package_copy(tmp_path, "models/baseline.py", "x = F.relu(self.conv1(x))",
                        "x = F.relu(  self.conv1(x) )  # reformatted, with a comment")
    done = verify_with(root, *chapter1_keys())
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_changed_metric_definition_fails(tmp_path):
    root = package_copy(tmp_path, "evaluate.py", '"macro_f1": float(f1_score(y_true, y_pred, average="macro"))',
                        '"macro_f1": float(f1_score(y_true, y_pred, average="micro"))')
    done = verify_with(root, *chapter1_keys())
    assert done.returncode == 1 and "metric macro_f1 is" in done.stderr, done.stderr


# ----- the committed store ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_stored_run_matches_the_code_and_its_predictions():
    store = ResultStore()
    problems = {run.key: found for run in store.entries() if (found := store.verify(run))}
    assert not problems, "\n".join(f"{k}: {'; '.join(v)}" for k, v in problems.items())


@pytest.mark.slow
def test_stored_weights_reproduce_stored_predictions():
    """Runs stored with weights: the current code, loading them, predicts what the run stored."""
    import torch

    from fmnist_utils.train import make_loss, prepare_splits
    from fmnist_utils.evaluate import evaluate_model

    runs = [run for run in ResultStore().entries() if run.has_weights]
    assert runs
    for run in runs:
        splits = prepare_splits(run.config, torch.device("cpu"), channels_last=False)
        result = evaluate_model(run.load_model(), splits.eval_x, splits.eval_y, make_loss(run.config.loss))
        assert np.array_equal(result.predictions, run.predictions), run.key
        assert result.accuracy == pytest.approx(run.metrics["accuracy"], abs=0)


def test_update_never_vouches_for_a_classical_run_whose_code_changed():
    """A classical baseline has no probe, so a changed code hash cannot be told from a changed result."""
    stored = {"code": {"fmnist_utils.classical.fit_classical": "0" * 16}}
    current = {"code": {"fmnist_utils.classical.fit_classical": "1" * 16}}
    assert fp.check(stored, current) == [
        f"code of fmnist_utils.classical.fit_classical ({fp.source_file('fmnist_utils.classical.fit_classical')}) "
        "changed"]
    assert not fp.probe_agrees(stored, current)


def test_probe_agreement_reads_the_probe_not_the_messages():
    """A changed function whose name contains 'probe' is still a refactor when the outputs agree."""
    probe = [0.5, -1.25]
    stored = {"code": {"fmnist_utils.models.x.probe_head": "0" * 16}, "probe": probe}
    current = {"code": {"fmnist_utils.models.x.probe_head": "1" * 16}, "probe": list(probe)}
    assert fp.check(stored, current) and fp.probe_agrees(stored, current)
    assert not fp.probe_agrees(stored, {**current, "probe": [0.5, -1.0]})
