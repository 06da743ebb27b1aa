"""Chapter 3: MLP hyperparameter sweeps (loss, depth, width, batch size, learning rate), trained side by side.

The study (Adalı 2025) varies one factor at a time. Our base configuration is the study's best model
with the depth sweep's width: 2 hidden layers of 2096 units, cross-entropy, batch 512, Adam at
2.05e-5, pixels in [0, 1], an 80/20 train/validation split of the 60k training images, patience
stopping on the validation loss and the best-validation-loss checkpoint. Each sweep changes one
factor of it (the loss sweep uses the study's 1 x 128 network, as its Figures 2-4 say). Beyond the
study: the best configuration over several seeds, a joint width x learning-rate grid, and dropout /
batch normalisation on the best MLP.

Runs that share an architecture and batch size (the learning-rate and loss sweeps, the seeds) train
together as one batched computation (``fmnist_utils.batched``) and land in the store under the keys a
sequential run would have.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..claims import counted
from ..config import RunConfig
from ..params import ChapterSpec, Param, boolean, int_list, optional, positive_int, resolve
from ..store import describe, table_or_pending

TITLE = "MLP hyperparameter sweeps"
STUDY = "03_mlp_analysis.md"
LOSSES = ("ce", "mse", "mae")
LOSS_NAMES = {"ce": "cross-entropy", "mse": "MSE (softmax vs one-hot)", "mae": "MAE (softmax vs one-hot)"}


def _positive_float(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return "a positive number"
    return None


def _positive_floats(value) -> str | None:
    if not isinstance(value, (list, tuple)) or not value or any(_positive_float(v) for v in value):
        return "a non-empty list of positive numbers"
    return None


def _dropouts(value) -> str | None:
    if not isinstance(value, (list, tuple)) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1 for v in value):
        return "a list of dropout probabilities in (0, 1) (may be empty)"
    return None


def _losses(value) -> str | None:
    if not isinstance(value, (list, tuple)) or not value or any(v not in LOSSES for v in value):
        return "a non-empty list drawn from " + ", ".join(repr(v) for v in LOSSES)
    return None


SPEC = ChapterSpec("mlp_analysis", [
    Param("epochs", {"paper": 50, "quick": 8, "smoke": 2}, positive_int,
          "maximum epochs per run; patience stopping usually ends a run earlier"),
    Param("patience", {"paper": 5, "quick": 3, "smoke": 1}, positive_int,
          "stop after this many epochs without a lower validation loss"),
    Param("train_subset", {"paper": None, "quick": 10_000, "smoke": 512}, optional(positive_int),
          "train on only the first n images of the 48k training split (None: all)"),
    Param("eval_subset", {"paper": None, "quick": 2_000, "smoke": 500}, optional(positive_int),
          "validate and test on only the first n images (None: all)"),
    Param("base_width", {"paper": 2096, "quick": 512, "smoke": 32}, positive_int,
          "width of the base MLP (2 hidden layers) and of the depth sweep"),
    Param("base_batch_size", {"paper": 512, "quick": 512, "smoke": 64}, positive_int,
          "batch size of every run outside the batch-size sweep"),
    Param("base_lr", {"paper": 2.05e-5, "quick": 2.05e-4, "smoke": 2.05e-3}, _positive_float,
          "Adam learning rate of every run outside the learning-rate sweep"),
    Param("losses", ["ce", "mse", "mae"], _losses, "losses of the loss sweep"),
    Param("loss_width", 128, positive_int, "width of the 1-hidden-layer MLP of the loss sweep"),
    Param("depths", {"paper": [1, 2, 3, 4], "quick": [1, 2, 3, 4], "smoke": [1, 2, 3]}, int_list,
          "hidden layers of the depth sweep"),
    Param("widths", {"paper": [128, 512, 1024, 2096, 4192], "quick": [128, 256, 512, 1024], "smoke": [16, 32, 64]},
          int_list, "widths of the width sweep (2 hidden layers)"),
    Param("batch_sizes", {"paper": [1, 8, 16, 64, 256, 512, 1024], "quick": [16, 64, 256, 512], "smoke": [16, 64]},
          int_list, "batch sizes of the batch-size sweep"),
    Param("lrs", {"paper": [5e-2, 2.05e-3, 2.05e-4, 2.05e-5, 2.05e-6], "quick": [5e-2, 2.05e-3, 2.05e-4, 2.05e-5],
                  "smoke": [2.05e-3, 2.05e-4]}, _positive_floats, "learning rates of the learning-rate sweep"),
    Param("step_batch_size", {"paper": 16, "quick": 16, "smoke": 16}, positive_int,
          "batch size whose loss is also recorded per learning step"),
    Param("log_every_steps", {"paper": 10, "quick": 5, "smoke": 1}, positive_int,
          "record the loss of every n-th learning step of that run"),
    Param("fused_below_batch", 16, positive_int,
          "runs with a smaller batch use PyTorch's fused Adam step (same update rule, different rounding): "
          "at batch 1 and 8 the optimiser step is most of the time"),
    Param("best_width", {"paper": 4192, "quick": 1024, "smoke": 64}, positive_int,
          "width of the study's best MLP (2 hidden layers, base batch size and learning rate, cross-entropy)"),
    Param("seeds", {"paper": [42, 43, 44], "quick": [42, 43], "smoke": [42, 43]}, int_list,
          "seeds of the best configuration; every other run uses the first"),
    Param("joint_widths", {"paper": [512, 1024, 2096, 4192], "quick": [256, 512, 1024], "smoke": [16, 32]},
          int_list, "widths of the joint width x learning-rate grid"),
    Param("joint_lrs", {"paper": [2.05e-5, 6.5e-5, 2.05e-4], "quick": [2.05e-4, 6.5e-4], "smoke": [2.05e-3, 2.05e-4]},
          _positive_floats, "learning rates of the joint grid"),
    Param("dropouts", {"paper": [0.2], "quick": [0.2], "smoke": [0.2]}, _dropouts,
          "dropout rates tried on the best MLP"),
    Param("batch_norm", True, boolean, "also train the best MLP with batch normalisation"),
])

# The study's numbers (section 3.6, Table 2; section 5 quotes 89.7% validation).
STUDY_BEST = {"depth": 2, "width": 4192, "batch_size": 512, "lr": 2.05e-5, "loss": "ce"}
STUDY_VAL_ACC, STUDY_VAL_ACC_ALT, STUDY_TEST_ACC = 0.899, 0.897, 0.893
STUDY_LR_RANGE = (2.0e-5, 3.0e-5)
STUDY_BATCH_RANGE = (256, 512)
NOISE_FLOOR = 0.003  # 0.3 points: about the binomial standard error of accuracy on 12k validation images
SWEEPS = ("loss", "depth", "width", "batch", "lr")  # the study's one-factor-at-a-time sweeps


def settings_from(namespace: dict):
    return resolve(SPEC, namespace)


def fmt_lr(lr: float) -> str:
    return f"{lr:.3g}"


def config(settings, *, depth: int = 2, width: int | None = None, batch_size: int | None = None,
           lr: float | None = None, loss: str = "ce", seed: int | None = None, dropout: float = 0.0,
           batch_norm: bool = False, log_every_steps: int | None = None) -> RunConfig:
    """One MLP run: the base configuration with the given changes."""
    model_args = {"hidden_layers": depth, "width": width or settings.base_width}
    if dropout:
        model_args["dropout"] = float(dropout)
    if batch_norm:
        model_args["batch_norm"] = True
    batch_size = batch_size or settings.base_batch_size
    return RunConfig(
        model="mlp", model_args=model_args,
        val_fraction=0.2, split_seed=42,  # 48k / 12k of the 60k training images
        normalize=None,  # pixels in [0, 1]
        train_subset=settings.train_subset, eval_subset=settings.eval_subset,
        loss=loss, optimizer="adam", lr=float(lr or settings.base_lr),
        fused_optimizer=batch_size < settings.fused_below_batch,
        epochs=settings.epochs, batch_size=batch_size,
        monitor="val_loss", patience=settings.patience, select_best=True,
        seed=settings.seeds[0] if seed is None else seed,
        log_every_steps=log_every_steps,
    )


def sweeps(settings) -> dict[str, list[tuple[object, RunConfig]]]:
    """Every sweep as (label, configuration) pairs; equal configurations in two sweeps are one run."""
    batch = [(b, config(settings, batch_size=b,
                        log_every_steps=settings.log_every_steps if b == settings.step_batch_size else None))
             for b in settings.batch_sizes]
    steps = [(settings.step_batch_size, config(settings, batch_size=settings.step_batch_size,
                                               log_every_steps=settings.log_every_steps))]
    regularisation = [("none", config(settings, width=settings.best_width))]
    regularisation += [(f"dropout {p:g}", config(settings, width=settings.best_width, dropout=p))
                       for p in settings.dropouts]
    if settings.batch_norm:
        regularisation.append(("batch norm", config(settings, width=settings.best_width, batch_norm=True)))
    return {
        "loss": [(loss, config(settings, depth=1, width=settings.loss_width, loss=loss)) for loss in settings.losses],
        "depth": [(d, config(settings, depth=d)) for d in settings.depths],
        "width": [(w, config(settings, width=w)) for w in settings.widths],
        "batch": batch,
        "steps": steps,
        "lr": [(lr, config(settings, lr=lr)) for lr in settings.lrs],
        "best": [(seed, config(settings, width=settings.best_width, seed=seed)) for seed in settings.seeds],
        "joint": [((w, lr), config(settings, width=w, lr=lr)) for w in settings.joint_widths for lr in settings.joint_lrs],
        "regularisation": regularisation,
    }


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """Every distinct run of the chapter (no run needs its weights again)."""
    seen, runs = set(), []
    for pairs in sweeps(settings).values():
        for _, run_config in pairs:
            identity = repr(sorted(run_config.identity().items()))
            if identity not in seen:
                seen.add(identity)
                runs.append((run_config, False))
    return runs


def fill_store(settings, store, workers, runs=None) -> None:
    """Train what the store lacks of ``runs`` (default: the whole plan): runs that share an
    architecture and batch size together (batched)."""
    from ..batched import run_grouped

    runs = plan(settings) if runs is None else runs
    if workers is None and settings.profile == "smoke":
        workers = 1  # seconds of training: starting worker processes would cost more than it saves
    outcomes = run_grouped([c for c, _ in runs], store, workers=workers, device=settings.device,
                           save_weights={store.key(c) for c, needs in runs if needs},
                           progress=settings.progress)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"{counted(len(failed), 'run')} failed; first error:\n{failed[0].error}")


@dataclass
class ChapterRuns:
    sweeps: dict  # sweep -> [(label, StoredRun | MissingRun)]
    settings: object


def gather(settings) -> ChapterRuns:
    """Every run of the chapter from the store, training the missing ones first if the settings say so."""
    from ..store import ResultStore

    store = ResultStore(settings.store_dir)
    if settings.train_missing:
        fill_store(settings, store, settings.workers)
    return ChapterRuns({name: [(label, store.status(c)) for label, c in pairs]
                        for name, pairs in sweeps(settings).items()}, settings)


# ----- reading runs -------------------------------------------------------------------------------

def is_stored(run) -> bool:
    from ..store import StoredRun

    return isinstance(run, StoredRun)


def selected_row(run) -> dict:
    """The history row of the checkpoint the run kept (minimum validation loss)."""
    return run.history[run.metrics["best_epoch"] - 1]


def val_acc(run) -> float:
    return selected_row(run)["val_acc"]


def setting_name(sweep: str, label) -> str:
    if sweep == "loss":
        return LOSS_NAMES[label]
    if sweep == "depth":
        return f"{label} hidden layer{'s' if label != 1 else ''}"
    if sweep == "width":
        return f"width {label}"
    if sweep in ("batch", "steps"):
        return f"batch {label}"
    if sweep == "lr":
        return f"lr {fmt_lr(label)}"
    if sweep == "best":
        return f"seed {label}"
    if sweep == "joint":
        return f"width {label[0]}, lr {fmt_lr(label[1])}"
    return str(label)


def overview(runs: ChapterRuns):
    """Which runs each sweep reads and whether the store has them."""
    import pandas as pd

    rows = [{"sweep": sweep, "setting": setting_name(sweep, label), "run": run.key, "status": describe(run)}
            for sweep, pairs in runs.sweeps.items() for label, run in pairs]
    return pd.DataFrame(rows)


def training_groups(settings):
    """How the missing runs of this profile are trained: which share one batched computation."""
    import pandas as pd

    from ..batched import batchable, group_configs

    configs = [c for c, _ in plan(settings)]
    groups, alone = group_configs(configs, max_members=8)
    rows = []
    for group in groups:
        c = group[0]
        rows.append({"architecture": f"{c.model_args['hidden_layers']} x {c.model_args['width']}",
                     "batch": c.batch_size, "runs": len(group), "fmnist-book train trains them": "together (batched)",
                     "differ in": ", ".join(sorted({name for m in group for name in ("loss", "lr", "seed")
                                                     if getattr(m, name) != getattr(c, name)})) or "-"})
    for c in alone:
        extra = {k: v for k, v in c.model_args.items() if k not in ("hidden_layers", "width")}
        rows.append({"architecture": f"{c.model_args['hidden_layers']} x {c.model_args['width']}"
                                     + "".join(f", {k} {v}" for k, v in extra.items()),
                     "batch": c.batch_size, "runs": 1,
                     "fmnist-book train trains them": "alone" + (f" ({batchable(c)})" if batchable(c) else ""),
                     "differ in": "-"})
    return pd.DataFrame(rows)


def parameter_table(settings):
    """Parameters of every architecture the chapter trains."""
    import pandas as pd

    from ..models import build_model, count_parameters

    shapes = sorted({(c.model_args["hidden_layers"], c.model_args["width"]) for c, _ in plan(settings)})
    return pd.DataFrame([{"hidden layers": d, "width": w,
                          "parameters": f"{count_parameters(build_model('mlp', hidden_layers=d, width=w)):,}"}
                         for d, w in shapes])


def sweep_table(runs: ChapterRuns, sweep: str):
    """Per setting: epochs, the kept checkpoint's epoch and accuracies, and the train-validation gap."""
    import pandas as pd

    rows = []
    for label, run in runs.sweeps[sweep]:
        row = {"setting": setting_name(sweep, label)}
        if is_stored(run):
            kept = selected_row(run)
            row.update({"epochs run": run.metrics["epochs_run"], "best epoch": run.metrics["best_epoch"],
                        "train acc": kept["train_acc"], "val acc": kept["val_acc"],
                        "gap (train - val)": kept["train_acc"] - kept["val_acc"], "test acc": run.metrics["accuracy"],
                        "stopped early": "yes" if run.result.get("stopped_early") else "no"})
        else:
            row.update({"epochs run": "missing"})
        rows.append(row)
    return pd.DataFrame(rows).set_index("setting").round(4)


