"""Consolidation of mentions into agreements, on hand-built results for the seeds' duplicates."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pactx.consolidation import consolidate, name_similarity
from pactx.records import ConsolidatedAgreement, MembershipChangeKind
from pactx.schema import AgreementStatus, ExtractionResult, RunMetadata, SecurityAgreement

NAMES = {
    "MLI": "Mali", "NER": "Niger", "BFA": "Burkina Faso", "JPN": "Japan", "USA": "United States",
    "SAU": "Saudi Arabia", "GBR": "United Kingdom", "AUS": "Australia", "NZL": "New Zealand",
    "TUV": "Tuvalu", "PNG": "Papua New Guinea", "MYS": "Malaysia", "IDN": "Indonesia",
    "KOR": "South Korea", "ISR": "Israel", "ASEAN": "ASEAN", "AES": "Alliance of Sahel States",
}  # fmt: skip
ORGS = {"ASEAN", "AES", "AUKUS", "NATO"}


def pact(
    parties: list[str | tuple[str, str]], type_: str = "defense_pact", status: str = "signed", **kw: Any
) -> SecurityAgreement:
    """An agreement; parties are codes, or (code, role) pairs."""
    rows = []
    for entry in parties:
        code, role = (entry, "member") if isinstance(entry, str) else entry
        kind = "organization" if code in ORGS else "state"
        rows.append({"name": NAMES.get(code, code), "code": code, "role": role, "kind": kind})
    quote = kw.pop(
        "quote", f"{' and '.join(NAMES.get(c if isinstance(c, str) else c[0], '?') for c in parties)} pact"
    )
    return SecurityAgreement.model_validate(
        {"evidence": [{"quote": quote}], "parties": rows, "agreement_type": type_, "status": status, **kw}
    )


def doc(source_id: str, *agreements: SecurityAgreement) -> ExtractionResult:
    """An extraction result for one document."""
    meta = RunMetadata(
        source_id=source_id, model="m", provider="test", prompt_version="v1",
        prompt_hash="h", schema_hash="s", pactx_version="0",
    )  # fmt: skip
    return ExtractionResult(agreements=list(agreements), metadata=meta)


SAHEL = ["MLI", "NER", "BFA"]


def seed_corpus() -> list[ExtractionResult]:
    """The seeds' known duplicates, as an extractor would report them, among other agreements."""
    return [
        doc("s0-00", pact(["SAU", "PAK"], obligations=["defense"])),
        doc("s0-04", pact(["USA", "NER"], "security_partnership", "terminated")),
        doc("s0-08", pact(["NER", "USA"], "security_partnership", "terminated", end_date="2024-03")),
        doc("s0-10", pact(["JPN", "ASEAN"], "security_partnership", "agreed"),
            pact(["JPN", "MYS"], "defense_cooperation"), pact(["JPN", "IDN"], "defense_cooperation")),
        doc("s0-11", pact(["JPN", "ASEAN"], "security_partnership", "agreed")),
        doc("s1-04", pact(["AUS", "PNG"], "defense_pact", "agreed")),
        doc("s1-07", pact(["USA", "GBR", "AUS", ("JPN", "prospective_member")], "security_partnership", "in_force", name="AUKUS")),
        doc("s1-10", pact(["AUS", "TUV"], "defense_pact", "signed", name="Falepili Union")),
        doc("s1-11", pact(SAHEL, name="Liptako-Gourma Charter", obligations=["defense"])),
        doc("s1-12", pact(SAHEL, name="Alliance of Sahel States", obligations=["defense"])),
        doc("s1-13", pact([*SAHEL, "AES"], name="Alliance of Sahel States")),
        doc("s1-14", pact(["USA", "SAU"], "defense_pact", "proposed")),
        doc("s1-15", pact(["USA", "SAU"], "defense_pact", "proposed"), pact(["ISR", "SAU"], "other", "negotiating")),
        doc("s1-16", pact(["USA", "GBR", "AUS", ("NZL", "prospective_member")], "security_partnership", "in_force", name="AUKUS")),
    ]  # fmt: skip


def party_set(record: ConsolidatedAgreement) -> set[str]:
    return {p.code or p.name for p in record.parties}


