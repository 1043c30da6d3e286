"""Cue phrases of news text about security agreements.

One vocabulary, shared by the rule-based floor (:mod:`pactx.baseline`) and by the embedded
model's constrained decoding (:func:`pactx.providers.choice_constraints`), which uses the cues a
document contains to narrow the choices a small model may make: no ``terminated`` status
unless the text speaks of revoking, ending or withdrawing; no ``defense_pact`` unless it speaks
of mutual or collective defense. The vocabulary covers English, French, Spanish and German
(:data:`CUE_LANGUAGES`); :func:`cues_cover` tells whether a text is in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pactx.languages import detect_language
from pactx.schema import AgreementStatus, AgreementType, Obligation

__all__ = [
    "AGREEMENT_NOUN",
    "CUE_LANGUAGES",
    "DEFENSE",
    "DEFENSE_COOPERATION",
    "DEFENSE_COOPERATION_LABEL",
    "names_a_formal_instrument",
    "REFERS_TO_PARTIES",
    "STATUS_CUES",
    "TYPE_CUES",
    "cues_cover",
    "statuses_cued",
    "types_cued",
    "mentions_agreement",
    "obligations_cued",
    "BYSTANDER_BEFORE",
    "BYSTANDER_AFTER",
    "CREATED_BEFORE",
    "PLURAL_INSTRUMENT_WITH",
    "not_a_side",
    "MEMBERSHIP_CHANGE",
    "AGREED_PRESENCE",
    "LIST_JOIN",
    "LIST_END",
    "specific_type_cued",
    "INTENDED_COOPERATION",
    "PLACE_BEFORE",
    "names_an_instrument",
    "PROPOSAL",
    "proposal_cued",
]

# Each cue is the union of one alternation per language: English, French, Spanish, German.
# The words are ordinary vocabulary of each language, with accents optional where writers drop
# them; German nouns are matched inside compounds (Verteidigungsabkommen, Beistandspakt).
# An alternation must not match an ordinary word of another covered language.
CUE_LANGUAGES: tuple[str, ...] = ("en", "fr", "es", "de")
"""Languages the cue vocabulary covers (ISO 639-1)."""

_GERMAN_NOUN_ENDING = r"(?:e|es|s|en|n|se|ses|sen)?"


def _cue(*alternations: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternations) + r")\b", re.IGNORECASE)


AGREEMENT_NOUN = _cue(
    r"pacts?|treat(?:y|ies)|alliances?|agreements?|accords?|charters?|partnerships?|"
    r"deals?|memorand(?:um|a|ums)|(?-i:MoUs?|MOUs?)|arrangements?|security guarantees?|"
    r"conventions?|protocols?|compacts?|exchanges? of notes|codes? of conduct|"
    r"joint (?:vision|statement|declaration)s?|secretariat|"
    r"(?:defen[cs]e|security|military(?:-technical)?) (?:cooperation|co-operation)|"
    r"(?:cooperation|co-operation) (?:plans?|programmes?|programs?)",
    r"pactes?|trait[ée]s?|partenariats?|m[ée]morandums?|protocoles?|conventions?|"
    r"d[ée]clarations? (?:conjointes?|commune)s?|codes? de conduite|"
    r"garanties? de s[ée]curit[ée]|coop[ée]ration (?:militaire|s[ée]curitaire|de d[ée]fense|"
    r"de s[ée]curit[ée]|en mati[èe]re de (?:d[ée]fense|s[ée]curit[ée]))",
    r"tratados?|pactos?|acuerdos?|alianzas?|convenios?|memorando|memor[áa]ndum|"
    r"protocolos?|convenci[óo]n(?:es)?|declaraci[óo]n(?:es)? conjuntas?|c[óo]digos? de conducta|"
    r"asociaci[óo]n(?:es)? (?:estrat[ée]gica|de seguridad|de defensa)s?|"
    r"garant[íi]as? de seguridad|cooperaci[óo]n (?:militar|de (?:seguridad|defensa)|"
    r"en (?:materia de )?(?:seguridad|defensa))",
    r"\w*(?:vertrag|vertr[äa]ge|abkommen|pakt|b[üu]ndnis|b[üu]ndniss|allianz|partnerschaft|"
    r"vereinbarung|sicherheitsgarantie|verteidigungskooperation|sicherheitskooperation|"
    r"r[üu]stungskooperation|konvention|protokoll|verhaltenskodex)" + _GERMAN_NOUN_ENDING + r"|"
    r"gemeinsame[n]? erkl[äa]rung(?:en)?|"
    r"(?:milit[äa]rische|sicherheitspolitische|verteidigungspolitische)n? zusammenarbeit",
)
"""A document with none of these words reports no agreement (in a covered language). The
English words are the instruments of guidelines §2.1 (a pact, alliance, treaty, charter,
accord, agreement, deal, memorandum of understanding, status-of-forces or access agreement,
cooperation plan or programme; a joint statement, vision or declaration; a code of conduct)
and ATOP's forms of an alliance's founding document (treaty, convention, protocol, exchange
of notes, joint declaration); the other languages' words are their ordinary equivalents."""

DEFENSE = _cue(
    r"mutual defen[cs]e|collective defen[cs]e|each other's aid|attack on one|"
    r"(?:attack|aggression|assault)s? (?:on|against) (?:any |one )?(?:[\w-]+ ){0,2}?(?:is|as|would be|will be|shall be) "
    r"(?:considered |regarded |treated )?(?:as )?(?:an? )?(?:attack|aggression|assault) (?:on|against) (?:all|them all|every)|"
    r"come to (?:each other's|one another's|the other's|the|its|their) (?:aid|defen[cs]e|assistance)|security guarantees?|defend each other",
    r"d[ée]fense (?:mutuelle|collective)|assistance mutuelle|"
    r"(?:attaque|agression|atteinte)s?\b.{0,120}?(?:comme|serait|sera|est) (?:consid[ée]r[ée]e? comme )?(?:une )?"
    r"(?:attaque|agression) contre (?:tous|les autres|l['’]ensemble)|"
    r"se d[ée]fendre mutuellement|garanties? de s[ée]curit[ée]",
    r"defensa (?:mutua|colectiva)|asistencia mutua|"
    r"(?:ataque|agresi[óo]n)(?:es)? (?:armad[oa] )?contra (?:uno|una|cualquiera)\b.{0,80}?(?:como|ser[áa]|es) (?:considerad[oa] (?:como )?)?"
    r"(?:un )?(?:ataque|agresi[óo]n) contra (?:todos|los dem[áa]s)|"
    r"defenderse mutuamente|garant[íi]as? de seguridad",
    r"(?:gegenseitige|kollektive)[nrms]? (?:verteidigung|beistand)\w*|"
    r"beistands(?:pflicht|klausel|verpflichtung|pakt|abkommen|vertrag|garantie)\w*|"
    r"sicherheitsgarantie\w*",
)

