"""Text normalisation for the crisis check.

Speech-to-text and quick typing both lose the cues a simple phrase list relies
on: punctuation, capitals, accents, apostrophes ("j'ai" comes back as "j ai" or
"jai"), and they add filler words and spell numbers out. Everything is folded to
one plain form first so the rules are written once.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018`\u00b4\u02bc", "'"))
_NON_WORD = re.compile(r"[^a-z0-9#]+")
_SPACES = re.compile(r"\s+")

# Fillers carry no meaning and break up phrases ("i want to um kill myself").
_FILLERS = re.compile(
    r"\b(?:um+|uh+m*|erm+|er|hmm+|mm+|ah+|eh|euh+|heu+|bah|ben|hein|(?<!de )(?<!a )quoi|genre|like i said|you know|"
    r"i mean|tu vois|tu sais)\b"
)

# Contractions and common mis-transcriptions, applied on the folded text.
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bmy self\b", "myself"),
        (r"\bme self\b", "myself"),
        (r"\bmyslef\b|\bmysef\b|\bmyselfe\b", "myself"),
        (r"\bkms\b", "kill myself"),
        (r"\bun ?alive\b", "kill"),
        (r"\bsewer ?side\b|\bsue ?a ?side\b|\bsuicid\b|\bsuiside\b|\bsucide\b|\bsuicde\b", "suicide"),
        (r"\bwanna\b", "want to"),
        (r"\bgonna\b", "going to"),
        (r"\bgotta\b", "got to"),
        (r"\bi ?m\b", "i am"),
        (r"\bi ?ve\b", "i have"),
        (r"\b(i|you|we|they|he|she|it|that|everyone) ll\b", r"\1 will"),
        # STT often writes "I'll" as "ill": only before a verb, so "ill" (sick) stays.
        (r"\bill (hurt|kill|end|do|take|jump|cut|die|be gone|go|never|not)\b", r"i will \1"),
        (r"\bi d\b", "i would"),
        (r"\bdon ?t\b", "do not"),
        (r"\bdoesn ?t\b", "does not"),
        (r"\bdidn ?t\b", "did not"),
        (r"\b(?:can ?t|cannot|can not)\b", "cannot"),
        (r"\bwon ?t\b", "will not"),
        (r"\bwouldn ?t\b", "would not"),
        (r"\bisn ?t\b", "is not"),
        (r"\baren ?t\b", "are not"),
        (r"\bit s\b", "it is"),
        (r"\bthere s\b", "there is"),
        (r"\bthat s\b", "that is"),
        (r"\bwhat s\b|\bwhats\b", "what is"),
        (r"\beveryone s\b", "everyone is"),
        (r"\b(?:every ?one|every ?body|all of you|the world)\b", "everyone"),
        (r"\b(they|you|we|he|she|everyone|people|it) d\b", r"\1 would"),
        (r"\b(they|you|we) re\b", r"\1 are"),
        # French
        (r"\bj ?(?:e )?suis\b|\bchui[s]?\b|\bshui[s]?\b", "je suis"),
        (r"\bj ?veu[xt]\b", "je veux"),
        (r"\bj ?ai\b|\bjai\b", "j ai"),
        (r"\bj ?en\b", "j en"),
        (r"\bj ?vais\b", "je vais"),
        (r"\bmourrir\b|\bmourire\b", "mourir"),
        (r"\bsuicidee?\b", "suicide"),
        (r"\bveu[xt]\b", "veux"),
        (r"\bt ?es\b", "tu es"),
    )
)

_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "hundreds",
    "thousand",
    "dozen",
    "dozens",
    "couple",
    "un",
    "une",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "vingt",
    "trente",
    "quarante",
    "cinquante",
    "soixante",
    "cent",
    "cents",
    "mille",
    "douzaine",
    "dizaine",
    "dizaines",
    "vingtaine",
    "trentaine",
    "cinquantaine",
]
# "one", "un", "une" are far too common as articles to become numbers; they only
# count next to another number ("twenty one", "vingt et un").
_STANDALONE_NUMBERS = sorted(set(_NUMBER_WORDS) - {"one", "un", "une", "couple"}, key=len, reverse=True)
_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "thirtieth",
    "fortieth",
    "fiftieth",
    "premier",
    "premiere",
    "deuxieme",
    "troisieme",
    "quatrieme",
    "cinquieme",
    "sixieme",
    "septieme",
    "huitieme",
    "neuvieme",
    "dixieme",
    "onzieme",
    "douzieme",
    "treizieme",
    "quatorzieme",
    "quinzieme",
    "seizieme",
    "vingtieme",
    "trentieme",
]
# Ordinals matter for heights ("the tenth floor", "le dixieme etage"); "first"
# and "second" are too common elsewhere to become numbers.
_ORDINAL = re.compile(
    r"\b(?:\d+(?:st|nd|rd|th|e|eme|ieme|er|ere)|"
    + "|".join(o for o in _ORDINALS if o not in {"first", "second", "premier", "premiere"})
    + r")\b"
)
_NUMBER = re.compile(
    r"\b(?:\d+|"
    + "|".join(_STANDALONE_NUMBERS)
    + r")(?:\s+(?:et\s+|and\s+|-\s*)?(?:\d+|"
    + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
    + r"))*\b"
)


def fold(text: str) -> str:
    """Lowercase, strip accents and apostrophes, keep letters, digits and spaces."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()


def normalize(text: str) -> str:
    """The form every rule is written against: folded, fillers dropped,
    contractions expanded, numbers (digits or words) replaced by ``#``."""
    text = fold(text)
    text = _FILLERS.sub(" ", text)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    text = _ORDINAL.sub("#", text)
    text = _NUMBER.sub("#", text)
    return _SPACES.sub(" ", text).strip()
