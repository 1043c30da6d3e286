"""Which language a text is in, and the few words per language that are never names.

Language identification uses ``py3langid`` (a naive-Bayes model over byte n-grams covering
97 languages, deterministic and loaded once, about a second): :func:`detect_language` returns
an ISO 639-1 code. The cue vocabulary (:mod:`pactx.cues`) covers English, French, Spanish and
German; other texts are recognised as such rather than forced into one of those four.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["detect_language", "CALENDAR_WORDS", "FUNCTION_WORDS"]

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@lru_cache(maxsize=256)
def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language ``text`` is written in; None when it has no letters."""
    if not _LETTER.search(text):
        return None
    import py3langid  # loads its model on first use

    language, _ = py3langid.classify(text)
    return str(language)


# Month and day names (EN/FR/ES/DE): capitalised in English and German, and at the start of a
# French or Spanish sentence, but never the name of a party.
CALENDAR_WORDS: frozenset[str] = frozenset(
    """
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    lundi mardi mercredi jeudi vendredi samedi dimanche
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre
    diciembre lunes martes miercoles jueves viernes sabado domingo
    januar februar marz april mai juni juli august september oktober november
    dezember montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag
    """.split()
)
"""Lower-case, accents and umlaut marks stripped, as ``grounding.normalize`` folds them."""

# Articles, pronouns, prepositions, conjunctions and sentence adverbs of the four languages:
# capitalised only because they open a sentence or a headline.
FUNCTION_WORDS: frozenset[str] = frozenset(
    """
    a an the this that these those it its he she they we i you his her their our my your
    in on at of for to from by with without into over under after before during since as
    and or but nor so yet if when while although though because however meanwhile also
    there here then now today yesterday tomorrow last next earlier later both all some
    many most several each every such other another no not new former what which who
    according
    le la les l un une des du de d au aux ce cette ces cet il elle ils elles nous vous on
    et ou mais donc car ni si quand lorsque dans sur sous avec sans pour par selon apres
    avant depuis pendant entre chez lors
    el los las lo uno unos unas del al este esta estos estas ese esa eso y o pero sino
    en con sin para por segun tras desde durante entre ante hacia cuando mientras ademas
    der die das den dem des ein eine einen einem einer eines er sie es wir ihr und oder
    aber doch sondern wenn als im am vom zum zur mit ohne fur von bei nach vor seit
    wahrend zwischen uber unter laut auch
    """.split()
)
"""Lower-case, accents stripped."""
