"""The book's one verdict procedure: every claim row of every chapter comes out of these functions.

A chapter registers each headline claim of its study once (``claims.StudyClaim``: the claim, where it
stands, the value exactly as printed, the quantity it measures) and judges it with the function for
its kind. Five outcomes, plus the claims a chapter registers as not tested:

*reproduced*
    our estimate agrees with the study's value within a tolerance made of the study's printed
    precision and the seed-to-seed noise, and that tolerance is small enough to matter;
*not reproduced*
    our estimate lies outside that tolerance; for an ordering or a direction, the opposite holds
    with statistical support;
*inconclusive*
    the data cannot tell: the study's value is inside an interval wider than a material difference, a
    direction is not significant either way, or no seed-noise estimate exists for a single run;
*not comparable*
    the study's quantity cannot be measured as it was defined (a run stopped by its epoch cap while
    still improving, for a claim about the best achievable value; timings bound to other hardware; a
    network the study's description does not determine, or whose parameter count is more than
    ``SAME_NETWORK`` (1%) from the study's; a study number of another quantity than the run it would be
    set beside, or trained with another recipe: optimiser, schedule, batch, pixel scaling, augmentation,
    training images, budget), with the reason;
*missing run*
    a run the row needs is not in the store yet.

The rules, by kind of claim (``RULES`` holds the text the book prints):

value (``judge_value``)
    The study reports one run; we have ``n`` seeds with mean ``m`` and a seed standard deviation
    ``s`` with ``df`` degrees of freedom (from these seeds, or, for a single run, a measured spread
    of the same architecture, or its family, under the nearest protocol, named in the row). A new single run of the
    study's would fall within ``h = t(0.975, df) * s * sqrt(1 + 1/n) + r`` of ``m``, where ``r`` is
    half a unit of the study's last printed digit. Study value within ``h``: reproduced when ``h`` is
    at most the quantity's material difference (1 accuracy point, 10% of a loss), else inconclusive;
    outside ``h``: not reproduced. A printed range ("7-8%") reads as its middle, and half its width joins ``r``
    (any value in it is the study's); the material check leaves that half-width out, since it is the claim's
    latitude, not anyone's uncertainty.
    A study number measured on a random sample of ``k`` of the ``N`` test images (a loss over 50 batches of
    64) carries that sample's noise as well (``Sample``): its variance ``v = d^2 / k * (1 - k / N)``, ``d``
    the spread of one image's value (ddof=1) pooled within our runs' stored per-image values (for an accuracy,
    right or wrong per image, it follows from the accuracy: ``Sample.of_accuracy``), is added under
    the root, ``h = t(0.975, df') * sqrt(s^2 (1 + 1/n) + v) + r``, with Welch-Satterthwaite degrees of
    freedom ``df'`` (``d``'s own: one run's images less one). Where our value is itself a mean over a fixed
    part of the images (``m`` of them, the same for every seed), ``v`` adds ``d^2 / m * (1 - m / N)``. Where
    our runs store no per-image values, ``h`` cannot include it, and a row whose verdict it could change
    (reproduced or not reproduced) says so.
difference (``judge_difference``)
    The same rule for a difference between two configurations (their seeds are independent: Welch's
    standard error, no pairing of seeds between architectures).
    For an exact value that is no run's measurement (``StudyClaim.exact``: the book's own "no change",
    +0.00), there is no new single run to allow for: ``h = t(0.975, df) * s * sqrt(1/n) + r`` (for a
    difference, Welch's standard error of the two means), the 95% interval of our mean.
direction (``judge_direction``)
    "A is higher (lower) than B": the 95% Welch t-interval of mean(A) - mean(B). Entirely on the
    claimed side: reproduced; entirely on the other: not reproduced; covering zero: inconclusive.
    An ordering of two networks is a claim about the two architectures, not about a number: retested with
    both trained under one recipe (chapter 6's common protocol) it keeps its meaning, so it is judged there
    even where the study's numbers were of another quantity or trained with another recipe, which makes the
    study's numbers and its gap between them not comparable. The row's note names what the study measured.
threshold (``judge_threshold``)
    "The quantity is above (below) a fixed value" ("above 98.5% by epoch 7"): the same rule for the
    95% t-interval of our mean against that value. For a difference between two configurations ("an accuracy
    drop under one point"), Welch's interval of the difference of their means: their seeds are independent, so a
    seed number the two share pairs nothing.
best (``judge_best``)
    "X is the best of these": the top group is the highest mean and every configuration whose
    difference from it has a 95% Welch interval covering zero. Top group inside the claimed set:
    reproduced; disjoint from it: not reproduced; otherwise inconclusive (tied). "X and Y are the best
    ones" (``top_set``): each claimed configuration ahead of each other one (95% Welch): reproduced;
    another one ahead of a claimed one: not reproduced; otherwise inconclusive.
trade-off (``judge_tradeoff``)
    "X is the best trade-off of accuracy and cost": a configuration is dominated when another costs no
    more and is significantly more accurate, or costs less and is not significantly less accurate. With
    several costs (parameters and time, say), "costs no more" holds on every axis and "costs less" on
    at least one. A cost measured per run (seconds, which vary from run to run and machine to machine:
    ``Measured``) is lower or higher only where the 95% Welch interval of the difference of the mean log
    costs says so (a single run borrowing the log spread of another configuration's seeds); otherwise the
    two count as costing the same. Claimed configuration undominated: reproduced, and the row names every
    undominated one. Not reproduced needs evidence: a configuration that costs no more and is
    significantly more accurate, or costs less and is shown within one accuracy point of it (the upper
    end of the 95% Welch interval of the claimed one's lead is under a point). Dominated only by cheaper
    configurations the seeds cannot place that close: inconclusive.
count (``judge_count``)
    A deterministic number (parameters): equal after rounding ours to the study's printed precision, or
    after truncating it (the other common way to shorten a count; the row says so). A differing count is
    evidence against the study only where the study pins the network down (another of its sources gives
    ours, or its description determines the network); otherwise the chapter makes the row not comparable,
    as for a network far from the study's.
spread (``judge_spread``)
    The study's seed-to-seed spread (one standard deviation) against ours: the 95% chi-square interval of
    the standard deviation of our ``n`` seeds, ``[s sqrt(df / chi2(0.975, df)), s sqrt(df / chi2(0.025, df))]``
    (widened by the study's rounding). The study's value inside it: reproduced when its half-width is at
    most the material difference, else inconclusive; outside it: not reproduced.
contrast (``judge_contrast``, ``judge_interaction``)
    "This combination of configuration means lies above (below) zero", above all an interaction ("the
    pair does more than the sum of its parts": the effect of both minus the two separate effects): the
    95% t-interval of the contrast (``stats.contrast``: the seed-to-seed variance pooled over every
    configuration of the experiment, or Welch's over the involved ones). Entirely on the claimed side:
    reproduced; entirely on the other: not reproduced; covering zero: inconclusive (the data can tell
    neither the claimed effect nor its absence).
censored value (``judge_censored``)
    A value some seeds never reached before their run ended (the epoch a learning rate is first lowered, in a
    run that never lowered it): those seeds only say "beyond the cap", so there is no mean or spread. By
    exchangeability, a study run from the seeds' distribution lies beyond all ``n`` of ours, on either side,
    with probability ``2 / (n + 1)``: every seed beyond the study's value on one side with that under 5% is not
    reproduced; anything else is inconclusive (never reproduced: agreement needs a band).
relative (``judge_relative``)
    The value rule on a relative change ``1 - mean(a) / mean(b)`` ("60% lower than the baseline"), its
    spread for a new single run of each configuration by the delta method (seeds unpaired, Welch's
    degrees of freedom), each side's term with the noise of the study's sample where it measured on one (the
    two samples taken as independent draws: the study does not say they were the same images).
confounded difference (``confounded``)
    A measured difference that mixes the claimed effect with a second one whose sign is known (chapter 4's
    study protocol against its corrected one: choosing epochs on the test set, and 6,000 more training images,
    both raise it; a network with dropout the study does not list, whose training values are measured with
    dropout on): a not-reproduced verdict that the second effect alone could produce (the difference
    significantly on its side) is inconclusive, with the reason; other verdicts stand, since the second
    effect only pushes the difference away from them. Where the second effect's direction is unknown (the same
    network with more dropout, on a value dropout can move either way: the epoch of best accuracy), any
    not-reproduced verdict is inconclusive for the same reason.

Single runs of configurations without seeds of their own borrow a measured spread through ``Noise`` (one
spread for every configuration of a comparison: their family's) or ``BorrowedNoise`` (each configuration its
own: the same architecture's, where the configurations compared are different architectures); a deterministic
pipeline (a classical estimator without randomness) has ``Noise.none``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats as _stats

from .claims import StudyClaim, counted

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
NOT_COMPARABLE, MISSING, NOT_TESTED = "not comparable", "missing run", "not tested"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_COMPARABLE, MISSING, NOT_TESTED)
LEVEL = 0.95
EPS = 1e-9  # float slack: 0.855 against "86%" sits exactly on the rounding edge

RULES = {
    "value": "study within t·s·√(1+1/n) + rounding of our mean (plus the noise of a study's sample of the test "
             "images, where it measured on one), and that band at most the material difference",
    "difference": "as for a value, on the difference of two means (Welch)",
    "direction": "95% Welch interval of the difference on the claimed side",
    "threshold": "95% t-interval of our mean on the claimed side of the fixed value",
    "best": "top group (means not separable from the highest, 95% Welch) inside the claimed set",
    "best_lowest": "bottom group (means not separable from the lowest, 95% Welch) inside the claimed set",
    "best_set": "every claimed configuration ahead of every other one (95% Welch)",
    "tradeoff": "claimed configuration undominated in accuracy and cost, every cost axis at least as low "
                "(accuracy differences, and costs measured per run such as time, tested, 95% Welch); dominated "
                "with evidence for not reproduced",
    "count": "equal at the study's printed precision (rounded or truncated)",
    "spread": "study within the 95% chi-square interval of our seeds' standard deviation, and that interval's "
              "half-width at most the material difference",
    "contrast": "95% t-interval of the contrast on the claimed side (variance pooled unless Levene's test says the "
                "spreads differ, then Welch)",
    "censored": "every seed beyond the study's value on one side, 2/(n+1) < 5% (rank test; seeds that never reached "
                "the value only bound it)",
    "bound": "an epoch count of a single run its cap ended is a lower bound: the ordering's verdict stands where a "
             "larger count could only strengthen it, else not comparable",
    "confounded": "a not-reproduced difference on the side a known second effect moves it (either side, where that "
                  "effect's direction is unknown) is inconclusive",
    "budget": "a study's fixed budget is no difference where the study kept the checkpoint of lowest validation "
              "loss with no schedule running to the budget's end, and every seed kept an epoch within it and trained "
              "at least that long (each run, cut there, keeps its checkpoint: a draw of the study's recipe)",
    "place": "an ordering that rests on the place of a network built otherwise than the study's, in a way whose "
             "effect could go either way, is inconclusive where nothing else measures it",
    "all": "a claim over several parts: not reproduced if any part is; else missing while a part is; else the first "
           "of not comparable, not tested, inconclusive a part has; reproduced when every part is",
    "readings": "judged under each reading of the study's words that nothing settles: a verdict they share stands, "
                "else inconclusive",
    "relative": "study within t·s·√(1+1/n) + rounding of our relative change (delta method, Welch; plus the noise "
                "of the study's samples of the test images, where it measured on them), and that band at most the "
                "material difference",
}


@dataclass(frozen=True)
class Noise:
    """Seed-to-seed standard deviation of one run's value, with its degrees of freedom and origin."""

    sd: float
    df: float
    source: str
    # the seeds' values it was measured on (``of``): a comparison can tell when a single run borrows the spread of
    # the very seeds it is compared with, which is one variance estimate, not two
    values: tuple = field(default=(), compare=False, repr=False)

    @classmethod
    def of(cls, values: Sequence[float], source: str = "") -> "Noise | None":
        """The spread of ``values`` (seeds of one configuration); None with fewer than two."""
        x = np.asarray(values, dtype=float)
        if len(x) < 2:
            return None
        return cls(float(x.std(ddof=1)), len(x) - 1, source or f"{len(x)} seeds", tuple(sorted(map(float, x))))

    @classmethod
    def pooled(cls, groups: Sequence[Sequence[float]], source: str) -> "Noise | None":
        """The within-configuration spread pooled over several configurations of one family."""
        ss, df = 0.0, 0
        for values in groups:
            x = np.asarray(values, dtype=float)
            if len(x) > 1:
                ss += float(((x - x.mean()) ** 2).sum())
                df += len(x) - 1
        return cls(math.sqrt(ss / df), df, source) if df else None

    @classmethod
    def none(cls, source: str = "deterministic: no random seed") -> "Noise":
        return cls(0.0, math.inf, source)


