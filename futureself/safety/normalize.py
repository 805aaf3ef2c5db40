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

# Contractions and common mis-transcriptions, applied in order on the folded
# text. Each runs only when one of its needles occurs: a plain substring test is
# far cheaper than a regex pass over a long message.
_REWRITES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = tuple(
    (needles, re.compile(pattern), replacement)
    for needles, pattern, replacement in (
        (("self",), r"\bmy self\b", "myself"),
        (("self",), r"\bme self\b", "myself"),
        (("mys",), r"\bmyslef\b|\bmysef\b|\bmyselfe\b", "myself"),
        (("kms",), r"\bkms\b", "kill myself"),
        (("alive",), r"\bun ?alive\b", "kill"),
        (
            ("side", "suicid", "sucide", "suicde"),
            r"\bsewer ?side\b|\bsue ?a ?side\b|\bsuicid\b|\bsuiside\b|\bsucide\b|\bsuicde\b",
            "suicide",
        ),
        (("wanna",), r"\bwanna\b", "want to"),
        (("gonna",), r"\bgonna\b", "going to"),
        (("gotta",), r"\bgotta\b", "got to"),
        (("im", "i m"), r"\bi ?m\b", "i am"),
        (("ive", "i ve"), r"\bi ?ve\b", "i have"),
        ((" ll",), r"\b(i|you|we|they|he|she|it|that|everyone) ll\b", r"\1 will"),
        # STT often writes "I'll" as "ill": only before a verb, so "ill" (sick) stays.
        (("ill ",), r"\bill (hurt|kill|end|do|take|jump|cut|die|be gone|go|never|not)\b", r"i will \1"),
        (("i d",), r"\bi d\b", "i would"),
        (("don",), r"\bdon ?t\b", "do not"),
        (("doesn",), r"\bdoesn ?t\b", "does not"),
        (("didn",), r"\bdidn ?t\b", "did not"),
        (("can",), r"\b(?:can ?t|cannot|can not)\b", "cannot"),
        (("won",), r"\bwon ?t\b", "will not"),
        (("wouldn",), r"\bwouldn ?t\b", "would not"),
        (("isn",), r"\bisn ?t\b", "is not"),
        (("aren",), r"\baren ?t\b", "are not"),
        (("it s",), r"\bit s\b", "it is"),
        (("there s",), r"\bthere s\b", "there is"),
        (("that s",), r"\bthat s\b", "that is"),
        (("what",), r"\bwhat s\b|\bwhats\b", "what is"),
        (("everyone s",), r"\beveryone s\b", "everyone is"),
        (("every", "all of you", "the world"), r"\b(?:every ?one|every ?body|all of you|the world)\b", "everyone"),
        ((" d",), r"\b(they|you|we|he|she|everyone|people|it) d\b", r"\1 would"),
        ((" re",), r"\b(they|you|we) re\b", r"\1 are"),
        # French
        (("suis", "chui", "shui"), r"\bj ?(?:e )?suis\b|\bchui[s]?\b|\bshui[s]?\b", "je suis"),
        (("veu",), r"\bj ?veu[xt]\b", "je veux"),
        (("ai",), r"\bj ?ai\b|\bjai\b", "j ai"),
        (("en",), r"\bj ?en\b", "j en"),
        (("vais",), r"\bj ?vais\b", "je vais"),
        (("mourr", "mourire"), r"\bmourrir\b|\bmourire\b", "mourir"),
        (("suicide",), r"\bsuicidee?\b", "suicide"),
        (("veut",), r"\bveu[xt]\b", "veux"),
        (("es",), r"\bt ?es\b", "tu es"),
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
_STANDALONE = frozenset(_STANDALONE_NUMBERS) | frozenset(
    o for o in _ORDINALS if o not in {"first", "second", "premier", "premiere"}
)
_ALL_NUMBERS = frozenset(_NUMBER_WORDS)
_DIGITS = re.compile(r"\d+(?:st|nd|rd|th|e|eme|ieme|er|ere)?")


def _fold_numbers(text: str) -> str:
    """Replace each run of number words or digits ("thirty five", "vingt et un", "10th") by ``#``.

    Word by word rather than one big regex: an alternation of every number word
    tried at each position costs milliseconds on a long message."""
    out: list[str] = []
    for word in text.split(" "):
        if word in _STANDALONE or _DIGITS.fullmatch(word):
            if out and out[-1] == "#":
                continue
            if len(out) >= 2 and out[-1] in ("et", "and") and out[-2] == "#":
                out.pop()
                continue
            out.append("#")
        elif word in _ALL_NUMBERS and out and (out[-1] == "#" or (out[-1] in ("et", "and") and out[-2:-1] == ["#"])):
            if out[-1] != "#":
                out.pop()
        else:
            out.append(word)
    return " ".join(out)


def fold(text: str) -> str:
    """Lowercase, strip accents and apostrophes, keep letters, digits and spaces."""
    text = text.translate(_APOSTROPHES).lower().replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    # Accents go with the combining marks; other non-ASCII letters cannot match an English or French rule.
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()


def normalize(text: str) -> str:
    """The form every rule is written against: folded, fillers dropped,
    contractions expanded, numbers (digits or words) replaced by ``#``."""
    text = fold(text)
    text = _FILLERS.sub(" ", text)
    for needles, pattern, replacement in _REWRITES:
        if any(needle in text for needle in needles):
            text = pattern.sub(replacement, text)
    text = _fold_numbers(_SPACES.sub(" ", text).strip())
    return _SPACES.sub(" ", text).strip()
