"""``fmnist-book benchmark``: our training engine against the studies' data pipeline, in one run.

For one representative model (and training recipe) of every chapter, it measures training images/s

* of a **reference** pipeline written the way the studies wrote it: a ``torchvision.datasets.
  FashionMNIST``-style ``Dataset`` that hands out one ``PIL.Image`` per index, per-image
  ``transforms.Compose([...augmentation..., ToTensor(), Normalize(...)])``, a default
  ``DataLoader(shuffle=True)`` (``num_workers=0``), an NCHW model and the study's optimiser with
  PyTorch's default kernels (on the CPU, a Python loop over the parameters), in a process of its own
  with the C library's default memory allocator; and
* of **our engine** (``fmnist_utils.train``): the split pre-converted to one float tensor by the
  engine's own ``prepare_splits``, batches as index slices of a ``torch.randperm`` order, batched
  tensor augmentation (``augment_batch``), ``channels_last`` for convolutional models, the same
  model, batch size and optimiser (``make_optimizer``: its multi-tensor kernels, the same updates to
  the bit; ``make_loss``), and freed memory kept for reuse (``keep_freed_memory``);

and reports the speed-up (engine / reference) and the page faults per step of each. It also measures

* the engine once more with ``precision="bfloat16"`` (the forward pass under ``torch.autocast``; the
  optimiser and the weights stay float32), timed alternately with the other two, and its ratio to the
  engine in float32, where the CPU has bfloat16 instructions (``train.fast_bfloat16``; elsewhere the
  benchmark stops and names ``--no-bfloat16``, which measures float32 only);

* the effective GFLOP/s of the engine per model (counted FLOPs, below, over the time) and its share
  of this CPU's theoretical float32 peak (``theoretical_peak``: cores x float32 vector lanes x 2
  FLOPs per fused multiply-add x FMA units per core x clock), beside the float32 matrix-multiply
  rate measured in the same run (``torch.mm`` on square matrices, same thread count, best of a few
  repeats before and after the models), which is not the CPU's peak;
* for chapter 4, the throughput of two independent batch-8 trainings side by side (two processes,
  one thread each) against the same two trainings one after another in one process with all
  threads;
* the time per element of dropout's random mask (``bernoulli_``) at one thread and at all.

FLOP convention: ``torch.utils.flop_counter.FlopCounterMode`` counts the matrix-multiply-like
operations (convolutions, linear layers, batched matmuls, attention) of one forward pass, at 2 FLOPs
per multiply-add; element-wise work (activations, norms, pooling, the optimiser) is not counted. A
training step is taken as 3 x the forward FLOPs (forward, gradient w.r.t. activations, gradient
w.r.t. weights). The JSON also holds the forward + backward FLOPs the counter actually sees, for
information only: it is a little lower (no input gradient for the first layer), except that PyTorch's
counter ignores ``groups`` in the backward of grouped convolutions and so counts the backward of
MobileNet-Lite's depthwise convolutions once per channel (about 2x the true total). The counts are
those of a direct computation: a library that computes a 3x3 convolution with fewer multiplications
(Winograd-style) makes the effective rate higher than the rate the arithmetic units worked at.

Everything is on the CPU, with ``--threads`` threads (default: all cores). Each timing runs
``--warmup`` untimed steps, then at least ``--steps`` timed steps and at least ``--min-time`` seconds;
with ``--repeats`` > 1 the reference and engine timings alternate and the best of each is kept.

    fmnist-book benchmark                              # every model, writes book/results/benchmark.json
    fmnist-book benchmark -- --models model1 lenet5 --steps 10   # options after "--" (see cli.py)
    fmnist-book benchmark --output mine.json           # written there; the book's pages stay as they are
    fmnist-book benchmark -- --no-bfloat16             # float32 only (a CPU without bfloat16 instructions)
    fmnist-book benchmark --render mine.json           # a saved result as the speed appendix's tables
    python -m fmnist_utils.benchmark --quick --models model1
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import queue as queue_module
import resource
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .augment import AugmentSpec
from .claims import counted
from .config import RunConfig
from .data import TRAIN_MEAN, TRAIN_STD, load_fashion_mnist, split_indices, to_float
from .models import build_model
from .store import REPO_ROOT
from .train import Engine, cpu_bfloat16_flags, cpu_model, cpuinfo_field, make_loss, make_optimizer, precision_problem

DEFAULT_OUTPUT = REPO_ROOT / "book" / "results" / "benchmark.json"

# The targets, checked on the appendix page; the peak-share target (effective GFLOP/s over the
# theoretical float32 peak) is about these cases.
TARGETS = {"geomean_speedup": 1.5, "share_of_peak": 0.45, "parallel_ratio": 1.5, "bfloat16_ratio": 1.5}
PEAK_CASES = ("model1", "cnn3_128_b128")
# The bfloat16 target is about the convolutional models at this batch size and above; smaller batches
# (chapter 4's batch 8) are reported beside it.
BFLOAT16_TARGET_MIN_BATCH = 32

# float32 lanes of the widest vector FMA instructions, by /proc/cpuinfo flag, widest first.
FLOAT32_LANES = (("avx512f", 16, "AVX-512"), ("avx2", 8, "AVX2"))
# Vector FMA units per core: an assumption, not something the CPU reports. Two on modern x86 server
# cores (Intel Xeon Gold/Platinum since Skylake-SP, AMD Zen 2 and later, Zen 5 with full 512-bit
# units); some Xeon Silver/Bronze have one 512-bit unit, and Zen 4 runs a 512-bit FMA as two 256-bit
# halves, so on those the theoretical peak computed here is twice the true one.
FMA_UNITS_PER_CORE = 2
CPU_MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")  # kHz
FLOP_CONVENTION = (
    "FlopCounterMode on one forward pass (convolutions, linear layers, matmuls, attention; "
    "2 FLOPs per multiply-add; element-wise ops not counted); one training step = 3 x forward"
)


# --------------------------------------------------------------------------- what is measured


@dataclass(frozen=True)
class Case:
    """One model with its chapter's training recipe (everything that changes the cost of a step)."""

    key: str  # unique name, selectable with --models (as is the model name)
    chapter: int
    model: str
    batch_size: int
    model_args: dict = field(default_factory=dict)
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    normalize: tuple[float, float] | None = None  # None: pixels in [0, 1] (ToTensor only)
    augment: dict = field(default_factory=dict)  # AugmentSpec fields

    def config(self, seed: int = 42, precision: str = "float32") -> RunConfig:
        # eval_subset / val_steps keep the validation and test tensors that prepare_splits also
        # builds tiny: only the training split is used here.
        return RunConfig(
            model=self.model, model_args=dict(self.model_args), normalize=self.normalize,
            augment=dict(self.augment), optimizer=self.optimizer, lr=self.lr,
            weight_decay=self.weight_decay, batch_size=self.batch_size, seed=seed,
            eval_subset=1, val_steps=1, precision=precision,
        )


