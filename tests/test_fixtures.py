"""The hand-labeled fixtures follow the schema and the guidelines' mechanical rules."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pactx import ExtractionResult
from pactx.evals.fixtures import SPLITS, by_split, default_fixtures_path, load_cases
from pactx.grounding import SourceText

FIXTURES = default_fixtures_path()
RAW = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip()]
SECOND = FIXTURES.with_name("second_annotator.jsonl")
SECOND_RAW = [json.loads(line) for line in SECOND.read_text(encoding="utf-8").splitlines() if line.strip()]
GUIDELINES = FIXTURES.parents[1] / "GUIDELINES.md"


def test_at_least_54_cases_with_every_seed_line(seed_lines: list[str]) -> None:
    cases = load_cases()
    assert len(cases) >= 54
    origins = Counter(case.origin for case in cases)
    assert origins["seed"] == 29 and origins["suite"] >= 25
    seed_texts = {case.text for case in cases if case.origin == "seed"}
    assert seed_texts == {line.strip() for line in seed_lines}


@pytest.mark.parametrize(
    "raw", RAW + SECOND_RAW, ids=[r["id"] for r in RAW] + [f"second-{r['id']}" for r in SECOND_RAW]
)
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


def test_holdout_cases_looked_at_while_changing_pactx_moved_to_dev() -> None:
    """Guidelines §16: the holdout and holdout2 cases were studied for this release's rules, so
    they are dev cases now, under their old ids; only the split written afterwards is blind."""
    moved = [raw for raw in RAW if raw["id"].startswith(("holdout-", "holdout2-"))]
    assert len(moved) == 60 and all(raw["split"] == "dev" for raw in moved)


@pytest.mark.parametrize("split", ["holdout3", "holdout4"])
def test_each_holdout_split_holds_30_blind_cases(split: str) -> None:
    cases = [raw for raw in RAW if raw["split"] == split]
    assert [raw["id"] for raw in cases] == [f"{split}-{n:02d}" for n in range(1, 31)]
    assert all(raw["origin"] == "suite" for raw in cases)
    tags = Counter(tag for raw in cases for tag in raw["tags"])
    assert tags["non_english"] >= 5 and tags["long_sentence"] >= 1 and tags["no_agreement"] >= 8
    assert tags["multiple_agreements"] >= 4 and tags["organization_party"] >= 5
    assert sum(len(raw["text"].split()) >= 240 for raw in cases) >= 2  # long documents


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
    assert [case.id for case in load_cases(path, split="holdout")] == [raws[2]["id"]]
    assert list(by_split(load_cases(path))) == ["dev", "test", "holdout"]
    raws[2]["split"] = "train"
    path.write_text("".join(json.dumps(raw) + "\n" for raw in raws), encoding="utf-8")
    with pytest.raises(ValueError, match=r"cases.jsonl:3: unknown split 'train'; choose dev, test, holdout, holdout2, holdout3, holdout4"):
        load_cases(path)


def test_clusters_cover_every_gold_agreement_once() -> None:
    clusters = json.loads(FIXTURES.with_name("clusters.json").read_text(encoding="utf-8"))["clusters"]
    members = [m for c in clusters for m in c["members"]]
    expected = {f"{r['id']}#{k}" for r in RAW for k in range(len(r["gold"]["agreements"]))}
    assert sorted(members) == sorted(expected)


def _labels(raw: dict) -> list[dict]:
    """A case's gold records without evidence offsets (what an annotator decides)."""
    return [
        {**a, "evidence": [e["quote"] for e in a["evidence"]]} for a in raw["gold"]["agreements"]
    ]


def test_second_annotation_covers_a_fifth_of_the_dev_cases_independently() -> None:
    second = load_cases(SECOND)
    assert len(second) >= 0.2 * sum(1 for raw in RAW if raw["split"] == "dev")
    first = {r["id"]: r for r in RAW}
    for case, raw in zip(second, SECOND_RAW, strict=True):
        gold = first[case.id]
        assert case.text == gold["text"]
        assert case.annotator and case.annotator != gold["gold"]["metadata"]["model"]
        assert raw["notes"].strip() and raw["notes"] != gold["notes"], f"{case.id}: notes copied"
    # not a copy of the first annotation: the two annotators made some calls differently
    differing = [r["id"] for r in SECOND_RAW if _labels(r) != _labels(first[r["id"]])]
    assert differing, "every record of the second annotation equals the first one"


def _headings(markdown: str) -> dict[str, list[str]]:
    """Section number ("2.11") to the numbers of its numbered list items, from the headings."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in markdown.splitlines():
        heading = re.match(r"#{2,4} (\d+(?:\.\d+)*)\.? ", line)
        if heading:
            current = heading.group(1)
            sections[current] = []
        elif current is not None and (item := re.match(r"(\d+)\. ", line)):
            sections[current].append(item.group(1))
    return sections


def test_every_section_cited_in_notes_and_guidelines_exists() -> None:
    """"§n.m" names a heading, or item m of the numbered list in a section n without subsections."""
    guidelines = GUIDELINES.read_text(encoding="utf-8")
    sections = _headings(guidelines)
    cited = {("GUIDELINES.md", ref) for ref in re.findall(r"§(\d+(?:\.\d+)*)", guidelines)}
    for raw in RAW + SECOND_RAW:
        cited |= {(raw["id"], ref) for ref in re.findall(r"§(\d+(?:\.\d+)*)", raw["notes"])}
    assert len({ref for _, ref in cited}) > 20
    dangling = []
    for where, ref in sorted(cited):
        parent, _, item = ref.rpartition(".")
        has_subsections = any(s.startswith(f"{parent}.") for s in sections)
        if ref not in sections and not (parent in sections and not has_subsections and item in sections[parent]):
            dangling.append(f"{where}: §{ref}")
    assert not dangling, dangling


def test_tags_are_defined_and_the_mechanical_ones_match_the_gold() -> None:
    guidelines = GUIDELINES.read_text(encoding="utf-8")
    table = guidelines.split("### 15.2 Tags", 1)[1].split("\n### ", 1)[0]
    defined = {tag for row in table.splitlines() if row.startswith("| `") for tag in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert {"no_agreement", "multiple_agreements", "signed"} <= defined
    stage_tags = {"proposal": "proposed", "negotiation": "negotiating", "signed": "signed"}
    for raw in RAW:
        tags, records = set(raw["tags"]), raw["gold"]["agreements"]
        assert tags <= defined, f"{raw['id']}: undefined tags {tags - defined}"
        assert ("no_agreement" in tags) == (not records), raw["id"]
        assert ("multiple_agreements" in tags) == (len(records) >= 2), raw["id"]
        statuses = {a["status"] for a in records}
        for tag, status in stage_tags.items():
            assert (tag in tags) == (status in statuses), f"{raw['id']}: tag {tag!r} vs statuses {statuses}"


def test_guidelines_work_through_the_hard_calls() -> None:
    """Each hard call has its own worked example in §13."""
    examples = [title.lower() for number, title in re.findall(r"^### (13\.\d+) (.+)$", GUIDELINES.read_text(encoding="utf-8"), re.M)]
    for topic in ("joint statement", "set to sign", "door is open", "upgrade", "withdrawal", "three times", "proposal"):
        assert any(topic in title for title in examples), topic