def find(records: list[ConsolidatedAgreement], *codes: str) -> list[ConsolidatedAgreement]:
    return [r for r in records if {c for c in codes} <= party_set(r) and len(party_set(r)) == len(codes)]


@pytest.fixture(scope="module")
def records() -> list[ConsolidatedAgreement]:
    return consolidate(seed_corpus())


def sources(record: ConsolidatedAgreement) -> list[str]:
    return [m.source_id for m in record.mentions]


# --------------------------------------------------------------------------- seed duplicates


def test_sahel_pact_reported_three_times_is_one_record(records: list[ConsolidatedAgreement]) -> None:
    (aes,) = find(records, *SAHEL)
    assert sources(aes) == ["s1-11", "s1-12", "s1-13"]
    assert aes.name == "Alliance of Sahel States"
    assert aes.status is AgreementStatus.SIGNED
    assert aes.cow_type == "Type I: Defense Pact" and aes.atop.defense
    assert [p.code for p in aes.parties] == SAHEL  # the pact's own organization is not a party
    assert any("same party set {MLI,NER,BFA} and type defense_pact" in r for r in aes.merge_reasons)
    assert len(aes.merge_reasons) == 2


def test_japan_asean_summit_is_one_record_apart_from_bilateral_deals(
    records: list[ConsolidatedAgreement],
) -> None:
    (summit,) = find(records, "JPN", "ASEAN")
    assert sources(summit) == ["s0-10", "s0-11"]
    assert len(find(records, "JPN", "MYS")) == len(find(records, "JPN", "IDN")) == 1


def test_us_saudi_proposal_is_one_record(records: list[ConsolidatedAgreement]) -> None:
    (proposal,) = find(records, "USA", "SAU")
    assert sources(proposal) == ["s1-14", "s1-15"]
    assert proposal.status is AgreementStatus.PROPOSED
    assert proposal.plover_events == ["AGREE"]
    assert len(find(records, "ISR", "SAU")) == 1


def test_end_of_us_niger_cooperation_is_one_record(records: list[ConsolidatedAgreement]) -> None:
    (ended,) = find(records, "USA", "NER")
    assert sources(ended) == ["s0-04", "s0-08"]
    assert ended.status is AgreementStatus.TERMINATED
    assert ended.end_date == "2024-03"
    assert ended.plover_events == ["SANCTION"]


def test_every_mention_is_kept_exactly_once(records: list[ConsolidatedAgreement]) -> None:
    refs = [m.ref for r in records for m in r.mentions]
    expected = [f"{d.metadata.source_id}#{k}" for d in seed_corpus() for k in range(len(d.agreements))]
    assert sorted(refs) == sorted(expected)
    assert len(records) == 11


def test_prospective_members_merge_with_a_membership_change(records: list[ConsolidatedAgreement]) -> None:
    (aukus,) = [r for r in records if r.name == "AUKUS"]
    assert sources(aukus) == ["s1-07", "s1-16"]
    changes = {(c.kind, c.party, c.source_id) for c in aukus.membership_changes}
    assert changes == {
        (MembershipChangeKind.PROSPECTIVE, "JPN", "s1-07"),
        (MembershipChangeKind.PROSPECTIVE, "NZL", "s1-16"),
    }
    roles = {p.code: p.role.value for p in aukus.parties}
    assert roles == {
        "USA": "member",
        "GBR": "member",
        "AUS": "member",
        "JPN": "prospective_member",
        "NZL": "prospective_member",
    }
    assert any("prospective_member" in r for r in aukus.merge_reasons)


def test_bilateral_pacts_with_one_shared_party_never_merge(records: list[ConsolidatedAgreement]) -> None:
    assert len(find(records, "AUS", "TUV")) == 1 and len(find(records, "AUS", "PNG")) == 1
    same_everything = consolidate([doc("a", pact(["AUS", "TUV"])), doc("b", pact(["AUS", "PNG"]))])
    assert len(same_everything) == 2


# --------------------------------------------------------------------------- party-set rules

AUKUS3 = ["USA", "GBR", "AUS"]


