"""The interview's two engines: ``InterviewAgent`` asks, ``ProfileBuilder`` organises.

Both are plain classes that take a ``ChatProvider``; they know nothing of the
database, HTTP or any vendor SDK. What the person wrote only ever reaches the
model inside user-role messages wrapped by ``as_data``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from futureself.prompts import as_data, render_prompt
from futureself.providers.base import ChatMessage, ChatProvider, ChatRequest, ProviderBadResponse
from interviews.schemas import (
    EVIDENCED_LIST_FIELDS,
    TOPIC_PLAN,
    TOPIC_SLUGS,
    InterviewStepOutput,
    ProfileData,
    TranscriptEntry,
)

CLOSING_MESSAGE = (
    "Thank you for everything you have shared. That was my last question: finish the interview when you are "
    "ready, and I will put your profile together."
)


def _entries(transcript: Iterable[TranscriptEntry | Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for entry in transcript:
        if isinstance(entry, TranscriptEntry):
            rows.append({"role": entry.role, "content": entry.content})
        else:
            rows.append({"role": str(entry["role"]), "content": str(entry["content"])})
    return rows


def in_plan_order(slugs: Iterable[str]) -> list[str]:
    """Known topic slugs, deduplicated, in the order of the plan."""
    wanted = set(slugs)
    return [slug for slug in TOPIC_SLUGS if slug in wanted]


def topic_progress(covered: Sequence[str]) -> float:
    return round(len(in_plan_order(covered)) / len(TOPIC_SLUGS), 3)


@dataclass(frozen=True, slots=True)
class InterviewStep:
    question: str
    topics_covered: list[str]
    ready_to_complete: bool
    language: str
    limit_reached: bool = False
    model: str = ""


class InterviewAgent:
    """Holds an adaptive interview over ``TOPIC_PLAN``, one question per turn.

    It never forgets a covered topic, requires the dilemma before saying it is
    ready, and stops asking (without calling the provider) once the person has
    answered ``max_turns`` questions.
    """

    def __init__(self, chat: ChatProvider, *, max_turns: int = 24) -> None:
        self.chat = chat
        self.max_turns = max_turns

    async def next_step(
        self,
        *,
        transcript: Sequence[TranscriptEntry | Mapping[str, Any]],
        covered: Sequence[str] = (),
        language: str = "",
    ) -> InterviewStep:
        """The interviewer's next turn. Raises ProviderError."""
        rows = _entries(transcript)
        previously = in_plan_order(covered)
        answered = sum(1 for row in rows if row["role"] == "user")
        if answered >= self.max_turns:
            return InterviewStep(
                question=CLOSING_MESSAGE,
                topics_covered=previously,
                ready_to_complete=True,
                language=language,
                limit_reached=True,
            )
        request = ChatRequest(
            task="interview",
            messages=self._messages(rows, previously, answered),
            context={
                "transcript": rows,
                "topics": [topic.model_dump() for topic in TOPIC_PLAN],
                "covered": previously,
                "turn": answered,
                "max_turns": self.max_turns,
                "language": language,
            },
            temperature=0.4,
        )
        result = await self.chat.parse(request, InterviewStepOutput)
        output = result.value
        question = output.question.strip()
        if not question:
            raise ProviderBadResponse("The interviewer returned an empty question.", provider=self.chat.name)
        merged = in_plan_order([*previously, *output.topics_covered])
        ready = len(merged) == len(TOPIC_SLUGS) or (output.ready_to_complete and "dilemma" in merged)
        detected = output.language.strip().lower()[:10]
        return InterviewStep(
            question=question,
            topics_covered=merged,
            ready_to_complete=ready,
            language=detected or language,
            model=result.model,
        )

    def _messages(self, rows: list[dict[str, str]], covered: list[str], answered: int) -> list[ChatMessage]:
        system = render_prompt(
            "interview.md",
            topics=TOPIC_PLAN,
            covered=covered,
            answered=answered,
            max_turns=self.max_turns,
            remaining=self.max_turns - answered,
        )
        if rows:
            user = render_prompt("interview_turn.md", transcript=as_data("transcript", rows))
        else:
            user = render_prompt("interview_turn.md", transcript="")
        return [ChatMessage("system", system), ChatMessage("user", user)]


# --- profile -----------------------------------------------------------------

_QUOTE_TRANSLATION = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
_ELLIPSIS = re.compile(r"\.\.\.|\u2026")
_EDGE_PUNCTUATION = " \"'.,;:!?-\u2014"
# Each piece of an elided quote must carry meaning on its own: "I ... want to leave" is not evidence.
MIN_FRAGMENT_WORDS = 3
# Words that flip what the words around them say ("I would never abandon her").
_NEGATION = re.compile(
    r"(?<!\w)(?:(?:not|no|never|nor|none|nobody|nothing|neither|nowhere|cannot|\w+n't|"
    r"ne|pas|jamais|rien|aucun|aucune)(?!\w)|n'(?=\w))"
)
_CLAUSE_BREAK = re.compile(r"[,;:.!?\u2013\u2014]")


