"""Train several configurations of one architecture together, as one batched computation.

Runs that share the model, its arguments, the data and the batch size - a learning-rate or loss sweep,
several seeds - differ only in numbers. Their parameters are stacked along a new leading "member"
dimension (``torch.func.stack_module_state``) and one forward/backward pass computes every member at
once: for the book's MLPs each Linear becomes one ``baddbmm`` over all members (``stacked_mlp_forward``);
any other buffer-free model runs through ``functional_call`` under ``vmap``. What stays per member:

* **initialisation**: ``torch.manual_seed(seed)`` before ``build_model``, exactly as ``train.Engine``;
* **data order**: a ``torch.Generator`` seeded with the member's seed draws each epoch's shuffle with
  ``train.epoch_order``, so member *m* sees the same batches in the same order as its sequential twin;
* **loss** (``ce`` / ``mse`` / ``mae``, as ``train.make_loss``), **learning rate** and **weight
  decay** (Adam or AdamW): each member's slices of the stacked tensors go through PyTorch's fused
  Adam kernel with that member's settings (``torch.optim.Adam(fused=True)``'s kernel); where a device
  has none, ``_adam_functional`` follows ``torch.optim.Adam``'s single-tensor update op by op with a
  per-member step size. Both are checked against ``torch.optim.Adam`` in the tests;
* **history, early stopping, best-checkpoint selection, epochs, staged and test evaluations,
  checkpoint and final evaluation**: each member has its own ``epochs.RunProgress``, the object
  ``train.train`` keeps for a sequential run. A member that stops is evaluated, handed back, and
  removed from the stack (its parameters freeze, its history ends); the others go on.

Each member's result is an ordinary ``TrainResult``; ``ResultStore.put`` stores it under the key the
sequential run would have, and its per-epoch checkpoint (``RunProgress.save_checkpoint``, the format
``train.train`` writes and reads) goes to ``store.checkpoint_path(config)``, so an interrupted batched
run resumes either batched or alone.
Numbers agree with sequential training to float rounding (batched and single matrix multiplies round
differently), not bit for bit. Only the timing differs: a member's ``train_seconds`` is its share
(wall time / members trained) of the group's epoch.

On a CPU the gain is the per-step overhead saved (Python, dispatch, optimiser bookkeeping): large for
small models and batches, none for large matrix multiplies, which cost the same batched or not. On
a GPU batching also fills the device.

Batching needs models without buffers or dropout (batch norm and dropout would need per-member
running statistics and random masks: such runs train sequentially), no augmentation, no learning-
rate scheduler and float32 arithmetic (a ``precision="bfloat16"`` run trains sequentially, under the
engine's autocast); ``batchable`` says why a configuration cannot join a group.

    python -m fmnist_utils.batched --benchmark        # 8 small MLPs, batched vs one after another
"""
from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import multiprocessing
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import fields

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from .config import RunConfig, canonical_json
from .epochs import RunProgress, Stopwatch, TrainResult
from .models import build_model
from .train import choose_device, epoch_order, keep_freed_memory, make_loss, make_optimizer, prepare_splits

# Fields that may differ between the members of one group; every other field must be equal.
PER_MEMBER = ("loss", "optimizer", "lr", "weight_decay", "epochs", "monitor", "patience", "select_best",
              "eval_at_epochs", "track_test", "seed", "log_every_steps")
# Shared fields whose meaning the batched loop implements (through prepare_splits and the step count).
SHARED = ("model", "model_args", "dataset", "val_fraction", "split_seed", "train_subset", "eval_subset",
          "normalize", "train_on", "eval_on", "steps_per_epoch", "val_steps", "batch_size", "eval_batch_size")
# Shared fields the batched loop does not implement: they must keep their defaults.
MUST_BE_DEFAULT = ("augment", "scheduler", "scheduler_args")
BATCHED_OPTIMIZERS = ("adam", "adamw")
BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which make_optimizer keeps


# --------------------------------------------------------------------------- who can train together


_MODEL_PROBLEMS: dict[str, str | None] = {}


def model_problem(config: RunConfig) -> str | None:
    """Why the configured model cannot be batched (buffers, dropout), or None."""
    key = canonical_json([config.model, config.model_args])
    if key not in _MODEL_PROBLEMS:
        model = build_model(config.model, **config.model_args)
        problem = None
        if any(True for _ in model.buffers()):
            problem = "the model has buffers (batch norm running statistics)"
        elif any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules()):
            problem = "the model uses dropout (random masks would differ from a sequential run)"
        _MODEL_PROBLEMS[key] = problem
    return _MODEL_PROBLEMS[key]


