"""Known-answer tests for the eval scoring functions (alignment, metrics, bootstrap, McNemar)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import binomtest

from pactx.evals.alignment import align, assign
from pactx.evals.metrics import ALL_METRICS, HEADLINE_METRICS, DateMatch, compare_dates
from pactx.evals.paired import compare_runs
from pactx.evals.predictions import Prediction, load_predictions
from pactx.evals.scoring import RunScore, score_run
from pactx.evals.stats import mcnemar, mcnemar_exact_p, resample_weights
from pactx.schema import ExtractionResult, RunMetadata, SecurityAgreement

QUOTE = "signed a security pact"
TEXT = "The two governments signed a security pact on Friday in the capital."

# --------------------------------------------------------------------------- builders


def agreement(
    codes: Sequence[str] = ("USA", "JPN"),
    *,
    agreement_type: str = "defense_pact",
    status: str = "signed",
    quotes: Sequence[str] = (QUOTE,),
    **fields: Any,
) -> SecurityAgreement:
    """A small valid agreement; parties get their code as both name and code."""
    data: dict[str, Any] = {
        "evidence": [{"quote": q} for q in quotes],
        "parties": [{"name": code.title(), "code": code} for code in codes],
        "agreement_type": agreement_type,
        "status": status,
    }
    data.update(fields)
    return SecurityAgreement.model_validate(data)


def metadata(attempts: int = 1) -> RunMetadata:
    return RunMetadata(
        model="m",
        provider="p",
        prompt_version="v1",
        prompt_hash="h",
        schema_hash="s",
        pactx_version="0",
        attempts=attempts,
    )


def run(
    gold: dict[str, list[SecurityAgreement]],
    predicted: dict[str, list[SecurityAgreement] | Prediction | None],
    *,
    bootstrap: int = 0,
    seed: int = 0,
    gate: float = 0.5,
) -> RunScore:
    """Score with one shared text; plain lists become predictions with metadata."""
    predictions = {
        doc_id: Prediction(p, metadata()) if isinstance(p, list) else p
        for doc_id, p in predicted.items()
    }
    texts = dict.fromkeys(gold, TEXT)
    return score_run(gold, predictions, texts, gate=gate, bootstrap=bootstrap, seed=seed)


def counts(score: RunScore, name: str) -> dict[str, int | float]:
    return score.metric(name).counts


# --------------------------------------------------------------------------- self-scoring


def _rich_gold() -> dict[str, list[SecurityAgreement]]:
    return {
        "d1": [
            agreement(
                ("USA", "JPN", "KOR"),
                obligations=["defense", "consultation"],
                cooperation_areas=["cyber", "missile_defense"],
                provisions=[{"type": "basing", "description": "US bases"}],
                signed_date="2023-09",
                effective_date="2024-01-01",
            )
        ],
        "d2": [
            agreement(("FRA", "DEU"), agreement_type="security_partnership", status="agreed"),
            agreement(("MLI", "NER", "BFA"), obligations=["defense"], end_date="2025"),
        ],
        "d3": [],
    }


def test_gold_scored_against_itself_is_perfect_on_every_defined_metric() -> None:
    gold = _rich_gold()
    score = run(gold, {k: list(v) for k, v in gold.items()}, bootstrap=30)
    for name in ALL_METRICS:
        if name == "reasks_mean":
            continue
        micro, macro = score.metric(name), score.macro(name)
        assert micro.value == 1.0, name
        assert (micro.ci_low, micro.ci_high) == (1.0, 1.0), name
        assert macro.value == 1.0, name
    assert score.metric("reasks_mean").value == 0.0
    assert counts(score, "detection_f1") == {"tp": 3, "fp": 0, "fn": 0}
    assert counts(score, "dates_exact")["exact"] == 3
    assert score.missing_ids == () and score.extra_ids == ()


# --------------------------------------------------------------------------- perturbations


def test_dropped_party() -> None:
    score = run({"d": [agreement(("USA", "JPN", "KOR"))]}, {"d": [agreement(("USA", "JPN"))]})
    assert score.metric("detection_f1").value == 1.0
    assert score.metric("parties_precision").value == 1.0
    assert score.metric("parties_recall").value == pytest.approx(2 / 3)
    assert score.metric("parties_f1").value == pytest.approx(0.8)
    assert counts(score, "parties_f1") == {"tp": 2, "fp": 0, "fn": 1}


def test_wrong_status_on_one_of_two_pairs() -> None:
    gold = [agreement(("USA", "JPN")), agreement(("FRA", "DEU"))]
    pred = [agreement(("USA", "JPN")), agreement(("FRA", "DEU"), status="proposed")]
    score = run({"d": gold}, {"d": pred})
    assert score.metric("status_accuracy").value == 0.5
    assert counts(score, "status_accuracy") == {"correct": 1, "pairs": 2}
    assert score.metric("type_accuracy").value == 1.0
    assert [p.status_correct for p in score.documents[0].pairs] == [True, False]


def test_extra_spurious_agreement() -> None:
    gold = [agreement(("USA", "JPN")), agreement(("FRA", "DEU"))]
    pred = [*gold, agreement(("CHN", "RUS"))]
    score = run({"d": gold}, {"d": pred})
    assert score.metric("detection_precision").value == pytest.approx(2 / 3)
    assert score.metric("detection_recall").value == 1.0
    assert score.metric("detection_f1").value == pytest.approx(0.8)
    assert counts(score, "detection_f1") == {"tp": 2, "fp": 1, "fn": 0}
    # The spurious record's two parties are false positives too.
    assert counts(score, "parties_f1") == {"tp": 4, "fp": 2, "fn": 0}


def test_prediction_below_gate_is_false_positive_and_false_negative() -> None:
    gold = [agreement(("USA", "JPN", "KOR", "AUS"))]
    pred = [agreement(("USA", "FRA", "GBR"), agreement_type="security_partnership")]
    score = run({"d": gold}, {"d": pred})  # similarity 0.8 * 1/6 = 0.13
    assert counts(score, "detection_f1") == {"tp": 0, "fp": 1, "fn": 1}
    assert counts(score, "parties_f1") == {"tp": 0, "fp": 3, "fn": 4}
    assert score.metric("status_accuracy").value is None
    assert score.metric("obligations_f1").value is None
    assert score.documents[0].pairs == ()


def test_gate_is_inclusive_and_configurable() -> None:
    gold = [agreement(("USA", "JPN", "KOR", "AUS", "IND", "PHL"))]
    pred = [agreement(("USA", "JPN", "KOR", "GBR", "FRA"))]  # 0.8 * 3/8 + 0.2 = 0.5
    assert run({"d": gold}, {"d": pred}).metric("detection_f1").value == 1.0
    strict = run({"d": gold}, {"d": pred}, gate=0.6)
    assert counts(strict, "detection_f1") == {"tp": 0, "fp": 1, "fn": 1}


def test_failed_and_missing_documents() -> None:
    gold = {
        "a": [agreement(("USA", "JPN"))],
        "b": [agreement(("FRA", "DEU")), agreement(("MLI", "NER"))],
        "c": [agreement(("IND", "AUS"))],
        "d": [agreement(("GBR", "POL"))],
    }
    predicted: dict[str, Any] = {
        "a": [agreement(("USA", "JPN"))],
        "b": Prediction.failed("ProviderError: boom"),
        "c": None,
        "zzz": [agreement(("USA", "JPN"))],
    }
    score = run(gold, predicted)
    assert score.metric("schema_valid").value == 0.25
    assert counts(score, "schema_valid") == {"valid": 1, "documents": 4}
    assert counts(score, "detection_f1") == {"tp": 1, "fp": 0, "fn": 4}
    assert score.metric("detection_recall").value == pytest.approx(1 / 5)
    assert score.missing_ids == ("d",)
    assert score.extra_ids == ("zzz",)
    by_id = {doc.doc_id: doc for doc in score.documents}
    assert [by_id[k].status for k in "abcd"] == ["ok", "failed", "failed", "missing"]
    assert by_id["b"].error == "ProviderError: boom"
    assert by_id["b"].counts["party_fn"] == 4


def test_set_fields_on_matched_pairs() -> None:
    gold = agreement(
        obligations=["defense", "consultation"],
        cooperation_areas=["cyber"],
        provisions=[
            {"type": "basing", "description": "bases"},
            {"type": "military_aid", "description": "aid"},
        ],
    )
    pred = agreement(
        obligations=["defense"],
        cooperation_areas=["cyber", "space"],
        provisions=[{"type": "basing", "description": "different words, same type"}],
    )
    score = run({"d": [gold]}, {"d": [pred]})
    assert score.metric("obligations_precision").value == 1.0
    assert score.metric("obligations_recall").value == 0.5
    assert counts(score, "obligations_f1") == {"tp": 1, "fp": 0, "fn": 1, "pairs": 1}
    assert score.metric("areas_precision").value == 0.5
    assert score.metric("areas_recall").value == 1.0
    assert score.metric("provisions_f1").value == pytest.approx(2 / 3)


def test_party_without_code_matches_on_case_folded_name() -> None:
    gold = SecurityAgreement.model_validate(
        {
            "evidence": [{"quote": QUOTE}],
            "parties": [{"name": "Mali"}, {"name": "Burkina Faso"}],
            "agreement_type": "defense_pact",
            "status": "signed",
        }
    )
    renamed = [
        party.model_copy(update={"name": name})
        for party, name in zip(gold.parties, ["MALI", "burkina  faso"], strict=True)
    ]
    pred = gold.model_copy(update={"parties": renamed})
    score = run({"d": [gold]}, {"d": [pred]})
    assert counts(score, "parties_f1") == {"tp": 2, "fp": 0, "fn": 0}


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("2023-09-16", "2023-09-16", DateMatch.EXACT),
        ("2023", "2023", DateMatch.EXACT),
        ("2023-09", "2023-09-16", DateMatch.PARTIAL),
        ("2023-09-16", "2023", DateMatch.PARTIAL),
        ("2023", "2023-01", DateMatch.PARTIAL),
        ("2023-09", "2023-10-01", DateMatch.MISMATCH),
        ("2023-09-16", "2023-09-17", DateMatch.MISMATCH),
        ("2023", "2024-09", DateMatch.MISMATCH),
        ("2023-09", None, DateMatch.MISSING),
        (None, "2023", DateMatch.SPURIOUS),
        (None, None, DateMatch.BOTH_ABSENT),
    ],
)
def test_compare_dates(gold: str | None, pred: str | None, expected: DateMatch) -> None:
    assert compare_dates(gold, pred) is expected


def test_dates_scored_over_fields_where_either_side_has_a_date() -> None:
    gold = [
        agreement(("USA", "JPN"), signed_date="2023-09", effective_date="2024"),
        agreement(("FRA", "DEU"), signed_date="2023-01-05"),
    ]
    pred = [
        agreement(("USA", "JPN"), signed_date="2023-09-16", effective_date="2025", end_date="2030"),
        agreement(("FRA", "DEU"), signed_date="2023-01-05"),
    ]
    score = run({"d": gold}, {"d": pred})
    assert counts(score, "dates_exact") == {
        "exact": 1,
        "partial": 1,
        "mismatch": 1,
        "missing": 0,
        "spurious": 1,
        "both_absent": 2,
    }
    assert score.metric("dates_exact").value == 0.25
    assert score.metric("dates_partial").value == 0.5
    first = score.documents[0].pairs[0].dates
    assert first == {
        "signed_date": DateMatch.PARTIAL,
        "effective_date": DateMatch.MISMATCH,
        "end_date": DateMatch.SPURIOUS,
    }


def test_no_dates_anywhere_is_undefined() -> None:
    score = run({"d": [agreement()]}, {"d": [agreement()]})
    assert score.metric("dates_exact").value is None
    assert score.metric("dates_partial").value is None


# --------------------------------------------------------------------------- empty documents


def test_empty_gold_and_empty_prediction() -> None:
    score = run({"d": []}, {"d": []})
    for name in ("detection_precision", "detection_recall", "detection_f1", "parties_f1"):
        assert score.metric(name).value == 1.0, name
    undefined = ("status_accuracy", "type_accuracy", "obligations_f1", "dates_exact")
    for name in (*undefined, "evidence_grounding"):
        assert score.metric(name).value is None, name
    assert score.metric("schema_valid").value == 1.0


def test_empty_gold_with_a_prediction_and_gold_with_no_prediction() -> None:
    spurious = run({"d": []}, {"d": [agreement()]})
    assert spurious.metric("detection_precision").value == 0.0
    assert spurious.metric("detection_recall").value is None
    assert spurious.metric("detection_f1").value == 0.0
    missed = run({"d": [agreement()]}, {"d": []})
    assert missed.metric("detection_precision").value is None
    assert missed.metric("detection_recall").value == 0.0
    assert missed.metric("detection_f1").value == 0.0


def test_no_documents_at_all() -> None:
    score = run({}, {}, bootstrap=10)
    assert score.metric("schema_valid").value is None
    assert score.metric("detection_f1").value == 1.0
    assert score.metric("detection_f1").ci_low is None


# --------------------------------------------------------------------------- other metrics


def test_evidence_grounding_counts_quotes_found_in_the_text() -> None:
    pred = agreement(quotes=["SIGNED a   security pact", "a quote that is not there"])
    score = run({"d": [agreement()]}, {"d": [pred]})
    assert score.metric("evidence_grounding").value == 0.5
    assert counts(score, "evidence_grounding") == {"grounded": 1, "total": 2}


def test_mean_reasks_over_valid_documents_with_metadata() -> None:
    gold = {"a": [agreement()], "b": [agreement()], "c": [agreement()], "d": [agreement()]}
    predicted: dict[str, Any] = {
        "a": Prediction([agreement()], metadata(attempts=3)),
        "b": Prediction([agreement()], metadata(attempts=1)),
        "c": Prediction([agreement()]),  # another tool: no metadata
        "d": None,
    }
    score = run(gold, predicted)
    assert score.metric("reasks_mean").value == 1.0
    assert counts(score, "reasks_mean") == {"reasks": 2, "documents": 2}


def test_micro_and_macro_differ_and_worst_documents() -> None:
    gold = {
        "good": [agreement(("USA", "JPN"))],
        "bad": [agreement(("FRA", "DEU")), agreement(("MLI", "NER")), agreement(("IND", "AUS"))],
    }
    score = run(gold, {"good": [agreement(("USA", "JPN"))], "bad": []})
    assert score.metric("detection_f1").value == pytest.approx(2 / 5)  # 2*1 / (2*1 + 0 + 3)
    assert score.macro("detection_f1").value == 0.5
    assert score.macro("detection_f1").counts == {"documents": 2, "sum": 1.0}
    assert [doc.doc_id for doc in score.worst("detection_f1", n=1)] == ["bad"]
    assert score.macro("status_accuracy").counts["documents"] == 1  # undefined on "bad"


def test_unknown_metric_name_is_rejected() -> None:
    score = run({"d": []}, {"d": []})
    with pytest.raises(KeyError, match="unknown metric"):
        score.metric("accuracy")


def test_missing_text_is_an_error() -> None:
    with pytest.raises(ValueError, match="no text"):
        score_run({"d": [agreement()]}, {"d": Prediction([agreement()])}, {}, bootstrap=0)


def test_results_survive_json_with_their_values() -> None:
    gold = _rich_gold()
    a = run(gold, {k: list(v) for k, v in gold.items()}, bootstrap=20)
    b = run(gold, {"d1": [], "d2": gold["d2"][:1], "d3": []}, bootstrap=20)
    data = json.loads(json.dumps(a.to_dict()))
    worse = json.loads(json.dumps(b.to_dict()))
    assert set(HEADLINE_METRICS) <= set(data["micro"]) and set(data["micro"]) == set(data["macro"]) == set(ALL_METRICS)
    for name in ALL_METRICS:
        for kind, metric in (("micro", a.metric(name)), ("macro", a.macro(name))):
            assert data[kind][name] == {"value": metric.value, "ci_low": metric.ci_low, "ci_high": metric.ci_high,
                                        "counts": metric.counts}, (kind, name)
    # known answers: b finds 1 of the 3 gold agreements
    assert worse["micro"]["detection_f1"]["value"] == pytest.approx(0.5)  # 2*1 / (2*1 + 0 + 2)
    assert worse["micro"]["detection_f1"]["counts"] == {"tp": 1, "fp": 0, "fn": 2}
    assert (worse["gate"], worse["bootstrap"], worse["seed"], worse["n_documents"]) == (0.5, 20, 0, 3)
    assert [(d["id"], d["status"], d["n_gold"], d["n_pred"]) for d in worse["documents"]] == [
        ("d1", "ok", 1, 0), ("d2", "ok", 2, 1), ("d3", "ok", 0, 0)
    ]
    [pair] = worse["documents"][1]["pairs"]
    assert (pair["gold_index"], pair["pred_index"], pair["status_correct"], pair["type_correct"]) == (0, 0, True, True)
    comparison = json.loads(json.dumps(compare_runs(a, b, resamples=20).to_dict()))
    detection = comparison["metrics"]["detection_f1"]
    assert (detection["a"], detection["b"]) == (1.0, pytest.approx(0.5)) and detection["diff"] == pytest.approx(-0.5)
    assert comparison["mcnemar"]["detection"] == {
        "n": 3, "both": 1, "only_a": 2, "only_b": 0, "neither": 0,
        "p_value": pytest.approx(0.5), "alpha": 0.05, "significant": False,  # p = 2 * (1/2)**2
    }
    assert comparison["n_documents"] == 3 and comparison["resamples"] == 20


# --------------------------------------------------------------------------- alignment


def test_hungarian_finds_the_optimal_not_the_greedy_assignment() -> None:
    gold = [
        agreement(("USA", "JPN"), agreement_type="defense_pact"),
        agreement(("USA", "JPN", "AUS"), agreement_type="security_partnership"),
    ]
    pred = [
        agreement(("USA", "JPN"), agreement_type="defense_pact"),  # 1.00 / 0.53 with gold 0 / 1
        agreement(("USA", "JPN", "FRA"), agreement_type="defense_pact"),  # 0.73 / 0.40
    ]
    # Greedy would take the 1.0 pair first and leave a 0.40 pair below the gate: one match.
    alignment = align(gold, pred)
    assert [(m.gold_index, m.pred_index) for m in alignment.matches] == [(0, 1), (1, 0)]
    assert alignment.unmatched_gold == () and alignment.unmatched_pred == ()
    assert counts(run({"d": gold}, {"d": pred}), "detection_f1") == {"tp": 2, "fp": 0, "fn": 0}


def test_assignment_never_trades_a_gated_pair_for_sub_gate_pairs() -> None:
    sim = np.array([[0.45, 0.85], [0.0, 0.45]])  # raw optimum 0.9 would be two rejected pairs
    assert assign(sim, 0.5) == [(0, 1)]
    assert assign(np.zeros((0, 3)), 0.5) == []


# --------------------------------------------------------------------------- bootstrap


def _varied_run(bootstrap: int, seed: int) -> RunScore:
    gold = {f"d{i:02d}": [agreement(("USA", "JPN")), agreement(("FRA", "DEU"))] for i in range(12)}
    predicted: dict[str, Any] = {
        doc_id: [agreement(("USA", "JPN"))] if i % 3 == 0 else list(agreements)
        for i, (doc_id, agreements) in enumerate(gold.items())
    }
    return run(gold, predicted, bootstrap=bootstrap, seed=seed)


def test_bootstrap_is_deterministic_and_contains_the_point_estimate() -> None:
    first, again = _varied_run(200, seed=7), _varied_run(200, seed=7)
    assert first.to_dict() == again.to_dict()
    metric = first.metric("detection_f1")
    assert metric.value is not None and metric.ci_low is not None and metric.ci_high is not None
    assert metric.ci_low <= metric.value <= metric.ci_high
    assert metric.ci_low < metric.ci_high
    assert metric.counts == {"tp": 20, "fp": 0, "fn": 4}


def test_resample_weights_draw_every_resample_in_full() -> None:
    weights = resample_weights(5, 50, seed=1)
    assert weights.shape == (50, 5)
    assert (weights.sum(axis=1) == 5).all()
    assert np.array_equal(weights, resample_weights(5, 50, seed=1))
    assert not np.array_equal(weights, resample_weights(5, 50, seed=2))


# --------------------------------------------------------------------------- McNemar and comparison


def test_mcnemar_exact_p_on_a_known_table() -> None:
    assert mcnemar_exact_p(8, 2) == 0.109375
    assert mcnemar_exact_p(2, 8) == 0.109375
    assert mcnemar_exact_p(8, 2) == pytest.approx(binomtest(2, 10, 0.5).pvalue)
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(5, 5) == 1.0
    outcomes = [(True, True)] * 3 + [(True, False)] * 8 + [(False, True)] * 2 + [(False, False)]
    table = mcnemar(outcomes)
    assert (table.n, table.both, table.only_a, table.only_b, table.neither) == (14, 3, 8, 2, 1)
    assert table.p_value == 0.109375 and not table.significant


def test_compare_runs_paired_status_mcnemar_and_detection_difference() -> None:
    gold = {f"d{i:02d}": [agreement(status="signed")] for i in range(10)}
    a = {k: [agreement(status="signed" if i < 8 else "proposed")] for i, k in enumerate(gold)}
    b = {k: [agreement(status="proposed" if i < 8 else "signed")] for i, k in enumerate(gold)}
    comparison = compare_runs(run(gold, a), run(gold, b), resamples=300, seed=1)
    status = comparison.mcnemar["status"]
    assert (status.only_a, status.only_b, status.p_value) == (8, 2, 0.109375)
    assert comparison.mcnemar["detection"].p_value == 1.0
    diff = comparison.metrics["status_accuracy"]
    assert diff.diff == pytest.approx(0.2 - 0.8)
    assert diff.ci_low is not None and diff.ci_high is not None
    assert diff.ci_low <= diff.diff <= diff.ci_high
    assert comparison.metrics["detection_f1"].diff == 0.0
    assert not comparison.metrics["detection_f1"].significant


def test_compare_runs_flags_a_real_detection_drop() -> None:
    gold = {f"d{i:02d}": [agreement()] for i in range(12)}
    good = run(gold, {k: [agreement()] for k in gold})
    bad = run(gold, {k: [agreement()] if i < 2 else [] for i, k in enumerate(gold)})
    comparison = compare_runs(good, bad, resamples=300)
    detection = comparison.mcnemar["detection"]
    assert (detection.only_a, detection.only_b) == (10, 0)
    assert detection.p_value == pytest.approx(2 / 2**10) and detection.significant
    diff = comparison.metrics["detection_f1"]
    assert diff.diff is not None and diff.diff < 0 and diff.significant
    same = compare_runs(good, good, resamples=50)
    assert all(not d.significant for d in same.metrics.values())


def test_compare_runs_requires_the_same_documents() -> None:
    a = run({"x": [agreement()]}, {"x": [agreement()]})
    b = run({"y": [agreement()]}, {"y": [agreement()]})
    with pytest.raises(ValueError, match="different documents"):
        compare_runs(a, b)


# --------------------------------------------------------------------------- loading


def test_load_predictions_reads_every_line_kind(tmp_path: Path) -> None:
    result = ExtractionResult(agreements=[agreement()], metadata=metadata(attempts=2))
    lines = [
        {"id": "ok", "source": "ok.txt", "result": result.model_dump(mode="json")},
        {"id": "err", "source": "e.txt", "error": {"type": "ProviderError", "message": "timeout"}},
        {"id": "tool", "agreements": [agreement().model_dump(mode="json")]},
        {"id": "bad", "agreements": [{"parties": []}]},
    ]
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    predictions = load_predictions(path)
    assert set(predictions) == {"ok", "err", "tool", "bad"}
    ok = predictions["ok"]
    assert ok.ok and ok.metadata is not None and ok.metadata.attempts == 2
    assert ok.agreements == result.agreements
    assert predictions["err"].agreements is None
    assert predictions["err"].error == "ProviderError: timeout"
    assert predictions["tool"].ok and predictions["tool"].metadata is None
    assert not predictions["bad"].ok and "invalid" in (predictions["bad"].error or "")


def test_load_predictions_rejects_duplicates_and_bad_json(tmp_path: Path) -> None:
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a", "agreements": []}\n' * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        load_predictions(dup)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_predictions(broken)
    first, second = tmp_path / "out.jsonl", tmp_path / "out.failures.jsonl"
    first.write_text('{"id": "a", "agreements": []}\n', encoding="utf-8")
    second.write_text('{"id": "b", "error": "boom"}\n', encoding="utf-8")
    merged = load_predictions(first, second)
    assert merged["a"].agreements == [] and merged["b"].error == "boom"