STATUS_CUES: tuple[tuple[AgreementStatus, re.Pattern[str]], ...] = (
    (AgreementStatus.TERMINATED, _cue(
        r"revoked?|revoking|terminat\w+|scrapp\w+|abrogat\w+|withdr[ae]w\w*|pull(?:ed)? out|"
        r"ended|ending|end of|kicking out|expel\w*",
        r"r[ée]voqu\w+|abrog[ée]\w*|retir(?:é|ée|és|ées|er|era|ent)|retrait|rompu|"
        r"(?:mis|met|mettre|mettent) fin|r[ée]sili\w+|expuls(?:é|ée|és|ées|er|ent)|quitt(?:e|é|er|ent|era)",
        r"revoc(?:ó|aron|ar|ado|ada|ación)|derog(?:ó|aron|ar|ado|ada)|retir(?:ó|aron|arse|ará|ada|ado)|"
        r"romp(?:ió|ieron|er)|(?:puso|pusieron|poner|pone) fin|rescindi(?:ó|eron|r|do|da)|expuls(?:ó|aron|ar|ado|ada)|anul(?:ó|aron|ar|ado|ada)",
        r"gek[üu]ndigt|aufgek[üu]ndigt|k[üu]ndigung\w*|aufk[üu]ndig\w*|ausgetreten|austreten|"
        r"austritt\w*|zur[üu]ckgezogen|r[üu]ckzug\w*|aufgehoben|beendet\w*|beenden|"
        r"widerrufen|annulliert",
    )),
    (AgreementStatus.SUSPENDED, _cue(
        r"suspend\w*|froze|frozen|freez\w+",
        r"gel(?:é|ée|és|ées|er|ent)",
        r"congel\w+",
        r"ausgesetzt|aussetz\w*|eingefroren|einfrieren",
    )),
    (AgreementStatus.PROPOSED, _cue(
        r"consider\w*|propos\w+|possibility|door is open|plan(?:s|ned)? to|planning|planned|could|would|"
        r"potentially|expand\w*|join(?:s|ed|ing)?",
        r"envisag(?:é|ée|és|ées|ent|er|eait|eaient)|pourrai(?:t|ent)|adhésion|adhérer|rejoindre",
        r"propu(?:so|sieron|est\w*)|podr[íi]a(?:n)?|adhesión|unirse|planea\w*",
        r"vorgeschlagen|vorschlag\w*|vorschlagen|erw[äa]g\w*|(?:könnte|koennte|würde|wuerde)n?|"
        r"beitritt\w*|beitreten|geplant\w*",
    )),
    (AgreementStatus.AGREED, _cue(
        r"set to sign|will sign|to sign|agreed|agree|elevated|upgrad\w+|adopt\w+|establish\w*|"
        r"announced|finali[sz]e|issu(?:e|es|ed|ing)",
        r"convenu\w*|(?:va|vont|doit|doivent|devrait|devraient) signer|signera(?:nt)?|"
        r"annonc[ée]\w*|[ée]tabli\w*|mis d['’]accord",
        r"acord(?:ó|aron|ado|ada)|firmar[áa]n?|(?:va|van) a firmar|anunci(?:ó|aron|ado)|"
        r"establec\w+",
        r"vereinbart\w*|geeinigt|einigten|einigung|unterzeichnen wollen|angek[üu]ndigt",
    )),
    (AgreementStatus.SIGNED, _cue(
        r"signed|signing|inked|concluded|ratif\w+",
        r"sign(?:é|ée|és|ées|ent)|paraph[ée]\w*|conclu(?:e|s|es)?|ratifi\w+",
        r"firm(?:ó|aron|ado|ada|ados|adas|an|ar)|suscri(?:bió|bieron|to|ta)|ratific\w+",
        r"unterzeichn\w*|unterschrieben|besiegelt|abgeschlossen|ratifizier\w*",
    )),
    (AgreementStatus.IN_FORCE, _cue(
        r"in force|took effect|takes effect|entered into force",
        r"en vigueur",
        r"en vigor",
        r"in kraft",
    )),
    (AgreementStatus.NEGOTIATING, _cue(
        r"negotiat\w+|talks|discuss\w*|working on",
        r"n[ée]goci\w+|pourparlers|discut\w+",
        r"negoci\w+|conversaciones",
        r"verhandl\w+|verhandel\w*|gespr[äa]ch\w*",
    )),
)

_INSTRUMENT_EN = r"(?:agreements?|accords?|treat(?:y|ies)|pacts?|memorand(?:um|a|ums)|deals?|plans?|programmes?|programs?|arrangements?)"

DEFENSE_COOPERATION = _cue(
    r"(?:defen[cs]e|military) (?:cooperation|co-operation) " + _INSTRUMENT_EN + r"|" + _INSTRUMENT_EN
    + r" (?:on|of|for) (?:[\w-]+ ){0,2}?(?:defen[cs]e|military) (?:cooperation|co-operation)|"
    r"military-technical (?:cooperation|co-operation)|joint (?:military )?(?:exercises?|drills|training)|"
    r"(?:military|naval) (?:exercises|drills)|training|train(?:s|ed)? (?:together|jointly)|"
    r"defen[cs]e[- ]industr(?:y|ies|ial)|co-?produc\w+|joint (?:production|development|procurement)|"
    r"jointly (?:produc|develop|build|manufactur)\w*|"
    r"technology[- ]sharing|shar(?:e|es|ed|ing) (?:of )?(?:[\w-]+ ){0,3}?technolog(?:y|ies)|interoperab\w+|"
    r"integrat\w+ (?:of )?(?:their |the two |its |our )?(?:defen[cs]e |armed |military )?forces|"
    r"joint (?:[\w-]+ ){0,2}?(?:patrols?|patrolling|task forces?|forces?|brigades?|battalions?|command|"
    r"air policing|air defen[cs]e|naval operations|military operations)|"
    r"(?:integrated|unified|single|combined) (?:[\w-]+ ){0,1}?command",
    r"(?:accord|trait[ée]|m[ée]morandum|pacte|plan|programme)s? (?:de |sur la |pour la )coop[ée]ration "
    r"(?:militaire|de d[ée]fense|en mati[èe]re de d[ée]fense)|"
    r"coop[ée]ration militaro-technique|exercices? (?:militaires|conjoints|communs)|entra[îi]nements?|"
    r"formation (?:militaire|des (?:officiers|soldats|militaires|forces))|industries? de (?:la )?d[ée]fense|"
    r"coproduction|interop[ée]rabilit[ée]|patrouilles? (?:conjointes?|communes?)|"
    r"forces? (?:navale |militaire |arm[ée]e )?(?:conjointes?|communes?)|commandement (?:unifi[ée]|int[ée]gr[ée]|conjoint)",
    r"(?:acuerdo|tratado|memor[áa]ndum|convenio|pacto|plan|programa)s? (?:de|sobre) cooperaci[óo]n "
    r"(?:militar|de defensa|en (?:materia de )?defensa)|"
    r"cooperaci[óo]n t[ée]cnico-militar|ejercicios (?:militares|conjuntos)|entrenamiento|adiestramiento|"
    r"industria de (?:la )?defensa|coproducci[óo]n|interoperabilidad|patrullas? conjuntas?|"
    r"fuerzas? (?:naval |militar )?(?:conjuntas?|combinadas?)|mando (?:unificado|conjunto|integrado)",
    r"(?:verteidigungs|milit[äa]r|r[üu]stungs)kooperations(?:abkommen|vertrag|vereinbarung|plan)\w*|"
    r"(?:abkommen|vertrag|vereinbarung) [üu]ber (?:die )?(?:milit[äa]rische|verteidigungspolitische)n? zusammenarbeit|"
    r"milit[äa]rtechnische[n]? zusammenarbeit|man[öo]ver\w*|milit[äa]r[üu]bung\w*|ausbildung\w*|"
    r"r[üu]stungsindustrie|verteidigungsindustrie|koproduktion|interoperabilit[äa]t|"
    r"gemeinsame[nr]? (?:bau|entwicklung|beschaffung|produktion|herstellung|patrouille\w*|eingreiftruppe\w*|kommando\w*|streitkr[äa]fte\w*)",
)
"""Guidelines §4 step 5: reciprocal military cooperation stated as an agreement's content
(training, exercises, defence industry, co-production, technology sharing, joint procurement,
force integration), or a label that names the instrument one of defence cooperation ("defence
cooperation treaty", "agreement on military cooperation"; §4, last paragraph), makes one with
no wartime pledge, troops, bases or aid ``defense_cooperation``."""

DEFENSE_COOPERATION_LABEL = _cue(
    r"(?:defen[cs]e|military) (?:cooperation|co-operation)",
    r"coop[ée]ration (?:militaire|de d[ée]fense|en mati[èe]re de d[ée]fense)",
    r"cooperaci[óo]n (?:militar|de defensa|en (?:materia de )?defensa)",
    r"milit[äa]rische[n]? zusammenarbeit|verteidigungskooperation\w*|r[üu]stungskooperation\w*",
)
"""A label for defence cooperation ("defence cooperation treaty", "military cooperation
accord"): with no content stated, the label's noun decides the kind (§4, last paragraph), so
``defense_cooperation`` is a choice only where a passage has this label or its content."""

_MILITARY_UNITS = (
    r"(?:troops|soldiers|pilots|crews|officers|forces|army|armies|navy|navies|air force|personnel|units|"
    r"cadets|recruits|coast ?guards?|sailors|marines|police)"
)