def batchable(config: RunConfig) -> str | None:
    """Why ``config`` must train on its own, or None if it can join a batched group."""
    defaults = RunConfig(model=config.model)
    known = set(PER_MEMBER) | set(SHARED) | set(MUST_BE_DEFAULT)
    for f in fields(RunConfig):
        if f.name not in known and getattr(config, f.name) != getattr(defaults, f.name):
            return f"{f.name} is set and the batched loop does not implement it"
    for name in MUST_BE_DEFAULT:
        if getattr(config, name) != getattr(defaults, name):
            return f"{name} is set"
    if config.optimizer not in BATCHED_OPTIMIZERS:
        return f"optimizer {config.optimizer!r} (batched: {', '.join(BATCHED_OPTIMIZERS)})"
    return model_problem(config)


def group_key(config: RunConfig) -> str:
    """Configurations with equal keys can train together: every field except ``PER_MEMBER``."""
    data = config.to_dict()
    return canonical_json({name: value for name, value in data.items() if name not in PER_MEMBER})


def group_configs(configs: list[RunConfig], max_members: int | None = None) -> tuple[list[list[RunConfig]], list[RunConfig]]:
    """Split into batched groups (two or more members, at most ``max_members``) and the runs left alone."""
    groups: dict[str, list[RunConfig]] = {}
    alone = []
    for config in configs:
        if batchable(config) is None:
            groups.setdefault(group_key(config), []).append(config)
        else:
            alone.append(config)
    batched = []
    for members in groups.values():
        size = max_members or len(members)
        chunks = [members[i: i + size] for i in range(0, len(members), size)]
        for chunk in chunks:
            if len(chunk) > 1:
                batched.append(chunk)
            else:
                alone.extend(chunk)
    return batched, alone


# --------------------------------------------------------------------------- per-member pieces