LIGHTWEIGHT = ("lenet5", "resnet_mini", "densenet_tiny", "mobilenet_lite", "vit_tiny", "custom_cnn")

# Recipes from the studies (shared/studies/SPECS.md). Normalisation is the study's; where a study
# gives none (chapters 2-5) the pixels stay in [0, 1], i.e. ToTensor only.
CASES: tuple[Case, ...] = (
    Case("model1", 1, "model1", 128, normalize=(TRAIN_MEAN, TRAIN_STD)),
    Case("model2", 1, "model2", 128, optimizer="adamw", weight_decay=1e-5, normalize=(0.5, 0.5),
         augment={"crop_padding": 4, "hflip": 0.5}),
    Case("cnn3_128_b32", 2, "cnn3_128", 32),  # Keras' default batch: the study's natural reading
    Case("cnn3_128_b128", 2, "cnn3_128", 128),
    Case("mlp_2x2096", 3, "mlp", 512, model_args={"hidden_layers": 2, "width": 2096}, lr=2.05e-5),
    *(Case(name, 4, name, 8) for name in LIGHTWEIGHT),
    Case("flexible_cnn_6x64_instance", 5, "flexible_cnn", 64, weight_decay=1e-5,
         model_args={"layers": 6, "filters": 64, "norm": "instance", "dropout": 0.1}),
)


def last_result() -> dict | None:
    """The committed benchmark's JSON, or None where it has not been run."""
    return json.loads(DEFAULT_OUTPUT.read_text()) if DEFAULT_OUTPUT.exists() else None


def known_names() -> list[str]:
    names = [case.key for case in CASES]
    return names + sorted({case.model for case in CASES} - set(names))


def select_cases(names: list[str] | None) -> list[Case]:
    """Cases whose key or model name is in ``names`` (all when ``None``), in table order."""
    if not names:
        return list(CASES)
    unknown = [name for name in names if name not in known_names()]
    if unknown:
        raise ValueError(
            f"unknown benchmark model(s) {', '.join(map(repr, unknown))}; known: {', '.join(known_names())}"
        )
    return [case for case in CASES if case.key in names or case.model in names]


def case_by_key(key: str) -> Case:
    for case in CASES:
        if case.key == key:
            return case
    raise ValueError(f"unknown benchmark model {key!r}; known: {', '.join(c.key for c in CASES)}")


# --------------------------------------------------------------------------- the two pipelines


class StudyDataset(torch.utils.data.Dataset):
    """What ``torchvision.datasets.FashionMNIST`` does per item: uint8 array -> PIL image -> transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.data, self.targets, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from PIL import Image

        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy())  # uint8 (28, 28) -> mode "L", as torchvision's mode="L"
        return self.transform(img), target


def reference_transform(case: Case):
    """The study's per-image torchvision transforms for the case's augmentation and normalisation."""
    from torchvision import transforms as T

    spec = AugmentSpec.from_dict(case.augment)
    steps = []
    if spec.crop_padding:
        steps.append(T.RandomCrop(28, padding=spec.crop_padding))  # pads with black (0) before Normalize
    if spec.hflip:
        steps.append(T.RandomHorizontalFlip(spec.hflip))
    if spec._has_affine():  # as augment.benchmark_augment: isotropic zoom in torchvision
        steps.append(T.RandomAffine(degrees=spec.rotation, translate=(spec.shift, spec.shift),
                                    scale=(1 - spec.zoom, 1 + spec.zoom)))
    steps.append(T.ToTensor())
    if case.normalize is not None:
        mean, std = case.normalize
        steps.append(T.Normalize((mean,), (std,)))
    return T.Compose(steps)


class ReferenceLoop:
    """The studies' way: Dataset of PIL images, per-image transforms, DataLoader, NCHW model."""

    def __init__(self, case: Case, seed: int = 42):
        config = case.config(seed)
        data = load_fashion_mnist()
        train_idx, _ = split_indices(len(data.train_labels), config.val_fraction, config.split_seed)
        dataset = StudyDataset(data.train_images[train_idx], data.train_labels[train_idx],
                               reference_transform(case))
        torch.manual_seed(config.seed)
        self.model = build_model(config.model, **config.model_args).train()  # NCHW, as the studies ran
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=case.batch_size, shuffle=True)
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = make_optimizer(config, self.model, multi_tensor=False)  # PyTorch's default kernels
        self.batches = iter(self.loader)
        self.running_loss, self.correct = 0.0, 0
        self.loading_seconds = 0.0  # time spent waiting for the DataLoader's batches

    def step(self) -> int:
        started = time.perf_counter()
        try:
            inputs, targets = next(self.batches)
        except StopIteration:  # next epoch
            self.batches = iter(self.loader)
            inputs, targets = next(self.batches)
        self.loading_seconds += time.perf_counter() - started
        self.optimizer.zero_grad()
        outputs = self.model(inputs)
        loss = self.criterion(outputs, targets)
        loss.backward()
        self.optimizer.step()
        self.running_loss += loss.item() * inputs.size(0)
        self.correct += outputs.argmax(1).eq(targets).sum().item()
        return len(targets)


def _reference_server(case: "Case", threads: int, connection) -> None:
    """Body of a reference process: one case's ``ReferenceLoop``, timed on request. Like a study's
    script it trains one model per process and never builds an ``Engine``, so it keeps the C library's
    default allocator (the engine changes it for its whole process: ``train.keep_freed_memory``)."""
    torch.set_num_threads(threads)
    try:
        loop = ReferenceLoop(case)
        connection.send(None)
        while (request := connection.recv()) is not None:
            warmup, steps, min_time = request
            for _ in range(warmup):
                loop.step()
            loading_before = loop.loading_seconds
            timing = time_steps(loop.step, 0, steps, min_time)
            connection.send({**timing, "loading_seconds": loop.loading_seconds - loading_before})
    except Exception as error:  # reported to the parent, which raises it there
        connection.send({"error": repr(error)})


class ReferenceProcess:
    """One case's reference pipeline in a spawned process of its own, timed when the parent asks (so
    the two pipelines never run at the same time). Use as a context manager."""

    def __init__(self, case: "Case", threads: int):
        context = mp.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_reference_server, args=(case, threads, child), daemon=True)
        self.process.start()
        child.close()
        self._receive()  # built, or the error that stopped it

    def _receive(self):
        try:
            reply = self.connection.recv()
        except EOFError:
            self.process.join(timeout=5)
            raise RuntimeError(f"the reference process died (exit code {self.process.exitcode})") from None
        if reply is not None and "error" in reply:
            raise RuntimeError(f"the reference pipeline failed: {reply['error']}")
        return reply

    def time(self, warmup: int, steps: int, min_time: float) -> dict:
        """``time_steps`` of the reference loop, plus the seconds it spent waiting for batches."""
        self.connection.send((warmup, steps, min_time))
        return self._receive()

    def __enter__(self) -> "ReferenceProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.is_alive():
            try:
                self.connection.send(None)
            except OSError:
                pass
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
        self.connection.close()


