"""From mentions to agreements: cluster extracted records that report the same real agreement.

Every :class:`~pactx.schema.SecurityAgreement` in an :class:`~pactx.schema.ExtractionResult`
is one *mention*. :func:`consolidate` groups mentions into
:class:`~pactx.records.ConsolidatedAgreement` records (the models live in :mod:`pactx.records`),
keeps every mention, builds the status timeline and explains each merge.

The merge rule
--------------
Parties are compared by *identity key* (:func:`pactx.parties.party_key`): the party's code,
or its case-folded name when it has none. Members and guarantors form a mention's *core* set;
prospective members, former members and observers are *peripheral* (they never decide
identity, but they are recorded as :class:`~pactx.records.MembershipChange`). An organization
named as a party to its own pact (``AES`` in the "Alliance of Sahel States") is left out of
the identity set.

A mention joins a cluster when, for some mention already in it:

* the core party sets are **equal**; or one strictly contains the other **and** there is
  positive evidence of identity: every extra party is prospective or former in the other
  report, or the names match, or the agreement is an organization-based pact (its name is or
  contains an organization code such as AUKUS or NATO that is not itself a party).
  Overlapping or disjoint party sets never merge;
* the agreement types are equal, or the names match;
* no mention of the cluster with the same core set reports a conflicting ``signed_date`` or
  ``effective_date`` (partial dates agree when one is a prefix of the other).

Names *match* when their distinctive forms (party names removed) have a similarity of at least
:data:`NAME_THRESHOLD`; a name made only of party names and generic words ("US-Japan security
pact") is no evidence either way.

When several clusters qualify the best scoring wins (party relation, type, name, agreeing
dates), ties going to the older cluster. Mentions are processed in document order and, within
a document, in a content order that ignores their position, so the output (ids included) does
not depend on the order of agreements inside a result.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar

from pactx.parties import party_key
from pactx.records import (
    AgreementMention,
    AtopFlags,
    ConsolidatedAgreement,
    ConsolidatedParty,
    MembershipChange,
    MembershipChangeKind,
    StatusEvent,
)
from pactx.schema import (
    STATUS_RANK,
    ATOP_OBLIGATION_VARIABLES,
    AgreementStatus,
    CooperationArea,
    ExtractionResult,
    Obligation,
    Party,
    PartyKind,
    PartyRole,
    SecurityAgreement,
)

__all__ = ["NAME_THRESHOLD", "consolidate", "name_similarity"]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)

NAME_THRESHOLD = 0.85
"""Name similarity at or above which two names count as the same name."""

CORE_ROLES: frozenset[PartyRole] = frozenset({PartyRole.MEMBER, PartyRole.GUARANTOR})
"""Roles that make up a mention's identity (its core party set)."""

"""Status progression: proposed < negotiating < ... < terminated."""

_GENERIC_NAME_WORDS = frozenset(
    "the of and on for in a an us u s uk k pact treaty agreement agreements accord security defense defence "
    "mutual alliance partnership cooperation strategic comprehensive military framework deal".split()
)


# --------------------------------------------------------------------------- helpers


def _norm_name(name: str | None) -> str:
    if not name:
        return ""
    words = re.sub(r"[^\w]+", " ", name.casefold()).split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def name_similarity(a: str | None, b: str | None) -> float:
    """Similarity of two agreement names in [0, 1] (0 when either is missing).

    The larger of difflib's ratio on normalized names and 1.0 when the distinctive words
    (generic words such as "pact" or "security" removed) of one name all occur in the other.
    """
    na, nb = _norm_name(a), _norm_name(b)
    if not na or not nb:
        return 0.0
    ratio = difflib.SequenceMatcher(None, na, nb).ratio()
    ta = set(na.split()) - _GENERIC_NAME_WORDS
    tb = set(nb.split()) - _GENERIC_NAME_WORDS
    if ta and tb and (ta <= tb or tb <= ta):
        return 1.0
    return round(ratio, 4)


@lru_cache(maxsize=1)
def _organization_aliases() -> dict[str, str]:
    from pactx.parties import ORGANIZATIONS

    aliases: dict[str, str] = {}
    for org in ORGANIZATIONS:
        for alias in (org.code, org.name, *org.aliases):
            aliases[_norm_name(alias)] = org.code
    return aliases


