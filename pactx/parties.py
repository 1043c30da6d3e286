"""Normalize party names to codes: ISO 3166-1 alpha-3 for states, stable codes for organizations.

States are resolved from, in order: pactx's organization table; an alias index built from
the ``countryinfo`` package (official and alternative names, native names, capitals used as
metonyms such as "Washington" or "Beijing", demonyms such as "Japanese"); a few short forms
news text uses ("U.S.", "UK"); the French, Spanish and German names of states from the ISO
3166 translations of the ``pycountry`` package ("Allemagne", "Estados Unidos", "Südkorea");
and finally the name-matching regular expressions of the ``countrycode`` package. The
Correlates of War ``ccode`` cross-walk comes from ``countrycode``. COW letter abbreviations
(UKG, ROK, ...) are never used as codes.

In running text (:func:`find_mentions`) a name counts only as written like one: capitalised,
and an alias of three letters or fewer ("UN", "US", "AU") only in capitals, so the French
"un" and "au" or the English "us" name nobody. Translated names never override an English
alias, are at least four letters long, and homographs (a common word, a given name or a city
elsewhere: "Island", "Grenade", "Maurice") are not indexed. :func:`proper_noun_mentions` offers
the text's other capitalised names (armed groups, companies, new organizations) as candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pactx.cues import AGREEMENT_NOUN
from pactx.grounding import normalize
from pactx.languages import CALENDAR_WORDS, FUNCTION_WORDS, detect_language
from pactx.schema import Party, PartyKind, SecurityAgreement

__all__ = [
    "is_capital",
    "is_demonym",
    "Organization",
    "ORGANIZATIONS",
    "Resolution",
    "Mention",
    "resolve",
    "find_mentions",
    "proper_noun_mentions",
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


# Aliases include the standard French, Spanish and German names and acronyms where they differ.
ORGANIZATIONS: tuple[Organization, ...] = (
    Organization("NATO", "North Atlantic Treaty Organization", (
        "North Atlantic Alliance", "OTAN", "Alliance atlantique", "Alianza Atlántica",
        "Organisation du traité de l'Atlantique nord", "Organización del Tratado del Atlántico Norte",
        "Nordatlantikvertrag-Organisation",
    )),
    Organization("EU", "European Union", (
        "Brussels", "Union européenne", "UE", "Unión Europea", "Europäische Union", "Europäischen Union",
    )),
    Organization("ASEAN", "Association of Southeast Asian Nations", (
        "Association of South East Asian Nations", "ANASE", "Association des nations de l'Asie du Sud-Est",
        "Asociación de Naciones del Sudeste Asiático", "Verband Südostasiatischer Nationen",
    )),
    Organization("AU", "African Union", ("Union africaine", "UA", "Unión Africana", "Afrikanische Union", "Afrikanischen Union")),
    Organization("ECOWAS", "Economic Community of West African States", (
        "CEDEAO", "Communauté économique des États de l'Afrique de l'Ouest",
        "Comunidad Económica de los Estados de África Occidental", "Westafrikanische Wirtschaftsgemeinschaft",
        "Westafrikanischen Wirtschaftsgemeinschaft",
    )),
    Organization("AES", "Alliance of Sahel States", (
        "Alliance des États du Sahel", "Sahel Alliance", "Alianza de Estados del Sahel", "Allianz der Sahelstaaten",
    )),
    Organization("AUKUS", "AUKUS", ()),
    Organization("QUAD", "Quadrilateral Security Dialogue", ("Quad",)),
    Organization("CSTO", "Collective Security Treaty Organization", (
        "OTSC", "Organisation du traité de sécurité collective",
        "Organización del Tratado de Seguridad Colectiva", "OVKS",
        "Organisation des Vertrags über kollektive Sicherheit",
    )),
    Organization("SCO", "Shanghai Cooperation Organisation", (
        "Shanghai Cooperation Organization", "OCS", "Organisation de coopération de Shanghai",
        "Organización de Cooperación de Shanghái", "SOZ", "Schanghaier Organisation für Zusammenarbeit",
    )),
    Organization("GCC", "Gulf Cooperation Council", (
        "Cooperation Council for the Arab States of the Gulf", "CCG", "Conseil de coopération du Golfe",
        "Consejo de Cooperación del Golfo", "GKR", "Golf-Kooperationsrat",
    )),
    Organization("UN", "United Nations", (
        "UN", "U.N.", "UNO", "ONU", "Nations unies", "Organisation des Nations unies",
        "Naciones Unidas", "Organización de las Naciones Unidas", "Vereinte Nationen", "Vereinten Nationen",
    )),
    Organization("OSCE", "Organization for Security and Co-operation in Europe", (
        "Organization for Security and Cooperation in Europe", "OSZE",
        "Organisation pour la sécurité et la coopération en Europe",
        "Organización para la Seguridad y la Cooperación en Europa",
        "Organisation für Sicherheit und Zusammenarbeit in Europa",
    )),
    Organization("OAS", "Organization of American States", (
        "OEA", "Organisation des États américains", "Organización de los Estados Americanos",
        "Organisation Amerikanischer Staaten",
    )),
    Organization("SADC", "Southern African Development Community", ()),
    Organization("IGAD", "Intergovernmental Authority on Development", ()),
    Organization("PIF", "Pacific Islands Forum", ()),
    Organization("LAS", "League of Arab States", ("Arab League", "Ligue arabe", "Liga Árabe", "Arabische Liga", "Arabischen Liga")),
    Organization("BRICS", "BRICS", ()),
    Organization("G7", "Group of Seven", ("G-7",)),
    Organization("FPDA", "Five Power Defence Arrangements", ("Five Power Defense Arrangements",)),
    Organization("ANZUS", "ANZUS", ("ANZUS Treaty",)),
    Organization("G5S", "G5 Sahel", ("G5 Sahel", "G-5 Sahel", "G5-Sahel", "Groupe des cinq pour le Sahel")),
    Organization("EAC", "East African Community", (
        "Communauté d'Afrique de l'Est", "Comunidad de África Oriental", "Ostafrikanische Gemeinschaft",
    )),
    Organization("ECCAS", "Economic Community of Central African States", (
        "CEEAC", "Communauté économique des États de l'Afrique centrale",
        "Comunidad Económica de los Estados de África Central", "Wirtschaftsgemeinschaft Zentralafrikanischer Staaten",
    )),
    Organization("CIS", "Commonwealth of Independent States", (
        "Communauté des États indépendants", "Comunidad de Estados Independientes",
        "Gemeinschaft Unabhängiger Staaten",
    )),
    Organization("OIC", "Organisation of Islamic Cooperation", (
        "Organization of Islamic Cooperation", "OCI", "Organisation de la coopération islamique",
        "Organización para la Cooperación Islámica",
    )),
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

# Capitals as French, Spanish and German write them where that differs from countryinfo's
# English name ("Warschau", "Moscou", "Pekín"): metonyms for their state (§3.3) in the languages
# the cues cover, and places like any capital ("a summit in Wien").
_CAPITAL_EXONYMS: dict[str, str] = {
    "varsovie": "POL", "varsovia": "POL", "warschau": "POL",
    "moscou": "RUS", "moscu": "RUS", "moskau": "RUS",
    "pekin": "CHN", "peking": "CHN",
    "londres": "GBR",
    "vienne": "AUT", "viena": "AUT", "wien": "AUT",
    "praga": "CZE", "prag": "CZE",
    "rom": "ITA",
    "athenes": "GRC", "atenas": "GRC", "athen": "GRC",
    "lisbonne": "PRT", "lisboa": "PRT", "lissabon": "PRT",
    "copenhague": "DNK", "kopenhagen": "DNK",
    "kiew": "UKR",
    "bucarest": "ROU", "bukarest": "ROU",
    "estocolmo": "SWE",
    "tokio": "JPN",
    "seoul": "KOR", "seul": "KOR",
    "teheran": "IRN",
    "riyad": "SAU", "riad": "SAU",
    "le caire": "EGY", "el cairo": "EGY", "kairo": "EGY",
    "alger": "DZA", "argel": "DZA", "algier": "DZA",
    "bagdad": "IRQ",
    "damas": "SYR", "damasco": "SYR", "damaskus": "SYR",
    "beyrouth": "LBN",
    "belgrado": "SRB", "belgrad": "SRB",
    "manille": "PHL",
    "nueva delhi": "IND", "neu-delhi": "IND",
    "kaboul": "AFG",
    "la havane": "CUB", "la habana": "CUB", "havanna": "CUB",
    "addis-abeba": "ETH", "adis abeba": "ETH",
    "tbilissi": "GEO", "tiflis": "GEO",
    "erevan": "ARM", "eriwan": "ARM",
    "bakou": "AZE",
}

# Adjectives for a state that countryinfo's demonyms lack (it lists "Filipino", not
# "Philippine"; "Kazakhstani", not "Kazakh"): demonyms too, so a side only where they name
# who acts for the state ("the Philippine navy", §3.3).
_DEMONYM_OVERRIDES: dict[str, str] = {
    "philippine": "PHL",
    "kazakh": "KAZ",
    "kyrgyz": "KGZ",
    "nepali": "NPL",
    "timorese": "TLS",
    "slovenian": "SVN",
    "bosnian": "BIH",
    "uzbek": "UZB",
    "tajik": "TJK",
    "argentinian": "ARG",
    "ecuadorian": "ECU",
    "djiboutian": "DJI",
}

# Aliases too ambiguous to index ("Georgia" stays a country; these do not resolve), and
# homographs of a state's name in some language: a common word, a given name or a city.
_AMBIGUOUS: frozenset[str] = frozenset({
    "dominican", "congolese", "guinean", "sudanese",
    "island", "grenade", "granada", "chili", "maurice", "mauricio", "dominique", "salvador",
    "guadalupe", "salomon",
})

# Common French, Spanish and German short forms the ISO 3166 translations lack.
_TRANSLATED_OVERRIDES: dict[str, dict[str, str]] = {
    "fr": {"Russie": "RUS", "Grande-Bretagne": "GBR"},
    "es": {"Rusia": "RUS", "Gran Bretaña": "GBR", "EE. UU.": "USA", "EE.UU.": "USA", "EEUU": "USA", "Costa de Marfil": "CIV"},
    "de": {"Russland": "RUS", "Großbritannien": "GBR"},
}
_TRANSLATION_LANGUAGES = tuple(_TRANSLATED_OVERRIDES)
# Words of a state's form in an inverted ISO name ("Russie, Fédération de"): the part before
# the comma is then the state's short name.
_STATE_FORM = re.compile(r"r[ée]publi|federa|f[ée]d[ée]ra|[ée]tat|estado|staat|provin|union|uni[óo]n", re.I)
_MIN_TRANSLATED_LENGTH = 4

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
    plurals = {alias + "s": code for alias, code in _DEMONYM_OVERRIDES.items() if not alias.endswith("s")}
    for alias, code in {**_STATE_OVERRIDES, **_CAPITAL_EXONYMS, **_DEMONYM_OVERRIDES, **plurals}.items():
        index[_key(alias)] = Resolution(code, PartyKind.STATE)
    for org in ORGANIZATIONS:
        for alias in (org.code, org.name, *org.aliases):
            index[_key(alias)] = Resolution(org.code, PartyKind.ORGANIZATION)
    return index


@lru_cache(maxsize=1)
def _capital_keys() -> frozenset[str]:
    from countryinfo._cache import load_countries

    capitals = [info.get("capital") for info in load_countries()["countries"].values()]
    former = ["Kiev", "Astana"]  # names still in use for capitals countryinfo lists as Kyiv, Nur-Sultan
    named = [c for c in capitals if isinstance(c, str) and c] + former + list(_CAPITAL_EXONYMS)
    return frozenset(_key(name.removesuffix(" D.C.")) for name in named)


def is_capital(name: str) -> bool:
    """True when ``name`` is a state's capital city ("Washington", "Manila"): in running text
    either a metonym for the government (§3.3) or a place."""
    return _key(name) in _capital_keys()


@lru_cache(maxsize=1)
def _demonym_keys() -> frozenset[str]:
    from countryinfo._cache import load_countries

    demonyms = [info.get("demonym") for info in load_countries()["countries"].values()]
    singular = [d for d in demonyms if isinstance(d, str) and d] + list(_DEMONYM_OVERRIDES)
    return frozenset(_key(d) for d in singular + [d + "s" for d in singular if not d.endswith("s")])


def is_demonym(name: str) -> bool:
    """True when ``name`` is a state's demonym or its plural ("Japanese", "North Korean",
    "Palestinians"): an adjective or a people, which stands for the state only when it names
    who acts for it ("Ukrainian President Zelenskyy", §3.3)."""
    return _key(name) in _demonym_keys()


def _german_forms(name: str) -> list[str]:
    """A German name and its inflected forms: weak adjective endings, a genitive ``-s``.

    "Vereinigte Staaten" is also written "(den) Vereinigten Staaten", "Deutschland" also
    "Deutschlands".
    """
    words = name.split()
    forms = [name]
    if len(words) > 1:
        inflected = [
            re.sub(r"(e|es|er)$", "en", word) if word[:1].isupper() and i < len(words) - 1 else word
            for i, word in enumerate(words)
        ]
        forms.append(" ".join(inflected))
    elif not re.search(r"(?:[sxzße]|ei|en|ln)$", name):  # feminine and plural names take none
        forms.append(name + "s")
    return forms


def _inverted(name: str) -> list[str]:
    """Natural forms of an inverted ISO name: "Corée, République de" -> "République de Corée"."""
    head, _, tail = (part.strip() for part in name.partition(","))
    joined = tail + head if tail.endswith(("'", "\u2019")) else f"{tail} {head}"
    return [joined, head] if _STATE_FORM.search(tail) else [joined]


@lru_cache(maxsize=1)
def _translated_index() -> dict[str, Resolution]:
    """French, Spanish and German state names, for names the English index does not know."""
    import gettext

    import pycountry

    english = _alias_index()
    codes: dict[str, set[str]] = {}
    for language in _TRANSLATION_LANGUAGES:
        catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])

        def forms(name: str) -> list[str]:
            if _key(name) in _AMBIGUOUS:
                return []  # nor its inflected forms ("Islands")
            return _german_forms(name) if language == "de" else [name]

        for country in pycountry.countries:
            english_names = {country.name, getattr(country, "official_name", None), getattr(country, "common_name", None)}
            for english_name in filter(None, english_names):
                name = re.sub(r"\s*\(.*\)$", "", catalog.gettext(english_name))
                for form in (f for n in (_inverted(name) if "," in name else [name]) for f in forms(n)):
                    codes.setdefault(_key(form), set()).add(str(country.alpha_3))
        for name, code in _TRANSLATED_OVERRIDES[language].items():
            for form in forms(name):
                codes[_key(form)] = {code}
    index: dict[str, Resolution] = {}
    for key, found in codes.items():
        if len(found) == 1 and len(key) >= _MIN_TRANSLATED_LENGTH and key not in english:
            index[key] = Resolution(next(iter(found)), PartyKind.STATE)
    return index


_LEADING = re.compile(
    r"^(?:(?:the|la|le|les|el|los|las|die|der|das|den|government of|republic of|kingdom of|state of)\s+|[ld]['\u2019])",
    re.IGNORECASE,
)


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
    translated = _translated_index()
    for candidate in (key, stripped):
        if candidate in translated:
            return translated[candidate]
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
    """A party mentioned in a text: its code (None when unknown), kind and the words as written."""

    code: str | None
    kind: PartyKind
    surface: str
    start: int
    end: int


_TOKEN = re.compile(r"[^\W_][\w.'\u2019-]*", re.UNICODE)
# French elision before a name: "l'Allemagne", "d'Espagne", "qu'Israël".
_ELISION = re.compile(r"(?:[ldLD]|[qQ]u|[jJ]usqu|[lL]orsqu|[pP]uisqu)['\u2019](?=[^\W\d_])")
_MAX_ALIAS_WORDS = 8
_SHORT_ALIAS_LETTERS = 3


def _tokens(text: str) -> list[tuple[int, int]]:
    """Word spans of ``text``; an elided article is a word of its own."""
    spans: list[tuple[int, int]] = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        elision = _ELISION.match(text, start, end)
        if elision:
            spans.append((start, elision.end()))
            start = elision.end()
        spans.append((start, end))
    return spans


def _written_as_name(surface: str) -> bool:
    """Capitalised (after a leading "the"), and a short alias in capitals: "UN", not "un"."""
    words = surface.split()
    if len(words) > 1 and words[0].lower() == "the":
        words = words[1:]
    if not words[0][:1].isupper():
        return False
    letters = [char for char in surface if char.isalpha()]
    return len(letters) > _SHORT_ALIAS_LETTERS or all(char.isupper() for char in letters)


@lru_cache(maxsize=1 << 16)
def _lookup(surface: str) -> Resolution | None:
    """The party an n-gram of a text names, if any (memoized: the same n-grams recur in every text)."""
    if not _written_as_name(surface):
        return None
    key = _key(surface)
    return _alias_index().get(key) or _translated_index().get(key)


_FEATURE_BEFORE = re.compile(
    r"\b(?:Gulf|Bay|Sea|Strait|Straits|Horn|Golfe|Golfo|Golf|Mer|Mar|D[ée]troit|Estrecho|Meerenge)"
    r" (?:of|de|du|del|de la|von|vor)(?: the| la| l['\u2019])? ?$",
    re.IGNORECASE,
)
_FEATURE_AFTER = re.compile(r"(?:-| )(?:Sea|Gulf|Strait|Straits|Ocean|Basin|Peninsula|Current)\b")


def _in_feature_name(text: str, start: int, end: int) -> bool:
    """True for a state's name inside a geographic feature's ("Gulf of Guinea", "South China
    Sea", "Korean Peninsula"): a place, never a party (guidelines §3.1)."""
    return _FEATURE_BEFORE.search(text, max(0, start - 20), start) is not None or (
        _FEATURE_AFTER.match(text, end) is not None
    )


def find_mentions(text: str) -> list[Mention]:
    """Every state or organization named in ``text``, longest names first at each place.

    Scans word n-grams against the alias indexes only (no regex guessing), so what it returns
    is always a name the text spells out, written as a name (see the module docstring).
    """
    tokens = _tokens(text)
    mentions: list[Mention] = []
    position = 0
    while position < len(tokens):
        for width in range(min(_MAX_ALIAS_WORDS, len(tokens) - position), 0, -1):
            start = tokens[position][0]
            end = tokens[position + width - 1][1]
            surface = text[start:end].rstrip(".,;:'\u2019")
            hit = _lookup(surface)
            if hit is None and surface.lower().endswith(("'s", "\u2019s")):
                surface = surface[:-2]
                hit = _lookup(surface)
            if hit is not None and hit.code is not None:
                if not _in_feature_name(text, start, start + len(surface)):
                    mentions.append(Mention(hit.code, hit.kind, surface, start, start + len(surface)))
                position += width
                break
        else:
            position += 1
    return mentions


# Titles before a person's name (EN/FR/ES/DE, accents stripped): a name after one is a person.
_TITLES: frozenset[str] = frozenset(
    """
    president vice prime minister chancellor secretary king queen prince crown emir sheikh
    general admiral colonel commander chief director ambassador envoy spokesman spokeswoman
    spokesperson adviser advisor premier pope mr mrs ms dr sir lord senator governor mayor
    counterpart homologue homologo amtskollege amtskollegin
    presidente presidenta ministre ministro ministra ministerin kanzler kanzlerin
    bundeskanzler bundeskanzlerin chancelier canciller roi reine rey reina konig konigin
    prasident prasidentin generale senor senora monsieur madame herr frau
    """.split()
)
_CONNECTORS = frozenset(
    {"of", "for", "the", "de", "du", "des", "del", "la", "der", "fur", "von", "van", "da", "di", "bin", "ibn", "bint"}
)
_MAX_CONNECTORS = 2
# Places are not parties: regions (EN/FR/ES/DE) and the last word of a geographic feature.
_REGIONS: frozenset[str] = frozenset(
    """
    europe europa asia asie asien africa afrique afrika america americas amerique amerika
    oceania oceanie ozeanien pacific pacifique pacifico pazifik atlantic atlantique atlantico
    atlantik arctic arctique artico arktis antarctic antarctica mediterranean mediterranee
    mediterraneo mittelmeer baltic baltique baltico baltikum caribbean caraibes caribe karibik
    sahel balkans balcanes balkan caucasus caucase caucaso kaukasus indo-pacific indo-pacifique
    indo-pacifico indopazifik asia-pacific asie-pacifique asia-pacifico asien-pazifik
    scandinavia scandinavie skandinavien levant maghreb
    """.split()
)
_FEATURES: frozenset[str] = frozenset(
    """
    sea ocean gulf strait straits shoal reef island islands peninsula river lake bay canal
    coast basin desert mountains valley east west north south
    mer ocean golfe detroit ile iles peninsule fleuve
    mar oceano golfo estrecho isla islas peninsula rio
    meer ozean golf meerenge insel inseln halbinsel fluss kuste
    """.split()
)
_LOCATIVES = frozenset({"in", "at", "near", "en", "pres", "bei", "nahe"})  # not French "à": "a" is English
_ADJECTIVE = re.compile(r"(?:ist|ic|ern|ian|ean|ese|ish|ists|ians|eans)$")
_ARABIC_ARTICLE = re.compile(r"^(?:al|el|ad|as|ash|an|ar|at|az)-(?=[^\W\d_])")
_OPENERS = frozenset('.!?:;"\u201c\u201d\u00ab\u00bb([{\u2014\u2013\n')


def _word_key(word: str) -> str:
    return _key(re.sub(r"['\u2019]s$", "", word))


def _name_like(word: str) -> bool:
    """A capitalised word of two letters or more that is not a month or a day; in a hyphenated
    word every part capitalised and none a known party ("Russian-led" and "US-Philippine" are
    descriptions, not names)."""
    body = _ARABIC_ARTICLE.sub("", word)
    letters = [char for char in body if char.isalpha()]
    if len(letters) < 2 or not body[:1].isupper() or _word_key(word) in CALENDAR_WORDS:
        return False
    parts = [part for part in re.split(r"[-\u2010\u2011]", body) if part]
    if len(parts) > 1 and any(not part[:1].isupper() or _lookup(part.rstrip(".")) for part in parts):
        return False
    return True


def _a_place(keys: list[str], before: str | None) -> bool:
    if keys[-1] in _FEATURES or any(key in _REGIONS for key in keys):
        return True
    return len(keys) == 1 and before in _LOCATIVES


def _sentence_initial(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t")
    return not before or before[-1] in _OPENERS


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    text: str
    known: bool  # inside a gazetteer mention

    @property
    def key(self) -> str:
        return _word_key(self.text)


def _words(text: str) -> list[_Word]:
    gazetteer = [(m.start, m.end) for m in find_mentions(text)]
    words: list[_Word] = []
    for start, end in _tokens(text):
        word = text[start:end].rstrip(".,;:'\u2019")
        if word:
            known = any(start < g_end and end > g_start for g_start, g_end in gazetteer)
            words.append(_Word(start, start + len(word), word, known))
    return words


def _run_end(text: str, words: list[_Word], first: int) -> int:
    """Index of the last word of the name starting at ``words[first]``."""
    last = first
    while True:
        following = last + 1
        while (
            following < len(words)
            and following - last <= _MAX_CONNECTORS
            and words[following].text in _CONNECTORS
        ):
            following += 1
        if following >= len(words) or words[following].known or not _name_like(words[following].text):
            return last
        if any(text[a.end : b.start].strip() for a, b in zip(words[last:following], words[last + 1 : following + 1])):
            return last  # punctuation between the words: two names
        last = following


def _touches(text: str, word: _Word | None, start: int, end: int) -> bool:
    """True when ``word`` is a gazetteer mention right beside the span: one longer name."""
    if word is None or not word.known:
        return False
    between = text[word.end : start] if word.end <= start else text[end : word.start]
    return not between.strip(" -")


def proper_noun_mentions(text: str) -> list[Mention]:
    """Capitalised names in ``text`` the gazetteer does not resolve, as candidate parties.

    Armed groups, companies and new organizations ("Wagner Group", "Rheinmetall",
    "Hezbollah") have no code; they are returned with ``code=None`` and kind ``other``, in
    text order, one entry per occurrence. A name is a run of capitalised words joined by
    spaces and at most two lower-case connectors ("Islamic State of Iraq"). Left out:
    gazetteer mentions and names fused with one ("South China Sea"); month and day names; a
    sentence's first word when it is a function word, is written in lower case elsewhere in
    the text, or is capitalised nowhere else and stands alone or before a connector
    ("Officials said", "Leaders of the ..."); names of an agreement (with an
    agreement noun: "Reciprocal Access Agreement"); places (regions, geographic features, a
    single word after "in" or "at"); lone adjectives ("Islamist", "Western"); and people,
    told by a title before or inside the name ("President Biden", and "Biden" later). German
    capitalises every noun, so in a German text only acronyms are offered.
    """
    words = _words(text)
    acronyms_only = detect_language(text) == "de"
    lower_words = {w.key for w in words if w.text[:1].islower()}
    inside = {w.key for w in words if _name_like(w.text) and not _sentence_initial(text, w.start)}
    people: set[str] = set()
    mentions: list[Mention] = []
    index = 0
    while index < len(words):
        if words[index].known or not _name_like(words[index].text):
            index += 1
            continue
        last = _run_end(text, words, index)
        run = words[index : last + 1]
        before = words[index - 1] if index else None
        after = words[last + 1] if last + 1 < len(words) else None
        index = last + 1
        keys = [w.key for w in run]
        titles = [i for i, key in enumerate(keys) if any(part in _TITLES for part in key.split("-"))]
        if titles or (before is not None and before.key in _TITLES):
            people.update(k for k in keys[titles[-1] + 1 if titles else 0 :] if k not in _CONNECTORS)
            continue
        if _sentence_initial(text, run[0].start):
            first = run[0]
            unconfirmed = first.key not in inside and (len(run) == 1 or run[1].text in _CONNECTORS)
            if first.key in FUNCTION_WORDS or (not first.text.isupper() and (first.key in lower_words or unconfirmed)):
                before, run = first, run[1:]
                while run and run[0].text in _CONNECTORS:
                    before, run = run[0], run[1:]
        while run and run[-1].text in _CONNECTORS:
            run = run[:-1]
        if not run:
            continue
        keys = [w.key for w in run]
        start, end = run[0].start, run[-1].end
        surface = re.sub(r"['\u2019]s$", "", text[start:end])
        if (
            all(key in people for key in keys)
            or (acronyms_only and not (len(run) == 1 and run[0].text.isupper()))
            or _touches(text, before, start, end)
            or _touches(text, after, start, end)
            or AGREEMENT_NOUN.search(surface)
            or _a_place(keys, before.key if before else None)
            or (len(run) == 1 and not run[0].text.isupper() and _ADJECTIVE.search(keys[0]))
        ):
            continue
        mentions.append(Mention(None, PartyKind.OTHER, surface, start, start + len(surface)))
    return mentions
