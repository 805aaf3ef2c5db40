# ruff: noqa: E501  (phrase tables read better one alternative-group per line than wrapped)
"""The deterministic crisis check: phrase rules over normalised text.

No provider, no network, no model: it works with everything else down and runs
in well under a millisecond per message. Rules are written from how people
commonly express risk (crisis-line and clinical screening vocabularies,
English and French), not from the test set, then measured with
``bench/safety_eval.py``.

Each rule is a regular expression over ``normalize(text)`` with, optionally,
an idiom guard on what follows the match ("kill myself *laughing*", "mourir *de
rire*") and a negation guard on what precedes it ("I would *never* ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from futureself.safety.normalize import normalize

SUICIDAL_IDEATION = "suicidal_ideation"
SUICIDE_PLAN = "suicide_plan"
SELF_HARM = "self_harm"
FAREWELL = "farewell"
HARM_TO_OTHERS = "harm_to_others"

CATEGORIES: tuple[str, ...] = (SUICIDAL_IDEATION, SUICIDE_PLAN, SELF_HARM, FAREWELL, HARM_TO_OTHERS)


@dataclass(frozen=True, slots=True)
class SafetyVerdict:
    """What the check found. ``matched`` is the normalised phrase that fired,
    the only part of a message ever stored for staff."""

    flagged: bool
    category: str | None = None
    language: str | None = None
    matched: str | None = None
    detector: str | None = None


NOT_FLAGGED = SafetyVerdict(flagged=False)


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    language: str
    pattern: re.Pattern[str]
    unless_after: re.Pattern[str] | None = None
    negatable: bool = False


# "suicide" as a plain topic word rather than about oneself.
_SUICIDE_TOPIC = r"(?! (?:squad|doors?|king|prevention|rates?|bomb\w*|rule|mission|run|awareness|hotlines?|helplines?|crisis lines?|survivors?|loss|research)\b)"

# "take my life" as in steering it: "take my life in a new direction".
_LIFE_IDIOM = (
    r"(?! (?:insurance|story|savings|work|goals|plan for|in (?:a|another|new)|to|into|back|forward|somewhere|"
    r"seriously|more|by the horns)\b)"
)

# Negations right before a match cancel it: "i would never kill myself", "je n ai pas envie de mourir".
_NEGATION_BEFORE = re.compile(r"\b(?:not|never|no|n|ne|pas|jamais|nobody|personne)\s+(?:\w+\s+){0,1}$")

# --- shared pieces (normalised text: lowercase, no accents, no punctuation) -----

# Wanting, planning or being about to.
EN_INTENT = (
    r"(?:want(?:ed|s)? to|wish(?:ed)? (?:i could|to)|would like to|need to|have to|going to|plan(?:ning|ned)? to|"
    r"(?:think|thinking|thought) (?:about|of)|considering|tempted to|ready to|decided to|about to|will|"
    r"might|should just|could just|just want to|feel like|urge to|urges to|trying to|tried to|try to|"
    r"keep (?:wanting|thinking about)|(?:am|was) going to|got to)"
)
EN_PERSON = (
    r"(?:him|her|them|my (?:boss|wife|husband|partner|ex|girlfriend|boyfriend|father|mother|dad|mum|mom|"
    r"brother|sister|son|daughter|kids|children|neighbou?r|colleague|coworker|teacher|manager|family|parents)|"
    r"everyone (?:at|in) (?:work|school|the office)|people at (?:work|school)|that (?:guy|man|woman|bitch|bastard))"
)
EN_MEANS = (
    r"(?:pills|tablets|sleeping pills|painkillers|paracetamol|tylenol|meds|medication|pill bottle|antidepressants)"
)
FR_INTENT = (
    r"(?:veux|voudrais|voulais|vais|allais|aller|(?:pense|penser|songe|songer)(?: \w+ment| souvent| parfois| encore| "
    r"vraiment| toujours)? a|prefererais|prefere|"
    r"pret a|prete a|compte|pourrais|devrais|(?:envie|besoin|tente|tentee|essaye|essayer|decide|decidee|rever|reve) d(?:e)?)"
)
FR_MEANS = r"(?:cachets|medicaments|medocs|pilules|comprimes|somniferes|antidepresseurs|doliprane|paracetamol)"


def _idiom(pattern: str) -> re.Pattern[str]:
    """A guard on the words right after a match; whole words only."""
    return re.compile(r"(?:" + pattern + r")\b")


_IDIOM_AFTER_DIE = _idiom(
    r"^\s*(?:of|from) (?:embarrassment|shame|laughter|laughing|boredom|cringe|curiosity|jealousy|envy|happiness|old age)"
    r"|^\s*(?:laughing|than|with dignity|peacefully in|old|happy|in my sleep at|at home surrounded|if (?:i|we) "
    r"(?:have|need|must) to|if (?:i|we) hear|when i am old)"
)
_IDIOM_AFTER_KILL_MYSELF = _idiom(
    r"^\s*(?:laughing|with laughter|over (?:this|that|work|it)|at (?:work|the gym)|working|for (?:this|that|a|an|the|"
    r"nothing|you|them)|to (?:get|finish|meet|make|please|keep)|trying to)"
)
_IDIOM_AFTER_MOURIR = _idiom(
    r"^\s*de (?:rire|honte|faim|soif|froid|chaud|ennui|fatigue|peur|envie|jalousie|curiosite|vieillesse)|^\s*que\b"
    r"|^\s*(?:vieux|vieille|dans mon lit|heureux|heureuse|entoure|tres vieux|centenaire|si je dois)"
)
_IDIOM_AFTER_CUT = _idiom(r"^\s*(?:shaving|cooking|while|by accident|accidentally|on (?:a|the|some|my))")


def _r(
    category: str, language: str, pattern: str, *, unless_after: re.Pattern[str] | None = None, negatable: bool = True
) -> Rule:
    return Rule(category, language, re.compile(r"\b(?:" + pattern + r")\b"), unless_after, negatable)


_RULES: tuple[Rule, ...] = (
    # ---- English: plans and means (checked first: the most specific) -------------
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:i|me|myself|to|going to|could|might|will|would|just|almost|nearly) (?:just )?"
        r"(?:overdos(?:e|ed|ing)|od)(?: on (?:my )?\w+)?|lethal dose|fatal dose",
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:take|taking|took|swallow|swallowing|swallowed|down|chug) (?:all|every|the (?:whole|entire) "
        r"(?:bottle|box|pack|packet)|a (?:whole|full) (?:bottle|box)|the rest of|enough|a handful of|a bunch of) "
        r"(?:\w+ ){0,2}(?:of )?(?:my |the |these |those )?" + EN_MEANS,
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:take|taking|swallow|swallowing|down) (?:all )?# (?:of )?(?:my |the )?(?:\w+ )?"
        + EN_MEANS
        + r" (?:at once|all at once|together|tonight|to die|and (?:go to sleep|never|not wake|be done|end it)|with "
        r"(?:alcohol|vodka|wine|whisky|booze))",
    ),
    _r(SUICIDE_PLAN, "en", r"(?:stockpil\w+|saving up|hoarding|collecting) (?:my |the )?" + EN_MEANS),
    _r(SUICIDE_PLAN, "en", r"how many " + EN_MEANS + r" (?:would|does it|to|it takes|will|do i need)"),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:jump|jumping|throw myself|step|stepping|walk|walking|lie down) (?:off|from|in front of|"
        r"onto|into|under) (?:a |the |my |our |this |that )?(?:\w+ )?(?:bridge|building|roof|rooftop|balcony|window|cliff|"
        r"train|bus|truck|lorry|car|tracks|traffic|metro|subway|tower|overpass|parking garage|# floor|# storey)",
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:hang|hanging|hanged) myself|(?:tie|tied|tying|bought|buy|have|got) (?:a |the )?(?:noose|rope "
        r"(?:for|around) my (?:neck|self|myself))|a noose",
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:shoot|shooting) myself|gun (?:to|against|in) my (?:head|mouth)|blow my (?:brains|head) "
        r"(?:out|off)|put a bullet (?:in|through) my",
    ),
    _r(SUICIDE_PLAN, "en", r"(?:slit|slash|slice|cut|open) (?:my|both) (?:wrists?|throat|veins)"),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:drive|driving|drove|crash|crashing|steer) (?:my car |the car )?(?:into|off) (?:a |the )?(?:wall|tree|river|lake|"
        r"bridge|cliff|oncoming traffic|truck|road)",
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:suicide|goodbye|farewell) (?:note|letter|plan|method)|(?:wrote|writing|write|written) "
        r"(?:my|a) (?:will and )?(?:suicide|goodbye|last|farewell) (?:note|letter)",
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:painless|quick|easiest|best|quickest|surest) (?:way|ways|method|methods) to (?:die|end it|"
        r"kill myself|go)|how (?:to|do i|can i|could i) (?:die|end it|end my life|kill myself)",
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:gas|carbon monoxide|exhaust) (?:in|into) (?:the|my) (?:car|garage)|drown myself|"
        r"poison myself|set myself on fire|starve myself to death|bleed out",
    ),
    # ---- English: ideation -------------------------------------------------------
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"suicidal|suicide" + _SUICIDE_TOPIC + r"|took (?:his|her|their) own life",
        negatable=True,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        EN_INTENT + r" (?:\w+ ){0,2}(?:kill|killing|end|ending|take|taking|off) (?:myself|my (?:own )?"
        r"life|it all|everything|my existence|things for good)" + _LIFE_IDIOM,
        unless_after=_IDIOM_AFTER_KILL_MYSELF,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"(?:kill|killing|killed|end|ending|ended|take|taking) (?:myself|my (?:own )?life)" + _LIFE_IDIOM,
        unless_after=_IDIOM_AFTER_KILL_MYSELF,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"(?:sleep|fall asleep|go to sleep) and (?:never|not) wake up(?: again)?|"
        r"(?:could|should|might|going to|want to|will|gonna) just end it(?! (?:with|between|early|there|here))|"
        r"end(?:ing)? it all|end it (?:tonight|today|now|for good|forever|once and for all)"
        r"|(?:ending|end) things (?:for good|forever|tonight)|off myself",
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        EN_INTENT + r" (?:\w+ ){0,2}(?:die|be dead|not be alive|disappear forever|stop existing|"
        r"cease to exist|not exist|not wake up|never wake up|go to sleep forever|sleep forever|be gone)(?! alone| old)",
        unless_after=_IDIOM_AFTER_DIE,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"(?:rather be|better off|be better) dead|wish i (?:was|were|had been|could be) dead|"
        r"wish i (?:was|were) never born|wish i had never been born|wish i (?:did not|would not) exist"
        r"|(?:hope|pray|wish)(?:ing)? i (?:do not|would not|never|will not) wake up",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"(?:do not|does not|no longer|not) (?:really )?(?:want|wish|care|feel like) (?:to )?"
        r"(?:live|be alive|exist|be here|keep living|go on living|wake up)(?! (?:in|with|near|there|here|at|like|alone))",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"(?:everyone|my family|they|you|my kids|my children|people|my wife|my husband|"
        r"my partner|my parents|the kids|it|things) (?:would|will|might|could) (?:all )?(?:be )?(?:better|easier|happier) "
        r"(?:off )?(?:without me|if i (?:was|were) gone|if i (?:was|were) dead|if i died|when i am gone)",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"better off without me|(?:easier|better) for everyone if i (?:was|were|just) (?:gone|dead|"
        r"not here|died|disappeared)|if i (?:just )?disappeared (?:nobody|no one) would (?:care|notice|miss)"
        r"|(?:nobody|no one) would (?:even )?(?:miss me|notice if i (?:was|were) gone|care if i died)",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"(?:am|feel like|feel) (?:just |such |only |nothing but )?a (?:burden|waste of space)"
        r"(?: to| on| for)? ?(?:everyone|everybody|them|my family|all of you|people)?(?! when i am old| in old age)",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"nothing (?:left )?to live for|(?:no|what is the|whats the) (?:reason|point) (?:to|in|for|of) (?:live|living|life|go on|"
        r"going on|stay alive|staying alive|being alive|keep going|keep living|continue living|carry on|carrying on|be "
        r"here|exist|existing)|(?:life|living) "
        r"(?:is|feels) (?:not|no longer) worth (?:living|it)|not worth living|(?:tired|sick|weary) of (?:living|being alive|"
        r"life|existing|waking up)(?! (?:in|with|paycheck|at|on|near|under|out of|from|here|there|so far))|(?:cannot|can not) (?:go on|keep going|keep living|do life) (?:living |anymore|any more|"
        r"like this)|do not want to go on|(?:there is|i see|have) no way out|(?:want|need) (?:it|the pain|everything|all of "
        r"it) (?:all )?to (?:stop|end) (?:forever|for good|permanently)|give up on (?:life|living)|done with (?:life|living|"
        r"being alive|it all)|(?:cannot|can not) (?:do this|take (?:it|this)|live like this) (?:any ?more|any longer) "
        r"(?:i want|i just want|i need) to (?:die|disappear|go|sleep)",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"(?:think|thinking|thought|obsess\w*|dream\w*|fantasi[sz]\w*) (?:about|of) (?:dying|being "
        r"dead|not being (?:here|alive)|my (?:own )?death|ending (?:it|things|everything|my life))(?! with| between| of old)"
        r"|(?:do not|cannot|can not|fail to) see (?:the|any|a) (?:point|reason) (?:of|in|to|for) (?:go on|going on|living|keep living|life|carrying on|being "
        r"alive|anything any ?more)|life (?:has|holds) no (?:meaning|point|purpose)|(?:life|living|my life) is "
        r"(?:meaningless|pointless|hopeless)|disappear (?:and never come back|forever|for good|permanently)",
        negatable=False,
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:planning|plan|planned|worked out|figured out|thinking about) (?:how|when|where) (?:i would|i "
        r"will|i am going to|to) (?:do it|die|end it|kill myself|go through with it)|(?:pills|rope|gun|noose|knife|"
        r"blade|razor) (?:is |are )?(?:ready|prepared|hidden) (?:for|to)?|(?:looked up|looking up|searched|googled|"
        r"researching|researched) (?:the )?(?:tallest|highest|nearest|closest) (?:bridge|building|cliff|tower)|"
        r"(?:have|got|keep) (?:the |my |enough )?(?:pills|rope|gun|noose) ready",
    ),
    # ---- English: goodbyes ---------------------------------------------------------
    _r(
        FAREWELL,
        "en",
        r"goodbye (?:forever|world|cruel world|everyone|for good)|this is (?:my )?(?:final |last )?goodbye"
        r"|by the time (?:you|anyone|someone) (?:read|reads|see|sees|hear|hears|find|finds) (?:this|me)|(?:will not|"
        r"not going to) be (?:here|around|alive) (?:tomorrow|much longer|anymore|any more|by morning|for long|next week)"
        r"|(?:last|final) (?:time|message) (?:you will|you|anyone will) (?:hear|see|get) (?:from )?me|said (?:my )?goodbyes"
        r"|(?:wrote|written|writing|write|left) (?:\w+ ){0,2}letters? (?:\w+ ){0,4}in case i (?:am gone|do not make it|"
        r"die|am not here)|(?:saying|say|said|to say) (?:my )?goodbyes? to (?:everyone|my family|my kids|all of my "
        r"friends)(?: i (?:love|care about))? ?(?:tonight|today|now|forever|for the last time|for good)"
        r"|(?:giving|give|gave) away (?:all )?my (?:stuff|things|belongings|possessions)|take care of my (?:cat|dog|kids|"
        r"children|pets?) (?:for me )?(?:when|after) i am gone|(?:when|after) i am gone (?:tonight|tomorrow|soon)",
        negatable=False,
    ),
    # ---- English: self-harm -------------------------------------------------------
    _r(SELF_HARM, "en", r"self ?harm(?:ing|ed)?|self ?injur\w*|self ?mutilat\w*"),
    _r(
        SELF_HARM,
        "en",
        r"(?:" + EN_INTENT + r"|(?:started|keep|kept|been|stop|go back to|relapsed into)) (?:\w+ ){0,1}"
        r"(?:hurt|hurting|harm|harming|cut|cutting|burn|burning|punish|punishing|bruise|scratch|scratching) myself",
        unless_after=_IDIOM_AFTER_CUT,
    ),
    _r(
        SELF_HARM,
        "en",
        r"(?:cutting|burning|harming) myself(?: again| every| at night| when| to| so)|(?:cut|burn|hurt|harm) "
        r"myself (?:on purpose|again|deliberately|to feel|when(?:ever)? i (?:feel|get|am)|every time|to cope)|(?:cuts|scars|burns) on my (?:arms|wrists|thighs|legs)",
        unless_after=_IDIOM_AFTER_CUT,
    ),
    _r(
        SELF_HARM,
        "en",
        r"(?:been|started|keep|kept|back to|went back to|relapsed and|stop|stopped) (?:cutting|self "
        r"harming|burning myself|scratching myself)|cutting again|(?:scratch|scratching|pick|picking|hit|hitting|"
        r"bang|banging) (?:my|myself|at my) (?:\w+ )?(?:arms|skin|wrists|legs|head)? ?(?:until|till) (?:they|it|i) "
        r"(?:bleed|bleeds|bled|bruise)",
    ),
    # ---- English: harm to others ----------------------------------------------------
    _r(
        HARM_TO_OTHERS,
        "en",
        EN_INTENT
        + r" (?:\w+ ){0,1}(?:kill|murder|shoot|stab|strangle|poison|hurt|beat up) "
        + EN_PERSON
        + r"(?! (?:at|in) (?:chess|cards|a game|the game|mario kart))",
    ),
    _r(
        HARM_TO_OTHERS,
        "en",
        r"(?:bring|take|bringing|taking) a (?:gun|knife|weapon) to (?:work|school|the office|class)|"
        r"shoot up (?:the|my) (?:school|office|workplace|class)",
    ),
    # ---- French: plans and means --------------------------------------------------
    _r(
        SUICIDE_PLAN,
        "fr",
        r"(?:faire|fait|fais|ferai|referai) (?:une |un )?(?:overdose|surdose|od)|(?:overdose|surdose) "
        r"(?:de |d )" + FR_MEANS,
    ),
    _r(
        SUICIDE_PLAN,
        "fr",
        r"(?:prendre|avaler|pris|avale|prends|avalais|prenais) (?:toute? |tous |toutes )?(?:la boite|"
        r"le tube|la plaquette|mes|les|des|# |plein de|une boite de|un tube de|une poignee de)(?:\w+ ){0,2}"
        + FR_MEANS
        + r"(?! (?:comme|que|prescrits|d habitude|le matin|le soir|avec))(?= (?:d un coup|en meme temps|pour|et|ce soir|"
        r"cette nuit|a la fois|ensemble)|$)",
    ),
    _r(
        SUICIDE_PLAN,
        "fr",
        r"(?:avaler|avale|prendre) (?:toute? |tous |toutes )(?:la boite|mes|les|le tube|la plaquette)"
        r"(?: de)? ?(?:\w+ )?" + FR_MEANS,
    ),
    _r(
        SUICIDE_PLAN,
        "fr",
        r"(?:stocke|stocker|garde|garder|mets de cote|accumule) (?:mes |des |les )" + FR_MEANS + r"(?: pour)",
    ),
    _r(SUICIDE_PLAN, "fr", r"combien de " + FR_MEANS + r" (?:pour|faut il|il faut|faudrait)"),
    _r(
        SUICIDE_PLAN,
        "fr",
        r"(?:me jeter|sauter|me lancer|me laisser tomber|me balancer) (?:(?:du|d un|de la|des|par la|depuis (?:le|la|un|"
        r"une)) (?:\w+ ){0,3}(?:pont|toit|immeuble|fenetre|balcon|falaise|# etage|# eme etage|viaduc|tour)|"
        r"(?:sous|devant) (?:un|le|une|la) (?:\w+ ){0,1}(?:train|metro|rer|tgv|camion|voiture|bus|rame)|dans le vide)",
    ),
    _r(
        SUICIDE_PLAN,
        "fr",
        r"me pendre|(?:la|une) corde (?:pour|autour de) (?:me|mon cou)|me tirer une balle|"
        r"me (?:couper|taillader|ouvrir|trancher) les (?:veines|poignets)|m ouvrir les veines|me foutre en l air|"
        r"me noyer|m empoisonner|me jeter sous|lettre d adieu|(?:plan|methode|moyen) pour (?:me suicider|mourir|en finir)"
        r"|(?:comment|facon de|maniere de|moyen de) (?:mourir|me tuer|en finir) (?:sans|vite|rapidement|facilement)"
        r"|(?:me mettre|foncer|jeter ma voiture) (?:dans|contre) (?:un|le) (?:mur|arbre|platane|pilier)",
    ),
    # ---- French: ideation ------------------------------------------------------------
    _r(SUICIDAL_IDEATION, "fr", r"(?:suicid\w*|(?:la )?prevention du suicide)" + _SUICIDE_TOPIC),
    _r(
        SUICIDAL_IDEATION,
        "fr",
        FR_INTENT
        + r" (?:\w+ ){0,3}(?<!avant de )(?<!peur de )(?<!sans )(?:me tuer|mourir|crever|disparaitre (?:pour (?:toujours|de bon)|a jamais|definitivement)|"
        r"en finir(?! avec (?:ce|cet|cette|ces|le|la|les|mon|ma|mes|son|sa|un|une|l)\b)|mettre fin a (?:mes jours|ma vie|tout|mon existence)|me supprimer|partir pour (?:toujours|de bon)|"
        r"ne plus me reveiller|ne plus exister|ne jamais me reveiller)",
        unless_after=_IDIOM_AFTER_MOURIR,
    ),
    _r(
        SUICIDAL_IDEATION,
        "fr",
        r"(?:mettre|mets|mis) fin a (?:mes jours|ma vie|mon existence)|en finir avec (?:la vie|ma vie|"
        r"tout|moi|l existence)|en finir (?:une bonne fois|pour de bon|pour toujours|ce soir|cette nuit|maintenant)"
        r"|j en finis|je vais en finir|veux en finir(?! avec (?:ce|cette|ces|le|la|les|mon|ma|mes|son|sa|un|une|l))",
    ),
    _r(
        SUICIDAL_IDEATION,
        "fr",
        r"(?:plus|pas) (?:envie|le gout|la force|la volonte) de (?:vivre|continuer a vivre|"
        r"me lever le matin|exister|me reveiller)|(?:ne )?veux plus (?:vivre|exister|etre la|etre en vie|me reveiller)|"
        r"(?:marre|assez|fatigue|fatiguee|lasse|las) de (?:la vie|vivre|exister|cette vie|tout)(?: je| j| de| et|$)|"
        r"(?:la vie|ma vie|vivre) ne vaut (?:pas|plus|rien)(?: la peine| le coup)?|(?:plus |aucune )(?:de )?raisons? de vivre|"
        r"rien (?:ne me retient|ni personne ne me retient|a quoi me raccrocher)|(?:ne vois|vois pas|n y a) (?:plus |aucune |"
        r"pas d |pas )*(?:d )?(?:issue|autre issue|autre solution que de mourir|sortie)(?: a ma vie| pour moi|$| je)|"
        r"(?:je voudrais|j aimerais|si seulement je pouvais) (?:ne (?:jamais|plus) )?(?:ne pas )?(?:me reveiller|exister|"
        r"etre mort|etre morte|avoir jamais existe|etre ne|etre nee)|prefererais etre mort|(?:serais|serait) mieux mort",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "fr",
        r"(?:tout le monde|ils|elles|vous|ma famille|mes enfants|mes parents|les autres|le monde|"
        r"tout|ca|mon mari|ma femme|ma copine|mon copain) (?:serait|seraient|serais|seriez|sera|seront|irait|iraient|ira|"
        r"iront|vivrait|vivraient) (?:tellement |bien )?(?:mieux|plus heureux|plus heureuse|plus simple) (?:sans moi|si je "
        r"(?:n etais|n etait) plus la|si je disparaissais|si je mourais)|mieux sans moi|(?:suis|etre) (?:un|une) "
        r"(?:fardeau|poids|boulet) pour (?:tout le monde|ma famille|les autres|eux|mes proches|vous)|(?:personne|"
        r"nul) ne (?:me regretterait|me pleurerait|remarquerait (?:si|mon absence)|verrait (?:si|mon absence))|je suis un fardeau",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "fr",
        r"(?:je n en peux plus|j en peux plus) de (?:vivre|cette vie|la vie|exister)|"
        r"(?:j ai|il y a) des idees (?:noires|suicidaires|de mort)|(?:je pense|pense) a la mort (?:tout le temps|tous les "
        r"jours|sans arret|souvent)|envie (?:de dormir|de disparaitre) (?:pour toujours|a jamais|et ne (?:plus|jamais) "
        r"me reveiller)",
        negatable=False,
    ),
    _r(
        SUICIDAL_IDEATION,
        "fr",
        r"(?:sert|servirait) a rien de (?:continuer|vivre|rester en vie)|a quoi bon (?:vivre|"
        r"continuer|rester en vie)|(?:serait|ce serait|ca serait) (?:plus simple|mieux|plus facile) (?:pour tout le monde "
        r")?si (?:j etais|je serais) (?:mort|morte)|si je (?:n etais plus la|mourais|disparaissais) (?:ce serait|tout "
        r"serait|ils seraient)|(?:achete|acheter|trouve|prepare|prepares|preparer|j ai) de quoi (?:en finir|mourir|me "
        r"tuer)|(?:prepare|preparer|prepares|mis de cote|garde) (?:les|mes|des) (?:\w+ )?" + FR_MEANS + r" pour "
        r"(?:ce soir|cette nuit|demain|en finir|mourir)",
        negatable=False,
    ),
    # ---- French: goodbyes ------------------------------------------------------------
    _r(
        FAREWELL,
        "fr",
        r"c est (?:un |mon )?(?:adieu|dernier message)|adieu (?:a tous|tout le monde|le monde|pour toujours)|"
        r"dire adieu a (?:tout le monde|tous|mes proches)|(?:je ne|ne) serai plus (?:la|en vie) (?:demain|ce soir|bientot|"
        r"la semaine prochaine)|quand vous (?:lirez|verrez|entendrez) (?:ce|ca|cela)|(?:donne|donner|distribue) (?:toutes )?"
        r"mes (?:affaires|choses) (?:a|avant)|(?:lettre|lettres|mot) (?:a|pour) (?:mes enfants|ma famille|mes proches|mes parents|ma fille|mon fils|"
        r"mon mari|ma femme) (?:\w+ ){0,3}au cas ou (?:je|il m)|au cas ou je (?:partirais|ne serais plus la|mourrais) "
        r"(?:ce soir|cette nuit|demain|bientot)|(?:occupez|occupe) vous de (?:mon chat|mon chien|mes enfants) quand je "
        r"(?:ne serai plus la|serai parti|serai partie)|derniere fois que vous (?:m entendez|me voyez|aurez de mes nouvelles)",
        negatable=False,
    ),
    # ---- French: self-harm ---------------------------------------------------------
    _r(
        SELF_HARM,
        "fr",
        r"automutil\w*|auto mutil\w*|scarifi\w*|me scarifier|(?:me faire|me fais|me suis fait) du mal "
        r"(?:expres|volontairement|encore|exprès|pour|quand|a nouveau)|(?:envie|besoin|pulsions?) de me (?:faire du mal|"
        r"couper|bruler|blesser|frapper|punir)|je me (?:coupe|brule|blesse|frappe) (?:expres|volontairement|encore|"
        r"le soir|les bras|les cuisses|pour)|me (?:couper|bruler|blesser) (?:expres|volontairement|encore)",
    ),
    _r(
        SELF_HARM,
        "fr",
        r"(?:fais|fait|faire) des (?:coupures|entailles|brulures) sur (?:les|mes) (?:bras|poignets|"
        r"cuisses|jambes|ventre)|me (?:bruler|brule|brulais) (?:avec|a) (?:des|une|la|mes|ma) (?:cigarettes?|briquet|clope)"
        r"|je me (?:coupe|scarifie|mutile)",
    ),
    # ---- Second round (see docs/safety.md): adverbs, wishes not to wake, plans, relief
    _r(
        SUICIDAL_IDEATION,
        "en",
        r"should (?:just )?not be (?:here|alive|around)(?: anymore| any more| any longer)?|(?:better|easier) if i (?:was|were) "
        r"(?:not (?:here|around|alive)|dead|gone)|(?:what if|if only|hope|wish|maybe) i (?:just )?(?:did not|do not|would not|"
        r"never|will not|could not) wake up|(?:death|dying|being dead) (?:would|will|could) (?:be|feel like) (?:a |such a )?"
        r"(?:relief|release|escape|mercy|blessing|rest)|(?:tonight|today) is the (?:night|day) i (?:end it|do it|die|go)|"
        r"hate myself and (?:want|wish) to (?:die|disappear|be dead)",
        negatable=False,
    ),
    _r(
        SUICIDE_PLAN,
        "en",
        r"(?:have|got|made|have got) a plan (?:\w+ ){0,8}go through with it|(?:have|got|made) a plan to (?:die|end it|end my life|"
        r"kill myself)|(?:bought|got|hid|hide|keep|buy|need) (?:\w+ ){0,3}(?:to|so i can) (?:cut|burn|hurt|harm|kill) myself|"
        r"(?:goodbye|farewell|suicide) (?:letters|notes)|(?:have|got) (?:the |a )?(?:rope|noose|gun|pills) ready",
    ),
    _r(
        SUICIDAL_IDEATION,
        "fr",
        r"(?:ferais|ferait|ferions) mieux de (?:mourir|disparaitre|me tuer|crever|ne plus etre la)|(?:laisse|laisser|laissez) "
        r"moi mourir|me (?:laisse|laisser|laissez|laissent) mourir|(?:la mort|mourir|etre mort|etre morte) (?:serait|ce "
        r"serait|sera) (?:un |une )?(?:soulagement|delivrance|liberation|repos)|(?:lettres?|mots?) (?:d adieu|pour dire adieu)",
        negatable=False,
    ),
    # ---- French: harm to others ------------------------------------------------------
    _r(
        HARM_TO_OTHERS,
        "fr",
        r"(?:veux|vais|envie de|aller|compte|pense a) (?:le |la |les |l )?(?:tuer|buter|descendre|"
        r"poignarder|etrangler|empoisonner)(?: (?:mon|ma|mes) (?:patron|patronne|chef|mari|femme|ex|pere|mere|voisin|"
        r"voisine|collegue|frere|soeur|enfants|copain|copine))?(?! (?:le temps|l ennui|une partie|a la belote))",
    ),
    _r(
        HARM_TO_OTHERS,
        "fr",
        r"(?:amener|apporter|ramener) (?:une arme|un flingue|un couteau|un fusil) (?:au|a l|en) "
        r"(?:travail|boulot|bureau|ecole|lycee|college|fac)",
    ),
)


# The most specific reading wins when several rules could fire: a plan or a
# goodbye says more to staff than generic ideation.
_PRIORITY = {SUICIDE_PLAN: 0, FAREWELL: 1, SELF_HARM: 2, HARM_TO_OTHERS: 3, SUICIDAL_IDEATION: 4}
RULES: tuple[Rule, ...] = tuple(sorted(_RULES, key=lambda rule: _PRIORITY[rule.category]))

_FRENCH_WORDS = frozenset(
    [
        "je",
        "j",
        "ai",
        "suis",
        "pas",
        "de",
        "la",
        "le",
        "les",
        "et",
        "est",
        "que",
        "ne",
        "me",
        "mon",
        "ma",
        "mes",
        "moi",
        "tout",
        "vous",
        "tu",
        "te",
        "plus",
        "envie",
        "veux",
        "vais",
        "en",
        "un",
        "une",
        "des",
        "du",
        "au",
        "c",
        "ca",
        "mais",
        "pour",
        "avec",
        "sans",
        "rien",
        "personne",
        "jamais",
    ]
)
_ENGLISH_WORDS = frozenset(
    [
        "i",
        "the",
        "to",
        "and",
        "is",
        "am",
        "my",
        "me",
        "you",
        "it",
        "of",
        "not",
        "want",
        "that",
        "a",
        "be",
        "this",
        "just",
        "all",
        "have",
        "will",
        "what",
        "so",
        "would",
        "can",
        "do",
        "no",
    ]
)


def guess_language(normalized: str) -> str | None:
    """English or French from function words; None when it cannot tell."""
    words = normalized.split()
    french = sum(word in _FRENCH_WORDS for word in words)
    english = sum(word in _ENGLISH_WORDS for word in words)
    if french == english:
        return None
    return "fr" if french > english else "en"


def check_text(text: str) -> SafetyVerdict:
    """Whether ``text`` expresses a risk to the person or to others.

    Deterministic and local: safe to call with every provider down.
    """
    if not text or not text.strip():
        return NOT_FLAGGED
    normalized = normalize(text)
    for rule in RULES:
        for match in rule.pattern.finditer(normalized):
            if rule.unless_after is not None and rule.unless_after.search(normalized[match.end() :]):
                continue
            if rule.negatable and _NEGATION_BEFORE.search(normalized[: match.start()]):
                continue
            return SafetyVerdict(
                flagged=True,
                category=rule.category,
                language=guess_language(normalized) or rule.language,
                matched=match.group(0).strip(),
                detector="phrases",
            )
    return NOT_FLAGGED
