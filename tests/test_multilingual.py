"""Beyond English: French, Spanish and German cue words and state names, and other languages."""

from __future__ import annotations

import pytest

from pactx.baseline import baseline_agreements
from pactx.cues import cues_cover, mentions_agreement, obligations_cued, statuses_cued, types_cued
from pactx.languages import detect_language
from pactx.parties import find_mentions, proper_noun_mentions, resolve
from pactx.providers import choice_constraints, source_constrained_schema
from pactx.schema import AgreementStatus, PartyKind
from pactx.validation import GroundedAgreementList

SCHEMA = GroundedAgreementList.model_json_schema()

# One pact reported in each covered language other than English (written for these tests).
PACTS = {
    "fr": "L'Allemagne et la France ont signé à Paris un traité de défense mutuelle.",
    "es": "España y Marruecos firmaron en Rabat un pacto de defensa mutua.",
    "de": "Polen und Litauen haben in Warschau ein Abkommen über gegenseitigen Beistand unterzeichnet.",
}
UNCOVERED = {
    "it": "L'Italia e la Tunisia hanno firmato a Roma un patto di sicurezza e di difesa reciproca.",
    "pt": "Portugal e Angola assinaram em Lisboa um pacto de segurança e de defesa recíproca.",
}


def _constrained(text: str) -> dict:
    return choice_constraints(source_constrained_schema(SCHEMA, text), text)


@pytest.mark.parametrize("language", sorted(PACTS))
def test_a_pact_in_french_spanish_or_german_is_cued(language: str) -> None:
    text = PACTS[language]
    assert detect_language(text) == language and cues_cover(text)
    assert mentions_agreement(text)
    assert [s.value for s in statuses_cued(text)] == ["signed"]
    assert [o.value for o in obligations_cued(text)] == ["defense"]
    assert "defense_pact" in [t.value for t in types_cued(text)]
    schema = _constrained(text)
    assert schema["properties"]["agreements"].get("maxItems", 3) > 0
    assert schema["$defs"]["AgreementStatus"]["enum"] == ["signed"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Le Mali a annoncé son retrait du traité de défense.", "terminated"),
        ("Niamey a mis fin à l'accord de coopération militaire.", "terminated"),
        ("Le traité est entré en vigueur en 2021.", "in_force"),
        ("Les négociations sur le pacte se poursuivent.", "negotiating"),
        ("El Gobierno suspendió el acuerdo de seguridad.", "suspended"),
        ("El tratado entró en vigor en 2019.", "in_force"),
        ("Bamako se retiró del pacto en 2023.", "terminated"),
        ("Die Regierung hat das Abkommen gekündigt.", "terminated"),
        ("Der Vertrag ist seit 2020 in Kraft.", "in_force"),
        ("Die Verhandlungen über das Sicherheitsabkommen dauern an.", "negotiating"),
        ("Berlin hat die Zusammenarbeit im Rahmen des Bündnisses ausgesetzt.", "suspended"),
    ],
)
def test_status_cues_in_french_spanish_and_german(text: str, status: str) -> None:
    assert mentions_agreement(text)
    cued = [s.value for s in statuses_cued(text)]
    assert status in cued and len(cued) < len(AgreementStatus)  # all seven means none was cued


def test_german_agreement_nouns_are_found_inside_compounds_and_inflections() -> None:
    for text in ("das Verteidigungsabkommen", "des Bündnisses", "den Verträgen", "eine Sicherheitspartnerschaft"):
        assert mentions_agreement(text), text
    assert not mentions_agreement("Die Minister trafen sich in Berlin.")


def test_german_past_tense_is_not_a_conditional() -> None:
    # "wurde unterzeichnet" (was signed) is no "würde" (would): no proposed status.
    assert [s.value for s in statuses_cued("Das Abkommen wurde unterzeichnet.")] == ["signed"]


@pytest.mark.parametrize("language", sorted(UNCOVERED))
def test_a_pact_in_a_language_the_cues_do_not_cover_is_never_forced_empty(language: str) -> None:
    text = UNCOVERED[language]
    assert detect_language(text) == language and not cues_cover(text)
    schema = _constrained(text)
    assert schema["properties"]["agreements"].get("maxItems", 3) > 0
    assert "terminated" in schema["$defs"]["AgreementStatus"]["enum"]  # no narrowing either


@pytest.mark.parametrize(
    "text",
    [
        "Chile's foreign minister visited Peru to discuss fishing rights.",
        "Le ministre chilien s'est rendu au Pérou pour parler de pêche.",
        "El ministro chileno visitó Perú para hablar de la pesca.",
        "Der chilenische Außenminister besuchte Peru, um über Fischerei zu sprechen.",
    ],
)
def test_covered_text_without_agreement_words_is_still_forced_empty(text: str) -> None:
    assert cues_cover(text) and not mentions_agreement(text)
    assert _constrained(text)["properties"]["agreements"]["maxItems"] == 0


# --- State and organization names in French, Spanish and German -------------------------

PACT_PARTIES = {"fr": {"DEU", "FRA"}, "es": {"ESP", "MAR"}, "de": {"POL", "LTU"}}