@dataclass(frozen=True)
class Sample:
    """A study number measured on a random sample of ``images`` images, not on all of the ``population`` it speaks
    of (None: a pool too large to correct for): the spread of one image's value (``sd``, pooled within our runs'
    per-image values, ``df`` degrees of freedom) gives that sample's own noise, which a new run measured the
    study's way would carry too. ``ours``: where our own value is a mean over a fixed part of the population
    (the same images for every seed, so its deviation is in no seed spread), that part's size: its noise joins.
    """

    sd: float
    images: int
    population: int | None
    source: str
    df: float = math.inf
    ours: int | None = None

    def _mean_variance(self, k: int) -> float:
        """Of a mean over ``k`` images drawn without replacement (finite-population correction 1 - k/N, the one
        that goes with a spread of ddof=1)."""
        return self.sd ** 2 / k * (1 - k / self.population if self.population else 1.0)

    @property
    def variance(self) -> float:
        return self._mean_variance(self.images) + (self._mean_variance(self.ours) if self.ours else 0.0)

    @staticmethod
    def _check_sizes(images: int, population: int | None, ours: int | None) -> None:
        for k, name in ((images, "a study sample"), (ours, "our own sample")):
            if k is not None and not (0 < k and (population is None or k < population)):
                pool = f"{population:,}" if population else "a pool"
                raise ValueError(f"{name} of {k:,} images out of {pool}: it must be a part of them")

    @classmethod
    def of_accuracy(cls, accuracy: float, images: int, population: int | None, what: str,
                    ours: int | None = None) -> "Sample":
        """For an accuracy, whose per-image values are 1 (right) or 0 (wrong): one image's spread follows from the
        accuracy itself, sqrt(p (1 - p) k / (k - 1)) over ``k`` images, exactly what stored per-image values would
        give (``ours`` images when our own value is a fixed part, else the study's)."""
        k = ours or images
        if not (0.0 <= accuracy <= 1.0) or k < 2:
            raise ValueError(f"an accuracy in [0, 1] over at least 2 images; got {accuracy!r} over {k}")
        cls._check_sizes(images, population, ours)
        sd = math.sqrt(accuracy * (1 - accuracy) * k / (k - 1))
        pool = f" of the {population:,}" if population else ""
        return cls(sd, images, population, f"{what}: {images:,}{pool} images, one image's spread {sd:.3g} (an "
                                           f"accuracy of {100 * accuracy:.1f}%: right or wrong per image)", k - 1, ours)

    @classmethod
    def of(cls, per_image: Sequence[Sequence[float] | None], images: int, population: int | None, what: str,
           ours: int | None = None) -> "Sample | None":
        """The spread of one image's value pooled over runs (each run's variance about its own mean, so the seed
        spread stays out of it), for a study sample of ``images`` of ``population``; None when a run has no
        per-image values. Its degrees of freedom are one run's (the runs share their images)."""
        cls._check_sizes(images, population, ours)
        if not per_image or any(values is None for values in per_image):
            return None
        arrays = [np.asarray(values, dtype=float) for values in per_image]
        fewest = min(len(a) for a in arrays)
        if fewest < 2:
            raise ValueError("a per-image spread needs at least 2 images of every run; got "
                             f"{sorted({len(a) for a in arrays})}")
        sd = math.sqrt(float(np.mean([a.var(ddof=1) for a in arrays])))
        pool = f" of the {population:,}" if population else ""
        return cls(sd, images, population, f"{what}: {images:,}{pool} images, one image's spread {sd:.3g}, pooled "
                                           f"over our {counted(len(arrays), 'run')}", fewest - 1, ours)