def member_losses(kind: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean loss of every member: logits (M, B, C), labels (M, B) or (B,) -> (M,); as ``train.make_loss``."""
    members, batch, classes = logits.shape
    if y.dim() == 1:
        y = y.expand(members, batch)
    if kind == "ce":
        return F.cross_entropy(logits.reshape(-1, classes), y.reshape(-1), reduction="none").view(members, batch).mean(1)
    target = F.one_hot(y, classes).to(logits.dtype)
    regression = F.mse_loss if kind == "mse" else F.l1_loss
    return regression(logits.softmax(dim=2), target, reduction="none").mean(dim=(1, 2))


def linear_plan(model: nn.Module) -> list[tuple] | None:
    """The layer sequence of a model that is only Flatten / Linear / ReLU in an ``nn.Sequential`` named
    ``layers`` (``models.mlp`` without batch norm or dropout); None for any other model."""
    layers = getattr(model, "layers", None)
    if type(model).__name__ != "MLP" or not isinstance(layers, nn.Sequential):
        return None
    plan = []
    for number, module in enumerate(layers):
        if isinstance(module, nn.Flatten) and module.start_dim == 1 and module.end_dim == -1:
            plan.append(("flatten",))
        elif isinstance(module, nn.Linear):
            plan.append(("linear", f"layers.{number}.weight", f"layers.{number}.bias" if module.bias is not None else None))
        elif isinstance(module, nn.ReLU):
            plan.append(("relu",))
        else:
            return None
    return plan


def stacked_mlp_forward(plan: list[tuple], params: dict, x: torch.Tensor) -> torch.Tensor:
    """Logits (M, B, C) of M stacked MLPs: x is (M, B, ...) per member, or (B, ...) shared by all.

    Each Linear is ``baddbmm(bias, h, W^T)``, member by member the ``addmm`` that ``nn.Linear`` runs.
    """
    members = next(iter(params.values())).shape[0]
    h = x
    for step in plan:
        if step[0] == "flatten":
            h = h.flatten(h.dim() - 3) if h.dim() >= 4 else h
            if h.dim() == 2:  # shared images: the same rows for every member
                h = h.unsqueeze(0).expand(members, -1, -1)
        elif step[0] == "linear":
            weight = params[step[1]].transpose(1, 2)
            if step[2] is None:
                h = torch.bmm(h, weight)
            else:
                h = torch.baddbmm(params[step[2]].unsqueeze(1), h, weight)
        else:
            h = torch.relu(h)
    return h


def _memory_order(t: torch.Tensor) -> torch.Tensor:
    """``t`` with its dimensions permuted into memory order: a contiguous view for any dense layout."""
    if t.dim() < 2 or t.is_contiguous():
        return t
    return t.permute(*sorted(range(t.dim()), key=lambda d: -t.stride(d)))


def _member_views(stacks: dict[str, torch.Tensor]) -> list[list[torch.Tensor]]:
    """[slot][parameter] contiguous views of stacked tensors, for element-wise kernels.

    Parameters, gradients and Adam moments share one layout, so the same permutation of each keeps
    them element-aligned (the fused kernel would copy non-contiguous input).
    """
    per_name = [_memory_order(t.detach()).unbind(0) for t in stacks.values()]
    return [list(views) for views in zip(*per_name)]


def _shares(lap: tuple[float, float | None], count: int) -> tuple[float, float | None]:
    """Each of ``count`` members' share of one lap of the shared loop: (wall, CPU or None)."""
    wall, cpu = lap
    return wall / count, None if cpu is None else cpu / count


class BatchedTrainer:
    """The members' stacked parameters, Adam moments and bookkeeping; ``run`` trains them all."""

    def __init__(self, configs: list[RunConfig], device: str = "auto", checkpoint_paths=None,
                 fused: bool | None = None):
        if len(configs) < 1:
            raise ValueError("train_batched needs at least one configuration")
        for config in configs:
            problem = batchable(config)
            if problem is not None:
                raise ValueError(f"configuration of seed {config.seed} cannot be batched: {problem}")
        if len({group_key(c) for c in configs}) != 1:
            raise ValueError("batched configurations must share every field except " + ", ".join(PER_MEMBER))
        self.configs = list(configs)
        self.shared = configs[0]
        self.device = choose_device(device)
        keep_freed_memory()
        models = []
        for config in configs:
            torch.manual_seed(config.seed)  # the same initialisation as train.Engine.build
            models.append(build_model(config.model, **config.model_args).to(self.device))
        self.template = models[0]  # a real module: materialises members for checkpoints and results
        params, _ = stack_module_state(models)  # new stacked tensors: the members' modules can go
        del models
        self.params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
        self.exp_avg = {name: torch.zeros_like(p) for name, p in self.params.items()}
        self.exp_avg_sq = {name: torch.zeros_like(p) for name, p in self.params.items()}
        self.adam_steps = 0
        self.scratch: dict[str, torch.Tensor] = {}  # Adam's work buffers
        self._views = None  # cached per-member views for the fused Adam kernel
        self.fused = fused if fused is not None else (
            hasattr(torch, "_fused_adam_") and self.device.type in ("cpu", "cuda"))
        plan = linear_plan(self.template)
        if plan is not None:  # a plain MLP: grouped matrix multiplies written out (less overhead than vmap)
            self.forward = lambda p, x: stacked_mlp_forward(plan, p, x)
            self.forward_shared = self.forward
        else:
            base = copy.deepcopy(self.template).to("meta")

            def forward(p, x):
                return functional_call(base, p, (x,))

            self.forward = vmap(forward)  # every member its own batch
            self.forward_shared = vmap(forward, in_dims=(0, None))  # every member the same images
        self.splits = prepare_splits(self.shared, self.device, channels_last=False)
        paths = checkpoint_paths or [None] * len(configs)
        self.members = [RunProgress(c, torch.Generator().manual_seed(c.seed), p or None)
                        for c, p in zip(configs, paths)]
        self.active = list(range(len(configs)))  # member index of each slot of the stack
        self.resumed_from = self._resume()
        self._refresh()

    # ----- optimiser

    def _refresh(self) -> None:
        """Per-slot constants of the active members (after the stack changes)."""
        configs = [self.members[i].config for i in self.active]
        self.slot_configs = configs
        self.kinds = [c.loss for c in configs]
        self.lr64 = torch.tensor([c.lr for c in configs], dtype=torch.float64)
        l2 = [c.weight_decay if c.optimizer == "adam" else 0.0 for c in configs]
        decay = [1 - c.lr * c.weight_decay if c.optimizer == "adamw" else 1.0 for c in configs]
        self.l2 = torch.tensor(l2, dtype=torch.float64).to(torch.float32) if any(l2) else None
        self.decay = torch.tensor(decay, dtype=torch.float64).to(torch.float32) if any(d != 1.0 for d in decay) else None
        self.log_every = [c.log_every_steps for c in configs]

    @torch.no_grad()
    def _match_layout(self, names: list[str], grads) -> None:
        """Store parameters and Adam moments in the memory layout of their gradients.

        vmap's batched-matmul backward returns weight gradients as transposed views; element-wise Adam
        over operands of different layouts is several times slower than over one layout. Values do not
        change, only their order in memory (the matrix multiplies accept either layout).
        """
        for name, grad in zip(names, grads):
            param = self.params[name]
            if param.stride() == grad.stride():
                continue

            def relayout(t: torch.Tensor) -> torch.Tensor:
                return torch.empty_strided(t.shape, grad.stride(), dtype=t.dtype, device=t.device).copy_(t)

            self.params[name] = relayout(param).requires_grad_(True)
            self.exp_avg[name] = relayout(self.exp_avg[name])
            self.exp_avg_sq[name] = relayout(self.exp_avg_sq[name])
            self.scratch.pop(name, None)
            self._views = None

    @torch.no_grad()
    def _adam(self, grads: dict[str, torch.Tensor]) -> None:
        """One Adam/AdamW step for every active member.

        Where PyTorch has its fused Adam kernel for the device (``torch.optim.Adam(fused=True)``), each
        member's slices go through it with that member's learning rate and weight decay: one pass over
        memory instead of eight. Otherwise ``_adam_functional`` does the same arithmetic with tensor ops.
        """
        if self.fused:
            self.adam_steps += 1
            step = torch.tensor(float(self.adam_steps), device=self.device)
            if self._views is None:  # per-member views of the stacks (valid until the stacks change)
                self._views = [_member_views(stack) for stack in (self.params, self.exp_avg, self.exp_avg_sq)]
            params, exp_avgs, exp_avg_sqs = self._views
            gradients = _member_views(grads)
            steps = [step] * len(grads)
            for slot, config in enumerate(self.slot_configs):
                kernel = torch._fused_adamw_ if config.optimizer == "adamw" else torch._fused_adam_
                kernel(params[slot], gradients[slot], exp_avgs[slot], exp_avg_sqs[slot], [], steps, lr=config.lr,
                       beta1=BETAS[0], beta2=BETAS[1], weight_decay=config.weight_decay, eps=EPS, amsgrad=False,
                       maximize=False)
            return
        self._adam_functional(grads)

    @torch.no_grad()
    def _adam_functional(self, grads: dict[str, torch.Tensor]) -> None:
        """One Adam/AdamW step for every active member, as ``torch.optim.Adam``'s single-tensor update."""
        self.adam_steps += 1
        beta1, beta2 = BETAS
        bias_correction1 = 1 - beta1 ** self.adam_steps
        bias_correction2_sqrt = (1 - beta2 ** self.adam_steps) ** 0.5
        # per-member scalars, computed in double as the optimiser does, then cast like its scalar arguments
        step_size = (self.lr64 / -bias_correction1).to(torch.float32).to(self.device)
        for name, param in self.params.items():
            shape = (-1,) + (1,) * (param.dim() - 1)
            grad = grads[name]
            if self.l2 is not None:  # Adam's L2 term: grad.add(param, alpha=weight_decay)
                grad = grad + param * self.l2.to(self.device).view(shape)
            if self.decay is not None:  # AdamW: param.mul_(1 - lr * weight_decay)
                param.mul_(self.decay.to(self.device).view(shape))
            exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            # denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps), in a reused buffer (fresh
            # allocations of this size cost page faults on every step)
            buffer = self.scratch.get(name)
            if buffer is None or buffer.shape != param.shape:
                buffer = self.scratch[name] = torch.empty_like(param)  # same layout as param
            torch.sqrt(exp_avg_sq, out=buffer).div_(bias_correction2_sqrt).add_(EPS)
            # param.addcdiv_(exp_avg, denom, value=-step_size) with a per-member value: the same roundings
            torch.div(exp_avg, buffer, out=buffer)
            param.addcmul_(buffer, step_size.view(shape))

    # ----- one epoch

    def _losses(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        kinds = self.kinds
        if len(set(kinds)) == 1:
            return member_losses(kinds[0], logits, y)
        parts, slots = [], []
        for kind in dict.fromkeys(kinds):
            index = [s for s, k in enumerate(kinds) if k == kind]
            parts.append(member_losses(kind, logits[index], y[index] if y.dim() == 2 else y))
            slots += index
        inverse = torch.argsort(torch.tensor(slots))
        return torch.cat(parts)[inverse.to(logits.device)]

    def train_epoch(self, steps: int) -> dict:
        n_train = len(self.splits.train_y)
        batch = self.shared.batch_size
        orders = torch.stack([epoch_order(self.members[i].config, n_train, steps, self.members[i].generator)
                              for i in self.active]).to(self.device)
        count = len(self.active)
        loss_sum = torch.zeros(count, device=self.device)
        correct = torch.zeros(count, device=self.device, dtype=torch.long)
        seen = 0
        log_every = self.log_every if any(self.log_every) else []
        step_losses = [[] for _ in self.active]
        names = list(self.params)
        for step in range(steps):
            index = orders[:, step * batch: (step + 1) * batch]
            x, y = self.splits.train_x[index], self.splits.train_y[index]
            logits = self.forward(self.params, x)
            losses = self._losses(logits, y)
            grads = torch.autograd.grad(losses.sum(), [self.params[n] for n in names])
            self._match_layout(names, grads)
            self._adam(dict(zip(names, grads)))
            losses, logits = losses.detach(), logits.detach()
            loss_sum += losses * y.shape[1]
            correct += (logits.argmax(2) == y).sum(1)
            seen += y.shape[1]
            for slot, every in enumerate(log_every):
                if every and step % every == 0:
                    step_losses[slot].append(losses[slot])
        return {"loss": (loss_sum.double() / seen).tolist(), "acc": (correct.double() / seen).tolist(), "seen": seen,
                "step_losses": [torch.stack(s).tolist() if s else None for s in step_losses]}

    @torch.inference_mode()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        """Loss and accuracy of every active member on (x, y), in chunks as ``evaluate_model``."""
        size = self.shared.eval_batch_size
        count = len(self.active)
        loss_sum = torch.zeros(count, dtype=torch.float64)
        correct = torch.zeros(count, dtype=torch.long)
        params = {n: p.detach() for n, p in self.params.items()}
        for start in range(0, len(y), size):
            target = y[start: start + size]
            logits = self.forward_shared(params, x[start: start + size])
            loss_sum += self._losses(logits, target).double().cpu() * len(target)
            correct += (logits.argmax(2) == target).sum(1).cpu()
        return (loss_sum / len(y)).tolist(), (correct.double() / len(y)).tolist()

    # ----- members in and out of the stack

    def member_state(self, slot: int) -> dict[str, torch.Tensor]:
        return {n: p[slot].detach().clone(memory_format=torch.contiguous_format) for n, p in self.params.items()}

    def member_module(self, state: dict) -> nn.Module:
        module = copy.deepcopy(self.template)
        module.load_state_dict(state)
        return module

    def _optimizer_state(self, slot: int, module: nn.Module) -> dict:
        """The member's Adam state as ``torch.optim.Adam.state_dict()`` of its sequential twin."""
        config = self.members[self.active[slot]].config
        optimizer = make_optimizer(config, module)
        for name, param in module.named_parameters():
            optimizer.state[param] = {"step": torch.tensor(float(self.adam_steps)),
                                      "exp_avg": self.exp_avg[name][slot].clone(memory_format=torch.contiguous_format),
                                      "exp_avg_sq": self.exp_avg_sq[name][slot].clone(memory_format=torch.contiguous_format)}
        return optimizer.state_dict()

    def _save_checkpoint(self, slot: int) -> None:
        """The member's checkpoint, as its sequential twin's ``train.train`` writes it."""
        module = self.member_module(self.member_state(slot))
        self.members[self.active[slot]].save_checkpoint(module.state_dict(), self._optimizer_state(slot, module),
                                                        scheduler_state=None)

    def _resume(self) -> int:
        """Load the members' checkpoints (``train.train``'s format); all must be at the same epoch."""
        states = [member.resume() for member in self.members]
        epochs = {member.epochs_done for member in self.members}
        if len(epochs) > 1:
            raise ValueError(f"members' checkpoints are at different epochs {sorted(epochs)}; group them by "
                             "checkpoint epoch (run_grouped does)")
        if states[0] is None:
            return 0
        names = list(self.params)
        with torch.no_grad():
            for slot, state in enumerate(states):
                for name in names:
                    self.params[name][slot].copy_(state["model"][name])
                moments = state["optimizer"]["state"]
                for number, name in enumerate(names):
                    self.exp_avg[name][slot].copy_(moments[number]["exp_avg"])
                    self.exp_avg_sq[name][slot].copy_(moments[number]["exp_avg_sq"])
                self.adam_steps = int(moments[0]["step"])
        return epochs.pop()

    def _finish(self, slot: int) -> TrainResult:
        """The member's selected state evaluated and returned, as ``train.train`` ends."""
        member = self.members[self.active[slot]]
        return member.finish(self.member_module(self.member_state(slot)), self.splits.eval_x, self.splits.eval_y,
                             make_loss(member.config.loss), self.device)

    def _drop(self, slots: list[int]) -> None:
        keep = [s for s in range(len(self.active)) if s not in slots]
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        with torch.no_grad():
            self.params = {n: p.detach()[index].clone().requires_grad_(True) for n, p in self.params.items()}
            self.exp_avg = {n: m[index].clone() for n, m in self.exp_avg.items()}
            self.exp_avg_sq = {n: v[index].clone() for n, v in self.exp_avg_sq.items()}
        self.active = [self.active[s] for s in keep]
        self.scratch.clear()
        self._views = None
        self._refresh()

    # ----- the loop

    def run(self, progress: bool = False, on_result=None, on_epoch_end=None) -> list[TrainResult]:
        """Train every member to its end; ``on_result(result)`` is called as each member finishes."""
        results: dict[int, TrainResult] = {}
        n_train = len(self.splits.train_y)
        steps = self.shared.steps_per_epoch or math.ceil(n_train / self.shared.batch_size)
        # members whose checkpoint says they are already over (cannot happen with train's own checkpoints)
        last = max(c.epochs for c in self.configs)
        bar = tqdm(range(self.resumed_from, last), desc=f"{self.shared.model} x{len(self.configs)}", unit="epoch",
                   initial=self.resumed_from, total=last, disable=not progress)
        for epoch in bar:
            if not self.active:
                break
            clock = Stopwatch(self.device)
            trained = self.train_epoch(steps)
            count = len(self.active)
            train_seconds, train_cpu_seconds = _shares(clock.lap(), count)
            members = [self.members[i] for i in self.active]
            val = test = [None] * count  # (loss, accuracy) per member
            if self.splits.val_x is not None:
                val = list(zip(*self.evaluate(self.splits.val_x, self.splits.val_y)))
            if any(member.config.track_test for member in members):
                test = [pair if member.config.track_test else None
                        for member, pair in zip(members, zip(*self.evaluate(self.splits.test_x, self.splits.test_y)))]
            if any(epoch + 1 in member.config.eval_at_epochs for member in members):
                for member, (loss, acc) in zip(members, zip(*self.evaluate(self.splits.eval_x, self.splits.eval_y))):
                    if epoch + 1 in member.config.eval_at_epochs:
                        member.add_stage(epoch + 1, loss, acc, train_seconds)
            eval_seconds, eval_cpu_seconds = _shares(clock.lap(), count)
            rows, finished = [], []
            for slot, member in enumerate(members):
                rows.append(member.record(
                    epoch + 1, train_loss=trained["loss"][slot], train_acc=trained["acc"][slot],
                    train_images=trained["seen"], lr=member.config.lr, step_losses=trained["step_losses"][slot],
                    val=val[slot], test=test[slot], train_seconds=train_seconds, eval_seconds=eval_seconds,
                    train_cpu_seconds=train_cpu_seconds, eval_cpu_seconds=eval_cpu_seconds))
                member.judge(functools.partial(self.member_state, slot))
                if member.wants_checkpoint:
                    self._save_checkpoint(slot)
                if member.over:
                    finished.append(slot)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, dict(zip(self.active, rows)))
            for slot in finished:
                result = self._finish(slot)
                results[self.active[slot]] = result
                if on_result is not None:
                    on_result(result)
            if finished:
                self._drop(finished)
            bar.set_postfix(members=len(self.active))
        bar.close()
        return [results[i] for i in range(len(self.configs))]


def train_batched(configs: list[RunConfig], *, device: str = "auto", threads: int | None = None,
                  progress: bool = False, checkpoint_paths=None, on_result=None, on_epoch_end=None) -> list[TrainResult]:
    """Train ``configs`` (one shared architecture, data and batch size) together; one result per config.

    ``checkpoint_paths`` (one per config, e.g. ``store.checkpoint_path(c)``) makes the group resumable
    after each epoch, in the format ``train.train`` reads. ``on_result(result)`` sees each member as it
    finishes (to store it at once); ``on_epoch_end(epoch, rows)`` after each epoch, with ``rows`` the history
    row of every member that trained in it, by its index in ``configs`` (tests interrupt there).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    trainer = BatchedTrainer(configs, device=device, checkpoint_paths=checkpoint_paths)
    return trainer.run(progress=progress, on_result=on_result, on_epoch_end=on_epoch_end)


# --------------------------------------------------------------------------- filling a store


def _train_group(store_root: str, config_dicts: list[dict], threads: int, device: str,
                 weights: list[bool], reports=None) -> list[tuple[str, str | None]]:
    """Worker body: train one group into the store; a failure is reported for every unfinished member.

    ``reports`` (a queue, or None) receives one ``sweep.epoch_line`` per member still training after each epoch.
    """
    from .store import ResultStore
    from .sweep import epoch_line

    store = ResultStore(store_root)
    configs = [RunConfig.from_dict(d) for d in config_dicts]
    keys = [store.key(c) for c in configs]
    needs = dict(zip(keys, weights))
    done: list[tuple[str, str | None]] = []

    def put(result: TrainResult) -> None:
        key = store.key(result.config)
        store.put(result, save_weights=needs[key])
        done.append((key, None))

    def report(epoch: int, rows: dict[int, dict]) -> None:
        for i, row in rows.items():
            reports.put(epoch_line(keys[i], epoch, configs[i].epochs, row))

    try:
        train_batched(configs, device=device, threads=threads, progress=False,
                      checkpoint_paths=[store.checkpoint_path(c) for c in configs], on_result=put,
                      on_epoch_end=report if reports is not None else None)
    except Exception:  # noqa: BLE001 - reported back with the traceback
        error = traceback.format_exc()
        finished = {key for key, _ in done}
        done += [(key, error) for key in keys if key not in finished]
    return done


def run_grouped(configs: list[RunConfig], store=None, *, workers: int | None = None, threads_per_worker: int = 1,
                device: str = "cpu", save_weights=frozenset(), progress: bool = True,
                max_members: int | None = 8):
    """Train every configuration the store lacks: shareable ones batched in groups, the rest one by one.

    Groups (``group_configs``; members with checkpoints at different epochs go to different groups)
    and single runs (``sweep._train_one``, the body of ``sweep.run_sweep``) share one pool of
    ``workers`` processes (default: one per core; ``workers=1`` trains in this process). Returns one
    ``sweep.SweepOutcome`` per configuration, like ``run_sweep``.
    """
    from .store import ResultStore
    from .sweep import SweepOutcome, _stop_when_orphaned, _train_one, default_workers, epoch_reports

    store = store or ResultStore()
    outcomes: dict[str, SweepOutcome] = {}
    keys, todo = [], {}
    for config in configs:
        key = store.key(config)
        keys.append(key)
        if store.get(config) is not None:
            outcomes[key] = SweepOutcome(key, config, ok=True)
        else:
            todo[key] = config
    by_epoch: dict[int, list[RunConfig]] = {}
    for config in todo.values():
        by_epoch.setdefault(store.status(config).checkpoint_epochs, []).append(config)
    groups, alone = [], []
    for members in by_epoch.values():
        g, a = group_configs(members, max_members)
        groups += g
        alone += a
    # the biggest jobs first, so the pool does not end on one long group
    groups.sort(key=len, reverse=True)
    root = str(store.root)
    tasks = [("group", g, (root, [c.to_dict() for c in g], threads_per_worker, device,
                           [store.key(c) in save_weights for c in g])) for g in groups]
    tasks += [("one", [c], (root, c.to_dict(), threads_per_worker, device, store.key(c) in save_weights))
              for c in alone]
    bar = tqdm(total=len(todo), desc="runs", unit="run", disable=not progress or not todo)

    def record(key: str, error: str | None) -> None:
        outcomes[key] = SweepOutcome(key, todo[key], ok=error is None, error=error)
        bar.update(1)
        if error is not None:
            bar.write(f"run {key} failed:\n{error}")

    workers = workers or default_workers()
    with epoch_reports(bar, enabled=progress and bool(tasks)) as reports:
        if tasks and workers == 1:  # one worker: this process (no start-up cost; small jobs finish sooner)
            previous = torch.get_num_threads()
            try:
                for kind, _, args in tasks:
                    answer = (_train_group if kind == "group" else _train_one)(*args, reports)
                    for key, error in (answer if kind == "group" else [answer]):
                        record(key, error)
            finally:
                torch.set_num_threads(previous)
        elif tasks:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                                     initializer=_stop_when_orphaned) as pool:
                futures = {pool.submit(_train_group if kind == "group" else _train_one, *args, reports): kind
                           for kind, _, args in tasks}
                for future in as_completed(futures):
                    answer = future.result()
                    for key, error in (answer if futures[future] == "group" else [answer]):
                        record(key, error)
    bar.close()
    return [outcomes[key] for key in keys]


# --------------------------------------------------------------------------- benchmark


def benchmark(members: int = 8, hidden_layers: int = 1, width: int = 32, batch_size: int = 32, steps: int = 100,
              warmup: int = 5, threads: int = 1, repeats: int = 5, train_subset: int = 4096) -> dict:
    """Training throughput of ``members`` MLPs (different learning rates and seeds): batched vs one by one.

    Sequential: each configuration's ``train.Engine.step`` in turn (the loop ``train.train`` runs);
    batched: one ``BatchedTrainer`` step for all. Images/s counts every member's images; the best of
    ``repeats`` alternating timings is kept for each.
    """
    from .train import Engine

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        configs = [RunConfig(model="mlp", model_args={"hidden_layers": hidden_layers, "width": width},
                             normalize=None, val_fraction=0.2, batch_size=batch_size, lr=2.05e-5 * 2 ** k,
                             seed=42 + k, train_subset=train_subset, eval_subset=1, val_steps=1)
                   for k in range(members)]
        engines = [Engine.build(c, device="cpu") for c in configs]
        for engine in engines:
            engine.model.train()
        orders = [e.epoch_order(10 ** 9) for e in engines]
        trainer = BatchedTrainer(configs, device="cpu")
        n_train = len(trainer.splits.train_y)
        per_epoch = n_train // batch_size

        def sequential(count: int) -> float:
            started = time.perf_counter()
            for engine, order in zip(engines, orders):
                for step in range(count):
                    s = step % per_epoch
                    engine.step(order[s * batch_size: (s + 1) * batch_size])
            return time.perf_counter() - started

        def batched(count: int) -> float:
            started = time.perf_counter()
            done = 0
            while done < count:  # a fresh shuffle per chunk, as an epoch of the real loop
                chunk = min(per_epoch, count - done)
                trainer.train_epoch(chunk)
                done += chunk
            return time.perf_counter() - started

        sequential(warmup), batched(warmup)
        seq_times, bat_times = [], []
        for _ in range(repeats):
            seq_times.append(sequential(steps))
            bat_times.append(batched(steps))
        images = members * steps * batch_size
        seq_rate, bat_rate = images / min(seq_times), images / min(bat_times)
        return {"members": members, "model": f"mlp {hidden_layers}x{width}", "batch_size": batch_size,
                "steps": steps, "threads": threads, "sequential_images_per_s": seq_rate,
                "batched_images_per_s": bat_rate, "speedup": bat_rate / seq_rate}
    finally:
        torch.set_num_threads(previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist_utils.batched", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", action="store_true", help="time batched vs sequential training")
    parser.add_argument("--members", type=int, default=8, help="MLPs trained together (default 8)")
    parser.add_argument("--hidden-layers", type=int, default=1, help="hidden layers of each MLP (default 1)")
    parser.add_argument("--width", type=int, default=32, help="width of each hidden layer (default 32)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (default 32)")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per model (default 100)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timings, best kept (default 5)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not args.benchmark:
        parser.print_help()
        return 0
    result = benchmark(members=args.members, hidden_layers=args.hidden_layers, width=args.width,
                       batch_size=args.batch_size, steps=args.steps, threads=args.threads, repeats=args.repeats)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{result['members']} x {result['model']}, batch {result['batch_size']}, {result['threads']} thread(s): "
              f"one after another {result['sequential_images_per_s']:,.0f} img/s, batched "
              f"{result['batched_images_per_s']:,.0f} img/s -> speed-up {result['speedup']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