def test_accession_as_member_is_recorded() -> None:
    out = consolidate([
        doc("a", pact(AUKUS3, "security_partnership", name="AUKUS")),
        doc("b", pact([*AUKUS3, ("NZL", "prospective_member")], "security_partnership", "in_force")),
        doc("c", pact([*AUKUS3, "NZL"], "security_partnership", "in_force", name="AUKUS")),
    ])  # fmt: skip
    (aukus,) = out
    kinds = [(c.kind, c.party, c.source_id) for c in aukus.membership_changes]
    assert kinds == [
        (MembershipChangeKind.PROSPECTIVE, "NZL", "b"),
        (MembershipChangeKind.ACCESSION, "NZL", "c"),
    ]
    assert {p.code: p.role.value for p in aukus.parties}["NZL"] == "member"


def test_superset_without_evidence_stays_separate() -> None:
    out = consolidate([doc("a", pact(["USA", "JPN"])), doc("b", pact(["USA", "JPN", "KOR"]))])
    assert len(out) == 2


def test_superset_of_an_organization_based_pact_merges() -> None:
    out = consolidate([
        doc("a", pact(AUKUS3, "security_partnership", name="AUKUS")),
        doc("b", pact([*AUKUS3, "JPN"], "security_partnership", name="expanded AUKUS pact")),
    ])  # fmt: skip
    (aukus,) = out
    assert [(c.kind, c.party) for c in aukus.membership_changes] == [(MembershipChangeKind.ACCESSION, "JPN")]
    assert "by {JPN}" in aukus.merge_reasons[0]


def test_withdrawal_is_recorded() -> None:
    out = consolidate([
        doc("a", pact(SAHEL, name="Alliance of Sahel States")),
        doc("b", pact(["MLI", "BFA", ("NER", "former_member")], end_date="2025-01")),
    ])  # fmt: skip
    (aes,) = out
    (change,) = aes.membership_changes
    assert (change.kind, change.party, change.source_id, change.date) == (
        MembershipChangeKind.WITHDRAWAL,
        "NER",
        "b",
        "2025-01",
    )
    assert "NER is former_member" in aes.merge_reasons[0]


def test_different_types_stay_apart_unless_names_match() -> None:
    apart = consolidate([doc("a", pact(["USA", "PHL"])), doc("b", pact(["USA", "PHL"], "basing_access"))])
    assert len(apart) == 2
    named = consolidate([
        doc("a", pact(["USA", "PHL"], "basing_access", name="Enhanced Defense Cooperation Agreement")),
        doc("b", pact(["USA", "PHL"], "defense_cooperation", name="the Enhanced Defense Cooperation Agreement")),
    ])  # fmt: skip
    assert len(named) == 1 and "types differ" in named[0].merge_reasons[0]


def test_names_made_of_party_names_are_no_evidence() -> None:
    out = consolidate([
        doc("a", pact(["JPN", "PHL"], name="Japan-Philippines security pact")),
        doc("b", pact(["JPN", "PHL", "USA"], name="US-Japan-Philippines security pact")),
    ])  # fmt: skip
    assert len(out) == 2
    generic = consolidate(
        [
            doc("a", pact(["USA", "PHL"], name="security pact")),
            doc("b", pact(["USA", "PHL"], "basing_access", name="security pact")),
        ]
    )
    assert len(generic) == 2


def test_conflicting_signing_dates_stay_apart() -> None:
    out = consolidate(
        [
            doc("a", pact(["USA", "JPN"], signed_date="1951-09-08")),
            doc("b", pact(["USA", "JPN"], signed_date="1960-01")),
        ]
    )
    assert len(out) == 2
    partial = consolidate(
        [
            doc("a", pact(["USA", "JPN"], signed_date="1960-01-19")),
            doc("b", pact(["USA", "JPN"], signed_date="1960")),
        ]
    )
    assert len(partial) == 1 and partial[0].signed_date == "1960-01-19"


def test_uncoded_parties_compare_by_case_folded_name() -> None:
    def wagner(name: str) -> SecurityAgreement:
        return SecurityAgreement.model_validate({
            "evidence": [{"quote": "Mali hired the Wagner Group"}], "agreement_type": "military_aid", "status": "in_force",
            "parties": [{"name": "Mali", "code": "MLI"}, {"name": name}],
        })  # fmt: skip

    (one,) = consolidate([doc("a", wagner("Wagner Group")), doc("b", wagner("wagner  GROUP"))])
    assert party_set(one) == {"MLI", "Wagner Group"}
    assert len(consolidate([doc("a", wagner("Wagner Group")), doc("b", wagner("Africa Corps"))])) == 2


