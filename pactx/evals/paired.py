"""Paired comparison of two scored runs on the same documents: bootstrap differences and McNemar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pactx.evals.alignment import GATE_TOLERANCE
from pactx.evals.metrics import HEADLINE_METRICS, compute_metrics, metric_spec
from pactx.evals.scoring import DocumentScore, PairScore, RunScore
from pactx.evals.stats import McNemarResult, mcnemar, paired_bootstrap_intervals

__all__ = ["Comparison", "MetricDiff", "compare_runs"]


@dataclass(frozen=True)
class MetricDiff:
    """Difference B - A in one micro metric, with its paired-bootstrap interval."""

    name: str
    a: float | None
    b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def significant(self) -> bool:
        """True when the difference is larger than noise: the interval excludes 0."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "a": self.a,
            "b": self.b,
            "diff": self.diff,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "significant": self.significant,
        }


@dataclass(frozen=True)
class Comparison:
    """Paired comparison of two runs on the same documents (differences are B - A)."""

    n_documents: int
    resamples: int
    seed: int
    metrics: dict[str, MetricDiff]
    mcnemar: dict[str, McNemarResult]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "n_documents": self.n_documents,
            "resamples": self.resamples,
            "seed": self.seed,
            "metrics": {name: d.to_dict() for name, d in self.metrics.items()},
            "mcnemar": {name: r.to_dict() for name, r in self.mcnemar.items()},
        }


def _pairs_by_gold(doc: DocumentScore) -> dict[int, PairScore]:
    return {pair.gold_index: pair for pair in doc.pairs}


def _paired_outcomes(a: RunScore, b: RunScore) -> dict[str, list[tuple[bool, bool]]]:
    """Per gold agreement: detected in A vs B; and, when matched in both, status/type right."""
    outcomes: dict[str, list[tuple[bool, bool]]] = {"detection": [], "status": [], "type": []}
    for doc_a, doc_b in zip(a.documents, b.documents, strict=True):
        pairs_a, pairs_b = _pairs_by_gold(doc_a), _pairs_by_gold(doc_b)
        for i in range(doc_a.n_gold):
            outcomes["detection"].append((i in pairs_a, i in pairs_b))
            if i in pairs_a and i in pairs_b:
                pa, pb = pairs_a[i], pairs_b[i]
                outcomes["status"].append((pa.status_correct, pb.status_correct))
                outcomes["type"].append((pa.type_correct, pb.type_correct))
    return outcomes


def _check_comparable(a: RunScore, b: RunScore) -> None:
    if a.doc_ids != b.doc_ids:
        only_a = sorted(set(a.doc_ids) - set(b.doc_ids))[:5]
        only_b = sorted(set(b.doc_ids) - set(a.doc_ids))[:5]
        raise ValueError(f"runs cover different documents (only A: {only_a}, only B: {only_b})")
    if abs(a.gate - b.gate) > GATE_TOLERANCE:
        raise ValueError(f"runs were scored with different gates ({a.gate} vs {b.gate})")


def compare_runs(
    a: RunScore,
    b: RunScore,
    *,
    resamples: int = 2000,
    seed: int = 0,
    metrics: Sequence[str] = HEADLINE_METRICS,
) -> Comparison:
    """Paired comparison of run B against run A on the same documents.

    For each metric: the micro difference B - A with a paired-bootstrap 95% interval (the
    same resampled documents for both runs); it is *significant* when the interval excludes
    0. Exact McNemar tests on paired binary outcomes: ``detection`` (every gold agreement:
    matched in A vs in B), ``status`` and ``type`` (gold agreements matched in both runs:
    field right in A vs in B). Raises ``ValueError`` if the runs cover different documents
    or used different gates.
    """
    _check_comparable(a, b)
    for name in metrics:
        metric_spec(name)
    intervals = paired_bootstrap_intervals(
        a.count_matrix(), b.count_matrix(), compute_metrics, resamples=resamples, seed=seed
    )
    diffs: dict[str, MetricDiff] = {}
    for name in metrics:
        value_a, value_b = a.metric(name).value, b.metric(name).value
        diff = None if value_a is None or value_b is None else value_b - value_a
        diffs[name] = MetricDiff(name, value_a, value_b, diff, *intervals[name])
    tests = {field_: mcnemar(pairs) for field_, pairs in _paired_outcomes(a, b).items()}
    return Comparison(len(a.documents), resamples, seed, diffs, tests)
