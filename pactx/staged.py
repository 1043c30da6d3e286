"""The ``staged`` strategy: pactx proposes candidates, a small model chooses among them.

Small models fail at one big free-form answer but can make small constrained choices. So:

1. **Propose** (no model): the passages of the text that use a word for an agreement and
   name at least two parties (gazetteer mentions, from the passage or the sentence before
   it), each within the evidence length limit.
2. **Ask** (the model, one short question at a time, answered by choosing among fixed options
   whose probabilities pactx reads; see :mod:`pactx.choices`):
   does the passage report an agreement, or only talks, ties, history or commentary? which of
   the mentioned names are its parties? which status and type, among those the passage's
   wording cues (:mod:`pactx.cues`)? which of the cued ATOP obligations does it carry?
3. **Assemble**: records are validated and grounded through the same Pydantic models as the
   ``direct`` strategy (:class:`pactx.validation.GroundedAgreementList`); mentions of one pact
   (same parties) become one record (§2.11); parties named as a threat, target or created body
   are not offered (§3.1, §3.4). The answer probabilities become each record's
   :class:`pactx.schema.Confidence` and each party's ``confidence``.

All questions about a document put the document first, so a model with a prompt cache reads
it once. Nothing is generated, so the answer is always well-formed and never runs to
``max_tokens``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from pactx.choices import ChoiceScorer, normalized
from pactx.cues import (
    ACTING_FOR_STATE_AFTER,
    AGREED_PRESENCE,
    ANOTHER_INSTRUMENT_WITH,
    DEFENSE_COOPERATION_LABEL,
    LEAVING_BEFORE,
    LIST_END,
    LIST_JOIN,
    MEMBERSHIP_CHANGE,
    PLACE_BEFORE,
    PLURAL_INSTRUMENT_WITH,
    REFERS_TO_PARTIES,
    SAME_PACT_AGAIN,
    SEPARATE_INSTRUMENT,
    WITH,
    aid_committed,
    asserted,
    denies_an_agreement,
    names_a_formal_instrument,
    names_an_instrument,
    names_the_pact,
    not_a_side,
    obligations_cued,
    only_hypothetical,
    presence_ended,
    proposal_cued,
    refers_back_only,
    revocation_cued,
    sale_only,
    specific_type_cued,
    statuses_cued,
    types_cued,
)
from pactx.grounding import SourceText, Span, evidence_spans
from pactx.parties import Mention, find_mentions, is_capital, is_demonym, party_key, party_keys, proper_noun_mentions
from pactx.prompts import Prompt
from pactx.schema import (
    AgreementStatus,
    AgreementType,
    Obligation,
    PartyKind,
    SecurityAgreement,
    TokenUsage,
)
from pactx.validation import GroundedAgreementList, to_plain, validation_context

__all__ = ["STRATEGIES", "DEFAULT_STAGED_PROMPT", "Candidate", "StagedAnswer", "propose", "run_staged"]

STRATEGIES = ("direct", "staged")
"""``direct``: the model fills the whole schema; ``staged``: it chooses among pactx's candidates."""

DEFAULT_STAGED_PROMPT = "staged_v1"

REPORT_THRESHOLD = 0.5
"""A passage becomes a record when the model's probability that it reports one is at least this."""

_MAX_CANDIDATES = 8  # the schema's limit on agreements per document
_MAX_PARTY_CANDIDATES = 8
_REACH_BACK = 4  # passages searched for the parties a passage refers back to ("the two countries")

_YES, _NO = (" yes", " Yes"), (" no", " No")

