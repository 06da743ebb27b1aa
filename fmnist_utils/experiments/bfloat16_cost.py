"""Appendix: what bfloat16 costs in accuracy, judged by the book's one verdict procedure.

Three of the book's models train again with ``precision="bfloat16"``, each under its chapter's own protocol,
settings and seeds (read from the chapter, never copied): Model-1 and Model-2 of chapter 1
(``baseline_vs_deeper.config``) and LeNet-5, the cheapest of chapter 4's six models to train, under chapter 4's
corrected protocol (``lightweight_benchmark.corrected_config``). A bfloat16 run's *float32 twin* is the same
configuration with ``precision="float32"``: the chapter's own run, already in the store for the paper profile.

The appendix shows, per model, test accuracy both ways with the difference and its 95% Welch interval, and the
training seconds per epoch both ways (hardware-bound: each run's provenance says where it ran). Its own claims,
"bfloat16 leaves the model's test accuracy unchanged" (``REGISTRY``, printed "+0.00 points"), are judged with
the book's difference rule (``verdicts.judge_difference``). Then it re-judges each claim of chapters 1 and 4
that these models' test accuracy feeds (``chapter_claims``) with the chapters' own ``claims``, once from the
float32 runs and once with the bfloat16 runs in their place (``rejudged``), so a reader sees whether bfloat16
would change a verdict of the book. A side whose compared runs are not all stored says *missing run*.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..chapter import complete_rows
from ..claims import Registry, StudyClaim, counted
from ..config import RunConfig
from ..params import ChapterSpec, ParameterError, resolve
from ..stats import contrast, mean_sd_text
from ..store import describe, stored_runs
from ..tables import book_table
from ..verdicts import INCONCLUSIVE, MISSING, NOT_REPRODUCED, REPRODUCED, Verdict, judge_difference, missing
from . import baseline_vs_deeper as chapter1
from . import lightweight_benchmark as chapter4

TITLE = "Appendix: what bfloat16 costs in accuracy"

SPEC = ChapterSpec("bfloat16_cost", [])  # the chapters' own settings decide seeds, epochs and image subsets

CHAPTER4_MODEL = "lenet5"  # the cheapest of chapter 4's six to train: 16 s an epoch, 4 min a run (Custom CNN: 18 s, 8 min)
MODELS = ("model1", "model2", CHAPTER4_MODEL)  # in the book's order
CHEAPEST_FIRST = (CHAPTER4_MODEL, "model1", "model2")  # the order they train in
LABELS = {**chapter1.NAMES, CHAPTER4_MODEL: chapter4.LABELS[CHAPTER4_MODEL]}
CHAPTER_OF = {"model1": 1, "model2": 1, CHAPTER4_MODEL: 4}
PROTOCOL = {"model1": f"chapter 1's protocol, {chapter1.BEST}", "model2": f"chapter 1's protocol, {chapter1.BEST}",
            CHAPTER4_MODEL: f"chapter 4's {chapter4.CORRECTED}"}
PRECISIONS = ("float32", "bfloat16")


def settings_from(namespace: dict):
    """The appendix's settings from the notebook's globals; its ``precision`` stays float32, as it trains both.
    Where it is to train (``train_missing``) on a device without fast bfloat16, it stops here, before anything
    trains, with the device's reason and the two ways out."""
    from ..train import choose_device, fast_bfloat16

    settings = resolve(SPEC, namespace)
    if settings.precision != "float32":
        raise ParameterError(f"parameter precision={settings.precision!r} does not apply to this appendix: it trains "
                             "every compared model in float32 and in bfloat16 itself; leave precision='float32'")
    if settings.train_missing and (reason := fast_bfloat16(settings.device)) is not None:
        raise ParameterError(f"this appendix trains bfloat16 runs (train_missing=True), but "
                             f"{choose_device(settings.device)} has no fast bfloat16: {reason}. Train them on a device "
                             "that has it, or read the store only with train_missing=False, the paper profile's "
                             "default")
    return settings


def chapter_settings(settings) -> tuple:
    """Chapter 1's and chapter 4's own settings for this profile (their seeds, epochs and image subsets), in
    float32. Chapter 4's leave out the ResNet-Mini of its study's text, which no claim re-judged here reads."""
    shared = {name: getattr(settings, name)
              for name in ("profile", "train_missing", "store_dir", "device", "workers", "progress")}
    return chapter1.settings_from(shared), chapter4.settings_from({**shared, "text_resnet": False})


