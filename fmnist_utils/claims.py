"""'Study vs this book': one row per headline number, with an honest verdict.

A numeric claim is *reproduced* when our mean lies within the tolerance of the study's value. The
tolerance is the larger of a stated floor (what a reader would call "the same number") and twice
our seed-to-seed standard deviation, so a noisy quantity is not judged on one lucky seed.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPRODUCED, NOT_REPRODUCED, NOT_COMPARABLE, MISSING = "reproduced", "not reproduced", "not comparable", "missing run"


@dataclass
class Claim:
    claim: str  # what the study says, in a few words
    study: str  # the study's value as it states it
    ours: str  # our value, with spread where measured
    verdict: str
    tolerance: str = ""  # the rule the verdict used
    note: str = ""


def counted(n: int, noun: str) -> str:
    """'1 epoch', '2 epochs': a count with its noun in the right number, for the chapters' prose."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def mean_std(values) -> tuple[float, float | None]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else None)


def numeric_claim(claim: str, study: float, values, *, floor: float, scale: float = 100.0, unit: str = "%",
                  digits: int = 2, note: str = "") -> Claim:
    """Compare a study number with our per-seed values (``scale`` 100 shows fractions as percent)."""
    if values is None or len(values) == 0:
        return Claim(claim, f"{study * scale:.{digits}f}{unit}", "-", MISSING, note=note)
    mean, std = mean_std(values)
    tolerance = max(floor, 2 * std) if std is not None else floor
    verdict = REPRODUCED if abs(mean - study) <= tolerance else NOT_REPRODUCED
    ours = f"{mean * scale:.{digits}f}{unit}"
    if std is not None:
        ours += f" ± {std * scale:.{digits}f} (n={len(values)})"
    return Claim(claim, f"{study * scale:.{digits}f}{unit}", ours, verdict,
                 f"±{tolerance * scale:.{digits}f}{unit}", note)


def claims_frame(claims: list[Claim]):
    """The chapter's 'study vs this book' table as a DataFrame, one row per claim."""
    import pandas as pd  # only the notebooks need it; the chapters' prose helpers above do not

    frame = pd.DataFrame([asdict(c) for c in claims])
    return frame.rename(columns={"claim": "Claim", "study": "Study", "ours": "This book", "verdict": "Verdict",
                                 "tolerance": "Tolerance", "note": "Note"}).set_index("Claim")


def save_claims(chapter: str, title: str, claims: list[Claim], store_root: Path) -> Path:
    """Keep a chapter's rows beside the store so the book's scorecard is built from them."""
    path = Path(store_root) / "claims" / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"chapter": chapter, "title": title, "claims": [asdict(c) for c in claims]},
                               indent=1) + "\n")
    return path


def load_claims(store_root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(store_root) / "claims").glob("*.json"))]


def scorecard_markdown(store_root: Path) -> str:
    """The book's scorecard: every chapter's claim rows, as saved by the chapters from the store."""
    chapters = load_claims(store_root)
    if not chapters:
        return "_No chapter has been executed into the store yet._\n"
    lines = []
    for chapter in chapters:
        counts = {}
        for claim in chapter["claims"]:
            counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
        summary = ", ".join(f"{verdict}: {n}" for verdict, n in sorted(counts.items()))
        lines += [f"### {chapter['title']}", "", f"{{doc}}`{chapter['chapter']}`: {summary}.", "",
                  "| Claim | Study | This book | Verdict |", "|---|---|---|---|"]
        lines += [f"| {c['claim']} | {c['study']} | {c['ours']} | {c['verdict']} |" for c in chapter["claims"]]
        lines.append("")
    return "\n".join(lines)
