"""Chapter 4: six lightweight architectures, the study's test-set early stopping, and a corrected protocol.

Two protocols train the same six models (``SPECS.md`` section 4) with Adam 1e-3, batch 8, at most
100 epochs, patience 5 and pixels in [0, 1] (the study's code applies no ``Normalize``):

- the **study's protocol**: all 60,000 training images, the test set evaluated after every epoch,
  early stopping on the *test* loss (strict improvement resets the counter) and the best test
  accuracy over the epochs reported (``study_config``);
- the **corrected protocol**: 54,000 / 6,000 train / validation split, early stopping and
  checkpoint selection on the *validation* loss, the test set touched once at the end, several
  seeds (``corrected_config``).

A study-protocol run keeps its last-epoch model (``select_best=False``): its history holds the test
loss and accuracy of every epoch, from which "best over epochs", "at the early-stopping point"
and "last epoch" are all rebuilt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..claims import counted
from ..config import RunConfig
from ..params import ChapterSpec, Param, boolean, int_list, optional, positive_int, resolve
from ..store import describe, stored_runs  # noqa: F401  (the notebook calls chapter.stored_runs)

TITLE = "Lightweight architecture benchmark"
STUDY = "04_lightweight_benchmark.md"

# key -> (registered model, model arguments)
MODELS = {
    "lenet5": ("lenet5", {}),
    "resnet_mini": ("resnet_mini", {}),
    "densenet_tiny": ("densenet_tiny", {}),
    "mobilenet_lite": ("mobilenet_lite", {}),
    "vit_tiny": ("vit_tiny", {}),
    "custom_cnn": ("custom_cnn", {}),
}
TEXT_RESNET = "resnet_mini_base16"  # ResNet-Mini with the 16 base channels the study's text describes
VARIANTS = {TEXT_RESNET: ("resnet_mini", {"base": 16})}
LABELS = {"lenet5": "LeNet-5", "resnet_mini": "ResNet-Mini", "densenet_tiny": "DenseNet-Tiny",
          "mobilenet_lite": "MobileNet-Lite", "vit_tiny": "ViT-Tiny", "custom_cnn": "Custom CNN",
          TEXT_RESNET: "ResNet-Mini (base 16)"}

# Parameter counts computed from the layer specifications (SPECS.md), and the study's rounded column.
SPEC_PARAMETERS = {"lenet5": 61_706, "resnet_mini": 11_402, "densenet_tiny": 11_666, "mobilenet_lite": 14_218,
                   "vit_tiny": 105_546, "custom_cnn": 6_330, TEXT_RESNET: 175_370}
STUDY_PARAMETERS_K = {"lenet5": 62, "resnet_mini": 11, "densenet_tiny": 12, "mobilenet_lite": 14, "vit_tiny": 106,
                      "custom_cnn": 6}

# Table 1 of the study. Its caption says "final epoch"; the values are the best test accuracy over
# the epochs, with the other columns from that epoch (see SPECS.md): E = that epoch.
STUDY_TABLE1 = {  # train loss, test loss, train acc, test acc, E, epochs run
    "lenet5": (0.1931, 0.3203, 0.9274, 0.8907, 16, 21),
    "resnet_mini": (0.2596, 0.2488, 0.9062, 0.9110, 29, 34),
    "densenet_tiny": (0.3372, 0.3009, 0.8801, 0.8971, 18, 23),
    "mobilenet_lite": (0.2259, 0.2464, 0.9191, 0.9155, 41, 43),
    "vit_tiny": (0.2265, 0.3306, 0.9141, 0.8809, 25, 27),
    "custom_cnn": (0.2616, 0.2790, 0.9053, 0.9004, 13, 18),
}
# Table 2: train time per epoch (s, mean, std), test pass (ms, mean, std), epochs, total train (s), and
# the "train time / param." column, printed as "µs/K" but equal to the epoch time per parameter in µs.
STUDY_TABLE2 = {
    "lenet5": (20.29, 0.65, 1427, 77, 21, 426, 329),
    "resnet_mini": (81.93, 2.77, 3981, 205, 34, 2786, 7186),
    "densenet_tiny": (138.31, 3.33, 6958, 320, 23, 3181, 11856),
    "mobilenet_lite": (164.19, 2.78, 9590, 428, 43, 7060, 11548),
    "vit_tiny": (136.28, 4.78, 7103, 439, 27, 3680, 1291),
    "custom_cnn": (25.8, 1.3, 1755, 66, 18, 464, 4076),
}

# Seconds per epoch over 60,000 images at batch 8 with one thread, measured on this book's 2-core
# build machine while other trainings ran; only used to start the longest runs first.
EPOCH_SECONDS_ONE_THREAD = {"lenet5": 20, "resnet_mini": 115, "densenet_tiny": 167, "mobilenet_lite": 76,
                            "vit_tiny": 530, "custom_cnn": 82, TEXT_RESNET: 200}


def fraction(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        return "a number strictly between 0 and 1"
    return None


def non_negative_number(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return "a number >= 0"
    return None


def non_negative_int(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "an integer >= 0"
    return None


SPEC = ChapterSpec("lightweight_benchmark", [
    Param("study_seeds", {"paper": [42], "quick": [42], "smoke": [42]}, int_list,
          "training seeds of the study-protocol runs (the study fixed none)"),
    Param("seeds", {"paper": [42, 43, 44], "quick": [42, 43], "smoke": [42]}, int_list,
          "training seeds of the corrected-protocol runs"),
    Param("epochs", {"paper": 100, "quick": 10, "smoke": 2}, positive_int,
          "most epochs per run (early stopping usually ends a run first)"),
    Param("patience", 5, positive_int, "epochs without strict improvement of the monitored loss before stopping"),
    Param("batch_size", 8, positive_int, "training batch size"),
    Param("val_fraction", 0.1, fraction, "share of the 60,000 training images held out for validation "
                                         "(corrected protocol)"),
    Param("train_subset", {"paper": None, "quick": 3000, "smoke": 128}, optional(positive_int),
          "train on only the first n training images (None: all)"),
    Param("eval_subset", {"paper": None, "quick": 2000, "smoke": 100}, optional(positive_int),
          "validate and test on only the first n images (None: all)"),
    Param("text_resnet", True, boolean,
          "also train ResNet-Mini with the text's 16 base channels (corrected protocol, first seed)"),
    Param("timing_threads", 1, positive_int, "threads of the throughput measurement"),
    Param("timing_steps", {"paper": 100, "quick": 30, "smoke": 2}, positive_int,
          "training steps timed per model (at least timing_seconds long)"),
    Param("timing_seconds", {"paper": 1.0, "quick": 0.5, "smoke": 0.0}, non_negative_number,
          "shortest time of each throughput measurement, in seconds"),
    Param("parallel_steps", {"paper": 200, "quick": 100, "smoke": 0}, non_negative_int,
          "steps per training in the side-by-side vs one-after-another measurement (0: skip it)"),
])


def settings_from(namespace: dict):
    return resolve(SPEC, namespace)


def _common(settings, key: str, seed: int) -> dict:
    model, model_args = {**MODELS, **VARIANTS}[key]
    return dict(model=model, model_args=dict(model_args), normalize=None, optimizer="adam", lr=1e-3,
                train_subset=settings.train_subset, eval_subset=settings.eval_subset, epochs=settings.epochs,
                batch_size=settings.batch_size, patience=settings.patience, seed=seed)


def study_config(settings, key: str, seed: int) -> RunConfig:
    """The study's protocol: no validation split, test loss watched every epoch, last model kept."""
    return RunConfig(**_common(settings, key, seed), val_fraction=0.0, track_test=True, monitor="test_loss",
                     select_best=False)