@lru_cache(maxsize=1)
def _organization_codes() -> frozenset[str]:
    from pactx.parties import ORGANIZATIONS

    return frozenset(org.code for org in ORGANIZATIONS if len(org.code) >= 3)


def _self_organization(name: str | None) -> str | None:
    """Code of the organization an agreement's whole name denotes ("AUKUS", "Alliance of Sahel States")."""
    return _organization_aliases().get(_norm_name(name)) if name else None


def _named_organization(name: str | None) -> str | None:
    """Code of an organization the name is or contains as a word ("AUKUS security pact")."""
    if not name:
        return None
    whole = _self_organization(name)
    if whole:
        return whole
    codes = _organization_codes()
    tokens: list[str] = re.findall(r"[A-Za-z]+", name)
    return next((t for t in tokens if t.isupper() and t in codes), None)


def _dates_compatible(a: str | None, b: str | None) -> bool:
    """Partial ISO dates agree when one is a prefix of the other (or either is unknown)."""
    return a is None or b is None or a.startswith(b) or b.startswith(a)


def _status_date(agreement: SecurityAgreement | AgreementMention) -> str | None:
    if agreement.status is AgreementStatus.SIGNED:
        return agreement.signed_date
    if agreement.status is AgreementStatus.IN_FORCE:
        return agreement.effective_date
    if agreement.status is AgreementStatus.TERMINATED:
        return agreement.end_date
    return None


def _party_words(parties: Iterable[Party]) -> frozenset[str]:
    """Words of the parties' names as written, their codes and their canonical names."""
    from pactx.parties import iso3_names

    names = iso3_names()
    words: set[str] = set()
    for party in parties:
        words.update(_norm_name(party.name).split())
        if party.code:
            code = party.code.strip().upper()
            words.add(code.casefold())
            words.update(_norm_name(names.get(code)).split())
    return frozenset(words)


def _distinctive_name(name: str | None, party_words: frozenset[str]) -> str | None:
    """The name without party names, or None when no distinctive word is left.

    "US-Japan security pact" is not distinctive (party names and generic words only);
    "AUKUS" and "Enhanced Defense Cooperation Agreement" are.
    """
    words = [w for w in _norm_name(name).split() if w not in party_words]
    return " ".join(words) if set(words) - _GENERIC_NAME_WORDS else None


def _name_evidence(a: _Item, b: _Item) -> float | None:
    """Similarity of two mentions' distinctive names, or None when either has none."""
    words = a.party_words | b.party_words
    na = _distinctive_name(a.mention.name, words)
    nb = _distinctive_name(b.mention.name, words)
    return None if na is None or nb is None else name_similarity(na, nb)


def _fmt_set(labels: Iterable[str]) -> str:
    return "{" + ",".join(labels) + "}"


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class _Item:
    """A mention with the derived keys the clustering needs."""

    mention: AgreementMention
    parties: dict[str, Party]  # identity key -> party, in reported order
    core: frozenset[str]
    peripheral: frozenset[str]
    sort_key: tuple[int, str]
    party_words: frozenset[str]  # words of the parties' names and codes, for name comparison
    keys: frozenset[str]  # core | peripheral

    @property
    def signature(self) -> tuple[object, ...]:
        """What matching looks at: mentions with equal signatures match everything alike."""
        m = self.mention
        roles = frozenset((k, p.role) for k, p in self.parties.items())
        return (roles, m.agreement_type, _norm_name(m.name), m.signed_date, m.effective_date)

    def label(self, key: str) -> str:
        party = self.parties[key]
        return party.code or party.name

    def labels(self, keys: Iterable[str]) -> list[str]:
        wanted = set(keys)
        return [self.label(k) for k in self.parties if k in wanted]


def _identity_parties(agreement: SecurityAgreement) -> dict[str, Party]:
    """Parties by identity key (first report of a key wins), the pact's own organization left out."""
    parties: dict[str, Party] = {}
    for party in agreement.parties:
        parties.setdefault(party_key(party), party)
    own = _self_organization(agreement.name)
    if own and own in parties:
        others = [k for k, p in parties.items() if k != own and p.role in CORE_ROLES]
        if others:
            del parties[own]
    return parties