def histories(runs: ChapterRuns, sweep: str) -> dict:
    """{setting: [history]} of the stored runs of a sweep, for plots.learning_curves."""
    return {setting_name(sweep, label): [run.history] for label, run in runs.sweeps[sweep] if is_stored(run)}


def missing_settings(runs: ChapterRuns, sweep: str) -> list[str]:
    return [setting_name(sweep, label) for label, run in runs.sweeps[sweep] if not is_stored(run)]


def step_run(runs: ChapterRuns):
    """The run whose loss was recorded per learning step, or None while it is missing."""
    run = runs.sweeps["steps"][0][1]
    return run if is_stored(run) else None


def step_series(run) -> dict:
    """Per-step losses with their step numbers, and the per-epoch losses at the epochs' last steps."""
    import math

    every = run.config.log_every_steps
    n_train = run.history[0]["train_images"]
    per_epoch = run.config.steps_per_epoch or math.ceil(n_train / run.config.batch_size)
    steps, losses = [], []
    for number, row in enumerate(run.history):
        for k, loss in enumerate(row["step_losses"]):
            steps.append(number * per_epoch + k * every + 1)
            losses.append(loss)
    return {"steps": steps, "losses": losses, "steps_per_epoch": per_epoch,
            "epoch_end_steps": [(i + 1) * per_epoch for i in range(len(run.history))],
            "train_loss": [r["train_loss"] for r in run.history], "val_loss": [r["val_loss"] for r in run.history]}


