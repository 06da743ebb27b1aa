import fcntl
import functools
import math
import platform
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from fmnist_utils.config import RunConfig
from fmnist_utils.models import build_model
from fmnist_utils.store import run_record
from fmnist_utils.train import Engine, cpu_model, make_loss, make_optimizer, prefers_channels_last, train


def test_same_seed_same_machine_identical_results(tiny_config):
    first = train(tiny_config, progress=False)
    second = train(tiny_config, progress=False)
    assert first.metrics == second.metrics
    assert [r["train_loss"] for r in first.history] == [r["train_loss"] for r in second.history]
    assert np.array_equal(first.predictions["pred"], second.predictions["pred"])
    third = train(tiny_config.replace(seed=4), progress=False)
    assert [r["train_loss"] for r in third.history] != [r["train_loss"] for r in first.history]


def test_augmented_run_is_deterministic_too(tiny_config):
    config = tiny_config.replace(model="model2", augment={"crop_padding": 4, "hflip": 0.5}, epochs=1)
    assert train(config, progress=False).metrics == train(config, progress=False).metrics


def test_fused_optimizer_is_opt_in_deterministic_and_the_same_update_rule(tiny_config):
    assert "fused_optimizer" not in tiny_config.identity()  # stored runs keep their keys
    fused_config = tiny_config.replace(fused_optimizer=True, epochs=1)
    assert fused_config.identity()["fused_optimizer"] is True
    fused = train(fused_config, progress=False)
    assert fused.metrics == train(fused_config, progress=False).metrics
    plain = train(tiny_config.replace(epochs=1), progress=False)
    # same arithmetic in a different order: equal up to float rounding, not bit for bit
    assert fused.history[0]["train_loss"] == pytest.approx(plain.history[0]["train_loss"], rel=1e-4)
    assert fused.history[0]["val_loss"] == pytest.approx(plain.history[0]["val_loss"], rel=1e-4)
    with pytest.raises(ValueError, match="fused_optimizer='yes'"):
        tiny_config.replace(fused_optimizer="yes")