class EngineLoop:
    """Our engine, timed through ``train.Engine.step``: the code the chapters train with."""

    def __init__(self, case: Case, seed: int = 42, precision: str = "float32"):
        self.engine = Engine.build(case.config(seed, precision), device="cpu")
        self.engine.model.train()
        self.channels_last = self.engine.channels_last  # Engine.build's own choice
        self.batch_size = self.engine.config.batch_size
        self.steps_per_epoch = math.ceil(len(self.engine.splits.train_y) / self.batch_size)
        self.order, self.step_in_epoch = None, self.steps_per_epoch
        self.loss_sum = torch.zeros(())
        self.correct = torch.zeros((), dtype=torch.long)

    def step(self) -> int:
        if self.step_in_epoch == self.steps_per_epoch:  # next epoch
            self.order, self.step_in_epoch = self.engine.epoch_order(self.steps_per_epoch), 0
        start = self.step_in_epoch * self.batch_size
        self.step_in_epoch += 1
        loss, logits, y = self.engine.step(self.order[start: start + self.batch_size])
        self.loss_sum += loss * len(y)  # the same on-device bookkeeping as train()
        self.correct += (logits.argmax(1) == y).sum()
        return len(y)


def _page_faults() -> int:
    """Minor page faults of this process so far: pages the kernel had to map in on first touch."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_steps(step, warmup: int, steps: int, min_time: float) -> dict:
    """``warmup`` untimed calls, then at least ``steps`` timed ones lasting at least ``min_time`` s."""
    for _ in range(warmup):
        step()
    images = done = 0
    faults = _page_faults()
    started = time.perf_counter()
    while True:
        images += step()
        done += 1
        seconds = time.perf_counter() - started
        if done >= steps and seconds >= min_time:
            break
    return {"images": images, "steps": done, "seconds": seconds, "images_per_s": images / seconds,
            "page_faults_per_step": (_page_faults() - faults) / done}


def op_profile(case: Case, warmup: int = 3, steps: int = 10, top: int = 8) -> list[dict]:
    """Where an engine training step spends its time: the ``top`` operators by self CPU time over
    ``steps`` profiled steps (``torch.profiler``), with their share of the profiled total."""
    from torch.profiler import ProfilerActivity, profile

    loop = EngineLoop(case)
    for _ in range(warmup):
        loop.step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            loop.step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{"op": e.key, "calls_per_step": e.count / steps, "ms_per_step": e.self_cpu_time_total / 1e3 / steps,
             "share": e.self_cpu_time_total / total} for e in events[:top]]


# --------------------------------------------------------------------------- FLOPs and peak


def _flop_counter():
    from torch.utils import flop_counter

    # PyTorch's counter has no formula for the CPU flash-attention kernel (ViT-Tiny's attention on
    # the CPU): count it like the CUDA kernels.
    aten = torch.ops.aten
    custom = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        custom[aten._scaled_dot_product_flash_attention_for_cpu] = flop_counter.sdpa_flop
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        custom[aten._scaled_dot_product_flash_attention_for_cpu_backward] = flop_counter.sdpa_backward_flop
    return flop_counter.FlopCounterMode(display=False, custom_mapping=custom)


def forward_flops_per_image(model: nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one forward pass per image of ``x`` (they do not depend on the pixel values)."""
    with _flop_counter() as counter:
        model(x)
    return counter.get_total_flops() / len(x)


def architecture_flops(model: str, model_args: dict | None = None) -> float:
    """Forward FLOPs per image of a registered model, freshly built (the count depends on neither its weights
    nor the pixels)."""
    return forward_flops_per_image(build_model(model, **(model_args or {})), torch.zeros(2, 1, 28, 28))


def count_flops(case: Case, n: int = 8) -> dict:
    """Forward FLOPs per image, and the forward + backward FLOPs the counter sees, on ``n`` real images."""
    config = case.config()
    torch.manual_seed(config.seed)
    model = build_model(config.model, **config.model_args).train()
    data = load_fashion_mnist()
    x, y = to_float(data.train_images[:n], config.normalize), data.train_labels[:n]
    forward = forward_flops_per_image(model, x)
    with _flop_counter() as counter:
        make_loss(config.loss)(model(x), y).backward()
    return {"forward_flops_per_image": forward, "train_flops_per_image": 3 * forward,
            "counted_forward_backward_flops_per_image": counter.get_total_flops() / n}


def best_seconds(call, repeats: int) -> float:
    """The shortest of ``repeats`` timed calls of ``call``, after one untimed warm-up call."""
    call()
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def matmul_peak(sizes: tuple[int, ...], repeats: int) -> dict:
    """float32 ``torch.mm`` GFLOP/s on square matrices (2 n^3 FLOPs), best of ``repeats`` per size."""
    per_size = {}
    for n in sizes:
        generator = torch.Generator().manual_seed(n)
        a, b = torch.randn(n, n, generator=generator), torch.randn(n, n, generator=generator)
        out = torch.empty(n, n)
        per_size[str(n)] = 2 * n**3 / best_seconds(lambda: torch.mm(a, b, out=out), repeats) / 1e9
    return {"gflops": max(per_size.values()), "gflops_per_size": per_size, "repeats": repeats,
            "threads": torch.get_num_threads()}


def best_of_peaks(*peaks: dict) -> dict:
    """Per matrix size, the best of several ``matmul_peak`` measurements (the benchmark takes one before
    and one after the models): a peak timed while the machine was briefly busy reads low and would
    inflate every share of it, up to shares above 100%."""
    sizes = peaks[0]["gflops_per_size"]
    per_size = {n: max(p["gflops_per_size"][n] for p in peaks) for n in sizes}
    return {**peaks[0], "gflops": max(per_size.values()), "gflops_per_size": per_size, "measurements": len(peaks)}


def max_clock_mhz() -> tuple[float, str] | None:
    """The CPU's clock in MHz and where it was read: the maximum (turbo) clock from cpufreq or psutil,
    else /proc/cpuinfo's "cpu MHz" (the current clock; a virtual machine reports its nominal one), else None."""
    import psutil

    try:
        return int(CPU_MAX_FREQ.read_text()) / 1000, "maximum clock, cpufreq cpuinfo_max_freq"
    except (OSError, ValueError):
        pass
    frequency = psutil.cpu_freq()
    if frequency is not None and frequency.max > 0:
        return frequency.max, "maximum clock, psutil.cpu_freq()"
    try:
        return float(cpuinfo_field("cpu MHz")), 'current clock, /proc/cpuinfo "cpu MHz"'
    except (TypeError, ValueError):
        return None


