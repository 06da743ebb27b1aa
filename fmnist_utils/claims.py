"""A study's claims and the book's rows for them.

``StudyClaim`` and ``Registry`` hold each headline claim of a study once, with its value exactly as
printed; ``fmnist_utils.verdicts`` judges them (the one procedure of the book). This module also keeps
the rows: the chapters' tables, their saved copies beside the store, the book's scorecard and the
introduction's worked examples.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple, Sequence


# "92.72%", "+1.35 points", "0.69 percentage points", "62K", "15.7x", and measured times as a table prints them, with or without their
# spread: "20.29 ± 0.65 s", "1427 ± 77 ms", "329 µs/K" (the value is the number before "±"); a spread printed as
# such, "~±0.01%", is the number after "~±"
_NUMBER = re.compile(r"^(?:~\s*±?\s*)?([-+]?[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s*±\s*[0-9][0-9,]*(?:\.[0-9]+)?)?"
                     r"\s*(%|K|M|x|points|percentage points|s|ms|[µμ]s/K)?$")
_TIME_UNITS = {"s": "s", "ms": "ms", "µs/K": "µs/K", "μs/K": "µs/K"}  # a typeset "μ" (Greek mu) reads as "µ"
_RANGE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*[-–]\s*([0-9]+(?:\.[0-9]+)?)\s*%$")  # "7-8%": a range of percentages


# the book's material difference of an accuracy (or of a score printed as one): one percentage point
ONE_POINT = 0.01


@dataclass(frozen=True)
class StudyClaim:
    """One headline claim of a study, registered once: the only place its number is typed.

    ``printed`` is the value exactly as the study prints it ("92.72%", "+1.35 points", "0.69 percentage points", "0.270", "62K",
    "2,067,850", "15.7x", a time such as "20.29 ± 0.65 s", "1427 ± 77 ms" or "329 µs/K", a range such as
    "7-8%", or words such as "MobileNet-Lite" for an ordering); ``value`` parses it into the unit the book
    computes in (a fraction for percentages and accuracy points; a time stays in its printed unit, of
    "mean ± spread" the mean is the value, of a range its middle) and ``rounding`` is half a unit of its last
    printed digit (for a range, plus half its width: any value in it is the study's).
    ``quantity`` says what it measures ("test accuracy, best epoch", "test loss, final epoch",
    "ordering of test accuracy", ...); the verdict functions refuse a row that measured something else.
    A claim the chapter does not test carries the reason in ``not_tested``. A claim that checks the study
    against itself (its text against its own table or code) is marked ``against_itself``: both numbers
    are the study's, so its row is no measurement of this book's.
    """

    id: str
    claim: str  # the claim, in a few words
    where: str  # where it stands in the study: "Table 1", "section 4.2", "abstract", "Figure 6"
    printed: str  # the study's value exactly as printed
    quantity: str  # what it measures
    not_tested: str = ""  # why the chapter does not test it (empty: tested)
    material: float | None = None  # a difference that matters, in value units (default: 1 point, or 10%)
    # the value is exact, not one run's measurement (the book's own "no change": +0.00): the interval is our
    # mean's, without the variance of a new single run
    exact: bool = False
    # the claim checks the study against itself (a statement of its text against its own table or code): the
    # numbers on both sides are the study's, printed and not sampled, so the row says nothing of this book's runs
    against_itself: bool = False

    def _parsed(self):
        span = _RANGE.match(self.printed.strip())
        if span:
            low, high = (float(x) for x in span.groups())
            decimals = max(len(x.split(".")[1]) if "." in x else 0 for x in span.groups())
            return ((low + high) / 200, ((high - low) / 2 + 0.5 * 10 ** -decimals) / 100, 100.0, "%",
                    max(decimals, 2))
        match = _NUMBER.match(self.printed.strip())
        if not match:
            return None
        number, suffix = match.groups()
        decimals = len(number.split(".")[1]) if "." in number else 0
        value = float(number.replace(",", ""))
        if suffix in ("%", "points", "percentage points"):
            unit = "%" if suffix == "%" else " points"
            return value / 100, 0.5 * 10 ** -decimals / 100, 100.0, unit, max(decimals, 2)
        if suffix in ("K", "M"):
            factor = 1e3 if suffix == "K" else 1e6
            return value * factor, 0.5 * 10 ** -decimals * factor, 1.0, "", 0
        if suffix in _TIME_UNITS:  # a measured time: kept in its printed unit
            return value, 0.5 * 10 ** -decimals, 1.0, " " + _TIME_UNITS[suffix], decimals
        return value, 0.5 * 10 ** -decimals, 1.0, "", max(decimals, 3) if decimals else 0

    @property
    def numeric(self) -> bool:
        return self._parsed() is not None

    @property
    def value(self) -> float:
        parsed = self._parsed()
        if parsed is None:
            raise ValueError(f"claim {self.id!r}: {self.printed!r} is not a number")
        return parsed[0]

    @property
    def rounding(self) -> float:
        """Half a unit of the study's last printed digit (0.005 points for "92.72%")."""
        return self._parsed()[1] if self.numeric else 0.0

    @property
    def span(self) -> float:
        """Half the width of a printed range ("7-8%": half a point): the part of ``rounding`` that is the claim's
        own latitude, not its printing precision (0 for a single number)."""
        span = _RANGE.match(self.printed.strip())
        return (float(span.group(2)) - float(span.group(1))) / 200 if span else 0.0

    @property
    def scale(self) -> float:
        return self._parsed()[2] if self.numeric else 1.0

    @property
    def unit(self) -> str:
        return self._parsed()[3] if self.numeric else ""

    @property
    def display_digits(self) -> int:
        return self._parsed()[4] if self.numeric else 2

    @property
    def material_difference(self) -> float:
        if self.material is not None:
            return self.material
        return ONE_POINT if self.scale == 100 else 0.1 * abs(self.value)


class Registry:
    """A chapter's claims, by id, in the order the study makes them."""

    def __init__(self, claims: list[StudyClaim]):
        ids = [c.id for c in claims]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"claim ids registered twice: {duplicates}")
        self.claims = list(claims)
        self._by_id = {c.id: c for c in claims}

    def __getitem__(self, claim_id: str) -> StudyClaim:
        try:
            return self._by_id[claim_id]
        except KeyError:
            raise KeyError(f"no claim {claim_id!r} registered; known: {', '.join(self._by_id)}") from None

    def __iter__(self):
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)

    def untested(self) -> list[StudyClaim]:
        return [c for c in self.claims if c.not_tested]


