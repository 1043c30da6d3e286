import json

import pytest
from pydantic import ValidationError

from pactx import (
    AgreementStatus,
    AgreementType,
    ExtractionResult,
    Obligation,
    SecurityAgreement,
)
from pactx.schema import AgreementList


def _agreement(**overrides: object) -> SecurityAgreement:
    data: dict[str, object] = {
        "evidence": [{"quote": "Mali and Niger signed a pact"}],
        "parties": [{"name": "Mali", "code": "MLI", "kind": "state"}, {"name": "Niger", "code": "NER", "kind": "state"}],
        "agreement_type": "defense_pact",
        "status": "signed",
        "obligations": ["defense"],
    }
    data.update(overrides)
    return SecurityAgreement.model_validate(data)


def test_status_vocabulary_is_exactly_the_seven_stages() -> None:
    assert [s.value for s in AgreementStatus] == [
        "proposed", "negotiating", "agreed", "signed", "in_force", "suspended", "terminated",
    ]


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(ValidationError):
        _agreement(status="ratified-ish")


@pytest.mark.parametrize("date", ["2023", "2023-09", "2023-09-16"])
def test_partial_iso_dates_accepted(date: str) -> None:
    assert _agreement(signed_date=date).signed_date == date


@pytest.mark.parametrize("date", ["16 Sept 2023", "2023-13", "2023-02-32", "23-09-16", "2023/09/16"])
def test_malformed_dates_rejected(date: str) -> None:
    with pytest.raises(ValidationError):
        _agreement(signed_date=date)


def test_evidence_and_parties_are_required() -> None:
    with pytest.raises(ValidationError):
        _agreement(evidence=[])
    with pytest.raises(ValidationError):
        _agreement(parties=[])


def test_cow_type_and_plover_event_follow_type_and_status() -> None:
    pact = _agreement()
    assert pact.cow_type == "Type I: Defense Pact"
    assert pact.plover_event == "SUPPORT"
    ended = _agreement(status="terminated", agreement_type="security_partnership")
    assert ended.cow_type is None and ended.plover_event == "SANCTION"
    assert _agreement(status="proposed").plover_event == "AGREE"


def test_atop_flags_use_atop_variable_names() -> None:
    flags = _agreement(obligations=["defense", "consultation"]).atop_flags()
    assert flags == {"defense": True, "offense": False, "neutral": False, "nonagg": False, "consul": True}


def test_llm_schema_hides_fields_pactx_fills() -> None:
    schema = json.dumps(AgreementList.model_json_schema())
    for hidden in ('"start"', '"end"', '"code"', '"kind"', "cow_type", "plover_event"):
        assert hidden not in schema
    assert '"quote"' in schema and '"status"' in schema


def test_result_round_trips_through_json() -> None:
    result = ExtractionResult.model_validate(
        {
            "agreements": [_agreement().model_dump(mode="json")],
            "metadata": {
                "model": "m", "provider": "p", "prompt_version": "v", "prompt_hash": "h",
                "schema_hash": "s", "pactx_version": "0",
            },
        }
    )
    again = ExtractionResult.model_validate_json(result.model_dump_json())
    assert again == result
    assert again.agreements[0].obligations == [Obligation.DEFENSE]
    assert again.agreements[0].agreement_type is AgreementType.DEFENSE_PACT