def _make_item(source_id: str, doc_index: int, agreement_index: int, agreement: SecurityAgreement) -> _Item:
    mention = AgreementMention(
        source_id=source_id,
        document_index=doc_index,
        agreement_index=agreement_index,
        name=agreement.name.strip() if agreement.name and agreement.name.strip() else None,
        agreement_type=agreement.agreement_type,
        status=agreement.status,
        plover_event=agreement.plover_event,
        parties=list(agreement.parties),
        obligations=list(agreement.obligations),
        cooperation_areas=list(agreement.cooperation_areas),
        signed_date=agreement.signed_date,
        effective_date=agreement.effective_date,
        end_date=agreement.end_date,
        termination_reason=agreement.termination_reason,
        evidence=list(agreement.evidence),
    )
    parties = _identity_parties(agreement)
    core = frozenset(k for k, p in parties.items() if p.role in CORE_ROLES)
    content = agreement.model_dump(mode="json", exclude={"cow_type", "plover_event"})
    return _Item(
        mention=mention,
        parties=parties,
        core=core,
        peripheral=frozenset(parties) - core,
        sort_key=(doc_index, json.dumps(content, sort_keys=True, ensure_ascii=False)),
        party_words=_party_words(parties.values()),
        keys=frozenset(parties),
    )


def _normalize_inputs(
    results: Iterable[ExtractionResult | tuple[str, ExtractionResult]],
) -> list[tuple[str, ExtractionResult]]:
    pairs: list[tuple[str, ExtractionResult]] = []
    for position, entry in enumerate(results):
        if isinstance(entry, ExtractionResult):
            pairs.append((entry.metadata.source_id or f"doc-{position}", entry))
        else:
            source_id, result = entry
            pairs.append((str(source_id), result))
    return pairs


def _items(pairs: Sequence[tuple[str, ExtractionResult]]) -> list[_Item]:
    items = [
        _make_item(source_id, doc_index, k, agreement)
        for doc_index, (source_id, result) in enumerate(pairs)
        for k, agreement in enumerate(result.agreements)
    ]
    return sorted(items, key=lambda item: item.sort_key)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class _Match:
    score: float
    reason: str


@dataclass
class _Cluster:
    """Mentions grouped so far, with what matching needs to look at quickly."""

    items: list[_Item] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    representatives: dict[tuple[object, ...], _Item] = field(default_factory=dict)
    dates: dict[frozenset[str], set[tuple[str | None, str | None]]] = field(default_factory=dict)

    def add(self, item: _Item, reason: str | None = None) -> None:
        """Add a mention (the first of each signature becomes its representative)."""
        self.items.append(item)
        if reason is not None:
            self.reasons.append(reason)
        self.representatives.setdefault(item.signature, item)
        self.dates.setdefault(item.core, set()).add((item.mention.signed_date, item.mention.effective_date))


def _role_words(item: _Item, keys: Iterable[str]) -> str:
    wanted = set(keys)
    return ", ".join(f"{item.label(k)} is {item.parties[k].role.value}" for k in item.parties if k in wanted)


def _superset_evidence(a: _Item, b: _Item, similarity: float | None) -> str | None:
    """Why two mentions whose core sets differ by inclusion are the same agreement, if they are."""
    small, big = (a, b) if a.core < b.core else (b, a)
    extras = big.core - small.core
    if extras <= small.peripheral:
        return _role_words(small, extras) + f" in {small.mention.ref}"
    if similarity is not None and similarity >= NAME_THRESHOLD:
        return f"same name (similarity {similarity:.2f})"
    for item in (a, b):
        org = _named_organization(item.mention.name)
        if org and org not in a.core and org not in b.core:
            return f"organization-based pact {org}"
    return None


def _comparable(a: _Item, b: _Item) -> bool:
    """Cheap test: the mentions share a party and their core sets are equal or nested."""
    return bool(a.keys & b.keys) and (a.core <= b.core or b.core <= a.core)


