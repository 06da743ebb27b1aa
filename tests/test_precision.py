"""RunConfig.precision: bfloat16 autocast in training and evaluation, refused where the device has no fast bfloat16."""
import contextlib
import warnings

import numpy as np
import pytest
import torch

from fmnist_utils import evaluate as evaluate_module
from fmnist_utils import train as train_module
from fmnist_utils.batched import batchable, group_configs
from fmnist_utils.config import RunConfig
from fmnist_utils.evaluate import autocast, evaluate_model
from fmnist_utils.experiments import CHAPTERS
from fmnist_utils.store import ResultStore
from fmnist_utils.train import Engine, choose_device, fast_bfloat16, make_loss, precision_problem, train

NO_BFLOAT16_CPU = "processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n\n"


@pytest.fixture
def cpuinfo(monkeypatch, tmp_path):
    """Describe the CPU by a /proc/cpuinfo the test writes (None: the file cannot be read)."""

    def describe(text: str | None):
        path = tmp_path / "cpuinfo"
        if text is not None:
            path.write_text(text)
        monkeypatch.setattr(train_module, "CPUINFO", path)

    return describe


@pytest.fixture
def bfloat16_allowed(monkeypatch):
    """bfloat16 runs allowed on this CPU whatever its flags: the numbers the tests compare are deterministic and
    differ from float32 whether the instructions are there or emulated (the refusal has its own tests)."""
    monkeypatch.setattr(train_module, "fast_bfloat16", lambda device="auto": None)


def test_precision_is_validated():
    with pytest.raises(ValueError, match=r"precision='float16' \(allowed: float32, bfloat16\)"):
        RunConfig(model="model1", precision="float16")
    assert RunConfig(model="model1", precision="bfloat16").precision == "bfloat16"
    assert "precision='fp16' is unknown; use one of float32, bfloat16" in precision_problem("fp16", "cpu")


def test_float32_runs_keep_their_keys_and_bfloat16_runs_get_their_own():
    store = ResultStore("/nonexistent")
    default = RunConfig(model="model1")
    assert "precision" not in default.identity()
    assert store.key(default.replace(precision="float32")) == store.key(default)
    bfloat16 = default.replace(precision="bfloat16")
    assert bfloat16.identity()["precision"] == "bfloat16"
    assert store.key(bfloat16) != store.key(default)
    assert RunConfig.from_dict(bfloat16.to_dict()) == bfloat16


def test_every_stored_run_keeps_its_key():
    """The committed store's entries were keyed before precision existed: each key must come out the same."""
    store = ResultStore()
    entries = store.entries()
    assert len(entries) > 100
    changed = [run.key for run in entries if store.key(run.config) != run.key]
    assert changed == []


# How many runs of each chapter's paper plan the committed store held when chapters got their precision parameter
# (a run stored under a stopped twin's entry counts). Training more of the missing paper runs only raises these.
STORED_PAPER_RUNS = {"baseline_vs_deeper": 14, "cnn3_128_extension": 25, "lightweight_benchmark": 25,
                     "mlp_analysis": 20, "regularization_synergy": 115, "common_protocol": 0}


# chapters whose plans take seconds to key (their many runs' models are built to hash their structure)
SLOW_TO_KEY = {"mlp_analysis", "regularization_synergy"}


def paper_plan(module, **given) -> list:
    return [config for config, _ in module.plan(module.settings_from({"profile": "paper", **given}))]


# the bfloat16 appendix trains both precisions itself; tests/test_bfloat16_cost.py checks its plan and parameter
@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW_TO_KEY else [])
                                  for name in sorted(set(CHAPTERS) - {"bfloat16_cost"})])
