"""Normalize party names to codes: ISO 3166-1 alpha-3 for states, stable codes for organizations.

States are resolved from, in order: pactx's organization table; an alias index built from
the ``countryinfo`` package (official and alternative names, native names, capitals used as
metonyms such as "Washington" or "Beijing", demonyms such as "Japanese"); a few short forms
news text uses ("U.S.", "UK"); and finally the name-matching regular expressions of the
``countrycode`` package. The Correlates of War ``ccode`` cross-walk comes from ``countrycode``.
COW letter abbreviations (UKG, ROK, ...) are never used as codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pactx.grounding import normalize
from pactx.schema import Party, PartyKind, SecurityAgreement

__all__ = [
    "Organization",
    "ORGANIZATIONS",
    "Resolution",
    "resolve",
    "cow_ccode",
    "iso3_names",
    "party_key",
    "party_keys",
]


@dataclass(frozen=True)
class Organization:
    """An international organization or named grouping that can be party to an agreement."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()


ORGANIZATIONS: tuple[Organization, ...] = (
    Organization("NATO", "North Atlantic Treaty Organization", ("North Atlantic Alliance", "OTAN")),
    Organization("EU", "European Union", ("Brussels", "Union européenne")),
    Organization("ASEAN", "Association of Southeast Asian Nations", ("Association of South East Asian Nations",)),
    Organization("AU", "African Union", ("Union africaine",)),
    Organization("ECOWAS", "Economic Community of West African States", ("CEDEAO",)),
    Organization("AES", "Alliance of Sahel States", ("Alliance des États du Sahel", "Sahel Alliance")),
    Organization("AUKUS", "AUKUS", ()),
    Organization("QUAD", "Quadrilateral Security Dialogue", ("Quad",)),
    Organization("CSTO", "Collective Security Treaty Organization", ()),
    Organization("SCO", "Shanghai Cooperation Organisation", ("Shanghai Cooperation Organization",)),
    Organization("GCC", "Gulf Cooperation Council", ("Cooperation Council for the Arab States of the Gulf",)),
    Organization("UN", "United Nations", ("UN", "U.N.", "UNO")),
    Organization("OSCE", "Organization for Security and Co-operation in Europe", ("Organization for Security and Cooperation in Europe",)),
    Organization("OAS", "Organization of American States", ()),
    Organization("SADC", "Southern African Development Community", ()),
    Organization("IGAD", "Intergovernmental Authority on Development", ()),
    Organization("PIF", "Pacific Islands Forum", ()),
    Organization("LAS", "League of Arab States", ("Arab League",)),
    Organization("BRICS", "BRICS", ()),
    Organization("G7", "Group of Seven", ("G-7",)),
    Organization("FPDA", "Five Power Defence Arrangements", ("Five Power Defense Arrangements",)),
    Organization("ANZUS", "ANZUS", ("ANZUS Treaty",)),
    Organization("OIC", "Organisation of Islamic Cooperation", ("Organization of Islamic Cooperation",)),
)

# Short forms and metonyms news text uses that the country data lacks or gets wrong.
_STATE_OVERRIDES: dict[str, str] = {
    "u.s.": "USA",
    "u.s.a.": "USA",
    "us": "USA",
    "america": "USA",
    "washington": "USA",
    "the united states": "USA",
    "uk": "GBR",
    "u.k.": "GBR",
    "britain": "GBR",
    "england": "GBR",
    "whitehall": "GBR",
    "kremlin": "RUS",
    "the kremlin": "RUS",
    "kiev": "UKR",
    "astana": "KAZ",
    "nur-sultan": "KAZ",
    "abidjan": "CIV",
    "yamoussoukro": "CIV",
    "south korea": "KOR",
    "korea": "KOR",
    "seoul": "KOR",
    "north korea": "PRK",
    "dprk": "PRK",
    "pyongyang": "PRK",
    "taipei": "TWN",
    "the philippines": "PHL",
    "manila": "PHL",
    "the netherlands": "NLD",
    "the hague": "NLD",
    "ivory coast": "CIV",
    "czechia": "CZE",
    "turkiye": "TUR",
    "türkiye": "TUR",
    "kosovo": "XKX",
    "emirati": "ARE",
    "uae": "ARE",
    "saudi": "SAU",
    "new delhi": "IND",
    "delhi": "IND",
    "tel aviv": "ISR",
    "jerusalem": "ISR",
    "pentagon": "USA",
    "the pentagon": "USA",
    "white house": "USA",
    "the white house": "USA",
}

# Aliases too ambiguous to index ("Georgia" stays a country; these do not resolve).
_AMBIGUOUS: frozenset[str] = frozenset({"dominican", "congolese", "guinean", "sudanese"})

_ORG_BY_CODE = {org.code: org for org in ORGANIZATIONS}


@dataclass(frozen=True)
class Resolution:
    """What a party name resolved to."""

    code: str | None
    kind: PartyKind