BASING = _cue(
    r"bases?|basing|status of forces|troops|stationed|access|visiting forces|garrison\w*|rotation(?:al|s)?|"
    r"(?:military|troop|naval|armed|permanent) presence|overflight|port calls?|"
    r"(?:military|naval|air|radar|missile|logistics?|supply) (?:sites?|facilit(?:y|ies)|installations?|hubs?|"
    r"cent(?:re|er)s?|stations?|depots?)|(?:firing|training|military) (?:ranges?|grounds?)|"
    r"transit (?:of|for|through) (?:[\w-]+ ){0,2}?(?:troops|forces|military)|military mobility|"
    r"host\w* (?:[\w,-]+ ){0,5}?(?:troops|soldiers|forces|personnel|warships|military aircraft)|"
    r"deploy\w* (?:[\w,-]+ ){0,4}?(?:contingent|troops|soldiers|battalions?|brigades?)",
    r"troupes|stationn\w+|acc[èe]s|statut des forces|pr[ée]sence militaire|emprises? militaires?|"
    r"garnisons?|installations? militaires?|forces en visite|transit (?:de|des) (?:troupes|forces|militaires)|"
    r"d[ée]ploiement (?:de |d['’])?(?:[\w-]+ ){0,2}?(?:troupes|soldats|militaires|contingent)",
    r"tropas|estacionad\w+|acceso|estatuto de (?:las )?fuerzas|presencia militar|instalaciones militares|"
    r"guarnici[óo]n|tr[áa]nsito de (?:tropas|fuerzas|militares)|despliegue de (?:[\w-]+ ){0,2}?(?:tropas|soldados|militares|contingente)",
    r"st[üu]tzp(?:unkt|unkte|unkten)|truppen\w*|stationier\w*|zugang|garnison\w*|milit[äa]rpr[äa]senz|"
    r"milit[äa]rische[n]? mobilit[äa]t|milit[äa]rtransport\w*|[üu]bungspl[äa]tze?n?|truppen[üu]bungspl\w+",
)
"""Guidelines §4 step 5: foreign troops, bases, sites, access, rotation, transit or
status-of-forces protections as an agreement's content make it ``basing_access``."""

MILITARY_AID = _cue(
    r"military aid|in aid|aid|arms|weapons|missiles|assistance|donat\w+|"
    r"capacity[- ]building|capabilit(?:y|ies)[- ]building|bolster\w* (?:[\w'’-]+ ){0,3}?capabilit(?:y|ies)|"
    r"(?:provid|suppl|deliver|donat|giv|send|transfer)\w*\s+(?:[\w-]+\s+){0,4}?(?:equipment|training|funding)|"
    r"(?:(?:will|would|to|shall|also) |, )train(?:,? (?:and )?(?:equip|advise|mentor|arm))*,? (?:and )?(?:the |their |its )?"
    r"(?:[\w'’-]+ ){0,3}?" + _MILITARY_UNITS + r"|trains (?:the |their |its )?(?:[\w'’-]+ ){0,3}?" + _MILITARY_UNITS + r"|"
    r"train(?:s|ed|ing)?,? (?:and )?equip\w*|train[- ]and[- ]equip|"
    r"(?:pay|pays|paid|paying|fund|funds|funded|funding|finance|finances|financed|financing) for (?:[\w€$£,.'’-]+ ){0,5}?"
    r"(?:boats|vessels|ships|aircraft|helicopters|drones|radars|vehicles|equipment|weapons)",
    r"aide militaire|armes|armements?|dons? (?:de|d['’])|fai(?:t|re|ra) don|"
    r"(?:fourni|livr|donn|envoi|envoy)\w*\s+(?:[\w'’-]+\s+){0,4}?(?:[ée]quipements?|formation|financement)|"
    r"former (?:les |des )?(?:[\w'’-]+ ){0,2}?(?:militaires|soldats|officiers|pilotes|[ée]quipages|forces)",
    r"ayuda militar|armas|armamento|misiles|asistencia|donaci[óo]n|don[óo]|donar[áa]?n?|"
    r"(?:proporcion|suministr|entreg|don|envi)\w*\s+(?:[\w-]+\s+){0,4}?(?:equipos?|entrenamiento|financiaci[óo]n)|"
    r"(?:entrenar|formar|adiestrar) a (?:los |las )?(?:[\w-]+ ){0,2}?(?:militares|soldados|oficiales|pilotos|tripulaciones|fuerzas)",
    r"milit[äa]rhilfe|waffen\w*|r[üu]stungsg[üu]ter|raketen|schenk\w*|"
    r"(?:liefer|stell|finanzier|schick)\w*\s+(?:\w+\s+){0,4}?(?:ausr[üu]stung|ausbildung)\w*",
)
"""§4 step 5: one party gives another aid, funding, equipment, training of its forces or
capability-building (ATOP ``milaid``): ``military_aid``; training each other's forces
together is defence cooperation instead."""

_OTHER_INSTRUMENT = _cue(
    r"codes? of conduct|arms[- ]control|cease-?fires?|truces?|armistices?|hotlines?|deconfliction|"
    r"(?:unplanned|unsafe|dangerous) encounters|incidents? at sea",
    r"codes? de conduite|ma[îi]trise des armements|cessez-le-feu|tr[êe]ves?|armistices?|"
    r"lignes? (?:rouges? )?directes?|d[ée]conflit\w*",
    r"c[óo]digos? de conducta|control de armas|alto el fuego|cese al fuego|treguas?|armisticios?|"
    r"l[íi]neas? directas?",
    r"verhaltenskodex\w*|r[üu]stungskontroll\w*|waffenstillstand\w*|waffenruhe\w*|"
    r"(?:heißen|heissen|direkten) draht|zwischenf[äa]ll\w* auf see",
)
"""§4 step 6: a code of conduct (at sea: hotlines, rules for unplanned encounters), an
arms-control arrangement or a ceasefire is ``other``."""

_NON_AGGRESSION = _cue(r"non-?aggression", r"non-?agression", r"no agresi[óo]n", r"nichtangriff\w*")
_NEUTRALITY = _cue(r"neutral(?:ity)?", r"neutralit[ée]", r"neutralidad", r"neutralit[äa]t")
_CONSULTATION = _cue(r"consult\w*", r"consult\w*", r"consult\w*", r"konsult\w*")

TYPE_CUES: tuple[tuple[AgreementType, re.Pattern[str]], ...] = (
    (AgreementType.DEFENSE_PACT, DEFENSE),
    (AgreementType.NON_AGGRESSION_PACT, _NON_AGGRESSION),
    (AgreementType.NEUTRALITY_PACT, _NEUTRALITY),
    (AgreementType.ENTENTE, _CONSULTATION),
    (AgreementType.BASING_ACCESS, BASING),
    (AgreementType.MILITARY_AID, MILITARY_AID),
    (AgreementType.DEFENSE_COOPERATION, DEFENSE_COOPERATION),
    (AgreementType.OTHER, _OTHER_INSTRUMENT),
)

# The specific types a single cue decides, in order of precedence; the neutrality and entente
# cues ("neutral", "consult") are too loose to decide a type on their own.
_DECIDING_TYPE_CUES = tuple(
    (kind, cue) for kind, cue in TYPE_CUES if kind not in (AgreementType.NEUTRALITY_PACT, AgreementType.ENTENTE)
)


def specific_type_cued(text: str) -> AgreementType | None:
    """The specific agreement type the text's first-ranked cue decides, or ``None``.

    Defense pact (an explicit mutual-defense pledge), non-aggression, basing or troop access,
    military aid, defence cooperation, other (a code of conduct, arms control), in that order
    (guidelines §4: a COW-coded type needs an explicit cue; with no wartime pledge, stated
    content decides, steps 5 and 6).
    """
    for kind, cue in _DECIDING_TYPE_CUES:
        if cue.search(text):
            return kind
    return None


_ALWAYS_ALLOWED_TYPES = (
    AgreementType.SECURITY_PARTNERSHIP,
    AgreementType.DEFENSE_COOPERATION,
    AgreementType.OTHER,
)


def mentions_agreement(text: str) -> bool:
    """True when the text uses any word for an agreement."""
    return AGREEMENT_NOUN.search(text) is not None


def cues_cover(text: str) -> bool:
    """True when ``text`` is in a language the cues cover (:data:`CUE_LANGUAGES`).

    The absence of every cue word says something only then: an Italian or Portuguese report
    of a pact has none of these words and still reports a pact. A text without letters is in
    no language and has nothing to miss, so it counts as covered.
    """
    language = detect_language(text)
    return language is None or language in CUE_LANGUAGES


_SIGNATURE_DONE = _cue(
    r"signed|inked|concluded", r"sign(?:é|ée|és|ées)|conclu(?:e|s|es)?",
    r"firm(?:ó|aron|ado|ada|ados|adas)|suscri(?:bió|bieron|to|ta)", r"unterzeichnet|unterschrieben|besiegelt",
)
"""A signature reported as done (§5.1 "signed, concluded and signed, inked")."""

_SIGNATURE_AHEAD = _cue(
    r"(?:set|due|expected|ready|going|plan(?:s|ned)?|agreed|agree|will|to) (?:to )?sign|(?:to|will|would|shall) be signed",
    r"(?:va|vont|doit|doivent|devrait|devraient) signer|signera(?:nt)?",
    r"firmar[áa]n?|(?:va|van) a firmar", r"unterzeichnen (?:wollen|sollen|werden)",
)
"""A signature still ahead ("set to sign", "will sign"): the text is agreed, not signed."""


