"""Score predicted security agreements against gold records: one document, then a whole run.

Each document's predictions are aligned with its gold records (:mod:`pactx.evals.alignment`)
and counted (:data:`pactx.evals.metrics.COUNT_KEYS`); a run sums the counts into every metric
of :mod:`pactx.evals.metrics`, with seeded bootstrap intervals over documents. A document
whose extraction failed (prediction ``None``) has no predictions: all its gold agreements are
false negatives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pactx.evals.alignment import DEFAULT_GATE, Match, align
from pactx.evals.metrics import (
    ALL_METRICS,
    COUNT_KEYS,
    DATE_FIELDS,
    METRIC_SPECS,
    DateMatch,
    Metric,
    compare_dates,
    compute_metrics,
    metric_spec,
)
from pactx.evals.predictions import Prediction
from pactx.evals.stats import bootstrap_intervals
from pactx.grounding import SourceText
from pactx.parties import party_keys
from pactx.schema import SecurityAgreement

__all__ = ["DocumentScore", "DocumentStatus", "PairScore", "RunScore", "score_document", "score_run"]


@dataclass(frozen=True)
class PairScore:
    """Field outcomes of one matched (gold, prediction) pair."""

    gold_index: int
    pred_index: int
    similarity: float
    status_correct: bool
    type_correct: bool
    dates: dict[str, DateMatch]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "gold_index": self.gold_index,
            "pred_index": self.pred_index,
            "similarity": self.similarity,
            "status_correct": self.status_correct,
            "type_correct": self.type_correct,
            "dates": {name: outcome.value for name, outcome in self.dates.items()},
        }


DocumentStatus = Literal["ok", "failed", "missing"]


@dataclass(frozen=True)
class DocumentScore:
    """One document's raw counts and matched pairs.

    ``status`` is ``ok`` (prediction present), ``failed`` (extraction failed) or ``missing``
    (no prediction for the document at all; scored as failed).
    """

    doc_id: str
    status: DocumentStatus
    counts: dict[str, int]
    pairs: tuple[PairScore, ...]
    n_gold: int
    n_pred: int
    error: str | None = None

    def value(self, name: str) -> float | None:
        """This document's value of a metric (``None`` when undefined here)."""
        return metric_spec(name).value(self.counts)

    @property
    def detection_f1(self) -> float | None:
        """Agreement detection F1 of this document."""
        return self.value("detection_f1")

    @property
    def parties_f1(self) -> float | None:
        """Parties F1 of this document."""
        return self.value("parties_f1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "id": self.doc_id,
            "status": self.status,
            "error": self.error,
            "n_gold": self.n_gold,
            "n_pred": self.n_pred,
            "detection_f1": self.detection_f1,
            "parties_f1": self.parties_f1,
            "counts": dict(self.counts),
            "pairs": [pair.to_dict() for pair in self.pairs],
        }


def _set_counts(gold: Iterable[Any], pred: Iterable[Any]) -> tuple[int, int, int]:
    """(tp, fp, fn) of a predicted set against a gold set."""
    gold_set, pred_set = set(gold), set(pred)
    return len(gold_set & pred_set), len(pred_set - gold_set), len(gold_set - pred_set)


def _add(counts: dict[str, int], prefix: str, tp_fp_fn: tuple[int, int, int]) -> None:
    for suffix, value in zip(("tp", "fp", "fn"), tp_fp_fn, strict=True):
        counts[f"{prefix}_{suffix}"] += value


