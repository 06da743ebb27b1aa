"""Small statistics for the chapters: intervals for means and contrasts, and a two-way ANOVA.

A factorial experiment stores its results as *cells*: a mapping from a cell key (for instance
``(norm, dropout)``) to the per-seed values measured in that cell. Seeds are independent
replicates, so a linear contrast of cell means (a difference, or the 2x2 interaction
``(y_11 - y_10) - (y_01 - y_00)``) gets

- a t-interval from the pooled within-cell variance (the residual mean square of the two-way
  ANOVA, with its ``N - cells`` degrees of freedom), or from Welch's unpooled variances;
- a percentile bootstrap interval, resampling the seeds of every cell independently. With a handful
  of seeds per cell the bootstrap is known to be too narrow (it ignores the ``n - 1`` correction);
  the t-interval is the one to quote.

``two_way_anova`` gives F-tests for both main effects and the interaction with Type II sums of
squares (model comparisons by least squares), so an unbalanced design (a missing run) still works.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _stats

Cells = Mapping[Hashable, Sequence[float]]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided interval at ``level``."""

    value: float
    low: float
    high: float
    level: float = 0.95
    se: float | None = None
    df: float | None = None
    method: str = ""

    @property
    def side(self) -> int:
        """+1 when the interval lies above zero, -1 below zero, 0 when it contains zero."""
        if self.low > 0:
            return 1
        if self.high < 0:
            return -1
        return 0

    def format(self, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
        """``+0.012 [-0.020, +0.044]`` (values multiplied by ``scale``)."""
        v, lo, hi = (scale * x for x in (self.value, self.low, self.high))
        return f"{v:+.{digits}f}{unit} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def mean_sd_text(values: Sequence[float], digits: int = 3, scale: float = 1.0, empty: str = "missing",
                 unit: str = "") -> str:
    """``"0.463 ± 0.041"``: the mean and the seed-to-seed standard deviation (ddof 1) of ``values`` (times
    ``scale``: 100 with ``unit="%"`` gives ``"92.37% ± 0.14"``), the value alone when there is one (one seed
    has no spread), ``empty`` when there is none."""
    x = scale * np.asarray(values, dtype=float)
    if len(x) == 0:
        return empty
    if len(x) == 1:
        return f"{x[0]:.{digits}f}{unit}"
    return f"{x.mean():.{digits}f}{unit} ± {x.std(ddof=1):.{digits}f}"


