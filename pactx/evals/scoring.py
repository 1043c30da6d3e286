"""Score predicted security agreements against gold records.

Alignment rule
--------------
Within each document, predicted and gold agreements are matched one to one by the Hungarian
algorithm (:func:`scipy.optimize.linear_sum_assignment`, maximizing total similarity) on::

    sim(gold, pred) = 0.8 * jaccard(party keys) + 0.2 * (gold.agreement_type == pred.agreement_type)

A party key (:func:`pactx.parties.party_key`) is the party's ``code``, or its case-folded name
(white space collapsed) when it has no code. Two empty party sets have Jaccard 1.

**Similarity gate** (default 0.5): a pair whose similarity is below the gate is *not* a
match; the prediction counts as a false positive and the gold record as a false negative (a
wrong record, not a partial hit). Similarities below the gate are set to zero before the
assignment, so the optimizer never gives up a pair that clears the gate for pairs that would
then be rejected. Unmatched predictions are false positives, unmatched gold records false
negatives. A document whose extraction failed (prediction ``None``) has no predictions: all
its gold agreements are false negatives.

Metrics
-------
Every metric is computed from raw counts (:data:`COUNT_KEYS`), shipped with it in
:attr:`Metric.counts`, so it can be recomputed. Micro values sum counts over documents;
macro values average per-document values, skipping documents where the metric is undefined.

* ``detection_*``: precision/recall/F1 with TP = gated matched pairs.
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

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from pactx.evals.stats import (
    McNemarResult,
    bootstrap_intervals,
    mcnemar,
    paired_bootstrap_intervals,
)
from pactx.grounding import SourceText
from pactx.parties import party_key, party_keys
from pactx.schema import ExtractionResult, RunMetadata, SecurityAgreement

__all__ = [
    "ALL_METRICS",
    "COUNT_KEYS",
    "DATE_FIELDS",
    "DEFAULT_GATE",
    "HEADLINE_METRICS",
    "Alignment",
    "Comparison",
    "DateMatch",
    "DocumentScore",
    "Match",
    "Metric",
    "MetricDiff",
    "PairScore",
    "Prediction",
    "RunScore",
    "align",
    "assign",
    "compare_dates",
    "compare_runs",
    "compute_metrics",
    "jaccard",
    "load_predictions",
    "party_key",
    "party_keys",
    "score_document",
    "score_run",
    "similarity",
]

DEFAULT_GATE = 0.5
PARTY_WEIGHT = 0.8
TYPE_WEIGHT = 0.2
_EPS = 1e-9
"""Tolerance on the gate, so a similarity of exactly the gate survives float rounding."""

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


# --------------------------------------------------------------------------- predictions


@dataclass(frozen=True)
class Prediction:
    """One document's prediction: its agreements, or ``None`` when extraction failed."""

    agreements: list[SecurityAgreement] | None
    metadata: RunMetadata | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the extraction produced a (schema-valid) list of agreements."""
        return self.agreements is not None

    @classmethod
    def from_result(cls, result: ExtractionResult) -> Prediction:
        """Wrap a pactx :class:`ExtractionResult`."""
        return cls(agreements=list(result.agreements), metadata=result.metadata)

    @classmethod
    def failed(cls, error: str) -> Prediction:
        """A document whose extraction failed."""
        return cls(agreements=None, error=error)


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        kind, message = error.get("type"), error.get("message")
        return ": ".join(str(part) for part in (kind, message) if part) or json.dumps(error)
    return str(error)


def _invalid(exc: ValueError) -> Prediction:
    return Prediction.failed("invalid prediction: " + " ".join(str(exc).split())[:300])


def _parse_line(obj: Any, where: str) -> tuple[str, Prediction]:
    """Read one JSONL record: pactx output, a pactx failure, or another tool's agreements."""
    if not isinstance(obj, Mapping) or obj.get("id") is None:
        raise ValueError(f"{where}: expected an object with an 'id'")
    doc_id = str(obj["id"])
    if obj.get("result") is not None:
        try:
            return doc_id, Prediction.from_result(ExtractionResult.model_validate(obj["result"]))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            return doc_id, _invalid(exc)
    if "error" in obj:
        return doc_id, Prediction.failed(_error_text(obj["error"]))
    if "agreements" in obj:
        if not isinstance(obj["agreements"], list):
            return doc_id, Prediction.failed("agreements is not a list")
        try:
            agreements = [SecurityAgreement.model_validate(a) for a in obj["agreements"]]
        except ValueError as exc:
            return doc_id, _invalid(exc)
        return doc_id, Prediction(agreements=agreements)
    raise ValueError(f"{where}: line has none of 'result', 'error' or 'agreements'")