def step_noise_table(run):
    """How spiky the per-step loss is compared with the per-epoch mean, epoch by epoch."""
    import numpy as np
    import pandas as pd

    rows = []
    for row in run.history:
        values = np.asarray(row["step_losses"], dtype=float)
        rows.append({"epoch": row["epoch"], "epoch mean train loss": row["train_loss"],
                     "recorded steps": len(values), "step loss min": values.min(), "step loss max": values.max(),
                     "step loss std": values.std(ddof=1) if len(values) > 1 else float("nan")})
    return pd.DataFrame(rows).set_index("epoch").round(4)


def batch_timing_table(runs: ChapterRuns):
    """Seconds per epoch and to the kept epoch on this machine, per batch size (volatile: not checked)."""
    import pandas as pd

    rows = []
    for label, run in runs.sweeps["batch"]:
        if is_stored(run):
            seconds = [r["train_seconds"] for r in run.history]
            rows.append({"batch": label, "steps per epoch": -(-run.history[0]["train_images"] // label),
                         "seconds per epoch": sum(seconds) / len(seconds),
                         "seconds to best epoch": sum(seconds[: run.metrics["best_epoch"]]),
                         "Adam step": "fused" if run.config.fused_optimizer else "default",
                         "val acc": val_acc(run)})
    return table_or_pending(pd.DataFrame(rows).set_index("batch").round(3) if rows else pd.DataFrame(),
                            "Batch-size timings")


def best_table(runs: ChapterRuns):
    """The study's best configuration over seeds, beside Table 2 of the study."""
    import pandas as pd

    from ..claims import mean_std

    rows, stored = [], [run for _, run in runs.sweeps["best"] if is_stored(run)]
    for label, run in runs.sweeps["best"]:
        if is_stored(run):
            rows.append({"run": f"seed {label}", "best epoch": run.metrics["best_epoch"],
                         "train acc": f"{selected_row(run)['train_acc']:.4f}", "val acc": f"{val_acc(run):.4f}",
                         "test acc": f"{run.metrics['accuracy']:.4f}"})
        else:
            rows.append({"run": f"seed {label}", "best epoch": "missing"})
    if len(stored) > 1:
        rows.append({"run": f"mean ± std (n={len(stored)})", "best epoch": "",
                     "train acc": "{:.4f} ± {:.4f}".format(*mean_std([selected_row(r)["train_acc"] for r in stored])),
                     "val acc": "{:.4f} ± {:.4f}".format(*mean_std([val_acc(r) for r in stored])),
                     "test acc": "{:.4f} ± {:.4f}".format(*mean_std([r.metrics["accuracy"] for r in stored]))})
    rows.append({"run": "study (Table 2)", "best epoch": "", "train acc": "", "val acc": f"{STUDY_VAL_ACC:.4f}",
                 "test acc": f"{STUDY_TEST_ACC:.4f}"})
    return pd.DataFrame(rows).set_index("run")


def joint_table(runs: ChapterRuns, metric: str = "val acc"):
    """Width x learning rate: validation (or test) accuracy of the kept checkpoint; NaN where missing."""
    import pandas as pd

    cells = {}
    for (width, lr), run in runs.sweeps["joint"]:
        value = float("nan")
        if is_stored(run):
            value = val_acc(run) if metric == "val acc" else run.metrics["accuracy"]
        cells.setdefault(f"lr {fmt_lr(lr)}", {})[width] = value
    frame = pd.DataFrame(cells)
    frame.index.name = "width (2 hidden layers)"
    return frame.round(4)


def noise(runs: ChapterRuns) -> tuple[float, str]:
    """The smallest validation-accuracy difference we call real: max(0.3 points, 2 x seed std of the best config)."""
    from ..claims import mean_std

    stored = [run for _, run in runs.sweeps["best"] if is_stored(run)]
    if len(stored) > 1:
        _, std = mean_std([val_acc(r) for r in stored])
        if 2 * std > NOISE_FLOOR:
            return 2 * std, f"2 x seed std of the best configuration (n={len(stored)})"
    return NOISE_FLOOR, "0.3 points (floor)"


def _stored(runs: ChapterRuns, sweep: str) -> dict:
    return {label: run for label, run in runs.sweeps[sweep] if is_stored(run)}


def capped_runs(runs: ChapterRuns) -> list[str]:
    """Runs (as "sweep setting") that trained for the full epoch budget: patience never stopped them."""
    seen, capped = set(), []
    for sweep, pairs in runs.sweeps.items():
        for label, run in pairs:
            if is_stored(run) and run.key not in seen and run.metrics["epochs_run"] >= run.config.epochs:
                seen.add(run.key)
                capped.append(f"{sweep} {label}")
    return capped


def _complete(runs: ChapterRuns, sweep: str) -> bool:
    return all(is_stored(run) for _, run in runs.sweeps[sweep])


def one_factor_runs(runs: ChapterRuns) -> dict:
    """Every stored run of the study's sweeps (and the best configuration's first seed), by setting name."""
    found = {}
    for sweep in SWEEPS + ("best",):
        for label, run in runs.sweeps[sweep][:1] if sweep == "best" else runs.sweeps[sweep]:
            if is_stored(run):
                name = "study's best configuration" if sweep == "best" else f"{sweep}: {setting_name(sweep, label)}"
                found.setdefault(run.key, (name, run))
    return dict(found.values())


def best_of(candidates: dict) -> tuple[str, object]:
    name = max(candidates, key=lambda n: val_acc(candidates[n]))
    return name, candidates[name]


def claims(runs: ChapterRuns) -> list:
    """Every claim of the study beside our measurement, with a verdict."""
    from ..claims import MISSING, NOT_REPRODUCED, REPRODUCED, Claim, numeric_claim

    settings = runs.settings
    margin, margin_text = noise(runs)
    tolerance = f"±{100 * margin:.2f} points ({margin_text})"
    best = [run for _, run in runs.sweeps["best"] if is_stored(run)]
    rows = [
        numeric_claim("Best model: validation accuracy", STUDY_VAL_ACC, [val_acc(r) for r in best], floor=0.005,
                      note="the study's conclusion quotes 89.7%; ours: the kept (minimum validation loss) epoch"),
        numeric_claim("Best model: test accuracy", STUDY_TEST_ACC, [r.metrics["accuracy"] for r in best], floor=0.005),
    ]

    def verdict(ok: bool) -> str:
        return REPRODUCED if ok else NOT_REPRODUCED

    def pct(run) -> str:
        return f"{100 * val_acc(run):.2f}%"

    # the study's best configuration against everything the one-factor sweeps tried
    candidates = one_factor_runs(runs)
    study_text = f"2 x {settings.best_width}, batch {settings.base_batch_size}, lr {fmt_lr(settings.base_lr)}, CE"
    if best and is_stored(runs.sweeps["best"][0][1]) and all(_complete(runs, s) for s in SWEEPS):
        mine = runs.sweeps["best"][0][1]
        name, top = best_of(candidates)
        rows.append(Claim("The study's best configuration is the best of the sweeps", study_text,
                          f"best of the sweeps: {name} ({pct(top)}); study's configuration {pct(mine)}",
                          verdict(val_acc(mine) >= val_acc(top) - margin), tolerance, "validation accuracy, seed "
                          f"{mine.config.seed}"))
    else:
        rows.append(Claim("The study's best configuration is the best of the sweeps", study_text, "-", MISSING))

    losses = _stored(runs, "loss")
    if "ce" in losses and len(losses) == len(runs.sweeps["loss"]) > 1:
        others = [k for k in losses if k != "ce"]
        ours = ", ".join(f"{k.upper()} {pct(losses[k])}" for k in losses)
        rows.append(Claim("Cross-entropy beats MSE and MAE", "CE best", ours,
                          verdict(all(val_acc(losses["ce"]) > val_acc(losses[k]) + margin for k in others)),
                          tolerance, f"1 x {settings.loss_width} MLP, validation accuracy"))
    else:
        rows.append(Claim("Cross-entropy beats MSE and MAE", "CE best", "-", MISSING))

    depths = _stored(runs, "depth")
    if _complete(runs, "depth") and depths:
        top_depth = max(depths, key=lambda d: val_acc(depths[d]))
        near = [d for d in depths if val_acc(depths[d]) >= val_acc(depths[top_depth]) - margin]
        ours = ", ".join(f"{d}: {pct(r)}" for d, r in depths.items())
        rows.append(Claim("2-3 hidden layers perform best", "2-3 layers", ours + f" (best: {top_depth})",
                          verdict(any(d in (2, 3) for d in near)), tolerance,
                          f"width {settings.base_width}; reproduced if 2 or 3 layers is within the tolerance of the best"))
    else:
        rows.append(Claim("2-3 hidden layers perform best", "2-3 layers", "-", MISSING))

    widths = _stored(runs, "width")
    width_claim = "Wider is better up to about 2096 units (narrow nets underfit)"
    if _complete(runs, "width") and widths and settings.base_width in widths:
        top_width = max(widths, key=lambda w: val_acc(widths[w]))
        near = [w for w in widths if val_acc(widths[w]) >= val_acc(widths[top_width]) - margin]
        narrow = min(widths)
        ours = ", ".join(f"{w}: {pct(r)}" for w, r in widths.items())
        ok = settings.base_width in near and val_acc(widths[top_width]) > val_acc(widths[narrow]) + margin
        rows.append(Claim(width_claim, "optimum ~2096", ours + f" (best: {top_width})", verdict(ok), tolerance,
                          f"reproduced if width {settings.base_width} is within the tolerance of the best width "
                          f"and width {narrow} is clearly worse"))
    else:
        rows.append(Claim(width_claim, "optimum ~2096", "-", MISSING))

    base = widths.get(settings.base_width) or depths.get(2)
    wide = _stored(runs, "best").get(settings.seeds[0])
    deeper = {d: r for d, r in depths.items() if d > 2}
    if base is not None and wide is not None and deeper:
        best_deeper = max(deeper, key=lambda d: val_acc(deeper[d]))
        gain_width = val_acc(wide) - val_acc(base)
        gain_depth = val_acc(deeper[best_deeper]) - val_acc(base)
        rows.append(Claim("Width helps more than depth", "width > depth",
                          f"2 x {settings.base_width} -> 2 x {settings.best_width}: {100 * gain_width:+.2f} points; "
                          f"-> {best_deeper} layers (best deeper): {100 * gain_depth:+.2f} points",
                          verdict(gain_width - gain_depth > margin), tolerance,
                          "validation accuracy gained from the base by widening vs by deepening"))
    else:
        rows.append(Claim("Width helps more than depth", "width > depth", "-", MISSING))

    batches = _stored(runs, "batch")
    if _complete(runs, "batch") and batches:
        top = max(val_acc(r) for r in batches.values())
        good = [b for b, r in batches.items() if val_acc(r) >= top - margin]

        def seconds_to_best(run) -> float:
            return sum(r["train_seconds"] for r in run.history[: run.metrics["best_epoch"]])

        fastest = min(good, key=lambda b: seconds_to_best(batches[b]))
        low, high = STUDY_BATCH_RANGE
        rows.append(Claim("Batch 256-512 is the best trade-off of accuracy and training time", "256-512",
                          f"within the tolerance of the best accuracy: {', '.join(map(str, good))}; "
                          f"of these the fastest to its best epoch: {fastest}",
                          verdict(low <= fastest <= high), tolerance,
                          "training time: stored seconds on this machine, to the kept epoch"))
    else:
        rows.append(Claim("Batch 256-512 is the best trade-off of accuracy and training time", "256-512", "-", MISSING))

    rates = _stored(runs, "lr")
    if _complete(runs, "lr") and rates:
        top_lr = max(rates, key=lambda lr: val_acc(rates[lr]))
        near = [lr for lr in rates if val_acc(rates[lr]) >= val_acc(rates[top_lr]) - margin]
        low, high = STUDY_LR_RANGE
        ours = ", ".join(f"{fmt_lr(lr)}: {pct(r)}" for lr, r in rates.items())
        rows.append(Claim("A learning rate of 2e-5 to 3e-5 is best", "2e-5 - 3e-5", ours + f" (best: {fmt_lr(top_lr)})",
                          verdict(any(low <= lr <= high for lr in near)), tolerance,
                          f"2 x {settings.base_width}, batch {settings.base_batch_size}, at most {settings.epochs} "
                          "epochs; reproduced if a rate in the range is within the tolerance of the best"))
    else:
        rows.append(Claim("A learning rate of 2e-5 to 3e-5 is best", "2e-5 - 3e-5", "-", MISSING))

    if best:
        gaps = [selected_row(r)["train_acc"] - val_acc(r) for r in best]
        mean_gap = sum(gaps) / len(gaps)
        rows.append(Claim("The best model overfits (train accuracy above validation)", "gap visible",
                          f"train - validation accuracy at the kept epoch: {100 * mean_gap:+.2f} points (n={len(gaps)})",
                          verdict(mean_gap > margin), tolerance))
    else:
        rows.append(Claim("The best model overfits (train accuracy above validation)", "gap visible", "-", MISSING))
    return rows


def joint_finding(runs: ChapterRuns) -> dict | None:
    """The best cell of the joint grid against the study's configuration (first seed), or None if incomplete."""
    grid = _stored(runs, "joint")
    mine = runs.sweeps["best"][0][1]
    if not grid or len(grid) < len(runs.sweeps["joint"]) or not is_stored(mine):
        return None
    (width, lr), top = max(grid.items(), key=lambda item: val_acc(item[1]))
    return {"width": width, "lr": lr, "val_acc": val_acc(top), "test_acc": top.metrics["accuracy"],
            "study_config_val_acc": val_acc(mine), "study_config_test_acc": mine.metrics["accuracy"],
            "gain": val_acc(top) - val_acc(mine)}


def regularisation_table(runs: ChapterRuns):
    return sweep_table(runs, "regularisation")


def conclusion(runs: ChapterRuns) -> str:
    """The chapter's answer, written from the stored numbers."""
    from ..claims import REPRODUCED, mean_std

    if not any(is_stored(run) for pairs in runs.sweeps.values() for _, run in pairs):
        return "_The conclusion is written once the chapter has stored runs._"
    settings = runs.settings
    rows = claims(runs)
    best = [run for _, run in runs.sweeps["best"] if is_stored(run)]
    margin, _ = noise(runs)
    reproduced = [c.claim for c in rows if c.verdict == REPRODUCED]
    judged = [c for c in rows if c.verdict in (REPRODUCED, "not reproduced")]
    lines = []
    if best:
        val_mean, val_std = mean_std([val_acc(r) for r in best])
        test_mean, test_std = mean_std([r.metrics["accuracy"] for r in best])
        spread = lambda std: f" ± {100 * std:.2f}" if std is not None else ""  # noqa: E731
        lines.append(
            f"- **Best model.** The study's best configuration (2 x {settings.best_width}, batch "
            f"{settings.base_batch_size}, learning rate {fmt_lr(settings.base_lr)}, cross-entropy) reaches "
            f"{100 * val_mean:.2f}%{spread(val_std)} validation and {100 * test_mean:.2f}%{spread(test_std)} test "
            f"accuracy over {counted(len(best), 'seed')} (study: 89.9% and 89.3%).")
    else:
        lines.append("- **Best model.** The study's best configuration has no stored run yet; the claims below are "
                     "judged on the sweeps that are stored.")
    lines.append(f"- **Claims.** {len(reproduced)} of {len(judged)} judged claims hold"
                 + (": " + "; ".join(reproduced) + "." if reproduced else "."))
    capped = capped_runs(runs)
    if capped:
        lines.append(f"- **Epoch limit.** {counted(len(capped), 'stored run')} used all {settings.epochs} epochs without "
                     f"meeting the patience rule ({', '.join(capped)}): they were still improving, so their "
                     "accuracy is a lower bound set by our epoch limit (the study states none).")
    not_held = [c for c in judged if c.verdict != REPRODUCED]
    if not_held:
        lines.append("- **Not reproduced.** " + "; ".join(f"{c.claim} (ours: {c.ours})" for c in not_held) + ".")
    finding = joint_finding(runs)
    if finding is not None:
        better = finding["gain"] > margin
        lines.append(
            f"- **Did one factor at a time miss a better MLP?** The best cell of the width x learning-rate grid is "
            f"width {finding['width']} at learning rate {fmt_lr(finding['lr'])}: {100 * finding['val_acc']:.2f}% "
            f"validation ({100 * finding['test_acc']:.2f}% test), against {100 * finding['study_config_val_acc']:.2f}% "
            f"({100 * finding['study_config_test_acc']:.2f}%) for the study's configuration with the same seed. "
            + ("That is better by more than the noise margin, so the one-factor search missed it."
               if better else "The difference is within the noise margin: the one-factor search did not miss a "
               "clearly better MLP in this grid."))
    regular = _stored(runs, "regularisation")
    if "none" in regular and len(regular) > 1:
        plain = val_acc(regular["none"])
        effects = ", ".join(f"{label} {100 * (val_acc(run) - plain):+.2f} points"
                            for label, run in regular.items() if label != "none")
        lines.append(f"- **Regularisation** (the study's future work) on the best MLP changes validation accuracy "
                     f"by: {effects} (noise margin ±{100 * margin:.2f}).")
    return "\n".join(lines)


# ----- figures --------------------------------------------------------------------------------------

def sweep_figure(runs: ChapterRuns, sweep: str, title: str, loss_label: str = "cross-entropy loss",
                 log_loss: bool = False):
    """Loss and accuracy per epoch of every stored run of a sweep (dashed: training, solid: validation)."""
    from .. import plots

    groups = histories(runs, sweep)
    missing = missing_settings(runs, sweep)
    if missing:
        print("not in the store yet: " + ", ".join(missing))
    if not groups:
        return None
    fig = plots.learning_curves(groups, title=title)
    fig.axes[0].set_ylabel(loss_label)
    if log_loss:
        fig.axes[0].set_yscale("log")
    return fig


def step_figure(runs: ChapterRuns):
    """Loss per learning step against loss per epoch for the step-logged run (study Figure 9)."""
    from .. import plots

    run = step_run(runs)
    if run is None:
        print("the step-logged run is not in the store yet")
        return None
    series = step_series(run)
    every = run.config.log_every_steps
    return plots.step_and_epoch_loss(series["steps"], series["losses"], series["epoch_end_steps"],
                                     {"training": series["train_loss"], "validation": series["val_loss"]},
                                     title=f"Batch {run.config.batch_size}: single-step losses ("
                                           + ("every step" if every == 1 else f"one step in {every}") + ") and epoch means")


def best_figure(runs: ChapterRuns):
    """Training dynamics of the study's best configuration, mean and range over the seeds (study Figure 11)."""
    from .. import plots

    stored = [run for _, run in runs.sweeps["best"] if is_stored(run)]
    if not stored:
        print("the best configuration is not in the store yet")
        return None
    settings = runs.settings
    label = f"2 x {settings.best_width}, batch {settings.base_batch_size}, lr {fmt_lr(settings.base_lr)}"
    return plots.learning_curves({label: [run.history for run in stored]},
                                 title=f"Best configuration: {counted(len(stored), 'seed')}, up to the shortest run")