@dataclass(frozen=True)
class BorrowedNoise:
    """The spread each configuration with a single run borrows, configuration by configuration.

    ``by`` maps a configuration's name to the measured spread of the same architecture under the nearest protocol:
    where the configurations compared are different architectures, one spread pooled over them would lend each
    the others' noise. ``source`` says where the spreads come from, for the row's note. The comparisons that take
    it (``judge_direction``, ``judge_best``, ``top_group``, ``undominated``, ``judge_tradeoff``) look each side up by
    its name; a single run whose name has no spread here has none to borrow."""

    by: Mapping[str, Noise]
    source: str


def _per_side(noise: "Noise | BorrowedNoise | None", names: tuple[str, str]) -> tuple[Noise | None, Noise | None]:
    """The spread each side of a comparison of ``names`` borrows: one ``Noise`` for both, or each one's own."""
    if isinstance(noise, BorrowedNoise):
        unknown = [name for name in names if name not in noise.by]
        if unknown:
            raise KeyError(f"{unknown} have no entry in the spreads lent by name ({sorted(noise.by)}): pass the "
                           "configurations' names as the comparison calls them (a name mapped to None has no spread)")
        return noise.by[names[0]], noise.by[names[1]]
    return noise, noise


def _pair(noise) -> tuple[Noise | None, Noise | None]:
    """``noise`` as (a's spread, b's spread): a pair as given, one ``Noise`` (or None) for both sides."""
    if isinstance(noise, BorrowedNoise):
        raise ValueError("a BorrowedNoise lends each configuration its own spread by name, and this comparison has "
                         "no names: pass the two spreads as a pair (a's, b's), or one Noise for both")
    return tuple(noise) if isinstance(noise, tuple) else (noise, noise)


def _no_spread(groups: Mapping[str, Sequence[float]], noise) -> list[str]:
    """The configurations of ``groups`` with a single run and no spread to borrow."""
    return [g for g, values in groups.items() if len(values) < 2 and _per_side(noise, (g, g))[0] is None]


@dataclass
class Verdict:
    """One row of a chapter's 'study vs this book' table."""

    id: str
    claim: str
    where: str
    study: str
    ours: str
    verdict: str
    rule: str = ""
    note: str = ""
    quantity: str = ""
    # for the book's overview figure: ours - study and the tolerance, in the claim's display unit
    difference: float | None = None
    tolerance: float | None = None
    # the claim checks the study against itself (``StudyClaim.against_itself``): "ours" is the study's own number,
    # so the overview figure, which shows this book's estimates against the studies', leaves the row out
    against_itself: bool = False


def _row(claim: StudyClaim, ours: str, verdict: str, rule: str = "", note: str = "", **numbers) -> Verdict:
    return Verdict(claim.id, claim.claim, claim.where, claim.printed, ours, verdict, rule, note, claim.quantity,
                   **numbers, against_itself=claim.against_itself)


def missing(claim: StudyClaim, note: str = "") -> Verdict:
    return _row(claim, "-", MISSING, note=note)


def not_comparable(claim: StudyClaim, ours: str, reason: str) -> Verdict:
    return _row(claim, ours, NOT_COMPARABLE, note=reason)


# The book's rule for "is our network the study's?", by parameter count: within 1% of every count the study gives
# (8L/32F of chapter 5: 103,338 against 103,498) it is the study's network built slightly differently, and its
# rows keep their verdicts, naming the difference; further off (chapter 5's baseline: 361,258 against 93K) it is
# another network, and every row measured on it is not comparable, with the counts as the reason.
SAME_NETWORK = 0.01


def same_network(ours: int, counts: Sequence[float]) -> bool:
    """Whether a network of ``ours`` parameters is the study's, whose counts are ``counts`` (``SAME_NETWORK``)."""
    return bool(counts) and all(abs(ours - c) <= SAME_NETWORK * c for c in counts)


HARDWARE_BOUND = ("timings bound to hardware: the study timed its own machine and ours come from another, so which "
                  "network runs faster, and by how much, need not carry over; shown: ours, as a description")


# how a row bound to hardware opens its description of a front with time as an axis: the times are the stored runs'
# own (each run timed by the CPU that trained it; the row's note names them), not one measurement of this machine
TIMED_FRONT = "on the stored timings, "


def hardware_bound(claim: StudyClaim, ours: str, detail: str = "") -> Verdict:
    """The book's one rule for a claim about time or speed (an ordering, a trade-off with time, a number of seconds):
    the study's hardware is not ours, so the row is not comparable and shows what this machine measured."""
    return not_comparable(claim, ours, join_notes(HARDWARE_BOUND, detail))


def confounded(row: Verdict, sign: int, reason: str) -> Verdict:
    """``row`` judged on a difference (ours minus the study's) that a second effect, ``reason``, also moves, in the
    direction ``sign`` (+1 raises it, -1 lowers it, 0: either way, its direction unknown): where the row says not
    reproduced and the difference lies on that side (any side, for 0), the effect alone could explain it, so the
    row is inconclusive and names it; any other row is returned as it is, its rule naming the check. (An ordering that
    rests on the place of a network built otherwise, with the direction unknown: ``confounded_place``.)"""
    row = replace(row, rule=join_notes(row.rule, RULES["confounded"]))
    if row.verdict != NOT_REPRODUCED or (sign != 0 and (row.difference is None or sign * row.difference <= 0)):
        return row
    return replace(row, verdict=INCONCLUSIVE,
                   note=join_notes(row.note, f"{reason} alone could give a difference on this side: no evidence "
                                             "against the claim"))


JUDGED = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
# how the parts of a claim over several (every pair of an ordering against several settings, every number of a
# "all our results match") combine: one part against the claim decides it; else a part waiting makes it wait; else
# the weakest part's verdict; every part must hold for it to hold
PART_ORDER = (NOT_REPRODUCED, MISSING, NOT_COMPARABLE, NOT_TESTED, INCONCLUSIVE, REPRODUCED)


