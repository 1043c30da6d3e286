"""Scores for agreement clusterings: pairwise and B-cubed precision, recall and F1.

A clustering is a mapping from *item* to *cluster label*. Items are mention references,
``"case-id#k"`` for the k-th agreement extracted from document ``case-id`` (see
:func:`clusters_from_records`); labels are any hashable values and only their equality
matters, so gold and predicted labels never need to match each other.

Conventions
-----------
* Items are the union of both mappings' keys. An item missing from one mapping is a
  singleton there (a cluster of its own); ``counts`` reports how many were missing.
* Singletons form no pairs. Pairwise precision is 1.0 when the prediction has no pairs (it
  claims no link, so none is wrong) and recall is 1.0 when the gold has no pairs; two
  all-singleton clusterings therefore score 1.0. B-cubed counts singletons like any item.
* With no items at all every score is 1.0. F1 is 0.0 when precision and recall are both 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple

from pactx.records import ConsolidatedAgreement

__all__ = ["ClusterScore", "bcubed_prf", "clusters_from_records", "pairwise_prf"]


class ClusterScore(NamedTuple):
    """Precision, recall, F1 and the counts behind them (unpacks as a 4-tuple)."""

    precision: float
    recall: float
    f1: float
    counts: dict[str, int]


class _Singleton:
    """Label of an item missing from one clustering: equal only to itself."""

    __slots__ = ("item",)

    def __init__(self, item: str) -> None:
        self.item = item


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _align(
    gold: Mapping[str, Hashable], pred: Mapping[str, Hashable]
) -> tuple[list[str], dict[str, Hashable], dict[str, Hashable], dict[str, int]]:
    """All items, both labelings completed with singletons, and the missing counts."""
    items = sorted(set(gold) | set(pred))
    full_gold = {i: gold[i] if i in gold else _Singleton(i) for i in items}
    full_pred = {i: pred[i] if i in pred else _Singleton(i) for i in items}
    missing = {
        "missing_in_gold": sum(1 for i in items if i not in gold),
        "missing_in_pred": sum(1 for i in items if i not in pred),
    }
    return items, full_gold, full_pred, missing


def _sizes(labels: Iterable[Hashable]) -> Counter[Hashable]:
    return Counter(labels)


def pairwise_prf(gold: Mapping[str, Hashable], pred: Mapping[str, Hashable]) -> ClusterScore:
    """Pairwise scores: precision and recall over the unordered item pairs put in one cluster.

    ``counts``: ``items``, ``gold_pairs``, ``pred_pairs``, ``true_pairs`` (pairs together in
    both), ``missing_in_gold``, ``missing_in_pred``.
    """
    items, g, p, missing = _align(gold, pred)
    gold_pairs = sum(_pairs(n) for n in _sizes(g.values()).values())
    pred_pairs = sum(_pairs(n) for n in _sizes(p.values()).values())
    true_pairs = sum(_pairs(n) for n in _sizes((g[i], p[i]) for i in items).values())
    precision = true_pairs / pred_pairs if pred_pairs else 1.0
    recall = true_pairs / gold_pairs if gold_pairs else 1.0
    counts = {
        "items": len(items),
        "gold_pairs": gold_pairs,
        "pred_pairs": pred_pairs,
        "true_pairs": true_pairs,
        **missing,
    }
    return ClusterScore(precision, recall, _f1(precision, recall), counts)


def bcubed_prf(gold: Mapping[str, Hashable], pred: Mapping[str, Hashable]) -> ClusterScore:
    """B-cubed scores (Bagga and Baldwin 1998), averaged over items.

    For item i with gold cluster G(i) and predicted cluster P(i): precision is
    ``|G(i) & P(i)| / |P(i)|`` and recall ``|G(i) & P(i)| / |G(i)|``; both are averaged over
    all items. ``counts``: ``items``, ``gold_clusters``, ``pred_clusters``,
    ``missing_in_gold``, ``missing_in_pred``.
    """
    items, g, p, missing = _align(gold, pred)
    counts = {
        "items": len(items),
        "gold_clusters": len(set(g.values())),
        "pred_clusters": len(set(p.values())),
        **missing,
    }
    if not items:
        return ClusterScore(1.0, 1.0, 1.0, counts)
    gold_size, pred_size = _sizes(g.values()), _sizes(p.values())
    overlap = _sizes((g[i], p[i]) for i in items)
    precision = sum(overlap[g[i], p[i]] / pred_size[p[i]] for i in items) / len(items)
    recall = sum(overlap[g[i], p[i]] / gold_size[g[i]] for i in items) / len(items)
    return ClusterScore(precision, recall, _f1(precision, recall), counts)


def clusters_from_records(records: Iterable[ConsolidatedAgreement]) -> dict[str, str]:
    """Map each mention, as ``"source_id#agreement_index"``, to the id of its record."""
    return {m.ref: record.id for record in records for m in record.mentions}