def corrected_config(settings, key: str, seed: int) -> RunConfig:
    """The corrected protocol: stop on and select by validation loss; the test set is used once."""
    return RunConfig(**_common(settings, key, seed), val_fraction=settings.val_fraction, split_seed=42,
                     monitor="val_loss", select_best=True, track_test=False)


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """Every run as (configuration, needs weights): study protocol, corrected protocol, text variant."""
    runs = [(study_config(settings, key, seed), False) for key in MODELS for seed in settings.study_seeds]
    runs += [(corrected_config(settings, key, seed), False) for key in MODELS for seed in settings.seeds]
    if settings.text_resnet:
        runs.append((corrected_config(settings, TEXT_RESNET, settings.seeds[0]), False))
    return runs


def _key_of(config: RunConfig) -> str:
    for key, (model, args) in {**MODELS, **VARIANTS}.items():
        if model == config.model and args == config.model_args:
            return key
    return config.model


def estimated_seconds(config: RunConfig) -> float:
    """A rough CPU time (one thread) for ordering the runs: the study's epoch count x our epoch time."""
    key = _key_of(config)
    epochs = min(config.epochs, STUDY_TABLE1[key if key in STUDY_TABLE1 else "resnet_mini"][5])
    images = (config.train_subset or 60_000 * (1 - config.val_fraction)) / 60_000
    return EPOCH_SECONDS_ONE_THREAD.get(key, 100) * epochs * images


def longest_first(planned: list[tuple[RunConfig, bool]]) -> list[tuple[RunConfig, bool]]:
    return sorted(planned, key=lambda item: -estimated_seconds(item[0]))


def fill_store(settings, store, workers, runs=None):
    """Train what is missing of ``runs`` (default: the whole plan, longest runs first) as one
    single-threaded process per core.

    Batch-8 steps are dominated by per-step overhead, so two one-thread trainings side by side beat
    one two-thread training (the chapter measures the ratio).
    """
    from ..sweep import run_sweep

    configs = [c for c, _ in (longest_first(plan(settings)) if runs is None else runs)]
    return run_sweep(configs, store, workers=workers or settings.workers, threads_per_worker=1,
                     device="cpu" if settings.device == "auto" else settings.device, progress=settings.progress)


@dataclass
class ChapterRuns:
    study: dict  # model key -> [StoredRun | MissingRun] per study seed
    corrected: dict  # model key -> [StoredRun | MissingRun] per seed
    text_resnet: object  # StoredRun | MissingRun | None
    study_seeds: list
    seeds: list


def gather(settings) -> ChapterRuns:
    """Every run of the chapter from the store (training missing ones, longest first, if asked)."""
    from ..store import ResultStore
    from ..sweep import collect_runs

    store = ResultStore(settings.store_dir)
    found = {run.key: run for run in collect_runs(longest_first(plan(settings)), settings, store)}
    text = None
    if settings.text_resnet:
        text = found[store.key(corrected_config(settings, TEXT_RESNET, settings.seeds[0]))]
    return ChapterRuns(
        study={k: [found[store.key(study_config(settings, k, s))] for s in settings.study_seeds] for k in MODELS},
        corrected={k: [found[store.key(corrected_config(settings, k, s))] for s in settings.seeds] for k in MODELS},
        text_resnet=text, study_seeds=list(settings.study_seeds), seeds=list(settings.seeds))


# ----- reading runs -----------------------------------------------------------------------------

def best_epoch_row(history: list[dict]) -> dict:
    """The epoch the study reports: the highest test accuracy (the first such epoch on ties)."""
    return max(history, key=lambda row: (row["test_acc"], -row["epoch"]))


def stopping_row(history: list[dict]) -> dict:
    """The epoch early stopping keyed on: the lowest test loss (strict improvement, so the first)."""
    return min(history, key=lambda row: (row["test_loss"], row["epoch"]))


def study_summary(run) -> dict:
    """What a study-protocol run says, read three ways from its per-epoch test evaluations."""
    history = run.history
    best, stop, last = best_epoch_row(history), stopping_row(history), history[-1]
    return {"best_acc": best["test_acc"], "best_epoch": best["epoch"], "train_loss": best["train_loss"],
            "test_loss": best["test_loss"], "train_acc": best["train_acc"], "epochs_run": len(history),
            "stop_acc": stop["test_acc"], "stop_epoch": stop["epoch"], "last_acc": last["test_acc"],
            "gap": best["train_acc"] - best["test_acc"]}


def _mean_std(values) -> tuple[float, float]:
    from ..claims import mean_std

    mean, std = mean_std(values)
    return mean, (std or 0.0)