def theoretical_peak(threads: int) -> dict:
    """This CPU's float32 ceiling with ``threads`` threads: cores x float32 lanes x 2 FLOPs per fused
    multiply-add x ``FMA_UNITS_PER_CORE`` x clock, each factor recorded with where it came from. The
    cores are the threads, at most the physical cores (two threads on one core share its units).
    ``gflops`` is None, and ``missing`` says why, where the vector width or the clock cannot be read:
    no guess stands in for either."""
    import psutil

    cores = min(threads, psutil.cpu_count(logical=False) or threads)
    flags = set((cpuinfo_field("flags") or "").split())
    lanes, extension = next(((n, name) for flag, n, name in FLOAT32_LANES if flag in flags and "fma" in flags),
                            (None, None))
    clock = max_clock_mhz()
    missing = []
    if lanes is None:
        missing.append("/proc/cpuinfo lists neither avx512f nor avx2 with fma, so the vector width is unknown")
    if clock is None:
        missing.append("the clock could not be read (no cpufreq maximum, no psutil.cpu_freq(), "
                       'no "cpu MHz" in /proc/cpuinfo)')
    gflops = None if missing else cores * lanes * 2 * FMA_UNITS_PER_CORE * clock[0] / 1e3
    return {"gflops": gflops, "cores": cores, "float32_lanes": lanes, "vector_extension": extension,
            "fma_units_per_core": FMA_UNITS_PER_CORE, "clock_mhz": clock and clock[0],
            "clock_source": clock and clock[1], "missing": "; ".join(missing) or None}


def dropout_mask_speed(threads: int, elements: int = 1 << 21, repeats: int = 3) -> dict:
    """Nanoseconds per element of ``Tensor.bernoulli_`` (how ``nn.Dropout`` draws its mask), best of
    ``repeats``, with one thread and with ``threads``. The profiles show dropout as a large share of a
    step; equal times at both thread counts mean the masks are drawn on one core whatever the setting."""
    x = torch.empty(elements)
    generator = torch.Generator().manual_seed(0)  # leaves the global RNG (the models' dropout) alone
    previous = torch.get_num_threads()
    per_threads = {}
    try:
        for count in sorted({1, threads}):
            torch.set_num_threads(count)
            seconds = best_seconds(lambda: x.bernoulli_(0.5, generator=generator), repeats)
            per_threads[str(count)] = seconds / elements * 1e9
    finally:
        torch.set_num_threads(previous)
    return {"ns_per_element": per_threads, "elements": elements, "repeats": repeats}


# --------------------------------------------------------------------------- parallel configurations


def _parallel_worker(case: Case, seed: int, threads: int, warmup: int, steps: int, min_time: float,
                     barrier, results) -> None:
    """One of the side-by-side trainings (spawned process): time its steps after a common start. Warnings
    (a layout this CPU forces) go back with the result as ``notes``, not to the process's stderr."""
    torch.set_num_threads(threads)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loop = EngineLoop(case, seed=seed)
            for _ in range(warmup):
                loop.step()
        barrier.wait(timeout=600)
        started = time.monotonic()
        timing = time_steps(loop.step, 0, steps, min_time)
        results.put({"seed": seed, **timing, "start": started, "end": time.monotonic(),
                     "notes": [str(w.message) for w in caught]})
    except BaseException as error:  # report instead of leaving the parent waiting
        barrier.abort()
        results.put({"seed": seed, "error": repr(error)})


def measure_parallel(case: Case, threads: int, warmup: int, steps: int, min_time: float) -> dict:
    """Two independent trainings: side by side (2 processes x 1 thread) vs one after another (1 x ``threads``)."""
    context = mp.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_parallel_worker, daemon=True,
                               args=(case, seed, 1, warmup, steps, min_time, barrier, results))
               for seed in (42, 43)]
    for worker in workers:
        worker.start()
    side = []
    try:
        while len(side) < len(workers):
            try:
                side.append(results.get(timeout=5))
            except queue_module.Empty:
                dead = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a parallel benchmark worker died (exit code {dead[0]})") from None
        errors = [r["error"] for r in side if "error" in r]
        if errors:
            raise RuntimeError(f"a parallel benchmark worker failed: {errors[0]}")
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
    side_by_side = sum(r["images_per_s"] for r in side)

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sequential = [time_steps(EngineLoop(case, seed=seed).step, warmup, steps, min_time) for seed in (42, 43)]
    torch.set_num_threads(previous)
    one_after_another = sum(r["images"] for r in sequential) / sum(r["seconds"] for r in sequential)
    return {
        "model": case.key, "batch_size": case.batch_size,
        "side_by_side": {"processes": 2, "threads_per_process": 1, "images_per_s": side_by_side,
                         "workers": side, "overlap_seconds": min(r["end"] for r in side) - max(r["start"] for r in side)},
        "one_after_another": {"processes": 1, "threads": threads, "images_per_s": one_after_another,
                              "runs": sequential},
        "ratio": side_by_side / one_after_another,
        "notes": list(dict.fromkeys([n for r in side for n in r["notes"]] + [str(w.message) for w in caught])),
    }


# --------------------------------------------------------------------------- one run


def best_run(runs: list[dict]) -> dict:
    return max(runs, key=lambda r: r["images_per_s"])


def measure_case(case: Case, threads: int, warmup: int, steps: int, min_time: float, repeats: int,
                 bfloat16: bool = True) -> dict:
    """Both pipelines on one case, and the engine in bfloat16 too with ``bfloat16``; ``run_benchmark`` adds
    the shares of the theoretical peak and of the measured matmul rate."""
    engine = EngineLoop(case)
    low = EngineLoop(case, precision="bfloat16") if bfloat16 else None
    ref_runs, engine_runs, bfloat16_runs = [], [], []
    with ReferenceProcess(case, threads) as reference:
        for repeat in range(repeats):  # alternate, so that background load hits all alike
            first = warmup if repeat == 0 else 0
            ref_runs.append(reference.time(first, steps, min_time))
            engine_runs.append(time_steps(engine.step, first, steps, min_time))
            if low is not None:
                bfloat16_runs.append(time_steps(low.step, first, steps, min_time))
    ref_best = best_run(ref_runs)
    # Amdahl: removing the reference's data loading, and nothing else, would give at most this
    loading_share = ref_best["loading_seconds"] / ref_best["seconds"]
    engine_best = best_run(engine_runs)
    bfloat16_best = best_run(bfloat16_runs)["images_per_s"] if bfloat16_runs else None
    flops = count_flops(case)
    gflops = engine_best["images_per_s"] * flops["train_flops_per_image"] / 1e9
    return {
        "key": case.key, "chapter": case.chapter, "model": case.model, "model_args": case.model_args,
        "batch_size": case.batch_size, "optimizer": case.optimizer, "lr": case.lr,
        "weight_decay": case.weight_decay, "normalize": case.normalize, "augment": case.augment,
        "channels_last": engine.channels_last,
        "convolutional": any(isinstance(m, nn.Conv2d) for m in engine.engine.model.modules()),
        "reference_images_per_s": ref_best["images_per_s"],
        "engine_images_per_s": engine_best["images_per_s"],
        "speedup": engine_best["images_per_s"] / ref_best["images_per_s"],
        "reference_loading_share": loading_share,
        "loading_free_speedup": 1 / (1 - loading_share),
        "reference_page_faults_per_step": ref_best["page_faults_per_step"],
        "engine_page_faults_per_step": engine_best["page_faults_per_step"],
        **flops,
        "engine_gflops": gflops,
        "reference_runs": ref_runs, "engine_runs": engine_runs,
        "bfloat16_images_per_s": bfloat16_best,
        "bfloat16_ratio": bfloat16_best and bfloat16_best / engine_best["images_per_s"],
        "bfloat16_runs": bfloat16_runs,
    }


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