def _party_relation(a: _Item, b: _Item, similarity: float | None) -> tuple[float, str] | None:
    """Score and reason for the party sets of two mentions, or None when they cannot merge."""
    if not a.keys & b.keys:
        return None
    if a.core == b.core:
        same_roles = a.keys == b.keys and all(a.parties[k].role == b.parties[k].role for k in a.keys)
        if same_roles:
            return 3.0, f"same party set {_fmt_set(a.labels(a.keys))}"
        changed = (a.keys ^ b.keys) | {k for k in a.keys & b.keys if a.parties[k].role != b.parties[k].role}
        detail = "; ".join(
            filter(None, (_role_words(a, changed & a.peripheral), _role_words(b, changed & b.peripheral)))
        )
        return 2.5, f"same member set {_fmt_set(a.labels(a.core))} ({detail})"
    if not (a.core < b.core or b.core < a.core):
        return None
    evidence = _superset_evidence(a, b, similarity)
    if evidence is None:
        return None
    small, big = (a, b) if a.core < b.core else (b, a)
    bigger, smaller = _fmt_set(big.labels(big.core)), _fmt_set(small.labels(small.core))
    extras = _fmt_set(big.labels(big.core - small.core))
    return 1.5, f"party set {bigger} extends {smaller} by {extras}: {evidence}"


def _one_sided(item: _Item) -> bool:
    """A mention naming a single member that is not itself an organization-based pact."""
    return len(item.core) < 2 and not (item.core & _organization_codes())


def _pair_match(a: _Item, b: _Item) -> _Match | None:
    """How well mention ``a`` matches mention ``b``, with the reason, or None."""
    if not _comparable(a, b):
        return None
    ma, mb = a.mention, b.mention
    similarity = _name_evidence(a, b)
    names_match = similarity is not None and similarity >= NAME_THRESHOLD
    if (_one_sided(a) or _one_sided(b)) and not names_match:
        return None  # "the US agreed a pact" in two documents is no evidence of one pact
    relation = _party_relation(a, b, similarity)
    if relation is None:
        return None
    score, party_reason = relation
    parts = [party_reason]
    if ma.agreement_type is mb.agreement_type:
        score += 1.0
        parts[0] += f" and type {ma.agreement_type.value}"
    elif names_match:
        parts.append(f"types differ ({ma.agreement_type.value} vs {mb.agreement_type.value}) but names match")
    else:
        return None
    if similarity is not None:
        score += similarity
        if names_match:
            parts.append(f"name similarity {similarity:.2f}")
        else:
            parts.append(f"names differ ('{ma.name}' vs '{mb.name}', similarity {similarity:.2f})")
    agreeing = [
        f for f in ("signed_date", "effective_date") if getattr(ma, f) and getattr(ma, f) == getattr(mb, f)
    ]
    score += 0.25 * len(agreeing)
    parts += [f"same {f} {getattr(ma, f)}" for f in agreeing]
    return _Match(score, f"{ma.ref} joins {mb.ref}: " + "; ".join(parts))


def _date_conflict(item: _Item, cluster: _Cluster) -> bool:
    """True when a mention with the same core set reports a different signing or entry date."""
    signed, effective = item.mention.signed_date, item.mention.effective_date
    return any(
        not (_dates_compatible(signed, s) and _dates_compatible(effective, e))
        for s, e in cluster.dates.get(item.core, ())
    )


def _cluster_match(item: _Item, cluster: _Cluster) -> _Match | None:
    if _date_conflict(item, cluster):
        return None
    best: _Match | None = None
    for other in cluster.representatives.values():
        match = _pair_match(item, other)
        if match is not None and (best is None or match.score > best.score):
            best = match
    return best