@pytest.mark.parametrize("optimizer, weight_decay", [("adam", 1e-3), ("adamw", 1e-2), ("sgd", 5e-4)])
def test_multi_tensor_optimizer_updates_are_bit_identical_to_pytorchs_default(tiny_config, optimizer, weight_decay):
    # The engine's speed-up may not change a stored run's numbers: same parameters to the bit after
    # steps through conv, batch norm (ResNet-Mini, channels_last) and the optimiser's state.
    config = tiny_config.replace(model="resnet_mini", optimizer=optimizer, weight_decay=weight_decay, batch_size=8)

    def parameters_after_steps(multi_tensor: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        engine = Engine.build(config, device="cpu")
        engine.optimizer = make_optimizer(config, engine.model, multi_tensor=multi_tensor)
        assert engine.optimizer.defaults["foreach"] is (True if multi_tensor else None)
        before = [p.detach().clone() for p in engine.model.parameters()]
        order = engine.epoch_order(steps=4)
        for step in range(4):
            engine.step(order[step * 8: (step + 1) * 8])
        return before, [p.detach().clone() for p in engine.model.parameters()]

    (before, multi), (_, default) = parameters_after_steps(True), parameters_after_steps(False)
    assert not any(torch.equal(a, b) for a, b in zip(before, multi))  # every parameter moved
    assert all(torch.equal(a, b) for a, b in zip(multi, default, strict=True))


KEEP_FREED_MEMORY_PROBE = """
import hashlib, resource, sys, torch
import fmnist_utils.train as train
from fmnist_utils.config import RunConfig
if sys.argv[1] == "default":
    train.keep_freed_memory = lambda: False  # Engine.build's call then leaves glibc's defaults
torch.set_num_threads(1)
engine = train.Engine.build(RunConfig(model="model1", train_subset=1536, batch_size=128, seed=3), device="cpu")
order = engine.epoch_order(steps=12)
for step in range(12):
    if step == 4:  # the first steps grow the heap to its working size
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    engine.step(order[step * 128: (step + 1) * 128])
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 8
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in engine.model.parameters()))
print(faults, digest.hexdigest())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc malloc setting")
def test_keeping_freed_memory_removes_page_faults_and_changes_no_number():
    def probe(mode: str) -> tuple[float, str]:
        out = subprocess.run([sys.executable, "-c", KEEP_FREED_MEMORY_PROBE, mode], capture_output=True, text=True,
                             check=True).stdout.split()
        return float(out[0]), out[1]

    (default_faults, default_digest), (kept_faults, kept_digest) = probe("default"), probe("kept")
    assert kept_digest == default_digest  # the same parameters to the bit after 12 steps
    assert default_faults > 1000  # Model-1's activations at batch 128 are mapped afresh each step...
    assert kept_faults < default_faults / 10  # ...and reused once the allocator keeps them


def test_training_learns(tiny_config):
    result = train(tiny_config.replace(train_subset=2048, epochs=3, eval_subset=1000), progress=False)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.metrics["accuracy"] > 0.6  # ten classes: chance is 0.1
    assert len(result.predictions["pred"]) == 1000


def test_best_checkpoint_is_the_one_with_minimum_validation_loss(tiny_config):
    result = train(tiny_config.replace(epochs=4, lr=3e-2), progress=False)  # a high rate makes losses wander
    losses = [row["val_loss"] for row in result.history]
    assert result.best_epoch == 1 + int(np.argmin(losses))
    assert result.metrics["best_epoch"] == result.best_epoch


def test_early_stopping_stops_after_patience_epochs_without_improvement(tiny_config):
    config = tiny_config.replace(epochs=30, patience=2, lr=0.5, optimizer="sgd")  # diverges: no improvement
    result = train(config, progress=False)
    losses = [row["val_loss"] for row in result.history]
    best = int(np.nanargmin(losses)) + 1 if not all(math.isnan(v) for v in losses) else 1
    assert result.stopped_early
    assert len(result.history) == best + 2


def test_plateau_scheduler_halves_the_learning_rate(tiny_config):
    config = tiny_config.replace(epochs=6, scheduler="plateau", scheduler_args={"factor": 0.5, "patience": 0},
                                 lr=0.5, optimizer="sgd")
    rates = [row["lr"] for row in train(config, progress=False).history]
    assert rates[0] == 0.5 and min(rates) < 0.5
    assert all(r2 in (r1, r1 / 2) for r1, r2 in zip(rates, rates[1:]))


def test_fixed_step_budget_and_validation_steps(tiny_config, monkeypatch):
    import fmnist_utils.epochs as epochs
    import fmnist_utils.train as engine

    evaluated = []
    real = engine.evaluate_model

    def spy(model, x, y, *args, **kwargs):
        evaluated.append(len(y))
        return real(model, x, y, *args, **kwargs)

    monkeypatch.setattr(engine, "evaluate_model", spy)  # the epochs' evaluations
    monkeypatch.setattr(epochs, "evaluate_model", spy)  # the final one
    # 10 steps of 64 from 256 images: the budget wraps around into a second shuffled pass
    config = tiny_config.replace(steps_per_epoch=10, batch_size=64, val_steps=2, epochs=1, eval_subset=None)
    result = engine.train(config, progress=False)
    assert result.history[0]["train_images"] == 640
    assert evaluated == [128, 10000]  # 2 validation batches of 64, then the full test set


def test_staged_evaluation_records_epochs_and_cumulative_time(tiny_config):
    result = train(tiny_config.replace(epochs=4, eval_at_epochs=(1, 3)), progress=False)
    assert [s["epoch"] for s in result.staged] == [1, 3]
    assert result.staged[1]["train_seconds"] > result.staged[0]["train_seconds"] > 0
    assert all(0 <= s["accuracy"] <= 1 for s in result.staged)


def test_monitoring_the_test_set_records_test_metrics(tiny_config):
    config = tiny_config.replace(val_fraction=0.0, track_test=True, monitor="test_loss", patience=5)
    row = train(config, progress=False).history[0]
    assert "test_loss" in row and "val_loss" not in row


@pytest.mark.parametrize("name", ["mse", "mae"])
def test_regression_losses_compare_softmax_with_one_hot(name):
    logits = torch.tensor([[10.0, -10.0], [0.0, 0.0]])
    target = torch.tensor([0, 1])
    loss = make_loss(name)(logits, target).item()
    probabilities = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    onehot = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = ((probabilities - onehot) ** 2).mean() if name == "mse" else (probabilities - onehot).abs().mean()
    assert loss == pytest.approx(expected.item(), abs=1e-4)


def interrupt_after_first_epoch(config: RunConfig, checkpoint) -> None:
    """Train ``config`` into ``checkpoint`` and interrupt it (as Ctrl-C does) once its first epoch is saved."""
    def stop(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, progress=False, checkpoint_path=checkpoint, on_epoch_end=stop)


def test_interrupted_run_resumes_to_the_same_result(tiny_config, tmp_path):
    config = tiny_config.replace(epochs=3)
    checkpoint = tmp_path / "run.pt"
    interrupt_after_first_epoch(config, checkpoint)
    # the format checkpoints in the wild have (ResultStore.status reads history, staged, threads)
    state = torch.load(checkpoint, weights_only=True)
    assert list(state) == ["model", "optimizer", "scheduler", "generator", "torch_rng", "history", "staged",
                           "best_value", "best_epoch", "best_state", "bad_epochs", "threads", "segments"]
    assert list(state["history"][0]) == ["epoch", "train_loss", "train_acc", "train_images", "lr", "val_loss",
                                         "val_acc", "train_seconds", "eval_seconds", "train_cpu_seconds",
                                         "eval_cpu_seconds"]
    resumed = train(config, progress=False, checkpoint_path=checkpoint)
    assert resumed.resumed_from_epoch == 1 and not checkpoint.exists()
    assert resumed.trained_on is None  # one CPU throughout
    uninterrupted = train(config, progress=False)
    assert resumed.metrics == uninterrupted.metrics
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in uninterrupted.history]


@pytest.mark.parametrize("earlier, named", [
    ([{"from_epoch": 1, "processor": "Some Other CPU"}], "Some Other CPU"),
    (None, "a CPU the checkpoint does not name"),  # a checkpoint written before checkpoints kept the CPU
    ("same name", "another vector instruction set"),  # one CPU name, kernels for another instruction set
])
def test_a_run_resumed_on_another_cpu_says_so_and_records_both(tiny_config, tmp_path, earlier, named):
    config = tiny_config.replace(epochs=2)
    checkpoint = tmp_path / "run.pt"
    interrupt_after_first_epoch(config, checkpoint)
    state = torch.load(checkpoint, weights_only=True)
    here = state["segments"][0]["processor"]
    if earlier is None:
        del state["segments"]
    elif earlier == "same name":  # e.g. "AMD EPYC, AVX2" where this one is "AMD EPYC, AVX512"
        earlier = [{"from_epoch": 1, "processor": here.rsplit(", ", 1)[0] + ", " + named}]
        named = earlier[0]["processor"]
        state["segments"] = earlier
    else:
        state["segments"] = earlier
    torch.save(state, checkpoint)
    with pytest.warns(UserWarning, match=f"resuming run.pt at epoch 2 on .*its first 1 epochs ran on {re.escape(named)}"):
        resumed = train(config, progress=False, checkpoint_path=checkpoint)
    expected_first = earlier[0]["processor"] if earlier else None
    assert resumed.trained_on == [{"from_epoch": 1, "processor": expected_first},
                                  {"from_epoch": 2, "processor": here}]
    record = run_record(resumed, "tiny-000000000000")
    assert record["provenance"]["trained_on"] == resumed.trained_on
    assert "trained_on" not in run_record(train(config, progress=False), "tiny-000000000000")["provenance"]


def test_the_cpu_a_run_records_names_the_instruction_set_its_kernels_use():
    """Two CPUs of one name can run different kernels (one cloud "AMD EPYC" offers AVX2, another AVX-512)."""
    name, isa = cpu_model().rsplit(", ", 1)
    assert name and isa == torch.backends.cpu.get_cpu_capability()


def test_unknown_model_is_a_clear_error(tiny_config):
    with pytest.raises(ValueError, match="unknown model 'model9'; known models: .*model1"):
        train(tiny_config.replace(model="model9"), progress=False)


def test_digits_dataset_for_the_diagnosis_chapter():
    config = RunConfig(model="mlp", dataset="digits", normalize=None, epochs=1, batch_size=32, val_fraction=0.1)
    result = train(config, progress=False)
    assert len(result.predictions["pred"]) == 359  # a fifth of scikit-learn's 1,797 digits


@pytest.mark.parametrize("name, kwargs, expected", [
    ("model1", {}, True),
    ("flexible_cnn", {"layers": 2, "filters": 8, "norm": "batch"}, True),
    ("flexible_cnn", {"layers": 2, "filters": 8, "norm": "instance"}, False),  # slower channels_last kernels
    ("mlp", {"hidden_layers": 1, "width": 32}, False),
])
def test_memory_layout_rule(name, kwargs, expected):
    assert prefers_channels_last(build_model(name, **kwargs)) is expected


def _stub_probe(monkeypatch, script: str) -> list:
    """Replace the channels_last probe's child script; returns the list of probes run."""
    import fmnist_utils.train as train_module

    calls = []
    real = subprocess.run

    def run(args, **kwargs):
        if args[1:2] != ["-c"]:  # not the probe (git, say)
            return real(args, **kwargs)
        calls.append(args)
        return real([args[0], "-c", script, *args[3:]], **kwargs)

    # a fresh cache for the test (earlier probes ran the real script), the process's own back afterwards
    monkeypatch.setattr(train_module, "_layout_probe", functools.cache(train_module._layout_probe.__wrapped__))
    monkeypatch.setattr(subprocess, "run", run)
    return calls


@pytest.mark.slow  # spawns child processes
def test_a_model_whose_channels_last_step_crashes_the_cpu_trains_contiguous_and_says_so(monkeypatch, tmp_path):
    calls = _stub_probe(monkeypatch, "import os; os.abort()")  # as the kernel's crash ends the child
    config = RunConfig(model="resnet_mini", epochs=1, train_subset=64, eval_subset=64, batch_size=32, seed=1)
    with pytest.warns(UserWarning, match="resnet_mini in channels_last crashes this CPU's kernels.*contiguous"):
        result = train(config, progress=False, device="cpu")
    assert len(calls) == 1
    assert "contiguous layout" in run_record(result, "resnet_mini-000000000000")["provenance"]["layout"]
    train(config, progress=False, device="cpu")  # one probe per process and thread count
    assert len(calls) == 1
    # a model without a strided 1x1 convolution is never probed and keeps channels_last
    assert Engine.build(RunConfig(model="lenet5", epochs=1, train_subset=64), device="cpu").channels_last
    assert len(calls) == 1


@pytest.mark.slow
def test_a_probe_that_fails_otherwise_is_an_error_not_a_layout(monkeypatch):
    _stub_probe(monkeypatch, "raise SystemExit('no such model')")
    with pytest.raises(RuntimeError, match="channels_last probe of resnet_mini failed:\n.*no such model"):
        Engine.build(RunConfig(model="resnet_mini", epochs=1, train_subset=64), device="cpu")


@pytest.mark.slow
def test_the_probe_keeps_channels_last_where_the_step_runs(monkeypatch):
    calls = _stub_probe(monkeypatch, "pass")
    engine = Engine.build(RunConfig(model="resnet_mini", epochs=1, train_subset=64), device="cpu")
    assert engine.channels_last and engine.layout_note is None and len(calls) == 1


def test_a_run_another_process_is_training_is_refused_not_trained_twice(tiny_config, tmp_path):
    checkpoint = tmp_path / "run.pt"
    with open(tmp_path / ".run.lock", "a+") as held:  # as another process's claim on the run holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("process 4242 since 2026-12-02 07:00:00\n")
        held.flush()
        with pytest.raises(RuntimeError, match="run is being trained by process 4242 since .*Wait for it to finish"):
            train(tiny_config, progress=False, checkpoint_path=checkpoint)
        assert not checkpoint.exists()
    assert train(tiny_config, progress=False, checkpoint_path=checkpoint).metrics  # free once the other ends


def test_a_run_interrupted_in_this_process_resumes_in_it(tiny_config, tmp_path):
    """As a notebook cell interrupted and run again: the run's lock is this process's own."""
    checkpoint = tmp_path / "run.pt"
    interrupt_after_first_epoch(tiny_config, checkpoint)
    assert train(tiny_config, progress=False, checkpoint_path=checkpoint).resumed_from_epoch == 1


@pytest.mark.parametrize("select_best", [True, False])
def test_the_ledgers_checkpoint_size_is_the_size_a_checkpoint_has(tiny_config, tmp_path, select_best):
    """``epochs.checkpoint_bytes`` (the compute page's "too large to commit" warning) against a real checkpoint
    of an MLP wide enough for its weights to dominate."""
    from fmnist_utils.epochs import checkpoint_bytes
    from fmnist_utils.models import build_model, count_parameters

    config = tiny_config.replace(model="mlp", model_args={"hidden_layers": 2, "width": 512}, epochs=3,
                                 select_best=select_best)
    checkpoint = tmp_path / "run.pt"
    interrupt_after_first_epoch(config, checkpoint)
    estimate = checkpoint_bytes(config, count_parameters(build_model("mlp", hidden_layers=2, width=512)))
    assert estimate == pytest.approx(checkpoint.stat().st_size, rel=0.02)