def statuses_cued(text: str) -> list[AgreementStatus]:
    """Statuses the text has a cue for, in schema order; every status when it has none.

    The most advanced stage the text reports wins (guidelines §5.1): a signature reported as
    done leaves ``agreed`` out, unless a signature is also still ahead in the same text.
    Ratification is a signed-stage cue, not entry into force (§5.5).
    """
    cued = {status for status, cue in STATUS_CUES if cue.search(text)}
    if AgreementStatus.AGREED in cued and _SIGNATURE_DONE.search(text) and not _SIGNATURE_AHEAD.search(text):
        cued.discard(AgreementStatus.AGREED)
    return [s for s in AgreementStatus if s in cued] or list(AgreementStatus)


def types_cued(text: str) -> list[AgreementType]:
    """Agreement types the text has a cue for, plus the generic ones, in schema order."""
    cued = {kind for kind, cue in TYPE_CUES if cue.search(text)} | set(_ALWAYS_ALLOWED_TYPES)
    return [t for t in AgreementType if t in cued]


_OBLIGATION_CUES: tuple[tuple[Obligation, re.Pattern[str]], ...] = (
    (Obligation.DEFENSE, DEFENSE),
    (Obligation.OFFENSE, _cue(
        r"offensive (?:alliance|pact|war)", r"(?:alliance|guerre) offensive",
        r"(?:alianza|guerra) ofensiva", r"offensivb[üu]ndnis\w*|angriffsb[üu]ndnis\w*",
    )),
    (Obligation.NEUTRALITY, _NEUTRALITY),
    (Obligation.NON_AGGRESSION, _NON_AGGRESSION),
    (Obligation.CONSULTATION, _CONSULTATION),
)


def obligations_cued(text: str) -> list[Obligation]:
    """ATOP obligations the text has a cue for (possibly none)."""
    return [obligation for obligation, cue in _OBLIGATION_CUES if cue.search(text)]


# Who is not a side of an agreement (annotation guidelines §3.1, §3.4): a state named as the
# threat, target or rival the pact is aimed at, and a body the agreement creates or a name it
# is given. These read the words right before (or after) a party mention.
BYSTANDER_BEFORE = re.compile(
    r"(?:\b(?:against|counter(?:ing|s)?|deter(?:ring|s)?|contain(?:ing)?|threats?\s+(?:from|posed\s+by|of)|"
    r"aggression\s+(?:by|from)|pressure\s+from|influence\s+of|concerns?\s+(?:over|about)|"
    r"reliance\s+on|dependence\s+on|rivalry\s+with|tensions?\s+with|attacks?\s+(?:by|from)|"
    r"contre|face\s+[àa]|menaces?\s+(?:de|du|des)|contra|frente\s+a|amenazas?\s+de|gegen(?:über)?|"
    r"bedrohung\s+durch|(?:troops|soldiers|forces|personnel|contingents?)\s+from|"
    r"(?:hosted|mediated|brokered|facilitated|observed)\s+by|(?:diplomats|observers|onlookers)\s+from|"
    r"(?:borders?|frontiers?|boundary|boundaries)\s+with|(?:h[ée]berg[ée]e?s?|m[ée]di[ée]e?s?)\s+par|"
    r"fronti[èe]res?\s+avec|(?:organizad|mediad|auspiciad)[oa]s?\s+por|fronteras?\s+con|"
    r"(?:ausgerichtet|vermittelt)\s+von|grenzen?\s+zu|"
    r"(?:summit|meeting|talks|ceremony|conference|held|met|meet|meeting|signed|sign)\s+(?:in|at)|"
    r"(?:sommet|r[ée]union)\s+(?:de|à)|(?:cumbre|reuni[óo]n)\s+(?:de|en)|(?:gipfel|treffen)\s+in)\s+(?:the\s+|la\s+|le\s+|les\s+|l['’]|el\s+|los\s+|die\s+|der\s+|den\s+)?"
    r"(?:(?:growing|rising|increasing|possible|potential|an?)\s+)?)$",
    re.IGNORECASE,
)
"""Words before a mention that name it as a threat, target or rival, a source of troops for
someone else's mission, the venue, host or mediator of a meeting or signing, an onlooker, or
the state across a border, not a side (§3.1)."""

BYSTANDER_AFTER = re.compile(
    r"^['’]s\s+(?:(?:growing|rising|increasing|expanding|military)\s+)?"
    r"(?:influence|threats?|aggression|assertiveness|expansion|ambitions?|encroachment|pressure)\b|"
    r"^(?:\s+(?:forces|troops|army|warships|ships|jets|drones))?\s+(?:attack(?:s|ed)?|invad(?:es|ed)|annex(?:es|ed)|"
    r"proclaimed\s+the\s+annexation|mass(?:ing|ed)|shell(?:s|ing|ed)|(?:have\s+|had\s+)?struck|strik(?:es|ing)|"
    r"harass(?:es|ed|ing)|intrud(?:es|ed|ing)|incursions?)\b|"
    r"^\s+(?:summit|talks)\b",
    re.IGNORECASE,
)
"""Words after a mention that name it as the threat ("China's growing influence"), an attacker
("Russia attacks", "Venezuelan troops massing") or a venue ("the Vilnius summit") (§3.1)."""

CREATED_BEFORE = re.compile(
    r"\b(?:creat(?:e|es|ed|ing)|establish(?:es|ed|ing)?|form(?:s|ed|ing)?|found(?:s|ed|ing)?|"
    r"launch(?:es|ed|ing)?|set(?:s|ting)?\s+up|called|named|dubbed|known\s+as|"
    r"cr[ée]{2}r?|cr[ée]ant|fond(?:er|ant|[ée]e?)|baptis[ée]e?|appel[ée]e?|"
    r"crear|creando|cre(?:ó|aron|ado|ada)|fund(?:ar|ando|ó|aron)|llamad[oa]|denominad[oa]|"
    r"gr[üu]nd(?:en|eten|ete|et)|gegr[üu]ndet|genannt\w*|namens)\s+"
    r"(?:(?:a|an|the|une?|la|le|l['’]|el|una?|die|der|das|eine?n?)\s+)?(?:(?:new|joint|nouvelle?|nuevo|nueva|neue[nrs]?)\s+)?$",
    re.IGNORECASE,
)
"""Words before a mention that make it a body the agreement creates or its name (§3.4)."""

PLURAL_INSTRUMENT_WITH = re.compile(
    r"\b(?:(?:bilateral|separate|security|defen[cs]e|cooperation|partnership)\s+)*"
    r"(?:pacts|treaties|agreements|accords|deals|partnerships|memoranda)\s+with\b",
    re.IGNORECASE,
)
"""Several instruments "with" several partners: one record per partner (§2.11)."""

ANOTHER_INSTRUMENT_WITH = re.compile(
    r"\b(?:(?:and|as\s+well\s+as|plus|then)\s+(?:(?:signed|concluded|agreed|inked|reached)\s+)?"
    r"(?:a\s+second|another|a\s+separate|a\s+similar|a\s+further)\s+(?:[\w-]+\s+){0,3}?with|"
    r"(?:et|ainsi\s+que)\s+(?:un\s+(?:second|autre|deuxi[èe]me)|une\s+(?:seconde|autre|deuxi[èe]me))\s+(?:[\w-]+\s+){0,3}?avec|"
    r"(?:y|as[íi]\s+como)\s+(?:otro|otra|un\s+segundo|una\s+segunda)\s+(?:[\w-]+\s+){0,3}?con|"
    r"(?:und|sowie)\s+(?:ein(?:e|en)?\s+(?:zweite[nrs]?|weitere[nrs]?|andere[nrs]?))\s+(?:[\w-]+\s+){0,3}?mit)\b",
    re.IGNORECASE,
)
"""A second instrument with another partner in the same sentence ("signed a partnership with
Japan ... and a second one with South Korea"): a record for each (§2.11)."""

WITH = re.compile(r"\b(?:with|avec|con|mit)\b", re.IGNORECASE)
"""The word that introduces an instrument's partner."""


LIST_JOIN = re.compile(r"^\s*(?:,\s*)?(?:(?:and|or|et|ou|y|e|o|und|oder)\s+)?(?:the\s+)?$", re.IGNORECASE)
"""What separates the items of a list of names: they share one role ("from Senegal, Nigeria and Ghana")."""