def load_predictions(path: str | Path, *more: str | Path) -> dict[str, Prediction]:
    """Read predictions from one or more JSONL files, keyed by document id.

    Each line is ``{"id", "result": <ExtractionResult>}`` (pactx output; other keys such as
    ``source`` are ignored), ``{"id", "error": {...}}`` (a failed document: agreements
    ``None``) or ``{"id", "agreements": [...]}`` (another tool; no metadata). A record that
    fails schema validation becomes a failed prediction. pactx writes failures to a separate
    ``*.failures.jsonl`` file: pass both. Raises ``ValueError`` on malformed lines or a
    document id seen twice.
    """
    predictions: dict[str, Prediction] = {}
    for file in (path, *more):
        lines = Path(file).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc})") from exc
            doc_id, prediction = _parse_line(obj, where)
            if doc_id in predictions:
                raise ValueError(f"{where}: document id {doc_id!r} appears twice")
            predictions[doc_id] = prediction
    return predictions


# --------------------------------------------------------------------------- dates


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


# --------------------------------------------------------------------------- alignment


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard index of two sets; 1.0 for two empty sets."""
    set_a, set_b = set(a), set(b)
    union = set_a | set_b
    return len(set_a & set_b) / len(union) if union else 1.0


def similarity(gold: SecurityAgreement, pred: SecurityAgreement) -> float:
    """``0.8 * jaccard(party keys) + 0.2 * (agreement types equal)``."""
    same_type = float(gold.agreement_type == pred.agreement_type)
    return PARTY_WEIGHT * jaccard(party_keys(gold), party_keys(pred)) + TYPE_WEIGHT * same_type


def assign(sim: np.ndarray, gate: float = DEFAULT_GATE) -> list[tuple[int, int]]:
    """Optimal one-to-one (row, column) pairs of a similarity matrix that clear the gate.

    Entries below the gate are zeroed, the Hungarian algorithm maximizes the total, and only
    assigned pairs at or above the gate are returned, sorted by row.
    """
    sim = np.asarray(sim, dtype=float)
    if sim.size == 0:
        return []
    passes = sim >= gate - _EPS
    rows, cols = linear_sum_assignment(np.where(passes, sim, 0.0), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if passes[r, c]]


@dataclass(frozen=True)
class Match:
    """A gold and a predicted agreement matched at or above the gate."""

    gold_index: int
    pred_index: int
    similarity: float


@dataclass(frozen=True)
class Alignment:
    """Result of aligning one document's predictions with its gold records."""

    matches: tuple[Match, ...]
    unmatched_gold: tuple[int, ...]
    unmatched_pred: tuple[int, ...]


def align(
    gold: Sequence[SecurityAgreement],
    pred: Sequence[SecurityAgreement],
    *,
    gate: float = DEFAULT_GATE,
) -> Alignment:
    """Match predictions to gold records one to one (see the module docstring)."""
    sim = np.array([[similarity(g, p) for p in pred] for g in gold], dtype=float)
    sim = sim.reshape(len(gold), len(pred))
    pairs = assign(sim, gate)
    matched_gold = {g for g, _ in pairs}
    matched_pred = {p for _, p in pairs}
    return Alignment(
        matches=tuple(Match(g, p, float(sim[g, p])) for g, p in pairs),
        unmatched_gold=tuple(i for i in range(len(gold)) if i not in matched_gold),
        unmatched_pred=tuple(j for j in range(len(pred)) if j not in matched_pred),
    )


# --------------------------------------------------------------------------- metrics


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


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class _MetricSpec:
    """A metric: which raw counts it reads (under what labels) and how it combines them."""

    labels: tuple[tuple[str, str], ...]
    formula: Callable[[Mapping[str, float]], float | None]

    def counts(self, totals: Mapping[str, float]) -> dict[str, int | float]:
        return {label: _plain(totals[key]) for label, key in self.labels}

    def value(self, totals: Mapping[str, float]) -> float | None:
        result = self.formula(self.counts(totals))
        return None if result is None else float(result)


