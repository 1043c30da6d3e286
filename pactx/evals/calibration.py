"""Calibration of confidences: is a record with confidence 0.8 right 80% of the time?

Each predicted agreement that carries a :class:`pactx.schema.Confidence` is one forecast that
"this record is real": it is right when the alignment (:func:`align`) matches it to a gold
record. From those forecasts this module computes the Brier score, a reliability table by
confidence bin, and detection precision and recall at each threshold, so an analyst can pick
the ``min_confidence`` that sends the rest to review. Status and type confidences are scored
the same way on matched records (right when the field equals the gold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pactx.evals.alignment import align
from pactx.evals.metrics import prf
from pactx.evals.predictions import Prediction
from pactx.schema import SecurityAgreement

__all__ = ["Calibration", "ReliabilityBin", "ThresholdRow", "calibrate", "DEFAULT_THRESHOLDS"]

DEFAULT_THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class ReliabilityBin:
    """Forecasts whose confidence falls in ``[low, high)``: how many, how sure, how often right."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class ThresholdRow:
    """Detection when only records with confidence at least ``threshold`` are kept."""

    threshold: float
    kept: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class Calibration:
    """Calibration of one run's agreement, status and type confidences."""

    forecasts: int
    without_confidence: int
    brier: float | None
    bins: tuple[ReliabilityBin, ...]
    thresholds: tuple[ThresholdRow, ...]
    status_brier: float | None
    type_brier: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "forecasts": self.forecasts,
            "without_confidence": self.without_confidence,
            "brier": self.brier,
            "status_brier": self.status_brier,
            "type_brier": self.type_brier,
            "bins": [vars(b) for b in self.bins],
            "thresholds": [vars(t) for t in self.thresholds],
        }


def _brier(pairs: Sequence[tuple[float, bool]]) -> float | None:
    if not pairs:
        return None
    return round(sum((p - float(y)) ** 2 for p, y in pairs) / len(pairs), 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def calibrate(
    gold: Mapping[str, Sequence[SecurityAgreement]],
    predictions: Mapping[str, Prediction],
    *,
    n_bins: int = 10,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> Calibration:
    """Calibration of the confidences in ``predictions`` against ``gold`` (documents by id)."""
    forecasts: list[tuple[float, bool]] = []
    status: list[tuple[float, bool]] = []
    kinds: list[tuple[float, bool]] = []
    missing = 0
    for doc_id, gold_records in gold.items():
        prediction = predictions.get(doc_id)
        predicted = list(prediction.agreements) if prediction is not None and prediction.ok else []
        alignment = align(gold_records, predicted)
        matched = {m.pred_index: m.gold_index for m in alignment.matches}
        for index, record in enumerate(predicted):
            if record.confidence is None:
                missing += 1
                continue
            forecasts.append((record.confidence.agreement, index in matched))
            if index in matched:
                truth = gold_records[matched[index]]
                if record.confidence.status is not None:
                    status.append((record.confidence.status, record.status == truth.status))
                if record.confidence.agreement_type is not None:
                    kinds.append((record.confidence.agreement_type, record.agreement_type == truth.agreement_type))
    bins = []
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        inside = [(p, y) for p, y in forecasts if low <= p < high or (b == n_bins - 1 and p == 1.0)]
        bins.append(
            ReliabilityBin(
                low=low,
                high=high,
                count=len(inside),
                mean_confidence=_round(sum(p for p, _ in inside) / len(inside)) if inside else None,
                accuracy=_round(sum(y for _, y in inside) / len(inside)) if inside else None,
            )
        )
    rows = []
    for threshold in thresholds:
        tp = fp = fn = kept = 0
        for doc_id, gold_records in gold.items():
            prediction = predictions.get(doc_id)
            predicted = list(prediction.agreements) if prediction is not None and prediction.ok else []
            chosen = [r for r in predicted if r.confidence is None or r.confidence.agreement >= threshold]
            alignment = align(gold_records, chosen)
            kept += len(chosen)
            tp += len(alignment.matches)
            fp += len(alignment.unmatched_pred)
            fn += len(alignment.unmatched_gold)
        precision, recall, f1 = prf(tp, fp, fn)
        rows.append(ThresholdRow(threshold, kept, _round(precision), _round(recall), _round(f1)))
    return Calibration(
        forecasts=len(forecasts),
        without_confidence=missing,
        brier=_brier(forecasts),
        bins=tuple(bins),
        thresholds=tuple(rows),
        status_brier=_brier(status),
        type_brier=_brier(kinds),
    )


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def calibration_markdown(calibration: dict[str, Any]) -> list[str]:
    """Markdown lines for a report's ``calibration`` section (see :meth:`Calibration.to_dict`)."""
    if not calibration.get("forecasts"):
        return ["", "Calibration: no record in this run carries a confidence (the strategy gives none)."]
    lines = [
        "",
        f"Calibration of agreement confidence ({calibration['forecasts']} records; Brier score "
        f"{_cell(calibration['brier'])}, lower is better; status {_cell(calibration['status_brier'])}, "
        f"type {_cell(calibration['type_brier'])}):",
        "",
        "| confidence | records | mean confidence | share correct |",
        "|---|---|---|---|",
    ]
    for b in calibration["bins"]:
        if b["count"]:
            lines.append(
                f"| {b['low']:.1f}–{b['high']:.1f} | {b['count']} | {_cell(b['mean_confidence'])} | {_cell(b['accuracy'])} |"
            )
    lines += ["", "| min_confidence | records kept | detection precision | recall | F1 |", "|---|---|---|---|---|"]
    for t in calibration["thresholds"]:
        lines.append(
            f"| {t['threshold']:.1f} | {t['kept']} | {_cell(t['precision'])} | {_cell(t['recall'])} | {_cell(t['f1'])} |"
        )
    return lines