def _score_pair(
    gold: SecurityAgreement, pred: SecurityAgreement, match: Match, counts: dict[str, int]
) -> PairScore:
    """Add one matched pair's field counts to ``counts`` and return its outcomes."""
    counts["pairs"] += 1
    _add(counts, "party", _set_counts(party_keys(gold), party_keys(pred)))
    _add(counts, "obligation", _set_counts(gold.obligations, pred.obligations))
    _add(counts, "area", _set_counts(gold.cooperation_areas, pred.cooperation_areas))
    _add(
        counts,
        "provision",
        _set_counts((p.type for p in gold.provisions), (p.type for p in pred.provisions)),
    )
    status_ok = gold.status == pred.status
    type_ok = gold.agreement_type == pred.agreement_type
    counts["status_correct"] += int(status_ok)
    counts["type_correct"] += int(type_ok)
    dates = {f: compare_dates(getattr(gold, f), getattr(pred, f)) for f in DATE_FIELDS}
    for outcome in dates.values():
        counts[f"date_{outcome.value}"] += 1
    return PairScore(
        match.gold_index, match.pred_index, match.similarity, status_ok, type_ok, dates
    )


def _count_grounding(
    pred: Sequence[SecurityAgreement], text: str, counts: dict[str, int]
) -> None:
    source = SourceText(text)
    for agreement in pred:
        for evidence in agreement.evidence:
            counts["evidence_total"] += 1
            counts["evidence_grounded"] += int(source.find(evidence.quote) is not None)


def _count_run_info(prediction: Prediction, counts: dict[str, int]) -> None:
    counts["valid"] = 1
    if prediction.metadata is not None:
        counts["with_metadata"] = 1
        counts["reasks"] = max(prediction.metadata.attempts - 1, 0)


def score_document(
    doc_id: str,
    gold: Sequence[SecurityAgreement],
    prediction: Prediction | None,
    text: str,
    *,
    gate: float = DEFAULT_GATE,
    status: DocumentStatus | None = None,
) -> DocumentScore:
    """Align and count one document (see the module docstring for the rules).

    ``prediction`` ``None`` or with ``agreements`` ``None`` is a failed document.
    ``status`` overrides the reported status (``score_run`` passes ``missing``).
    """
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts["documents"] = 1
    ok = prediction is not None and prediction.agreements is not None
    pred: list[SecurityAgreement] = []
    if prediction is not None and prediction.agreements is not None:
        pred = list(prediction.agreements)
        _count_run_info(prediction, counts)
        _count_grounding(pred, text, counts)
    alignment = align(gold, pred, gate=gate)
    counts["det_tp"] = len(alignment.matches)
    counts["det_fp"] = len(alignment.unmatched_pred)
    counts["det_fn"] = len(alignment.unmatched_gold)
    for i in alignment.unmatched_gold:
        counts["party_fn"] += len(party_keys(gold[i]))
    for j in alignment.unmatched_pred:
        counts["party_fp"] += len(party_keys(pred[j]))
    pairs = tuple(
        _score_pair(gold[m.gold_index], pred[m.pred_index], m, counts) for m in alignment.matches
    )
    return DocumentScore(
        doc_id=doc_id,
        status=status or ("ok" if ok else "failed"),
        counts=counts,
        pairs=pairs,
        n_gold=len(gold),
        n_pred=len(pred),
        error=prediction.error if prediction is not None else None,
    )


def _count_matrix(documents: Sequence[DocumentScore]) -> np.ndarray:
    rows = [[doc.counts[key] for key in COUNT_KEYS] for doc in documents]
    return np.array(rows, dtype=np.int64).reshape(len(documents), len(COUNT_KEYS))


def _macro(documents: Sequence[DocumentScore], name: str) -> Metric:
    values = [v for v in (doc.value(name) for doc in documents) if v is not None]
    mean = sum(values) / len(values) if values else None
    return Metric(mean, counts={"documents": len(values), "sum": float(sum(values))})


