"""The one training loop of the book.

Data live in memory as one float tensor per split (moved to the device once); a batch is an index
slice, augmentation is batched on tensors, convolutional models run in ``channels_last``, the
optimiser uses PyTorch's multi-tensor kernels and the process keeps freed memory for the next step
(the last two change no number; see ``make_optimizer`` and ``keep_freed_memory``). The loop
supports what the five studies need: Adam/AdamW/SGD, ReduceLROnPlateau, early stopping, best-
checkpoint selection, fixed step budgets, staged evaluation, and resumable per-epoch checkpoints.
``train`` computes each epoch's numbers (steps, validation, test and staged evaluations); what is done
with them after the epoch - the history row, the scheduler step, best-checkpoint bookkeeping, early
stopping, the checkpoint, the final selection and evaluation - is ``epochs.RunProgress``, which the
batched trainer (``batched``) shares. A run with ``precision="bfloat16"`` runs its forward passes under
``torch.autocast`` and is refused where the device has no fast bfloat16 (``fast_bfloat16``).
"""
from __future__ import annotations

import copy
import ctypes
import functools
import math
import platform
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .augment import AugmentSpec, augment_batch
from .config import PRECISIONS, RunConfig
from .data import load_fashion_mnist, split_indices, to_float
from .epochs import RunProgress, Stopwatch, TrainResult
from .evaluate import autocast, evaluate_model
from .models import build_model