def test_every_chapter_keeps_its_stored_float32_keys_and_gives_bfloat16_runs_their_own(name, bfloat16_allowed):
    """The parameter reaches every trained run of the chapter: left at its default (or given as float32) no key
    changes, so the chapter still finds its committed runs; bfloat16 moves every torch run to a key of its own and
    changes nothing else, and leaves the classical scikit-learn / LightGBM runs (chapter 2) as they are."""
    module, store = CHAPTERS[name], ResultStore()
    default, float32, bfloat16 = (paper_plan(module, **given) for given in
                                  ({}, {"precision": "float32"}, {"precision": "bfloat16"}))
    keys = [store.key(config) for config in default]
    assert [store.key(config) for config in float32] == keys
    stored = [config for config in default if store.get(config) is not None]
    assert len(stored) >= STORED_PAPER_RUNS[name], (
        f"{name}: {len(stored)} of its paper runs found in {store.runs_dir}, {STORED_PAPER_RUNS[name]} before: "
        "a float32 run's key changed")
    assert len(bfloat16) == len(default)
    for plain, low in zip(default, bfloat16):
        if isinstance(plain, RunConfig):
            assert low == plain.replace(precision="bfloat16")
            assert store.key(low) != store.key(plain)
        else:  # a classical baseline has no precision
            assert low == plain and store.key(low) == store.key(plain)
    classical = [config for config in default if not isinstance(config, RunConfig)]
    assert bool(classical) == (name == "cnn3_128_extension")


@pytest.mark.slow
def test_a_chapters_bfloat16_run_is_deterministic_and_differs_from_its_float32_run(bfloat16_allowed):
    """Chapter 1's first smoke run as the chapter plans it with precision="bfloat16", trained twice, and the same
    run as the chapter plans it in float32."""
    module = CHAPTERS["baseline_vs_deeper"]

    def first_run(**given):
        return module.plan(module.settings_from({"profile": "smoke", **given}))[0][0]

    low = first_run(precision="bfloat16")
    first, second = (train(low, device="cpu", progress=False) for _ in range(2))
    plain = train(first_run(), device="cpu", progress=False)
    assert first.metrics == second.metrics
    untimed = [[{k: v for k, v in row.items() if not k.endswith("_seconds")} for row in run.history]
               for run in (first, second)]
    assert untimed[0] == untimed[1] and untimed[0]
    assert np.array_equal(first.predictions["pred"], second.predictions["pred"])
    assert [row["train_loss"] for row in first.history] != [row["train_loss"] for row in plain.history]
    assert first.metrics["loss"] != plain.metrics["loss"]


