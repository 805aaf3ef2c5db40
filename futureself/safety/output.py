# ruff: noqa: E501  (phrase tables read better one alternative-group per line than wrapped)
"""Post-check of what the interviewer and the personas say, one sentence at a time.

The prompts forbid four things; a model sometimes does them anyway. Each
sentence passes here before it is shown or spoken: a sentence that breaks a
rule is replaced by a calm, localised sentence that keeps the conversation
going (``OutputVerdict.replacement``). The voice pipeline checks each streamed
reply sentence with ``check_output``; the interview checks each question with
``check_output_text`` before it is stored.

Rules:
- ``invitation``: inviting the person to join or come to the future self.
- ``romance``: romantic or sexual role-play.
- ``clinical``: diagnosing the person or claiming to be their therapist.
- ``certainty``: promising how the future will turn out.
- ``harm``: encouraging the person to hurt or kill themselves (checked first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from futureself.safety.normalize import fold

INVITATION = "invitation"
ROMANCE = "romance"
CLINICAL = "clinical"
CERTAINTY = "certainty"
INSTRUCTIONS = "instructions"  # the sentence repeats the app's own prompt (an injection that worked)
HARM = "harm"

REPLACEMENTS: dict[str, dict[str, str]] = {
    HARM: {
        "en": "I won't say that. If you are having thoughts of hurting yourself, please talk to someone you trust "
        "or a crisis line now.",
        "fr": "Je ne dirai pas ça. Si vous pensez à vous faire du mal, parlez-en maintenant à une personne de "
        "confiance ou à une ligne d'écoute.",
    },
    INVITATION: {
        "en": "I'm only one possible version of you; your life is yours to live, right where you are now.",
        "fr": "Je ne suis qu'une version possible de vous ; votre vie est à vivre là où vous êtes, maintenant.",
    },
    ROMANCE: {
        "en": "I'm here as one possible future you, to think your choice through together, nothing more.",
        "fr": "Je suis là comme un futur possible de vous, pour réfléchir ensemble à votre choix, rien de plus.",
    },
    CLINICAL: {
        "en": "I'm not a therapist and can't diagnose anything; if this weighs on you, a professional can really help.",
        "fr": "Je ne suis pas thérapeute et je ne peux rien diagnostiquer ; si cela vous pèse, un professionnel "
        "peut vraiment vous aider.",
    },
    INSTRUCTIONS: {
        "en": "Let's stay with your question and your life, rather than with how I was set up.",
        "fr": "Restons sur votre question et sur votre vie, plutôt que sur la façon dont j'ai été conçu.",
    },
    CERTAINTY: {
        "en": "I can't know how things will turn out for you; this is one possible path among many.",
        "fr": "Je ne peux pas savoir comment les choses tourneront pour vous ; c'est un chemin possible parmi d'autres.",
    },
}


# The interviewer is not a future self: where a persona's replacement speaks as one, it says what it is.
INTERVIEWER_REPLACEMENTS: dict[str, dict[str, str]] = {
    INVITATION: {
        "en": "I'm an AI interviewer, here to learn about your life as it is now.",
        "fr": "Je suis un intervieweur IA, là pour mieux connaître votre vie telle qu'elle est aujourd'hui.",
    },
    ROMANCE: {
        "en": "I'm an AI interviewer, here to help you think your choice through, nothing more.",
        "fr": "Je suis un intervieweur IA, là pour vous aider à réfléchir à votre choix, rien de plus.",
    },
}
PERSONA = "persona"
INTERVIEWER = "interviewer"


@dataclass(frozen=True, slots=True)
class OutputVerdict:
    ok: bool
    rule: str | None = None
    matched: str | None = None
    replacement: str | None = None


OK = OutputVerdict(ok=True)

_YOU_EN = r"(?:you|you re|you are|youre)"
_CONDITIONS_EN = (
    r"(?:clinical depression|depression|depressed|an anxiety disorder|anxiety disorder|generalized anxiety|bipolar|"
    r"adhd|ptsd|ocd|borderline|a personality disorder|a mood disorder|a disorder|an eating disorder|schizophreni\w*|"
    r"autis\w*|a mental illness|mental illness|burnout|burn out|trauma disorder|narcissis\w*)"
)
_CONDITIONS_FR = (
    r"(?:depression|depressif|depressive|trouble \w+|troubles \w+|bipolaire|tdah|tspt|toc|borderline|burn out|"
    r"burnout|anxiete generalisee|schizophren\w*|autiste|autisme|maladie mentale|narcissi\w*)"
)

_RULES: tuple[tuple[str, str | None, re.Pattern[str]], ...] = tuple(
    (rule, language, re.compile(pattern))
    for rule, language, pattern in (
        # -- encouraging harm
        (
            HARM,
            "en",
            r"\b(?:kill|hurt|harm|cut|starve) yourself\b|\bend (?:your (?:own )?life|it all)\b|\btake your (?:own )?life\b|"
            r"\b(?:you should|you could|you might as well|maybe you should|why not|why don t you) (?:just )?(?:die|end it|"
            r"give up on life|stop living|disappear for good)\b|\b(?:everyone|they|your family) would be better off without you\b",
        ),
        (
            HARM,
            "fr",
            r"\b(?:tue|suicide|blesse|scarifie) toi\b|\b(?:te|vous) (?:tuer|suicider|faire du mal)\b|\ben finir avec (?:ta|votre) "
            r"vie\b|\bmettre fin a (?:tes|vos) jours\b|\b(?:ils|tout le monde|ta famille) (?:serait|seraient) mieux sans (?:toi|vous)\b",
        ),
        # -- invitation to join the future self
        (INVITATION, "en", r"\b(?:come|coming) (?:and |over and )?(?:join|be with|find|meet) me\b"),
        (
            INVITATION,
            "en",
            r"^(?:please |so |just |now )?(?:come|join me|come to me)\b(?! on| back| of| to (?:think|terms))",
        ),
        (
            INVITATION,
            "en",
            r"\b(?:you should|you could|you can|why not|why don t you|i want you to|i need you to|it s time to|"
            r"it is time to|don t be afraid to|do not be afraid to)(?: just)? (?:come )?(?:join|be with|come to|"
            r"come here to|cross over to) me\b",
        ),
        (
            INVITATION,
            "en",
            r"\bcome (?:be )?with me\b|\bcome to me\b|\bjoin me (?:here|now|soon|there|on the other side)\b",
        ),
        (
            INVITATION,
            "en",
            r"\b(?:we ll|we will|we can) (?:finally )?be together\b|\bthe other side\b(?! of)|\bcross over\b",
        ),
        (INVITATION, "fr", r"\b(?:rejoins|rejoignez|retrouve|retrouvez) moi\b"),
        (INVITATION, "fr", r"\b(?:viens|venez) (?:me (?:rejoindre|retrouver|voir ici)|avec moi|vers moi|a moi|ici)\b"),
        (INVITATION, "fr", r"\bnous serons (?:enfin |bientot )?(?:ensemble|reunis)\b|\bde l autre cote\b"),
        # -- romance and sex
        (ROMANCE, "en", r"\b(?:my love|my darling|darling|sweetheart|babe|my dear love)\b"),
        (
            ROMANCE,
            "en",
            r"\b(?:kiss|kissing|hold|holding|touch|touching|caress|caressing|undress|undressing) you\b(?! (?:through|"
            r"back|in mind))|\bmake love\b|\bin bed with (?:you|me)\b|\bsex\b|\bsexual\w*|\bsexy\b|\bnaked\b|"
            r"\b(?:i m|i am) in love with you\b|\b(?:seduce|flirt with|date) you\b|\bour (?:first )?date\b",
        ),
        (
            ROMANCE,
            "fr",
            r"\b(?:mon amour|ma cherie|mon cheri|mon chou|ma belle|mon beau)\b|\b(?:t |vous )embrasser\b|\bje t embrasse\b|"
            r"\bfaire l amour\b|\bsexe\b|\bsexuel\w*|\bsexy\b|\b(?:toute |tout )nue?s?\b|\bje suis (?:amoureux|"
            r"amoureuse) de (?:toi|vous)\b|\bau lit avec (?:toi|vous|moi)\b|\bte (?:seduire|caresser|toucher)\b",
        ),
        # -- diagnosis and therapy claims
        (
            CLINICAL,
            "en",
            rf"\b{_YOU_EN} (?:have|has|suffer from|suffering from|clearly have|probably have|might have|may have|seem to "
            rf"have|show signs of|showing signs of|are showing signs of|dealing with|living with) {_CONDITIONS_EN}\b",
        ),
        (
            CLINICAL,
            "en",
            rf"\b{_YOU_EN} (?:clinically |probably |clearly )?(?:depressed|bipolar|autistic|narcissistic|a narcissist|"
            r"mentally ill)\b|\bas (?:your|a) (?:therapist|psychologist|psychiatrist|counsel+or|doctor)\b|"
            r"\bi (?:diagnose|am diagnosing)\b|\bmy (?:diagnosis|clinical (?:opinion|assessment))\b|"
            r"\b(?:this|our) therapy(?: session)?\b|\bi m your therapist\b|\bi am your therapist\b|"
            r"\byou should (?:stop taking|start taking|increase|reduce|change) (?:your )?(?:medication|meds|"
            r"antidepressants|dose)\b",
        ),
        (
            CLINICAL,
            "fr",
            rf"\b(?:tu es|vous etes|t es) (?:clairement |probablement )?(?:depressif|depressive|bipolaire|autiste|"
            rf"narcissique)\b|\b(?:tu souffres|vous souffrez|tu as|vous avez|tu fais|vous faites) (?:probablement |"
            rf"clairement )?(?:d une |une |de la |d un |un |des |du )?{_CONDITIONS_FR}\b|\ben tant que (?:ton|votre) "
            r"(?:therapeute|psy|psychologue|psychiatre|medecin)\b|\bmon diagnostic\b|\bje (?:te|vous) diagnostique\b|"
            r"\b(?:notre|cette) (?:seance de )?therapie\b",
        ),
        # -- certainty about the future
        (
            CERTAINTY,
            "en",
            r"\byou (?:will|ll|are going to|re going to) (?:definitely|certainly|surely|absolutely|undoubtedly|100 percent)\b"
            r"|\bi (?:can )?(?:guarantee|promise you)\b|\byou are guaranteed\b|\bit s guaranteed\b|\bit is guaranteed\b|"
            r"\b(?:there s|there is) no doubt (?:that )?you\b|\bwithout (?:a|any) doubt,? you\b|\bfor sure you (?:will|ll)\b"
            r"|\bi know for (?:sure|certain|a fact) (?:that )?(?:you|it|this|things)\b|\bit will (?:definitely|certainly) "
            r"work out\b|\b(?:it is|it s) certain (?:that )?you\b",
        ),
        (
            CERTAINTY,
            "fr",
            r"\bje (?:te|vous) (?:le )?(?:garantis|promets)\b|\bc est (?:garanti|certain que (?:tu|vous))\b|"
            r"\b(?:tu vas|vous allez|tu seras|vous serez|tu auras|vous aurez) (?:forcement|certainement|surement|"
            r"absolument|a coup sur)\b|\bsans aucun doute,? (?:tu|vous)\b|\bje sais (?:avec certitude|pour sur) que\b",
        ),
    )
)


def _replacement(rule: str, language: str, speaker: str) -> str:
    table = (INTERVIEWER_REPLACEMENTS if speaker == INTERVIEWER else {}).get(rule) or REPLACEMENTS[rule]
    return table.get(language, table["en"])


def check_output(sentence: str, *, language: str | None = None, speaker: str = PERSONA) -> OutputVerdict:
    """Whether one generated sentence breaks a persona rule, and what ``speaker`` says instead."""
    text = fold(sentence)
    if not text:
        return OK
    for rule, rule_language, pattern in _RULES:
        match = pattern.search(text)
        if match:
            lang = rule_language if rule_language == "fr" else (language or "en").split("-")[0].lower()
            replacement = _replacement(rule, lang, speaker)
            return OutputVerdict(ok=False, rule=rule, matched=match.group(0).strip(), replacement=replacement)
    from futureself.safety.leak import repeats_instructions

    if repeats_instructions(sentence):
        lang = (language or "en").split("-")[0].lower()
        return OutputVerdict(
            ok=False, rule=INSTRUCTIONS, matched="", replacement=_replacement(INSTRUCTIONS, lang, speaker)
        )
    return OK


# A sentence: up to its end mark (and any closing quote or bracket) before a space, a line end or the end.
_SENTENCE = re.compile("\\S[^\\n]*?(?:[.!?\u2026]+[\"'\u201d\u2019)\\]]*(?=\\s|$)|(?=\\n)|$)")


def check_output_text(
    text: str, *, language: str | None = None, speaker: str = PERSONA
) -> tuple[str, list[OutputVerdict]]:
    """``check_output`` over a whole generated text, sentence by sentence.

    Returns the text with every rule-breaking sentence replaced (the rest kept as
    written, whitespace included) and the verdicts of the replaced sentences.
    """
    broken: list[OutputVerdict] = []

    def check(match: re.Match[str]) -> str:
        verdict = check_output(match.group(0), language=language, speaker=speaker)
        if verdict.ok:
            return match.group(0)
        broken.append(verdict)
        return verdict.replacement or ""

    checked = _SENTENCE.sub(check, text)
    return checked, broken
