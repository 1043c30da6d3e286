"""Beyond English: French, Spanish and German cue words and state names, and other languages."""

from __future__ import annotations

import pytest

from pactx.cues import cues_cover, mentions_agreement, obligations_cued, statuses_cued, types_cued
from pactx.languages import detect_language
from pactx.providers import choice_constraints, source_constrained_schema
from pactx.schema import AgreementStatus
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
