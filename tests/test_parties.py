import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pactx import Party, PartyKind, SecurityAgreement
from pactx.chunking import merge_agreements
from pactx.parties import ORGANIZATIONS, cow_ccode, find_mentions, iso3_names, party_key, party_keys, resolve


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("United States", "USA"), ("US", "USA"), ("U.S.", "USA"), ("the United States", "USA"),
        ("Washington", "USA"), ("American", "USA"), ("Beijing", "CHN"), ("Chinese", "CHN"),
        ("Moscow", "RUS"), ("Kremlin", "RUS"), ("UK", "GBR"), ("Britain", "GBR"),
        ("South Korea", "KOR"), ("Seoul", "KOR"), ("North Korea", "PRK"), ("Pyongyang", "PRK"),
        ("Niger", "NER"), ("Nigeria", "NGA"), ("Burkina Faso", "BFA"), ("Papua New Guinea", "PNG"),
        ("the Philippines", "PHL"), ("Kyiv", "UKR"), ("Türkiye", "TUR"), ("Côte d’Ivoire", "CIV"),
        ("Australia", "AUS"), ("Tuvalu", "TUV"),
    ],
)
def test_states_resolve_to_iso3(name: str, code: str) -> None:
    resolution = resolve(name)
    assert (resolution.code, resolution.kind) == (code, PartyKind.STATE)


@pytest.mark.parametrize(
    ("name", "code"),
    [("NATO", "NATO"), ("the EU", "EU"), ("European Union", "EU"), ("ASEAN", "ASEAN"),
     ("Association of Southeast Asian Nations", "ASEAN"), ("African Union", "AU"),
     ("ECOWAS", "ECOWAS"), ("Alliance of Sahel States", "AES"), ("AUKUS", "AUKUS")],
)
def test_organizations_resolve_to_stable_codes(name: str, code: str) -> None:
    assert resolve(name).code == code
    assert resolve(name).kind is PartyKind.ORGANIZATION


@pytest.mark.parametrize("name", ["Hamas", "the junta", "Western allies", "ISIS-K"])
def test_unknown_parties_get_no_code(name: str) -> None:
    assert resolve(name).code is None
    assert resolve(name).kind is PartyKind.OTHER


def test_cow_numbers_are_a_cross_walk_not_letters() -> None:
    assert cow_ccode("USA") == 2
    assert cow_ccode("AUS") == 900  # COW letters "AUS" mean Austria (305): never used as codes
    assert cow_ccode("GBR") == 200


def test_find_mentions_reads_possessives_and_metonyms() -> None:
    text = "South Korea's president met Washington's envoy; Beijing objected."
    assert [(m.code, m.surface) for m in find_mentions(text)] == [
        ("KOR", "South Korea"), ("USA", "Washington"), ("CHN", "Beijing"),
    ]
    for m in find_mentions(text):
        assert text[m.start : m.end] == m.surface


_KNOWN = sorted((code, name) for code, name in iso3_names().items() if len(code) == 3 and code.isalpha())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_KNOWN), st.sampled_from([str.lower, str.upper, str.title, lambda s: s]), st.integers(0, 3))
def test_resolution_ignores_case_and_surrounding_space(item: tuple[str, str], transform, pad: int) -> None:
    _, name = item
    plain = resolve(name)
    assert resolve(" " * pad + transform(name) + " " * pad) == plain


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_KNOWN))
def test_official_names_resolve_to_their_own_code(item: tuple[str, str]) -> None:
    code, name = item
    organization_codes = {o.code for o in ORGANIZATIONS}
    if code in organization_codes:
        return
    assert resolve(name).code == code


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_resolve_never_raises_and_codes_are_well_formed(name: str) -> None:
    resolution = resolve(name)
    assert resolution.code is None or resolution.code.isupper()


def test_party_key_is_one_identity_for_codes_and_names() -> None:
    assert party_key(Party(name="the Americans", code=" usa ")) == party_key(Party(name="USA", code="USA"))
    assert party_key(Party(name="Sahel  Group")) == party_key(Party(name="sahel group"))
    assert party_key(Party(name="NATO")) != party_key(Party(name="NATO", code="NATO"))  # a name never equals a code
    agreement = SecurityAgreement.model_validate(
        {"evidence": [{"quote": "signed a pact"}], "parties": [{"name": "Mali", "code": "MLI"}, {"name": "Foo Bar"}],
         "agreement_type": "defense_pact", "status": "signed"}
    )
    assert party_keys(agreement) == {"MLI", "~foo bar"}


def test_chunk_merging_compares_parties_by_party_key() -> None:
    def pact(*parties: dict[str, str]) -> SecurityAgreement:
        return SecurityAgreement.model_validate(
            {"evidence": [{"quote": "signed a pact"}], "parties": list(parties),
             "agreement_type": "defense_pact", "status": "signed"}
        )

    merged = merge_agreements([pact({"name": "Mali", "code": "MLI"}, {"name": "Sahel  Group"}),
                               pact({"name": "Mali", "code": "mli"}, {"name": "sahel group"})])
    assert len(merged) == 1


@pytest.mark.parametrize(
    ("adjective", "code"),
    [("Philippine", "PHL"), ("Kazakh", "KAZ"), ("Uzbek", "UZB"), ("Argentinian", "ARG"), ("Djiboutian", "DJI")],
)
def test_adjectives_countryinfo_lacks_are_demonyms_of_their_state(adjective: str, code: str) -> None:
    """"the Philippine navy": an adjective for the state that is not its listed demonym ("Filipino")."""
    from pactx.parties import is_demonym

    assert [m.code for m in find_mentions(f"The {adjective} navy and its partners met.")] == [code]
    assert is_demonym(adjective) and resolve(adjective + "s").code == code


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Navies patrol the Gulf of Guinea and the South China Sea.", []),
        ("Les marines patrouillent dans le golfe de Guinée.", []),
        ("Tensions on the Korean Peninsula rose; Guinea and China signed a pact.", ["GIN", "CHN"]),
        ("In the Gulf of Oman, Oman signed with India.", ["OMN", "IND"]),
    ],
)
def test_a_state_named_inside_a_geographic_feature_is_no_mention(text: str, codes: list[str]) -> None:
    """"Gulf of Guinea", "South China Sea": a place, never a party (§3.1)."""
    assert [m.code for m in find_mentions(text)] == codes