def _key(name: str) -> str:
    return normalize(name, strip_accents=True).strip(" .,;:'\"")


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, Resolution]:
    from countryinfo._cache import load_countries

    # alias -> (population, code): an alias shared by a state and a territory ("American")
    # goes to the most populous, which is the state.
    best: dict[str, tuple[int, str]] = {}
    for info in load_countries()["countries"].values():
        iso3 = (info.get("ISO") or {}).get("alpha3")
        if not iso3 or not re.fullmatch(r"[A-Z]{3}", str(iso3)):
            continue
        population = int(info.get("population") or 0)
        demonym = info.get("demonym")
        names = [info.get("name"), info.get("capital"), demonym, info.get("nativeName")]
        names += [s for s in info.get("altSpellings") or [] if len(s) > 3]
        if isinstance(demonym, str) and demonym and not demonym.endswith("s"):
            names.append(demonym + "s")  # "Americans"
        capital = info.get("capital")
        if isinstance(capital, str) and capital.endswith(" D.C."):
            names.append(capital.removesuffix(" D.C."))  # "Washington"
        for name in names:
            if not isinstance(name, str) or not name or _key(name) in _AMBIGUOUS:
                continue
            key = _key(name)
            if key not in best or population > best[key][0]:
                best[key] = (population, str(iso3))
    index = {key: Resolution(code, PartyKind.STATE) for key, (_, code) in best.items()}
    for alias, code in _STATE_OVERRIDES.items():
        index[_key(alias)] = Resolution(code, PartyKind.STATE)
    for org in ORGANIZATIONS:
        for alias in (org.code, org.name, *org.aliases):
            index[_key(alias)] = Resolution(org.code, PartyKind.ORGANIZATION)
    return index


_LEADING = re.compile(r"^(the|government of|republic of|kingdom of|state of)\s+", re.IGNORECASE)


def resolve(name: str) -> Resolution:
    """Resolve a party name as written to a code and kind.

    Returns ``Resolution(None, PartyKind.OTHER)`` for a name pactx cannot place; it never
    guesses a code from a partial match.
    """
    index = _alias_index()
    key = _key(name)
    if key in index:
        return index[key]
    stripped = _key(_LEADING.sub("", name.strip()))
    if stripped in index:
        return index[stripped]
    code = _regex_iso3(name)
    if code:
        return Resolution(code, PartyKind.STATE)
    return Resolution(None, PartyKind.OTHER)


@lru_cache(maxsize=4096)
def _regex_iso3(name: str) -> str | None:
    from countrycode import countrycode

    try:
        found = countrycode(name, origin="country.name", destination="iso3c")
    except Exception:  # countrycode raises on odd input; an unknown name is not an error
        return None
    return found if isinstance(found, str) and re.fullmatch(r"[A-Z]{3}", found) else None


@lru_cache(maxsize=1024)
def cow_ccode(iso3: str) -> int | None:
    """Correlates of War numeric country code for an ISO alpha-3 code, if COW lists the state."""
    from countrycode import countrycode

    try:
        found = countrycode(iso3, origin="iso3c", destination="cown")
    except Exception:
        return None
    return int(found) if isinstance(found, (int, float)) and found == found else None


@lru_cache(maxsize=1)
def iso3_names() -> dict[str, str]:
    """Display name for every code pactx knows (states and organizations)."""
    from countryinfo._cache import load_countries

    names: dict[str, str] = {}
    for info in load_countries()["countries"].values():
        iso3 = (info.get("ISO") or {}).get("alpha3")
        if iso3:
            names.setdefault(str(iso3), str(info.get("name")))
    names["XKX"] = "Kosovo"
    for org in ORGANIZATIONS:
        names[org.code] = org.name
    return names


def party_key(party: Party) -> str:
    """Identity key of a party: which parties make two records the same.

    The code (stripped, upper-cased) when the party has one, else ``"~"`` and the case-folded
    name with white space collapsed. Codes are normalized because records from other tools
    may spell them in any case; the ``~`` keeps a name without a code from ever equalling a
    code. Chunk merging, consolidation and eval alignment all compare parties by this key.
    """
    if party.code:
        return party.code.strip().upper()
    return "~" + " ".join(party.name.casefold().split())


def party_keys(agreement: SecurityAgreement) -> frozenset[str]:
    """The set of party keys of an agreement."""
    return frozenset(party_key(p) for p in agreement.parties)


def organization(code: str) -> Organization | None:
    """The organization with this code, if pactx knows it."""
    return _ORG_BY_CODE.get(code)


@dataclass(frozen=True)
class Mention:
    """A party mentioned in a text: its code, kind and the words as written."""

    code: str
    kind: PartyKind
    surface: str
    start: int
    end: int


_TOKEN = re.compile(r"[^\W_][\w.'\u2019-]*", re.UNICODE)
_MAX_ALIAS_WORDS = 6


def find_mentions(text: str) -> list[Mention]:
    """Every state or organization named in ``text``, longest names first at each place.

    Scans word n-grams against the alias index only (no regex guessing), so what it returns
    is always a name the text spells out.
    """
    index = _alias_index()
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    mentions: list[Mention] = []
    position = 0
    while position < len(tokens):
        for width in range(min(_MAX_ALIAS_WORDS, len(tokens) - position), 0, -1):
            start = tokens[position][0]
            end = tokens[position + width - 1][1]
            surface = text[start:end].rstrip(".,;:'\u2019")
            hit = index.get(_key(surface))
            if hit is None and surface.lower().endswith(("'s", "\u2019s")):
                surface = surface[:-2]
                hit = index.get(_key(surface))
            if hit is not None and hit.code is not None:
                mentions.append(Mention(hit.code, hit.kind, surface, start, start + len(surface)))
                position += width
                break
        else:
            position += 1
    return mentions
