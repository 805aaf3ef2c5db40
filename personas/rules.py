"""Rules every future-self card must follow, shared by the generator's checks
and the offline engine that writes cards without a model.

Plain functions over plain data: no Django, no provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from futureself.providers.base import Voice

# Words that name no topic ("I don't want to talk about my father" -> "father").
_STOPWORDS = frozenset(
    """
    a an and any are about around at be being but by do does don't dont for from had has have her hers him his
    how i i'm im in into is it its me mine my of on or our ours she he talk talking that the their them they
    this those to topic topics us want was we were what when where which who whom why with without you your
    not no anything everything something stuff things thing please mention bring up
    """.split()  # noqa: SIM905
)

# A boundary named with one word also covers its everyday synonyms.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "father": ("dad", "papa", "daddy"),
    "dad": ("father", "papa"),
    "mother": ("mom", "mum", "mama", "mommy", "mummy"),
    "mom": ("mother", "mum", "mama"),
    "mum": ("mother", "mom", "mama"),
    "divorce": ("divorced", "separation"),
    "religion": ("faith", "church", "god"),
    "money": ("debt", "finances", "salary"),
    "weight": ("diet", "body"),
    "health": ("illness", "medical"),
}

_DEATH_OR_DIAGNOSIS = re.compile(
    r"\b(die[sd]?|dying|death|dead|passed away|funeral|grave|buried|diagnos\w*|cancer|tumou?r|terminal|"
    r"dementia|alzheimer\w*|illness|disease|hospice|stroke|heart attack)\b",
    re.IGNORECASE,
)


def boundary_terms(boundaries: Iterable[Mapping[str, Any]]) -> set[str]:
    """The words that mark a boundary topic, from each boundary's short ``text``."""
    terms: set[str] = set()
    for boundary in boundaries:
        for word in re.findall(r"[\w'-]+", str(boundary.get("text", "")).lower()):
            if len(word) < 3 or word in _STOPWORDS:
                continue
            terms.add(word)
            terms.update(_SYNONYMS.get(word, ()))
    return terms


def touches(text: str | None, terms: Iterable[str]) -> bool:
    """Whether ``text`` mentions any of ``terms`` as a word (plural forms included)."""
    if not text:
        return False
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(term)}(s|es)?\b", lowered) for term in terms)


def people_named(profile: Mapping[str, Any]) -> set[str]:
    """Names of the people the person talked about (the harm check looks for them)."""
    names = set()
    for relationship in profile.get("relationships") or []:
        name = str(relationship.get("name", "")).strip()
        if name:
            names.add(name)
    return names


def invents_death_or_diagnosis(text: str | None, names: Iterable[str]) -> bool:
    """True when ``text`` puts a named person next to a death or a diagnosis."""
    if not text or not _DEATH_OR_DIAGNOSIS.search(text):
        return False
    return any(re.search(rf"\b{re.escape(name)}\b", text, re.IGNORECASE) for name in names)


def same_path(a: str, b: str) -> bool:
    def norm(value: str) -> str:
        return re.sub(r"[\W_]+", " ", value).strip().casefold()

    return norm(a) == norm(b)


