"""The metric registry: the raw counts scored per document and every metric computed from them.

Every metric is computed from raw counts (:data:`COUNT_KEYS`), shipped with it in
:attr:`Metric.counts`, so it can be recomputed. Micro values sum counts over documents;
macro values average per-document values, skipping documents where the metric is undefined.

* ``detection_*``: precision/recall/F1 with TP = gated matched pairs (see
  :mod:`pactx.evals.alignment`).
* ``parties_*``: precision/recall/F1 on party keys over matched pairs; parties of unmatched
  gold records also count as FN and parties of unmatched predictions as FP, so a missed or
  spurious agreement costs its parties too.
* ``status_accuracy``, ``type_accuracy``: share of matched pairs with the same value. The
  type is part of the similarity, so type accuracy is conditional on clearing the gate.
* ``obligations_*``, ``areas_*``, ``provisions_*`` (provisions compared by ``type``): set
  precision/recall/F1 summed over matched pairs; undefined when there is no matched pair.
* ``dates_exact`` = exact / scored and ``dates_partial`` = (exact + partial) / scored over
  the three date fields of matched pairs, where *scored* counts the fields in which gold or
  prediction has a date (see :func:`compare_dates`).
* ``evidence_grounding``: share of predicted evidence quotes found in the document text.
* ``schema_valid``: share of documents with a prediction (failed or missing ones are invalid).
* ``reasks_mean``: mean of ``metadata.attempts - 1`` over valid documents with metadata.

Conventions: precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2TP / (2TP + FP + FN).
With nothing predicted and nothing gold, precision, recall and F1 are all 1.0 (nothing to
find, nothing claimed). Any other empty denominator gives ``None``, never 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "ALL_METRICS",
    "COUNT_KEYS",
    "DATE_FIELDS",
    "HEADLINE_METRICS",
    "METRIC_SPECS",
    "DateMatch",
    "Metric",
    "MetricSpec",
    "compare_dates",
    "compute_metrics",
    "metric_spec",
    "prf",
]

DATE_FIELDS: tuple[str, ...] = ("signed_date", "effective_date", "end_date")

HEADLINE_METRICS: tuple[str, ...] = (
    "detection_f1",
    "parties_f1",
    "status_accuracy",
    "type_accuracy",
    "obligations_f1",
    "areas_f1",
    "provisions_f1",
    "dates_exact",
    "dates_partial",
    "evidence_grounding",
    "schema_valid",
)

COUNT_KEYS: tuple[str, ...] = (
    "documents",
    "valid",
    "with_metadata",
    "reasks",
    "det_tp",
    "det_fp",
    "det_fn",
    "pairs",
    "party_tp",
    "party_fp",
    "party_fn",
    "status_correct",
    "type_correct",
    "obligation_tp",
    "obligation_fp",
    "obligation_fn",
    "area_tp",
    "area_fp",
    "area_fn",
    "provision_tp",
    "provision_fp",
    "provision_fn",
    "date_exact",
    "date_partial",
    "date_mismatch",
    "date_missing",
    "date_spurious",
    "date_both_absent",
    "evidence_grounded",
    "evidence_total",
)
"""Raw per-document counts every metric is computed from."""


class DateMatch(StrEnum):
    """Outcome of comparing a gold date with a predicted one."""

    EXACT = "exact"
    PARTIAL = "partial"
    MISMATCH = "mismatch"
    MISSING = "missing"
    SPURIOUS = "spurious"
    BOTH_ABSENT = "both_absent"


def compare_dates(gold: str | None, pred: str | None) -> DateMatch:
    """Compare two partial ISO dates (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) by granularity.

    ``exact``: same date at the same precision. ``partial``: different precisions that agree
    on the shared components (gold ``2023-09`` vs pred ``2023-09-16``, or gold ``2023-09-16``
    vs pred ``2023``). ``mismatch``: they disagree. ``missing``: only gold has a date;
    ``spurious``: only the prediction has one; ``both_absent``: neither has.
    """
    if gold is None and pred is None:
        return DateMatch.BOTH_ABSENT
    if pred is None:
        return DateMatch.MISSING
    if gold is None:
        return DateMatch.SPURIOUS
    gold_parts, pred_parts = gold.strip().split("-"), pred.strip().split("-")
    if gold_parts == pred_parts:
        return DateMatch.EXACT
    shared = min(len(gold_parts), len(pred_parts))
    if len(gold_parts) != len(pred_parts) and gold_parts[:shared] == pred_parts[:shared]:
        return DateMatch.PARTIAL
    return DateMatch.MISMATCH


def _precision(tp: int, fp: int, fn: int) -> float | None:
    if tp + fp == 0:
        return 1.0 if fn == 0 else None
    return tp / (tp + fp)


def _recall(tp: int, fp: int, fn: int) -> float | None:
    if tp + fn == 0:
        return 1.0 if fp == 0 else None
    return tp / (tp + fn)


def _f1(tp: int, fp: int, fn: int) -> float | None:
    denominator = 2 * tp + fp + fn
    return 1.0 if denominator == 0 else 2 * tp / denominator


def prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall and F1 from raw counts, as every pactx metric computes them."""
    return _precision(tp, fp, fn), _recall(tp, fp, fn), _f1(tp, fp, fn)


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class MetricSpec:
    """A metric: which raw counts it reads (under what labels) and how it combines them."""

    labels: tuple[tuple[str, str], ...]
    formula: Callable[[Mapping[str, float]], float | None]

    def counts(self, totals: Mapping[str, float]) -> dict[str, int | float]:
        """The raw counts this metric reads, under its own labels."""
        return {label: _plain(totals[key]) for label, key in self.labels}

    def value(self, totals: Mapping[str, float]) -> float | None:
        """The metric's value from summed raw counts (``None`` when undefined)."""
        result = self.formula(self.counts(totals))
        return None if result is None else float(result)