LIST_END = re.compile(r"^\s*,?\s*(?:and|or|et|ou|y|e|o|und|oder)\s+(?:the\s+)?$", re.IGNORECASE)
"""What joins the last two items of a list: a conjunction."""


def not_a_side(text: str, start: int, end: int) -> bool:
    """True when the mention ``text[start:end]`` reads as a threat, target, rival or created body."""
    before, after = text[max(0, start - 40) : start], text[end : end + 40]
    return bool(BYSTANDER_BEFORE.search(before) or BYSTANDER_AFTER.match(after) or CREATED_BEFORE.search(before))


MEMBERSHIP_CHANGE = _cue(
    r"join(?:s|ed|ing)?|accede[sd]?|acceding|accession|membership|became\b[^.,;]{0,30}\bmember|"
    r"withdr[ae]w\w*|quit(?:s|ting)?|leav(?:e|es|ing)|left|expel\w*|suspend\w*|froze|frozen",
    r"adh[ée]r\w*|adh[ée]sion|rejoin\w+|membre|quitt\w+|retir\w+|suspend\w*",
    r"adhe(?:sión|rirse|rir|rido)|ingres\w+|miembro|retir\w+|abandon\w+|suspend\w*",
    r"beitr(?:itt|eten|at|aten)\w*|mitglied\w*|austr(?:itt|eten|at|aten)\w*|ausgetreten|ausgesetzt",
)
"""A state joining, leaving or suspending membership of an organization: an agreement event
(guidelines §5.2) even where no word for an agreement is used."""


AGREED_PRESENCE = _cue(
    r"(?:agree[sd]?|agreeing|sign(?:s|ed|ing)?|approv(?:e|es|ed|ing)|grant(?:s|ed|ing)?|allow(?:s|ed|ing)?|"
    r"authori[sz](?:e|es|ed|ing)|permit(?:s|ted|ting)?)(?:\W+\w+){0,8}?\W+"
    r"(?:access|bases|base|basing|troops|station(?:ed|ing)|rotational)",
    r"(?:accept\w*|convenu\w*|sign[ée]\w*|autoris\w*|accord[ée]\w*)(?:\W+\w+){0,8}?\W+"
    r"(?:acc[èe]s|bases?|troupes|stationn\w+)",
    r"(?:acord\w*|acept\w*|firm(?:ó|aron|ado)|autoriz\w*|permit\w*)(?:\W+\w+){0,8}?\W+"
    r"(?:acceso|bases?|tropas|estacion\w+)",
    r"(?:vereinbar\w*|einigten|erlaubt\w*|genehmigt\w*|gestattet\w*|zugestimmt|unterzeichnet\w*)(?:\W+\w+){0,8}?\W+"
    r"(?:zugang|st[üu]tzp\w+|truppen\w*|stationier\w*)",
)
"""Troops, bases or access one party gives another by agreement, with no word for the
instrument ("agreed to give U.S. forces access to four more bases", "agreed to withdraw its
troops"): an arrangement that exists by agreement is an instrument (guidelines §2.1, §2.10)."""


INTENDED_COOPERATION = _cue(
    r"(?:deepen|strengthen|enhance|explor|bolster|boost|intensif(?:y|ie)|reinforc|broaden|expand|"
    r"step(?:ping|s|ped)? up)\w*\s+(?:(?:the|their|its|our|this|that|an?)\s+)?(?:[\w'’-]+\s+){0,3}?"
    r"(?:cooperation|co-operation|partnerships?|collaboration|ties|relations)",
    r"(?:renforc|approfondi|intensifi|d[ée]velopp|[ée]largi)\w*\s+(?:(?:la|leur|sa|notre|cette|le|un|une)\s+)?"
    r"(?:[\w'’-]+\s+){0,2}?(?:coop[ée]ration|partenariat|collaboration|liens|relations)",
    r"(?:reforz|fortalec|profundiz|intensific|ampli)\w*\s+(?:(?:la|su|sus|nuestra|esta|el|una?)\s+)?"
    r"(?:[\w'’-]+\s+){0,2}?(?:cooperaci[óo]n|asociaci[óo]n|colaboraci[óo]n|lazos|relaciones)",
    r"(?:zusammenarbeit|kooperation|partnerschaft|beziehungen)\w*\s+(?:\w+\s+){0,2}?(?:zu\s+)?"
    r"(?:vertiefen|st[äa]rken|ausbauen|intensivieren|erweitern)|"
    r"(?:vertiefung|st[äa]rkung|ausbau|intensivierung|erweiterung)\s+(?:der|ihrer|unserer)\s+(?:\w+\s+){0,2}?"
    r"(?:zusammenarbeit|kooperation|partnerschaft|beziehungen)",
)
"""Cooperation or ties that a party means to deepen, strengthen or expand: intent with no
instrument, not an agreement (guidelines §2.2: "will deepen security cooperation",
"exploring enhanced cooperation", "hope to deepen the partnership")."""


def names_an_instrument(text: str) -> bool:
    """True when ``text`` uses a word for an agreement other than cooperation it only intends
    (:data:`INTENDED_COOPERATION`; "signed a pact to deepen cooperation" still names one)."""
    return mentions_agreement(INTENDED_COOPERATION.sub(" ", text))


_COOPERATION_ALONE = _cue(
    r"(?:defen[cs]e|security|military(?:-technical)?) (?:cooperation|co-operation)(?! (?:plans?|programmes?|programs?)\b)",
    r"coop[ée]ration (?:militaire|militaro-technique|s[ée]curitaire|de d[ée]fense|de s[ée]curit[ée]|"
    r"en mati[èe]re de (?:d[ée]fense|s[ée]curit[ée]))",
    r"cooperaci[óo]n (?:militar|t[ée]cnico-militar|de (?:seguridad|defensa)|en (?:materia de )?(?:seguridad|defensa))",
    r"\w*(?:verteidigungskooperation|sicherheitskooperation|r[üu]stungskooperation)\w*|"
    r"(?:milit[äa]rische|sicherheitspolitische|verteidigungspolitische)n? zusammenarbeit",
)


def names_a_formal_instrument(text: str) -> bool:
    """True when ``text`` names an instrument (:func:`names_an_instrument`) by more than a
    word for cooperation ("ongoing security cooperation" may be ties, not an instrument, §2.2)."""
    return names_an_instrument(_COOPERATION_ALONE.sub(" ", text))


PLACE_BEFORE = re.compile(r"(?:\bin|\bat|\ben|(?<!\w)à)\s+$", re.IGNORECASE)
"""A preposition of place right before a name: "at the State Department in Washington" names
where something happened; a capital written so is a venue, not a side (§3.1, §3.3)."""


_OBJECT_DETERMINER = (
    r"(?:(?:the|its|their|his|her|our|this|that|an?|l['’]|le|la|les|son|sa|ses|leur|leurs|une?|des|du|"
    r"el|los|las|su|sus|una?|al|den|das|die|dem|ihr\w*|sein\w*)\s*)?"
)
# Up to four words between the verb and the instrument ("its 2014 defence cooperation treaty"),
# none of them a preposition or a word for talks: "ended the talks on a deal" revokes nothing.
_OBJECT_MODIFIERS = (
    r"(?:(?!(?:on|of|for|with|to|about|over|in|and|talks|negotiations|sur|de|avec|pour|et|sobre|con|para|y|"
    r"über|mit|und|für)\b)[\w'’\"“”«»-]+\s+){0,4}?"
)
_INSTRUMENT = (
    r"(?:pacts?|treat(?:y|ies)|agreements?|accords?|alliances?|arrangements?|deals?|partnerships?|"
    r"memorand(?:um|a)|charter|pactes?|trait[ée]s?|partenariats?|conventions?|tratados?|pactos?|acuerdos?|"
    r"alianzas?|convenios?|\w*(?:vertrag|abkommen|pakt|b[üu]ndnis|vereinbarung)\w*)"
)
REVOCATION = _cue(
    r"(?:revok\w*|terminat\w*|scrap(?:s|ped|ping)?|abrogat\w*|renounc\w*|denounc\w*|cancel\w*|annul\w*|"
    r"tor(?:e|n) up|tear(?:s|ing)? up|end(?:s|ed|ing)?|quit(?:s|ting)?|suspend\w*|froze|freez\w*|"
    r"(?:withdr[ae]w\w*|pull(?:s|ed|ing)? out|exit(?:s|ed|ing)?) (?:from|of))\s+"
    + _OBJECT_DETERMINER + _OBJECT_MODIFIERS + _INSTRUMENT,
    r"(?:r[ée]voqu\w+|abrog\w+|d[ée]nonc\w+|(?:mis|met|mettre|mettent) fin (?:[àa]|aux)|r[ée]sili\w+|rompu|"
    r"(?:se |s['’])?retir\w+ (?:de|du|des)|quitt\w+|suspend\w+|gel\w+)\s*"
    + _OBJECT_DETERMINER + _OBJECT_MODIFIERS + _INSTRUMENT,
    r"(?:revoc\w+|derog\w+|denunci\w+|(?:puso|pusieron|poner|pone|ponen) fin (?:a|al)|rescindi\w+|romp\w+|"
    r"(?:se )?retir\w+ (?:de|del)|abandon\w+|suspend\w+|congel\w+|anul\w+)\s+"
    + _OBJECT_DETERMINER + _OBJECT_MODIFIERS + _INSTRUMENT,
    r"(?:k[üu]ndig\w+|aufk[üu]ndig\w*|beend\w+|widerr[iu]\w+|verl[äa]ss\w+|verlie[ßs]\w*|setzt\w*)\s+"
    + _OBJECT_MODIFIERS + _INSTRUMENT + r"|"
    r"\w*(?:vertrag|abkommen|pakt|b[üu]ndnis|vereinbarung)\w*\s+(?:[\w-]+\s+){0,5}?"
    r"(?:gek[üu]ndigt|aufgek[üu]ndigt|aufgehoben|beendet|widerrufen|annulliert|ausgesetzt|eingefroren)",
)
"""A party revoking, ending, leaving or suspending an agreement the passage names ("has revoked
the security pact with", "was ending its 2014 defence cooperation treaty"): the passage reports
that agreement's termination or suspension (guidelines §5.1, §13.7)."""