def mean_interval(values: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean with a Student-t interval (a single value gets an infinitely wide interval)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        raise ValueError("mean_interval needs at least one value")
    mean = float(x.mean())
    if len(x) < 2:
        return Estimate(mean, -np.inf, np.inf, level, None, 0, "t")
    se = float(x.std(ddof=1) / np.sqrt(len(x)))
    half = _stats.t.ppf(0.5 + level / 2, len(x) - 1) * se
    return Estimate(mean, mean - half, mean + half, level, se, len(x) - 1, "t")


def interaction_weights(a0, a1, b0, b1) -> dict:
    """Contrast weights of the 2x2 interaction ``(y[a1,b1] - y[a1,b0]) - (y[a0,b1] - y[a0,b0])``.

    With factor A "normalisation" (a0 = none) and B "dropout" (b0 = 0) this is the change that
    dropout makes *with* the normalisation minus the change it makes *without* it: zero when the two
    effects simply add up, negative (on a loss) when the pair helps more than the sum of its parts.
    """
    return {(a1, b1): 1.0, (a1, b0): -1.0, (a0, b1): -1.0, (a0, b0): 1.0}


def mean_interaction_weights(a_levels: Sequence, b_levels: Sequence, a0, b0) -> dict:
    """Contrast weights of the mean of every 2x2 interaction of a full factorial against its reference
    cell (``a0``, ``b0``): each other level of A with each other level of B, as ``interaction_weights``.

    One number for "the two factors interact, on average, this way" (negative on a loss: more than the
    sum of their parts); the same weights the two-way ANOVA's interaction term spreads its test over.
    """
    pairs = [(a, b) for a in a_levels if a != a0 for b in b_levels if b != b0]
    if not pairs:
        raise ValueError("a mean interaction needs a level other than the reference in both factors")
    weights: dict = {}
    for a, b in pairs:
        for cell, w in interaction_weights(a0, a, b0, b).items():
            weights[cell] = weights.get(cell, 0.0) + w / len(pairs)
    return weights


def _arrays(cells: Cells) -> dict:
    return {k: np.asarray(v, dtype=float) for k, v in cells.items()}


def pooled_variance(cells: Cells) -> tuple[float, int]:
    """Within-cell variance pooled over every cell with at least two values, and its degrees of freedom."""
    ss, df = 0.0, 0
    for values in _arrays(cells).values():
        if len(values) > 1:
            ss += float(((values - values.mean()) ** 2).sum())
            df += len(values) - 1
    if df == 0:
        raise ValueError("pooled variance needs a cell with at least two values")
    return ss / df, df


def contrast(cells: Cells, weights: Mapping[Hashable, float], level: float = 0.95,
             pooled: bool = True) -> Estimate:
    """``sum(w_k * mean_k)`` with a t-interval.

    ``pooled=True`` takes the variance from *all* cells in ``cells`` (the ANOVA residual, df = N - k),
    which is right when the cells share one noise level; ``pooled=False`` uses each involved cell's
    own variance with Welch-Satterthwaite degrees of freedom. Pooling is checked, not assumed: where every
    cell has seeds and the median-centred Levene test (robust to non-normal seeds) says the spreads differ
    at ``level``, the interval is Welch's, and ``method`` says why.
    """
    data = _arrays(cells)
    missing = [k for k in weights if k not in data or len(data[k]) == 0]
    if missing:
        raise KeyError(f"contrast needs values in cells {missing}")
    value = float(sum(w * data[k].mean() for k, w in weights.items()))
    why = ""
    if pooled and all(len(v) > 1 for v in data.values()) and all(len(data[k]) > 1 for k in weights):
        with np.errstate(invalid="ignore", divide="ignore"):  # every cell without spread: no test (NaN), pooled
            equal = float(_stats.levene(*data.values(), center="median").pvalue)
        if equal < 1 - level:
            pooled, why = False, f" (the spreads differ: Levene p = {equal:.2f})"
    if pooled:
        variance, df = pooled_variance(data)
        se = float(np.sqrt(variance * sum(w ** 2 / len(data[k]) for k, w in weights.items())))
        method = "t, pooled"
    else:
        if any(len(data[k]) < 2 for k in weights):
            raise ValueError("Welch's interval needs at least two values in every involved cell")
        parts = [w ** 2 * data[k].var(ddof=1) / len(data[k]) for k, w in weights.items()]
        se = float(np.sqrt(sum(parts)))
        denominator = sum(p ** 2 / (len(data[k]) - 1) for p, k in zip(parts, weights))
        df = float(sum(parts) ** 2 / denominator) if denominator > 0 else np.inf
        method = "t, Welch" + why
    half = float(_stats.t.ppf(0.5 + level / 2, df)) * se
    return Estimate(value, value - half, value + half, level, se, df, method)


def bootstrap_contrast(cells: Cells, weights: Mapping[Hashable, float], level: float = 0.95,
                       n_boot: int = 10_000, seed: int = 0) -> Estimate:
    """Percentile bootstrap of a contrast, resampling every cell's values independently (fixed seed)."""
    data = _arrays(cells)
    rng = np.random.default_rng(seed)
    draws = np.zeros(n_boot)
    for k, w in weights.items():
        values = data[k]
        if len(values) == 0:
            raise KeyError(f"bootstrap needs values in cell {k!r}")
        picks = rng.integers(0, len(values), size=(n_boot, len(values)))
        draws += w * values[picks].mean(axis=1)
    value = float(sum(w * data[k].mean() for k, w in weights.items()))
    low, high = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
    return Estimate(value, float(low), float(high), level, float(draws.std(ddof=1)), None, "bootstrap")


def interaction(cells: Cells, a0, a1, b0, b1, level: float = 0.95, pooled: bool = True) -> Estimate:
    """The 2x2 interaction contrast of ``interaction_weights`` with a t-interval."""
    return contrast(cells, interaction_weights(a0, a1, b0, b1), level, pooled)


def _design(frame: pd.DataFrame, terms: list[str]) -> np.ndarray:
    columns = [np.ones(len(frame))]
    for term in terms:
        dummies = pd.get_dummies(frame[term].astype(str), drop_first=True, dtype=float)
        columns += [dummies[c].to_numpy() for c in dummies]
    return np.column_stack(columns)


def _rss(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    return float(residual @ residual), int(np.linalg.matrix_rank(x))


def two_way_anova(frame: pd.DataFrame, a: str, b: str, y: str) -> pd.DataFrame:
    """F-tests of factors ``a``, ``b`` and their interaction on ``y`` (Type II sums of squares).

    The full model has one mean per (a, b) cell, so its residual is the pooled within-cell
    variation; the interaction's sum of squares is what the additive model ``a + b`` leaves on top
    of it. Every cell needs at least one value and some cell two.
    """
    data = frame[[a, b, y]].dropna()
    values = data[y].to_numpy(dtype=float)
    cell = data[a].astype(str) + "\x00" + data[b].astype(str)
    full = pd.get_dummies(cell, dtype=float).to_numpy()
    rss_full, rank_full = _rss(full, values)
    df_residual = len(values) - rank_full
    if df_residual < 1:
        raise ValueError("two_way_anova needs replicates: some cell must hold two values")
    rss_add, rank_add = _rss(_design(data, [a, b]), values)
    rss_a, rank_a = _rss(_design(data, [a]), values)
    rss_b, rank_b = _rss(_design(data, [b]), values)
    ms_residual = rss_full / df_residual
    rows = {
        a: (rss_b - rss_add, rank_add - rank_b),
        b: (rss_a - rss_add, rank_add - rank_a),
        f"{a} x {b}": (rss_add - rss_full, rank_full - rank_add),
    }
    table = []
    for name, (ss, df) in rows.items():
        f = (ss / df) / ms_residual if df > 0 and ms_residual > 0 else np.nan
        p = float(_stats.f.sf(f, df, df_residual)) if df > 0 and ms_residual > 0 else np.nan
        table.append({"source": name, "sum of squares": ss, "df": df, "mean square": ss / df if df else np.nan,
                      "F": f, "p": p})
    table.append({"source": "residual (seed to seed)", "sum of squares": rss_full, "df": df_residual,
                  "mean square": ms_residual, "F": np.nan, "p": np.nan})
    return pd.DataFrame(table).set_index("source")
