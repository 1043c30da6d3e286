"""Pairwise and B-cubed cluster scores, on clusterings with hand-computed answers."""

from __future__ import annotations

import pytest

from pactx.consolidation import consolidate
from pactx.evals.clusters import bcubed_prf, clusters_from_records, pairwise_prf
from pactx.schema import ExtractionResult, RunMetadata, SecurityAgreement

GOLD = {"d1#0": "A", "d2#0": "A", "d3#0": "A", "d4#0": "B", "d5#0": "B"}


@pytest.mark.parametrize("score", [pairwise_prf, bcubed_prf])
def test_identical_clusterings_score_one(score: object) -> None:
    renamed = {item: f"pred-{label}" for item, label in GOLD.items()}
    precision, recall, f1, counts = score(GOLD, renamed)  # type: ignore[operator]
    assert (precision, recall, f1) == (1.0, 1.0, 1.0)
    assert counts["items"] == 5


def test_split_and_merge_example() -> None:
    # gold {1,2,3} {4,5}; prediction {1,2} {3,4,5}
    pred = {"d1#0": "x", "d2#0": "x", "d3#0": "y", "d4#0": "y", "d5#0": "y"}
    precision, recall, f1, counts = pairwise_prf(GOLD, pred)
    # gold pairs 12 13 23 45; predicted 12 34 35 45; shared 12 45
    assert (precision, recall, f1) == (0.5, 0.5, 0.5)
    assert (counts["gold_pairs"], counts["pred_pairs"], counts["true_pairs"]) == (4, 4, 2)
    # B-cubed per item (P, R): 1 (1, 2/3), 2 (1, 2/3), 3 (1/3, 1/3), 4 (2/3, 1), 5 (2/3, 1)
    precision, recall, f1, counts = bcubed_prf(GOLD, pred)
    assert (
        precision == pytest.approx(11 / 15)
        and recall == pytest.approx(11 / 15)
        and f1 == pytest.approx(11 / 15)
    )
    assert (counts["gold_clusters"], counts["pred_clusters"]) == (2, 2)


def test_pure_split() -> None:
    gold = {"a#0": 1, "b#0": 1, "c#0": 1, "d#0": 1}
    pred = {"a#0": 1, "b#0": 1, "c#0": 2, "d#0": 2}
    assert pairwise_prf(gold, pred)[:3] == (1.0, pytest.approx(1 / 3), pytest.approx(0.5))
    assert bcubed_prf(gold, pred)[:3] == (1.0, 0.5, pytest.approx(2 / 3))


def test_everything_merged() -> None:
    pred = dict.fromkeys(GOLD, "one")
    precision, recall, _, counts = pairwise_prf(GOLD, pred)
    assert (precision, recall, counts["pred_pairs"]) == (pytest.approx(0.4), 1.0, 10)
    # B-cubed precision: three items at 3/5, two at 2/5
    assert bcubed_prf(GOLD, pred)[:2] == (pytest.approx((3 * 3 / 5 + 2 * 2 / 5) / 5), 1.0)


def test_singleton_conventions() -> None:
    singletons = {"a#0": 1, "b#0": 2}
    assert pairwise_prf(singletons, {"a#0": "x", "b#0": "y"})[:3] == (1.0, 1.0, 1.0)
    # predicting no pairs against a gold pair: nothing wrong claimed, nothing found
    assert pairwise_prf({"a#0": 1, "b#0": 1}, {"a#0": 1, "b#0": 2})[:3] == (1.0, 0.0, 0.0)
    assert bcubed_prf({}, {})[:3] == (1.0, 1.0, 1.0)


def test_items_missing_from_one_side_are_singletons() -> None:
    precision, recall, f1, counts = pairwise_prf({"a#0": 1, "b#0": 1}, {"a#0": 1})
    assert (precision, recall, f1) == (1.0, 0.0, 0.0)
    assert counts["missing_in_pred"] == 1 and counts["missing_in_gold"] == 0
    # a label equal to a tuple never collides with the internal singleton labels
    assert pairwise_prf({"a#0": ("b#0",), "b#0": ("a#0",)}, {"a#0": 1})[0] == 1.0


def test_clusters_from_records() -> None:
    def doc(source_id: str, *codes: list[str]) -> ExtractionResult:
        meta = RunMetadata(
            source_id=source_id,
            model="m",
            provider="t",
            prompt_version="v",
            prompt_hash="h",
            schema_hash="s",
            pactx_version="0",
        )
        agreements = [
            SecurityAgreement.model_validate({
                "evidence": [{"quote": "a pact was signed"}], "agreement_type": "defense_pact", "status": "signed",
                "parties": [{"name": c, "code": c} for c in party_codes],
            })
            for party_codes in codes
        ]  # fmt: skip
        return ExtractionResult(agreements=agreements, metadata=meta)

    records = consolidate([doc("c1", ["MLI", "NER"], ["AUS", "TUV"]), doc("c2", ["NER", "MLI"])])
    pred = clusters_from_records(records)
    assert set(pred) == {"c1#0", "c1#1", "c2#0"}
    assert pred["c1#0"] == pred["c2#0"] != pred["c1#1"]
    gold = {"c1#0": "sahel", "c2#0": "sahel", "c1#1": "tuvalu"}
    assert pairwise_prf(gold, pred)[:3] == (1.0, 1.0, 1.0)
