"""Cue phrases of news text about security agreements.

One vocabulary, shared by the rule-based floor (:mod:`pactx.baseline`) and by the embedded
model's constrained decoding (:func:`pactx.providers.choice_constraints`), which uses the cues a
document contains to narrow the choices a small model may make: no ``terminated`` status
unless the text speaks of revoking, ending or withdrawing; no ``defense_pact`` unless it speaks
of mutual or collective defense.
"""

from __future__ import annotations

import re

from pactx.schema import AgreementStatus, AgreementType, Obligation

__all__ = [
    "AGREEMENT_NOUN",
    "DEFENSE",
    "STATUS_CUES",
    "TYPE_CUES",
    "statuses_cued",
    "types_cued",
    "mentions_agreement",
    "obligations_cued",
]

AGREEMENT_NOUN = re.compile(
    r"\b(pacts?|treat(y|ies)|alliances?|agreements?|accords?|charter|partnerships?|"
    r"deals?|memorandum|arrangements?|security guarantee|defen[cs]e cooperation|"
    r"security cooperation|joint vision|secretariat)\b",
    re.IGNORECASE,
)
"""A document with none of these words reports no agreement."""

DEFENSE = re.compile(
    r"\b(mutual defen[cs]e|collective defen[cs]e|each other's aid|attack on one|defen[cs]e pact|"
    r"come to (each other's|the) (aid|defen[cs]e)|security guarantee|defend each other)\b",
    re.IGNORECASE,
)

STATUS_CUES: tuple[tuple[AgreementStatus, re.Pattern[str]], ...] = (
    (AgreementStatus.TERMINATED, re.compile(r"\b(revoked?|revoking|terminat\w+|scrapp\w+|abrogat\w+|withdr[ae]w\w*|pull(ed)? out|ended|ending|end of|kicking out|expel\w*)\b", re.I)),
    (AgreementStatus.SUSPENDED, re.compile(r"\b(suspend\w*|froze|frozen|freez\w+)\b", re.I)),
    (AgreementStatus.PROPOSED, re.compile(r"\b(consider\w*|propos\w+|possibility|door is open|plan(s|ning|ned)?|could|would|potentially|expand\w*|join\w*)\b", re.I)),
    (AgreementStatus.AGREED, re.compile(r"\b(set to sign|will sign|to sign|agreed|agree|elevated|upgrad\w+|adopt\w+|establish\w*|announced|finali[sz]e)\b", re.I)),
    (AgreementStatus.SIGNED, re.compile(r"\b(signed|signing|inked|concluded)\b", re.I)),
    (AgreementStatus.IN_FORCE, re.compile(r"\b(in force|ratif\w+|took effect|takes effect|entered into force)\b", re.I)),
    (AgreementStatus.NEGOTIATING, re.compile(r"\b(negotiat\w+|talks|discuss\w*|working on)\b", re.I)),
)

TYPE_CUES: tuple[tuple[AgreementType, re.Pattern[str]], ...] = (
    (AgreementType.DEFENSE_PACT, DEFENSE),
    (AgreementType.NON_AGGRESSION_PACT, re.compile(r"\bnon-?aggression\b", re.I)),
    (AgreementType.NEUTRALITY_PACT, re.compile(r"\bneutral(ity)?\b", re.I)),
    (AgreementType.ENTENTE, re.compile(r"\bconsult\w*\b", re.I)),
    (AgreementType.BASING_ACCESS, re.compile(r"\b(bases?|basing|status of forces|troops|stationed|access)\b", re.I)),
    (AgreementType.MILITARY_AID, re.compile(r"\b(military aid|in aid|aid|arms|weapons|missiles|assistance)\b", re.I)),
)

_ALWAYS_ALLOWED_TYPES = (
    AgreementType.SECURITY_PARTNERSHIP,
    AgreementType.DEFENSE_COOPERATION,
    AgreementType.OTHER,
)


def mentions_agreement(text: str) -> bool:
    """True when the text uses any word for an agreement."""
    return AGREEMENT_NOUN.search(text) is not None


def statuses_cued(text: str) -> list[AgreementStatus]:
    """Statuses the text has a cue for, in schema order; every status when it has none."""
    cued = {status for status, cue in STATUS_CUES if cue.search(text)}
    return [s for s in AgreementStatus if s in cued] or list(AgreementStatus)


def types_cued(text: str) -> list[AgreementType]:
    """Agreement types the text has a cue for, plus the generic ones, in schema order."""
    cued = {kind for kind, cue in TYPE_CUES if cue.search(text)} | set(_ALWAYS_ALLOWED_TYPES)
    return [t for t in AgreementType if t in cued]


_OBLIGATION_CUES: tuple[tuple[Obligation, re.Pattern[str]], ...] = (
    (Obligation.DEFENSE, DEFENSE),
    (Obligation.OFFENSE, re.compile(r"\boffensive (alliance|pact|war)\b", re.I)),
    (Obligation.NEUTRALITY, re.compile(r"\bneutral(ity)?\b", re.I)),
    (Obligation.NON_AGGRESSION, re.compile(r"\bnon-?aggression\b", re.I)),
    (Obligation.CONSULTATION, re.compile(r"\bconsult\w*\b", re.I)),
)


def obligations_cued(text: str) -> list[Obligation]:
    """ATOP obligations the text has a cue for (possibly none)."""
    return [obligation for obligation, cue in _OBLIGATION_CUES if cue.search(text)]
