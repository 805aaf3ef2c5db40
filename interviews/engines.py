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


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_TRANSLATION).casefold()
    return re.sub(r"\s+", " ", text).strip()


def quote_in_answers(quote: str, answers: Sequence[str]) -> bool:
    """Whether ``quote`` appears verbatim in one of ``answers``.

    Case, curly quotes, runs of whitespace and surrounding punctuation do not
    matter; an ellipsis may stand for omitted words, the parts appearing in order.
    """
    parts = [part.strip(_EDGE_PUNCTUATION) for part in _ELLIPSIS.split(_normalise(quote))]
    parts = [part for part in parts if part]
    if not parts or sum(len(part) for part in parts) < 3:
        return False
    for answer in answers:
        haystack = _normalise(answer)
        position = 0
        for part in parts:
            found = haystack.find(part, position)
            if found < 0:
                break
            position = found + len(part)
        else:
            return True
    return False


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
