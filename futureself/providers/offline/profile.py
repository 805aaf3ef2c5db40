"""The offline profile extractor: pattern matching over the person's own answers.

Reads ``context`` = ``{"transcript": [{"role", "content"}], "corrections": {...}}``
and returns a ``ProfileData``-shaped dict. Every list item's evidence is a
sentence copied verbatim from one of the person's answers; the interviewer's
words are never used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from futureself.providers.base import ChatRequest

_STOP = r"(?=[,.;!?]|\s+(?:and|but|because|so)\s|$)"
NAME = [
    re.compile(r"\bmy name is ([A-Z][\w'-]+)"),
    re.compile(r"\b(?:I'm|I am|call me) ([A-Z][a-z][\w'-]*)\b(?=\s*(?:[,.!]|and\b|$))"),
]
AGE = [
    re.compile(r"\b(\d{1,3}) years? old\b", re.I),
    re.compile(r"\b(?:I'm|I am) (\d{1,3})\b"),
    re.compile(r"\b(?:I'm|I am) [A-Z][\w'-]+, (\d{1,3})\b"),
    re.compile(r"\bage (\d{1,3})\b", re.I),
]
LOCATION = re.compile(r"\b(?:I live in|I'm based in|I am based in|I live near) ([A-Z][\w'-]+(?:[ -][A-Z][\w'-]+)*)")
OCCUPATION = re.compile(
    r"\b(?:I work as an?|and work as an?|I'm an?|I am an?|I'm working as an?) "
    r"([a-z][a-z -]{2,40}?)(?=\s+(?:in|at|for|and)\b|[,.;!?]|$)"
)
PRONOUNS = re.compile(r"\b(she/her|he/him|they/them|she/they|he/they)\b", re.I)

RELATIONS = (
    "partner|wife|husband|girlfriend|boyfriend|fiancée?|sister|brother|mother|mum|mom|father|dad|son|daughter|"
    "kids|children|best friend|friend|grandmother|grandfather|boss|colleague"
)
RELATIONSHIP = re.compile(rf"\bmy ({RELATIONS})(?: ([A-Z][a-z][\w'-]*))?", re.I)

LIST_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "values": [
        re.compile(r"^([\w' -]{2,40}?) matters? (?:most |a lot )?to me", re.I),
        re.compile(rf"\bI value ([^,.;!?]+?){_STOP}", re.I),
        re.compile(rf"\bI believe in ([^,.;!?]+?){_STOP}", re.I),
        re.compile(r"^([\w' -]{2,40}?) (?:is|are) (?:very |really )?important to me", re.I),
        re.compile(r"\bmatters? (?:most )?to me,? and ([\w' -]{2,30}?)[.;!?]", re.I),
    ],
    "goals": [
        re.compile(rf"\bI (?:want|would like|'d like|hope|plan) to ([^,.;!?]+?){_STOP}", re.I),
        re.compile(rf"\bI want (my [^,.;!?]+?){_STOP}", re.I),
        re.compile(rf"\bmy goal is (?:to )?([^,.;!?]+?){_STOP}", re.I),
    ],
    "fears": [
        re.compile(r"\b(?:afraid|scared|frightened|terrified) of ([^,.;!?]+)", re.I),
        re.compile(r"\bworried (?:about|that) ([^,.;!?]+)", re.I),
        re.compile(rf"\bI fear ([^,.;!?]+?){_STOP}", re.I),
    ],
    "strengths": [
        re.compile(r"\bI'?m (?:really |quite )?good at ([^,.;!?]+)", re.I),
        re.compile(r"\bI am (?:really |quite )?good at ([^,.;!?]+)", re.I),
        re.compile(r"\bmy strength is ([^,.;!?]+)", re.I),
        re.compile(r"\bpeople (?:say|tell me) I'?m ([^,.;!?]+)", re.I),
    ],
    "challenges": [
        re.compile(r"\bI struggle (?:with|to) ([^,.;!?]+)", re.I),
        re.compile(r"\bI find it hard to ([^,.;!?]+)", re.I),
        re.compile(r"\bit'?s hard for me to ([^,.;!?]+)", re.I),
        re.compile(r"\bmy (?:biggest )?(?:problem|weakness|challenge) is ([^,.;!?]+)", re.I),
    ],
    "turning_points": [
        re.compile(
            r"(.{0,60}\b(?:changed my life|changed everything|turning point|everything changed)\b.{0,40})", re.I
        ),
    ],
    "boundaries": [
        re.compile(
            r"\b(?:I (?:do not|don'?t) want to (?:talk|speak) about|I'?d rather not (?:talk|speak) about|"
            r"I (?:do not|don'?t) wish to discuss|(?:let'?s|please) not (?:talk|speak) about) ([^,.;!?]+)",
            re.I,
        ),
    ],
}

DILEMMA_PAIRS = [
    re.compile(r"\bwhether (?:to|I should|I'?ll|I) (.+?),? or (?:to |I should |I'?ll )?(.+?)(?:[.?!]|$)", re.I),
    re.compile(r"\b(?:should I|do I|could I) (.+?),? or (.+?)(?:[.?!]|$)", re.I),
    re.compile(r"\b(?:between|torn between|choose between) (.+?) and (.+?)(?:[.?!]|$)", re.I),
    re.compile(r"\beither (.+?),? or (.+?)(?:[.?!]|$)", re.I),
    re.compile(
        r"\b(?:decide|deciding|choice|choose|decision)\b.*?\b(?:to )?(\w.+?),? or (?:to )?(.+?)(?:[.?!]|$)", re.I
    ),
]
OFFER = re.compile(
    r"\boffered an? (job|position|role|place|post|promotion)( (?:in|at) [A-Z][\w'-]+(?: [A-Z][\w'-]+)*)?"
)


def _sentences(answer: str) -> Iterator[str]:
    for line in answer.splitlines():
        for sentence in re.split(r"(?<=[.!?])\s+", line):
            if sentence.strip():
                yield sentence.strip()


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,;:-\"'")
    return text[:1].upper() + text[1:] if text else text


def _first(patterns: list[re.Pattern[str]], sentences: list[str]) -> str | None:
    for sentence in sentences:
        for pattern in patterns:
            match = pattern.search(sentence)
            if match:
                return match.group(1)
    return None


def _option(text: str) -> str:
    text = re.sub(r"^(?:I |to |I should |I'll )", "", text.strip(), flags=re.I)
    return _clean(text.rstrip("?"))


def extract(request: ChatRequest) -> dict[str, Any]:
    transcript = request.context.get("transcript", [])
    answers = [row["content"] for row in transcript if row["role"] == "user" and row["content"].strip()]
    sentences = [sentence for answer in answers for sentence in _sentences(answer)]

    age_text = _first(AGE, sentences)
    age = int(age_text) if age_text and 0 < int(age_text) <= 120 else None
    name = _first(NAME, sentences)
    location_match = next((m for s in sentences if (m := LOCATION.search(s))), None)
    location = location_match.group(1) if location_match else None
    occupation_match = next((m for s in sentences if (m := OCCUPATION.search(s))), None)
    occupation = occupation_match.group(1).strip() if occupation_match else None
    pronouns_match = next((m for s in sentences if (m := PRONOUNS.search(s))), None)

    data: dict[str, Any] = {
        "name": name,
        "age": age,
        "pronouns": pronouns_match.group(1).lower() if pronouns_match else None,
        "location": location,
        "occupation": occupation,
        "life_situation": _life_situation(location, occupation),
        "communication_style": _style(answers),
        "relationships": _relationships(sentences),
        "dilemma": _dilemma(sentences),
    }
    for field, patterns in LIST_PATTERNS.items():
        data[field] = _items(patterns, sentences)
    return data


def _items(patterns: list[re.Pattern[str]], sentences: list[str]) -> list[dict[str, str]]:
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    for sentence in sentences:
        for pattern in patterns:
            for match in pattern.finditer(sentence):
                text = _clean(match.group(1))
                if len(text) < 2 or text.casefold() in seen:
                    continue
                seen.add(text.casefold())
                items.append({"text": text, "evidence": sentence})
    return items


def _relationships(sentences: list[str]) -> list[dict[str, str]]:
    people: list[dict[str, str]] = []
    seen: set[str] = set()
    boundary = LIST_PATTERNS["boundaries"][0]
    for sentence in sentences:
        if boundary.search(sentence):
            continue  # someone the person does not want to talk about is not part of their profile
        for match in RELATIONSHIP.finditer(sentence):
            relation = match.group(1).lower()
            name = match.group(2) or f"my {relation}"
            if name.casefold() in seen:
                continue
            seen.add(name.casefold())
            people.append({"name": name, "relation": relation, "text": f"{name}, {relation}", "evidence": sentence})
    return people


def _dilemma(sentences: list[str]) -> dict[str, Any]:
    for pattern in DILEMMA_PAIRS:
        for sentence in sentences:
            match = pattern.search(sentence)
            if match:
                options = [_option(match.group(1)), _option(match.group(2))]
                if all(2 <= len(option) <= 120 for option in options):
                    return {"summary": _clean(sentence), "options": options}
    for sentence in sentences:
        match = OFFER.search(sentence)
        if match:
            offer = f"{match.group(1)}{match.group(2) or ''}"
            return {"summary": _clean(sentence), "options": [f"Accept the {offer}", "Turn it down and stay"]}
    return {"summary": "", "options": []}


def _life_situation(location: str | None, occupation: str | None) -> str | None:
    parts = []
    if location:
        parts.append(f"lives in {location}")
    if occupation:
        parts.append(f"works as {'an' if occupation[0] in 'aeiou' else 'a'} {occupation}")
    return _clean(" and ".join(parts)) + "." if parts else None


def _style(answers: list[str]) -> str | None:
    if not answers:
        return None
    average = sum(len(answer.split()) for answer in answers) / len(answers)
    if average < 12:
        return "brief and direct"
    if average > 45:
        return "open and detailed"
    return "clear and measured"
