"""The hand-labeled fixtures follow the schema and the guidelines' mechanical rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pactx import ExtractionResult
from pactx.evals.fixtures import SPLITS, by_split, default_fixtures_path, load_cases
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


def test_every_case_names_its_split_and_development_cases_are_dev() -> None:
    assert all(raw.get("split") in SPLITS for raw in RAW)
    for raw in RAW:
        if raw["origin"] == "seed" or raw["id"].startswith("suite-"):
            assert raw["split"] == "dev", raw["id"]  # seen while the rules were built


def test_the_test_split_holds_at_least_30_new_cases() -> None:
    test = [raw for raw in RAW if raw["split"] == "test"]
    assert len(test) >= 30
    assert all(raw["id"].startswith("test-") and raw["origin"] == "suite" for raw in test)
    tags = Counter(tag for raw in test for tag in raw["tags"])
    assert tags["non_english"] >= 6 and tags["long_sentence"] >= 1 and tags["non_state_party"] >= 1


def test_load_cases_filters_by_split(tmp_path: Path) -> None:
    lines = FIXTURES.read_text(encoding="utf-8").splitlines()[:3]
    raws = [json.loads(line) for line in lines]
    raws[0]["split"] = "test"
    del raws[1]["split"]  # an old line without the field is dev
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(raw) + "\n" for raw in raws), encoding="utf-8")
    assert [case.split for case in load_cases(path)] == ["test", "dev", "dev"]
    assert [case.id for case in load_cases(path, split="test")] == [raws[0]["id"]]
    assert [case.id for case in load_cases(path, split="dev")] == [raws[1]["id"], raws[2]["id"]]
    assert len(load_cases(path, split="all")) == 3
    assert list(by_split(load_cases(path))) == ["dev", "test"]
    with pytest.raises(ValueError, match="unknown split"):
        load_cases(path, split="train")
    raws[2]["split"] = "holdout"
    path.write_text("".join(json.dumps(raw) + "\n" for raw in raws), encoding="utf-8")
    with pytest.raises(ValueError, match=r"cases.jsonl:3: unknown split 'holdout'"):
        load_cases(path)


def test_clusters_cover_every_gold_agreement_once() -> None:
    clusters = json.loads(FIXTURES.with_name("clusters.json").read_text(encoding="utf-8"))["clusters"]
    members = [m for c in clusters for m in c["members"]]
    expected = {f"{r['id']}#{k}" for r in RAW for k in range(len(r["gold"]["agreements"]))}
    assert sorted(members) == sorted(expected)


def test_second_annotation_covers_a_fifth_of_the_dev_cases_independently() -> None:
    second = load_cases(SECOND)
    assert len(second) >= 0.2 * sum(1 for raw in RAW if raw["split"] == "dev")
    first = {r["id"]: r for r in RAW}
    for case in second:
        assert case.text == first[case.id]["text"]
        assert case.annotator != first[case.id]["gold"]["metadata"]["model"]


def test_guidelines_cover_the_hard_calls() -> None:
    guidelines = (Path(FIXTURES).parents[1] / "GUIDELINES.md").read_text(encoding="utf-8").lower()
    for topic in ("joint statement", "set to sign", "door is open", "upgrade", "withdrawal", "three times", "proposal"):
        assert topic in guidelines, topic