def counted(n: int, noun: str) -> str:
    """'1 epoch', '2 epochs': a count with its noun in the right number, for the chapters' prose."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def seeds_named(seeds) -> str:
    """'seed 44', 'seeds 43, 44': the seeds a row reads or waits for, named as every chapter's notes name them."""
    seeds = list(seeds)
    return f"{'seed' if len(seeds) == 1 else 'seeds'} {', '.join(map(str, seeds))}"


COLUMNS = {"claim": "Claim", "where": "Where", "study": "Study", "ours": "This book", "verdict": "Verdict",
           "rule": "Rule", "note": "Note"}


def _as_dict(row) -> dict:
    return row if isinstance(row, dict) else asdict(row)


def claims_frame(rows: list):
    """The chapter's 'study vs this book' table as a DataFrame, one row per registered claim."""
    import pandas as pd  # only the notebooks need it; the chapters' prose helpers above do not

    frame = pd.DataFrame([_as_dict(r) for r in rows])
    frame = frame[[c for c in COLUMNS if c in frame]].rename(columns=COLUMNS)
    return frame.set_index("Claim")


def save_claims(chapter: str, title: str, rows: list, store_root: Path) -> Path:
    """Keep a chapter's rows beside the store so the book's scorecard is built from them."""
    path = Path(store_root) / "claims" / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"chapter": chapter, "title": title, "claims": [_as_dict(r) for r in rows]},
                               indent=1) + "\n")
    return path


def load_claims(store_root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(store_root) / "claims").glob("*.json"))]