def _pm(values, scale: float = 100.0, digits: int = 2) -> str:
    if not values:
        return "-"
    mean, std = _mean_std(values)
    if len(values) == 1:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def corrected_accuracy(runs: ChapterRuns, key: str) -> dict:
    """Seed -> test accuracy of the validation-selected model."""
    return {r.config.seed: r.metrics["accuracy"] for r in stored_runs(runs.corrected[key])}


def every_seed_stored(runs: ChapterRuns) -> bool:
    """Every model has every corrected-protocol seed: rankings are judged on all seeds, never on fewer."""
    return all(len(corrected_accuracy(runs, k)) == len(runs.seeds) for k in MODELS)


def study_best(runs: ChapterRuns, key: str) -> list[float]:
    return [study_summary(r)["best_acc"] for r in stored_runs(runs.study[key])]


# ----- what the chapter shows -------------------------------------------------------------------

def overview(runs: ChapterRuns):
    import pandas as pd

    rows = [{"protocol": "study (test-set stopping)", "model": LABELS[k], "seed": r.config.seed, "run": r.key,
             "status": describe(r)} for k, group in runs.study.items() for r in group]
    rows += [{"protocol": "corrected (validation)", "model": LABELS[k], "seed": r.config.seed, "run": r.key,
              "status": describe(r)} for k, group in runs.corrected.items() for r in group]
    if runs.text_resnet is not None:
        r = runs.text_resnet
        rows.append({"protocol": "corrected (validation)", "model": LABELS[TEXT_RESNET], "seed": r.config.seed,
                     "run": r.key, "status": describe(r)})
    return pd.DataFrame(rows)


@lru_cache(maxsize=None)
def model_cost(key: str) -> dict:
    """Parameters and forward FLOPs per image of one model (FLOPs as ``benchmark.count_flops`` counts them)."""
    from ..benchmark import Case, count_flops
    from ..models import build_model, count_parameters

    model, args = {**MODELS, **VARIANTS}[key]
    parameters = count_parameters(build_model(model, **args))
    flops = count_flops(Case(key, 4, model, 8, model_args=dict(args)), n=2)["forward_flops_per_image"]
    return {"parameters": parameters, "forward_flops": flops}


def parameter_table():
    """Our parameter counts beside the specification and the study's rounded column, with the work each
    parameter does: forward multiply-adds per image divided by parameters."""
    import pandas as pd

    rows = []
    for key in (*MODELS, TEXT_RESNET):
        cost = model_cost(key)
        rows.append({
            "model": LABELS[key],
            "study (Table 1)": f"{STUDY_PARAMETERS_K[key]}K" if key in STUDY_PARAMETERS_K else "16 channels (text)",
            "specification": f"{SPEC_PARAMETERS[key]:,}",
            "this book": f"{cost['parameters']:,}",
            "forward MFLOPs / image": round(cost["forward_flops"] / 1e6, 2),
            "multiply-adds per parameter per image": round(cost["forward_flops"] / 2 / cost["parameters"], 1),
        })
    return pd.DataFrame(rows).set_index("model")


def table1(runs: ChapterRuns):
    """Study Table 1 beside our study-protocol runs: every column at the epoch of best test accuracy,
    plus the test accuracy at the early-stopping point and at the last epoch."""
    import pandas as pd

    rows = []
    for key, group in runs.study.items():
        tl, vl, ta, va, epoch, ran = STUDY_TABLE1[key]
        rows.append({"model": LABELS[key], "source": "study", "train loss": f"{tl:.4f}", "test loss": f"{vl:.4f}",
                     "train acc": f"{100 * ta:.2f}", "test acc (best)": f"{100 * va:.2f}", "best epoch": str(epoch),
                     "epochs run": str(ran), "test acc at min test loss": "-", "test acc, last epoch": "-"})
        for run in stored_runs(group):
            s = study_summary(run)
            rows.append({"model": LABELS[key], "source": f"seed {run.config.seed}",
                         "train loss": f"{s['train_loss']:.4f}", "test loss": f"{s['test_loss']:.4f}",
                         "train acc": f"{100 * s['train_acc']:.2f}", "test acc (best)": f"{100 * s['best_acc']:.2f}",
                         "best epoch": str(s["best_epoch"]), "epochs run": str(s["epochs_run"]),
                         "test acc at min test loss": f"{100 * s['stop_acc']:.2f} (E={s['stop_epoch']})",
                         "test acc, last epoch": f"{100 * s['last_acc']:.2f}"})
        if not stored_runs(group):
            rows.append({"model": LABELS[key], "source": "this book", "train loss": "missing"})
    return pd.DataFrame(rows).fillna("").set_index(["model", "source"])


def first_histories(runs: ChapterRuns, protocol: str = "study") -> dict:
    """Label -> history of the first stored run of each model."""
    groups = runs.study if protocol == "study" else runs.corrected
    return {LABELS[k]: stored_runs(g)[0].history for k, g in groups.items() if stored_runs(g)}


def stop_marks(runs: ChapterRuns) -> dict:
    """Label -> the epoch of lowest test loss (where the study's early stopping anchored)."""
    return {LABELS[k]: stopping_row(stored_runs(g)[0].history)["epoch"] for k, g in runs.study.items()
            if stored_runs(g)}


def table2(runs: ChapterRuns):
    """Study Table 2 beside ours: per-epoch training time and test-pass time from the stored histories."""
    import pandas as pd

    rows = []
    for key, group in runs.study.items():
        t, t_sd, i, i_sd, epochs, total, per_param = STUDY_TABLE2[key]
        rows.append({"model": LABELS[key], "source": "study", "train time / epoch (s)": f"{t:.2f} ± {t_sd:.2f}",
                     "test pass (ms)": f"{i:.0f} ± {i_sd:.0f}", "epochs": epochs, "total train (s)": f"{total:.0f}",
                     "train time / parameter (µs)": f"{per_param:.0f}", "threads": "?"})
        for run in stored_runs(group):
            train = [row["train_seconds"] for row in run.history]
            test = [1000 * row["eval_seconds"] for row in run.history]
            rows.append({"model": LABELS[key], "source": f"seed {run.config.seed}",
                         "train time / epoch (s)": "{:.2f} ± {:.2f}".format(*_mean_std(train)),
                         "test pass (ms)": "{:.0f} ± {:.0f}".format(*_mean_std(test)), "epochs": len(train),
                         "total train (s)": f"{sum(train):.0f}",
                         "train time / parameter (µs)": f"{1e6 * _mean_std(train)[0] / run.parameters:.0f}",
                         "threads": str(run.result.get("provenance", {}).get("threads", "?"))})
    return pd.DataFrame(rows).set_index(["model", "source"])


