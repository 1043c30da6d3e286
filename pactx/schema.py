"""Pydantic schema for security agreements reported in news text.

The vocabulary follows the field's own standards:

* **ATOP** (Alliance Treaty Obligations and Provisions, Leeds et al. 2002): the five
  obligation types (``defense``, ``offense``, ``neutral``, ``nonagg``, ``consul``) and the
  provision variables (``milaid``, ``base``, ``intcom``, ``milcon``, ``contrib``, ``organ1``,
  ``ecaid``, ``nomicoop``, ``thirdcom``).
* **Correlates of War formal alliances v4.1**: Type I defense pact, Type IIa neutrality,
  Type IIb non-aggression, Type III entente (see :attr:`SecurityAgreement.cow_type`).
* **PLOVER/CAMEO**: the event verb each record maps onto (``AGREE``, ``SUPPORT``,
  ``SANCTION``; see :attr:`SecurityAgreement.plover_event`).
* **ISO 3166-1 alpha-3** codes for states, stable upper-case codes for organizations
  (``NATO``, ``EU``, ``ASEAN``, ...).

Docstrings and ``Field(description=...)`` texts are what the language model reads, so they
are written for it. Fields marked with ``SkipJsonSchema`` are filled by pactx, never by the
model. This module imports nothing else from pactx.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.json_schema import SkipJsonSchema

__all__ = [
    "AgreementStatus",
    "AgreementType",
    "Amount",
    "Confidence",
    "STATUS_RANK",
    "CooperationArea",
    "Evidence",
    "ExtractionResult",
    "Obligation",
    "Party",
    "PartyKind",
    "PartyRole",
    "Provision",
    "ProvisionType",
    "RunMetadata",
    "SecurityAgreement",
    "TerminationReason",
    "TokenUsage",
    "AgreementList",
    "PARTIAL_DATE_PATTERN",
    "EVIDENCE_MIN_CHARS",
    "EVIDENCE_MAX_CHARS",
    "AGREEMENT_NAME_MAX_CHARS",
]

PARTIAL_DATE_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"
"""ISO 8601 calendar date at year, year-month or full-date precision."""

EVIDENCE_MIN_CHARS = 3
EVIDENCE_MAX_CHARS = 400
"""Length limits of an evidence quote, in characters (the grammar's quote choices obey them too)."""

AGREEMENT_NAME_MAX_CHARS = 120
"""Length limit of an agreement's name, in characters."""

PartialDate = Annotated[
    str,
    Field(
        pattern=PARTIAL_DATE_PATTERN,
        description="ISO 8601 date, as precise as the text allows: YYYY, YYYY-MM or YYYY-MM-DD.",
    ),
]


class AgreementStatus(StrEnum):
    """Stage of the agreement as reported in the text."""

    PROPOSED = "proposed"
    NEGOTIATING = "negotiating"
    AGREED = "agreed"
    SIGNED = "signed"
    IN_FORCE = "in_force"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


STATUS_RANK: dict[AgreementStatus, int] = {status: rank for rank, status in enumerate(AgreementStatus)}
"""How advanced a status is (schema order, proposed first): the one ordering pactx merges by."""


class AgreementType(StrEnum):
    """Kind of agreement.

    The first four are the Correlates of War formal-alliance types; the others cover security
    agreements that ATOP and COW leave out (no wartime pledge).
    """

    DEFENSE_PACT = "defense_pact"
    NEUTRALITY_PACT = "neutrality_pact"
    NON_AGGRESSION_PACT = "non_aggression_pact"
    ENTENTE = "entente"
    SECURITY_PARTNERSHIP = "security_partnership"
    DEFENSE_COOPERATION = "defense_cooperation"
    BASING_ACCESS = "basing_access"
    MILITARY_AID = "military_aid"
    OTHER = "other"


COW_TYPES: dict[AgreementType, str] = {
    AgreementType.DEFENSE_PACT: "Type I: Defense Pact",
    AgreementType.NEUTRALITY_PACT: "Type IIa: Neutrality",
    AgreementType.NON_AGGRESSION_PACT: "Type IIb: Nonaggression",
    AgreementType.ENTENTE: "Type III: Entente",
}
"""Correlates of War ``ss_type`` for the agreement types that COW codes."""


class Obligation(StrEnum):
    """ATOP obligation types (several may hold at once)."""

    DEFENSE = "defense"
    OFFENSE = "offense"
    NEUTRALITY = "neutrality"
    NON_AGGRESSION = "non_aggression"
    CONSULTATION = "consultation"


ATOP_OBLIGATION_VARIABLES: dict[Obligation, str] = {
    Obligation.DEFENSE: "defense",
    Obligation.OFFENSE: "offense",
    Obligation.NEUTRALITY: "neutral",
    Obligation.NON_AGGRESSION: "nonagg",
    Obligation.CONSULTATION: "consul",
}
"""ATOP column name of each obligation."""


class CooperationArea(StrEnum):
    """Area of security cooperation the agreement covers."""

    MARITIME_SECURITY = "maritime_security"
    CYBER = "cyber"
    COUNTER_TERRORISM = "counter_terrorism"
    INTELLIGENCE_SHARING = "intelligence_sharing"
    ARMS_TRANSFERS = "arms_transfers"
    BASING = "basing"
    JOINT_EXERCISES = "joint_exercises"
    DEFENSE_INDUSTRY = "defense_industry"
    MISSILE_DEFENSE = "missile_defense"
    NUCLEAR = "nuclear"
    SPACE = "space"
    TRAINING = "training"
    BORDER_SECURITY = "border_security"
    PEACEKEEPING = "peacekeeping"
    MILITARY_AID = "military_aid"
    OTHER = "other"


class ProvisionType(StrEnum):
    """Provision of the agreement, named after the ATOP provision variables."""

    MILITARY_AID = "military_aid"  # ATOP milaid
    BASING = "basing"  # ATOP base
    INTEGRATED_COMMAND = "integrated_command"  # ATOP intcom
    MILITARY_CONTACT = "military_contact"  # ATOP milcon
    FORCE_CONTRIBUTION = "force_contribution"  # ATOP contrib
    ORGANIZATION = "organization"  # ATOP organ1
    ECONOMIC_AID = "economic_aid"  # ATOP ecaid
    NON_MILITARY_COOPERATION = "non_military_cooperation"  # ATOP nomicoop
    THIRD_PARTY_RESTRICTION = "third_party_restriction"  # ATOP thirdcom
    OTHER = "other"


ATOP_PROVISION_VARIABLES: dict[ProvisionType, str] = {
    ProvisionType.MILITARY_AID: "milaid",
    ProvisionType.BASING: "base",
    ProvisionType.INTEGRATED_COMMAND: "intcom",
    ProvisionType.MILITARY_CONTACT: "milcon",
    ProvisionType.FORCE_CONTRIBUTION: "contrib",
    ProvisionType.ORGANIZATION: "organ1",
    ProvisionType.ECONOMIC_AID: "ecaid",
    ProvisionType.NON_MILITARY_COOPERATION: "nomicoop",
    ProvisionType.THIRD_PARTY_RESTRICTION: "thirdcom",
}
"""ATOP column name of each provision type."""


class PartyKind(StrEnum):
    """What sort of actor a party is."""

    STATE = "state"
    ORGANIZATION = "organization"
    OTHER = "other"


class PartyRole(StrEnum):
    """A party's role in the agreement."""

    MEMBER = "member"
    PROSPECTIVE_MEMBER = "prospective_member"
    GUARANTOR = "guarantor"
    OBSERVER = "observer"
    FORMER_MEMBER = "former_member"


class TerminationReason(StrEnum):
    """Why an agreement ended (Leeds and Savun 2007), when the text says."""

    EXPIRED_OR_FULFILLED = "expired_or_fulfilled"
    ABROGATED = "abrogated"
    DENOUNCED_PER_TERMS = "denounced_per_terms"
    RENEGOTIATED = "renegotiated"
    STATE_DEATH = "state_death"
    OTHER = "other"


class Evidence(BaseModel):
    """A verbatim quote from the source text that supports the record."""

    quote: str = Field(
        min_length=EVIDENCE_MIN_CHARS,
        max_length=EVIDENCE_MAX_CHARS,
        description="Copy a short passage from the text exactly, word for word.",
    )
    start: SkipJsonSchema[int | None] = Field(
        default=None, description="Character offset of the quote in the source (set by pactx)."
    )
    end: SkipJsonSchema[int | None] = Field(
        default=None, description="End offset, exclusive (set by pactx)."
    )


class Confidence(BaseModel):
    """How sure the model was of a record, each in [0, 1] (set by pactx, never by the model).

    The ``staged`` strategy reads these from the model's answer probabilities: ``agreement``
    is the probability that the passage reports an agreement at all, ``status`` and
    ``agreement_type`` the probability of the chosen value among the values offered. ``None``
    where the strategy has no probability to give.
    """

    agreement: float = Field(ge=0.0, le=1.0)
    status: float | None = Field(default=None, ge=0.0, le=1.0)
    agreement_type: float | None = Field(default=None, ge=0.0, le=1.0)


class Party(BaseModel):
    """A state or organization that is party to the agreement."""

    name: str = Field(
        min_length=2,
        max_length=80,
        description="The party's name exactly as written in the text, e.g. 'Japan' or 'NATO'.",
    )
    role: PartyRole = Field(
        default=PartyRole.MEMBER,
        description="member; prospective_member for a state invited or applying to join.",
    )
    code: SkipJsonSchema[str | None] = Field(
        default=None,
        description="ISO 3166-1 alpha-3 for states, upper-case code for organizations (set by pactx).",
    )
    kind: SkipJsonSchema[PartyKind] = Field(
        default=PartyKind.OTHER, description="state, organization or other (set by pactx)."
    )
    confidence: SkipJsonSchema[float | None] = Field(
        default=None, ge=0.0, le=1.0, description="Probability that this is a party (set by pactx)."
    )


class Amount(BaseModel):
    """A quantity stated in the text."""

    value: float = Field(description="The number, e.g. 3000000000 for '3 billion'.")
    unit: str = Field(
        min_length=1,
        max_length=24,
        description="ISO 4217 currency code (USD, EUR) for money; else troops, people_per_year, etc.",
    )


class Provision(BaseModel):
    """A specific provision of the agreement (ATOP provision types)."""

    type: ProvisionType
    description: str = Field(max_length=200, description="What the provision says, briefly.")
    amount: Amount | None = Field(default=None, description="Only when the text states a number.")


class SecurityAgreement(BaseModel):
    """One international security agreement reported in the text.

    Record an agreement only when the text reports one between named parties: a pact,
    alliance, treaty or security partnership that is proposed, negotiated, agreed, signed, in
    force, suspended or ended. Talks, visits, warnings and general ties are not agreements.
    """

    model_config = ConfigDict(use_enum_values=False)

    evidence: list[Evidence] = Field(
        min_length=1,
        max_length=4,
        description="One to four verbatim quotes from the text that report the agreement.",
    )
    name: str | None = Field(
        default=None,
        max_length=AGREEMENT_NAME_MAX_CHARS,
        description="The agreement's name only if the text names it, e.g. 'AUKUS'.",
    )
    parties: list[Party] = Field(
        min_length=1,
        max_length=30,
        description="Every state or organization that is party to the agreement.",
    )
    agreement_type: AgreementType = Field(
        description=(
            "defense_pact: mutual defense if attacked; security_partnership: cooperation without "
            "a defense pledge; defense_cooperation: training, industry, exercises; "
            "basing_access: bases, troops or status of forces; military_aid: aid or arms."
        )
    )
    status: AgreementStatus = Field(
        description=(
            "proposed: considered or offered; negotiating: in talks; agreed: leaders agreed or set "
            "to sign; signed; in_force; suspended; terminated: revoked, ended or withdrawn."
        )
    )
    obligations: list[Obligation] = Field(
        default_factory=list,
        max_length=5,
        description="ATOP obligations the text states, e.g. defense for 'an attack on one is an attack on all'.",
    )
    cooperation_areas: list[CooperationArea] = Field(
        default_factory=list, max_length=12, description="Areas of cooperation the text names."
    )
    provisions: list[Provision] = Field(
        default_factory=list, max_length=8, description="Specific provisions, with amounts if stated."
    )
    signed_date: PartialDate | None = None
    effective_date: PartialDate | None = None
    end_date: PartialDate | None = None
    termination_reason: TerminationReason | None = Field(
        default=None, description="Only for a terminated or suspended agreement."
    )
    confidence: SkipJsonSchema[Confidence | None] = Field(
        default=None, description="The model's confidence in this record (set by pactx)."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cow_type(self) -> str | None:
        """Correlates of War alliance type, when the agreement is one COW codes."""
        return COW_TYPES.get(self.agreement_type)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def plover_event(self) -> str:
        """PLOVER event this report maps onto (AGREE, SUPPORT or SANCTION)."""
        if self.status in (AgreementStatus.SUSPENDED, AgreementStatus.TERMINATED):
            return "SANCTION"
        if self.status in (AgreementStatus.SIGNED, AgreementStatus.IN_FORCE):
            return "SUPPORT"
        return "AGREE"

    def atop_flags(self) -> dict[str, bool]:
        """The five ATOP obligation variables as booleans."""
        held = set(self.obligations)
        return {var: ob in held for ob, var in ATOP_OBLIGATION_VARIABLES.items()}

    def party_codes(self) -> set[str]:
        """Codes of the parties that have one."""
        return {p.code for p in self.parties if p.code}


class AgreementList(BaseModel):
    """All security agreements reported in the text; an empty list when there are none."""

    agreements: list[SecurityAgreement] = Field(
        default_factory=list,
        max_length=8,
        description="One entry per distinct agreement. Empty if the text reports no agreement.",
    )


class TokenUsage(BaseModel):
    """Tokens used, summed over every model call of one extraction (re-asks included)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = Field(
        default=0, description="Prompt tokens served from the model's prompt cache (not re-read)."
    )

    def add(self, other: TokenUsage) -> TokenUsage:
        """Return the sum of two usages."""
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


class RunMetadata(BaseModel):
    """How a result was produced. Filled by pactx, never by the model."""

    source_id: str | None = None
    model: str
    provider: str
    prompt_version: str
    prompt_hash: str
    schema_hash: str
    constraints_hash: str | None = Field(
        default=None,
        description="Fingerprint of the embedded model's decoding constraints (cues, grammar code).",
    )
    pactx_version: str
    usage: TokenUsage = Field(default_factory=TokenUsage)
    latency_s: float = 0.0
    attempts: int = Field(default=1, description="Model calls made, re-asks included.")
    transport_retries: int = Field(default=0, description="HTTP retries (429, 5xx, timeouts).")
    chunks: int = 1
    cached: bool = False
    strategy: str = Field(
        default="direct",
        description="direct: the model fills the schema; staged: it chooses among pactx's candidates.",
    )
    warnings: list[str] = Field(default_factory=list)


class ExtractionResult(BaseModel):
    """The agreements found in one document, with how they were found."""

    agreements: list[SecurityAgreement] = Field(default_factory=list)
    metadata: RunMetadata