@dataclass(frozen=True)
class RunScore:
    """Scores of one run: micro metrics with bootstrap intervals, macro metrics, documents."""

    documents: tuple[DocumentScore, ...]
    micro_metrics: dict[str, Metric]
    macro_metrics: dict[str, Metric]
    missing_ids: tuple[str, ...] = ()
    extra_ids: tuple[str, ...] = ()
    gate: float = DEFAULT_GATE
    bootstrap: int = 1000
    seed: int = 0

    @property
    def doc_ids(self) -> tuple[str, ...]:
        """Scored document ids, in scoring (sorted) order."""
        return tuple(doc.doc_id for doc in self.documents)

    def metric(self, name: str) -> Metric:
        """Micro value (counts summed over documents) with its bootstrap interval."""
        metric_spec(name)
        return self.micro_metrics[name]

    def macro(self, name: str) -> Metric:
        """Mean of per-document values, skipping documents where the metric is undefined.

        ``counts`` holds the number of documents averaged and the sum of their values.
        """
        metric_spec(name)
        return self.macro_metrics[name]

    def count_matrix(self) -> np.ndarray:
        """Raw counts, one row per document (``doc_ids`` order), columns as ``COUNT_KEYS``."""
        return _count_matrix(self.documents)

    def worst(self, name: str = "detection_f1", n: int = 10) -> list[DocumentScore]:
        """The ``n`` documents with the lowest value of a metric (undefined ones left out)."""
        scored = [(doc.value(name), doc.doc_id, doc) for doc in self.documents]
        defined = sorted((v, i, d) for v, i, d in scored if v is not None)
        return [doc for _, _, doc in defined[:n]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "gate": self.gate,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "n_documents": len(self.documents),
            "missing_ids": list(self.missing_ids),
            "extra_ids": list(self.extra_ids),
            "micro": {name: m.to_dict() for name, m in self.micro_metrics.items()},
            "macro": {name: m.to_dict() for name, m in self.macro_metrics.items()},
            "documents": [doc.to_dict() for doc in self.documents],
        }


def _check_inputs(gold: Mapping[str, Any], texts: Mapping[str, str], gate: float) -> None:
    if not 0.0 <= gate <= 1.0:
        raise ValueError(f"gate must be in [0, 1], got {gate}")
    no_text = sorted(doc_id for doc_id in gold if doc_id not in texts)
    if no_text:
        raise ValueError(f"no text for {len(no_text)} gold document(s): {no_text[:5]}")


def score_run(
    gold: Mapping[str, list[SecurityAgreement]],
    predictions: Mapping[str, Prediction | None],
    texts: Mapping[str, str],
    *,
    gate: float = DEFAULT_GATE,
    bootstrap: int = 1000,
    seed: int = 0,
) -> RunScore:
    """Score a run over the gold documents.

    Documents are scored in sorted id order. Gold documents absent from ``predictions`` are
    listed in ``missing_ids`` and scored as failed; predictions for ids not in ``gold`` are
    listed in ``extra_ids`` and ignored. Micro intervals come from a seeded bootstrap over
    documents (``bootstrap`` resamples, 95% percentile interval; 0 disables it).
    """
    _check_inputs(gold, texts, gate)
    ids = sorted(gold)
    missing = tuple(doc_id for doc_id in ids if doc_id not in predictions)
    documents = tuple(
        score_document(
            doc_id,
            gold[doc_id],
            predictions.get(doc_id),
            texts[doc_id],
            gate=gate,
            status="missing" if doc_id in missing else None,
        )
        for doc_id in ids
    )
    matrix = _count_matrix(documents)
    totals = dict(zip(COUNT_KEYS, matrix.sum(axis=0).tolist(), strict=True))
    intervals = bootstrap_intervals(matrix, compute_metrics, resamples=bootstrap, seed=seed)
    micro = {
        name: Metric(spec.value(totals), *intervals[name], counts=spec.counts(totals))
        for name, spec in METRIC_SPECS.items()
    }
    return RunScore(
        documents=documents,
        micro_metrics=micro,
        macro_metrics={name: _macro(documents, name) for name in ALL_METRICS},
        missing_ids=missing,
        extra_ids=tuple(sorted(set(predictions) - set(gold))),
        gate=gate,
        bootstrap=bootstrap,
        seed=seed,
    )