STATUS_WORDS: dict[AgreementStatus, tuple[str, ...]] = {
    AgreementStatus.PROPOSED: ("proposed",),
    AgreementStatus.NEGOTIATING: ("negotiating", "under negotiation"),
    AgreementStatus.AGREED: ("agreed",),
    AgreementStatus.SIGNED: ("signed",),
    AgreementStatus.IN_FORCE: ("in force",),
    AgreementStatus.SUSPENDED: ("suspended",),
    AgreementStatus.TERMINATED: ("terminated", "ended"),
}
TYPE_WORDS: dict[AgreementType, tuple[str, ...]] = {
    AgreementType.DEFENSE_PACT: ("mutual defense pact", "defense pact"),
    AgreementType.NEUTRALITY_PACT: ("neutrality pact",),
    AgreementType.NON_AGGRESSION_PACT: ("non-aggression pact",),
    AgreementType.ENTENTE: ("consultation pact",),
    AgreementType.SECURITY_PARTNERSHIP: ("security partnership",),
    AgreementType.DEFENSE_COOPERATION: ("defense cooperation",),
    AgreementType.BASING_ACCESS: ("basing or troop access",),
    AgreementType.MILITARY_AID: ("military aid",),
    AgreementType.OTHER: ("other",),
}
PLEDGE_TYPES: tuple[tuple[Obligation, AgreementType], ...] = (
    (Obligation.DEFENSE, AgreementType.DEFENSE_PACT),
    (Obligation.NEUTRALITY, AgreementType.NEUTRALITY_PACT),
    (Obligation.NON_AGGRESSION, AgreementType.NON_AGGRESSION_PACT),
    (Obligation.CONSULTATION, AgreementType.ENTENTE),
)
"""Guidelines §4, steps 1-4 (COW types I, IIa, IIb, III): a stated wartime pledge decides the
kind, the highest pledge first, whatever the text calls the agreement."""

OBLIGATION_PHRASES: dict[Obligation, str] = {
    Obligation.DEFENSE: "Defend each other if one of them is attacked",
    Obligation.OFFENSE: "Fight together in an offensive war",
    Obligation.NEUTRALITY: "Stay neutral if one of them goes to war",
    Obligation.NON_AGGRESSION: "Never attack each other",
    Obligation.CONSULTATION: "Consult each other in a crisis",
}


@dataclass(frozen=True)
class Candidate:
    """A passage that may report an agreement, and the parties it may have."""

    passage: Span
    mentions: tuple[Mention, ...]
    continues: bool = False
    """The passage names no party of its own and opens by referring back to a pact ("The pact
    states ..."): it describes the pact the passage before it reported."""


@dataclass
class StagedAnswer:
    """What the staged strategy found in one text, and what asking cost."""

    agreements: list[SecurityAgreement]
    usage: TokenUsage = field(default_factory=TokenUsage)
    questions: int = 0
    warnings: list[str] = field(default_factory=list)


def _identity(mention: Mention) -> str:
    return mention.code or "~" + mention.surface.casefold()


def _distinct(mentions: Sequence[Mention]) -> list[Mention]:
    """One mention per party (by code; by name for a party without one), in text order."""
    seen: dict[str, Mention] = {}
    for mention in mentions:
        seen.setdefault(_identity(mention), mention)
    return list(seen.values())


def _lists(text: str, mentions: Sequence[Mention]) -> list[list[Mention]]:
    """The mentions grouped into lists ("Senegal, Nigeria and Ghana"); a lone mention is a list
    of one. Names joined only by commas, with no "and" or "or" closing them, are not a list
    ("Under pressure from China, Japan signed ...")."""
    runs: list[list[Mention]] = []
    for mention in mentions:
        if runs and LIST_JOIN.match(text[runs[-1][-1].end : mention.start]):
            runs[-1].append(mention)
        else:
            runs.append([mention])
    split: list[list[Mention]] = []
    for run in runs:
        if len(run) > 1 and not LIST_END.match(text[run[-2].end : run[-1].start]):
            split.extend([m] for m in run)
        else:
            split.append(run)
    return split