def choose_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device not in ("cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise ValueError(f"device={device!r}; allowed: auto, cpu, cuda, cuda:N, mps")
    return torch.device(device)


CPUINFO = Path("/proc/cpuinfo")
# x86 instructions that compute in bfloat16: AVX-512 BF16 (dot products) and AMX-BF16 (tile matrix multiplies).
# Without either, PyTorch emulates bfloat16 with float32 instructions plus conversions: slower than float32.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpuinfo_field(name: str) -> str | None:
    """The first value of ``name`` in /proc/cpuinfo ("model name", "flags", "cpu MHz"), or None."""
    try:
        for line in CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str | None:
    """The CPU's model name (``platform.processor()`` is empty on Linux) and the vector instruction set
    PyTorch's kernels use on it. Float results of the same code differ between CPUs (their vector kernels
    round differently), so a run records where it ran; the name alone does not tell them apart (one cloud
    "AMD EPYC" offers AVX2 only, another AVX-512)."""
    name = cpuinfo_field("model name") or platform.processor()
    return name and f"{name}, {torch.backends.cpu.get_cpu_capability()}"


def cpu_bfloat16_flags() -> list[str] | None:
    """Which of ``BFLOAT16_CPU_FLAGS`` /proc/cpuinfo lists for this CPU; None where it lists no flags."""
    flags = cpuinfo_field("flags")
    return None if flags is None else [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags.split()]


def _cpu_bfloat16_problem() -> str | None:
    found = cpu_bfloat16_flags()
    if found is None:
        return (f"the CPU's instruction flags could not be read from {CPUINFO}, so its bfloat16 instructions "
                f"({' or '.join(BFLOAT16_CPU_FLAGS)}) cannot be detected")
    if not found:
        return (f"the CPU ({cpuinfo_field('model name') or platform.processor() or 'unknown model'}) lists neither "
                f"{' nor '.join(BFLOAT16_CPU_FLAGS)} among its flags in {CPUINFO} (PyTorch's vector kernels: "
                f"{torch.backends.cpu.get_cpu_capability()}), so bfloat16 would be emulated with float32 "
                "instructions, slower than float32 itself")
    return None


def _cuda_bfloat16_problem(device: torch.device) -> str | None:
    if not torch.cuda.is_available():
        return "CUDA is not available to this PyTorch (torch.cuda.is_available() is False)"
    index = device.index if device.index is not None else torch.cuda.current_device()
    name = torch.cuda.get_device_name(index)
    major, minor = torch.cuda.get_device_capability(index)
    if (major, minor) < (8, 0):
        return (f"the GPU {name} has compute capability {major}.{minor} (torch.cuda.get_device_capability); "
                "bfloat16 arithmetic needs 8.0 (Ampere) or newer, below that PyTorch emulates it")
    with torch.cuda.device(index):
        if not torch.cuda.is_bf16_supported(including_emulation=False):
            return (f"torch.cuda.is_bf16_supported(including_emulation=False) is False for the GPU {name} "
                    f"(torch {torch.__version__}, CUDA {torch.version.cuda})")
    return None


def _mps_bfloat16_problem(device: torch.device) -> str | None:
    """A matrix multiply under bfloat16 autocast on the device: the installed PyTorch and macOS either run it
    in bfloat16, or fail, or (with a warning) switch autocast off."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # autocast's "disabling" warning: the dtype below tells it
            with torch.autocast(device.type, dtype=torch.bfloat16):
                product = torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)
    except (RuntimeError, TypeError) as error:
        return f"a bfloat16 matrix multiply on MPS failed with torch {torch.__version__}: {error}"
    if product.dtype != torch.bfloat16:
        return (f"torch {torch.__version__} does not autocast to bfloat16 on MPS (a matrix multiply came out "
                f"{product.dtype})")
    return None


def fast_bfloat16(device: str | torch.device = "auto") -> str | None:
    """Why ``device`` has no fast bfloat16 arithmetic, with how that was detected; None where it has.

    CPU: ``avx512_bf16`` or ``amx_bf16`` among /proc/cpuinfo's flags. CUDA: compute capability 8.0 or
    newer and ``torch.cuda.is_bf16_supported(including_emulation=False)``. MPS: a matrix multiply under
    bfloat16 autocast must run in bfloat16 with the installed PyTorch."""
    device = choose_device(device) if isinstance(device, str) else device
    if device.type == "cpu":
        return _cpu_bfloat16_problem()
    if device.type == "cuda":
        return _cuda_bfloat16_problem(device)
    if device.type == "mps":
        return _mps_bfloat16_problem(device)
    return f"no bfloat16 check exists for device type {device.type!r}"


def precision_problem(precision: str, device: str | torch.device = "auto") -> str | None:
    """What is wrong with training in ``precision`` on ``device`` (an unknown precision; bfloat16 where the
    device has no fast bfloat16, see ``fast_bfloat16``), with the fix; None where nothing is."""
    if precision not in PRECISIONS:
        return f"precision={precision!r} is unknown; use one of {', '.join(PRECISIONS)}"
    if precision == "bfloat16":
        device = choose_device(device) if isinstance(device, str) else device  # "auto" named as what it chose
        reason = fast_bfloat16(device)
        if reason is not None:
            return (f"precision='bfloat16' is refused on {device}, which has no fast bfloat16: {reason}. "
                    "Use precision='float32' (the default) on this device")
    return None


# mallopt parameters of glibc's <malloc.h>
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of giving it back to the kernel.

    By default glibc serves each large block (a batch's activations and gradients) with a fresh
    ``mmap`` and unmaps it when freed, so a training step can fault those pages in again one by one,
    up to a fifth of a Model-1 step on the book's CPU (glibc adapts its threshold to what it has seen,
    so how often depends on the process's history; ``fmnist-book benchmark`` counts the page faults
    per step of both pipelines). Serving every block from the heap and never trimming it removes them. The
    numbers do not change: PyTorch aligns its buffers itself (a test compares parameters bit for bit).
    The price is that the process keeps its peak memory until it exits. Applied once per process;
    returns False where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the running process's own C library
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def prefers_channels_last(model: nn.Module) -> bool:
    """Convolutional models train faster in channels_last on this CPU, except with InstanceNorm, whose
    CPU kernels are slower in that layout (measured: 166 against 100 ms per step for chapter 5's net)."""
    modules = list(model.modules())
    return (any(isinstance(m, nn.Conv2d) for m in modules)
            and not any(isinstance(m, nn.InstanceNorm2d) for m in modules))


# One training step of a model in channels_last, in a child process: some CPUs' oneDNN kernels crash on it
# (seen: the weight gradient of ResNet-Mini's 1x1 stride-2 shortcut, 4 -> 8 channels, one thread, on an AMD
# EPYC that offers AVX2 but not AVX-512, with PyTorch 2.14.1; the same step on an Intel Xeon with AVX-512 runs).
_LAYOUT_PROBE = """
import sys, torch
from fmnist_utils.models import build_model
name, kwargs, threads, batch = eval(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = build_model(name, **kwargs).to(memory_format=torch.channels_last)
x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
model(x).logsumexp(1).mean().backward()
"""


def _has_strided_pointwise_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.stride != (1, 1) for m in model.modules())


@functools.cache
def _layout_probe(model: str, model_args: str, threads: int, batch: int) -> str | None:
    """One training step of ``model`` (``model_args`` as its repr) in channels_last in a child process: why it
    crashed, None when it ran; remembered for the process (``functools.cache``)."""
    probe = subprocess.run([sys.executable, "-c", _LAYOUT_PROBE, f"({model!r}, {model_args}, {threads}, {batch})"],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode < 0 or probe.returncode == 134:  # killed by a signal: segfault, abort (double free)
        return (f"a training step of {model} in channels_last crashes this CPU's kernels "
                f"({cpu_model() or 'unnamed CPU'}, {threads} thread(s), PyTorch {torch.__version__}; "
                f"exit {probe.returncode})")
    if probe.returncode != 0:
        raise RuntimeError(f"the channels_last probe of {model} failed:\n{probe.stderr[-2000:]}")
    return None


def channels_last_crash(config: RunConfig) -> str | None:
    """Why this CPU cannot train ``config``'s model in channels_last (its kernels crash), or None.

    Only models with a strided 1x1 convolution (the crash seen so far) are tried, once per process and thread
    count, by one training step in a child process (about 2 s); any other failure of the child is raised."""
    return _layout_probe(config.model, repr(config.model_args), torch.get_num_threads(), min(config.batch_size, 64))


def choose_layout(model: nn.Module, config: RunConfig, device: torch.device) -> tuple[bool, str | None]:
    """(channels_last, why not) for a run: ``prefers_channels_last``, unless this CPU's kernels crash on the
    model in that layout; then the contiguous layout, with the reason (the run warns and records it). The
    layout changes no formula, only the kernels, so on such a CPU the run's numbers are its own - as they are
    on any other CPU."""
    if not prefers_channels_last(model):
        return False, None
    if device.type == "cpu" and _has_strided_pointwise_conv(model):
        crash = channels_last_crash(config)
        if crash is not None:
            return False, crash + "; trained in the contiguous layout instead"
    return True, None


@dataclass
class Splits:
    """Float tensors ready for the model, on the training device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor | None
    val_y: torch.Tensor | None
    eval_x: torch.Tensor  # the final evaluation set: test images (or training images, for diagnosis)
    eval_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def _digits_as_fashion_mnist_shape():
    """scikit-learn's bundled 8x8 digits, upsampled to 28x28 uint8: the only digit set available offline."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images).float().unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    images = (images.squeeze(1) * 255).round().clamp(0, 255).to(torch.uint8)
    labels = torch.from_numpy(digits.target).long()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    n_test = len(labels) // 5
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]


def prepare_splits(config: RunConfig, device: torch.device, channels_last: bool) -> Splits:
    if config.dataset == "digits":
        train_images, train_labels, test_images, test_labels = _digits_as_fashion_mnist_shape()
    else:
        data = load_fashion_mnist()
        train_images, train_labels = data.train_images, data.train_labels
        test_images, test_labels = data.test_images, data.test_labels
    train_idx, val_idx = split_indices(len(train_labels), config.val_fraction, config.split_seed)
    if config.train_subset is not None:
        train_idx = train_idx[: config.train_subset]

    def ready(images: torch.Tensor) -> torch.Tensor:
        x = to_float(images, config.normalize)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x.to(device)

    def cut(x: torch.Tensor, n: int | None) -> torch.Tensor:
        return x if n is None else x[:n]

    fit_images, fit_labels = train_images[train_idx], train_labels[train_idx]
    if config.train_on == "train+test":
        fit_images = torch.cat([fit_images, test_images])
        fit_labels = torch.cat([fit_labels, test_labels])
    val_x = val_y = None
    if len(val_idx):
        n_val = config.eval_subset if config.val_steps is None else config.val_steps * config.batch_size
        val_x = ready(cut(train_images[val_idx], n_val))
        val_y = cut(train_labels[val_idx], n_val).to(device)
    test_x = ready(cut(test_images, config.eval_subset))
    test_y = cut(test_labels, config.eval_subset).to(device)
    if config.eval_on == "train":
        eval_x = ready(cut(fit_images, config.eval_subset or len(test_labels)))
        eval_y = cut(fit_labels, config.eval_subset or len(test_labels)).to(device)
    else:
        eval_x, eval_y = test_x, test_y
    return Splits(ready(fit_images), fit_labels.to(device), val_x, val_y, eval_x, eval_y, test_x, test_y)


def eval_labels(config: RunConfig) -> np.ndarray:
    """True labels of the images a run's final evaluation (and stored predictions) refer to."""
    if config.eval_on == "test" and config.dataset == "fashion_mnist":
        return load_fashion_mnist().test_labels[: config.eval_subset].numpy()
    return prepare_splits(config, torch.device("cpu"), channels_last=False).eval_y.numpy()


def make_loss(name: str):
    """The configured loss of (logits, labels): their mean, or with ``reduction="none"`` one value per image
    (whose mean is the same loss; the stored per-image test losses)."""
    if name == "ce":
        return lambda logits, y, reduction="mean": F.cross_entropy(logits, y, reduction=reduction)
    # MSE / MAE compare the softmax output with one-hot targets (the Keras habit the study followed).
    regression = F.mse_loss if name == "mse" else F.l1_loss

    def loss(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
        if reduction == "none":
            return regression(logits.softmax(dim=1), target, reduction="none").mean(dim=1)
        return regression(logits.softmax(dim=1), target)

    return loss


def make_optimizer(config: RunConfig, model: nn.Module, multi_tensor: bool = True) -> torch.optim.Optimizer:
    """The configured optimiser. ``multi_tensor`` selects PyTorch's ``foreach`` kernels, which on the
    CPU give bit-identical updates to its default per-parameter loop (the tests check it) for less
    Python work per step: 1.2x for ResNet-Mini at batch 8. ``fused_optimizer`` (opt-in, part of a run's
    key) changes the rounding. ``multi_tensor=False`` keeps PyTorch's default, as the studies ran."""
    params = model.parameters()
    if config.fused_optimizer:
        kernels = {"fused": True}
    else:
        kernels = {"foreach": True} if multi_tensor else {}  # absent, not False: PyTorch's default choice
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, **kernels)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, **kernels)
    return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay, momentum=0.9, **kernels)


