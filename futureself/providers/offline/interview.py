"""The offline interviewer: a deterministic walk through the topic plan.

Reads ``context`` = ``{"transcript": [{"role", "content"}], "topics": [{"slug",
"label", "hint"}], "covered": [slug], "turn", "max_turns", "language"}`` and
returns an ``InterviewStepOutput``-shaped dict. One question per turn from the
uncovered topics; one follow-up when an answer is short or vague; topics the
person already talked about (or declined) are never asked again.
"""

from __future__ import annotations

import re
from typing import Any

from futureself.providers.base import ChatRequest

QUESTIONS: dict[str, str] = {
    "present_life": (
        "To begin, could you tell me a little about yourself: your name, your age, where you live and what you do?"
    ),
    "dilemma": "What decision are you facing right now, and what are the options you are weighing?",
    "values": "What matters most to you in life?",
    "relationships": "Who are the people closest to you, and what are they to you?",
    "work_money": "How do you feel about your work, and about your financial situation?",
    "hopes": "When you imagine your life going well some years from now, what does it look like?",
    "fears": "What worries you most when you think about the future?",
    "health_habits": "How are you doing day to day: your energy, your sleep, the habits that help or hurt you?",
    "turning_points": "Looking back, which moments changed the direction of your life?",
}

FOLLOW_UPS: dict[str, str] = {
    "present_life": "Could you say a bit more about your life right now: where you live and what fills your days?",
    "dilemma": ("What exactly are the paths you are choosing between? For example: 'stay where I am, or move abroad'."),
    "values": "Could you give me an example of a moment when that really mattered to you?",
    "relationships": "Could you tell me a little more about one of them, and what they mean to you?",
    "work_money": "What would you change about your work or your finances, if you could?",
    "hopes": "What would be the first sign that things are going the way you hope?",
    "fears": "What would that look like, if it happened?",
    "health_habits": "Is there one habit you would most like to change?",
    "turning_points": "How did that moment change you?",
}

GREETING = "Hello, I'm the futureself interviewer: an AI, not a person. I'll ask one question at a time."
ACKNOWLEDGEMENTS = ("Thank you.", "That helps me understand.", "Thank you for sharing that.", "I see.")
BOUNDARY_ACK = "Of course: we'll leave that aside."
READY_NOTE = "I have enough for a first profile: you can finish the interview whenever you like."
ALL_DONE = (
    "Thank you, I have a good picture of your life and of your choice now. Finish the interview when you are "
    "ready, or tell me anything else you would like me to know."
)
READY_MIN_TOPICS = 6

VAGUE = re.compile(r"\b(i don'?t know|not sure|no idea|dunno|idk|maybe|nothing|whatever|pass)\b", re.IGNORECASE)
BOUNDARY = re.compile(
    r"\b(i (?:do not|don'?t) want to (?:talk|speak) about|i'?d rather not (?:talk|speak) about|"
    r"i (?:do not|don'?t) wish to discuss|(?:let'?s|please) not (?:talk|speak) about)\b",
    re.IGNORECASE,
)
OPTIONS = re.compile(r"\b(whether|or|either)\b", re.IGNORECASE)

# Topics an answer to another question can cover on the way, by what it says.
SIGNALS: dict[str, re.Pattern[str]] = {
    "dilemma": re.compile(
        r"\b(whether (?:to|i)\b|deciding|decide between|choose between|torn between|offered|can'?t decide)", re.I
    ),
    "relationships": re.compile(
        r"\bmy (partner|wife|husband|girlfriend|boyfriend|sister|brother|mother|mum|mom|father|dad|son|daughter|"
        r"kids|children|friends?|best friend)\b",
        re.I,
    ),
    "fears": re.compile(r"\b(afraid|scared|fear|worried|worry|anxious)\b", re.I),
    "hopes": re.compile(r"\b(i hope|my dream|i dream|i'?d love to|i wish)\b", re.I),
    "values": re.compile(r"\b(matters? (?:most )?to me|important to me|i value|i believe in)\b", re.I),
    "turning_points": re.compile(r"\b(changed my life|turning point|everything changed|changed everything)\b", re.I),
}


def _is_substantive(answer: str) -> bool:
    words = re.findall(r"\w+", answer)
    return len(words) >= 6 and not (len(words) < 12 and VAGUE.search(answer))


def _topic_of(question: str) -> tuple[str | None, bool]:
    """Which topic an earlier offline question was about, and whether it was a follow-up."""
    for slug, text in FOLLOW_UPS.items():
        if text in question:
            return slug, True
    for slug, text in QUESTIONS.items():
        if text in question:
            return slug, False
    return None, False


def _covers_dilemma(answer: str) -> bool:
    return bool(SIGNALS["dilemma"].search(answer) or OPTIONS.search(answer)) and _is_substantive(answer)


def respond(request: ChatRequest) -> dict[str, Any]:
    context = request.context
    transcript: list[dict[str, str]] = list(context.get("transcript", []))
    plan = [topic["slug"] for topic in context.get("topics", [])] or list(QUESTIONS)
    covered: list[str] = [slug for slug in context.get("covered", []) if slug in plan]
    answers = [row["content"] for row in transcript if row["role"] == "user"]

    if not answers:
        return _step(f"{GREETING} {QUESTIONS[plan[0]]}", covered, plan)

    last_answer = answers[-1]
    last_question = next((row["content"] for row in reversed(transcript) if row["role"] == "interviewer"), "")
    asked_topic, was_follow_up = _topic_of(last_question)
    if asked_topic is None and len(answers) == 1:
        asked_topic = plan[0]  # the person spoke first: their words answer the opening topic

    opening = ACKNOWLEDGEMENTS[len(answers) % len(ACKNOWLEDGEMENTS)]
    declined = bool(BOUNDARY.search(last_answer))
    if declined:
        opening = BOUNDARY_ACK

    if _is_substantive(last_answer):
        for slug, pattern in SIGNALS.items():
            if slug in plan and slug not in covered and pattern.search(last_answer):
                if slug == "dilemma" and not _covers_dilemma(last_answer):
                    continue
                covered.append(slug)

    if asked_topic and asked_topic not in covered:
        settled = declined or was_follow_up or _is_substantive(last_answer)
        if asked_topic == "dilemma" and not declined and not was_follow_up:
            settled = _covers_dilemma(last_answer)
        if settled:
            covered.append(asked_topic)
        else:
            return _step(f"{opening} {FOLLOW_UPS[asked_topic]}", covered, plan)

    remaining = [slug for slug in plan if slug not in covered]
    if not remaining:
        return _step(ALL_DONE, covered, plan)
    question = QUESTIONS[remaining[0]]
    if _ready(covered):
        return _step(f"{opening} {READY_NOTE} {question}", covered, plan)
    return _step(f"{opening} {question}", covered, plan)


def _ready(covered: list[str]) -> bool:
    return "dilemma" in covered and len(covered) >= READY_MIN_TOPICS


def _step(question: str, covered: list[str], plan: list[str]) -> dict[str, Any]:
    ordered = [slug for slug in plan if slug in covered]
    return {
        "question": question,
        "topics_covered": ordered,
        "ready_to_complete": len(ordered) == len(plan) or _ready(ordered),
        "language": "en",
    }