def seeds(settings, model: str) -> list[int]:
    """The seeds the model's chapter trains it with in this profile."""
    first, fourth = chapter_settings(settings)
    return list((first if CHAPTER_OF[model] == 1 else fourth).seeds)


def run_config(settings, model: str, seed: int, precision: str) -> RunConfig:
    """The chapter's own configuration of ``model`` and ``seed`` (its builder, its settings) in ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; the appendix compares {' and '.join(PRECISIONS)}")
    first, fourth = chapter_settings(settings)
    if CHAPTER_OF[model] == 1:
        config = chapter1.config(first, chapter1.study_cell(model), seed)
    else:
        config = chapter4.corrected_config(fourth, model, seed)
    return config.replace(precision=precision)


def plan(settings) -> list[tuple[RunConfig, bool]]:
    """The bfloat16 runs first (what this appendix adds), cheapest model first; then their float32 twins (the
    chapters' own runs); then chapter 4's other runs, which its accuracy claims set LeNet-5 against."""
    bfloat16 = [(run_config(settings, m, s, "bfloat16"), False) for m in CHEAPEST_FIRST for s in seeds(settings, m)]
    twins = [(config.replace(precision="float32"), False) for config, _ in bfloat16]
    return bfloat16 + twins + chapter4.plan(chapter_settings(settings)[1])


@dataclass
class AppendixRuns:
    runs: dict  # precision -> model -> [StoredRun | MissingRun] per seed
    chapter4: object  # chapter 4's float32 runs as the chapter reads them (lightweight_benchmark.ChapterRuns)
    profile: str


def gather(settings) -> AppendixRuns:
    """Every run of the appendix from the store (training missing ones if the settings say so)."""
    from ..store import ResultStore
    from ..sweep import collect_runs

    store = ResultStore(settings.store_dir)
    found = {run.key: run for run in collect_runs(plan(settings), settings, store)}
    runs = {precision: {m: [found[store.key(run_config(settings, m, s, precision))] for s in seeds(settings, m)]
                        for m in MODELS} for precision in PRECISIONS}
    return AppendixRuns(runs=runs, chapter4=chapter4.gather(chapter_settings(settings)[1]), profile=settings.profile)


# ----- what the appendix shows ------------------------------------------------------------------------

def accuracies(group: list) -> list[float]:
    return [run.metrics["accuracy"] for run in stored_runs(group)]


def epoch_seconds(run) -> float:
    """Mean training seconds per epoch of one run, from its stored history."""
    return sum(row["train_seconds"] for row in run.history) / len(run.history)


def overview(runs: AppendixRuns):
    """The compared runs, both precisions, and whether the store has them."""
    import pandas as pd

    rows = [{"model": LABELS[m], "precision": p, "seed": r.config.seed, "run": r.key, "status": describe(r)}
            for m in MODELS for p in PRECISIONS for r in runs.runs[p][m]]
    others = [r for k, group in runs.chapter4.study.items() for r in group] + \
             [r for k, group in runs.chapter4.corrected.items() if k != CHAPTER4_MODEL for r in group]
    return book_table(pd.DataFrame(rows).set_index(["model", "precision", "seed"]),
                      f"Also read: chapter 4's {counted(len(others), 'other run')} (its other models, both protocols), "
                      f"{len(stored_runs(others))} of them stored.")


def difference_text(bfloat16: list[float], float32: list[float]) -> str:
    """bfloat16 minus float32 in points, with its 95% Welch interval (seeds unpaired); '-' without both."""
    if not bfloat16 or not float32:
        return "-"
    try:
        estimate = contrast({"bfloat16": bfloat16, "float32": float32}, {"bfloat16": 1.0, "float32": -1.0},
                            pooled=False)
    except ValueError:  # one seed on a side: a difference, but no spread for an interval
        return f"{100 * (sum(bfloat16) / len(bfloat16) - sum(float32) / len(float32)):+.2f} (no interval: one seed)"
    return estimate.format(2, 100)


def accuracy_table(runs: AppendixRuns):
    """Test accuracy in float32 and in bfloat16 per model, mean ± std over seeds, and their difference."""
    import pandas as pd

    rows = []
    for model in MODELS:
        single, half = (accuracies(runs.runs[p][model]) for p in PRECISIONS)
        rows.append({"model": LABELS[model], "chapter": CHAPTER_OF[model],
                     "float32": mean_sd_text(single, 2, 100, empty="-"),
                     "bfloat16": mean_sd_text(half, 2, 100, empty="-"),
                     "bfloat16 − float32": difference_text(half, single),
                     "seeds": f"{len(half)} / {len(single)}"})
    return book_table(pd.DataFrame(rows).set_index("model"),
                      "Test accuracy (%), mean ± std over seeds, under the chapter's protocol. bfloat16 − float32: "
                      "difference of the means in points, with its 95% Welch interval (seeds unpaired). seeds: "
                      "stored bfloat16 / float32 runs.")


def speed_table(runs: AppendixRuns):
    """Training seconds per epoch in float32 and in bfloat16 per model, and the speed-up."""
    import pandas as pd

    rows = []
    for model in MODELS:
        seconds = {p: [epoch_seconds(r) for r in stored_runs(runs.runs[p][model])] for p in PRECISIONS}
        mean = {p: sum(values) / len(values) for p, values in seconds.items() if values}
        rows.append({"model": LABELS[model],
                     **{f"{p} (s)": mean_sd_text(seconds[p], 1, empty="-") for p in PRECISIONS},
                     "speed-up": "-" if len(mean) < 2 else f"{mean['float32'] / mean['bfloat16']:.2f}x"
                     if same_machine(runs, model) else "not like for like"})
    return book_table(pd.DataFrame(rows).set_index("model"),
                      "Training seconds per epoch (mean over a run's epochs), mean ± std over seeds; speed-up: "
                      "float32 over bfloat16, only where both precisions trained on one recorded CPU with the same "
                      "threads (next table); the speed appendix measures it like for like. Seconds hold only for "
                      "the machine and load each run trained under.")


def machine_text(run) -> str:
    """Where a stored run trained, from its provenance: device, CPU model (or that it was not recorded), threads."""
    provenance = run.result.get("provenance", {})
    cpu = provenance.get("processor") or "CPU model not recorded"
    return f"{provenance.get('device', '?')}: {cpu}, {counted(provenance.get('threads') or 1, 'thread')}"


def machine_table(runs: AppendixRuns):
    """Where the compared runs trained: one row per model, precision and machine."""
    import pandas as pd

    rows = []
    for model in MODELS:
        for precision in PRECISIONS:
            group = stored_runs(runs.runs[precision][model])
            for machine in dict.fromkeys(machine_text(r) for r in group):
                rows.append({"model": LABELS[model], "precision": precision, "trained on": machine,
                             "seeds": ", ".join(str(r.config.seed) for r in group if machine_text(r) == machine)})
            if not group:
                rows.append({"model": LABELS[model], "precision": precision, "trained on": "-", "seeds": "-"})
    return book_table(pd.DataFrame(rows).set_index(["model", "precision"]),
                      "From each run's provenance. A speed-up is like for like only between runs on the same CPU with "
                      "the same threads and the same other work on the machine; runs stored before provenance "
                      "recorded the CPU model say so.")


def same_machine(runs: AppendixRuns, model: str) -> bool:
    """Both precisions of ``model`` trained on one recorded CPU with one thread count: a like-for-like speed-up."""
    machines = {machine_text(r) for p in PRECISIONS for r in stored_runs(runs.runs[p][model])}
    return len(machines) == 1 and "not recorded" not in next(iter(machines))


# ----- the appendix's own claims ---------------------------------------------------------------------

def quantity(model: str) -> str:
    return f"difference in test accuracy, bfloat16 minus float32 (seeds unpaired), {PROTOCOL[model]}"


REGISTRY = Registry([
    StudyClaim(f"{model}_unchanged", f"bfloat16 leaves {LABELS[model]}'s test accuracy unchanged",
               f"chapter {CHAPTER_OF[model]}", "+0.00 points", quantity(model), exact=True)
    for model in MODELS
])


def complete(group: list) -> str:
    """'' when every run of ``group`` is stored, else how many are (a verdict waits for all of them)."""
    stored = len(stored_runs(group))
    return "" if stored == len(group) else f"{stored} of {counted(len(group), 'run')} stored"


def claims(runs: AppendixRuns) -> list[Verdict]:
    """One row per model: the bfloat16 runs' test accuracy minus their float32 twins', by the book's difference
    rule (a material change is one accuracy point); missing until every seed of both precisions is stored."""
    rows = []
    for model in MODELS:
        claim = REGISTRY[f"{model}_unchanged"]
        waiting = {p: complete(runs.runs[p][model]) for p in PRECISIONS}
        if any(waiting.values()):
            rows.append(missing(claim, "; ".join(f"{p}: {text}" for p, text in waiting.items() if text)))
            continue
        rows.append(judge_difference(claim, accuracies(runs.runs["bfloat16"][model]),
                                     accuracies(runs.runs["float32"][model]), measured=quantity(model),
                                     note=f"{runs.profile} profile; the same seed trains both ways from the same "
                                          "initial weights, but the rounding soon parts the two trainings"))
    return rows


# ----- would bfloat16 change a verdict of the book? ---------------------------------------------------

# The claims of chapters 1 and 4 whose rows move with the compared models' test accuracy. Chapter 1's ablation
# rows read them too, beside single runs of six more configurations that this appendix does not train in bfloat16,
# so they are left out. In chapter 4, LeNet-5's corrected-protocol seeds feed the held-out row directly; until every
# study-protocol seed of the six models is stored they are also the spread LeNet-5's single study-protocol run
# borrows, in its Table 1 row and in every ordering, "best" and trade-off row of the six models (each model borrows
# its own spread, and the rows' notes name them all). With several study seeds stored for every model, those rows
# read their own spread and no longer depend on LeNet-5's corrected runs. The trade-off with epoch time stays not
# comparable (hardware-bound timings) whatever LeNet-5 scores.
CHAPTER1_CLAIMS = ("m1_accuracy", "m2_accuracy", "m1_more_accurate", "accuracy_gap", "seed_fluctuation")
CHAPTER4_BORROWING = ("t1_test_acc_lenet5", "best_table1", "best_text", "top_two", "resnet_above_vit", "vit_lags",
                      "params_not_proxy", "lenet_overfits", "custom_efficient", "resnet_tradeoff")
CHAPTER4_HELD_OUT = ("unbiased",)


def chapter_claims(runs: "AppendixRuns") -> dict[int, tuple[str, ...]]:
    """Chapter number -> the ids of its claims that the compared models' float32 test accuracies feed, as the
    chapter reads its runs now (chapter 4's borrowing rows only while it reads a single study-protocol run per
    model)."""
    borrowing = () if chapter4.study_runs_per_model(runs.chapter4) > 1 else CHAPTER4_BORROWING
    return {1: CHAPTER1_CLAIMS, 4: borrowing + CHAPTER4_HELD_OUT}


CHAPTERS = {1: chapter1, 4: chapter4}


def chapter_runs(runs: AppendixRuns, chapter: int, precision: str):
    """What chapter ``chapter``'s ``claims`` reads, with the compared models' runs in ``precision``: chapter 1's
    two study setups (no ablation grid); chapter 4's runs with LeNet-5's corrected-protocol seeds in place."""
    group = runs.runs[precision]
    if chapter == 1:
        return chapter1.ChapterRuns(main={m: group[m] for m in chapter1.MODELS}, ablation={},
                                    seeds=[r.config.seed for r in group["model1"]], ablation_seeds=[])
    return replace(runs.chapter4, corrected={**runs.chapter4.corrected, CHAPTER4_MODEL: group[CHAPTER4_MODEL]})


@dataclass(frozen=True)
class Rejudged:
    chapter: int
    float32: Verdict
    bfloat16: Verdict


def rejudged(runs: AppendixRuns) -> list[Rejudged]:
    """Each claim of ``chapter_claims`` judged by its chapter's own ``claims``, from the float32 runs and with the
    bfloat16 runs in their place. A side is *missing run* until every compared run of its chapter is stored."""
    out = []
    for number, ids in chapter_claims(runs).items():
        module = CHAPTERS[number]
        sides = {}
        for precision in PRECISIONS:
            waiting = [f"{LABELS[m]}: {text}" for m in MODELS if CHAPTER_OF[m] == number
                       if (text := complete(runs.runs[precision][m]))]
            if waiting:
                note = f"waiting for the {precision} runs ({'; '.join(waiting)})"
                sides[precision] = {i: missing(module.REGISTRY[i], note) for i in ids}
            else:
                judged = complete_rows(module.REGISTRY, module.claims(chapter_runs(runs, number, precision)))
                sides[precision] = {row.id: row for row in judged}
        out += [Rejudged(number, sides["float32"][i], sides["bfloat16"][i]) for i in ids]
    return out


def rejudged_table(rows: list[Rejudged]):
    """The re-judged claims: the study's value, and ours and the verdict from the float32 and the bfloat16 runs."""
    import pandas as pd

    frame = pd.DataFrame([{"chapter": r.chapter, "claim": r.float32.claim, "study": r.float32.study,
                           "float32: ours": r.float32.ours, "float32": r.float32.verdict,
                           "bfloat16: ours": r.bfloat16.ours, "bfloat16": r.bfloat16.verdict} for r in rows])
    return book_table(frame.set_index(["chapter", "claim"]),
                      "Each row judged by its chapter's own rules and code. float32: from the chapter's runs, as the "
                      "chapter judges it; bfloat16: the same with the compared models' bfloat16 runs in their place.")


def verdict_changes(rows: list[Rejudged]) -> str:
    """The answer to 'would bfloat16 change a verdict of the book?', from the re-judged rows only."""
    waiting = [r for r in rows if MISSING in (r.float32.verdict, r.bfloat16.verdict)]
    judged = [r for r in rows if r not in waiting]
    changed = [r for r in judged if r.float32.verdict != r.bfloat16.verdict]
    if not judged:
        return (f"- **Not known yet.** All {counted(len(rows), 'claim')} wait for runs (*missing run* in the "
                "table); `fmnist-book status bfloat16_cost` lists the runs and their cost.")
    lines = [f"- **{'Yes' if changed else 'No'}, for the {counted(len(judged), 'claim')} judged both ways.** "
             + (f"{counted(len(changed), 'verdict')} change: "
                + "; ".join(f"chapter {r.chapter}, *{r.float32.claim}*: {r.float32.verdict} in float32, "
                            f"{r.bfloat16.verdict} in bfloat16" for r in changed) + "."
                if changed else "Every one keeps its float32 verdict.")]
    if waiting:
        lines.append(f"- **Waiting for runs:** {counted(len(waiting), 'claim')} "
                     f"(chapter {', '.join(sorted({str(r.chapter) for r in waiting}))}), *missing run* in the table.")
    return "\n".join(lines)


# ----- the appendix's answer --------------------------------------------------------------------------

SAID = {REPRODUCED: "consistent with no change (the band of the book's difference rule holds +0.00 and is at most a "
                    "point)",
        NOT_REPRODUCED: "a change beyond the band of the book's difference rule",
        INCONCLUSIVE: "the band of the book's difference rule is wider than a point and cannot tell"}
NO_SPREAD = "one seed a side gives no seed spread, so the book's difference rule cannot tell"


def _reading(row: Verdict) -> str:
    """What a judged row of the appendix says, in words; a reproduced one with the ends of its interval, which may
    reach a point either side: consistent with no change is not a change ruled out."""
    if row.verdict == INCONCLUSIVE and row.rule == "no seed-noise estimate":
        return NO_SPREAD
    if row.verdict == REPRODUCED and row.difference is not None and row.tolerance is not None:
        low, high = row.difference - row.tolerance, row.difference + row.tolerance
        return (f"{SAID[REPRODUCED]}: the interval [{low:+.2f}, {high:+.2f}] points holds zero, so the seeds do not "
                f"rule out a change anywhere from {low:+.2f} to {high:+.2f} points")
    return SAID.get(row.verdict, row.verdict)


def conclusion(runs: AppendixRuns) -> str:
    """What bfloat16 costs per model, said exactly as the appendix's own rows judge it."""
    rows = {row.id: row for row in complete_rows(REGISTRY, claims(runs))}
    lines = []
    for model in MODELS:
        row = rows[f"{model}_unchanged"]
        if row.verdict == MISSING:
            lines.append(f"- **{LABELS[model]}** (chapter {CHAPTER_OF[model]}): waits for runs ({row.note}).")
            continue
        speed = (f"seconds per epoch, float32 over bfloat16: {speed_table(runs).loc[LABELS[model], 'speed-up']}"
                 if same_machine(runs, model) else
                 "the two precisions trained on different or unrecorded machines, so their seconds give no speed-up "
                 "(the speed appendix measures it like for like)")
        lines.append(f"- **{LABELS[model]}** (chapter {CHAPTER_OF[model]}): test accuracy in bfloat16 minus float32 "
                     f"is {row.ours}: {_reading(row)}, so *{row.claim}* is **{row.verdict}**; {speed}.")
    return "\n".join(lines)
