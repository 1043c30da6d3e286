"""Dates and amounts survive validation only when the text states them near the evidence."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pactx.stated import amount_stated, date_stated, near, numbers_in, stated_part
from pactx.validation import GroundedAgreementList, validation_context


def validate(text: str, quote: str, **fields: Any) -> tuple[dict[str, Any], list[str]]:
    """Validate one France-Germany agreement quoting ``quote``; return it and the warnings."""
    agreement = {
        "evidence": [{"quote": quote}],
        "parties": [{"name": "France"}, {"name": "Germany"}],
        "agreement_type": "defense_cooperation",
        "status": "signed",
        **fields,
    }
    context = validation_context(text)
    result = GroundedAgreementList.model_validate({"agreements": [agreement]}, context=context)
    return result.agreements[0].model_dump(mode="json"), context["warnings"]


@pytest.mark.parametrize(
    ("passage", "value"),
    [
        ("signed on 16 September 2023 in Paris", "2023-09-16"),
        ("signed on September 16th, 2023", "2023-09-16"),
        ("signed on Sept. 16, 2023", "2023-09-16"),
        ("signed on the 16th of September 2023", "2023-09-16"),
        ("signé le 3 février 2024", "2024-02-03"),
        ("signé le 1er mars 2024", "2024-03-01"),
        ("am 16. März 2022 unterzeichnet", "2022-03-16"),
        ("firmado el 16 de septiembre de 2023", "2023-09-16"),
        ("signed 16/09/2023", "2023-09-16"),
        ("signed 09/16/2023", "2023-09-16"),
        ("unterzeichnet am 16.09.2023", "2023-09-16"),
        ("signed 2023-09-16", "2023-09-16"),
        ("agreed in July 2023", "2023-07"),
        ("signé en février 2024", "2024-02"),
        ("its 2014 defence cooperation treaty", "2014"),
    ],
)
def test_stated_dates_are_supported(passage: str, value: str) -> None:
    assert date_stated(value, [passage])


@pytest.mark.parametrize(
    ("passage", "value"),
    [
        ("signed on 16 September 2023", "2022-09-16"),  # wrong year
        ("signed on 16 September 2023", "2023-10-16"),  # wrong month
        ("signed on 16 September 2023", "2023-09-15"),  # wrong day
        ("signed in September 2023", "2023-09-16"),  # no day given
        ("signed in 2023", "2023-09"),  # no month given
        ("they may sign it in 2023", "2023-05"),  # "may" is a verb, not May
        ("the pact was signed two years ago, in 2021", "2021-08"),  # "ago" is not agosto
        ("signed last Tuesday", "2024"),  # a relative date grounds no year
        ("troops arrived on 5 March and the pact followed in 2023", "2023-03-06"),
    ],
)
def test_unstated_dates_are_not_supported(passage: str, value: str) -> None:
    assert not date_stated(value, [passage])


def test_a_date_is_cut_to_the_precision_the_text_states() -> None:
    assert stated_part("2022-05-03", ["its 2022 security agreement"]) == "2022"
    assert stated_part("2022-05-03", ["signed in May 2022"]) == "2022-05"
    assert stated_part("2021-05-03", ["signed in May 2022"]) is None


@pytest.mark.parametrize(
    ("passage", "value"),
    [
        ("a $1.5 billion aid package", 1_500_000_000),
        ("a $2bn package", 2_000_000_000),
        ("2,000 troops", 2000),
        ("2 000 soldats", 2000),
        ("1.500 Soldaten", 1500),
        ("1,5 milliards d'euros", 1_500_000_000),
        ("€3 Mrd. für die Verteidigung", 3_000_000_000),
        ("2,5 Milliarden Euro", 2_500_000_000),
        ("dos mil soldados", 2000),
        ("dos mil millones de dólares", 2_000_000_000),
        ("two thousand troops", 2000),
        ("four new sites", 4),
        ("£2.5 billion in military funding", 2_500_000_000),
    ],
)
def test_stated_amounts_are_found(passage: str, value: float) -> None:
    assert amount_stated(value, [passage]), sorted(numbers_in(passage))


@pytest.mark.parametrize(
    ("passage", "value"),
    [
        ("a $1.5 billion aid package", 1.5),  # the number without its scale is not what the text says
        ("a $1.5 billion aid package", 15_000_000),
        ("2,000 troops", 3000),
        ("some troops will stay", 1000),
    ],
)
def test_unstated_amounts_are_not_found(passage: str, value: float) -> None:
    assert not amount_stated(value, [passage])


def test_near_is_the_evidence_sentence_and_one_either_side() -> None:
    text = "One. Two. Three. Four. Five."
    start = text.index("Three")
    assert near(text, [(start, start + 5)]) == ["Two. Three. Four."]
    assert near(text, [(0, 3), (text.index("Five"), len(text))]) == ["One. Two.", "Four. Five."]
    assert near(text, []) == [text]


TEXT = (
    "In March 2019 the two armies held drills. Relations were tense for years. "
    "Then Paris and Berlin talked. France and Germany signed a defence pact on 16 février 2023. "
    "It covers 2,000 troops. Nothing else was decided."
)
QUOTE = "France and Germany signed a defence pact on 16 février 2023"


def test_supported_date_and_amount_survive_validation() -> None:
    agreement, warnings = validate(
        TEXT,
        QUOTE,
        signed_date="2023-02-16",
        provisions=[{"type": "basing", "description": "troops", "amount": {"value": 2000, "unit": "troops"}}],
    )
    assert agreement["signed_date"] == "2023-02-16"
    assert agreement["provisions"][0]["amount"] == {"value": 2000.0, "unit": "troops"}
    assert warnings == []


def test_unsupported_date_and_amount_are_dropped_with_a_warning() -> None:
    agreement, warnings = validate(
        TEXT,
        QUOTE,
        signed_date="2023-09-01",
        effective_date="2019-03",  # stated in the text, but far from the evidence
        end_date="2023-02-17",
        provisions=[{"type": "basing", "description": "troops", "amount": {"value": 3000, "unit": "troops"}}],
    )
    assert agreement["signed_date"] == "2023"  # the year is stated, September is not
    assert agreement["effective_date"] is None
    assert agreement["end_date"] == "2023-02"
    assert agreement["provisions"][0]["amount"] is None
    assert "effective_date '2019-03' dropped: the text does not state it near the evidence" in warnings
    assert "signed_date '2023-09-01' cut to '2023': the text states it no more precisely" in warnings
    assert any("amount 3000 troops" in w for w in warnings)


def test_without_a_context_saved_dates_load_unchanged() -> None:
    agreement = {
        "evidence": [{"quote": "x signed"}],
        "parties": [{"name": "France"}],
        "agreement_type": "other",
        "status": "signed",
        "signed_date": "1999-01-01",
    }
    loaded = GroundedAgreementList.model_validate({"agreements": [agreement]})
    assert loaded.agreements[0].signed_date == "1999-01-01"


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
}
_FILLER = st.lists(
    st.sampled_from(
        ["the", "pact", "troops", "on", "in", "of", "talks", "may", "march", "ago", "12", "300",
         "last", "Tuesday", "week", "1,000", "mil", "deux", "août", "Sept.", "de", "2.5"]
    ),
    max_size=25,
).map(" ".join)
_DATES = st.tuples(st.integers(1900, 2100), st.integers(1, 12), st.integers(1, 28))


@settings(max_examples=300, deadline=None)
@given(filler=_FILLER, other=_DATES, lang=st.sampled_from(sorted(_MONTHS)), date=_DATES, precision=st.integers(1, 3))
def test_a_date_whose_year_the_text_lacks_never_survives(
    filler: str, other: tuple[int, int, int], lang: str, date: tuple[int, int, int], precision: int
) -> None:
    year, month, day = other
    written = f"{day} {_MONTHS[lang].split()[month - 1]} {year}"
    text = f"France and Germany signed a defence pact on {written} {filler}. Talks went on {filler}."
    value = "-".join([f"{date[0]:04d}", f"{date[1]:02d}", f"{date[2]:02d}"][:precision])
    if str(date[0]) in text:
        return  # the year is in the text: not this property
    agreement, warnings = validate(text, "France and Germany signed a defence pact", signed_date=value)
    assert agreement["signed_date"] is None
    assert any(w.startswith(f"signed_date {value!r} dropped") for w in warnings)


@settings(max_examples=300, deadline=None)
@given(filler=_FILLER, lang=st.sampled_from(sorted(_MONTHS)), date=_DATES, form=st.integers(0, 3))
def test_a_date_the_text_writes_out_survives(filler: str, lang: str, date: tuple[int, int, int], form: int) -> None:
    year, month, day = date
    name = _MONTHS[lang].split()[month - 1]
    written = [f"{day} {name} {year}", f"{day:02d}/{month:02d}/{year}", f"{year}-{month:02d}-{day:02d}",
               f"{day}. {name} {year}" if lang == "de" else f"{day} de {name} de {year}"][form]
    text = f"Talks went on {filler}. France and Germany signed a defence pact on {written}. {filler}"
    agreement, _ = validate(text, "France and Germany signed a defence pact", signed_date=f"{year}-{month:02d}-{day:02d}")
    assert agreement["signed_date"] == f"{year}-{month:02d}-{day:02d}"
