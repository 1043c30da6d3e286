"""The floor: a rule-based extractor with no language model.

A country and organization gazetteer (:func:`pactx.parties.find_mentions`) plus cue-phrase
rules. It is scored beside every model in the eval reports, so a reader sees what the LLM
adds, and it answers requests in the loopback test server. Deterministic and fast.
"""

from __future__ import annotations

import re

from pactx.grounding import INSTRUCTION, SourceText, Span, evidence_spans
from pactx.cues import AGREEMENT_NOUN, DEFENSE, STATUS_CUES, specific_type_cued
from pactx.parties import find_mentions
from pactx.schema import (
    AGREEMENT_NAME_MAX_CHARS,
    AgreementStatus,
    AgreementType,
    Evidence,
    Obligation,
    Party,
    SecurityAgreement,
)

__all__ = ["baseline_agreements", "BASELINE_MODEL"]

BASELINE_MODEL = "floor-rules-v2"

_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")
_NAME = re.compile(
    r"\b(?:called|named|dubbed)\s+(?:the\s+)?([A-Z][\w'-]*(?:\s+(?:(?:of|and|for|the)\s+)?[A-Z][\w'-]*){0,5})"
)


def _sentences(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(0)) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def _status(sentence: str) -> AgreementStatus:
    for status, cue in STATUS_CUES:
        if cue.search(sentence):
            return status
    return AgreementStatus.AGREED


def _type(sentence: str) -> AgreementType:
    return specific_type_cued(sentence) or AgreementType.SECURITY_PARTNERSHIP


def _quote(source: SourceText, start: int, end: int, cue: int) -> Span | None:
    """The evidence passage for the sentence ``text[start:end]``: the one holding its cue word.

    Passages come from :func:`pactx.grounding.evidence_spans`, so the quote is valid whatever
    the sentence's length; a sentence with no valid passage (an injected one) gives none.
    """
    overlapping = list(evidence_spans(source.text, source, within=(start, end)))
    holding = [c for c in overlapping if c.start <= cue < c.end]
    return (holding or overlapping or [None])[0]


def _name(sentence: str) -> str | None:
    match = _NAME.search(sentence)
    name = match.group(1).strip() if match else None
    return name if name and len(name) <= AGREEMENT_NAME_MAX_CHARS else None


def baseline_agreements(text: str) -> list[SecurityAgreement]:
    """Agreements found by rules: the first sentence with an agreement cue and two parties.

    Never raises: every field it fills is within the schema's limits for any text.
    """
    source = SourceText(text)
    for offset, sentence in _sentences(text):
        cue = AGREEMENT_NOUN.search(sentence)
        if cue is None or INSTRUCTION.search(sentence):
            continue  # no agreement word, or words addressed to a model (prompt injection)
        mentions = find_mentions(sentence)
        parties: dict[str, Party] = {}
        for mention in mentions:
            parties.setdefault(
                mention.code, Party(name=mention.surface, code=mention.code, kind=mention.kind)
            )
        if len(parties) < 2:
            continue
        quote = _quote(source, offset, offset + len(sentence), offset + cue.start())
        if quote is None:
            continue
        return [
            SecurityAgreement(
                evidence=[Evidence(quote=quote.text, start=quote.start, end=quote.end)],
                name=_name(sentence),
                parties=list(parties.values()),
                agreement_type=_type(sentence),
                status=_status(sentence),
                obligations=[Obligation.DEFENSE] if DEFENSE.search(sentence) else [],
            )
        ]
    return []