def make_scheduler(config: RunConfig, optimizer: torch.optim.Optimizer):
    if config.scheduler == "plateau":
        mode = "max" if config.monitor.endswith("acc") else "min"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, **config.scheduler_args)
    return None


def epoch_order(config: RunConfig, n_train: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """One epoch's shuffle of ``n_train`` indices (repeated when a fixed step budget is longer than one pass)."""
    order = torch.randperm(n_train, generator=generator)
    while len(order) < steps * config.batch_size and config.steps_per_epoch:
        order = torch.cat([order, torch.randperm(n_train, generator=generator)])
    return order


@dataclass
class Engine:
    """What one run trains with: model, data on the device, augmentation, loss, optimiser, RNG.

    ``train`` drives it epoch by epoch; the benchmark times the very same ``step``.
    """

    config: RunConfig
    device: torch.device
    model: nn.Module
    splits: Splits
    augment: AugmentSpec
    loss_fn: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    generator: torch.Generator  # shuffling and augmentation; dropout uses the global RNG
    channels_last: bool = False
    layout_note: str | None = None  # why not channels_last where the model prefers it (``choose_layout``)

    @classmethod
    def build(cls, config: RunConfig, device: str = "auto", channels_last: bool | None = None) -> "Engine":
        torch_device = choose_device(device)
        problem = precision_problem(config.precision, torch_device)
        if problem is not None:
            raise ValueError(problem)
        keep_freed_memory()
        torch.manual_seed(config.seed)  # weight initialisation and dropout
        model = build_model(config.model, **config.model_args)
        layout_note = None
        if channels_last is None:
            channels_last, layout_note = choose_layout(model, config, torch_device)
            if layout_note is not None:
                warnings.warn(layout_note, stacklevel=2)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(torch_device, memory_format=memory_format)
        splits = prepare_splits(config, torch_device, channels_last)
        augment = AugmentSpec.from_dict(config.augment)
        if not augment.is_identity() and config.normalize is not None:
            # pad / fill with the normalised value of a black pixel, as torchvision does before Normalize
            mean, std = config.normalize
            augment = AugmentSpec.from_dict({**augment.to_dict(), "fill": (0.0 - mean) / std})
        optimizer = make_optimizer(config, model)
        return cls(config, torch_device, model, splits, augment, make_loss(config.loss), optimizer,
                   make_scheduler(config, optimizer), torch.Generator().manual_seed(config.seed),
                   channels_last, layout_note)

    def epoch_order(self, steps: int) -> torch.Tensor:
        """A fresh shuffle (repeated when a fixed step budget is longer than one pass)."""
        return epoch_order(self.config, len(self.splits.train_y), steps, self.generator).to(self.device)

    def step(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimisation step on the images at ``index``; returns (loss, logits, labels), detached.

        With ``precision="bfloat16"`` the forward pass runs under ``torch.autocast``; the loss, the
        backward pass's gradients of the float32 weights and the optimiser stay float32."""
        x, y = self.splits.train_x[index], self.splits.train_y[index]
        if not self.augment.is_identity():
            x = augment_batch(x, self.augment, self.generator)
        with autocast(self.config.precision, self.device.type):  # nothing for float32
            logits = self.model(x)
        logits = logits.float()  # the loss in float32 (a no-op for float32 logits)
        loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach(), logits.detach(), y


def train(
    config: RunConfig,
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    checkpoint_path: str | Path | None = None,
    channels_last: bool | None = None,
    on_epoch_end=None,
) -> TrainResult:
    """Train one configuration; resume from ``checkpoint_path`` if a checkpoint is there.

    ``on_epoch_end(epoch, row)`` is called after each epoch's checkpoint is written (tests use it to
    interrupt a run). The checkpoint is deleted once training finishes.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    engine = Engine.build(config, device, channels_last)
    model, splits, optimizer, scheduler = engine.model, engine.splits, engine.optimizer, engine.scheduler
    generator, loss_fn, torch_device = engine.generator, engine.loss_fn, engine.device

    run = RunProgress(config, generator, checkpoint_path or None)
    state = run.resume()
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])

    def evaluate(x: torch.Tensor, y: torch.Tensor):
        return evaluate_model(model, x, y, loss_fn, config.eval_batch_size, config.precision)

    n_train = len(splits.train_y)
    steps = config.steps_per_epoch or math.ceil(n_train / config.batch_size)
    epoch_bar = tqdm(range(run.epochs_done, config.epochs), desc=config.model, unit="epoch",
                     initial=run.epochs_done, total=config.epochs, disable=not progress)
    for epoch in epoch_bar:
        model.train()
        clock = Stopwatch(torch_device)
        order = engine.epoch_order(steps)
        loss_sum = torch.zeros((), device=torch_device)
        correct = torch.zeros((), device=torch_device, dtype=torch.long)
        seen = 0
        step_losses = []
        for step in tqdm(range(steps), desc=f"epoch {epoch + 1}", leave=False, disable=not progress,
                         mininterval=0.5):
            loss, logits, y = engine.step(order[step * config.batch_size: (step + 1) * config.batch_size])
            # accumulate on the device: no per-step synchronisation
            loss_sum += loss * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            if config.log_every_steps and step % config.log_every_steps == 0:
                step_losses.append(loss)
        train_seconds, train_cpu_seconds = clock.lap()

        lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trained with, before the scheduler steps
        val = test = None
        if splits.val_x is not None:
            val = evaluate(splits.val_x, splits.val_y)
        if config.track_test:
            test = evaluate(splits.test_x, splits.test_y)
        if epoch + 1 in config.eval_at_epochs:
            stage = evaluate(splits.eval_x, splits.eval_y)
            run.add_stage(epoch + 1, stage.loss, stage.accuracy, train_seconds)
        row = run.record(epoch + 1, train_loss=loss_sum.item() / seen, train_acc=correct.item() / seen,
                         train_images=seen, lr=lr,
                         step_losses=torch.stack(step_losses).tolist() if config.log_every_steps else None,
                         val=(val.loss, val.accuracy) if val is not None else None,
                         test=(test.loss, test.accuracy) if test is not None else None,
                         train_seconds=train_seconds, train_cpu_seconds=train_cpu_seconds,
                         **dict(zip(("eval_seconds", "eval_cpu_seconds"), clock.lap())))
        run.judge(lambda: copy.deepcopy(model.state_dict()), scheduler)
        epoch_bar.set_postfix({k: f"{row[k]:.4f}" for k in ("train_loss", "val_loss", "val_acc") if k in row})
        if run.wants_checkpoint:
            run.save_checkpoint(model.state_dict(), optimizer.state_dict(),
                                scheduler.state_dict() if scheduler is not None else None)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if run.stopped_early:
            break
    epoch_bar.close()
    result = run.finish(model, splits.eval_x, splits.eval_y, loss_fn, torch_device)
    result.layout_note = engine.layout_note
    return result
