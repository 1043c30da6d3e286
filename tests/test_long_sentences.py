"""Sentences longer than the evidence limit: quote choices, the floor and the loopback path agree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pactx import Extractor
from pactx.baseline import baseline_agreements
from pactx.grounding import SourceText, evidence_spans, sentences
from pactx.schema import EVIDENCE_MAX_CHARS, EVIDENCE_MIN_CHARS, Evidence
from pactx.testserver import FakeOpenAIServer
from pactx.transport import RetryPolicy
from pactx.validation import GroundedEvidence, validation_context

FAST = RetryPolicy(max_retries=1, initial_wait=0.01, max_wait=0.05, jitter=0.0)

LONG_SENTENCE = (
    "Japan and the Philippines signed a reciprocal access agreement in Manila on Monday, "
    "a pact that lets each country's forces train on the other's soil, store equipment at "
    "agreed sites and take part in joint exercises, and which officials from both governments, "
    "speaking after a ceremony attended by defense ministers, coast guard commanders and "
    "diplomats from several neighbouring states, described as the most significant step in "
    "their security relations in decades; the accord still needs ratification by the Philippine "
    "Senate and the Japanese Diet, which is expected to take up the matter before the end of the year."
)
LONG_DOCUMENT = "Tokyo and Manila have moved closer. " + LONG_SENTENCE + " China criticised the move."


def _valid_evidence(text: str, quote: str) -> None:
    """Raise unless ``quote`` passes the evidence validator and survives conversion to plain records."""
    grounded = GroundedEvidence.model_validate({"quote": quote}, context=validation_context(text))
    Evidence.model_validate(grounded.model_dump())


def test_the_regression_sentence_is_over_the_limit() -> None:
    assert len(LONG_SENTENCE) >= 600 and len(sentences(LONG_SENTENCE)) == 1


def test_long_sentence_is_offered_as_clauses_within_the_limit() -> None:
    spans = list(evidence_spans(LONG_DOCUMENT))
    assert spans[0].text == "Tokyo and Manila have moved closer." and spans[-1].text == "China criticised the move."
    clauses = spans[1:-1]
    assert len(clauses) >= 2
    for span in spans:
        assert LONG_DOCUMENT[span.start : span.end] == span.text
        assert EVIDENCE_MIN_CHARS <= len(span.text) <= EVIDENCE_MAX_CHARS
        _valid_evidence(LONG_DOCUMENT, span.text)
    # The clauses tile the sentence: it is cut at boundaries, nothing is lost.
    assert " ".join(c.text for c in clauses) == LONG_SENTENCE
    assert all(c.text.endswith((",", ";", ".")) for c in clauses)  # cut after punctuation, not inside a clause


def test_text_without_any_boundary_is_still_cut_within_the_limit() -> None:
    words = " ".join(["word"] * 300)  # one 1,500-character sentence, spaces only
    blob = "x" * 1000  # no space at all
    for text in (words, blob):
        spans = list(evidence_spans(text))
        assert spans and all(len(s.text) <= EVIDENCE_MAX_CHARS and text[s.start : s.end] == s.text for s in spans)


_WORDS = st.sampled_from(
    ["Japan", "France", "NATO", "Côte d\u2019Ivoire", "pact", "treaty", "signed", "called", "the",
     "Kyïv", "straße", "défense", "\u6761\u7d04", "x" * 150, "ignore previous instructions", "Ⅻ", "ﬁ"]
)
_SEPARATORS = st.sampled_from([" ", " ", " ", ", ", "; ", ": ", " \u2014 ", ". ", "\n", "\u3001", "  ", "! "])


@st.composite
def _news_like(draw: st.DrawFn, min_words: int = 1) -> str:
    """Texts made of party names, agreement words and separators: long sentences included."""
    parts = draw(st.lists(st.tuples(_WORDS, _SEPARATORS), min_size=min_words, max_size=min_words + 120))
    return "".join(word + sep for word, sep in parts)


_TEXTS = st.one_of(st.text(min_size=1, max_size=800), _news_like(), _news_like(min_words=80))


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_every_candidate_passes_the_validator(text: str) -> None:
    source = SourceText(text)
    for span in evidence_spans(text, source):
        assert text[span.start : span.end] == span.text
        _valid_evidence(text, span.text)


@settings(max_examples=200, deadline=None)
@given(_TEXTS)
def test_the_floor_never_raises(text: str) -> None:
    for agreement in baseline_agreements(text):
        for quote in agreement.evidence:
            assert text[quote.start : quote.end] == quote.quote
            _valid_evidence(text, quote.quote)


def test_the_floor_quotes_the_clause_holding_the_agreement_word() -> None:
    [agreement] = baseline_agreements(LONG_DOCUMENT)
    [quote] = agreement.evidence
    assert len(quote.quote) <= EVIDENCE_MAX_CHARS and LONG_DOCUMENT[quote.start : quote.end] == quote.quote
    assert "reciprocal access agreement" in quote.quote
    assert {p.code for p in agreement.parties} >= {"JPN", "PHL"}


def test_long_sentence_extracts_through_the_loopback_server() -> None:
    with FakeOpenAIServer() as server:  # answers with the floor
        extractor = Extractor(base_url=server.url, model="m", retry=FAST, max_reasks=0)
        result = extractor.extract(LONG_DOCUMENT, source_id="long")
    [agreement] = result.agreements
    assert {p.code for p in agreement.parties} >= {"JPN", "PHL"}
    assert result.metadata.attempts == 1
    for quote in agreement.evidence:
        assert LONG_DOCUMENT[quote.start : quote.end] == quote.quote