@pytest.mark.parametrize("language", sorted(PACTS))
def test_the_states_of_a_foreign_language_pact_resolve_and_can_be_chosen(language: str) -> None:
    text = PACTS[language]
    mentions = find_mentions(text)
    assert {m.code for m in mentions} == PACT_PARTIES[language]
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.surface
    names = _constrained(text)["$defs"]["GroundedParty"]["properties"]["name"]["enum"]
    assert {resolve(name).code for name in names} >= PACT_PARTIES[language]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Allemagne", "DEU"), ("l'Allemagne", "DEU"), ("États-Unis", "USA"), ("Royaume-Uni", "GBR"),
        ("Corée du Sud", "KOR"), ("République de Corée", "KOR"), ("Fédération de Russie", "RUS"),
        ("Russie", "RUS"), ("Estados Unidos", "USA"), ("EE. UU.", "USA"), ("Corea del Norte", "PRK"),
        ("Reino Unido", "GBR"), ("Marruecos", "MAR"), ("Costa de Marfil", "CIV"),
        ("Vereinigte Staaten", "USA"), ("den Vereinigten Staaten", "USA"), ("Südkorea", "KOR"),
        ("Deutschlands", "DEU"), ("Russland", "RUS"), ("Großbritannien", "GBR"), ("Türkei", "TUR"),
    ],
)
def test_french_spanish_and_german_state_names_resolve(name: str, code: str) -> None:
    assert (resolve(name).code, resolve(name).kind) == (code, PartyKind.STATE)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("OTAN", "NATO"), ("UE", "EU"), ("Unión Europea", "EU"), ("Europäischen Union", "EU"),
        ("UA", "AU"), ("Union africaine", "AU"), ("CEDEAO", "ECOWAS"), ("ONU", "UN"),
        ("Vereinten Nationen", "UN"), ("OTSC", "CSTO"), ("OCS", "SCO"), ("Ligue arabe", "LAS"),
    ],
)
def test_organization_names_and_acronyms_in_other_languages(name: str, code: str) -> None:
    assert (resolve(name).code, resolve(name).kind) == (code, PartyKind.ORGANIZATION)


def test_french_articles_and_elisions_around_names() -> None:
    text = "La France et l'OTAN ont signé avec l'Union européenne et les États-Unis un accord."
    assert [(m.code, m.surface) for m in find_mentions(text)] == [
        ("FRA", "France"), ("NATO", "OTAN"), ("EU", "Union européenne"), ("USA", "États-Unis"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Grenade attacks hit the town; Island nations met on the island.",  # DE Island, FR Grenade
        "Islands nations and Grenades.",  # nor their inflected forms
        "Maurice and Dominique met Salvador in Granada to taste chili.",  # given names, a city
        "Chili exports grew. They told us about it.",  # FR Chili; "us" is no USA
        "Un accord a été conclu au sujet de la pêche, et un autre au printemps.",  # FR un, au
        "Uno de los acuerdos fue firmado en mayo.",  # ES uno
        "the allemagne and the états-unis of lower case",  # names are capitalised
    ],
)
def test_common_words_and_homographs_name_no_party(text: str) -> None:
    assert find_mentions(text) == []


def test_short_acronyms_count_only_in_capitals() -> None:
    assert [m.code for m in find_mentions("The UN, the US and the AU met; un, us, au do not.")] == ["UN", "USA", "AU"]
    assert [m.code for m in find_mentions("Nato and Otan are written both ways.")] == ["NATO", "NATO"]


# --- Proper-noun candidates: parties the gazetteer does not know --------------------------

GROUPS = (
    "Mali signed a security deal with the Wagner Group in March, and the German company "
    "Rheinmetall will build an ammunition plant. Hezbollah said on Monday it backed the pact; "
    "Iran also supports Hezbollah. Officials said al-Shabaab was not party to the Reciprocal "
    "Access Agreement. President Biden welcomed it, and Biden met Prime Minister Kishida."
)


def test_proper_nouns_offer_an_armed_group_and_a_company() -> None:
    mentions = proper_noun_mentions(GROUPS)
    assert [m.surface for m in mentions] == ["Wagner Group", "Rheinmetall", "Hezbollah", "Hezbollah", "al-Shabaab"]
    for mention in mentions:
        assert mention.code is None and mention.kind is PartyKind.OTHER
        assert GROUPS[mention.start : mention.end] == mention.surface
    assert resolve("Wagner Group").code is None
    assert [m.surface for m in proper_noun_mentions("The army bought a Rheinmetall system.")] == ["Rheinmetall"]


def test_proper_nouns_leave_out_ordinary_words_dates_agreements_people_and_known_parties() -> None:
    surfaces = {m.surface for m in proper_noun_mentions(GROUPS)}
    for word in ("Mali", "Iran", "March", "Monday", "Officials", "Reciprocal Access Agreement", "Biden", "Kishida"):
        assert not any(word in surface for surface in surfaces), word
    text = "Leaders of the Sahel met in Niamey near the South China Sea. Islamist fighters fled."
    assert proper_noun_mentions(text) == []


def test_in_german_only_acronyms_are_offered() -> None:
    text = "Die Regierung und die Hisbollah sprachen mit der RSF über das Abkommen."
    assert [m.surface for m in proper_noun_mentions(text)] == ["RSF"]


def test_proper_nouns_are_party_name_choices_in_the_grammar() -> None:
    names = source_constrained_schema(SCHEMA, GROUPS)["$defs"]["GroundedParty"]["properties"]["name"]["enum"]
    assert names == ["Mali", "German", "Iran", "Hezbollah", "Wagner Group", "Rheinmetall", "al-Shabaab"]


def test_proper_nouns_are_capped_by_frequency() -> None:
    text = " ".join(f"Talks with Alpha{i} Corp were held." for i in range(8)) + " Talks with Alpha7 Corp."
    names = source_constrained_schema(SCHEMA, text)["$defs"]["GroundedParty"]["properties"]["name"]["enum"]
    assert names[0] == "Alpha7 Corp" and len(names) == 4


@pytest.mark.parametrize("language", sorted(PACTS))
def test_the_floor_reads_a_foreign_language_pact(language: str) -> None:
    [agreement] = baseline_agreements(PACTS[language])
    assert {p.code for p in agreement.parties} == PACT_PARTIES[language]
    assert agreement.status.value == "signed"
    assert [o.value for o in agreement.obligations] == ["defense"]