class _Index:
    """Which clusters hold a mention whose core set is nested with a given core set."""

    def __init__(self) -> None:
        self.clusters_by_core: dict[frozenset[str], set[int]] = {}
        self.cores_by_key: dict[str, set[frozenset[str]]] = {}
        self.clusters_by_key: dict[str, set[int]] = {}

    def add(self, item: _Item, cluster: int) -> None:
        self.clusters_by_core.setdefault(item.core, set()).add(cluster)
        for key in item.core:
            self.cores_by_key.setdefault(key, set()).add(item.core)
        for key in item.keys:
            self.clusters_by_key.setdefault(key, set()).add(cluster)

    def candidates(self, item: _Item) -> list[int]:
        """Clusters that may match ``item``, in creation order."""
        sharing = set().union(*(self.clusters_by_key.get(k, set()) for k in item.keys))
        if not item.core:
            return sorted(sharing)
        cores = set().union(*(self.cores_by_key.get(k, set()) for k in item.core))
        cores.add(frozenset())
        found: set[int] = set()
        for core in cores:
            if core <= item.core or item.core <= core:
                found |= self.clusters_by_core.get(core, set())
        return sorted(found & sharing)


def _cluster(items: Sequence[_Item]) -> list[_Cluster]:
    """Greedy clustering: each mention joins the best matching cluster or starts one."""
    clusters: list[_Cluster] = []
    index = _Index()
    for item in items:
        best: tuple[_Match, int] | None = None
        for candidate in index.candidates(item):
            match = _cluster_match(item, clusters[candidate])
            if match is not None and (best is None or match.score > best[0].score):
                best = (match, candidate)
        if best is None:
            clusters.append(_Cluster())
            target, reason = len(clusters) - 1, None
        else:
            match, target = best
            reason = match.reason
        clusters[target].add(item, reason)
        index.add(item, target)
    return clusters


# --------------------------------------------------------------------------- records


def _most_frequent(values: Sequence[_T]) -> _T | None:
    """Most frequent value; ties go to the value seen first."""
    if not values:
        return None
    counts = Counter(values)
    return max(dict.fromkeys(values), key=lambda v: counts[v])


def _pick_name(mentions: Sequence[AgreementMention]) -> str | None:
    named = [(m.name, _norm_name(m.name)) for m in mentions if m.name]
    best = _most_frequent([norm for _, norm in named])
    return next((name for name, norm in named if norm == best), None)


def _pick_date(values: Iterable[str | None]) -> str | None:
    """Most reported date; ties go to the more precise, then the earlier."""
    known = [v for v in values if v]
    if not known:
        return None
    counts = Counter(known)
    return min(counts, key=lambda v: (-counts[v], -len(v), v))


def _ordered(items: Sequence[_Item]) -> list[_Item]:
    return sorted(items, key=lambda i: (i.mention.document_index, i.mention.agreement_index))


def _record_parties(items: Sequence[_Item]) -> list[ConsolidatedParty]:
    from pactx.parties import iso3_names

    names = iso3_names()
    first: dict[str, Party] = {}
    latest_role: dict[str, PartyRole] = {}
    surfaces: dict[str, list[str]] = {}
    kinds: dict[str, PartyKind] = {}
    for item in items:
        for key, party in item.parties.items():
            first.setdefault(key, party)
            latest_role[key] = party.role
            surfaces.setdefault(key, []).append(party.name)
            if party.kind is not PartyKind.OTHER:
                kinds.setdefault(key, party.kind)
    return [
        ConsolidatedParty(
            code=party.code.strip().upper() if party.code else None,
            name=(names.get(party.code.strip().upper()) if party.code else None)
            or _most_frequent(surfaces[key])
            or party.name,
            role=latest_role[key],
            kind=kinds.get(key, PartyKind.OTHER),
        )
        for key, party in first.items()
    ]


def _timeline(mentions: Sequence[AgreementMention]) -> list[StatusEvent]:
    events = [
        StatusEvent(
            status=m.status,
            date=_status_date(m),
            plover_event=m.plover_event,
            source_id=m.source_id,
            document_index=m.document_index,
            agreement_index=m.agreement_index,
        )
        for m in mentions
    ]
    if events and all(e.date for e in events):
        return sorted(
            events, key=lambda e: (e.date or "", STATUS_RANK[e.status], e.document_index, e.agreement_index)
        )
    return sorted(events, key=lambda e: (e.document_index, STATUS_RANK[e.status], e.agreement_index))


def _change(kind: MembershipChangeKind, item: _Item, key: str, date: str | None) -> MembershipChange:
    party = item.parties[key]
    m = item.mention
    return MembershipChange(
        kind=kind,
        party=item.label(key),
        name=party.name,
        source_id=m.source_id,
        document_index=m.document_index,
        agreement_index=m.agreement_index,
        date=date,
    )


