"""Long documents: sentence-boundary chunks, merged agreements, offsets into the original text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeLlamaBackend

from pactx import AgreementStatus, Evidence, ExtractionValidationError, Extractor, Party, SecurityAgreement
from pactx.chunking import Chunk, merge_agreements, shift_evidence, split_text
from pactx.grounding import sentences
from pactx.testserver import FakeOpenAIServer, floor_responder
from pactx.transport import RetryPolicy

FAST = RetryPolicy(max_retries=2, initial_wait=0.01, max_wait=0.02, jitter=0.0)


@pytest.fixture
def article(seed_lines: list[str]) -> str:
    """A long article: every seed line, twice, as paragraphs."""
    return "\n\n".join(seed_lines + seed_lines)


def _covered(text: str, chunks: list[Chunk]) -> bool:
    inside = set()
    for chunk in chunks:
        inside.update(range(chunk.start, chunk.end))
    return all(i in inside for i, ch in enumerate(text) if not ch.isspace())


def test_chunks_are_whole_sentences_within_budget_and_overlap(article: str) -> None:
    chunks = split_text(article, 1500, overlap=400)
    starts = {s.start for s in sentences(article)}
    assert len(chunks) > 10
    for chunk in chunks:
        assert chunk.text == article[chunk.start : chunk.end] and len(chunk.text) <= 1500
        assert chunk.start in starts  # chunks begin on a sentence
    assert _covered(article, chunks)
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))  # overlap happens
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:], strict=False))  # and always progresses


def test_text_within_budget_is_one_chunk_and_budget_must_be_positive() -> None:
    assert split_text("Mali signed.", 100) == [Chunk(0, 12, "Mali signed.")]
    with pytest.raises(ValueError):
        split_text("x", 0)


def test_a_sentence_longer_than_the_budget_is_cut_at_white_space() -> None:
    text = " ".join(f"word{i}" for i in range(400))  # no sentence ends at all
    chunks = split_text(text, 120)
    assert all(len(c.text) <= 120 and c.text == text[c.start : c.end] for c in chunks)
    assert [w for c in chunks for w in c.text.split()] == text.split()  # no word is cut


def test_token_budget_uses_the_given_measure(article: str) -> None:
    words = lambda s: len(s.split())  # noqa: E731
    chunks = split_text(article, 200, overlap=20, measure=words)
    assert all(words(c.text) <= 200 for c in chunks) and _covered(article, chunks)


def _agreement(
    parties: list[tuple[str, str]], status: str, quotes: list[tuple[str, int]], **extra: Any
) -> SecurityAgreement:
    return SecurityAgreement(
        evidence=[Evidence(quote=q, start=s, end=s + len(q)) for q, s in quotes],
        parties=[Party(name=n, code=c) for n, c in parties],
        agreement_type=extra.pop("agreement_type", "defense_pact"),
        status=status,
        **extra,
    )


def test_merge_rule_same_parties_and_type_become_one() -> None:
    sahel = [("Mali", "MLI"), ("Niger", "NER"), ("Burkina Faso", "BFA")]
    first = _agreement(sahel, "negotiating", [("talks on a pact", 10)], signed_date=None)
    second = _agreement(list(reversed(sahel)), "signed", [("signed the pact", 500), ("talks on a pact", 10)],
                        name="Liptako-Gourma Charter", signed_date="2023-09-16", obligations=["defense"])
    third = _agreement(sahel, "proposed", [("quote d", 900), ("quote e", 950)])
    other_type = _agreement(sahel, "signed", [("basing deal", 700)], agreement_type="basing_access")
    other_parties = _agreement([("Mali", "MLI"), ("Russia", "RUS")], "agreed", [("Mali and Russia", 800)])
    merged = merge_agreements([first, second, other_type, third, other_parties])
    assert len(merged) == 3
    pact = merged[0]
    assert pact.status == AgreementStatus.SIGNED  # the most advanced status wins
    assert pact.name == "Liptako-Gourma Charter" and pact.signed_date == "2023-09-16"
    assert [e.start for e in pact.evidence] == [10, 500, 900, 950]  # union in text order, deduplicated
    assert pact.obligations == ["defense"] and pact.party_codes() == {"MLI", "NER", "BFA"}


def test_merged_evidence_keeps_the_schema_limit_and_ended_status_keeps_its_reason() -> None:
    parties = [("Mali", "MLI"), ("France", "FRA")]
    parts = [_agreement(parties, "in_force", [(f"quote {i}", i * 10)]) for i in range(6)]
    parts.append(_agreement(parties, "terminated", [("ended it", 90)], termination_reason="abrogated"))
    [merged] = merge_agreements(parts)
    assert len(merged.evidence) == 4 and merged.status == AgreementStatus.TERMINATED
    assert merged.termination_reason is not None and merged.termination_reason.value == "abrogated"


def test_shifted_evidence_points_into_the_original_text() -> None:
    text = "Intro sentence here. Mali and Niger signed a pact. Other news."
    chunk = Chunk(21, 50, text[21:50])
    local = _agreement([("Mali", "MLI")], "signed", [("Mali and Niger signed a pact", 0)])
    moved = _agreement([("Mali", "MLI")], "signed", [("Other news", 3)])  # wrong offset: found again
    lost = _agreement([("Mali", "MLI")], "signed", [("never said", 0)])
    warnings: list[str] = []
    shifted = shift_evidence(text, chunk, [local, moved, lost], warnings)
    assert len(shifted) == 2 and len(warnings) == 1 and "never said" in warnings[0]
    for agreement in shifted:
        for quote in agreement.evidence:
            assert text[quote.start : quote.end] == quote.quote


def test_long_article_end_to_end_against_the_loopback_server(article: str) -> None:
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", retry=FAST, max_chunk_chars=1500)
        chunks = extractor.split(article)
        result = extractor.extract(article, source_id="long")
        documents = [r["messages"][-1]["content"] for r in server.requests]
    meta = result.metadata
    assert meta.chunks == len(chunks) > 10 and server.completions == len(chunks)
    assert meta.attempts == len(chunks) and meta.usage.total_tokens == 180 * len(chunks)
    assert meta.source_id == "long" and not meta.cached
    assert all(len(d) < 1500 + 200 for d in documents)  # every request carried one chunk, not the article
    assert result.agreements
    keys = [(frozenset(p.code or p.name for p in a.parties), a.agreement_type) for a in result.agreements]
    assert len(keys) == len(set(keys))  # merged: no agreement twice
    for agreement in result.agreements:
        for quote in agreement.evidence:
            assert article[quote.start : quote.end] == quote.quote
    single = Extractor(base_url=server.url, model="m").split(article[:1000])
    assert len(single) == 1


async def test_async_chunked_extraction_matches_sync(article: str) -> None:
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", retry=FAST, max_chunk_chars=2000)
        sync = extractor.extract(article)
        result = await extractor.aextract(article)
    assert result.agreements == sync.agreements and result.metadata.chunks == sync.metadata.chunks > 1


def test_embedded_budget_is_counted_in_tokens(article: str, tmp_path: Path) -> None:
    prompt = tmp_path / "short.toml"  # 9 + 2 words (the fake backend's tokens are words)
    prompt.write_text(
        'version = "t"\nsystem = "Extract the security agreements reported in this news text.\\n"\n'
        'user = "<document>\\n{text}\\n</document>"\n',
        encoding="utf-8",
    )
    backend = FakeLlamaBackend(n_ctx=1024, max_tokens=128)
    extractor = Extractor(backend=backend, prompt=prompt)
    budget, measure = extractor._budget()
    assert measure == backend.count_tokens
    assert budget == 693  # 1024 context - 11 prompt - 2 * 128 (answer and one re-ask) - 64 template margin
    small = Extractor(backend=FakeLlamaBackend(n_ctx=512, max_tokens=128), prompt=prompt)
    assert small._budget()[0] == 256  # 512 - 11 - 256 - 64 = 181 is below the floor
    result = extractor.extract(article)
    assert result.metadata.chunks == backend.calls > 1
    for messages in backend.requests:
        document = messages[-1]["content"].split("<document>\n", 1)[1].rsplit("\n</document>", 1)[0]
        assert len(document.split()) <= budget
        sent = sum(backend.count_tokens(m["content"]) for m in messages)
        assert sent + 2 * 128 <= 1024  # every request fits the context with room for the answer and a re-ask


def test_a_failing_chunk_fails_the_document_with_the_whole_cost(article: str) -> None:
    calls = {"n": 0}

    def second_chunk_is_ungrounded(request: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] >= 2:
            return {"agreements": [{"evidence": [{"quote": "no such quote anywhere"}], "parties": [{"name": "Chad"}],
                                    "agreement_type": "defense_pact", "status": "signed"}]}
        return floor_responder(request)

    with FakeOpenAIServer(second_chunk_is_ungrounded) as server:
        extractor = Extractor(base_url=server.url, model="m", retry=FAST, max_chunk_chars=1500, max_reasks=0)
        with pytest.raises(ExtractionValidationError) as info:
            extractor.extract(article, source_id="long")
    assert info.value.attempts == 2 and info.value.usage.total_tokens == 2 * 180
