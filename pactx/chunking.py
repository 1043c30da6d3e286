"""Long documents: split into overlapping chunks on sentence boundaries, merge the results.

A text longer than the model's budget (characters for an endpoint, tokens for the embedded
model) is cut into chunks of whole sentences (:func:`pactx.grounding.sentences`); consecutive
chunks share up to ``overlap`` of trailing sentences, so an agreement reported across a
boundary is seen whole at least once. A sentence longer than the budget on its own is cut at
white space.

Merge rule (:func:`merge_agreements`): agreements with the same set of parties (compared by
:func:`pactx.parties.party_key`: the code, else the case-folded name) and the same
``agreement_type`` are one agreement. The merged record keeps the most advanced ``status`` in
the order proposed < negotiating < agreed < signed < in_force < suspended < terminated (with
its ``termination_reason``), the first name and dates in text order, and the union of
evidence (the first four quotes in text order, the schema's limit), parties, obligations,
cooperation areas and provisions.

Evidence offsets are shifted from the chunk to the original text and checked:
``text[start:end] == quote`` always holds in the merged result.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pactx.grounding import SourceText, Span, sentences
from pactx.parties import party_key, party_keys
from pactx.schema import STATUS_RANK, AgreementStatus, Evidence, ExtractionResult, SecurityAgreement

__all__ = [
    "Chunk",
    "DEFAULT_MAX_CHUNK_CHARS",
    "split_text",
    "shift_evidence",
    "merge_agreements",
    "merge_results",
]

DEFAULT_MAX_CHUNK_CHARS = 12_000
"""Chunk budget for endpoints, in characters (about 3,000 tokens)."""

Measure = Callable[[str], int]
T = TypeVar("T")

_ENDED = (AgreementStatus.SUSPENDED, AgreementStatus.TERMINATED)
_LIMITS = {"evidence": 4, "parties": 30, "obligations": 5, "cooperation_areas": 12, "provisions": 8}


@dataclass(frozen=True)
class Chunk:
    """A slice ``text[start:end]`` of a document."""

    start: int
    end: int
    text: str


def split_text(text: str, budget: int, *, overlap: int = 0, measure: Measure = len) -> list[Chunk]:
    """Cut ``text`` into chunks of whole sentences whose ``measure`` is at most ``budget``.

    ``overlap`` (same unit as ``budget``) is how much of the previous chunk's tail the next
    chunk repeats, in whole sentences. A text within budget is one chunk.
    """
    if budget < 1:
        raise ValueError("the chunk budget must be positive")
    if measure(text) <= budget:
        return [Chunk(0, len(text), text)]
    units = [piece for span in sentences(text) for piece in _fit(text, span, budget, measure)]
    costs = [measure(text[_lead(units, i) : unit.end]) for i, unit in enumerate(units)]
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last, used = first, costs[first]
        while last + 1 < len(units) and used + costs[last + 1] <= budget:
            last += 1
            used += costs[last]
        start, end = units[first].start, units[last].end
        chunks.append(Chunk(start, end, text[start:end]))
        if last + 1 >= len(units):
            break
        first = _overlap_start(costs, first, last, overlap)
    return chunks


def _lead(units: Sequence[Span], index: int) -> int:
    """Where unit ``index`` starts, counting the white space before it."""
    return units[index - 1].end if index else units[index].start


def _overlap_start(costs: Sequence[int], first: int, last: int, overlap: int) -> int:
    """First unit of the next chunk: repeat trailing units worth at most ``overlap``."""
    start, shared = last + 1, 0
    while start - 1 > first and shared + costs[start - 1] <= overlap:
        start -= 1
        shared += costs[start]
    return start


def _fit(text: str, span: Span, budget: int, measure: Measure) -> list[Span]:
    """``span`` as pieces within budget: halved at the white space nearest the middle."""
    if measure(span.text) <= budget or span.end - span.start < 2:
        return [span]
    middle = (span.start + span.end) // 2
    cut = text.rfind(" ", span.start + 1, middle + 1)
    if cut <= span.start:
        cut = text.find(" ", middle, span.end - 1)
    if cut <= span.start:
        cut = middle  # one long "word": cut anywhere
    left, right = text[span.start : cut].rstrip(), text[cut:span.end].lstrip()
    right_start = span.end - len(right)
    pieces = [Span(span.start, span.start + len(left), left), Span(right_start, span.end, right)]
    return [p for piece in pieces if piece.text for p in _fit(text, piece, budget, measure)]


def shift_evidence(
    text: str, chunk: Chunk, agreements: Iterable[SecurityAgreement], warnings: list[str]
) -> list[SecurityAgreement]:
    """Agreements found in ``chunk`` with evidence offsets into the whole ``text``.

    Each shifted quote is checked against the text; one that does not match is located
    again, and dropped with a warning if it cannot be (an agreement left with no evidence
    is dropped too).
    """
    source: SourceText | None = None
    shifted: list[SecurityAgreement] = []
    for agreement in agreements:
        evidence: list[Evidence] = []
        for quote in agreement.evidence:
            start = None if quote.start is None else quote.start + chunk.start
            end = None if quote.end is None else quote.end + chunk.start
            if start is None or end is None or text[start:end] != quote.quote:
                source = source or SourceText(text)
                span = source.find(quote.quote)
                if span is None:
                    warnings.append(f"evidence {quote.quote[:60]!r} not found in the document; dropped")
                    continue
                start, end = span.start, span.end
            evidence.append(Evidence(quote=text[start:end], start=start, end=end))
        if evidence:
            shifted.append(agreement.model_copy(update={"evidence": evidence}))
    return shifted


def _merge_key(agreement: SecurityAgreement) -> tuple[frozenset[str], str]:
    return party_keys(agreement), agreement.agreement_type.value


def _union(items: Iterable[T], key: Callable[[T], Hashable], limit: int) -> list[T]:
    """Distinct items (first of each key) in order, at most ``limit``."""
    seen: dict[Hashable, T] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())[:limit]


def _first(group: Sequence[SecurityAgreement], field: str) -> Any:
    """The first set value of ``field`` in text order."""
    return next((getattr(a, field) for a in group if getattr(a, field)), None)


def _merge_group(group: list[SecurityAgreement]) -> SecurityAgreement:
    if len(group) == 1:
        return group[0]
    lead = max(group, key=lambda a: STATUS_RANK[a.status])  # first of the most advanced
    evidence = sorted((e for a in group for e in a.evidence), key=lambda e: (e.start or 0, e.end or 0))
    ended = lead.status in _ENDED
    return SecurityAgreement(
        evidence=_union(evidence, lambda e: (e.start, e.end), _LIMITS["evidence"]),
        name=_first(group, "name"),
        parties=_union((p for a in group for p in a.parties), party_key, _LIMITS["parties"]),
        agreement_type=lead.agreement_type,
        status=lead.status,
        obligations=_union((o for a in group for o in a.obligations), str, _LIMITS["obligations"]),
        cooperation_areas=_union(
            (c for a in group for c in a.cooperation_areas), str, _LIMITS["cooperation_areas"]
        ),
        provisions=_union(
            (p for a in group for p in a.provisions), lambda p: (p.type, p.description), _LIMITS["provisions"]
        ),
        signed_date=_first(group, "signed_date"),
        effective_date=_first(group, "effective_date"),
        end_date=_first(group, "end_date"),
        termination_reason=(lead.termination_reason or _first(group, "termination_reason")) if ended else None,
    )


def merge_agreements(agreements: Iterable[SecurityAgreement]) -> list[SecurityAgreement]:
    """Merge agreements with the same party set and type (see the module docstring)."""
    groups: dict[tuple[frozenset[str], str], list[SecurityAgreement]] = {}
    for agreement in agreements:
        groups.setdefault(_merge_key(agreement), []).append(agreement)
    return [_merge_group(group) for group in groups.values()]


def merge_results(text: str, chunks: Sequence[Chunk], results: Sequence[ExtractionResult]) -> ExtractionResult:
    """One result for ``text`` from the results of its chunks.

    Agreements are shifted and merged; usage, attempts, transport retries and latency are
    summed, warnings joined, and ``metadata.chunks`` records the chunk count.
    """
    if len(chunks) != len(results) or not results:
        raise ValueError("one result per chunk is needed")
    warnings: list[str] = []
    found: list[SecurityAgreement] = []
    for chunk, result in zip(chunks, results, strict=True):
        found += shift_evidence(text, chunk, result.agreements, warnings)
        warnings += result.metadata.warnings
    meta = results[0].metadata
    usage = meta.usage
    for result in results[1:]:
        usage = usage.add(result.metadata.usage)
    metadata = meta.model_copy(
        update={
            "usage": usage,
            "attempts": sum(r.metadata.attempts for r in results),
            "transport_retries": sum(r.metadata.transport_retries for r in results),
            "latency_s": round(sum(r.metadata.latency_s for r in results), 4),
            "chunks": len(chunks),
            "warnings": list(dict.fromkeys(warnings)),
        }
    )
    return ExtractionResult(agreements=merge_agreements(found), metadata=metadata)