def unit_check():
    """The study's last Table 2 column recomputed from its own numbers, per parameter and per 1K parameters."""
    import pandas as pd

    rows = []
    for key, (t, _, _, _, _, _, printed) in STUDY_TABLE2.items():
        rows.append({"model": LABELS[key], "train time / epoch (s)": t, "parameters": SPEC_PARAMETERS[key],
                     "printed ('µs/K')": printed, "µs per parameter": round(1e6 * t / SPEC_PARAMETERS[key]),
                     "µs per 1K parameters": round(1e3 * t / SPEC_PARAMETERS[key], 2)})
    return pd.DataFrame(rows).set_index("model")


def mean_epoch_seconds(runs: ChapterRuns, field: str = "train_seconds") -> dict:
    """Model key -> mean seconds per epoch over every stored study-protocol epoch (None if missing)."""
    out = {}
    for key, group in runs.study.items():
        values = [row[field] for run in stored_runs(group) for row in run.history]
        out[key] = sum(values) / len(values) if values else None
    return out


def corrected_table(runs: ChapterRuns):
    """Test accuracy of the validation-selected model, per seed and mean ± std, with its macro F1."""
    import pandas as pd

    from ..store import MissingRun

    rows = []
    for key, group in runs.corrected.items():
        stored = stored_runs(group)
        row = {"model": LABELS[key], "parameters": f"{SPEC_PARAMETERS[key]:,}"}
        for run in group:
            row[f"seed {run.config.seed}"] = "missing" if isinstance(run, MissingRun) else f"{100 * run.metrics['accuracy']:.2f}"
        row["mean ± std"] = _pm([r.metrics["accuracy"] for r in stored])
        row["macro F1"] = _pm([r.metrics["macro_f1"] for r in stored], scale=1.0, digits=4)
        row["selected epoch"] = ", ".join(str(r.metrics["best_epoch"]) for r in stored) or "-"
        row["epochs run"] = ", ".join(str(r.metrics["epochs_run"]) for r in stored) or "-"
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def flattery(runs: ChapterRuns) -> dict:
    """Model key -> points the study's protocol adds: its best-over-epochs test accuracy (mean over study
    seeds) minus the corrected protocol's test accuracy (mean over seeds); None if either is missing."""
    out = {}
    for key in MODELS:
        best, honest = study_best(runs, key), list(corrected_accuracy(runs, key).values())
        out[key] = 100 * (_mean_std(best)[0] - _mean_std(honest)[0]) if best and honest else None
    return out


def flattery_table(runs: ChapterRuns):
    import pandas as pd

    lift = flattery(runs)
    rows = []
    for key in MODELS:
        summaries = [study_summary(r) for r in stored_runs(runs.study[key])]
        honest = list(corrected_accuracy(runs, key).values())
        rows.append({
            "model": LABELS[key],
            "study: reported in Table 1": f"{100 * STUDY_TABLE1[key][3]:.2f}",
            "study protocol: best epoch (reported)": _pm([s["best_acc"] for s in summaries]),
            "study protocol: at min test loss": _pm([s["stop_acc"] for s in summaries]),
            "study protocol: last epoch": _pm([s["last_acc"] for s in summaries]),
            f"corrected: validation-selected (n={len(honest)})": _pm(honest),
            "flattery (points)": "-" if lift[key] is None else f"{lift[key]:+.2f}",
        })
    return pd.DataFrame(rows).set_index("model")


def flattery_bars_frame(runs: ChapterRuns):
    """Long frame for ``plots.grouped_bars``: both protocols' test accuracy per model, with std."""
    import pandas as pd

    rows = []
    for key in MODELS:
        best, honest = study_best(runs, key), list(corrected_accuracy(runs, key).values())
        for protocol, values in (("study protocol (best epoch on test)", best),
                                 ("corrected (validation-selected)", honest)):
            if values:
                mean, std = _mean_std(values)
                rows.append({"model": LABELS[key], "protocol": protocol, "test accuracy": mean,
                             "test accuracy_std": std if len(values) > 1 else float("nan")})
    return pd.DataFrame(rows)


# ----- per class ----------------------------------------------------------------------------------

def per_class_f1(runs: ChapterRuns):
    """F1 per class and model, mean over the corrected seeds."""
    import pandas as pd

    from ..data import CLASSES
    from ..evaluate import class_report

    columns = {}
    for key, group in runs.corrected.items():
        reports = [class_report(r.targets, r.predictions).loc[list(CLASSES), "f1"] for r in stored_runs(group)]
        if reports:
            columns[LABELS[key]] = sum(reports) / len(reports)
    return pd.DataFrame(columns, index=list(CLASSES)).round(4)


def pooled_confusion(run_list: list):
    """Row-normalised confusion matrix of several runs' predictions together."""
    import numpy as np

    from ..evaluate import normalized_confusion

    return normalized_confusion(np.concatenate([r.targets for r in run_list]),
                                np.concatenate([r.predictions for r in run_list]))


def confusion_by_model(runs: ChapterRuns) -> dict:
    """Label -> confusion matrix pooled over the corrected seeds."""
    return {f"{LABELS[k]} (n={len(stored_runs(g))})": pooled_confusion(stored_runs(g))
            for k, g in runs.corrected.items() if stored_runs(g)}


def top_confusions(runs: ChapterRuns, k: int = 3):
    """The ``k`` most frequent mistakes of each model (share of the true class, pooled over seeds)."""
    import numpy as np
    import pandas as pd

    from ..data import CLASSES

    rows = []
    for key, group in runs.corrected.items():
        if not stored_runs(group):
            continue
        matrix = pooled_confusion(stored_runs(group)).copy()
        np.fill_diagonal(matrix, 0)
        order = np.argsort(-matrix, axis=None, kind="stable")[:k]
        row = {"model": LABELS[key]}
        for rank, flat in enumerate(order, start=1):
            i, j = np.unravel_index(flat, matrix.shape)
            row[f"mistake {rank}"] = f"{CLASSES[i]} -> {CLASSES[j]} ({100 * matrix[i, j]:.1f}%)"
        rows.append(row)
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