def judge_all(claim: StudyClaim, parts: Sequence[Verdict], *, measured: str, note: str = "") -> Verdict:
    """A claim that is the conjunction of other rows' claims ("every replicated number matches"): judged by
    ``PART_ORDER`` on their verdicts (rows that check the study against itself are no part), each part named
    with its verdict."""
    _check(claim, measured)
    parts = [row for row in parts if not row.against_itself]
    if not parts:
        return missing(claim, note)
    verdict = min((row.verdict for row in parts), key=PART_ORDER.index)
    groups = {v: [row.id for row in parts if row.verdict == v] for v in PART_ORDER}
    ours = "; ".join(f"{v}: {', '.join(ids)}" for v, ids in groups.items() if ids)
    return _row(claim, ours, verdict, RULES["all"], note)


def judge_readings(rows: Mapping[str, Verdict]) -> Verdict:
    """One claim judged under each reading of the study's words that nothing settles (``rows``: reading -> its
    row, the first the row shows): a verdict the readings share stands; where they differ the row is
    inconclusive, naming each reading's verdict. A reading that waits for runs makes the row wait; one that
    cannot be measured (not comparable) leaves the others to decide. A first row that is not judged is
    returned as it is."""
    (_, first), *others = rows.items()
    if first.verdict not in JUDGED or not others:
        return first
    waiting = [reading for reading, row in others if row.verdict == MISSING]
    if waiting:
        return replace(first, verdict=MISSING, note=join_notes(first.note, f"waiting for the runs of the reading "
                                                                           f"{', '.join(waiting)}"))
    unmeasured = [reading for reading, row in others if row.verdict not in JUDGED]
    rows = {reading: row for reading, row in rows.items() if row.verdict in JUDGED}
    others = [(reading, row) for reading, row in others if reading in rows]
    if not others:
        return replace(first, note=join_notes(first.note, f"read as {', '.join(unmeasured)}, it cannot be measured"))
    said = "; ".join(f"read as {reading}: {row.ours}, {row.verdict}" for reading, row in rows.items())
    rule = join_notes(first.rule, RULES["readings"])
    if all(row.verdict == first.verdict for _, row in others):
        return replace(first, rule=rule, note=join_notes(first.note, f"the same under every reading ({said})"))
    return replace(first, verdict=INCONCLUSIVE, rule=rule,
                   note=join_notes(first.note, f"the readings disagree ({said}): the data cannot tell which the "
                                               "study meant"))


def confounded_place(row: Verdict, reason: str) -> Verdict:
    """``row``, an ordering (or best-of) row whose verdict rests on the place of a network that differs from the
    study's by ``reason``, an effect of unknown direction and size on the compared quantity, where the chapter has no
    other way to measure the claim (chapter 4 has one: the study's own value for that network). That effect alone
    could put the network on either side, so neither side is evidence: reproduced and not reproduced become
    inconclusive, naming it; any other row is returned as it is, its rule naming the check."""
    row = replace(row, rule=join_notes(row.rule, RULES["place"]))
    if row.verdict not in (REPRODUCED, NOT_REPRODUCED):
        return row
    return replace(row, verdict=INCONCLUSIVE,
                   note=join_notes(row.note, f"{reason} could put it on either side: the ordering is no evidence "
                                             "for or against the claim"))


def not_tested(claim: StudyClaim) -> Verdict:
    return _row(claim, "-", NOT_TESTED, note=claim.not_tested)


def tally(verdicts: Iterable[str]) -> str:
    """'3 not reproduced, 1 inconclusive, 2 missing runs': how many rows got each verdict, in the order of
    ``VERDICTS``, for a chapter's conclusion."""
    verdicts = list(verdicts)
    counts = [(v, verdicts.count(v)) for v in VERDICTS if v in verdicts]
    return ", ".join(counted(n, v) if v == MISSING else f"{n} {v}" for v, n in counts)


def _check(claim: StudyClaim, measured: str) -> None:
    if measured != claim.quantity:
        raise ValueError(f"claim {claim.id!r} is about {claim.quantity!r}; the row measured {measured!r}: compare "
                         "like with like (best with best, final with final, test with test)")


def _t(df: float) -> float:
    return float(_stats.t.ppf(0.5 + LEVEL / 2, df)) if math.isfinite(df) else float(_stats.norm.ppf(0.5 + LEVEL / 2))


def _fmt(value: float, claim: StudyClaim, sign: bool = False) -> str:
    digits = claim.display_digits
    text = f"{value * claim.scale:{'+' if sign else ''}.{digits}f}"
    return text + claim.unit


def as_printed(value: float, claim: StudyClaim, sign: bool = False) -> str:
    """A value (a difference with ``sign``) in the claim's unit and precision, as its rows print it."""
    return _fmt(value, claim, sign)


def _band(claim: StudyClaim, diff: float, half: float, note: str, ours: str, rule_extra: str) -> Verdict:
    material = claim.material_difference
    rule = f"±{_fmt(half, claim)} ({rule_extra}); material {_fmt(material, claim)}"
    numbers = {"difference": diff * claim.scale, "tolerance": half * claim.scale}
    if abs(diff) <= half + EPS:
        if half - claim.span <= material:  # a printed range's own width is agreement, not uncertainty
            return _row(claim, ours, REPRODUCED, rule, note, **numbers)
        return _row(claim, ours, INCONCLUSIVE, rule,
                    join_notes(note, f"the band ±{_fmt(half, claim)} also holds values {_fmt(material, claim)} away"),
                    **numbers)
    return _row(claim, ours, NOT_REPRODUCED, rule, note, **numbers)


def _single(claim: StudyClaim) -> float:
    """The variance of the study's single run, in units of one run's: 1, or 0 for an exact value (no run)."""
    return 0.0 if claim.exact else 1.0


def join_notes(*parts: str) -> str:
    """Note clauses joined by "; ", the empty ones left out: the one way every row's note is put together."""
    return "; ".join(p for p in parts if p)


def judge_value(claim: StudyClaim, values: Sequence[float] | None, *, measured: str, noise: Noise | None = None,
                capped: str = "", note: str = "", sample: Sample | None = None) -> Verdict:
    """Our per-seed ``values`` of the claim's quantity against the study's single run.

    Two or more values carry their own seed spread and ``noise`` is not used (the written procedure: a
    configuration's own seeds, the family's spread only for a single run); for one value ``noise`` is
    required (the family's measured spread), else the row is inconclusive. ``capped`` names why the runs
    cannot measure the quantity (e.g. stopped by the epoch cap while improving) and makes the row not
    comparable. ``sample``: the study measured its number on a sample of the test images, whose noise the band
    adds (Welch-Satterthwaite degrees of freedom)."""
    _check(claim, measured)
    if values is None or len(values) == 0:
        return missing(claim, note)
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    noise = Noise.of(x) if len(x) > 1 else noise
    signed = claim.printed.lstrip().startswith(("+", "-"))  # a printed difference shows ours with its sign too
    spread = f" ± {_fmt(float(x.std(ddof=1)), claim)} (n={len(x)})" if len(x) > 1 else " (n=1)"
    ours = _fmt(mean, claim, sign=signed) + spread
    if capped:
        return not_comparable(claim, ours, join_notes(capped, note))
    if noise is None:
        return _row(claim, ours, INCONCLUSIVE, "no seed-noise estimate", join_notes(note, "one run and no measured spread"))
    rule = f"n={len(x)}, s={_fmt(noise.sd, claim)}"
    if sample is None or claim.exact:
        half = _t(noise.df) * noise.sd * math.sqrt(_single(claim) + 1 / len(x)) + claim.rounding
    else:
        seeds = noise.sd ** 2 * (_single(claim) + 1 / len(x))
        df = _satterthwaite((seeds, noise.df), (sample.variance, sample.df))
        half = _t(df) * math.sqrt(seeds + sample.variance) + claim.rounding
        mine = f" and our {sample.ours:,}" if sample.ours else ""
        rule += f"; the study's {sample.images:,} images{mine}: s={_fmt(math.sqrt(sample.variance), claim)}"
        note = join_notes(note, f"sampling noise of the study's number: {sample.source}")
    note = join_notes(note, f"noise: {noise.source}" if len(x) < 2 else "")
    return _band(claim, mean - claim.value, half, note, ours, rule)