def _plain(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _prf_specs(stem: str, prefix: str, *, needs_pairs: bool) -> dict[str, _MetricSpec]:
    labels = (("tp", f"{prefix}_tp"), ("fp", f"{prefix}_fp"), ("fn", f"{prefix}_fn"))
    if needs_pairs:
        labels += (("pairs", "pairs"),)
    specs: dict[str, _MetricSpec] = {}
    for suffix, fn in (("precision", _precision), ("recall", _recall), ("f1", _f1)):

        def formula(c: Mapping[str, float], fn: Any = fn) -> float | None:
            if needs_pairs and c["pairs"] == 0:
                return None
            return fn(c["tp"], c["fp"], c["fn"])

        specs[f"{stem}_{suffix}"] = _MetricSpec(labels, formula)
    return specs


_DATE_LABELS = tuple((m.value, f"date_{m.value}") for m in DateMatch)
_DATE_SCORED = ("exact", "partial", "mismatch", "missing", "spurious")


def _build_specs() -> dict[str, _MetricSpec]:
    specs: dict[str, _MetricSpec] = {}
    specs.update(_prf_specs("detection", "det", needs_pairs=False))
    specs.update(_prf_specs("parties", "party", needs_pairs=False))
    pairs = ("pairs", "pairs")
    specs["status_accuracy"] = _MetricSpec(
        (("correct", "status_correct"), pairs), lambda c: _ratio(c["correct"], c["pairs"])
    )
    specs["type_accuracy"] = _MetricSpec(
        (("correct", "type_correct"), pairs), lambda c: _ratio(c["correct"], c["pairs"])
    )
    specs.update(_prf_specs("obligations", "obligation", needs_pairs=True))
    specs.update(_prf_specs("areas", "area", needs_pairs=True))
    specs.update(_prf_specs("provisions", "provision", needs_pairs=True))
    specs["dates_exact"] = _MetricSpec(
        _DATE_LABELS, lambda c: _ratio(c["exact"], sum(c[k] for k in _DATE_SCORED))
    )
    specs["dates_partial"] = _MetricSpec(
        _DATE_LABELS,
        lambda c: _ratio(c["exact"] + c["partial"], sum(c[k] for k in _DATE_SCORED)),
    )
    specs["evidence_grounding"] = _MetricSpec(
        (("grounded", "evidence_grounded"), ("total", "evidence_total")),
        lambda c: _ratio(c["grounded"], c["total"]),
    )
    specs["schema_valid"] = _MetricSpec(
        (("valid", "valid"), ("documents", "documents")),
        lambda c: _ratio(c["valid"], c["documents"]),
    )
    specs["reasks_mean"] = _MetricSpec(
        (("reasks", "reasks"), ("documents", "with_metadata")),
        lambda c: _ratio(c["reasks"], c["documents"]),
    )
    return specs


_SPECS: dict[str, _MetricSpec] = _build_specs()
ALL_METRICS: tuple[str, ...] = tuple(_SPECS)
"""Every metric name: the headline ones plus precision/recall parts and ``reasks_mean``."""


def _spec(name: str) -> _MetricSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(ALL_METRICS)}") from None


def _totals_dict(totals: Mapping[str, float] | np.ndarray) -> Mapping[str, float]:
    if isinstance(totals, np.ndarray):
        return dict(zip(COUNT_KEYS, totals.tolist(), strict=True))
    return totals


def compute_metrics(totals: Mapping[str, float] | np.ndarray) -> dict[str, float | None]:
    """Every metric from summed raw counts (a mapping, or a vector ordered as COUNT_KEYS)."""
    named = _totals_dict(totals)
    return {name: spec.value(named) for name, spec in _SPECS.items()}


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


# --------------------------------------------------------------------------- documents


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
        return _spec(name).value(self.counts)

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


# --------------------------------------------------------------------------- runs


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
        _spec(name)
        return self.micro_metrics[name]

    def macro(self, name: str) -> Metric:
        """Mean of per-document values, skipping documents where the metric is undefined.

        ``counts`` holds the number of documents averaged and the sum of their values.
        """
        _spec(name)
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
        for name, spec in _SPECS.items()
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


# --------------------------------------------------------------------------- comparison


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
    if abs(a.gate - b.gate) > _EPS:
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
        _spec(name)
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
