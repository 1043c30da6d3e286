from hypothesis import given, settings
from hypothesis import strategies as st

from pactx.grounding import SourceText, Span, normalize, sentences


def test_quote_found_with_exact_offsets() -> None:
    text = "Australia and Tuvalu have signed a security and migration pact."
    span = SourceText(text).find("Tuvalu have signed")
    assert span is not None
    assert text[span.start : span.end] == "Tuvalu have signed"


def test_absent_quote_is_none() -> None:
    assert SourceText("Australia and Tuvalu signed a pact.").find("Fiji signed a pact") is None


def test_whitespace_case_and_typography_are_normalized() -> None:
    text = "Blinken said the \u201cdoor is\u00a0open\u201d  for New\nZealand."
    span = SourceText(text).find('the "door is open" for new zealand')
    assert span is not None
    assert span.text == "the \u201cdoor is\u00a0open\u201d  for New\nZealand"


def test_non_ascii_offsets_are_exact() -> None:
    text = "La France et l\u2019Allemagne ont sign\u00e9 un accord \u00e0 Kyi\u0308v avec l'Ukraine."
    source = SourceText(text)
    span = source.find("ont sign\u00e9 un accord")
    assert span is not None and text[span.start : span.end] == "ont sign\u00e9 un accord"
    accentless = source.find("a Kyiv")  # accent-insensitive fallback, combining diaeresis in source
    assert accentless is not None and text[accentless.start : accentless.end] == "\u00e0 Kyi\u0308v"


def test_expanding_case_fold_keeps_offsets() -> None:
    text = "Die Stra\u00dfe war gesperrt, sagte der Minister."
    span = SourceText(text).find("strasse war")
    assert span is not None and text[span.start : span.end] == "Stra\u00dfe war"


def test_whole_word_skips_matches_inside_words() -> None:
    text = "Thus the plan failed; then US forces left."
    span = SourceText(text).find("US", whole_word=True)
    assert span is not None and span.start == text.index("US forces")
    assert SourceText("Thus it failed.").find("us", whole_word=True) is None


def test_sentences_cover_text_with_exact_offsets() -> None:
    text = "Mali and Niger signed a pact. The U.S. objected! Was it legal? Yes."
    spans = sentences(text)
    assert [s.text for s in spans] == [
        "Mali and Niger signed a pact.", "The U.S. objected!", "Was it legal?", "Yes.",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200), st.data())
def test_any_substring_is_found_and_maps_back(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    needle = text[start:end]
    if not normalize(needle):
        return
    span = SourceText(text).find(needle)
    assert span is not None
    assert normalize(text[span.start : span.end]) == normalize(needle) or normalize(
        text[span.start : span.end], strip_accents=True
    ) == normalize(needle, strip_accents=True)


def test_a_match_never_splits_a_character_that_normalizes_to_several() -> None:
    source = SourceText("Article 5 covers ¼ of the fleet; annex 1 lists it.")
    span = source.find("1")
    assert span is not None and span.text == "1" and source.text[span.start - 6 : span.start] == "annex "
    assert SourceText("Die Straße nach Kyïv").find("strasse nach kyiv") == Span(4, 20, "Straße nach Kyïv")