BUSY_SHARE = 0.2  # share of all cores used by other work above which timings read low


def other_work_share(seconds: float = 0.5) -> float:
    """Share of all cores busy over the next ``seconds`` while this process sleeps, i.e. used by other
    work. Printed beside timings measured inside a notebook, where the one-minute load average would
    count the kernel's own earlier cells and lag behind work that has just stopped."""
    import psutil

    return psutil.cpu_percent(interval=seconds) / 100


def say_how_busy() -> None:
    """Print, beside rates measured now inside a notebook, how much other work kept the cores busy just before,
    and that the rates read low when that is more than ``BUSY_SHARE``."""
    busy = other_work_share()
    print(f"other work on the machine just before measuring: {100 * busy:.0f}% of all cores"
          + (" - these rates are lower than on an idle machine" if busy > BUSY_SHARE else ""))


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _faults(row: dict) -> str:
    return f"{row['reference_page_faults_per_step']:,.0f} / {row['engine_page_faults_per_step']:,.0f}"


def peak_shares(result: dict) -> tuple[str, dict[str, float]]:
    """What each case's effective GFLOP/s is a share of, and the shares: the theoretical peak where the
    result holds one; else the measured matmul rate (a result recorded before the theoretical peak was
    computed names that share ``share_of_peak``)."""
    ceiling = result.get("theoretical_peak")
    if ceiling and ceiling["gflops"]:
        return "theoretical peak", {row["key"]: row["share_of_theoretical_peak"] for row in result["cases"]}
    return "measured matmul rate", {row["key"]: row.get("share_of_matmul", row.get("share_of_peak"))
                               for row in result["cases"]}


def peak_sentence(result: dict) -> str:
    """The theoretical float32 peak with its factors (or why there is none), and the measured matmul rate."""
    matmul = f"{result['matmul_peak']['gflops']:.1f} GFLOP/s"
    ceiling = result.get("theoretical_peak")
    if ceiling is None:
        return (f"Float32 matrix-multiply rate measured with `torch.mm`: {matmul}. The theoretical ceiling (vector "
                "width, FMA units, clock) was not recorded in this result, so the shares are of that measured "
                "rate, which is not this CPU's peak.")
    if not ceiling["gflops"]:
        return (f"No theoretical float32 peak: {ceiling['missing']}. The shares are of the float32 matrix-multiply "
                f"rate measured with `torch.mm`, {matmul}, which is not this CPU's peak.")
    return (f"Theoretical float32 peak: {ceiling['cores']} cores x {ceiling['float32_lanes']} lanes "
            f"({ceiling['vector_extension']}) x 2 FLOPs per fused multiply-add x {ceiling['fma_units_per_core']} "
            f"FMA units per core (assumed) x {ceiling['clock_mhz'] / 1e3:.2f} GHz ({ceiling['clock_source']}) = "
            f"{ceiling['gflops']:.1f} GFLOP/s; the float32 matrix-multiply rate measured with `torch.mm` is "
            f"{matmul}, {100 * result['matmul_peak']['gflops'] / ceiling['gflops']:.0f}% of it.")


def bfloat16_line(result: dict) -> str:
    """The printed table's bfloat16 summary: each case's ratio and the geometric means."""
    skipped = bfloat16_skipped(result)
    if skipped is not None:
        return f"bfloat16: not measured ({skipped})"
    ratios = ", ".join(f"{row['key']} {row['bfloat16_ratio']:.2f}x" for row in result["cases"])
    groups = bfloat16_groups(result)
    means = [f"{geometric_mean([r['bfloat16_ratio'] for r in rows]):.2f}x {what}"
             for what, rows in ((f"over the convolutional models at batch >= {BFLOAT16_TARGET_MIN_BATCH} (target "
                                 f"{TARGETS['bfloat16_ratio']}x)", groups["target"]),
                                (f"at batch < {BFLOAT16_TARGET_MIN_BATCH}", groups["small"])) if rows]
    return f"bfloat16 / float32 (engine): {ratios}" + (f"; geometric mean {', '.join(means)}" if means else "")