# ----- rankings with uncertainty --------------------------------------------------------------------

def wins(runs: ChapterRuns, a: str, b: str) -> tuple[int, int]:
    """(seeds where model ``a`` is more accurate than ``b``, seeds where both are stored)."""
    acc_a, acc_b = corrected_accuracy(runs, a), corrected_accuracy(runs, b)
    common = sorted(set(acc_a) & set(acc_b))
    return sum(acc_a[s] > acc_b[s] for s in common), len(common)


def beats(runs: ChapterRuns, a: str, b: str) -> bool:
    """``a`` is more accurate than ``b`` in every seed both have (and at least one)."""
    won, n = wins(runs, a, b)
    return n > 0 and won == n


def pairwise_table(runs: ChapterRuns):
    """Row model beats column model in k of n seeds (corrected protocol)."""
    import pandas as pd

    table = {}
    for a in MODELS:
        table[LABELS[a]] = {LABELS[b]: ("" if a == b else "{}/{}".format(*wins(runs, a, b)) if wins(runs, a, b)[1]
                                        else "-") for b in MODELS}
    return pd.DataFrame(table).T


def dominated_by(runs: ChapterRuns, key: str, cost: dict) -> list[str]:
    """Models at most as costly as ``key`` (by ``cost``: key -> number) that beat it in every seed."""
    if cost.get(key) is None:
        return []
    return [other for other in MODELS if other != key and cost.get(other) is not None
            and cost[other] <= cost[key] and beats(runs, other, key)]


def ranking_table(runs: ChapterRuns):
    """Corrected-protocol accuracy, rank, and which models dominate each one on accuracy vs cost."""
    import pandas as pd

    seconds = mean_epoch_seconds(runs)
    rows = []
    for key in MODELS:
        accuracies = list(corrected_accuracy(runs, key).values())
        rows.append({"model": LABELS[key], "parameters": SPEC_PARAMETERS[key],
                     "test accuracy (mean ± std)": _pm(accuracies),
                     "mean": 100 * _mean_std(accuracies)[0] if accuracies else float("nan"),
                     "dominated on parameters by": ", ".join(LABELS[o] for o in dominated_by(runs, key, SPEC_PARAMETERS)) or "none",
                     "dominated on epoch time by": ", ".join(LABELS[o] for o in dominated_by(runs, key, seconds)) or "none"})
    frame = pd.DataFrame(rows)
    frame.insert(1, "rank", frame["mean"].rank(ascending=False, method="min"))
    return frame.drop(columns="mean").set_index("model")


def tradeoff_frame(runs: ChapterRuns):
    """Accuracy against parameters, ours (corrected protocol) and the study's Table 1."""
    import pandas as pd

    rows = []
    for key in MODELS:
        accuracies = list(corrected_accuracy(runs, key).values())
        if accuracies:
            mean, std = _mean_std(accuracies)
            rows.append({"model": LABELS[key], "source": "this book (corrected, mean ± std)",
                         "parameters": SPEC_PARAMETERS[key], "test accuracy (%)": 100 * mean,
                         "std": 100 * std if len(accuracies) > 1 else float("nan")})
        rows.append({"model": LABELS[key], "source": "study (Table 1, best epoch on test)",
                     "parameters": SPEC_PARAMETERS[key], "test accuracy (%)": 100 * STUDY_TABLE1[key][3],
                     "std": float("nan")})
    return pd.DataFrame(rows)


def text_resnet_table(runs: ChapterRuns):
    """ResNet-Mini as trained (base 4) beside the text's base 16, corrected protocol, same seed."""
    import pandas as pd

    if runs.text_resnet is None:
        return pd.DataFrame()
    seed = runs.text_resnet.config.seed
    base4 = {r.config.seed: r for r in stored_runs(runs.corrected["resnet_mini"])}.get(seed)
    text = stored_runs([runs.text_resnet])
    rows = []
    for label, run, parameters in (("ResNet-Mini, base 4 (trained by the study)", base4, SPEC_PARAMETERS["resnet_mini"]),
                                   ("ResNet-Mini, base 16 (the study's text)", text[0] if text else None,
                                    SPEC_PARAMETERS[TEXT_RESNET])):
        rows.append({"model": label, "parameters": f"{parameters:,}", "seed": seed,
                     "test accuracy": "missing" if run is None else f"{100 * run.metrics['accuracy']:.2f}",
                     "selected epoch": "-" if run is None else run.metrics["best_epoch"]})
    return pd.DataFrame(rows).set_index("model")


# ----- timing measured on this machine ----------------------------------------------------------------

def throughput_table(settings):
    """Training images/s at the chapter's batch size and inference images/s at batch 1000, one model at a
    time with ``settings.timing_threads`` threads, measured now on this machine."""
    import pandas as pd

    from ..benchmark import BUSY_SHARE, measure_throughput, other_work_share

    busy = other_work_share()  # a busy machine lowers every rate below; say so beside the table
    print(f"other work on the machine just before measuring: {100 * busy:.0f}% of all cores"
          + (" - these rates are lower than on an idle machine" if busy > BUSY_SHARE else ""))
    rows = []
    for key in MODELS:
        model, args = MODELS[key]
        m = measure_throughput(model, args, threads=settings.timing_threads, train_batch=settings.batch_size,
                               eval_batch=1000, warmup=min(5, settings.timing_steps), steps=settings.timing_steps,
                               eval_steps=1 if settings.timing_steps < 10 else 2, min_time=settings.timing_seconds)
        epoch = 60_000 / m["train_images_per_s"]
        rows.append({
            "model": LABELS[key], "parameters": m["parameters"],
            "train images/s (batch %d)" % settings.batch_size: round(m["train_images_per_s"]),
            "inference images/s (batch 1000)": round(m["inference_images_per_s"]),
            "train µs / image": round(1e6 / m["train_images_per_s"]),
            "epoch of 60k (s)": round(epoch, 1),
            "study epoch (s)": STUDY_TABLE2[key][0],
            "epoch µs / parameter": round(1e6 * epoch / m["parameters"]),
            "training GFLOP/s": round(m["train_images_per_s"] * m["train_flops_per_image"] / 1e9, 2),
        })
    return pd.DataFrame(rows).set_index("model")