def _plain(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _prf_specs(stem: str, prefix: str, *, needs_pairs: bool) -> dict[str, MetricSpec]:
    labels = (("tp", f"{prefix}_tp"), ("fp", f"{prefix}_fp"), ("fn", f"{prefix}_fn"))
    if needs_pairs:
        labels += (("pairs", "pairs"),)
    specs: dict[str, MetricSpec] = {}
    for suffix, fn in (("precision", _precision), ("recall", _recall), ("f1", _f1)):

        def formula(c: Mapping[str, float], fn: Any = fn) -> float | None:
            if needs_pairs and c["pairs"] == 0:
                return None
            return fn(c["tp"], c["fp"], c["fn"])

        specs[f"{stem}_{suffix}"] = MetricSpec(labels, formula)
    return specs


_DATE_LABELS = tuple((m.value, f"date_{m.value}") for m in DateMatch)
_DATE_SCORED = ("exact", "partial", "mismatch", "missing", "spurious")


def _build_specs() -> dict[str, MetricSpec]:
    specs: dict[str, MetricSpec] = {}
    specs.update(_prf_specs("detection", "det", needs_pairs=False))
    specs.update(_prf_specs("parties", "party", needs_pairs=False))
    pairs = ("pairs", "pairs")
    specs["status_accuracy"] = MetricSpec(
        (("correct", "status_correct"), pairs), lambda c: _ratio(c["correct"], c["pairs"])
    )
    specs["type_accuracy"] = MetricSpec(
        (("correct", "type_correct"), pairs), lambda c: _ratio(c["correct"], c["pairs"])
    )
    specs.update(_prf_specs("obligations", "obligation", needs_pairs=True))
    specs.update(_prf_specs("areas", "area", needs_pairs=True))
    specs.update(_prf_specs("provisions", "provision", needs_pairs=True))
    specs["dates_exact"] = MetricSpec(
        _DATE_LABELS, lambda c: _ratio(c["exact"], sum(c[k] for k in _DATE_SCORED))
    )
    specs["dates_partial"] = MetricSpec(
        _DATE_LABELS,
        lambda c: _ratio(c["exact"] + c["partial"], sum(c[k] for k in _DATE_SCORED)),
    )
    specs["evidence_grounding"] = MetricSpec(
        (("grounded", "evidence_grounded"), ("total", "evidence_total")),
        lambda c: _ratio(c["grounded"], c["total"]),
    )
    specs["schema_valid"] = MetricSpec(
        (("valid", "valid"), ("documents", "documents")),
        lambda c: _ratio(c["valid"], c["documents"]),
    )
    specs["reasks_mean"] = MetricSpec(
        (("reasks", "reasks"), ("documents", "with_metadata")),
        lambda c: _ratio(c["reasks"], c["documents"]),
    )
    return specs


METRIC_SPECS: Mapping[str, MetricSpec] = MappingProxyType(_build_specs())
"""Every metric by name (read-only)."""
ALL_METRICS: tuple[str, ...] = tuple(METRIC_SPECS)
"""Every metric name: the headline ones plus precision/recall parts and ``reasks_mean``."""


def metric_spec(name: str) -> MetricSpec:
    """The metric called ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return METRIC_SPECS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(ALL_METRICS)}") from None


def _totals_dict(totals: Mapping[str, float] | np.ndarray) -> Mapping[str, float]:
    if isinstance(totals, np.ndarray):
        return dict(zip(COUNT_KEYS, totals.tolist(), strict=True))
    return totals


def compute_metrics(totals: Mapping[str, float] | np.ndarray) -> dict[str, float | None]:
    """Every metric from summed raw counts (a mapping, or a vector ordered as COUNT_KEYS)."""
    named = _totals_dict(totals)
    return {name: spec.value(named) for name, spec in METRIC_SPECS.items()}


@dataclass(frozen=True)
class Metric:
    """A metric value with its bootstrap interval and the raw counts it is computed from."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    counts: dict[str, int | float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "counts": dict(self.counts),
        }