_NOT_ASSERTED = _cue(
    r"if|unless|whether|could|would|might|(?-i:may)|threat\w*|vow\w*|consider\w*|plan\w*|propos\w*|call\w*|urg\w*|"
    r"demand\w*|refus\w*|not|never|no|n['’]t|den(?:y|ies|ied)|after|since|following|before|when|once|until|"
    r"rumou?r\w*|reportedly",
    r"si|sans|pourrai\w*|menac\w*|envisag\w*|refus\w*|ne|pas|jamais|apr[èe]s|depuis|lorsque|quand|avant",
    r"si|podr[íi]a\w*|amenaz\w*|plane\w*|rechaz\w*|nunca|tras|despu[ée]s|desde|cuando|antes",
    r"wenn|falls|ob|k[öo]nnte\w*|w[üu]rde\w*|droh\w*|erw[äa]g\w*|nicht|nie|kein\w*|seit|bevor",
)
"""Words that leave a revocation unasserted or make it background, when they come before it in
its clause: a condition, threat, plan, denial or negation (§2.3, §2.7) or a time clause that
dates it before the news (§2.6: "since Mali ended its treaty with France")."""

_CLAUSE_START = re.compile(r"[,;:.!?()\"“”]")


def revocation_cued(text: str) -> AgreementStatus | None:
    """``terminated`` or ``suspended`` when ``text`` asserts that a party revokes or suspends an
    agreement it names (:data:`REVOCATION`), else ``None``.

    Only a revocation stated as fact counts: one that a condition, threat, plan, denial,
    negation or background time clause in the same clause qualifies does not (:data:`_NOT_ASSERTED`).
    """
    for match in REVOCATION.finditer(text):
        if asserted(text, match.start()):
            suspended = STATUS_CUES[1][1].search(match.group())  # "suspended", "froze", ...
            return AgreementStatus.SUSPENDED if suspended else AgreementStatus.TERMINATED
    return None


PROPOSAL = _cue(
    r"propos(?:ed|es|ing|e)|offer(?:ed|s|ing)?|float(?:ed|s|ing)|put forward|tabled",
    r"propos(?:é|ée|e|ent|ait|aient|er)|offert|offrait",
    r"propu(?:so|sieron|esto|esta)|propon(?:e|en|ía|iendo)|ofreci(?:ó|eron|do)",
    r"vorgeschlagen|schlug|schl[äa]gt|angeboten|bot|bietet",
)
"""A verb of proposing or offering (§5.1 ``proposed``: proposed, offered, floated)."""

_NOT_A_PROPOSER = _cue(
    r"analysts?|experts?|scholars?|researchers?|academics?|think[- ]tanks?|commentators?|columnists?|"
    r"candidates?|opposition|editorials?|senators?|lawmakers?|legislators?|MPs",
    r"analystes?|chercheurs?|universitaires?|candidat\w*|[ée]ditorial\w*|s[ée]nateurs?|d[ée]put[ée]s?",
    r"analistas?|expertos?|investigador\w*|acad[ée]mic\w*|candidat\w*|senador\w*|legislador\w*",
    r"analytiker\w*|experten|forscher\w*|kandidat\w*|opposition\w*|abgeordnete\w*",
)
"""§2.3: an analyst's suggestion or a candidate's promise is no proposal."""

_MORE_ADVANCED_THAN_PROPOSED = frozenset(AgreementStatus) - {AgreementStatus.PROPOSED}


def proposal_cued(text: str, party_starts: Sequence[int]) -> bool:
    """True when ``text`` states, as fact, that a party named before the verb in its sentence
    proposes or offers an instrument named right after it ("Georgetown formally proposed a defence
    pact to Brazil"), and cues no later stage (guidelines §2.3, §5.1: ``proposed``).

    ``party_starts``: where the passage's party mentions start, as offsets into ``text``.
    """
    if any(cue.search(text) for status, cue in STATUS_CUES if status in _MORE_ADVANCED_THAN_PROPOSED):
        return False
    for verb in PROPOSAL.finditer(text):
        after = re.split(r"[.;!?]", text[verb.end() : verb.end() + 90], maxsplit=1)[0]
        if AGREEMENT_NOUN.search(after) is None:
            continue
        sentence = max(text.rfind(".", 0, verb.start()), text.rfind(";", 0, verb.start())) + 1
        before = text[sentence : verb.start()]
        if not any(sentence <= at < verb.start() for at in party_starts) or _NOT_A_PROPOSER.search(before):
            continue
        if asserted(text, verb.start()):
            return True
    return False


LEAVING_BEFORE = re.compile(
    r"\b(?:withdr[ae]w\w*\s+from|pull(?:s|ed|ing)?\s+out\s+of|quit(?:s|ting)?|exit(?:s|ed|ing)?(?:\s+from)?|leav(?:e|es|ing)|left|"
    r"(?:se\s+|s['’])?retir\w+\s+(?:de|du|des|del)|quitt\w+|sal(?:ió|ieron|ir|e|en)\s+(?:de|del)|abandon\w+|"
    r"(?:austr(?:itt|eten|at|aten)\w*|ausgetreten)\s+aus|verl[äa]ss\w+|verlie[ßs]\w*)\s+"
    r"(?:(?:the|la|le|l['’]|el|der|die|dem|den)\s*)?$",
    re.IGNORECASE,
)
"""A verb of leaving right before a name: "withdrawing from the G5 Sahel", "quitte la CEDEAO"
(the member leaving an organization, guidelines §5.2: ``terminated``)."""


def asserted(text: str, start: int) -> bool:
    """True when nothing before ``start`` in its clause makes what follows a condition, threat,
    plan, denial, negation or background (:data:`_NOT_ASSERTED`)."""
    clause = text[:start]
    cut = max((m.end() for m in _CLAUSE_START.finditer(clause)), default=0)
    return _NOT_ASSERTED.search(clause[cut:]) is None


_PACT_NAMED_AFTER = re.compile(
    r"^\s+(?:(?:security|defen[cs]e|military|mutual|trilateral|collective|nuclear|submarine)\s+){0,2}"
    r"(?:pact|treaty|alliance|agreement|accord|partnership|arrangements?|deal)\s+(?:between|among|linking)\b",
    re.IGNORECASE,
)
_PACT_NAMED_BEFORE = re.compile(r"\b(?:pact[eo]?|trait[ée]|tratado|alliance|alianza|pakt|b[üu]ndnis)\s+$", re.IGNORECASE)
_MEMBERS_FOLLOW = re.compile(r"^\s+(?:between|among|entre|zwischen)\b", re.IGNORECASE)


def names_the_pact(text: str, start: int, end: int) -> bool:
    """True when the name ``text[start:end]`` is the name of a pact whose members the text then
    lists: "the AUKUS security pact between the United States, ...", "le pacte AUKUS entre ...".
    Its members are the parties; the name is the record's ``name`` (guidelines §3.4, step 3)."""
    before, after = text[max(0, start - 20) : start], text[end : end + 60]
    return bool(_PACT_NAMED_AFTER.match(after) or (_PACT_NAMED_BEFORE.search(before) and _MEMBERS_FOLLOW.match(after)))


