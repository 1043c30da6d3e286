"""Resampling intervals and paired tests for eval scores.

Everything here works on a matrix of raw counts, one row per document and one column per
count (true positives, pairs, ...). A *statistic* maps one row of summed counts to named
metric values (``None`` where a metric is undefined), so the bootstrap recomputes each
metric from resampled count totals, exactly as the point estimate is computed.

* :func:`bootstrap_intervals`: percentile intervals from resampling documents with
  replacement (seeded, deterministic).
* :func:`paired_bootstrap_intervals`: the same resample applied to two runs on the same
  documents, giving intervals for the difference B - A.
* :func:`mcnemar_exact_p` / :func:`mcnemar`: exact McNemar test on paired binary outcomes.

This module imports nothing from pactx.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "Interval",
    "McNemarResult",
    "Statistic",
    "bootstrap_intervals",
    "mcnemar",
    "mcnemar_exact_p",
    "paired_bootstrap_intervals",
    "percentile_interval",
    "resample_weights",
]

Statistic = Callable[[np.ndarray], Mapping[str, float | None]]
"""Named metric values (``None`` when undefined) from one row of summed counts."""

Interval = tuple[float | None, float | None]
"""A (low, high) interval; ``(None, None)`` when it cannot be computed."""

_NO_INTERVAL: Interval = (None, None)


def resample_weights(n_items: int, resamples: int, seed: int) -> np.ndarray:
    """How often each item is drawn in each resample, shape ``(resamples, n_items)``.

    Each resample draws ``n_items`` item indices uniformly with replacement from
    ``numpy.random.default_rng(seed)``, so the result is fixed by the seed.
    """
    if n_items <= 0 or resamples <= 0:
        return np.zeros((max(resamples, 0), max(n_items, 0)), dtype=np.int64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_items, size=(resamples, n_items))
    flat = (draws + np.arange(resamples)[:, None] * n_items).ravel()
    return np.bincount(flat, minlength=resamples * n_items).reshape(resamples, n_items)


def percentile_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Percentile interval of ``values`` at ``confidence``; ``(None, None)`` when empty."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if len(values) == 0:
        return _NO_INTERVAL
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(np.asarray(values, dtype=float), [tail, 100.0 - tail])
    return float(low), float(high)


def _collect(
    statistic: Statistic, totals: np.ndarray, names: Iterable[str]
) -> dict[str, list[float]]:
    """Evaluate ``statistic`` on every row of ``totals``; keep the defined values per name."""
    values: dict[str, list[float]] = {name: [] for name in names}
    for row in totals:
        for name, value in statistic(row).items():
            if value is not None and name in values:
                values[name].append(float(value))
    return values


def bootstrap_intervals(
    counts: np.ndarray,
    statistic: Statistic,
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of each metric ``statistic`` returns.

    ``counts`` has one row per document. Each resample draws documents with replacement,
    sums their counts and evaluates ``statistic`` on the totals. Resamples where a metric is
    undefined are left out of that metric's interval.
    """
    counts = np.asarray(counts)
    names = list(statistic(counts.sum(axis=0)).keys())
    if counts.shape[0] == 0 or resamples <= 0:
        return {name: _NO_INTERVAL for name in names}
    totals = resample_weights(counts.shape[0], resamples, seed) @ counts
    values = _collect(statistic, totals, names)
    return {name: percentile_interval(values[name], confidence) for name in names}


def paired_bootstrap_intervals(
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    statistic: Statistic,
    *,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Paired bootstrap intervals of the difference B - A in each metric.

    Row ``i`` of both matrices must be the same document. Every resample uses the same drawn
    documents for both runs; resamples where a metric is undefined in either run are left out.
    """
    counts_a, counts_b = np.asarray(counts_a), np.asarray(counts_b)
    if counts_a.shape != counts_b.shape:
        raise ValueError(f"count matrices differ in shape: {counts_a.shape} vs {counts_b.shape}")
    names = list(statistic(counts_a.sum(axis=0)).keys())
    if counts_a.shape[0] == 0 or resamples <= 0:
        return {name: _NO_INTERVAL for name in names}
    weights = resample_weights(counts_a.shape[0], resamples, seed)
    diffs: dict[str, list[float]] = {name: [] for name in names}
    for row_a, row_b in zip(weights @ counts_a, weights @ counts_b, strict=True):
        values_a, values_b = statistic(row_a), statistic(row_b)
        for name in names:
            a, b = values_a.get(name), values_b.get(name)
            if a is not None and b is not None:
                diffs[name].append(float(b) - float(a))
    return {name: percentile_interval(diffs[name], confidence) for name in names}


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts.

    Under the null each discordant pair is equally likely to favour either run, so the
    smaller count is Binomial(only_a + only_b, 1/2); the p-value is twice its lower tail,
    capped at 1 (1.0 when there are no discordant pairs). Computed exactly in integers.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError("discordant counts must be non-negative")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired binary outcomes (right/wrong in run A and in run B).

    ``only_a`` (A right, B wrong) and ``only_b`` (A wrong, B right) are the discordant cells.
    """

    n: int
    both: int
    only_a: int
    only_b: int
    neither: int
    p_value: float
    alpha: float = 0.05

    @property
    def significant(self) -> bool:
        """True when the difference is larger than noise: ``p_value < alpha``."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {**asdict(self), "significant": self.significant}


def mcnemar(outcomes: Iterable[tuple[bool, bool]], *, alpha: float = 0.05) -> McNemarResult:
    """Tally paired outcomes ``(right in A, right in B)`` and run the exact McNemar test."""
    cells = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for a, b in outcomes:
        cells[(bool(a), bool(b))] += 1
    only_a, only_b = cells[(True, False)], cells[(False, True)]
    return McNemarResult(
        n=sum(cells.values()),
        both=cells[(True, True)],
        only_a=only_a,
        only_b=only_b,
        neither=cells[(False, False)],
        p_value=mcnemar_exact_p(only_a, only_b),
        alpha=alpha,
    )
