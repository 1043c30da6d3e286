"""The consolidated records: what :func:`pactx.consolidation.consolidate` returns.

A :class:`ConsolidatedAgreement` is one real agreement built from every
:class:`AgreementMention` that reports it, with its status timeline and membership changes.
:mod:`pactx.exports` turns these records into tables; the clustering that builds them lives in
:mod:`pactx.consolidation`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, computed_field

from pactx.schema import (
    COW_TYPES,
    AgreementStatus,
    AgreementType,
    CooperationArea,
    Evidence,
    Obligation,
    Party,
    PartyKind,
    PartyRole,
    TerminationReason,
)

__all__ = [
    "BOUND_ROLES",
    "AgreementMention",
    "AtopFlags",
    "ConsolidatedAgreement",
    "ConsolidatedParty",
    "MembershipChange",
    "MembershipChangeKind",
    "StatusEvent",
]

BOUND_ROLES: frozenset[PartyRole] = frozenset(
    {PartyRole.MEMBER, PartyRole.GUARANTOR, PartyRole.FORMER_MEMBER}
)
"""Roles of parties that are or were bound by the agreement (counted in exports and dyads)."""


class MembershipChangeKind(StrEnum):
    """How a party's membership changed between reports."""

    ACCESSION = "accession"
    WITHDRAWAL = "withdrawal"
    PROSPECTIVE = "prospective"


class AgreementMention(BaseModel):
    """One extracted agreement as reported in one document."""

    source_id: str
    document_index: int = Field(description="Position of the document in the input (0-based).")
    agreement_index: int = Field(description="Position of the agreement in its result (0-based).")
    name: str | None = None
    agreement_type: AgreementType
    status: AgreementStatus
    plover_event: str
    parties: list[Party]
    obligations: list[Obligation] = Field(default_factory=list)
    cooperation_areas: list[CooperationArea] = Field(default_factory=list)
    signed_date: str | None = None
    effective_date: str | None = None
    end_date: str | None = None
    termination_reason: TerminationReason | None = None
    evidence: list[Evidence] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        """``"source_id#agreement_index"``, the item name used by cluster scores."""
        return f"{self.source_id}#{self.agreement_index}"


class StatusEvent(BaseModel):
    """A status reported about the agreement by one mention."""

    status: AgreementStatus
    date: str | None = Field(
        default=None,
        description="signed_date for signed, effective_date for in_force, end_date for terminated.",
    )
    plover_event: str
    source_id: str
    document_index: int
    agreement_index: int


class MembershipChange(BaseModel):
    """A party joining, leaving or invited to join, as one mention reports it."""

    kind: MembershipChangeKind
    party: str = Field(description="Party code, or the name as written when it has no code.")
    name: str
    source_id: str
    document_index: int
    agreement_index: int
    date: str | None = Field(
        default=None, description="end_date for a withdrawal; effective or signed date for an accession."
    )


class ConsolidatedParty(BaseModel):
    """A party to the consolidated agreement, with its latest reported role."""

    code: str | None = None
    name: str
    role: PartyRole = PartyRole.MEMBER
    kind: PartyKind = PartyKind.OTHER

    @property
    def label(self) -> str:
        """The code, or the name when there is no code."""
        return self.code or self.name


class AtopFlags(BaseModel):
    """The five ATOP obligation variables (true when any mention reports the obligation)."""

    defense: bool = False
    offense: bool = False
    neutral: bool = False
    nonagg: bool = False
    consul: bool = False


class ConsolidatedAgreement(BaseModel):
    """One real agreement, built from every mention that reports it."""

    id: str = Field(description="Stable id: hash of the cluster's canonical key.")
    name: str | None = Field(default=None, description="Most frequent name reported.")
    agreement_type: AgreementType = Field(description="Most frequent agreement type reported.")
    status: AgreementStatus = Field(description="Status of the last timeline event.")
    parties: list[ConsolidatedParty]
    timeline: list[StatusEvent]
    mentions: list[AgreementMention]
    merge_reasons: list[str] = Field(default_factory=list)
    membership_changes: list[MembershipChange] = Field(default_factory=list)
    obligations: list[Obligation] = Field(default_factory=list)
    cooperation_areas: list[CooperationArea] = Field(default_factory=list)
    atop: AtopFlags = Field(default_factory=AtopFlags)
    plover_events: list[str] = Field(default_factory=list)
    signed_date: str | None = None
    effective_date: str | None = None
    end_date: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cow_type(self) -> str | None:
        """Correlates of War alliance type, when the agreement type is one COW codes."""
        return COW_TYPES.get(self.agreement_type)

    def bound_parties(self) -> list[ConsolidatedParty]:
        """Parties that are or were bound (members, guarantors, former members)."""
        return [p for p in self.parties if p.role in BOUND_ROLES]

    def source_ids(self) -> list[str]:
        """Source ids of the mentions, in document order, without repeats."""
        return list(dict.fromkeys(m.source_id for m in self.mentions))