def _membership_changes(items: Sequence[_Item]) -> list[MembershipChange]:
    """Prospective and former members as reported; accession of a member the first report lacked."""
    if not items:
        return []
    founding = items[0].core
    changes: dict[tuple[MembershipChangeKind, str, str], MembershipChange] = {}
    acceded: set[str] = set()
    for item in items:
        m = item.mention
        for key, party in item.parties.items():
            if party.role is PartyRole.PROSPECTIVE_MEMBER:
                change = _change(MembershipChangeKind.PROSPECTIVE, item, key, None)
            elif party.role is PartyRole.FORMER_MEMBER:
                change = _change(MembershipChangeKind.WITHDRAWAL, item, key, m.end_date)
            elif party.role in CORE_ROLES and key not in founding and key not in acceded:
                acceded.add(key)
                change = _change(MembershipChangeKind.ACCESSION, item, key, m.effective_date or m.signed_date)
            else:
                continue
            changes.setdefault((change.kind, change.party, change.source_id), change)
    return list(changes.values())


def _union(values: Iterable[_E], order: type[_E]) -> list[_E]:
    held = set(values)
    return [v for v in order if v in held]


def _atop(obligations: Iterable[Obligation]) -> AtopFlags:
    held = set(obligations)
    return AtopFlags(**{var: ob in held for ob, var in ATOP_OBLIGATION_VARIABLES.items()})


def _build(cluster: _Cluster, explain: bool) -> ConsolidatedAgreement:
    items = _ordered(cluster.items)
    mentions = [i.mention for i in items]
    timeline = _timeline(mentions)
    obligations = _union((o for m in mentions for o in m.obligations), Obligation)
    return ConsolidatedAgreement(
        id="",
        name=_pick_name(mentions),
        agreement_type=_most_frequent([m.agreement_type for m in mentions]) or mentions[0].agreement_type,
        status=timeline[-1].status,
        parties=_record_parties(items),
        timeline=timeline,
        mentions=mentions,
        merge_reasons=list(cluster.reasons) if explain else [],
        membership_changes=_membership_changes(items),
        obligations=obligations,
        cooperation_areas=_union((a for m in mentions for a in m.cooperation_areas), CooperationArea),
        atop=_atop(obligations),
        plover_events=list(dict.fromkeys(e.plover_event for e in timeline)),
        signed_date=_pick_date(m.signed_date for m in mentions),
        effective_date=_pick_date(m.effective_date for m in mentions),
        end_date=_pick_date(m.end_date for m in mentions),
    )


def _canonical_key(cluster: _Cluster, record: ConsolidatedAgreement) -> str:
    """Agreement type, founding party keys, signing and entry dates."""
    founder = cluster.items[0]
    keys = sorted(founder.core or founder.keys)
    return "|".join(
        [record.agreement_type.value, ",".join(keys), record.signed_date or "", record.effective_date or ""]
    )


def _assign_ids(clusters: Sequence[_Cluster], records: Sequence[ConsolidatedAgreement]) -> None:
    """Set each record's id to a hash of its canonical key (a counter separates equal keys)."""
    seen: Counter[str] = Counter()
    for cluster, record in zip(clusters, records, strict=True):
        key = _canonical_key(cluster, record)
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key}|{seen[key]}"
        record.id = "agr-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------- API


def consolidate(
    results: Iterable[ExtractionResult | tuple[str, ExtractionResult]],
    *,
    explain: bool = True,
) -> list[ConsolidatedAgreement]:
    """Cluster the agreements of ``results`` (in document order) into consolidated records.

    ``results`` holds :class:`ExtractionResult` objects (source id from
    ``metadata.source_id``, else ``doc-<position>``) or ``(source_id, result)`` pairs. Records
    come back ordered by their first mention. With ``explain=False`` no merge reasons are kept.
    """
    items = _items(_normalize_inputs(results))
    clusters = _cluster(items)
    records = [_build(cluster, explain) for cluster in clusters]
    _assign_ids(clusters, records)
    return records