def parallel_table(settings, model: str = "resnet_mini"):
    """Two batch-size trainings side by side (2 processes x 1 thread) against one after another with 2
    threads, ``settings.parallel_steps`` steps each; ``None`` when the measurement is switched off."""
    import pandas as pd

    from ..benchmark import Case, measure_parallel

    if not settings.parallel_steps:
        return None
    case = Case(model, 4, MODELS[model][0], settings.batch_size, model_args=dict(MODELS[model][1]))
    result = measure_parallel(case, threads=2, warmup=min(10, settings.parallel_steps),
                              steps=settings.parallel_steps, min_time=0.0)
    return pd.DataFrame([
        {"setup": "2 processes x 1 thread, side by side", "images/s (both trainings)":
            round(result["side_by_side"]["images_per_s"], 1), "relative speed": round(result["ratio"], 2)},
        {"setup": "1 process x 2 threads, one after the other", "images/s (both trainings)":
            round(result["one_after_another"]["images_per_s"], 1), "relative speed": 1.0},
    ]).set_index("setup")


# ----- study vs this book ---------------------------------------------------------------------------

def _ranked(values: dict, reverse: bool = False) -> list[str]:
    present = {k: v for k, v in values.items() if v is not None}
    return sorted(present, key=lambda k: present[k], reverse=reverse)


def _names(keys) -> str:
    return ", ".join(LABELS[k] for k in keys)


