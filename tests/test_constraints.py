"""Constrained decoding for the embedded model: grammar schemas, source and cue constraints."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from pactx.cues import obligations_cued, statuses_cued, types_cued
from pactx.providers import (
    answer_token_bound,
    bound_answer,
    choice_constraints,
    grammar_schema,
    grammar_text,
    source_constrained_schema,
)
from pactx.schema import EVIDENCE_MAX_CHARS
from pactx.validation import GroundedAgreementList

SCHEMA = GroundedAgreementList.model_json_schema()
REVOKED = (
    'The junta in Niger has revoked the security pact with the United States. '
    'Officials called it "neocolonial" and said Côte d\u2019Ivoire was next.'
)


GRAMMAR_MAX_ITEMS, GRAMMAR_MAX_LENGTH = 3, 80  # the documented caps


def _assert_capped(original: Any, capped: Any) -> None:
    """``capped`` is ``original`` with every list and free-text string capped, nothing else changed."""
    if isinstance(original, list):
        assert isinstance(capped, list) and len(capped) == len(original)
        for before, after in zip(original, capped, strict=True):
            _assert_capped(before, after)
        return
    if not isinstance(original, dict):
        assert capped == original
        return
    assert isinstance(capped, dict) and capped is not original
    free_text = original.get("type") == "string" and "enum" not in original and "pattern" not in original
    changed = set()
    if original.get("type") == "array":
        changed.add("maxItems")
        assert capped["maxItems"] == min(original.get("maxItems", GRAMMAR_MAX_ITEMS), GRAMMAR_MAX_ITEMS)
    if free_text:
        changed |= {"maxLength", "minLength"}
        assert capped["maxLength"] == min(original.get("maxLength", GRAMMAR_MAX_LENGTH), GRAMMAR_MAX_LENGTH)
        assert "minLength" not in capped  # a lower bound could exceed the cap
    assert set(capped) - changed == set(original) - changed
    for key in set(original) - changed:
        _assert_capped(original[key], capped[key])


_names = st.text("abcdefghij", min_size=1, max_size=6)
_bound = st.integers(0, 1000)


@st.composite
def _string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    extra = draw(st.sampled_from(["free", "enum", "pattern"]))
    if extra == "enum":
        schema["enum"] = draw(st.lists(st.text(max_size=5), min_size=1, max_size=3))
    elif extra == "pattern":
        schema["pattern"] = "^[A-Z]{3}$"
    for bound in ("maxLength", "minLength"):
        if draw(st.booleans()):
            schema[bound] = draw(_bound)
    return schema


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    arrays = st.builds(lambda items, cap: {"type": "array", "items": items, **({} if cap is None else {"maxItems": cap})},
                       children, st.none() | _bound)
    objects = st.builds(lambda props: {"type": "object", "properties": props}, st.dictionaries(_names, children, max_size=3))
    any_of = st.builds(lambda options: {"anyOf": options}, st.lists(children, min_size=1, max_size=3))
    return arrays | objects | any_of


_schemas = st.recursive(_string_schemas() | st.just({"type": "integer"}) | st.just({"type": "null"}), _containers,
                        max_leaves=12)


def test_grammar_schema_caps_the_response_schema() -> None:
    before = copy.deepcopy(SCHEMA)
    _assert_capped(SCHEMA, grammar_schema(SCHEMA))
    assert SCHEMA == before  # a copy: the real schema keeps its limits


@settings(max_examples=200, deadline=None)
@given(_schemas, st.dictionaries(_names, _schemas, max_size=3))
def test_grammar_schema_caps_every_list_and_free_text_of_any_schema(root: Any, defs: dict[str, Any]) -> None:
    schema = {**root, "$defs": defs} if isinstance(root, dict) else root
    before = copy.deepcopy(schema)
    _assert_capped(schema, grammar_schema(schema))
    assert schema == before


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


LONG_SENTENCE = (
    "Japan and the Philippines signed a reciprocal access agreement in Manila on Monday, a pact that lets "
    "each country's forces train on the other's soil, store equipment at agreed sites and take part in joint "
    "exercises, and which officials from both governments, speaking after a ceremony attended by defense "
    "ministers, coast guard commanders and diplomats from several neighbouring states, described as the most "
    "significant step in their security relations in decades; the accord still needs ratification by the "
    "Philippine Senate and the Japanese Diet, which is expected to take up the matter before the end of the year."
)
_COUNTRIES = [
    "Albania", "Belgium", "Bulgaria", "Canada", "Croatia", "Czechia", "Denmark", "Estonia", "Finland", "France",
    "Germany", "Greece", "Hungary", "Iceland", "Italy", "Latvia", "Lithuania", "Luxembourg", "Montenegro",
    "the Netherlands", "North Macedonia", "Norway", "Poland", "Portugal", "Romania", "Slovakia", "Slovenia",
    "Spain", "Sweden", "Turkey", "the United Kingdom", "the United States", "Japan", "Australia", "New Zealand",
    "South Korea", "Ukraine", "Moldova", "Georgia", "Ireland",
]
RUNAWAY = (
    "Ministers from " + ", ".join(_COUNTRIES[:-1]) + " and " + _COUNTRIES[-1]
    + " signed a joint security declaration, the alliance's widest pact yet, pledging mutual defense. "
) * 2


def _longest(node: Any, root: dict[str, Any]) -> Any:
    """The longest JSON value ``node`` admits (every list full, every optional field present)."""
    if "$ref" in node:
        return _longest(root["$defs"][node["$ref"].split("/")[-1]], root)
    if "anyOf" in node:
        return max((_longest(b, root) for b in node["anyOf"]), key=lambda v: len(json.dumps(v)))
    if "enum" in node:
        return max(node["enum"], key=lambda v: len(json.dumps(v)))
    kind = node.get("type")
    if kind == "object":
        return {k: _longest(v, root) for k, v in node.get("properties", {}).items()}
    if kind == "array":
        return [_longest(node["items"], root) for _ in range(node["maxItems"])]
    if kind == "string":
        return "2024-12-31" if "pattern" in node else "x" * node.get("maxLength", 80)  # free text: a token a char
    if kind == "number":
        return -1.2345678901234567e-123
    return None


@pytest.mark.parametrize("document", [LONG_SENTENCE, RUNAWAY, REVOKED])
def test_the_longest_answer_of_the_grammar_fits_max_tokens(document: str) -> None:
    schema = choice_constraints(source_constrained_schema(SCHEMA, document), document)
    assert answer_token_bound(schema) > 1024  # unbounded, these documents could run past the budget
    bound_answer(schema, 1024)
    bound = answer_token_bound(schema)
    assert bound <= 1024
    worst = json.dumps(_longest(schema, schema), separators=(", ", ": "))  # one byte is at most one token
    assert len(worst.encode("utf-8")) <= bound
    grammar_text(schema)  # still compiles
    quotes = schema["$defs"]["GroundedEvidence"]["properties"]["quote"]["enum"]
    assert all(len(q) <= EVIDENCE_MAX_CHARS for q in quotes)
    assert schema["properties"]["agreements"]["maxItems"] >= 1


def test_quote_choices_of_a_long_sentence_are_its_clauses() -> None:
    schema = source_constrained_schema(SCHEMA, LONG_SENTENCE)
    quotes = schema["$defs"]["GroundedEvidence"]["properties"]["quote"]["enum"]
    assert len(quotes) >= 2 and " ".join(quotes) == LONG_SENTENCE