def _cell(text) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def scorecard_markdown(store_root: Path) -> str:
    """The book's scorecard page: every chapter's claim rows, as saved by the chapters from the store. A
    table per chapter that fits the text column (claim and where, study, this book, verdict), and under it,
    folded, the rule each verdict used and its note."""
    from .verdicts import tally  # the verdicts module builds on this one

    chapters = load_claims(store_root)
    lines = ["# Scorecard", "",
             "Every claim of every chapter, as the chapters judged it from the store, with the study's value as "
             "printed and ours. Under each table, folded, the rule each verdict used and its note.", ""]
    if not chapters:
        return "\n".join(lines + ["_No chapter has been executed into the store yet._", ""])
    for chapter in chapters:
        summary = tally(claim["verdict"] for claim in chapter["claims"])
        own = [claim["verdict"] for claim in chapter["claims"] if claim.get("against_itself")]
        if own:  # the study's text against its own numbers: no measurement of this book's, counted apart
            summary += (f"; {counted(len(own), 'row')} of these {'checks' if len(own) == 1 else 'check'} the study "
                        f"against its own numbers ({tally(own)})")
        lines += [f"## {chapter['title']}", "", f"{{doc}}`{chapter['chapter']}`: {summary}.", "",
                  "| Claim (where) | Study | This book | Verdict |", "|---|---|---|---|"]
        lines += [f"| {_cell(c['claim'])} *({_cell(c.get('where'))})* | {_cell(c.get('study'))} | "
                  f"{_cell(c.get('ours'))} | {_cell(c.get('verdict'))} |" for c in chapter["claims"]]
        lines += ["", f":::{{dropdown}} How each claim of this chapter was judged", "",
                  "| Claim | Rule | Note |", "|---|---|---|"]
        lines += [f"| {_cell(c['claim'])} | {_cell(c.get('rule'))} | {_cell(c.get('note'))} |"
                  for c in chapter["claims"]]
        lines += ["", ":::", ""]
    return "\n".join(lines)


class Finding(NamedTuple):
    """A front-page finding: a saved row, named by chapter and claim id, with a neutral lead; ``beside``: rows of
    the same chapter shown with it, where the study gives another number for the same claim."""

    chapter: str
    claim: str
    lead: str
    beside: tuple[str, ...] = ()


# The introduction's first section: the findings a reader should take away. Only the choice, a neutral lead and
# the rows to show beside one are written here; the study's value, ours, the verdict and the row's note (its
# caveats) are read from the chapters' saved rows, so the front page never says more (or other) than the rows do.
FINDINGS = tuple(Finding(*finding) for finding in (  # written as plain tuples, read as Findings
    ("02_cnn3_128_extension", "cnn_peak", "CNN-3-128's test accuracy at its peak, the 99%+ figure of chapter 2's studies"),
    ("02_cnn3_128_extension", "light_accuracy", "the depthwise-separable lightweight CNN's test accuracy"),
    ("02_cnn3_128_extension", "tradeoff", "the lightweight CNN as a favourable trade-off of accuracy and size "
                                          "against CNN-3-128, the study's central comparison"),
    ("01_baseline_vs_deeper", "m1_accuracy", "the shallow Model-1's test accuracy"),
    ("01_baseline_vs_deeper", "m1_more_accurate", "the shallow Model-1 ahead of the deeper Model-2"),
    ("03_mlp_analysis", "best_test", "the best MLP's test accuracy"),
    ("04_lightweight_benchmark", "best_text", "ResNet-Mini as the most accurate of the six lightweight models"),
    ("04_lightweight_benchmark", "resnet_above_vit", "ResNet-Mini more accurate than the larger ViT-Tiny"),
    ("05_regularization_synergy", "dropout_best", "dropout 0.1 as the best of the rates 0.1, 0.3 and 0.5"),
    ("05_regularization_synergy", "synergy", "InstanceNorm and dropout 0.1 together gaining more than the sum of "
                                             "their single gains"),
    ("05_regularization_synergy", "synergy_general", "light dropout and normalisation synergistic, the study's "
                                                     "general lesson, over every normalisation at its budget"),
    ("05_regularization_synergy", "final_loss", "the final regularised FlexibleCNN's test loss", ("final_notebook",)),
    ("06_common_protocol", "ch2_tradeoff", "this book's widening of chapter 2's claim (a favourable trade-off against "
                                           "CNN-3-128 alone): its batch-norm lightweight CNN as a favourable trade-off "
                                           "of accuracy and size among all the book's networks, under one protocol"),
    ("06_common_protocol", "ch1_order", "chapter 1's ordering, Model-1 ahead of Model-2, retested with every network "
                                        "under one protocol"),
    ("06_common_protocol", "ch4_best_table1", "chapter 4's Table 1 claim, MobileNet-Lite the most accurate of its six "
                                              "networks, retested under one protocol"),
    ("06_common_protocol", "ch4_top_two", "chapter 4's claim that ResNet-Mini and MobileNet-Lite are its two most "
                                          "accurate networks, retested under one protocol"),
))
FINDING_GROUPS = (("What holds", ("reproduced",)), ("What does not hold", ("not reproduced",)),
                  ("What the evidence cannot settle", ("inconclusive",)),
                  ("What cannot be measured as the study defined it", ("not comparable",)),
                  ("Waiting for runs", ("missing run",)), ("Not tested", ("not tested",)))