DENIED_INSTRUMENT = _cue(
    r"(?:den(?:y|ies|ied|ying)|dismiss(?:es|ed|ing)?|refut\w+)\s+(?:(?:the\s+)?(?:existence|reports?|claims?|"
    r"rumou?rs?|allegations?)\s+(?:of|that)\s+|that\s+)?(?:(?:there\s+(?:was|is|were|had\s+been)|having\s+(?:signed|reached)|"
    r"signing|reaching|(?:it|they|he|she)\s+(?:had\s+)?(?:signed|reached|agreed\s+to))\s+)?(?:a|an|any|such)\s+"
    + _OBJECT_MODIFIERS + _INSTRUMENT,
    r"(?:d[ée]men\w+|ni[ée]\w*)\s+(?:l['’]existence\s+d['’]|avoir\s+(?:sign[ée]|conclu)\s+)?(?:un|une|aucun|aucune)\s+"
    + _OBJECT_MODIFIERS + _INSTRUMENT,
    r"(?:neg(?:ó|aron|ar|ando)|desminti\w*)\s+(?:la\s+existencia\s+de\s+)?(?:haber\s+firmado\s+)?"
    r"(?:un|una|ning[úu]n|ninguna)\s+" + _OBJECT_MODIFIERS + _INSTRUMENT,
    r"(?:dementi\w+|bestr(?:itt|eit)\w*)\s+(?:\w+\s+){0,3}?(?:ein\w*|kein\w*)\s+" + _OBJECT_MODIFIERS + _INSTRUMENT,
)
"""A party denying that an agreement exists or was made ("denied the existence of a reported
'gentleman's agreement'", "denies signing any pact"): no record (guidelines §2.7). A denial of
what a named, existing agreement allows ("denied reports that its 2022 security agreement
allows ...") is not one: the agreement stands and the model decides."""


def denies_an_agreement(text: str) -> bool:
    """True when ``text`` denies that an agreement exists or was made (:data:`DENIED_INSTRUMENT`)."""
    return DENIED_INSTRUMENT.search(text) is not None


ACTING_FOR_STATE_AFTER = re.compile(
    r"(?:\s*[-–/]|\s*,|\s+(?:and|or|et|ou|y|o|und|oder)\b|\s+(?:[\w'’-]+\s+){0,2}?(?:"
    r"government|administration|authorities|officials?|president|prime\s+minister|premier|chancellor|"
    r"ministers?|ministry|foreign|defen[cs]e|leaders?|leadership|king|queen|crown\s+prince|prince|emir|"
    r"sultan|junta|regime|parliament|lawmakers|cabinet|envoys?|ambassadors?|diplomats?|delegation|"
    r"counterparts?|side|state|navy|army|air\s+force|military|armed\s+forces|forces|troops|soldiers|"
    r"coast\s+guard|pacts?|treat(?:y|ies)|agreements?|accords?|alliances?|deals?|partnerships?|memorand\w*)\b)",
    re.IGNORECASE,
)
"""What may follow a demonym that stands for its state: who acts for it ("Ukrainian President",
"the Israeli government", "Turkish troops"), a pact it is party to ("a Russian-Chinese
treaty") or another name in a list. "North Korean missile launches" or "Palestinian
interests" name no one acting for a state (§3.1, §3.3). Match it at the end of the demonym."""


SAME_PACT_AGAIN = re.compile(
    r"\s*(?:(?:under|in)\s+)?(?:the|this|that)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:pact|treaty|agreement|accord|deal|charter|alliance|partnership|memorandum|arrangement)\b|"
    r"\s*(?:(?:selon|en\s+vertu\s+d['’]|aux\s+termes\s+d['’])\s*)?(?:le|ce|cet|cette|la|l['’])\s*(?:[\w-]+\s+){0,2}?"
    r"(?:pacte|trait[ée]|accord|partenariat|charte|alliance)\b|"
    r"\s*(?:(?:seg[úu]n|en\s+virtud\s+de(?:l)?)\s+)?(?:el|este|esta|la)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:pacto|tratado|acuerdo|alianza|carta|asociaci[óo]n)\b|"
    r"\s*(?:der|das|die|dieser|dieses|diese)\s+(?:[\w-]+\s+){0,2}?\w*(?:pakt|vertrag|abkommen|b[üu]ndnis|vereinbarung|charta)\w*\b",
    re.IGNORECASE,
)
"""A passage that opens by referring back to a pact ("The pact states ...", "Under the treaty,
...", "Le pacte prévoit ..."): it describes the pact the passage before reported (§2.11)."""


REFERS_TO_PARTIES = _cue(
    r"(?:the\s+(?:two|three|four)|both)\s+(?:countries|nations|states|governments|sides|neighbou?rs|"
    r"militaries|armies|capitals|partners|allies|leaders)",
    r"les\s+(?:deux|trois|quatre)\s+(?:pays|nations|[ée]tats|gouvernements|parties|capitales|voisins|alli[ée]s|dirigeants)",
    r"(?:ambos|los\s+(?:dos|tres|cuatro))\s+(?:pa[íi]ses|gobiernos|estados|aliados|vecinos)|"
    r"ambas\s+(?:naciones|partes|capitales)|las\s+(?:dos|tres|cuatro)\s+(?:naciones|partes|capitales)",
    r"(?:beide|die\s+(?:zwei|drei|vier))[n]?\s+(?:l[äa]nder|staaten|regierungen|seiten|nachbarn|verb[üu]ndeten|hauptst[äa]dte)",
)
"""A passage that names its parties only by referring back to them ("the two countries signed
...", "both governments", "les deux pays"): they are named in an earlier passage."""


ENDED_PRESENCE = _cue(
    r"hand(?:s|ed|ing)? (?:over|back) (?:[\w'’-]+ ){0,5}?(?:bases?|camps?|garrisons?|facilit(?:y|ies)|installations?)|"
    r"(?:end(?:s|ed|ing)?|clos(?:e|es|ed|ing)|the end) (?:of )?(?:its |their |the |an? )?(?:[\w'’-]+ ){0,4}?"
    r"(?:military|troop|permanent|armed) presence",
    r"(?:remis|rendu|r[ée]troc[ée]d[ée]|restitu[ée]|c[ée]d[ée])e?s? (?:[\w'’-]+ ){0,6}?(?:camps?|bases?|emprises?|garnisons?)|"
    r"(?:(?:mis|met|mettre|mettant|mettent) fin|la fin) (?:[àa]|de) (?:[\w'’-]+ ){0,8}?pr[ée]sence militaire",
    r"(?:entreg\w+|devolv\w+|devolvi\w+) (?:[\w-]+ ){0,5}?(?:bases?|campamentos?|instalaciones)|"
    r"(?:(?:puso|pusieron|poner|pone|ponen|poniendo) fin|el fin) (?:a|de) (?:[\w-]+ ){0,8}?presencia militar",
    r"(?:[üu]bergab|[üu]bergeben|[üu]bergibt)\w* (?:\w+ ){0,5}?\w*(?:st[üu]tzpunkt|basis|lager|kaserne)\w*|"
    r"(?:ende|beend\w+) (?:\w+ ){0,5}?\w*milit[äa]rpr[äa]senz\w*",
)
"""A host state's foreign military presence ending: a base handed over, "marking the end of a
military presence". With the troops there by arrangement, that ends a basing arrangement even
where no word for the agreement is used (guidelines §2.10)."""


def presence_ended(text: str) -> bool:
    """True when ``text`` states, as fact, that a foreign military presence ends (:data:`ENDED_PRESENCE`; §2.10)."""
    return any(asserted(text, match.start()) for match in ENDED_PRESENCE.finditer(text))