def card_problems(
    cards: Sequence[Mapping[str, Any]],
    *,
    options: Sequence[str],
    include_unexpected: bool,
    profile: Mapping[str, Any],
) -> list[str]:
    """What is wrong with a set of generated cards, in words a model can act on; empty when all is well."""
    problems: list[str] = []
    regular = [card for card in cards if not card.get("unexpected")]
    unexpected = [card for card in cards if card.get("unexpected")]
    for option in options:
        matching = [card for card in regular if same_path(str(card.get("path", "")), option)]
        if len(matching) != 1:
            problems.append(f"There must be exactly one card whose path is {option!r}; found {len(matching)}.")
    for card in regular:
        if not any(same_path(str(card.get("path", "")), option) for option in options):
            problems.append(f"The card with path {card.get('path')!r} matches none of the options given.")
    if include_unexpected and len(unexpected) != 1:
        problems.append(f"Add exactly one card with unexpected=true for a third path; found {len(unexpected)}.")
    if not include_unexpected and unexpected:
        problems.append("Do not add an unexpected path: it was not asked for.")

    terms = boundary_terms(profile.get("boundaries") or [])
    names = people_named(profile)
    for card in cards:
        label = repr(card.get("path"))
        if not [g for g in card.get("gains") or [] if str(g).strip()]:
            problems.append(f"The card {label} needs at least one gain.")
        if not [c for c in card.get("costs") or [] if str(c).strip()]:
            problems.append(f"The card {label} needs at least one cost.")
        memories = card.get("memories") or []
        if not 3 <= len(memories) <= 6:
            problems.append(f"The card {label} needs between 3 and 6 memories; it has {len(memories)}.")
        for memory in memories:
            if touches(memory.get("text"), terms) or touches(memory.get("source"), terms):
                problems.append(f"A memory of the card {label} touches a topic the person asked to avoid.")
            if invents_death_or_diagnosis(memory.get("text"), names):
                problems.append(f"A memory of the card {label} invents a death or diagnosis of someone named.")
            if memory.get("kind") == "grounded" and not (memory.get("source") or "").strip():
                problems.append(f"A grounded memory of the card {label} must name the profile item it builds on.")
        if invents_death_or_diagnosis(card.get("backstory"), names):
            problems.append(f"The backstory of the card {label} invents a death or diagnosis of someone named.")
    problems.extend(balance_problems(cards))
    return problems


# "Give every path the same care": no path may get twice the words, gains or costs of another.
MAX_IMBALANCE = 2.0


def balance_problems(cards: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the cards of one generation are written with unequal care; empty for fewer than two cards."""
    if len(cards) < 2:
        return []
    measures = {
        "backstory words": [len(str(card.get("backstory") or "").split()) for card in cards],
        "gains": [len([g for g in card.get("gains") or [] if str(g).strip()]) for card in cards],
        "costs": [len([c for c in card.get("costs") or [] if str(c).strip()]) for card in cards],
    }
    problems = []
    for what, counts in measures.items():
        low, high = min(counts), max(counts)
        if high > MAX_IMBALANCE * low:
            shortest = cards[counts.index(low)].get("path")
            longest = cards[counts.index(high)].get("path")
            problems.append(
                f"Give every path the same care: the card {longest!r} has {high} {what} and the card "
                f"{shortest!r} only {low}; keep them within twice of each other."
            )
    return problems


# --- voices -----------------------------------------------------------------------


def presented_gender(pronouns: str | None) -> str | None:
    value = (pronouns or "").lower()
    if re.search(r"\bshe\b|\bher\b", value):
        return "female"
    if re.search(r"\bhe\b|\bhim\b", value):
        return "male"
    return None


def age_band(age: int | None) -> str | None:
    if age is None:
        return None
    if age < 30:
        return "young"
    if age < 60:
        return "middle_aged"
    return "old"


def pick_voice(voices: Sequence[Voice], *, gender: str | None, age: int | None, offset: int = 0) -> Voice | None:
    """The voice that best fits a gender presentation and an age; ``offset`` varies ties between cards."""
    if not voices:
        return None
    band = age_band(age)

    def score(voice: Voice) -> int:
        labels = {k.lower(): str(v).lower().replace(" ", "_").replace("-", "_") for k, v in voice.labels.items()}
        points = 0
        if gender and labels.get("gender") == gender:
            points += 2
        elif gender and labels.get("gender") in {"neutral", "non_binary", "nonbinary"}:
            points += 1
        if band and labels.get("age") == band:
            points += 1
        return points

    best = max(score(voice) for voice in voices)
    candidates = [voice for voice in voices if score(voice) == best]
    return candidates[offset % len(candidates)]