def _margin(row: dict) -> str:
    """", a difference of +3.18% against a band of ±3.16%": ours minus the study's value and the rule's tolerance,
    in the unit and to the digits the study printed (more where the tolerance would round to zero); "" for a row
    without them."""
    if row.get("difference") is None or not row.get("tolerance"):
        return ""
    printed = StudyClaim(row["id"], "", "", row["study"], "")
    digits, unit = (printed.display_digits, printed.unit) if printed.numeric else (3, "")
    while round(row["tolerance"], digits) == 0 and digits < 6:
        digits += 1
    return f", a difference of {row['difference']:+.{digits}f}{unit} against a band of ±{row['tolerance']:.{digits}f}{unit}"


def _measured(row: dict) -> str:
    """What a findings line says of a row's numbers: the study's, ours and, where the rule has one, the margin. A row
    waiting for runs may hold some already: the line says it waits, and the row's note, which follows, says for
    which (chapter 6's counts them: "19 of the row's 42 runs missing")."""
    ours = ("is waiting for runs the store lacks" if row["verdict"] == "missing run"
            else f"measures {_cell(row['ours'])}{_margin(row)}")
    quantity = f" ({_cell(row['quantity'])})" if row.get("quantity") and row["verdict"] != "missing run" else ""
    return f"the study prints {_cell(row['study'])}, this book {ours}{quantity}"


def claims_label(chapter: str) -> str:
    """The MyST target of a chapter's table of claims (``(claims-<chapter>)=`` above its heading), which the front
    page's findings link to."""
    return f"claims-{chapter}"


def _overall(chapters: list[dict]) -> str:
    """Every row of the book at a glance, before the chosen findings: the tally of the whole book and of each
    chapter (``load_claims``), the rows that check a study against itself counted apart."""
    from .verdicts import tally  # the verdicts module builds on this one

    measured = [r["verdict"] for c in chapters for r in c["claims"] if not r.get("against_itself")]
    own = sum(1 for c in chapters for r in c["claims"] if r.get("against_itself"))
    parts = [f"{{doc}}`{c['chapter']}`: {tally(r['verdict'] for r in c['claims'] if not r.get('against_itself'))}"
             for c in chapters]
    return (f"**Every row at a glance.** Of the book's {counted(len(measured), 'row')} that set a claim (a study's, "
            f"or this book's own in chapter 6 and the appendix) against this book's runs: {tally(measured)} "
            f"(and {counted(own, 'row')} checking a study against its own numbers, in the scorecard). By chapter: " + "; ".join(parts) + ".")