def _sides(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """The distinct mentions that may be sides of an agreement, in text order.

    A party every mention of which reads as a threat, target, rival, venue, source of troops
    or created body (:func:`pactx.cues.not_a_side`; guidelines §3.1, §3.4), or follows such a
    mention in a list or repeats it in brackets, is left out, unless that leaves fewer than two
    names to choose from. A capital only ever named as a place ("in Washington") is never a side.
    """
    aside: dict[str, bool] = {}
    placed: dict[str, bool] = {}  # every mention a capital named as a place
    previous: tuple[Mention, bool] | None = None
    for run in _lists(text, sorted(mentions, key=lambda m: m.start)):
        flagged = not_a_side(text, run[0].start, run[0].end)  # a list's items share one role
        for mention in run:
            venue = _venue(text, mention)
            flagged = flagged or not_a_side(text, mention.start, mention.end) or venue or _describes(text, mention)
            flagged = flagged or (mention.kind is PartyKind.ORGANIZATION and names_the_pact(text, mention.start, mention.end))
            if previous is not None and _glosses(text, previous[0], mention):
                flagged = flagged or previous[1]  # "the Alliance of Sahel States (AES)": one mention
            key = _identity(mention)
            aside[key] = aside.get(key, True) and flagged
            placed[key] = placed.get(key, True) and venue
            previous = (mention, flagged)
    distinct = [m for m in _distinct(mentions) if not placed[_identity(m)]]  # a place is never a side
    kept = [m for m in distinct if not aside[_identity(m)]]
    return kept if len(kept) >= 2 else distinct


def _venue(text: str, mention: Mention) -> bool:
    """True when ``mention`` is a capital named as a place ("signed at the State Department in Washington")."""
    return PLACE_BEFORE.search(text, max(0, mention.start - 4), mention.start) is not None and is_capital(mention.surface)


def _describes(text: str, mention: Mention) -> bool:
    """True when ``mention`` is a demonym that names no one acting for its state ("North Korean
    missile launches", "the Palestinians"; :data:`pactx.cues.ACTING_FOR_STATE_AFTER`)."""
    return is_demonym(mention.surface) and ACTING_FOR_STATE_AFTER.match(text, mention.end) is None


def _glosses(text: str, previous: Mention, mention: Mention) -> bool:
    """True when ``mention`` only repeats ``previous`` in brackets ("... States (AES)")."""
    return _identity(previous) == _identity(mention) and _GLOSS.fullmatch(text, previous.end, mention.start) is not None


_GLOSS = re.compile(r"\s*[(\[]\s*")


def propose(text: str) -> list[Candidate]:
    """The passages of ``text`` that may report an agreement, with their candidate parties.

    A passage qualifies when it uses a word for an agreement (in a language the cues cover)
    other than cooperation a party only means to deepen or strengthen (intent with no
    instrument, guidelines §2.2: :func:`pactx.cues.names_an_instrument`), speaks of joining or
    leaving a named organization (§5.2), or of troops, bases or access given by agreement
    (§2.1, §2.10: :data:`pactx.cues.AGREED_PRESENCE`), and at least two
    parties are named in it, or in it and the passage before it ("the two countries signed
    ..."), or, when it names them only by referring back ("the two countries", "both
    governments": :data:`pactx.cues.REFERS_TO_PARTIES`) and calls the instrument more than
    cooperation, in the nearest passages before it that name two. Parties are the gazetteer's states and organizations; when those
    are fewer than two, the passage's other proper names (an armed group, a company, a new
    organization: :func:`pactx.parties.proper_noun_mentions`) are candidates too, for the
    model to accept or reject. Passages that address a model (prompt injection) never
    qualify, and lend no names.
    """
    source = SourceText(text)
    passages = list(evidence_spans(text, source))  # within the evidence limit, never injected text
    mentions = [m for m in find_mentions(text) if not source.in_instruction(m.start, m.end)]
    others = [m for m in proper_noun_mentions(text) if not source.in_instruction(m.start, m.end)]

    def inside(span: Span, pool: list[Mention]) -> list[Mention]:
        return [m for m in pool if span.start <= m.start and m.end <= span.end]

    candidates: list[Candidate] = []
    for index, passage in enumerate(passages):
        if not (
            names_an_instrument(passage.text)
            or _membership_change(passage, mentions)
            or AGREED_PRESENCE.search(passage.text) is not None
            or presence_ended(passage.text)
            or aid_committed(passage.text)
        ):
            continue
        scope = inside(passage, mentions)
        own = bool(scope)
        found = _sides(text, scope)  # places, threats and onlookers are no sides (§3.1, §3.3)
        if len(found) < 2 and index > 0:
            scope = inside(passages[index - 1], mentions) + scope
            found = _sides(text, scope)
        if len(found) < 2 and REFERS_TO_PARTIES.search(passage.text) and names_a_formal_instrument(passage.text):
            for earlier in reversed(passages[max(0, index - _REACH_BACK) : max(0, index - 1)]):
                scope = inside(earlier, mentions) + scope  # "the two countries": named further back
                found = _sides(text, scope)
                if len(found) >= 2:
                    break
        if len(found) < 2:
            scope = scope + inside(passage, others)
            found = _sides(text, scope)
        if len(found) >= 2:
            again = not own and index > 0 and SAME_PACT_AGAIN.match(passage.text) is not None
            candidates.append(Candidate(passage, tuple(found[:_MAX_PARTY_CANDIDATES]), again))
    return candidates[:_MAX_CANDIDATES]


def _membership_change(passage: Span, mentions: Sequence[Mention]) -> bool:
    """True when the passage speaks of joining or leaving an organization it names (§5.2): the
    organization follows the word for it ("withdrawing from the G5 Sahel", "accession to NATO")
    or comes right before it ("NATO membership") or inside it ("became NATO's 32nd member"). A withdrawal of anything else near a named
    organization ("the EU may need to double its aid if the US withdraws its support") is not one."""
    organizations = [
        m for m in mentions if m.kind is PartyKind.ORGANIZATION and passage.start <= m.start and m.end <= passage.end
    ]
    for match in MEMBERSHIP_CHANGE.finditer(passage.text):
        start, end = passage.start + match.start(), passage.start + match.end()
        if any(
            0 <= m.start - end <= _MEMBERSHIP_REACH or 0 <= start - m.end <= 3 or (start <= m.start and m.end <= end)
            for m in organizations
        ):
            return True
    return False


_MEMBERSHIP_REACH = 40  # characters from the word for joining or leaving to the organization's name


def _fixed_status(candidate: Candidate) -> AgreementStatus | None:
    """The status the passage's own words decide, and with it that the passage reports an
    agreement whatever the model answers (its answer is still the record's confidence): a party
    revoking or suspending an agreement the passage names (§13.7), or leaving an organization it
    names (§5.2), or a foreign military presence ending (§2.10), or a party proposing or
    offering one (§2.3). Only when stated as fact (:func:`pactx.cues.asserted`)."""
    passage = candidate.passage
    revoked = revocation_cued(passage.text)
    if revoked is not None:
        return revoked
    if presence_ended(passage.text):
        return AgreementStatus.TERMINATED
    for mention in candidate.mentions:
        if mention.kind is PartyKind.ORGANIZATION and passage.start <= mention.start < passage.end:
            at = mention.start - passage.start
            leaving = LEAVING_BEFORE.search(passage.text, max(0, at - 40), at)
            if leaving is not None and asserted(passage.text, leaving.start()):
                return AgreementStatus.TERMINATED
    starts = [m.start - passage.start for m in candidate.mentions if passage.start <= m.start < passage.end]
    if proposal_cued(passage.text, starts):
        return AgreementStatus.PROPOSED
    return None


class _Form:
    """One passage's form: the worked examples, the passage, and the fields answered so far.

    Each question continues the form by one field; the model chooses among the allowed answers
    and the chosen one is written in, so the next question extends the same prefix (the model's
    prompt cache then reads only the new tokens).
    """

    def __init__(self, asker: _Asker, passage: str) -> None:
        self.asker = asker
        one_line = " ".join(passage.split())
        self.text = asker.prompt.system + asker.prompt.user.replace("{text}", one_line)

    def choose(self, field: str, answers: dict[str, tuple[str, ...]]) -> tuple[str, float]:
        """Fill ``field`` with one of ``answers`` (value -> words); the value and its probability.

        A single allowed answer is written in without asking (probability 1).
        """
        values = list(answers)
        if len(values) == 1:
            best, probability = values[0], 1.0
        else:
            options = [tuple(f" {w}" for w in answers[v]) for v in values]
            probabilities = self.asker.choose(self.text + field, options)
            index = max(range(len(values)), key=lambda i: probabilities[i])
            best, probability = values[index], probabilities[index]
        self.text += f"{field} {answers[best][0]}\n"
        return best, probability

    def yes(self, field: str, *, written: str | None = None) -> float:
        """Probability of "yes" for ``field``; the more likely answer is written in, or ``written``
        when the text has decided the answer already."""
        probabilities = self.asker.choose(self.text + field, (_YES, _NO))
        answer = written or ("yes" if probabilities[0] >= 0.5 else "no")
        self.text += f"{field} {answer}\n"
        return probabilities[0]


class _Asker:
    """Asks one document's questions and keeps their cost."""

    def __init__(self, scorer: ChoiceScorer, prompt: Prompt) -> None:
        self.scorer, self.prompt = scorer, prompt
        self.usage = TokenUsage()
        self.questions = 0

    def choose(self, text: str, options: Sequence[Sequence[str]]) -> list[float]:
        """The model's probabilities of ``options`` as the continuation of ``text``."""
        scores = self.scorer.choice_logprobs(text, options)
        self.questions += 1
        self.usage = self.usage.add(
            TokenUsage(
                prompt_tokens=scores.prompt_tokens,
                completion_tokens=scores.scored_tokens,
                total_tokens=scores.prompt_tokens + scores.scored_tokens,
                cached_tokens=scores.cached_tokens,
            )
        )
        return normalized(scores.logprobs)


def _kind_without_instrument(passage: str) -> AgreementType | None:
    """The kind a passage with no deciding cue reports by what it states rather than by a word for
    the agreement: a foreign military presence ending is a basing arrangement's end (§2.10); a
    discrete aid commitment with no other instrument named is military aid (§2.9)."""
    if presence_ended(passage):
        return AgreementType.BASING_ACCESS
    if _aid_only(passage):
        return AgreementType.MILITARY_AID
    return None


def _aid_only(passage: str) -> bool:
    """True when the passage reports a discrete aid commitment and names no other instrument (§2.9)."""
    return aid_committed(passage) and not names_an_instrument(passage)


def _highest_pledge(obligations: Sequence[str]) -> tuple[Obligation, AgreementType] | None:
    """The highest pledge among ``obligations`` and the kind it decides (:data:`PLEDGE_TYPES`), if any."""
    return next(((o, kind) for o, kind in PLEDGE_TYPES if o.value in obligations), None)


def _dyads(candidate: Candidate, chosen: Sequence[int]) -> list[list[int]]:
    """The chosen parties, one group per record: several instruments "with" several partners
    ("signed defence pacts with France and Germany"), or one instrument with a partner and "a
    second one with" another, are one record per partner (§2.11)."""
    passage = candidate.passage
    plural = PLURAL_INSTRUMENT_WITH.search(passage.text)
    if plural is not None:
        cut, after = passage.start + plural.start(), passage.start + plural.end()
        common = [i for i in chosen if candidate.mentions[i].start < cut]
        partners = [i for i in chosen if candidate.mentions[i].start >= after]
        if common and len(partners) >= 2:
            return [common + [partner] for partner in partners]
    second = ANOTHER_INSTRUMENT_WITH.search(passage.text)
    first = WITH.search(passage.text, 0, second.start()) if second is not None else None
    if second is not None and first is not None:
        cut, middle, after = (passage.start + at for at in (first.start(), second.start(), second.end()))
        starts = {i: candidate.mentions[i].start for i in chosen}
        common = [i for i in chosen if starts[i] < cut]
        partners = [[i for i in chosen if cut <= starts[i] < middle], [i for i in chosen if starts[i] >= after]]
        if common and all(partners):
            return [common + group for group in partners]
    return [list(chosen)]


def _records(
    asker: _Asker, candidate: Candidate, threshold: float, reported: dict[str, object] | None = None
) -> list[dict[str, object]]:
    """The records the model builds from one candidate; none if it reports no agreement.

    ``reported``: the one record the passage right before this one gave, when this passage
    continues it (:attr:`Candidate.continues`). The passage then describes that pact: it is
    not asked whether it reports one (the model's answer is still its confidence) and keeps
    that record's parties, so the two merge and what it states (a pledge) counts (§2.11, §4).
    """
    passage = candidate.passage.text
    questions = asker.prompt.questions
    if reported is None and denies_an_agreement(passage):  # §2.7: a denied agreement is no record
        return []
    fixed = _fixed_status(candidate) if reported is None else None
    if reported is None and fixed is None and (only_hypothetical(passage) or sale_only(passage)):
        return []  # a label in a condition (§2.6, §2.7); a purchase of equipment (§2.13)
    form = _Form(asker, passage)
    decided = reported is not None or fixed is not None  # the words decide; the model's answer is still the confidence
    p_report = form.yes(questions["report"], written="yes" if decided else None)
    if not decided and p_report < threshold:
        return []
    statuses = [fixed] if fixed is not None else statuses_cued(passage)
    if fixed is None and _aid_only(passage):  # §2.9: pledged or agreed to provide is agreed; signed is signed
        signed = AgreementStatus.SIGNED in statuses and len(statuses) < len(AgreementStatus)  # cued, not "any"
        statuses = [AgreementStatus.SIGNED if signed else AgreementStatus.AGREED]
    status, p_status = form.choose(questions["status"], {s.value: STATUS_WORDS[s] for s in statuses})
    specific = specific_type_cued(passage) or _kind_without_instrument(passage)  # a deciding cue fixes the kind (§4)
    # With no deciding cue, the passage states no content; then the label decides (§4): defence
    # cooperation only for a passage that has that label ("defence cooperation treaty"); a
    # security pact, alliance or partnership with no stated content is a security partnership
    kinds = [specific] if specific is not None else types_cued(passage)
    if specific is None:  # ``other`` is what a code of conduct, arms control or a ceasefire decides (§4 step 6)
        kinds.remove(AgreementType.OTHER)
        if DEFENSE_COOPERATION_LABEL.search(passage) is None:
            kinds.remove(AgreementType.DEFENSE_COOPERATION)
    kind, p_type = form.choose(questions["type"], {t.value: TYPE_WORDS[t] for t in kinds})
    if reported is not None:
        groups = [reported["parties"]]
    else:
        party_p = [
            form.yes(asker.prompt.question("party", name=" ".join(m.surface.split())))
            for m in candidate.mentions
        ]
        order = sorted(range(len(candidate.mentions)), key=lambda i: -party_p[i])
        chosen = {i for i in order if party_p[i] >= 0.5} | set(order[:2])  # an agreement has two sides
        groups = [
            [{"name": candidate.mentions[i].surface, "role": "member", "confidence": party_p[i]} for i in group]
            for group in _dyads(candidate, sorted(chosen))
        ]
    pledges = {
        o.value: form.yes(asker.prompt.question("obligation", obligation=OBLIGATION_PHRASES[o]))
        for o in obligations_cued(passage)
    }
    obligations = [o for o, p in pledges.items() if p >= 0.5]
    pledge = _highest_pledge(obligations)
    if pledge is not None and pledge[1].value != kind:  # the pledge decides the kind (§4)
        kind, p_type = pledge[1].value, pledges[pledge[0].value]
    return [
        {
            "evidence": [{"quote": passage}],
            "parties": parties,
            "agreement_type": kind,
            "status": status,
            "obligations": obligations,
            "confidence": {"agreement": p_report, "status": p_status, "agreement_type": p_type},
        }
        for parties in groups
    ]


def _merge(agreements: list[SecurityAgreement], separate: Sequence[bool] = ()) -> list[SecurityAgreement]:
    """One record per pact: validated mentions with the same parties are merged (§2.11).

    Parties are compared by :func:`pactx.parties.party_keys` (so "Washington" and "the United
    States" are one party). Several descriptions of one pact in a text are one record, whatever
    kind or stage each passage suggests: the merged record keeps the first mention's fields
    (news reports lead with the event itself; later passages add background), every passage
    as evidence (up to the schema's four), the union of obligations and the highest confidences;
    a wartime pledge stated in any of them decides the kind (§4: "the pact ... established
    collective defense" after "signed a security pact"), and with none, content a later passage
    states (troops, bases, aid) decides over a first passage's label (§4 step 5: "ending its
    defence cooperation agreement" then "the accord had allowed 1,000 French troops").
    An agreement whose passage marks it as a distinct instrument (``separate``, by position;
    :data:`pactx.cues.SEPARATE_INSTRUMENT`) and differs in kind stays its own record.
    """
    groups: dict[tuple[frozenset[str], int], SecurityAgreement] = {}
    for index, agreement in enumerate(agreements):
        key = (party_keys(agreement), 0)
        kept = groups.get(key)
        if kept is not None and index < len(separate) and separate[index] and kept.agreement_type != agreement.agreement_type:
            key, kept = (key[0], index + 1), None
        if kept is None:
            groups[key] = agreement
            continue
        kept.evidence = (kept.evidence + agreement.evidence)[:4]
        kept.obligations = list(dict.fromkeys(kept.obligations + agreement.obligations))
        pledge = _highest_pledge(kept.obligations)
        content = _content_type(agreement)
        if pledge is not None and kept.agreement_type != pledge[1]:  # a later passage states the pledge (§4)
            _adopt_type(kept, agreement, pledge[1])
        elif pledge is None and content is not None and kept.agreement_type in _LABEL_TYPES:
            _adopt_type(kept, agreement, content)  # it states the content the first only labelled (§4 step 5)
        if kept.confidence is not None and agreement.confidence is not None:
            kept.confidence = kept.confidence.model_copy(
                update={"agreement": max(kept.confidence.agreement, agreement.confidence.agreement)}
            )
        by_key = {party_key(p): p for p in agreement.parties}
        for party in kept.parties:
            other = by_key.get(party_key(party))
            if other is not None and other.confidence is not None:
                party.confidence = max(party.confidence or 0.0, other.confidence)
    return list(groups.values())


_LABEL_TYPES = (AgreementType.SECURITY_PARTNERSHIP, AgreementType.DEFENSE_COOPERATION, AgreementType.OTHER)
"""Kinds a passage may give from its label alone ("defence cooperation agreement"); stated content decides over them."""


def _content_type(agreement: SecurityAgreement) -> AgreementType | None:
    """The kind the first passage of ``agreement`` decides by stated content: troops or bases, or aid (§4 step 5)."""
    kind = specific_type_cued(agreement.evidence[0].quote) if agreement.evidence else None
    return kind if kind in (AgreementType.BASING_ACCESS, AgreementType.MILITARY_AID) else None


def _adopt_type(kept: SecurityAgreement, agreement: SecurityAgreement, kind: AgreementType) -> None:
    """Give ``kept`` the kind ``kind``, with ``agreement``'s confidence in it when ``agreement`` has that kind."""
    kept.agreement_type = kind
    if kept.confidence is not None and agreement.confidence is not None and agreement.agreement_type == kind:
        kept.confidence = kept.confidence.model_copy(update={"agreement_type": agreement.confidence.agreement_type})


def _adjacent(text: str, before: Span, after: Span) -> bool:
    """True when ``after`` follows ``before`` with only white space between them."""
    return before.end <= after.start and not text[before.end : after.start].strip()


def run_staged(scorer: ChoiceScorer, prompt: Prompt, text: str, *, threshold: float = REPORT_THRESHOLD) -> StagedAnswer:
    """Extract the agreements of ``text`` with the staged strategy (see the module docstring)."""
    if not prompt.questions:
        raise ValueError(f"prompt {prompt.name} has no [questions]; the staged strategy needs them")
    asker = _Asker(scorer, prompt)
    records: list[dict[str, object]] = []
    separate: list[bool] = []  # by record: its passage marks a distinct instrument
    previous: tuple[Candidate, list[dict[str, object]]] | None = None
    for candidate in propose(text):
        reported = None
        if candidate.continues and previous is not None and len(previous[1]) == 1:
            before = previous[0].passage
            if _adjacent(text, before, candidate.passage):
                reported = previous[1][0]
        if reported is None and records and refers_back_only(candidate.passage.text):
            reported = records[-1]  # "the deal": the pact last reported, not a new one with onlookers (§2.11)
        found = _records(asker, candidate, threshold, reported)
        records += found
        separate += [reported is None and SEPARATE_INSTRUMENT.search(candidate.passage.text) is not None] * len(found)
        previous = (candidate, found)
    context = validation_context(text)
    agreements: list[SecurityAgreement] = []
    distinct: list[bool] = []
    warnings: list[str] = context["warnings"]
    for record, apart in zip(records, separate):
        try:
            grounded = GroundedAgreementList.model_validate({"agreements": [record]}, context=context)
        except ValidationError as exc:  # pactx proposed it, so this is rare: drop it, say why
            warnings.append(f"staged record dropped: {exc.errors()[0]['msg']}")
            continue
        plain = to_plain(grounded)  # confidences pass through validation
        agreements += plain
        distinct += [apart] * len(plain)
    return StagedAnswer(_merge(agreements, distinct), asker.usage, asker.questions, list(warnings))