def _normalise(text: str) -> str:
    # NFKC also turns the ellipsis character into "...".
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_TRANSLATION).casefold()
    return re.sub(r"\s+", " ", text).strip()


def _occurrences(fragment: str, haystack: str, start: int) -> list[tuple[int, int]]:
    """Where ``fragment`` appears as whole words in ``haystack`` at or after ``start``."""
    pattern = re.compile(rf"(?<!\w){re.escape(fragment)}(?!\w)")
    return [(m.start(), m.end()) for m in pattern.finditer(haystack, start)]


def _honest_gap(gap: str) -> bool:
    # Leaving out whole clauses is fine; leaving a "not" out of the middle of one reverses it.
    return bool(_CLAUSE_BREAK.search(gap)) or not _NEGATION.search(gap)


def _fragments_in_order(fragments: Sequence[str], haystack: str, start: int = 0) -> bool:
    first, rest = fragments[0], fragments[1:]
    for _begin, end in _occurrences(first, haystack, start):
        if not rest:
            return True
        for next_begin, _ in _occurrences(rest[0], haystack, end):
            if _honest_gap(haystack[end:next_begin]) and _fragments_in_order(rest, haystack, next_begin):
                return True
    return False


def quote_in_answers(quote: str, answers: Sequence[str]) -> bool:
    """Whether ``quote`` is the person's own words, verbatim, from ONE of ``answers``.

    Only case, runs of whitespace, curly vs straight quotes, the ellipsis
    character and punctuation at the quote's edges are normalised, and the quote
    must match whole words. An ellipsis may stand for omitted words when every
    fragment it joins has at least ``MIN_FRAGMENT_WORDS`` words, the fragments
    appear in order in the same answer, and no omitted part inside a clause
    holds a negation (so "I would ... abandon her" cannot come from "I would
    never abandon her").
    """
    whole = _normalise(quote).strip(_EDGE_PUNCTUATION)
    if not re.search(r"\w", whole):
        return False
    haystacks = [_normalise(answer) for answer in answers]
    if any(_occurrences(whole, haystack, 0) for haystack in haystacks):
        return True  # verbatim, including an ellipsis the person typed themselves
    fragments = [part.strip(_EDGE_PUNCTUATION) for part in _ELLIPSIS.split(whole)]
    fragments = [part for part in fragments if part]
    if len(fragments) < 2 or any(len(part.split()) < MIN_FRAGMENT_WORDS for part in fragments):
        return False
    return any(_fragments_in_order(fragments, haystack) for haystack in haystacks)


@dataclass(frozen=True, slots=True)
class ProfileBuild:
    data: ProfileData
    dropped: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""


class ProfileBuilder:
    """Turns a transcript into a ``ProfileData`` holding only what the person said.

    Each list item's evidence is checked against the person's own answers; an
    item whose quote is not found is dropped and reported in ``dropped``.
    ``corrections`` (fields the person fixed by hand) win over the model's output.
    """

    def __init__(self, chat: ChatProvider) -> None:
        self.chat = chat

    async def build(
        self,
        *,
        transcript: Sequence[TranscriptEntry | Mapping[str, Any]],
        corrections: Mapping[str, Any] | None = None,
    ) -> ProfileBuild:
        """Raises ProviderError; ``corrections`` must already be valid ProfileData fields."""
        rows = _entries(transcript)
        corrections = dict(corrections or {})
        request = ChatRequest(
            task="profile",
            messages=self._messages(rows, corrections),
            context={"transcript": rows, "corrections": corrections},
            temperature=0.1,
        )
        result = await self.chat.parse(request, ProfileData)
        answers = [row["content"] for row in rows if row["role"] == "user"]
        data, dropped = self.keep_evidenced(result.value, answers)
        if corrections:
            data = ProfileData.model_validate({**data.model_dump(), **corrections})
        return ProfileBuild(data=data, dropped=dropped, model=result.model)

    @staticmethod
    def keep_evidenced(data: ProfileData, answers: Sequence[str]) -> tuple[ProfileData, list[dict[str, Any]]]:
        dropped: list[dict[str, Any]] = []
        kept: dict[str, list] = {}
        for name in EVIDENCED_LIST_FIELDS:
            kept[name] = []
            for item in getattr(data, name):
                if quote_in_answers(item.evidence, answers):
                    kept[name].append(item)
                else:
                    dropped.append(
                        {
                            "field": name,
                            "item": item.model_dump(),
                            "reason": "evidence not found in the person's answers",
                        }
                    )
        return data.model_copy(update=kept), dropped

    def _messages(self, rows: list[dict[str, str]], corrections: dict[str, Any]) -> list[ChatMessage]:
        system = render_prompt("profile.md", list_fields=EVIDENCED_LIST_FIELDS)
        user = render_prompt(
            "profile_transcript.md",
            transcript=as_data("transcript", rows),
            corrections=as_data("corrections", corrections) if corrections else "",
        )
        return [ChatMessage("system", system), ChatMessage("user", user)]
