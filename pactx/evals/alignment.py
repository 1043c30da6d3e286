"""Align predicted security agreements with gold records, one to one, within a document.

Predicted and gold agreements are matched by the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`, maximizing total similarity) on::

    sim(gold, pred) = 0.8 * jaccard(party keys) + 0.2 * (gold.agreement_type == pred.agreement_type)

A party key (:func:`pactx.parties.party_key`) is the party's ``code``, or its case-folded name
(white space collapsed) when it has no code. Two empty party sets have Jaccard 1.

**Similarity gate** (default 0.5): a pair whose similarity is below the gate is *not* a
match; the prediction counts as a false positive and the gold record as a false negative (a
wrong record, not a partial hit). Similarities below the gate are set to zero before the
assignment, so the optimizer never gives up a pair that clears the gate for pairs that would
then be rejected. Unmatched predictions are false positives, unmatched gold records false
negatives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from pactx.parties import party_keys
from pactx.schema import SecurityAgreement

__all__ = [
    "DEFAULT_GATE",
    "GATE_TOLERANCE",
    "Alignment",
    "Match",
    "align",
    "assign",
    "jaccard",
    "similarity",
]

DEFAULT_GATE = 0.5
PARTY_WEIGHT = 0.8
TYPE_WEIGHT = 0.2
GATE_TOLERANCE = 1e-9
"""Tolerance on the gate, so a similarity of exactly the gate survives float rounding."""


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
    passes = sim >= gate - GATE_TOLERANCE
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
