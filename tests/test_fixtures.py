"""The hand-labeled fixtures follow the schema and the guidelines' mechanical rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pactx import ExtractionResult
from pactx.evals.fixtures import default_fixtures_path, load_cases
from pactx.grounding import SourceText

FIXTURES = default_fixtures_path()
RAW = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip()]
SECOND = FIXTURES.with_name("second_annotator.jsonl")


def test_at_least_54_cases_with_every_seed_line(seed_lines: list[str]) -> None:
    cases = load_cases()
    assert len(cases) >= 54
    origins = Counter(case.origin for case in cases)
    assert origins["seed"] == 29 and origins["suite"] >= 25
    seed_texts = {case.text for case in cases if case.origin == "seed"}
    assert seed_texts == {line.strip() for line in seed_lines}


@pytest.mark.parametrize("raw", RAW, ids=[r["id"] for r in RAW])
def test_case_validates_and_is_grounded(raw: dict) -> None:
    result = ExtractionResult.model_validate(raw["gold"])
    text = raw["text"]
    source = SourceText(text)
    for agreement in result.agreements:
        for quote in agreement.evidence:
            assert quote.quote in text, f"quote not verbatim: {quote.quote!r}"
            if quote.start is not None:
                assert text[quote.start : quote.end] == quote.quote
        for party in agreement.parties:
            assert source.find(party.name) is not None, f"party {party.name!r} not in text"
            if party.kind.value == "state":
                assert party.code and len(party.code) == 3 and party.code.isupper()
    assert raw["notes"].strip(), "every case explains its calls"


def test_clusters_cover_every_gold_agreement_once() -> None:
    clusters = json.loads(FIXTURES.with_name("clusters.json").read_text(encoding="utf-8"))["clusters"]
    members = [m for c in clusters for m in c["members"]]
    expected = {f"{r['id']}#{k}" for r in RAW for k in range(len(r["gold"]["agreements"]))}
    assert sorted(members) == sorted(expected)


def test_second_annotation_covers_a_fifth_of_the_cases_independently() -> None:
    second = load_cases(SECOND)
    assert len(second) >= 0.2 * len(RAW)
    first = {r["id"]: r for r in RAW}
    for case in second:
        assert case.text == first[case.id]["text"]
        assert case.annotator != first[case.id]["gold"]["metadata"]["model"]


def test_guidelines_cover_the_hard_calls() -> None:
    guidelines = (Path(FIXTURES).parents[1] / "GUIDELINES.md").read_text(encoding="utf-8").lower()
    for topic in ("joint statement", "set to sign", "door is open", "upgrade", "withdrawal", "three times", "proposal"):
        assert topic in guidelines, topic
