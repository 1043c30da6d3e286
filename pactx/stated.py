"""Does the text state this date or this amount near the agreement's evidence?

A model may give a date or an amount the text does not support (small models invent dates
freely). :func:`date_stated` and :func:`amount_stated` check a value against a passage of the
source, and :func:`near` picks that passage: the sentences holding the evidence quotes plus
:data:`SENTENCES_AROUND` sentence on either side, as one contiguous stretch of the source per
run of sentences (so a date split by the sentence rule, "Sept. 16", stays whole).

Dates: the year must occur as a number; a month, when the date has one, must be expressed
(a month name or abbreviation in English, French, Spanish or German, or a numeric date such
as ``16/09/2023``, ``16.09.2023`` or ``2023-09-16``); a day, when given, must be written with
its month ("16 September", "September 16th", "le 1er mars", "16. März", "16 de septiembre",
or a numeric date). Relative dates ("last Tuesday") state no year, so they never ground one.

Amounts: the value must be a number the passage writes, in digits with thousands separators
or decimals ("2,000", "2.000", "1,5", "2 000"), with a scale word ("1.5 billion", "$2bn",
"€3 Mrd.", "dos mil millones"), or in small number words ("two thousand", "dos mil").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from pactx.grounding import sentences

__all__ = ["SENTENCES_AROUND", "near", "DateFacts", "date_facts", "date_stated", "stated_part", "numbers_in", "amount_stated"]

SENTENCES_AROUND = 1
"""How many sentences before and after an evidence sentence count as near it."""


def near(text: str, spans: Iterable[tuple[int, int]], *, around: int = SENTENCES_AROUND) -> list[str]:
    """The passages of ``text`` near the character spans: their sentences, ``around`` either side.

    Without any span the whole text is the passage.
    """
    spans = list(spans)
    parts = sentences(text)
    if not spans or not parts:
        return [text]
    keep: set[int] = set()
    for start, end in spans:
        for index, sentence in enumerate(parts):
            if sentence.start < end and start < sentence.end:
                keep.update(range(max(0, index - around), min(len(parts), index + around + 1)))
    if not keep:
        return [text]
    passages: list[str] = []
    run: list[int] = []
    for index in sorted(keep):
        if run and index != run[-1] + 1:
            passages.append(text[parts[run[0]].start : parts[run[-1]].end])
            run = []
        run.append(index)
    passages.append(text[parts[run[0]].start : parts[run[-1]].end])
    return passages


# --------------------------------------------------------------------------- dates


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_MONTH_NAMES: dict[str, tuple[str, ...]] = {
    # language: twelve full names, January first (accents are folded before look-up)
    "en": ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"),
    "fr": ("janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout",
           "septembre", "octobre", "novembre", "decembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "de": ("januar", "februar", "marz", "april", "mai", "juni", "juli", "august",
           "september", "oktober", "november", "dezember"),
}
_MONTH_ABBREVIATIONS: tuple[tuple[str, ...], ...] = (
    # abbreviations of each month, January first, in the four languages
    ("jan", "janv", "ene", "jän"), ("feb", "febr", "fev", "fevr"), ("mar", "marz", "mrz"),
    ("apr", "avr", "abr"), ("may",), ("jun", "juin"), ("jul", "juil"), ("aug", "ago"),
    ("sep", "sept", "set"), ("oct", "okt"), ("nov",), ("dec", "dez", "dic"),
)
_LOWER_CASE_MONTHS = ("fr", "es")
"""Languages that write month names in lower case; elsewhere a bare month name is capitalized."""

_FULL: dict[str, int] = {
    name: number for names in _MONTH_NAMES.values() for number, name in enumerate(names, 1)
}
_ABBREVIATED: dict[str, int] = {
    _fold(name): number for number, names in enumerate(_MONTH_ABBREVIATIONS, 1) for name in names
}
_ANY_CASE: frozenset[str] = frozenset(n for lang in _LOWER_CASE_MONTHS for n in _MONTH_NAMES[lang])

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ORDINAL = r"(?:st|nd|rd|th|er|re|e|º|°|\.)?"
_DAY_BEFORE = re.compile(rf"(?<!\d)(\d{{1,2}}){_ORDINAL}\s*(?:(?:of|de|du)\s+)?(?:the\s+)?$", re.I)
_DAY_AFTER = re.compile(rf"^\.?,?\s*(?:the\s+)?(\d{{1,2}}){_ORDINAL}(?!\d)", re.I)
_YEAR_AFTER = re.compile(rf"^\.?,?\s*(?:\d{{1,2}}{_ORDINAL},?\s*)?(?:(?:of|de|del)\s+)?(\d{{4}})(?!\d)", re.I)
_YEAR = re.compile(r"(?<![\d.,])(\d{4})(?!\d|[.,]\d)")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<![\d.])(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?!\d)")


@dataclass
class DateFacts:
    """The date components a passage expresses."""

    years: set[int] = field(default_factory=set)
    months: set[int] = field(default_factory=set)
    days: set[tuple[int, int]] = field(default_factory=set)
    """(month, day) pairs written together."""

    def add(self, year: int | None, month: int, day: int | None) -> None:
        if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
            return
        if year is not None:
            self.years.add(year)
        self.months.add(month)
        if day is not None:
            self.days.add((month, day))


def date_facts(passage: str) -> DateFacts:
    """Years, months and (month, day) pairs written in ``passage``."""
    facts = DateFacts(years={int(m.group(1)) for m in _YEAR.finditer(passage)})
    for match in _ISO_DATE.finditer(passage):
        facts.add(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    for match in _NUMERIC_DATE.finditer(passage):
        first, second, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
        facts.add(year, second, first)  # day first (most of the world)
        facts.add(year, first, second)  # month first (the United States)
    for word in _WORD.finditer(passage):
        folded = _fold(word.group())
        full = _FULL.get(folded)
        month = full or _ABBREVIATED.get(folded)
        if month is None:
            continue
        before = passage[max(0, word.start() - 16) : word.start()]
        after = passage[word.end() : word.end() + 16]
        day = _DAY_BEFORE.search(before) or _DAY_AFTER.search(after)
        year = _YEAR_AFTER.search(after)
        bare_ok = full is not None and (word.group()[0].isupper() or folded in _ANY_CASE)
        if day is None and year is None and not bare_ok:
            continue  # "may", "march", "ago": an ordinary word, not a month
        facts.add(int(year.group(1)) if year else None, month, int(day.group(1)) if day else None)
    return facts


def stated_part(value: str, passages: Iterable[str]) -> str | None:
    """The most precise prefix of the ISO date ``value`` whose every component the passages state.

    ``2022-05-03`` against a text that says only "its 2022 agreement" gives ``2022``; a year
    the passages do not state gives ``None``.
    """
    parts = value.strip().split("-")
    numbers = [int(p) for p in parts]
    facts = DateFacts()
    for passage in passages:
        found = date_facts(passage)
        facts.years |= found.years
        facts.months |= found.months
        facts.days |= found.days
    if numbers[0] not in facts.years:
        return None
    if len(numbers) < 2 or numbers[1] not in facts.months:
        return parts[0]
    if len(numbers) < 3 or (numbers[1], numbers[2]) not in facts.days:
        return "-".join(parts[:2])
    return "-".join(parts)


def date_stated(value: str, passages: Iterable[str]) -> bool:
    """Whether every component of the ISO date ``value`` (YYYY[-MM[-DD]]) is in the passages."""
    passages = list(passages)
    return stated_part(value, passages) == value.strip()


# --------------------------------------------------------------------------- amounts

_SCALES: dict[str, tuple[float, ...]] = {
    "thousand": (1e3,), "thousands": (1e3,), "k": (1e3,), "mille": (1e3,), "milles": (1e3,),
    "mil": (1e3,), "tausend": (1e3,), "tsd": (1e3,),
    "million": (1e6,), "millions": (1e6,), "m": (1e6,), "mn": (1e6,), "mln": (1e6,),
    "millon": (1e6,), "millones": (1e6,), "millionen": (1e6,), "mio": (1e6,),
    "billion": (1e9, 1e12), "billions": (1e9, 1e12), "bn": (1e9,),
    "milliard": (1e9,), "milliards": (1e9,), "md": (1e9,), "mds": (1e9,), "mrd": (1e9,),
    "milliarde": (1e9,), "milliarden": (1e9,), "billon": (1e12,), "billones": (1e12,),
    "billionen": (1e12,), "trillion": (1e12,), "trillions": (1e12,), "tn": (1e12,),
}
"""Scale words (accents folded). "billion" is 10^9 in English and 10^12 in German."""

_UNITS = {
    # small numbers in English, French, Spanish, German (accents folded)
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10, "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50,
    "ein": 1, "eine": 1, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "funf": 5, "sechs": 6,
    "sieben": 7, "acht": 8, "zehn": 10, "zwanzig": 20, "dreissig": 30, "vierzig": 40, "funfzig": 50,
}
_HUNDREDS = {"hundred": 100, "cent": 100, "cents": 100, "cien": 100, "ciento": 100, "hundert": 100}
_WORD_SCALES = {"thousand", "mille", "mil", "tausend", "million", "millions", "millon", "millones",
                "billion", "billions", "milliard", "milliards", "millionen", "milliarde", "milliarden"}
_BARE_SCALES = {"mil", "mille", "tausend"}
"""Scale words that are a number on their own ("mil soldados" is 1000 soldiers)."""

_DIGITS = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:([,.\u00a0\u202f' ])\d{3})(?:\2\d{3})*(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
    r"(?![\d])"
)
_SCALE_AFTER = re.compile(r"^\s*-?\s*((?:[^\W\d_]+\.?\s*){1,2})", re.UNICODE)


def _readings(numeral: str, separator: str | None) -> set[float]:
    """The values a digit string may mean: "1,500" is 1500 or 1.5; "1.500,5" is 1500.5."""
    if separator is None:  # "1500", "1.5", "1,5"
        return {float(numeral.replace(",", "."))}
    integer, decimals = numeral, ""
    last = max(numeral.rfind(","), numeral.rfind("."))
    if last >= 0 and numeral[last] != separator:
        integer, decimals = numeral[:last], numeral[last + 1 :]
    readings = {float(integer.replace(separator, "") + (f".{decimals}" if decimals else ""))}
    if separator in ",." and numeral.count(separator) == 1 and not decimals:
        readings.add(float(numeral.replace(separator, ".")))  # a decimal comma or point
    return readings


def _scale(after: str) -> tuple[float, ...]:
    """The factors of the scale words right after a number ("million", "mil millones", "bn")."""
    match = _SCALE_AFTER.match(after)
    if match is None:
        return ()
    factors: tuple[float, ...] = ()
    for word in re.findall(r"[^\W\d_]+", match.group(1)):
        scale = _SCALES.get(_fold(word))
        if scale is None:
            break
        factors = tuple(f * s for f in (factors or (1.0,)) for s in scale)
    return factors


def _word_numbers(passage: str) -> set[float]:
    """Values written in number words: "two thousand", "dos mil millones", "deux cents"."""
    values: set[float] = set()
    total = current = 0.0
    seen = False
    for token in [*re.findall(r"[^\W\d_]+", passage), ""]:
        word = _fold(token)
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _HUNDREDS:
            current = (current or 1) * 100
        elif word in _WORD_SCALES and (seen or word in _BARE_SCALES):
            scale = _SCALES[word][0]
            if current == 0 and total > 0:
                total *= scale  # "mil millones": a scale of a scale
            else:
                total += (current or 1) * scale
            current = 0.0
        else:
            if seen:
                values.add(total + current)
            total = current = 0.0
            seen = False
            continue
        seen = True
    return values


def numbers_in(passage: str) -> set[float]:
    """Every value ``passage`` writes as a number, a scaled number or in number words."""
    values: set[float] = set()
    for match in _DIGITS.finditer(passage):
        readings = _readings(match.group(1), match.group(2))
        factors = _scale(passage[match.end() : match.end() + 24])
        values |= {r * f for r in readings for f in factors} if factors else readings
    return values | _word_numbers(passage)


def amount_stated(value: float, passages: Iterable[str]) -> bool:
    """Whether the number ``value`` is written in the passages."""
    return any(
        math.isclose(value, found, rel_tol=1e-9, abs_tol=1e-9)
        for passage in passages
        for found in numbers_in(passage)
    )
