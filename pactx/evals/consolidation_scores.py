"""Cluster scores for consolidation: which extracted agreements are the same real agreement.

Two figures, both pairwise and B-cubed precision/recall/F1 against the gold clusters in
``evals/fixtures/clusters.json``:

* ``on_gold``: :func:`pactx.consolidate` run on the gold extractions themselves, so the
  figure measures the consolidation step alone;
* ``end_to_end``: consolidation of the model's predictions. Predicted agreements are mapped to
  gold agreements by the eval alignment (Hungarian with the gate); only matched predictions
  take part, since an unmatched prediction has no gold cluster to be scored against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pactx.consolidation import consolidate
from pactx.evals.alignment import align
from pactx.evals.clusters import bcubed_prf, clusters_from_records, pairwise_prf
from pactx.evals.fixtures import Case
from pactx.evals.predictions import Prediction
from pactx.schema import ExtractionResult, RunMetadata

__all__ = ["cluster_report", "gold_clusters"]

_GOLD_META = RunMetadata(
    model="gold", provider="annotation", prompt_version="", prompt_hash="", schema_hash="", pactx_version=""
)


def gold_clusters(path: Path) -> dict[str, str]:
    """``"case-id#k"`` → gold cluster id."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {member: cluster["id"] for cluster in data["clusters"] for member in cluster["members"]}


def _scores(gold: dict[str, str], predicted: dict[str, str]) -> dict[str, Any]:
    items = sorted(set(gold) & set(predicted))
    g = {item: gold[item] for item in items}
    p = {item: predicted[item] for item in items}
    pair, b3 = pairwise_prf(g, p), bcubed_prf(g, p)
    return {
        "items": len(items),
        "pairwise": {"precision": pair.precision, "recall": pair.recall, "f1": pair.f1, "counts": dict(pair.counts)},
        "bcubed": {"precision": b3.precision, "recall": b3.recall, "f1": b3.f1, "counts": dict(b3.counts)},
    }


def cluster_report(cases: list[Case], predictions: dict[str, Prediction], clusters_file: Path) -> dict[str, Any]:
    """Cluster scores of consolidation on the gold and on the predictions."""
    gold = gold_clusters(clusters_file)
    on_gold = consolidate(
        (case.id, ExtractionResult(agreements=case.gold, metadata=_GOLD_META)) for case in cases
    )
    predicted_results: list[tuple[str, ExtractionResult]] = []
    rename: dict[str, str] = {}
    for case in cases:
        prediction = predictions.get(case.id)
        if prediction is None or prediction.agreements is None:
            continue
        alignment = align(case.gold, prediction.agreements)
        for match in alignment.matches:
            rename[f"{case.id}#{match.pred_index}"] = f"{case.id}#{match.gold_index}"
        predicted_results.append((case.id, ExtractionResult(agreements=prediction.agreements, metadata=_GOLD_META)))
    end_to_end = clusters_from_records(consolidate(predicted_results))
    mapped = {rename[item]: cluster for item, cluster in end_to_end.items() if item in rename}
    report = {"on_gold": _scores(gold, clusters_from_records(on_gold)), "end_to_end": _scores(gold, mapped)}
    report["pairwise"] = report["on_gold"]["pairwise"]
    report["bcubed"] = report["on_gold"]["bcubed"]
    return report