def claims(runs: ChapterRuns) -> list:
    """Every headline number and ranking of the study beside ours."""
    from ..claims import MISSING, NOT_COMPARABLE, NOT_REPRODUCED, REPRODUCED, Claim, numeric_claim
    from ..models import build_model, count_parameters

    rows = []
    counts = {k: count_parameters(build_model(m, **a)) for k, (m, a) in {**MODELS, **VARIANTS}.items()}
    rounded = all(round(counts[k] / 1000) == STUDY_PARAMETERS_K[k] for k in MODELS)
    rows.append(Claim("Parameter counts (Table 1)", " / ".join(f"{STUDY_PARAMETERS_K[k]}K" for k in MODELS),
                      " / ".join(f"{counts[k]:,}" for k in MODELS), REPRODUCED if rounded else NOT_REPRODUCED,
                      "same when rounded to thousands", _names(MODELS)))
    rows.append(Claim("ResNet-Mini: 16 initial channels and 11K parameters (appendix, Table 1)", "16 channels, 11K",
                      f"16 channels give {counts[TEXT_RESNET]:,}; 11K needs 4 ({counts['resnet_mini']:,})",
                      NOT_REPRODUCED, "", "the study's code trained base 4; its text describes base 16"))

    # Table 1: the study's protocol, best test accuracy over the epochs.
    for key in MODELS:
        summaries = [study_summary(r) for r in stored_runs(runs.study[key])]
        note = ""
        if summaries:
            note = "best epoch " + ", ".join(f"{s['best_epoch']} of {s['epochs_run']}" for s in summaries) + \
                   f" (study: {STUDY_TABLE1[key][4]} of {STUDY_TABLE1[key][5]})"
        rows.append(numeric_claim(f"{LABELS[key]}: test accuracy (Table 1, best epoch, study protocol)",
                                  STUDY_TABLE1[key][3], [s["best_acc"] for s in summaries], floor=0.005, note=note))

    gaps = {k: _mean_std([study_summary(r)["gap"] for r in stored_runs(g)])[0] if stored_runs(g) else None
            for k, g in runs.study.items()}
    if all(v is not None for v in gaps.values()):
        order = _ranked(gaps, reverse=True)
        rows.append(Claim("LeNet-5 overfits most: largest train-test gap (Table 1)", "3.67 points, largest",
                          f"{100 * gaps['lenet5']:.2f} points; largest: {LABELS[order[0]]} ({100 * gaps[order[0]]:.2f})",
                          REPRODUCED if order[0] == "lenet5" else NOT_REPRODUCED, "largest of the six",
                          "train accuracy is the epoch's running mean with dropout on, as in the study's loop"))
    else:
        rows.append(Claim("LeNet-5 overfits most: largest train-test gap (Table 1)", "3.67 points, largest", "-", MISSING))

    # Rankings under the corrected protocol, with every seed.
    complete = every_seed_stored(runs)
    means = {k: _mean_std(list(corrected_accuracy(runs, k).values()))[0] for k in MODELS} if complete else {}
    rule = "ahead of every other model in every seed (corrected protocol)"

    def top_claim(claim: str, study: str, key: str):
        if not complete:
            return Claim(claim, study, "-", MISSING)
        top = _ranked(means, reverse=True)[0]
        others = [o for o in MODELS if o != key]
        held = all(beats(runs, key, o) for o in others)
        note = "; ".join(f"vs {LABELS[o]} {wins(runs, key, o)[0]}/{wins(runs, key, o)[1]}" for o in others
                         if not beats(runs, key, o)) or "ahead in every seed"
        return Claim(claim, study, f"{LABELS[key]} {100 * means[key]:.2f}%; highest mean: {LABELS[top]} "
                     f"{100 * means[top]:.2f}% (n={len(runs.seeds)})", REPRODUCED if held else NOT_REPRODUCED, rule,
                     note if not held else "")

    rows.append(top_claim("Most accurate model: MobileNet-Lite (Table 1)", "91.55%", "mobilenet_lite"))
    rows.append(top_claim("Most accurate model: ResNet-Mini (text and conclusion)", "91.10%", "resnet_mini"))
    if complete:
        won, n = wins(runs, "resnet_mini", "vit_tiny")
        rows.append(Claim("ResNet-Mini (11K) more accurate than ViT-Tiny (106K)", "91.10% vs 88.09%",
                          f"{100 * means['resnet_mini']:.2f}% vs {100 * means['vit_tiny']:.2f}%, ahead in {won}/{n} seeds",
                          REPRODUCED if beats(runs, "resnet_mini", "vit_tiny") else NOT_REPRODUCED, "every seed"))
    else:
        rows.append(Claim("ResNet-Mini (11K) more accurate than ViT-Tiny (106K)", "91.10% vs 88.09%", "-", MISSING))

    seconds = mean_epoch_seconds(runs)
    timed = all(v is not None for v in seconds.values())
    if complete and timed:
        by_params, by_time = dominated_by(runs, "resnet_mini", SPEC_PARAMETERS), dominated_by(runs, "resnet_mini", seconds)
        ours = ("not dominated" if not by_params and not by_time else
                "dominated by " + _names(dict.fromkeys(by_params + by_time)))
        rows.append(Claim("ResNet-Mini: best trade-off of accuracy, speed and size", "most balanced performer", ours,
                          REPRODUCED if not by_params and not by_time else NOT_REPRODUCED,
                          "no model at most as large (or as slow per epoch) beats it in every seed",
                          "epoch times of the stored study-protocol runs"))
        larger = ["lenet5", "densenet_tiny", "vit_tiny"]
        beaten = [k for k in larger if beats(runs, "custom_cnn", k)]
        smallest = min(SPEC_PARAMETERS[k] for k in MODELS) == SPEC_PARAMETERS["custom_cnn"]
        rows.append(Claim("Custom CNN: most parameter-efficient (6K, 90.04%)",
                          "fewest parameters, beats LeNet-5, DenseNet-Tiny, ViT-Tiny",
                          f"{100 * means['custom_cnn']:.2f}%; beats {_names(beaten) or 'none of them'} in every seed",
                          REPRODUCED if smallest and len(beaten) == len(larger) else NOT_REPRODUCED,
                          "smallest model and ahead of the three larger models the study ranks below it, every seed"))
    else:
        rows.append(Claim("ResNet-Mini: best trade-off of accuracy, speed and size", "most balanced performer", "-", MISSING))
        rows.append(Claim("Custom CNN: most parameter-efficient (6K, 90.04%)",
                          "fewest parameters, beats LeNet-5, DenseNet-Tiny, ViT-Tiny", "-", MISSING))

    # The protocol itself.
    lift = flattery(runs)
    if complete and all(v is not None for v in lift.values()):
        values = [lift[k] for k in MODELS]
        mean, std = _mean_std(values)
        tolerance = max(0.1, 2 * std / math.sqrt(len(values)))  # points; a tenth of a point is no bias
        positive = sum(v > 0 for v in values)
        rows.append(Claim("Table 1 accuracies are unbiased held-out estimates",
                          "reported as test accuracy", f"test-selected minus validation-selected: {mean:+.2f} points "
                          f"on average ({min(values):+.2f} to {max(values):+.2f}; higher for {positive} of 6 models)",
                          NOT_REPRODUCED if mean > tolerance else REPRODUCED,
                          f"mean within ±{tolerance:.2f} points of zero (2 standard errors over models, at least 0.1)",
                          "study protocol: best epoch by test accuracy, stopping on test loss, 60k training images"))
    else:
        rows.append(Claim("Table 1 accuracies are unbiased held-out estimates", "reported as test accuracy", "-", MISSING))

    # Table 2: speed.
    study_seconds = {k: STUDY_TABLE2[k][0] for k in MODELS}
    rows.append(Claim("Table 2 last column is training time per 1K parameters ('µs/K')", "329 µs/K (LeNet-5)",
                      f"{STUDY_TABLE2['lenet5'][0]} s / {SPEC_PARAMETERS['lenet5']:,} = "
                      f"{1e6 * STUDY_TABLE2['lenet5'][0] / SPEC_PARAMETERS['lenet5']:.0f} µs per parameter",
                      NOT_REPRODUCED, "recomputed from the study's own columns", "the same holds for all six rows"))
    if timed:
        fastest, slowest = _ranked(seconds)[:2], _ranked(seconds, reverse=True)[:2]
        rows.append(Claim("Per-epoch training time (Table 2)", "20-164 s", "this machine, one thread per run",
                          NOT_COMPARABLE, "", "different hardware; the study does not name its machine"))
        rows.append(Claim("Fastest training per epoch: LeNet-5 and Custom CNN", _names(_ranked(study_seconds)[:2]),
                          f"fastest two: {_names(fastest)}",
                          REPRODUCED if set(fastest) == {"lenet5", "custom_cnn"} else NOT_REPRODUCED, "the two fastest"))
        rows.append(Claim("Slowest training per epoch: MobileNet-Lite and DenseNet-Tiny",
                          _names(_ranked(study_seconds, reverse=True)[:2]), f"slowest two: {_names(slowest)}",
                          REPRODUCED if set(slowest) == {"mobilenet_lite", "densenet_tiny"} else NOT_REPRODUCED,
                          "the two slowest"))
        ratio = seconds["mobilenet_lite"] / seconds["densenet_tiny"]
        rows.append(Claim("MobileNet-Lite slower than DenseNet-Tiny despite similar size",
                          f"{STUDY_TABLE2['mobilenet_lite'][0] / STUDY_TABLE2['densenet_tiny'][0]:.2f}x DenseNet's epoch time",
                          f"{ratio:.2f}x DenseNet's epoch time", REPRODUCED if ratio > 1 else NOT_REPRODUCED, "ratio > 1"))
        per_param = {k: seconds[k] / SPEC_PARAMETERS[k] for k in MODELS}
        lowest = _ranked(per_param)[:2]
        study_lowest = _ranked({k: STUDY_TABLE2[k][6] for k in MODELS})[:2]
        rows.append(Claim("Lowest training time per parameter: ResNet-Mini and Custom CNN (text)",
                          "ResNet-Mini, Custom CNN", f"lowest two: {_names(lowest)}",
                          REPRODUCED if set(lowest) == {"resnet_mini", "custom_cnn"} else NOT_REPRODUCED,
                          "the two lowest", f"the study's own Table 2 has {_names(study_lowest)} lowest"))
        inference = mean_epoch_seconds(runs, "eval_seconds")
        slowest_inference = _ranked(inference, reverse=True)[0]
        rows.append(Claim("Slowest test pass: MobileNet-Lite (Table 2)", "9.59 s per 10k images",
                          f"slowest: {LABELS[slowest_inference]}",
                          REPRODUCED if slowest_inference == "mobilenet_lite" else NOT_REPRODUCED, "the slowest"))
    else:
        for claim in ("Per-epoch training time (Table 2)", "Fastest training per epoch: LeNet-5 and Custom CNN",
                      "Slowest training per epoch: MobileNet-Lite and DenseNet-Tiny",
                      "MobileNet-Lite slower than DenseNet-Tiny despite similar size",
                      "Lowest training time per parameter: ResNet-Mini and Custom CNN (text)",
                      "Slowest test pass: MobileNet-Lite (Table 2)"):
            rows.append(Claim(claim, "", "-", MISSING))
    return rows