def judge_censored(claim: StudyClaim, values: Sequence[float | None], caps: Sequence[float], *, measured: str,
                   shown: str, note: str = "") -> Verdict:
    """A value some of whose seeds never reached it: a run that ended first (``values[i]`` None) only says it lies
    beyond its ``caps[i]``. Without a mean or spread the value rule cannot run, but a rank test can: if the
    study's run were one more draw of the seeds' distribution, by exchangeability it would lie beyond all ``n``
    of ours on one side with probability 1 / (n + 1). Every seed beyond the study's value (by more than its
    rounding) on the same side with 2 / (n + 1) < 5%: not reproduced; otherwise inconclusive (agreement needs a
    band, which censored seeds do not give). ``shown``: each seed's value as the row prints it."""
    _check(claim, measured)
    if not values:
        return missing(claim, note)
    low, high = claim.value - claim.rounding, claim.value + claim.rounding
    above = sum(1 for v, cap in zip(values, caps) if (v if v is not None else cap) > high)
    below = sum(1 for v in values if v is not None and v < low)
    n, side = len(values), max(above, below)
    chance = 2 / (n + 1)
    rule = (f"rank test over seeds (censored): {side} of {n} beyond the study's value on one side; a study run from "
            f"the same distribution would be outside all of ours with probability 2/(n+1) = {chance:.0%}")
    verdict = NOT_REPRODUCED if side == n and chance < round(1 - LEVEL, 12) else INCONCLUSIVE
    return _row(claim, shown, verdict, rule, note)


