"""Book-wide accounting, generated from the store: what the paper profile of each chapter has cost so
far, which runs it still lacks, and how long a chapter takes per profile on this machine.

Written to ``book/compute.md`` by ``fmnist-book scorecard`` and ``fmnist-book publish``; the wall
times come from ``timings.json`` in the store, which ``fmnist-book publish`` (paper profile, from the
store) and ``fmnist-book time`` (a profile from an empty store) fill in as they measure.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from .store import MissingRun, ResultStore

TIMINGS_FILE = "timings.json"
PROFILE_COLUMNS = {"smoke": "smoke, from an empty store", "quick": "quick, from an empty store",
                   "paper": "paper, rendered from the store"}


@dataclass(frozen=True)
class ChapterCompute:
    chapter: str
    planned: int
    stored: int
    checkpointed_epochs: int  # epochs done by runs still in progress
    core_hours: float  # wall seconds x threads of the stored runs (training and evaluation)

    @property
    def missing(self) -> int:
        return self.planned - self.stored


def run_core_seconds(result: dict) -> float:
    timing, threads = result["timing"], result["provenance"].get("threads") or 1
    return (timing.get("train_seconds", 0.0) + timing.get("eval_seconds", 0.0)) * threads


def chapter_compute(name: str, module, store: ResultStore) -> ChapterCompute:
    """The paper profile of one chapter (``name``: its notebook's stem), as the store holds it now."""
    settings = module.settings_from({"profile": "paper", "store_dir": str(store.root)})
    unique = {store.key(config): config for config, _ in module.plan(settings)}  # grids repeat main runs
    states = [store.status(config) for config in unique.values()]
    stored = [s for s in states if not isinstance(s, MissingRun)]
    return ChapterCompute(
        chapter=name, planned=len(states), stored=len(stored),
        checkpointed_epochs=sum(s.checkpoint_epochs for s in states if isinstance(s, MissingRun)),
        core_hours=sum(run_core_seconds(s.result) for s in stored) / 3600)


def load_timings(store_root: Path) -> dict:
    path = Path(store_root) / TIMINGS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def record_timing(store_root: Path, chapter: str, profile: str, seconds: float) -> None:
    """Keep the latest measured wall time of executing ``chapter`` with ``profile`` (atomic rewrite)."""
    timings = load_timings(store_root)
    timings.setdefault(chapter, {})[profile] = {
        "seconds": round(seconds, 1), "date": _dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    path = Path(store_root) / TIMINGS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def compute_markdown(store_root: Path, chapters: dict) -> str:
    """Two tables: the paper profile's runs and core-hours so far, and wall time per chapter and profile."""
    store = ResultStore(store_root)
    ledger = [chapter_compute(name, module, store) for name, module in chapters.items()]
    lines = ["| Chapter | Paper-profile runs | Stored | Missing | Core-hours of the stored runs |",
             "|---|---:|---:|---:|---:|"]
    for row in ledger:
        n = row.checkpointed_epochs
        in_progress = f" ({n} epoch{'' if n == 1 else 's'} checkpointed)" if n else ""
        lines.append(f"| {{doc}}`{row.chapter}` | {row.planned} | {row.stored} | {row.missing}{in_progress} "
                     f"| {row.core_hours:.1f} |")
    lines.append(f"| **all chapters** | {sum(r.planned for r in ledger)} | {sum(r.stored for r in ledger)} "
                 f"| {sum(r.missing for r in ledger)} | {sum(r.core_hours for r in ledger):.1f} |")
    timings = load_timings(store_root)
    machines = sorted({t["machine"] for chapter in timings.values() for t in chapter.values()})
    lines += ["", "Wall time to execute a chapter" + (f" (measured on {', '.join(machines)})" if machines else "")
              + "; *not measured* where no run has been timed yet:", "",
              "| Chapter | " + " | ".join(PROFILE_COLUMNS.values()) + " |",
              "|---|" + "---:|" * len(PROFILE_COLUMNS)]
    for name in chapters:
        cells = [_duration(timings[name][p]["seconds"]) if p in timings.get(name, {}) else "*not measured*"
                 for p in PROFILE_COLUMNS]
        lines.append(f"| {{doc}}`{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