def conclusion(runs: ChapterRuns) -> str:
    """The chapter's answer, written from the stored numbers."""
    lines = []
    table1_done = {k: study_best(runs, k) for k in MODELS if study_best(runs, k)}
    if table1_done:
        diffs = {k: 100 * (_mean_std(v)[0] - STUDY_TABLE1[k][3]) for k, v in table1_done.items()}
        close = [k for k, d in diffs.items() if abs(d) <= 0.5]
        spread = (f"the difference is {next(iter(diffs.values())):+.2f} points" if len(diffs) == 1 else
                  f"the differences run from {min(diffs.values()):+.2f} to {max(diffs.values()):+.2f} points")
        lines.append(
            f"- **Table 1 under the study's own protocol.** For {len(close)} of {len(diffs)} models our best-epoch "
            f"test accuracy is within half a point of the study's; {spread} "
            f"({', '.join(f'{LABELS[k]} {d:+.2f}' for k, d in diffs.items())})."
            + (f" Not trained yet: {', '.join(LABELS[k] for k in MODELS if k not in diffs)}."
               if len(diffs) < len(MODELS) else ""))
    else:
        lines.append("- **Table 1.** No study-protocol run is stored yet.")
    lift = flattery(runs)
    if every_seed_stored(runs) and all(v is not None for v in lift.values()):  # as the claim it summarises
        values = lift
        top = max(values, key=values.get)
        lines.append(
            f"- **What test-set early stopping is worth.** Reporting the best test epoch of a run stopped on the "
            f"test loss differs by {sum(values.values()) / len(values):+.2f} points on average from a model selected "
            f"on a validation split and tested once (per model {min(values.values()):+.2f} to "
            f"{max(values.values()):+.2f}" + (f"; most for {LABELS[top]}" if values[top] > 0 else "") + "). Part of "
            f"the difference is the 6,000 images the corrected protocol holds out; the rest is selection on the "
            f"test set.")
    if every_seed_stored(runs):
        means = {k: _mean_std(list(corrected_accuracy(runs, k).values())) for k in MODELS}
        order = sorted(MODELS, key=lambda k: -means[k][0])
        first, second = order[0], order[1]
        won, n = wins(runs, first, second)
        lines.append(
            f"- **Ranking, with {counted(n, 'seed')} per model.** "
            + ", ".join(f"{LABELS[k]} {100 * means[k][0]:.2f}% ± {100 * means[k][1]:.2f}" for k in order)
            + f". {LABELS[first]} is ahead of {LABELS[second]} in {won} of {n} seeds"
            + (", so the top place is settled at this sample size." if won == n and n > 1 else
               ", so the top place is not settled at this sample size."))
        front = [k for k in MODELS if not dominated_by(runs, k, SPEC_PARAMETERS)]
        lines.append(f"- **Accuracy against size.** No smaller model beats these in every seed: {_names(front)}. "
                     "These are the defensible trade-off choices on parameter count alone.")
        f1 = per_class_f1(runs)
        hardest = f1.idxmin()
        common = hardest.mode().iloc[0]
        mistakes = top_confusions(runs, k=1)["mistake 1"].str.rsplit(" (", n=1).str[0]
        lines.append(f"- **Per class.** The class with the lowest F1 is {common} for "
                     f"{int((hardest == common).sum())} of 6 models; the most frequent single mistake is "
                     f"{mistakes.mode().iloc[0]} for {int((mistakes == mistakes.mode().iloc[0]).sum())} of 6. "
                     + ("The architectures differ in how many errors they make more than in which."
                        if (hardest == common).sum() >= 5 else "Where the models fail differs between architectures."))
    else:
        lines.append("- **Ranking.** Some corrected-protocol runs are missing; the ranking is written once all "
                     "six models have every seed.")
    seconds = mean_epoch_seconds(runs)
    if all(v is not None for v in seconds.values()):
        order = _ranked(seconds)
        per_param = _ranked({k: seconds[k] / SPEC_PARAMETERS[k] for k in MODELS})
        use = {k: model_cost(k)["forward_flops"] / 2 / SPEC_PARAMETERS[k] for k in MODELS}
        line = (f"- **Speed.** Per training epoch of the stored runs the order from fastest to slowest is "
                f"{_names(order)} (study: {_names(_ranked({k: STUDY_TABLE2[k][0] for k in MODELS}))}). Time per "
                f"parameter ranks {_names(per_param[:2])} lowest.")
        if set(per_param[:2]) == set(_ranked(use)[:2]):
            rest = [use[k] for k in MODELS if k not in per_param[:2]]
            line += (f" These are the two models whose parameters do the least work: "
                     f"{use[per_param[0]]:.0f} and {use[per_param[1]]:.0f} multiply-adds per parameter per image, "
                     f"against {min(rest):.0f} to {max(rest):.0f} for the others, whose convolution weights are "
                     f"applied at every pixel. Time per parameter measures how often a parameter is used, "
                     f"not how efficient an architecture is.")
        lines.append(line)
    text = runs.text_resnet
    if text is not None and stored_runs([text]):
        base4 = corrected_accuracy(runs, "resnet_mini").get(text.config.seed)
        if base4 is not None:
            lines.append(f"- **The ResNet-Mini of the text.** With the 16 base channels the study describes "
                         f"({SPEC_PARAMETERS[TEXT_RESNET]:,} parameters) it reaches "
                         f"{100 * text.metrics['accuracy']:.2f}%, against {100 * base4:.2f}% for the base-4 model "
                         f"the study trained (same seed, corrected protocol).")
    return "\n".join(lines)