def format_table(result: dict) -> str:
    basis, shares = peak_shares(result)
    share_header = "% of theor." if basis == "theoretical peak" else "% of matmul"
    header = f"{'model':<28} {'batch':>5} {'reference img/s':>16} {'engine img/s':>13} {'speed-up':>9} " \
             f"{'ref. loading':>13} {'page faults/step ref./eng.':>27} {'eff. GFLOP/s':>12} {share_header:>12}"
    lines = [header, "-" * len(header)]
    for row in result["cases"]:
        lines.append(f"{row['key']:<28} {row['batch_size']:>5} {row['reference_images_per_s']:>16,.0f} "
                     f"{row['engine_images_per_s']:>13,.0f} {row['speedup']:>8.2f}x "
                     f"{100 * row['reference_loading_share']:>12.1f}% {_faults(row):>27} "
                     f"{row['engine_gflops']:>12.1f} {100 * shares[row['key']]:>11.1f}%")
    lines.append("-" * len(header))
    peak = result["matmul_peak"]
    sizes = ", ".join(f"{n}: {g:.1f}" for n, g in peak["gflops_per_size"].items())
    lines.append(f"{peak_sentence(result)} (matmul per size: {sizes}; {peak['threads']} threads)")
    lines.append("eff. GFLOP/s: counted FLOPs of a training step over its time (see FLOPs below)")
    lines.append(f"geometric-mean speed-up: {result['geomean_speedup']:.2f}x over {len(result['cases'])} models; "
                 f"if the reference's data loading (ref. loading) took no time at all: "
                 f"{result['geomean_loading_free_speedup']:.2f}x")
    parallel = result["parallel"]
    if parallel is not None:
        lines.append(
            f"chapter 4 parallel configurations ({parallel['model']}, batch {parallel['batch_size']}): "
            f"2 processes x 1 thread {parallel['side_by_side']['images_per_s']:,.0f} img/s vs one after "
            f"another with {parallel['one_after_another']['threads']} threads "
            f"{parallel['one_after_another']['images_per_s']:,.0f} img/s -> {parallel['ratio']:.2f}x")
    lines.append(bfloat16_line(result))
    lines.append(dropout_sentence(result["dropout_mask"]))
    lines.append(f"FLOPs: {FLOP_CONVENTION}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fmnist-book benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help=f"cases or model names (default: all): {', '.join(known_names())}")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default 30; --quick 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5; --quick 1)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="time at least this many seconds per measurement (default 1.0; --quick 0)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="alternating timings per pipeline, best kept (default 3; --quick 1): one timing of a "
                             "batch-8 model can read 10-20%% low")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--matmul-sizes", type=int, nargs="+", default=None,
                        help="square matmul sizes for the peak (default 2048 4096; --quick 256)")
    parser.add_argument("--parallel", action=argparse.BooleanOptionalAction, default=None,
                        help="measure the chapter-4 parallel configurations (default: on, off with --quick)")
    parser.add_argument("--parallel-model", default="resnet_mini", choices=LIGHTWEIGHT,
                        help="chapter-4 model of the parallel measurement (default resnet_mini)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT),
                        help="JSON file (default book/results/benchmark.json, the book's result: `fmnist-book "
                             "benchmark` then regenerates the pages made from it; any other file leaves them alone)")
    parser.add_argument("--render", metavar="JSON", default=None,
                        help="measure nothing: print a saved result as the speed appendix's Markdown tables")
    parser.add_argument("--bfloat16", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the engine with precision='bfloat16' (default: on; needs a CPU with "
                             "avx512_bf16 or amx_bf16; --no-bfloat16 measures float32 only)")
    parser.add_argument("--quick", action="store_true", help="a few steps and a small matmul: a smoke test")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    quick = args.quick
    args.steps = args.steps if args.steps is not None else (3 if quick else 30)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 5)
    args.min_time = args.min_time if args.min_time is not None else (0.0 if quick else 1.0)
    args.repeats = args.repeats if args.repeats is not None else (1 if quick else 3)
    args.matmul_sizes = tuple(args.matmul_sizes or ((256,) if quick else (2048, 4096)))
    args.parallel = (not quick) if args.parallel is None else args.parallel
    for name in ("steps", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0 or args.min_time < 0:
        parser.error("--warmup and --min-time must not be negative")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.render is not None and not Path(args.render).is_file():
        parser.error(f"--render: no file {args.render} (give a JSON file that `fmnist-book benchmark` wrote)")
    if args.render is None and args.bfloat16 and (problem := precision_problem("bfloat16", "cpu")) is not None:
        parser.error(f"{problem}; or pass --no-bfloat16 to measure float32 only")
    return args


def main(argv: list[str] | None = None, render_book=None) -> int:
    """Measure, write the result's JSON and print its table; ``render_book`` (``fmnist-book benchmark``
    passes the regeneration of the book's pages) is called only when the JSON is the book's own result
    file, ``DEFAULT_OUTPUT``: a measurement written elsewhere leaves the book alone."""
    if argv and argv[0] == "--":  # `fmnist-book benchmark -- --models ...` passes the separator on
        argv = argv[1:]
    args = parse_args(argv)
    if args.render is not None:
        print(speed_markdown(json.loads(Path(args.render).read_text())), end="")
        return 0
    cases = select_cases(args.models)  # fails before any work on an unknown name
    threads = args.threads or available_cores()
    load_fashion_mnist()  # fail early (DataError) if the data are missing
    # Measured while this process sleeps, so it counts only other work; the one-minute load average
    # would also count a benchmark that finished a minute ago.
    busy_before = other_work_share(1.0)
    if busy_before > BUSY_SHARE:
        # Other processes on the cores make every timing noisy, and with threads > free cores
        # OpenMP's spinning threads can make small-batch steps many times slower.
        print(f"warning: other work keeps {100 * busy_before:.0f}% of the cores busy before the benchmark; "
              f"timings will read low and noisy (stop it, or consider --threads 1)", file=sys.stderr)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = run_benchmark(args, cases, threads)
    finally:
        torch.set_num_threads(previous_threads)
    result["other_work_share_before"] = busy_before
    result["other_work_share_after"] = other_work_share(1.0)  # work that started during the run shows here
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1) + "\n")
    print(format_table(result))
    print(f"wrote {output}")
    if output.resolve() == DEFAULT_OUTPUT.resolve():
        if render_book is not None:
            render_book()
    else:
        print(f"book pages left as they are (they follow {DEFAULT_OUTPUT}); "
              f"`fmnist-book benchmark --render {output}` prints this result as the speed appendix's tables")
    return 0


def run_benchmark(args: argparse.Namespace, cases: list[Case], threads: int) -> dict:
    """Peak, every case, the parallel configurations: the result that ``main`` writes as JSON."""
    peak_repeats = 2 if args.quick else 3
    peak_before = matmul_peak(args.matmul_sizes, peak_repeats)
    rows = []
    bar = tqdm(cases, desc="benchmark", unit="model", disable=args.no_progress)
    for case in bar:
        bar.set_postfix_str(case.key)
        rows.append(measure_case(case, threads, args.warmup, args.steps, args.min_time, args.repeats,
                                 bfloat16=args.bfloat16))
    bar.close()
    peak = best_of_peaks(peak_before, matmul_peak(args.matmul_sizes, peak_repeats))
    ceiling = theoretical_peak(threads)
    for row in rows:
        row["share_of_matmul"] = row["engine_gflops"] / peak["gflops"]
        row["share_of_theoretical_peak"] = ceiling["gflops"] and row["engine_gflops"] / ceiling["gflops"]
    # the profile that explains the peak-share target, for the models it is about
    profiles = {case.key: op_profile(case) for case in cases if case.key in PEAK_CASES and not args.quick}
    dropout = dropout_mask_speed(threads, elements=1 << 16 if args.quick else 1 << 21)
    parallel = None
    if args.parallel:
        parallel = measure_parallel(case_by_key(args.parallel_model), threads, args.warmup, args.steps, args.min_time)

    import torchvision

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "python": platform.python_version(), "cpu_model": cpu_model() or platform.machine(), "cores": available_cores(),
        "threads": threads, "device": "cpu",
        "settings": {"steps": args.steps, "warmup": args.warmup, "min_time": args.min_time,
                     "repeats": args.repeats, "quick": args.quick, "matmul_sizes": list(args.matmul_sizes)},
        "flop_convention": FLOP_CONVENTION,
        "matmul_peak": peak,
        "theoretical_peak": ceiling,
        "cases": rows,
        "geomean_speedup": geometric_mean([row["speedup"] for row in rows]),
        "geomean_loading_free_speedup": geometric_mean([row["loading_free_speedup"] for row in rows]),
        "parallel": parallel,
        # measured or not, and with which of the CPU's bfloat16 instructions (train.BFLOAT16_CPU_FLAGS)
        "bfloat16": {"measured": args.bfloat16, "cpu_flags": cpu_bfloat16_flags(),
                     "skipped": None if args.bfloat16 else "--no-bfloat16"},
        "op_profiles": profiles,
        "dropout_mask": dropout,
    }