# --------------------------------------------------------------------------- timeline


def test_timeline_follows_document_order_when_dates_are_missing() -> None:
    (record,) = consolidate([
        doc("d0", pact(["USA", "NER"], "security_partnership", "proposed")),
        doc("d1", pact(["USA", "NER"], "security_partnership", "signed", signed_date="2013-01")),
        doc("d2", pact(["USA", "NER"], "security_partnership", "terminated")),
    ])  # fmt: skip
    assert [(e.status.value, e.date, e.source_id) for e in record.timeline] == [
        ("proposed", None, "d0"), ("signed", "2013-01", "d1"), ("terminated", None, "d2"),
    ]  # fmt: skip
    assert record.status is AgreementStatus.TERMINATED
    assert record.plover_events == ["AGREE", "SUPPORT", "SANCTION"]


def test_timeline_follows_dates_when_all_are_known() -> None:
    (record,) = consolidate([
        doc("late", pact(["USA", "NER"], "security_partnership", "terminated", end_date="2024-03-16")),
        doc("early", pact(["USA", "NER"], "security_partnership", "signed", signed_date="2013-01-28")),
    ])  # fmt: skip
    assert [e.source_id for e in record.timeline] == ["early", "late"]
    assert record.status is AgreementStatus.TERMINATED


def test_timeline_ties_follow_status_progression() -> None:
    (record,) = consolidate(
        [doc("d", pact(["USA", "SAU"], status="signed"), pact(["USA", "SAU"], status="proposed"))]
    )
    assert [e.status.value for e in record.timeline] == ["proposed", "signed"]


# --------------------------------------------------------------------------- determinism


def _shuffled(results: list[ExtractionResult], seed: int) -> list[ExtractionResult]:
    rng = random.Random(seed)
    out = []
    for result in results:
        agreements = list(result.agreements)
        rng.shuffle(agreements)
        out.append(result.model_copy(update={"agreements": agreements}))
    return out


def _grouping(records: list[ConsolidatedAgreement]) -> dict[str, list[tuple[str, str]]]:
    return {
        r.id: sorted((m.source_id, m.model_dump_json(exclude={"agreement_index"})) for m in r.mentions)
        for r in records
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shuffling_agreements_within_documents_keeps_ids_and_clusters(seed: int) -> None:
    base = consolidate(seed_corpus())
    again = consolidate(_shuffled(seed_corpus(), seed))
    assert [r.id for r in again] == [r.id for r in base]
    assert _grouping(again) == _grouping(base)


def test_same_input_same_output_and_unique_ids() -> None:
    first = consolidate(seed_corpus())
    second = consolidate(seed_corpus())
    assert [r.model_dump() for r in first] == [r.model_dump() for r in second]
    assert len({r.id for r in first}) == len(first)
    assert all(r.id.startswith("agr-") and len(r.id) == 16 for r in first)


def test_pairs_input_and_explain_flag() -> None:
    corpus = seed_corpus()
    pairs = consolidate([(d.metadata.source_id or "", d) for d in corpus])
    assert [r.id for r in pairs] == [r.id for r in consolidate(corpus)]
    assert all(r.merge_reasons == [] for r in consolidate(corpus, explain=False))


def test_name_similarity() -> None:
    assert name_similarity("AUKUS", "the AUKUS security pact") == 1.0
    assert name_similarity("Alliance of Sahel States", "Liptako-Gourma Charter") < 0.5
    assert name_similarity(None, "AUKUS") == 0.0


def test_one_sided_mentions_merge_only_on_a_matching_name() -> None:
    records = consolidate(
        [
            doc("a", pact(["USA"], "defense_cooperation", "agreed")),
            doc("b", pact(["USA"], "defense_cooperation", "agreed")),
            doc("c", pact(["USA"], "defense_cooperation", "agreed", name="Compact of Free Association")),
            doc("d", pact(["USA"], "defense_cooperation", "agreed", name="Compact of Free Association")),
        ]
    )
    sizes = sorted(len(r.mentions) for r in records)
    assert sizes == [1, 1, 2]