def _satterthwaite(*parts: tuple[float, float]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of variances, each given as (variance, its df)."""
    denominator = sum(v ** 2 / df for v, df in parts if math.isfinite(df) and df > 0)
    return sum(v for v, _ in parts) ** 2 / denominator if denominator > 0 else math.inf


def _spreads(a: np.ndarray, b: np.ndarray, noise) -> list[tuple[float, float]] | None:
    """(standard deviation, degrees of freedom) of each side: its seeds' spread, or for a single run the spread
    it borrows (``noise``: one for both sides, or a pair, ``_pair``); None when a single run has none to borrow."""
    spreads = []
    for x, borrowed in zip((a, b), _pair(noise)):
        if len(x) > 1:
            spreads.append((float(x.std(ddof=1)), len(x) - 1))
        elif borrowed is not None:
            spreads.append((borrowed.sd, borrowed.df))
        else:
            return None
    return spreads


def _welch_df(parts: Sequence[float], spreads: Sequence[tuple[float, float]], a: np.ndarray, b: np.ndarray,
              noise) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of variance ``parts``, one per side. Where both sides
    borrow the same spread, or a single run borrows the spread of the very seeds it is compared with, one variance
    estimate serves both: its degrees of freedom, not twice them (two spreads of their own, two different
    architectures', are two estimates)."""
    na, nb = _pair(noise)
    if na is not None and na == nb and len(a) < 2 and len(b) < 2:
        return na.df
    for single, other, borrowed in ((a, b, na), (b, a, nb)):
        if len(single) < 2 and len(other) > 1 and borrowed is not None and borrowed.values \
                and borrowed.values == tuple(sorted(map(float, other))):
            return borrowed.df
    return _satterthwaite(*((p, df) for p, (_, df) in zip(parts, spreads)))


def _borrowed(noise: Noise | BorrowedNoise | None, *groups: Sequence[float]) -> str:
    """The row's note on a borrowed spread: whose spread the single runs took."""
    return f"noise for single runs: {noise.source}" if noise is not None and any(len(g) < 2 for g in groups) else ""


def welch(a: Sequence[float], b: Sequence[float], noise=None) -> tuple[float, float, float] | None:
    """Mean(a) - mean(b), its standard error and degrees of freedom (Welch), seeds unpaired.

    A group with one value borrows ``noise``: one ``Noise`` for both groups (their family's spread), or a pair
    (a's, b's: each its own architecture's); None when no spread is known."""
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    spreads = _spreads(xa, xb, noise)
    if spreads is None:
        return None
    parts = [s ** 2 / len(x) for (s, _), x in zip(spreads, (xa, xb))]
    diff = float(xa.mean() - xb.mean())
    if sum(parts) == 0:
        return diff, 0.0, math.inf
    return diff, math.sqrt(sum(parts)), _welch_df(parts, spreads, xa, xb, noise)


def judge_difference(claim: StudyClaim, a: Sequence[float] | None, b: Sequence[float] | None, *, measured: str,
                     noise: Noise | None = None, note: str = "") -> Verdict:
    """The study's difference between two configurations (one run each) against ours, mean(a) - mean(b)."""
    _check(claim, measured)
    if not a or not b:
        return missing(claim, note)
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    spreads = _spreads(xa, xb, noise)
    diff = float(xa.mean() - xb.mean())
    ours = _fmt(diff, claim, sign=True) + f" (n={len(xa)}, {len(xb)})"
    if spreads is None:
        return _row(claim, ours, INCONCLUSIVE, "no seed-noise estimate", join_notes(note, "single runs, no measured spread"))
    # a single study run of each configuration: each side adds one run's variance to our means' variance
    parts = [s ** 2 * (_single(claim) + 1 / len(x)) for (s, _), x in zip(spreads, (xa, xb))]
    half = _t(_welch_df(parts, spreads, xa, xb, noise)) * math.sqrt(sum(parts)) + claim.rounding
    return _band(claim, diff - claim.value, half, join_notes(note, _borrowed(noise, xa, xb)), ours, "Welch")


def judge_direction(claim: StudyClaim, a: Sequence[float] | None, b: Sequence[float] | None, *, measured: str,
                    higher: bool = True, noise: Noise | BorrowedNoise | None = None,
                    names: tuple[str, str] = ("A", "B"), scale: float | None = None, digits: int | None = None,
                    note: str = "") -> Verdict:
    """The claim "a is higher than b" (``higher=False``: lower), tested on the difference of means (a single run
    borrows ``noise``: one spread for both, or, a ``BorrowedNoise``, each its own, looked up by ``names``)."""
    _check(claim, measured)
    if not a or not b:
        return missing(claim, note)
    scale = claim.scale if scale is None else scale
    digits = claim.display_digits if digits is None else digits
    estimate = welch(a, b, _per_side(noise, names))
    diff = float(np.mean(a) - np.mean(b))
    means = f"{names[0]} {np.mean(a) * scale:.{digits}f}, {names[1]} {np.mean(b) * scale:.{digits}f}"
    if estimate is None:
        return _row(claim, means + f" (n={len(a)}, {len(b)})", INCONCLUSIVE, "no seed-noise estimate",
                    join_notes(note, "single runs, no measured spread"))
    _, se, df = estimate
    half = _t(df) * se
    low, high = (diff - half) * scale, (diff + half) * scale
    interval = f"[{low:+.{digits}f}, {high:+.{digits}f}]" if half > 0 else "(exact: no noise)"
    ours = f"{means}; difference {diff * scale:+.{digits}f} {interval} (n={len(a)}, {len(b)})"
    claimed = 1 if higher else -1
    side = 1 if diff - half > 0 else -1 if diff + half < 0 else 0
    verdict = REPRODUCED if side == claimed else NOT_REPRODUCED if side == -claimed else INCONCLUSIVE
    return _row(claim, ours, verdict, RULES["direction"], join_notes(note, _borrowed(noise, a, b)))


def judge_threshold(claim: StudyClaim, values: Sequence[float] | None, threshold: float, *, measured: str,
                    higher: bool = True, noise: Noise | None = None, scale: float | None = None,
                    digits: int | None = None, minus: Sequence[float] | None = None, note: str = "") -> Verdict:
    """The claim "the quantity is above ``threshold``" (``higher=False``: below), tested on the 95% t-interval of
    our mean (its seeds' spread, or for a single run the family's ``noise``).

    ``minus``: the quantity is a difference between two configurations, mean(values) - mean(minus), and its
    interval is Welch's (seeds unpaired: a seed number shared by two architectures pairs nothing)."""
    _check(claim, measured)
    if values is None or len(values) == 0 or (minus is not None and len(minus) == 0):
        return missing(claim, note)
    scale = claim.scale if scale is None else scale
    digits = claim.display_digits if digits is None else digits
    x = np.asarray(values, dtype=float)
    against = f"against {threshold * scale:.{digits}f}{claim.unit}"
    if minus is not None:
        y = np.asarray(minus, dtype=float)
        mean, counts = float(x.mean() - y.mean()), f"n={len(x)}, {len(y)}"
        estimate = welch(x, y, noise)
        half = None if estimate is None else _t(estimate[2]) * estimate[1]
        borrowed = _borrowed(noise, x, y)
    else:
        mean, counts, half, borrowed = float(x.mean()), f"n={len(x)}", None, ""
        if len(x) > 1:
            half = _t(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
        elif noise is not None:  # a single run borrows its family's spread
            half, borrowed = _t(noise.df) * noise.sd, f"noise: {noise.source}"
    if half is None:
        return _row(claim, f"{mean * scale:.{digits}f}{claim.unit} ({counts}) {against}", INCONCLUSIVE,
                    "no seed-noise estimate", join_notes(note, "one run and no measured spread" if minus is None
                                                           else "single runs, no measured spread"))
    ours = (f"{mean * scale:.{digits}f}{claim.unit} [{(mean - half) * scale:.{digits}f}, "
            f"{(mean + half) * scale:.{digits}f}] ({counts}) {against}")
    side = 1 if mean - half > threshold else -1 if mean + half < threshold else 0
    claimed = 1 if higher else -1
    verdict = REPRODUCED if side == claimed else NOT_REPRODUCED if side == -claimed else INCONCLUSIVE
    return _row(claim, ours, verdict, RULES["threshold"] + (" (Welch)" if minus is not None else ""),
                join_notes(note, borrowed))


def top_group(groups: Mapping[str, Sequence[float]], *, higher: bool = True,
              noise: Noise | BorrowedNoise | None = None) -> tuple[list[str], str]:
    """The configuration with the best mean and every one not separable from it (95% Welch)."""
    sign = 1 if higher else -1
    leader = max(groups, key=lambda g: sign * float(np.mean(groups[g])))
    return [leader] + [name for name in groups if name != leader
                       and not _significantly_ahead(groups, leader, name, higher, noise)], leader


def _significantly_ahead(groups: Mapping[str, Sequence[float]], x: str, y: str, higher: bool,
                         noise: Noise | BorrowedNoise | None) -> bool:
    """Mean(x) better than mean(y) (higher, or lower with ``higher=False``) with a 95% Welch interval off zero."""
    estimate = welch(groups[x], groups[y], _per_side(noise, (x, y)))
    return estimate is not None and (1 if higher else -1) * estimate[0] - _t(estimate[2]) * estimate[1] > 0


def judge_best(claim: StudyClaim, groups: Mapping[str, Sequence[float]] | None, claimed: str | Sequence[str], *,
               measured: str, higher: bool = True, noise: Noise | BorrowedNoise | None = None,
               scale: float | None = None,
               digits: int | None = None, top_set: bool = False, note: str = "") -> Verdict:
    """The claim "``claimed`` is the best of ``groups``" (several names: "one of these is best").

    ``top_set=True`` reads several names as "these are the best ones" (the two fastest, say): every claimed
    configuration significantly ahead of every other one: reproduced; another one significantly ahead of a
    claimed one: not reproduced; otherwise inconclusive."""
    _check(claim, measured)
    if not groups or any(not v for v in groups.values()):
        return missing(claim, note)
    claimed = {claimed} if isinstance(claimed, str) else set(claimed)
    unknown = claimed - set(groups)
    if unknown:
        raise ValueError(f"claim {claim.id!r}: claimed {sorted(unknown)} not among {sorted(groups)}")
    scale = claim.scale if scale is None else scale
    digits = claim.display_digits if digits is None else digits
    if _no_spread(groups, noise):
        return _row(claim, "-", INCONCLUSIVE, "no seed-noise estimate", join_notes(note, "single runs, no measured spread"))
    means = "means: " + ", ".join(f"{g} {np.mean(v) * scale:.{digits}f}" for g, v in groups.items())
    note = join_notes(note, _borrowed(noise, *groups.values()))
    side = "highest" if higher else "lowest"  # what the claim's "best" means here (the hardest class: the lowest F1)
    if top_set:
        others = [g for g in groups if g not in claimed]
        order = sorted(groups, key=lambda g: (-1 if higher else 1) * float(np.mean(groups[g])))
        ours = f"{side} {len(claimed)} by mean: {', '.join(order[:len(claimed)])} ({means})"
        if all(_significantly_ahead(groups, c, o, higher, noise) for c in claimed for o in others):
            verdict = REPRODUCED
        elif any(_significantly_ahead(groups, o, c, higher, noise) for c in claimed for o in others):
            verdict = NOT_REPRODUCED
        else:
            verdict = INCONCLUSIVE
        return _row(claim, ours, verdict, RULES["best_set"], note)
    top, leader = top_group(groups, higher=higher, noise=noise)
    ours = f"{side}: {leader}; tied with it: {', '.join(t for t in top if t != leader) or 'none'} ({means})"
    if set(top) <= claimed:
        verdict = REPRODUCED
    elif not set(top) & claimed:
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    return _row(claim, ours, verdict, RULES["best" if higher else "best_lowest"], note)


@dataclass(frozen=True)
class Measured:
    """One cost axis of one configuration measured per run (the seconds of each seed, say), where an exact cost
    (a parameter count) is a plain number. Measured costs are positive and compared as ratios, on the log scale
    (``cost_order``), so that a single run can borrow the spread of another configuration's runs: ``noise``, the
    seed spread of the log of the same kind of cost (``Measured.log_noise``), which a configuration with several
    runs does not need."""

    values: tuple[float, ...]
    noise: Noise | None = None

    def __init__(self, values: Sequence[float], noise: Noise | None = None):
        values = tuple(float(v) for v in values)
        if not values or min(values) <= 0:
            raise ValueError(f"a measured cost needs at least one run's value, every one positive; got {values}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "noise", noise)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @staticmethod
    def log_noise(values: Sequence[float], source: str) -> Noise | None:
        """The seed spread of the log of ``values`` (several runs of one configuration), for single runs to borrow."""
        return Noise.of(np.log(np.asarray(values, dtype=float)), source)


def cost_order(a: "float | Measured", b: "float | Measured") -> int:
    """-1 where cost ``a`` is lower than ``b``, 1 where higher, 0 where they count as equal. Exact costs compare as
    numbers; measured ones (``Measured``, on both sides) by a 95% Welch interval of the difference of their mean
    log costs (the log of a ratio), a single run borrowing its ``noise``: equal where the interval covers zero, and
    where a single run has no spread to borrow."""
    if isinstance(a, Measured) != isinstance(b, Measured):
        raise ValueError(f"one cost axis compares a measured cost with an exact one ({a!r}, {b!r}): give every "
                         "configuration the same kind of cost on each axis")
    if not isinstance(a, Measured):
        return (a > b) - (a < b)
    estimate = welch(np.log(a.values), np.log(b.values), (a.noise, b.noise))
    if estimate is None:
        return 0
    diff, se, df = estimate
    half = _t(df) * se
    return -1 if diff + half < 0 else 1 if diff - half > 0 else 0


def _cost_axes(cost: Mapping[str, "float | Measured | tuple"], names) -> Callable[[str], tuple]:
    """A reader of each configuration's costs as a tuple of axes, after checking they all have the same number."""
    def costs(name: str) -> tuple:
        value = cost[name]
        return tuple(value) if isinstance(value, (tuple, list)) else (value,)

    axes = {len(costs(g)) for g in names}
    if len(axes) != 1:
        raise ValueError(f"every configuration needs the same number of costs; got {sorted(axes)}: "
                         "give each one a cost per axis, in the same order")
    return costs


def undominated(accuracy: Mapping[str, Sequence[float]], cost: Mapping[str, "float | Measured | tuple"], *,
                noise: Noise | BorrowedNoise | None = None) -> list[str]:
    """Configurations no other one beats (accuracy: higher is better; every cost: lower is better).

    ``cost`` gives each configuration one cost or several (a tuple: parameters, seconds per epoch, ...), each an
    exact number or a ``Measured`` one (compared by ``cost_order``). Another configuration beats this one when
    it costs no more on every axis and is either significantly more accurate, or cheaper on at least one axis
    and not significantly less accurate (95% Welch); with one cost this is: cheaper-or-equal and significantly
    more accurate, or cheaper and not significantly less accurate."""
    costs = _cost_axes(cost, accuracy)

    def beats(h: str, g: str) -> bool:
        order = [cost_order(a, b) for a, b in zip(costs(h), costs(g))]
        if any(o > 0 for o in order):
            return False
        return _significantly_ahead(accuracy, h, g, True, noise) or (
            any(o < 0 for o in order) and not _significantly_ahead(accuracy, g, h, True, noise))

    return [g for g in accuracy if not any(beats(h, g) for h in accuracy if h != g)]


def judge_tradeoff(claim: StudyClaim, accuracy: Mapping[str, Sequence[float]] | None,
                   cost: Mapping[str, "float | Measured | tuple"], claimed: str | Sequence[str], *, measured: str,
                   cost_name: str, noise: Noise | BorrowedNoise | None = None, material: float = 0.01,
                   note: str = "") -> Verdict:
    """The claim "``claimed`` is the best trade-off of accuracy and ``cost_name``" (one cost, or several:
    then ``cost`` holds a tuple per configuration and ``cost_name`` names the axes, e.g. "parameters and
    seconds per epoch").

    Reproduced when a claimed configuration is undominated (``undominated``). Not reproduced needs evidence
    against every claimed one: another configuration that costs no more on any axis and is either
    significantly more accurate, or cheaper and shown not ``material``ly less accurate (the upper end of the
    95% Welch interval of claimed minus it is below ``material``, one accuracy point by default). Dominated
    only by cheaper configurations whose accuracy the seeds cannot tell apart by that much: inconclusive."""
    _check(claim, measured)
    if not accuracy or any(not v for v in accuracy.values()):
        return missing(claim, note)
    claimed = {claimed} if isinstance(claimed, str) else set(claimed)
    unknown = claimed - set(accuracy)
    if unknown:
        raise ValueError(f"claim {claim.id!r}: claimed {sorted(unknown)} not among {sorted(accuracy)}")
    if set(cost) != set(accuracy):
        raise ValueError(f"claim {claim.id!r}: every configuration needs a cost and only those have one; "
                         f"without a cost: {sorted(set(accuracy) - set(cost))}, "
                         f"without an accuracy: {sorted(set(cost) - set(accuracy))}")
    if _no_spread(accuracy, noise):
        return _row(claim, "-", INCONCLUSIVE, "no seed-noise estimate", join_notes(note, "single runs, no measured spread"))
    front = undominated(accuracy, cost, noise=noise)
    ours = f"undominated in accuracy and {cost_name}: {', '.join(front)}"
    note = join_notes(note, _borrowed(noise, *accuracy.values()))
    if set(front) & claimed:
        return _row(claim, ours, REPRODUCED, RULES["tradeoff"], note)

    costs = _cost_axes(cost, accuracy)

    def shown_worse(g: str) -> str | None:
        """A configuration that dominates ``g`` with evidence, or None."""
        for h in accuracy:
            order = [cost_order(x, y) for x, y in zip(costs(h), costs(g))]
            if h == g or any(o > 0 for o in order):
                continue
            if _significantly_ahead(accuracy, h, g, True, noise):
                return h
            diff, se, df = welch(accuracy[g], accuracy[h], _per_side(noise, (g, h)))
            if any(o < 0 for o in order) and diff + _t(df) * se < material:
                return h
        return None

    against = {g: shown_worse(g) for g in sorted(claimed)}
    if all(against.values()):
        beaten = "; ".join(f"{g} by {h}" for g, h in against.items())
        return _row(claim, ours, NOT_REPRODUCED, RULES["tradeoff"], join_notes(note, f"dominated with evidence: {beaten}"))
    return _row(claim, ours, INCONCLUSIVE, RULES["tradeoff"],
                join_notes(note, "dominated only by cheaper configurations the seeds cannot show to be within "
                            f"{100 * material:g} point(s) of it"))


def _count_text(ours: float, claim: StudyClaim) -> str:
    """Our count as the row shows it: a scaled one (a percentage) with a digit more than the study printed, and
    more where that display would round to another printed value than ours does (91.345% is not "91.35%" beside
    a printed 91.3%)."""
    if claim.scale == 1:
        return f"{ours:,.0f}" if float(ours).is_integer() else f"{ours:g}"
    from decimal import ROUND_HALF_UP, Decimal

    shown, digits = ours * claim.scale, claim.display_digits
    unit = Decimal(f"{2 * claim.rounding * claim.scale:.12g}")  # one unit of the study's last printed digit

    def read(text: str) -> Decimal:  # what a reader gets by rounding ``text`` to the study's precision
        return Decimal(text).quantize(unit, rounding=ROUND_HALF_UP)

    while digits < 6 and read(f"{shown:.{digits}f}") != read(f"{shown:.12f}"):
        digits += 1
    return f"{shown:.{digits}f}{claim.unit}"


def judge_count(claim: StudyClaim, ours: int | float | None, *, measured: str, note: str = "",
                unit: str = "") -> Verdict:
    """A deterministic number (a parameter count) against the study's, at the study's printed precision;
    ``unit``: shown after ours where the study's printed unit is not one the claim parses (" µs/K")."""
    _check(claim, measured)
    if ours is None:
        return missing(claim, note)
    rounded = abs(ours - claim.value) <= claim.rounding * (1 + EPS)
    # truncating is the other common way to shorten a count (2,067,850 printed as "2.06M"): from the printed
    # value up to, not including, one unit of its last digit above it
    truncated = not rounded and 0 <= abs(ours) - abs(claim.value) < 2 * claim.rounding * (1 - EPS)
    text = _count_text(ours, claim) + unit
    if truncated:
        note = join_notes(note, f"ours truncated, not rounded, to the study's printed precision gives {claim.printed}")
    return _row(claim, text,
                REPRODUCED if rounded or truncated else NOT_REPRODUCED, RULES["count"], note,
                difference=(ours - claim.value) * claim.scale, tolerance=claim.rounding * claim.scale)


def judge_spread(claim: StudyClaim, values: Sequence[float] | None, *, measured: str, note: str = "") -> Verdict:
    """The study's seed-to-seed standard deviation against the 95% chi-square interval of our seeds' one."""
    _check(claim, measured)
    if values is None or len(values) == 0:
        return missing(claim, note)
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return _row(claim, "one seed (n=1)", INCONCLUSIVE, "no seed-noise estimate",
                    join_notes(note, "a spread needs two seeds at least"))
    df, sd = len(x) - 1, float(x.std(ddof=1))
    low = sd * math.sqrt(df / _stats.chi2.ppf(0.5 + LEVEL / 2, df)) - claim.rounding
    high = sd * math.sqrt(df / _stats.chi2.ppf(0.5 - LEVEL / 2, df)) + claim.rounding
    ours = f"{_fmt(sd, claim)} [{_fmt(max(low, 0.0), claim)}, {_fmt(high, claim)}] (n={len(x)})"
    half = (high - max(low, 0.0)) / 2
    # the interval is not symmetric about ours: the figure's tolerance is its reach on the study's side, so that the
    # study lies within the tolerance exactly when it lies inside the interval
    reach = sd - max(low, 0.0) if claim.value < sd else high - sd
    numbers = {"difference": (sd - claim.value) * claim.scale, "tolerance": reach * claim.scale}
    if low - EPS <= claim.value <= high + EPS:
        verdict = REPRODUCED if half <= claim.material_difference else INCONCLUSIVE
    else:
        verdict = NOT_REPRODUCED
    return _row(claim, ours, verdict, RULES["spread"], note, **numbers)


def judge_contrast(claim: StudyClaim, cells: Mapping | None, weights: Mapping[object, float], *, measured: str,
                   higher: bool = True, pooled: bool = True, capped: str = "", scale: float = 1.0, digits: int = 3,
                   unit: str = "", note: str = "") -> Verdict:
    """The claim "the contrast ``sum(w * mean)`` of ``cells`` is above zero" (``higher=False``: below zero).

    ``cells`` maps each configuration to its per-seed values; ``None`` for a configuration (or for all)
    means some of its runs are not stored, and the row is missing: with ``pooled`` the interval takes
    its variance from every configuration in ``cells``, so each must be complete. ``capped`` names why
    the runs cannot measure the quantity (stopped by the epoch cap while improving): not comparable."""
    from .stats import contrast

    _check(claim, measured)
    if cells is None or any(v is None or len(v) == 0 for v in cells.values()) or any(k not in cells for k in weights):
        return missing(claim, note)
    point = sum(w * float(np.mean(cells[k])) for k, w in weights.items())
    try:
        estimate = contrast(cells, weights, LEVEL, pooled)
    except ValueError:  # too few seeds for a variance (pooled: none with two; unpooled: some cell with one)
        single = [k for k in (cells if pooled else weights) if len(cells[k]) < 2]
        ours = f"{point * scale:+.{digits}f}{unit} ({len(single)} of the configurations with one run)"
        if capped:
            return not_comparable(claim, ours, join_notes(capped, note))
        return _row(claim, ours, INCONCLUSIVE, "no seed-noise estimate",
                    join_notes(note, "too few seeds for a measured spread"))
    spread = (f"variance pooled over {len(cells)} configurations" if estimate.method.endswith("pooled")
              else estimate.method.removeprefix("t, "))
    ours = f"{estimate.format(digits, scale, unit)} ({LEVEL:.0%} t-interval, {spread}, df {estimate.df:.0f})"
    if capped:
        return not_comparable(claim, ours, join_notes(capped, note))
    claimed = 1 if higher else -1
    side = estimate.side
    verdict = REPRODUCED if side == claimed else NOT_REPRODUCED if side == -claimed else INCONCLUSIVE
    if verdict == INCONCLUSIVE:
        note = join_notes(note, "the interval covers zero: neither the claimed effect nor its absence is shown")
    return _row(claim, ours, verdict, RULES["contrast"], note)


def judge_interaction(claim: StudyClaim, cells: Mapping | None, a0, a1, b0, b1, *, measured: str,
                      higher: bool = True, **options) -> Verdict:
    """The 2x2 interaction ``(y[a1,b1] - y[a1,b0]) - (y[a0,b1] - y[a0,b0])`` against the claimed side of zero.

    On a loss, "the pair does more than the sum of its parts" is an interaction below zero
    (``higher=False``). ``options`` go to ``judge_contrast``."""
    from .stats import interaction_weights

    return judge_contrast(claim, cells, interaction_weights(a0, a1, b0, b1), measured=measured, higher=higher,
                          **options)


def judge_relative(claim: StudyClaim, a: Sequence[float] | None, b: Sequence[float] | None, *, measured: str,
                   noise: Noise | None = None, note: str = "",
                   samples: tuple[Sample | None, Sample | None] = (None, None)) -> Verdict:
    """The study's relative change ``1 - a / b`` (one run of each configuration) against ours, by the value rule.

    A new single run of each would give a ratio within ``t * s_r + r`` of ours, ``s_r`` from the delta
    method: ``s_r^2 = s_a^2 (1 + 1/n_a) / m_b^2 + m_a^2 s_b^2 (1 + 1/n_b) / m_b^4``. A configuration with one
    run borrows ``noise`` (its family's spread). ``samples``: where the study measured a (b) on a sample of the
    test images, that sample's variance joins its term, as in ``judge_value``; the two samples are taken as
    independent (the same images for both would correlate their errors and narrow the band), as the row says."""
    _check(claim, measured)
    if not a or not b:
        return missing(claim, note)
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    ma, mb = float(xa.mean()), float(xb.mean())
    ratio = 1 - ma / mb
    ours = f"{_fmt(ratio, claim)} (1 - {ma:.4g} / {mb:.4g}; n={len(xa)}, {len(xb)})"
    spreads = _spreads(xa, xb, noise)
    if spreads is None:
        return _row(claim, ours, INCONCLUSIVE, "no seed-noise estimate", join_notes(note, "single runs, no measured spread"))
    gradient = (1 / mb, ma / mb ** 2)
    parts = [(g * s) ** 2 * (_single(claim) + 1 / len(x)) for g, (s, _), x in zip(gradient, spreads, (xa, xb))]
    df = _welch_df(parts, spreads, xa, xb, noise)
    sampled = [(g ** 2 * sample.variance, sample.df) for g, sample in zip(gradient, samples)
               if sample is not None]
    rule, note = "delta method, Welch", join_notes(note, _borrowed(noise, xa, xb))
    if sampled:
        df = _satterthwaite((sum(parts), df), *sampled)
        parts += [variance for variance, _ in sampled]
        rule += "; with the noise of the study's samples of the test images, taken as independent"
        note = join_notes(note, "sampling noise of the study's numbers: "
                          + "; ".join(sample.source for sample in samples if sample is not None))
    half = _t(df) * math.sqrt(sum(parts)) + claim.rounding
    return _band(claim, ratio - claim.value, half, note, ours, rule)