def test_bfloat16_autocasts_on_the_runs_device_type_cuda_included(tiny_config, bfloat16_allowed, monkeypatch):
    """On a GPU the forward passes autocast for "cuda": the training step asks for its engine's device type and the
    evaluation for the device its images are on, never a fixed "cpu" (checked here without a GPU)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # without a GPU torch warns that it disables the context; it is not entered
        context = autocast("bfloat16", "cuda")
    assert (context.device, context.fast_dtype) == ("cuda", torch.bfloat16)
    asked = []

    def recording(precision, device_type):
        asked.append((precision, device_type))
        return contextlib.nullcontext()

    monkeypatch.setattr(train_module, "autocast", recording)
    monkeypatch.setattr(evaluate_module, "autocast", recording)
    engine = Engine.build(tiny_config.replace(precision="bfloat16"), device="cpu")
    order = engine.epoch_order(steps=1)
    engine.device = torch.device("cuda")  # as an engine built on a GPU has it
    engine.step(order[:16])
    assert asked == [("bfloat16", "cuda")]

    class ImagesOnGpu:
        """Images that say they live on the GPU; their slices are the CPU tensors the model here can run."""
        device = torch.device("cuda")

        def __getitem__(self, index):
            return engine.splits.eval_x[index]

    evaluate_model(engine.model, ImagesOnGpu(), engine.splits.eval_y[:100], engine.loss_fn, 50, "bfloat16")
    assert asked == [("bfloat16", "cuda")] * 3  # two batches of 50


def test_train_command_refuses_bfloat16_on_a_cpu_without_it_though_the_gpu_has_it(monkeypatch, tmp_path, capsys):
    """`fmnist-book train` trains device "auto" on the CPU: the chapter's settings accept bfloat16 for the GPU that
    "auto" names, so the sweep checks the CPU it starts its workers on, and stops before anything trains."""
    from fmnist_utils import cli, sweep

    reason = "the CPU (Test CPU) lists neither avx512_bf16 nor amx_bf16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # "auto" is a GPU...
    monkeypatch.setattr(train_module, "fast_bfloat16",  # ...with fast bfloat16, on a CPU without it
                        lambda device="auto": None if torch.device(device).type == "cuda" else reason)
    monkeypatch.setattr(sweep, "ProcessPoolExecutor", lambda *args, **kwargs: pytest.fail("training workers started"))
    store = tmp_path / "store"
    code = cli.main(["train", "baseline_vs_deeper", "--profile", "smoke", "--workers", "1",
                     "-p", "precision", "bfloat16", "-p", "store_dir", str(store), "-p", "progress", "False"])
    assert code == 2
    assert capsys.readouterr().err == (f"error: precision='bfloat16' is refused on cpu, which has no fast bfloat16: "
                                       f"{reason}. Use precision='float32' (the default) on this device\n")
    assert not list(store.glob("runs/*"))


@pytest.mark.slow
def test_bfloat16_run_is_deterministic_and_gives_other_numbers_than_float32(tiny_config, bfloat16_allowed):
    config = tiny_config.replace(precision="bfloat16")
    first, second = train(config, progress=False), train(config, progress=False)
    assert first.metrics == second.metrics
    assert [r["train_loss"] for r in first.history] == [r["train_loss"] for r in second.history]
    assert [r["val_loss"] for r in first.history] == [r["val_loss"] for r in second.history]
    assert np.array_equal(first.predictions["pred"], second.predictions["pred"])
    plain = train(tiny_config, progress=False)
    bfloat16_losses, float32_losses = ([r["train_loss"] for r in run.history] for run in (first, plain))
    assert bfloat16_losses != float32_losses  # the setting is applied...
    assert bfloat16_losses == pytest.approx(float32_losses, rel=0.05)  # ...and trains the same network
    # the final evaluation ran in bfloat16 too
    splits = train_module.prepare_splits(config, torch.device("cpu"), channels_last=True)
    loss_fn = make_loss(config.loss)
    again = {precision: evaluate_model(first.model, splits.eval_x, splits.eval_y, loss_fn, config.eval_batch_size,
                                       precision).loss for precision in ("float32", "bfloat16")}
    assert first.metrics["loss"] == again["bfloat16"] != again["float32"]
    # and so did the epochs' validation: the last epoch's, of the last model (no best-checkpoint selection)
    last = train(config.replace(epochs=1, select_best=False), progress=False)
    val = {precision: evaluate_model(last.model, splits.val_x, splits.val_y, loss_fn, config.eval_batch_size,
                                     precision).loss for precision in ("float32", "bfloat16")}
    assert last.history[-1]["val_loss"] == val["bfloat16"] != val["float32"]


@pytest.mark.slow
def test_bfloat16_keeps_float32_weights_gradients_and_optimiser_state(bfloat16_allowed):
    config = RunConfig(model="model2", model_args={"widths": [8, 8, 16]}, train_subset=64, eval_subset=64,
                       batch_size=32, precision="bfloat16")
    engine = Engine.build(config, device="cpu")
    order = engine.epoch_order(steps=2)
    for step in range(2):
        loss, logits, _ = engine.step(order[step * 32: (step + 1) * 32])
    assert loss.dtype == logits.dtype == torch.float32
    parameters = list(engine.model.parameters())
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in parameters)
    moments = [t for state in engine.optimizer.state.values() for t in (state["exp_avg"], state["exp_avg_sq"])]
    assert len(moments) == 2 * len(parameters) and all(t.dtype == torch.float32 for t in moments)


def test_evaluation_runs_the_forward_pass_in_the_runs_precision():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    x, y = torch.randn(300, 1, 28, 28), torch.randint(0, 10, (300,))
    loss_fn = make_loss("ce")
    float32 = evaluate_model(model, x, y, loss_fn, batch_size=128)
    bfloat16 = evaluate_model(model, x, y, loss_fn, batch_size=128, precision="bfloat16")
    assert bfloat16.loss != float32.loss and bfloat16.loss == pytest.approx(float32.loss, rel=0.02)
    assert bfloat16.confidence.dtype == np.float32  # softmax of float32 logits
    assert not np.array_equal(bfloat16.confidence, float32.confidence)
    assert float32.loss == evaluate_model(model, x, y, loss_fn, batch_size=128, precision="float32").loss


def test_cpu_without_bfloat16_instructions_refuses_with_the_reason_and_the_fix(cpuinfo, tiny_config, monkeypatch):
    cpuinfo(NO_BFLOAT16_CPU)
    reason = fast_bfloat16("cpu")
    assert "the CPU (Old CPU) lists neither avx512_bf16 nor amx_bf16 among its flags in" in reason
    with pytest.raises(ValueError) as error:
        Engine.build(tiny_config.replace(precision="bfloat16"), device="cpu")
    message = str(error.value)
    assert message.startswith("precision='bfloat16' is refused on cpu, which has no fast bfloat16: the CPU (Old CPU)")
    assert "Use precision='float32' (the default) on this device" in message
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # "auto" then chooses the CPU
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device() == torch.device("cpu")
    assert precision_problem("bfloat16", "auto").startswith("precision='bfloat16' is refused on cpu,")
    assert Engine.build(tiny_config, device="cpu").config.precision == "float32"  # float32 needs no check


def test_cpu_with_bfloat16_instructions_is_fast(cpuinfo):
    for flags in ("avx512f avx512_bf16", "avx512f amx_bf16 amx_tile"):
        cpuinfo(f"processor\t: 0\nflags\t\t: fpu {flags}\n\n")
        assert fast_bfloat16("cpu") is None and precision_problem("bfloat16", "cpu") is None


def test_unreadable_cpu_flags_are_said_not_guessed(cpuinfo):
    cpuinfo(None)
    assert "the CPU's instruction flags could not be read from" in fast_bfloat16("cpu")


def test_gpu_before_compute_capability_8_is_refused(monkeypatch):
    """The CUDA checks, on any machine: the device's answers replaced by an older GPU's and a newer one's."""
    from contextlib import nullcontext

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", lambda index: nullcontext())
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: (7, 5))
    reason = fast_bfloat16(torch.device("cuda"))
    assert "the GPU Tesla T4 has compute capability 7.5 (torch.cuda.get_device_capability)" in reason
    assert "Use precision='float32'" in precision_problem("bfloat16", torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: (9, 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: not including_emulation)
    assert fast_bfloat16(torch.device("cuda:0")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert "torch.cuda.is_bf16_supported(including_emulation=False) is False" in fast_bfloat16(torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "CUDA is not available" in fast_bfloat16(torch.device("cuda"))


def test_bfloat16_runs_train_one_by_one_not_batched():
    mlp = RunConfig(model="mlp", model_args={"hidden_layers": 1, "width": 8}, normalize=None)
    assert batchable(mlp) is None
    low = [mlp.replace(precision="bfloat16", seed=seed) for seed in (1, 2)]
    assert batchable(low[0]) == "precision is set and the batched loop does not implement it"
    groups, alone = group_configs(low + [mlp.replace(seed=3), mlp.replace(seed=4)])
    assert [[c.seed for c in g] for g in groups] == [[3, 4]] and alone == low


def test_mps_check_asks_whether_autocast_computes_in_bfloat16(monkeypatch):
    """The MPS check's logic, run on the CPU (where bfloat16 autocast works): fine while a matrix multiply under
    autocast comes out bfloat16, refused with the dtype it came out in when autocast does nothing."""
    from contextlib import nullcontext

    assert train_module._mps_bfloat16_problem(torch.device("cpu")) is None
    monkeypatch.setattr(torch, "autocast", lambda device_type, dtype: nullcontext())
    assert "does not autocast to bfloat16 on MPS (a matrix multiply came out torch.float32)" in \
        train_module._mps_bfloat16_problem(torch.device("cpu"))
