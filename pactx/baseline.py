"""The floor: a rule-based extractor with no language model.

A country and organization gazetteer (:func:`pactx.parties.find_mentions`) plus cue-phrase
rules. It is scored beside every model in the eval reports, so a reader sees what the LLM
adds, and it answers requests in the loopback test server. Deterministic and fast.
"""

from __future__ import annotations

import re

from pactx.parties import find_mentions
from pactx.schema import (
    AgreementStatus,
    AgreementType,
    Evidence,
    Obligation,
    Party,
    SecurityAgreement,
)

__all__ = ["baseline_agreements", "BASELINE_MODEL"]

BASELINE_MODEL = "floor-rules-v1"

_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")
_AGREEMENT_NOUN = re.compile(
    r"\b(pact|treaty|alliance|agreement|accord|charter|security partnership|"
    r"strategic partnership|defen[cs]e cooperation|security cooperation|security guarantee)\b",
    re.IGNORECASE,
)
_STATUS_CUES: tuple[tuple[AgreementStatus, re.Pattern[str]], ...] = (
    (AgreementStatus.TERMINATED, re.compile(r"\b(revoked?|revoking|terminat\w+|scrapp\w+|abrogat\w+|withdr[ae]w\w*|pull(ed)? out|ended|ending)\b", re.I)),
    (AgreementStatus.SUSPENDED, re.compile(r"\b(suspend\w*|froze|frozen|freez\w+)\b", re.I)),
    (AgreementStatus.PROPOSED, re.compile(r"\b(consider\w*|propos\w+|possibility|door is open|plan(s|ning|ned)?|could|would)\b", re.I)),
    (AgreementStatus.AGREED, re.compile(r"\b(set to sign|will sign|to sign|agreed|elevated|upgrad\w+|adopt\w+)\b", re.I)),
    (AgreementStatus.SIGNED, re.compile(r"\b(signed|signing|inked|concluded)\b", re.I)),
    (AgreementStatus.IN_FORCE, re.compile(r"\b(in force|ratified|took effect)\b", re.I)),
    (AgreementStatus.NEGOTIATING, re.compile(r"\b(negotiat\w+|talks)\b", re.I)),
)
_DEFENSE = re.compile(
    r"\b(mutual defen[cs]e|collective defen[cs]e|each other's aid|attack on one|defen[cs]e pact)\b",
    re.IGNORECASE,
)
_TYPE_CUES: tuple[tuple[AgreementType, re.Pattern[str]], ...] = (
    (AgreementType.DEFENSE_PACT, _DEFENSE),
    (AgreementType.NON_AGGRESSION_PACT, re.compile(r"\bnon-?aggression\b", re.I)),
    (AgreementType.BASING_ACCESS, re.compile(r"\b(bases?|basing|status of forces|troops)\b", re.I)),
    (AgreementType.MILITARY_AID, re.compile(r"\b(military aid|in aid|arms)\b", re.I)),
)
_NAME = re.compile(
    r"\b(?:called|named|dubbed)\s+(?:the\s+)?([A-Z][\w'-]*(?:\s+(?:(?:of|and|for|the)\s+)?[A-Z][\w'-]*){0,5})"
)


def _sentences(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(0)) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def _status(sentence: str) -> AgreementStatus:
    for status, cue in _STATUS_CUES:
        if cue.search(sentence):
            return status
    return AgreementStatus.AGREED


def _type(sentence: str) -> AgreementType:
    for kind, cue in _TYPE_CUES:
        if cue.search(sentence):
            return kind
    return AgreementType.SECURITY_PARTNERSHIP


def baseline_agreements(text: str) -> list[SecurityAgreement]:
    """Agreements found by rules: the first sentence with an agreement cue and two parties."""
    for offset, sentence in _sentences(text):
        if not _AGREEMENT_NOUN.search(sentence):
            continue
        mentions = find_mentions(sentence)
        parties: dict[str, Party] = {}
        for mention in mentions:
            parties.setdefault(
                mention.code, Party(name=mention.surface, code=mention.code, kind=mention.kind)
            )
        if len(parties) < 2:
            continue
        quote = sentence.strip()
        start = offset + sentence.index(quote)
        name_match = _NAME.search(sentence)
        return [
            SecurityAgreement(
                evidence=[Evidence(quote=quote, start=start, end=start + len(quote))],
                name=name_match.group(1).strip() if name_match else None,
                parties=list(parties.values()),
                agreement_type=_type(sentence),
                status=_status(sentence),
                obligations=[Obligation.DEFENSE] if _DEFENSE.search(sentence) else [],
            )
        ]
    return []