# --------------------------------------------------------------------------- one model's throughput


def measure_throughput(model: str, model_args: dict | None = None, *, threads: int = 1, train_batch: int = 8,
                       eval_batch: int = 1000, normalize: tuple[float, float] | None = None, warmup: int = 5,
                       steps: int = 50, eval_steps: int = 2, min_time: float = 1.0) -> dict:
    """Training and inference images/s of one model on the CPU with ``threads`` threads.

    Training is ``train.Engine.step`` (through ``EngineLoop``: Adam 1e-3, the given input scaling,
    channels_last for convolutional models) at batch ``train_batch``; inference is a forward pass in
    eval mode under ``torch.inference_mode`` over ``eval_batch`` test images in the same memory
    layout, as ``evaluate_model`` runs it. Each timing makes ``warmup`` untimed calls, then at least
    ``steps`` (``eval_steps``) calls lasting at least ``min_time`` seconds. The thread count is
    restored afterwards.
    """
    case = Case(key=model, chapter=4, model=model, batch_size=train_batch, model_args=dict(model_args or {}),
                normalize=normalize)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with warnings.catch_warnings(record=True) as caught:  # a layout this CPU forces: the table's note says it
            warnings.simplefilter("always")
            loop = EngineLoop(case)
        training = time_steps(loop.step, warmup, steps, min_time)
        network = loop.engine.model.eval()
        x = to_float(load_fashion_mnist().test_images[:eval_batch], normalize)
        if loop.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)

        def infer() -> int:
            with torch.inference_mode():
                network(x)
            return len(x)

        inference = time_steps(infer, 1 if warmup else 0, eval_steps, min_time)
        flops = count_flops(case)
    finally:
        torch.set_num_threads(previous)
    return {
        "model": model, "model_args": dict(model_args or {}), "threads": threads,
        "parameters": sum(p.numel() for p in network.parameters() if p.requires_grad),
        "train_batch": train_batch, "eval_batch": len(x),
        "train_images_per_s": training["images_per_s"], "inference_images_per_s": inference["images_per_s"],
        "forward_flops_per_image": flops["forward_flops_per_image"],
        "train_flops_per_image": flops["train_flops_per_image"],
        "train_run": training, "inference_run": inference,
        "notes": [str(w.message) for w in caught],
    }


# --------------------------------------------------------------------------- the book's appendix

def repeat_speedups(row: dict) -> list[float]:
    """The speed-up of each alternating repeat (engine over the reference timed just before it): their
    spread shows how far one timing can move on this machine, which the best-of ratio hides."""
    return [e["images_per_s"] / r["images_per_s"] for r, e in zip(row["reference_runs"], row["engine_runs"])]


def _spread(ratios: list[float]) -> str:
    """The range of per-repeat ratios, or the one value where they agree to two decimals."""
    low, high = min(ratios), max(ratios)
    return f"{low:.2f}x" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}x"


def bfloat16_skipped(result: dict) -> str | None:
    """Why ``result`` holds no bfloat16 timing (the option that skipped it, or its age); None where it does."""
    recorded = result.get("bfloat16")
    if recorded is None:
        return "recorded before the benchmark measured bfloat16"
    return None if recorded["measured"] else recorded["skipped"]


def bfloat16_groups(result: dict) -> dict[str, list[dict]]:
    """The cases of the bfloat16 target (convolutional, batch at least ``BFLOAT16_TARGET_MIN_BATCH``) and the
    cases of smaller batches, reported beside it; call only where ``bfloat16_skipped`` is None."""
    rows = result["cases"]
    return {"target": [r for r in rows if r["convolutional"] and r["batch_size"] >= BFLOAT16_TARGET_MIN_BATCH],
            "small": [r for r in rows if r["batch_size"] < BFLOAT16_TARGET_MIN_BATCH]}


def bfloat16_repeat_ratios(row: dict) -> list[float]:
    """bfloat16 over float32 per alternating repeat (each timed just after the other)."""
    return [b["images_per_s"] / e["images_per_s"] for e, b in zip(row["engine_runs"], row["bfloat16_runs"])]


def bfloat16_target_row(result: dict) -> str:
    """The bfloat16 line of the targets table: the geometric mean over the target's cases, met or missed."""
    target = (f"| bfloat16 at least {TARGETS['bfloat16_ratio']}x float32 (engine; geometric mean over the "
              f"convolutional models at batch {BFLOAT16_TARGET_MIN_BATCH} or more) |")
    skipped = bfloat16_skipped(result)
    if skipped is not None:
        return f"{target} not measured in this result ({skipped}) | **not checked** |"
    cases = bfloat16_groups(result)["target"]
    if not cases:
        return f"{target} no such case in this result | **not checked** |"
    ratio = geometric_mean([row["bfloat16_ratio"] for row in cases])
    verdict = "**met**" if ratio >= TARGETS["bfloat16_ratio"] else "**missed**"
    keys = ", ".join(row["key"] for row in cases)
    return f"{target} {ratio:.2f}x over {counted(len(cases), 'case')} ({keys}) | {verdict} |"


def bfloat16_small_batch_sentence(result: dict) -> str | None:
    """What bfloat16 gives at the batch sizes below the target's (chapter 4's batch 8), or None."""
    small = bfloat16_groups(result)["small"]
    if not small:
        return None
    ratio = geometric_mean([row["bfloat16_ratio"] for row in small])
    batches = " and ".join(str(b) for b in sorted({row["batch_size"] for row in small}))
    if len(small) == 1:
        measured = f"({small[0]['key']}) bfloat16 trains at {ratio:.2f}x the float32 speed"
    else:
        low = min(small, key=lambda row: row["bfloat16_ratio"])
        high = max(small, key=lambda row: row["bfloat16_ratio"])
        measured = (f"({counted(len(small), 'case')}) bfloat16 trains at {ratio:.2f}x the float32 speed (geometric "
                    f"mean; from {low['bfloat16_ratio']:.2f}x for {low['key']} to {high['bfloat16_ratio']:.2f}x for "
                    f"{high['key']})")
    verdict = "faster than" if ratio > 1 else "slower than" if ratio < 1 else "as fast as"
    return f"At batch {batches} {measured}: {verdict} float32 at this batch size."