AID_COMMITMENT = _cue(
    r"(?:approv(?:e|es|ed|ing)|pledg(?:e|es|ed|ing)|commit(?:s|ted|ting)?|earmark(?:s|ed|ing)?|"
    r"allocat(?:e|es|ed|ing)|grant(?:s|ed|ing)?|announc(?:e|es|ed|ing))\s+(?:[\w€$£¥.,'’-]+\s+){0,6}?"
    r"(?:(?:military|security|defen[cs]e)\s+(?:aid|assistance|support|funding)|(?:aid|assistance|arms)\s+packages?)|"
    r"(?:agree[sd]?|agreeing|pledg\w+|promis\w+|committed)\s+to\s+(?:provide|supply|deliver|donate|give|fund|finance|transfer)",
    r"(?:approuv|promis|engag|accord|d[ée]bloqu|allou|annonc)\w*\s+(?:[\w€$£.,'’-]+\s+){0,6}?"
    r"(?:d['’])?(?:aide|assistance)\s+militaire|(?:engag\w+|promis|accept\w+)\s+(?:de|[àa])\s+(?:fournir|livrer|financer|donner)",
    r"(?:aprob|promet|prometi|comprometi|otorg|conced|concedi|destin|anunci)\w*\s+(?:[\w€$£.,'’-]+\s+){0,6}?"
    r"(?:ayuda|asistencia)\s+militar|(?:comprometi\w+|acord\w+)\s+(?:a\s+)?(?:proporcionar|suministrar|entregar|financiar|donar)",
    r"\w*milit[äa]rhilfe\w*\s+(?:\S+\s+){0,8}?(?:zugesagt|bewilligt|genehmigt|beschlossen)|"
    r"(?:sagt\w*|bewilligt\w*|genehmigt\w*|beschloss\w*)\s+(?:\S+\s+){0,8}?\w*milit[äa]rhilfe\w*",
)
"""A donor committing aid to a recipient: aid approved or pledged, "agreed to provide ..."
(guidelines §2.9). It is a military-aid agreement only with stated content (:data:`_AID_CONTENT`)."""

_AID_CONTENT = re.compile(
    r"[€$£¥]\s?\d|\b\d[\d.,]*\s?(?:million|billion|bn|millions?|milliards?|millones|mil millones|millionen|milliarden|mio|mrd)\b|"
    r"\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twelve|dozens? of)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:aircraft|jets|helicopters|tanks|vessels|boats|ships|drones|radars|missiles|howitzers|vehicles|"
    r"avions|h[ée]licopt[èe]res|chars|navires|drones|radars|aviones|helic[óo]pteros|tanques|buques|"
    r"flugzeuge|hubschrauber|panzer|schiffe|drohnen)\b",
    re.IGNORECASE,
)
"""The stated content that makes an aid commitment discrete (§2.9): an amount or counted items."""


def aid_committed(text: str) -> bool:
    """True when ``text`` states, as fact, a discrete aid commitment: a donor approving, pledging or
    agreeing to provide aid (:data:`AID_COMMITMENT`) with an amount or counted items
    (guidelines §2.9). Ongoing aid, plans and deliveries are not commitments."""
    if _AID_CONTENT.search(text) is None:
        return False
    return any(asserted(text, match.start()) for match in AID_COMMITMENT.finditer(text))


_HYPOTHETICAL = _cue(
    r"if|unless|whether|should|ought",
    r"si|devrai\w*",
    r"si|deber[íi]a\w*",
    r"wenn|falls|ob|sollte\w*",
)
"""Words that make what follows them in their clause a condition or a suggestion (§2.3, §2.7)."""


def only_hypothetical(text: str) -> bool:
    """True when ``text`` names an agreement only inside a condition or a suggestion ("If our
    defence treaty with Washington cannot stop this", "should turn the calm into a formal pact"):
    a label in a conditional states no fact about an agreement (guidelines §2.6, §2.7)."""
    nouns = list(AGREEMENT_NOUN.finditer(text))
    if not nouns or AGREED_PRESENCE.search(text) is not None:
        return False
    return all(_HYPOTHETICAL.search(_clause_before(text, noun.start())) for noun in nouns)


def _clause_before(text: str, start: int) -> str:
    clause = text[:start]
    cut = max((m.end() for m in _CLAUSE_START.finditer(clause)), default=0)
    return clause[cut:]


_BACK_REFERENCE = re.compile(
    r"(?:\b(?:the|this|that|these|those|such)|(?<!\w)(?:le|la|l['’]|ce|cet|cette|ces|el|este|esta|ese|esa|estos|estas|"
    r"der|die|das|dieser|diese|dieses|den|dem))\s*(?:[a-zà-ÿ'’-]+\s+){0,2}$",
    re.IGNORECASE,
)
_NAMED_OR_PARTIES_AFTER = re.compile(r"\s+(?:with|between|among|avec|entre|con|mit|zwischen)\b", re.IGNORECASE)


def refers_back_only(text: str) -> bool:
    """True when every word for an agreement in ``text`` refers back to one reported before it
    ("Diplomats said Ghana was watching the deal closely", "The agreements follow months of ..."):
    a determiner, at most two lower-case words, the noun, and no partner after it. Such a
    passage describes a pact already reported, and names no new parties to it (§2.11)."""
    nouns = list(AGREEMENT_NOUN.finditer(text))
    if not nouns:
        return False
    for noun in nouns:
        before = _BACK_REFERENCE.search(text, max(0, noun.start() - 40), noun.start())
        if before is None or _NAMED_OR_PARTIES_AFTER.match(text, noun.end()):
            return False
        modifiers = text[before.start() : noun.start()].split()[1:]
        if any(word[:1].isupper() or word[:1].isdigit() for word in modifiers):
            return False
    return True


SEPARATE_INSTRUMENT = _cue(
    r"separately|(?:a|an|the|two) separate (?:[\w-]+ ){0,2}?(?:deals?|agreements?|accords?|treat(?:y|ies)|pacts?|"
    r"memorand(?:um|a)|arrangements?|moves?|steps?|announcements?)",
    r"par ailleurs|s[ée]par[ée]ment|(?:un|une|deux) (?:accord|trait[ée]|pacte|m[ée]morandum)s? (?:distinct|s[ée]par[ée])e?s?",
    r"por separado|por otra parte|(?:un|otro|dos) (?:acuerdo|tratado|pacto|memor[áa]ndum)s? (?:aparte|separado|distinto)s?",
    r"separat|gesondert|(?:in )?(?:einem|einer) (?:gesonderten|separaten|eigenen) \w*(?:abkommen|vertrag|vereinbarung)\w*",
)
"""A passage marking what it reports as a distinct instrument ("Separately, Tokyo agreed to
provide radars", "under a separate bilateral treaty"): the same parties' earlier record is
another agreement, so the two stay apart when they differ in kind (§2.11)."""


_ITEMS = (
    r"(?:jets|aircraft|airplanes|planes|fighters?|helicopters|tanks|frigates|submarines|corvettes|vessels|ships|boats|"
    r"drones|missiles|howitzers|vehicles|rifles|ammunition|shells|launchers|"
    r"avions|chasseurs|h[ée]licopt[èe]res|chars|fr[ée]gates|sous-marins|navires|drones|missiles|v[ée]hicules|munitions|"
    r"aviones|cazas|helic[óo]pteros|tanques|fragatas|submarinos|buques|drones|misiles|veh[íi]culos|municiones|"
    r"\w*(?:flugzeuge|jets|hubschrauber|panzer|fregatten|u-boote|schiffe|drohnen|raketen|fahrzeuge|munition)\w*)"
)
SALE = _cue(
    r"(?:contracts?|purchas(?:e|es|ed|ing)|order(?:s|ed|ing)?|buy(?:s|ing)?|bought|acquir(?:e|es|ed|ing)|acquisitions?)"
    r" (?:[\w$€£¥.,'’-]+ ){0,6}?" + _ITEMS + r"|contracts? (?:with|from) ",
    r"(?:contrats?|achat|achet\w+|command\w+|acqui\w+|acquisition) (?:[\w$€£.,'’-]+ ){0,6}?" + _ITEMS,
    r"(?:contratos?|compra\w*|adquisici[óo]n|adquiri\w+|pedido) (?:[\w$€£.,'’-]+ ){0,6}?" + _ITEMS,
    r"(?:kauf\w*|gekauft|beschaff\w*|bestell\w*|auftrag) (?:\S+ ){0,6}?" + _ITEMS,
)
"""A purchase of equipment: a contract, order or purchase of counted weapons or platforms."""

_GENERIC_INSTRUMENT = _cue(
    r"deals?|agreements?|accords?", r"accords?|contrats?", r"acuerdos?|contratos?", r"\w*(?:abkommen|vereinbarung)\w*"
)


def sale_only(text: str) -> bool:
    """True when ``text`` reports a purchase of equipment (:data:`SALE`) and names no instrument
    beyond the sale's own "deal" or "agreement": a sale is not a security agreement, like a
    delivery (guidelines §2.13, §2.9)."""
    if not any(asserted(text, match.start()) for match in SALE.finditer(text)):
        return False
    return not names_an_instrument(_GENERIC_INSTRUMENT.sub(" ", text))