def findings_markdown(store_root: Path, findings: Sequence[Finding] = FINDINGS) -> str:
    """The front page's findings, grouped by their verdicts as the chapters saved them, each with the
    study's value, ours, the difference against the rule's band where it has one, the row's note (its
    caveats: the front page drops none of them), the rows named to stand beside it, and a link to the
    chapter that holds the evidence."""
    chapters = load_claims(store_root)
    rows = {(c["chapter"], r["id"]): (c, r) for c in chapters for r in c["claims"]}
    absent = [f"{f.chapter}:{claim}" for f in findings for claim in (f.claim, *f.beside) if (f.chapter, claim) not in rows]
    if absent:
        raise KeyError(f"front-page findings without a saved row: {', '.join(absent)}; publish those chapters "
                       "or correct claims.FINDINGS")
    grouped = {v for _, verdicts in FINDING_GROUPS for v in verdicts}
    unknown = sorted({rows[(f.chapter, f.claim)][1]["verdict"] for f in findings} - grouped)
    if unknown:
        raise ValueError(f"front-page findings with a verdict no group shows: {unknown}; add it to FINDING_GROUPS")
    lines = [_overall(chapters), ""]
    for heading, verdicts in FINDING_GROUPS:
        chosen = [f for f in findings if rows[(f.chapter, f.claim)][1]["verdict"] in verdicts]
        if not chosen:
            continue
        lines += [f"**{heading}**", ""]
        for finding in chosen:
            chapter, row = rows[(finding.chapter, finding.claim)]
            extra = "" if verdicts == ("reproduced",) or len(verdicts) == 1 else f" ({row['verdict']})"
            note = f" The row's note: {_cell(row['note'])}." if row.get("note") else ""
            beside = "".join(
                f" Beside it, *{_cell(other['claim'])}* ({_cell(other.get('where'))}; {other['verdict']}): "
                f"{_measured(other)}" + (f"; its note: {_cell(other['note'])}" if other.get("note") else "") + "."
                for other in (rows[(finding.chapter, claim)][1] for claim in finding.beside))
            lines.append(f"- {finding.lead[0].upper() + finding.lead[1:]}{extra}: {_measured(row)}.{note}{beside} "
                         f"Evidence: {{doc}}`{chapter['chapter']}`, *{_cell(row['claim'])}* "
                         f"({_cell(row.get('where'))}), in its {{ref}}`table of claims <{claims_label(chapter['chapter'])}>`.")
        lines.append("")
    return "\n".join(lines)


EXAMPLE_ORDER = ("reproduced", "not reproduced", "inconclusive", "not comparable", "missing run", "not tested")


def _no_printed_spread(row: dict) -> bool:
    """Whether a row's rule prints a seed spread of zero ("s=0.0000"): its band is the study's rounding alone."""
    return re.search(r"\bs=0(\.0+)?(?![.\d])", row.get("rule") or "") is not None


def verdict_examples_markdown(store_root: Path) -> str:
    """One real row per verdict class, from the chapters' saved tables: the introduction's worked examples."""
    chapters = load_claims(store_root)
    lines = []
    for verdict in EXAMPLE_ORDER:
        candidates = [(c, r) for c in chapters for r in c["claims"] if r["verdict"] == verdict
                      and (r.get("rule") or verdict in ("missing run", "not tested", "not comparable"))]
        # a worked example shows the procedure at work: a row whose seeds happen to print no spread at all (a
        # band of the study's rounding alone) is a real row, but no example of it
        found = next((pair for pair in candidates if not _no_printed_spread(pair[1])),
                     candidates[0] if candidates else None)
        if found is None:
            lines.append(f"- **{verdict}**: no row of the book has this verdict at present.")
            continue
        chapter, row = found
        detail = "; ".join(part for part in (f"rule: {row['rule']}" if row.get("rule") else "", row.get("note") or "")
                           if part)
        lines.append(f"- **{verdict}**: {{doc}}`{chapter['chapter']}`, *{_cell(row['claim'])}* ({_cell(row.get('where'))}): "
                     f"the study prints {_cell(row['study'])}, this book measures {_cell(row['ours'])}"
                     + (f" ({_cell(detail)})" if detail else "") + ".")
    return "\n".join(lines) + "\n"