def bfloat16_markdown(result: dict) -> list[str]:
    """The appendix's bfloat16 table, or the line that says why the result has none."""
    skipped = bfloat16_skipped(result)
    if skipped is not None:
        return [f"The engine in bfloat16 was not measured in this result ({skipped})."]
    flags = result["bfloat16"]["cpu_flags"]
    lines = ["The engine in bfloat16 (`precision=\"bfloat16\"`: the forward pass under `torch.autocast`, weights "
             "and optimiser in float32) against the engine in float32, timed alternately with the two pipelines "
             f"above, on a CPU with {' and '.join(flags) if flags else 'no bfloat16 instructions listed'}:", "",
             "| Case | Batch | Conv. | float32 img/s | bfloat16 img/s | Ratio | Per repeat |",
             "|---|---:|:-:|---:|---:|---:|---:|"]
    for row in result["cases"]:
        lines.append(f"| {row['key']} | {row['batch_size']} | {'yes' if row['convolutional'] else 'no'} "
                     f"| {row['engine_images_per_s']:,.0f} | {row['bfloat16_images_per_s']:,.0f} "
                     f"| {row['bfloat16_ratio']:.2f}x | {_spread(bfloat16_repeat_ratios(row))} |")
    lines += ["", "Conv.: a convolutional model; img/s: the engine's training images per second; ratio: bfloat16 / "
                  "float32, the best timing of each; per repeat: the ratio's range over the alternating repeats."]
    return lines


def dropout_sentence(dropout: dict) -> str:
    """Dropout's mask speed at one thread and at the benchmark's thread count, and what it means."""
    rates = dropout["ns_per_element"]
    counts = sorted(rates, key=int)
    measured = " and ".join(f"{rates[c]:.1f} ns per element with {c} thread{'s' if c != '1' else ''}" for c in counts)
    if len(counts) == 1:
        return f"Dropout masks (`bernoulli_`): {measured}."
    gain = rates[counts[0]] / rates[counts[-1]]
    verdict = ("drawn on one core whatever the thread count" if gain < 1.2
               else f"drawn in parallel ({gain:.1f}x faster with {counts[-1]} threads)")
    return f"Dropout masks (`bernoulli_`): {measured}, i.e. {verdict}."


def speed_markdown(result: dict | None) -> str:
    """The appendix's tables and target checks, written from a ``benchmark.json`` result."""
    if result is None:
        return "*No benchmark has been recorded yet: run `make benchmark` on an otherwise idle machine.*\n"
    # two tables rather than one of twelve columns, which a book page can only show scrolled
    lines = ["Training throughput of the two pipelines:", "",
             "| Case | Ch. | Batch | Reference img/s | Engine img/s | Speed-up | Per repeat |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['key']} | {row['chapter']} | {row['batch_size']} | {row['reference_images_per_s']:,.0f} "
              f"| {row['engine_images_per_s']:,.0f} | {row['speedup']:.2f}x | {_spread(repeat_speedups(row))} |"
              for row in result["cases"]]
    basis, shares = peak_shares(result)
    lines += ["", f"Where the speed-up comes from, and the engine's effective GFLOP/s (counted FLOPs of a training "
              f"step over its time) as a share of the {basis}:", "",
              "| Case | Reference time loading data | Speed-up if loading were free | Page faults per step, "
              f"reference / engine | Engine effective GFLOP/s | % of {basis} |",
              "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['key']} | {100 * row['reference_loading_share']:.1f}% | {row['loading_free_speedup']:.2f}x "
              f"| {_faults(row)} | {row['engine_gflops']:.1f} | {100 * shares[row['key']]:.1f}% |"
              for row in result["cases"]]
    lines += ["", *bfloat16_markdown(result)]
    parallel = result["parallel"]
    slowest = min(result["cases"], key=lambda row: row["speedup"])

    def met(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    lines += ["", f"Measured {result['date']} on {result['cpu_model']} ({result['cores']} cores, {result['threads']} "
              f"threads), torch {result['torch']}"
              + f"; other work on the cores {100 * result['other_work_share_before']:.0f}% just before the run and "
                f"{100 * result['other_work_share_after']:.0f}% just after"
              + f". {peak_sentence(result)}", "",
              "| Target | Measured | |", "|---|---|---|",
              f"| no model slower than the reference | slowest: {slowest['key']} at {slowest['speedup']:.2f}x "
              f"(per repeat {_spread(repeat_speedups(slowest))}) | {met(slowest['speedup'] >= 1)} |",
              f"| geometric-mean speed-up at least {TARGETS['geomean_speedup']}x | {result['geomean_speedup']:.2f}x "
              f"over {len(result['cases'])} cases (if the reference's data loading took no time: "
              f"{result['geomean_loading_free_speedup']:.2f}x) | {met(result['geomean_speedup'] >= TARGETS['geomean_speedup'])} |"]
    for key in (key for key in PEAK_CASES if key in shares):
        target = f"| {key} at least {100 * TARGETS['share_of_peak']:.0f}% of the theoretical peak (effective GFLOP/s) |"
        if basis == "theoretical peak":
            lines.append(f"{target} {100 * shares[key]:.1f}% | {met(shares[key] >= TARGETS['share_of_peak'])} |")
        else:
            lines.append(f"{target} no theoretical peak in this result ({100 * shares[key]:.1f}% of the measured "
                         "matmul rate) | **not checked** |")
    if parallel is not None:
        lines.append(f"| independent batch-{parallel['batch_size']} runs side by side at least "
                     f"{TARGETS['parallel_ratio']}x one after another | {parallel['ratio']:.2f}x ({parallel['model']}) "
                     f"| {met(parallel['ratio'] >= TARGETS['parallel_ratio'])} |")
    lines.append(bfloat16_target_row(result))
    if bfloat16_skipped(result) is None and (sentence := bfloat16_small_batch_sentence(result)) is not None:
        lines += ["", sentence]
    for key, ops in (result.get("op_profiles") or {}).items():
        lines += ["", f"Where a training step of **{key}** spends its time (operators by self CPU time, "
                  "`torch.profiler`, 10 steps):", "", "| Operator | Calls per step | ms per step | Share |",
                  "|---|---:|---:|---:|"]
        lines += [f"| `{op['op']}` | {op['calls_per_step']:g} | {op['ms_per_step']:.1f} | {100 * op['share']:.1f}% |"
                  for op in ops]
    lines += ["", dropout_sentence(result["dropout_mask"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
