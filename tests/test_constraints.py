"""Constrained decoding for the embedded model: grammar schemas, source and cue constraints."""

from __future__ import annotations

import json
import re

from pactx.cues import obligations_cued, statuses_cued, types_cued
from pactx.providers import choice_constraints, grammar_schema, grammar_text, source_constrained_schema
from pactx.validation import GroundedAgreementList

SCHEMA = GroundedAgreementList.model_json_schema()
REVOKED = (
    'The junta in Niger has revoked the security pact with the United States. '
    'Officials called it "neocolonial" and said Côte d\u2019Ivoire was next.'
)


def test_grammar_schema_caps_lists_and_free_text() -> None:
    schema = grammar_schema(SCHEMA)
    text = json.dumps(schema)
    assert '"maxLength": 400' not in text
    assert all(v <= 3 for v in map(int, re.findall(r'"maxItems": (\d+)', text)))


def test_quotes_and_party_names_can_only_come_from_the_source() -> None:
    schema = source_constrained_schema(SCHEMA, REVOKED)
    defs = schema["$defs"]
    quote = defs["GroundedEvidence"]["properties"]["quote"]
    assert quote["enum"] == [
        "The junta in Niger has revoked the security pact with the United States.",
        'Officials called it "neocolonial" and said Côte d\u2019Ivoire was next.',
    ]
    assert set(defs["GroundedParty"]["properties"]["name"]["enum"]) == {"Niger", "the United States", "Côte d\u2019Ivoire"}
    assert defs["GroundedAgreement"]["properties"]["evidence"]["maxItems"] == 1


def test_cued_choices_narrow_status_type_and_obligations() -> None:
    schema = choice_constraints(source_constrained_schema(SCHEMA, REVOKED), REVOKED)
    defs = schema["$defs"]
    assert "terminated" in defs["AgreementStatus"]["enum"]
    assert "signed" not in defs["AgreementStatus"]["enum"]
    assert "defense_pact" not in defs["AgreementType"]["enum"]
    assert defs["GroundedAgreement"]["properties"]["obligations"]["maxItems"] == 0


def test_text_without_agreement_words_allows_only_an_empty_list() -> None:
    text = "Chile's foreign minister visited Peru to discuss fishing rights."
    schema = choice_constraints(source_constrained_schema(SCHEMA, text), text)
    assert schema["properties"]["agreements"]["maxItems"] == 0


def test_cue_helpers() -> None:
    text = "Mali and Niger signed a mutual defense pact: an attack on one is an attack on all."
    assert [s.value for s in statuses_cued(text)] == ["signed"]
    assert "defense_pact" in [t.value for t in types_cued(text)]
    assert [o.value for o in obligations_cued(text)] == ["defense"]
    assert len(statuses_cued("No cue words here.")) == 7  # no cue: every status stays possible


def test_grammar_literals_escape_quotes_backslashes_and_unicode_escapes() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string", "enum": ['say "yes"', "C\u00f4te", "a\\b"]}}, "required": ["q"]}
    grammar = grammar_text(schema)
    rule = next(line for line in grammar.splitlines() if line.startswith("q ::="))
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', rule.split("::=", 1)[1])
    unescaped = [re.sub(r"\\(.)", r"\1", lit) for lit in literals]
    assert unescaped == [json.dumps('say "yes"'), json.dumps("C\u00f4te"), json.dumps("a\\b")]
