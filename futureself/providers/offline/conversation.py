"""Offline handlers for the conversation tasks: ``conversation``, ``summary`` and ``debrief``.

They read ``ChatRequest.context`` as built by ``conversations.engine``:

- ``conversation``: ``card`` (CardData dict), ``profile`` (name, dilemma, boundaries), ``latest`` (the
  person's latest message), ``turn_index`` (number of replies so far), ``summary`` (rolling summary).
- ``summary``: ``previous_summary`` and ``turns`` ([{"role", "text"}]) to fold, ``max_chars``.
- ``debrief``: ``path``, ``dilemma``, ``card``, ``person_messages`` and ``other_paths``
  ([{"path", "person_messages", "gains", "costs"}]) for the other selves of the same dilemma.

Everything is deterministic and extractive: the offline engine never invents facts about the person.
"""

from __future__ import annotations

import re
from typing import Any

from futureself.providers.base import ChatRequest
from futureself.providers.offline.text import choice_phrase, lower_first

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-zA-Z']+")
_STOP = {
    "the", "a", "an", "and", "or", "but", "to", "of", "in", "on", "at", "for", "with", "is", "are", "was", "were",
    "i", "you", "me", "my", "your", "it", "that", "this", "what", "do", "did", "does", "be", "have", "had", "so",
    "if", "about", "would", "could", "should", "will", "can", "how", "why", "when", "there", "they", "we", "not",
    "just", "really", "very", "much", "from", "as", "by", "am", "im", "i'm", "don't", "like", "yes", "no",
}  # fmt: skip
_COST_WORDS = {
    "afraid", "scared", "miss", "missing", "lose", "losing", "lost", "lonely", "alone", "hard", "worry", "worried",
    "cost", "costs", "sad", "tired", "regret", "far", "without", "guilt", "guilty", "fear", "difficult", "hurt",
}  # fmt: skip
_GAIN_WORDS = {
    "love", "excited", "exciting", "proud", "grow", "growth", "want", "hope", "glad", "happy", "free", "better",
    "help", "meaning", "meaningful", "learn", "adventure", "calm", "home", "joy", "enjoy", "closer", "safe",
}  # fmt: skip


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def _best_match(query: str, candidates: list[str], fallback_index: int) -> str:
    """The candidate sharing most words with ``query``; rotates through them when none does."""
    if not candidates:
        return ""
    wanted = _words(query)
    scored = [(len(wanted & _words(c)), -i, c) for i, c in enumerate(candidates)]
    best = max(scored)
    if best[0] > 0:
        return best[2]
    return candidates[fallback_index % len(candidates)]


def _touches_boundary(text: str, boundaries: list[str]) -> str | None:
    words = _words(text)
    for boundary in boundaries:
        if words & _words(boundary):
            return boundary
    return None


def reply(request: ChatRequest) -> str:
    """An in-character reply: first person, 2-4 sentences, honest about costs, never certain."""
    ctx = request.context
    card: dict[str, Any] = ctx.get("card") or {}
    profile: dict[str, Any] = ctx.get("profile") or {}
    latest: str = ctx.get("latest") or ""
    turn = int(ctx.get("turn_index") or 0)
    years = card.get("years_ahead") or 10
    path = card.get("path") or "the path I took"
    memories = [m.get("text", "") for m in card.get("memories") or [] if m.get("text")]
    gains = card.get("gains") or []
    costs = card.get("costs") or []

    boundary = _touches_boundary(latest, profile.get("boundaries") or [])
    if boundary:
        return (
            "You told me that is something you would rather keep to yourself, and I still respect that. "
            f"We can stay with what choosing to {choice_phrase(path)} has meant instead, if you like. "
            "What would help you most to hear about?"
        )

    openers = [
        f"Looking back from {years} years on, I can tell you how it went for me.",
        "I remember asking myself the very same thing.",
        "That question still lands close to home.",
        "I can hear where you are right now, because I was there.",
    ]
    opener = openers[turn % len(openers)]
    if latest.strip().endswith("?"):
        lead = ["Honestly", "To answer you plainly", "As truthfully as I can say it"][turn % 3]
        opener = f"{lead}: after {years} years of living the choice to {choice_phrase(path)}, this is what I know."
    memory = _best_match(latest, memories, turn)
    gain = _best_match(latest, gains, turn)
    cost = _best_match(latest, costs, turn + 1)
    sentences = [opener]
    if memory:
        sentences.append(f"I often think of this: {lower_first(memory)}.")
    if gain and cost:
        sentences.append(f"It gave me {lower_first(gain)}, and it cost me {lower_first(cost)}.")
    sentences.append(
        [
            "But mine is only one way things could go, and your road may bend differently.",
            "I can't promise you it would go the same way for you.",
            "None of this is a prediction, just how it went for me.",
        ][turn % 3]
    )
    return " ".join(sentences[:4])


def summarize(request: ChatRequest) -> str:
    """Fold older turns into the rolling summary by keeping each turn's first sentence."""
    ctx = request.context
    max_chars = int(ctx.get("max_chars") or 1500)
    lines = [ctx.get("previous_summary") or ""]
    for turn in ctx.get("turns") or []:
        first = (_sentences(turn.get("text") or "") or [""])[0]
        if not first:
            continue
        who = "You said" if turn.get("role") == "user" else "I said"
        lines.append(f"{who}: {first[:240]}")
    summary = "\n".join(line for line in lines if line)
    # Keep the newest lines when the summary outgrows its budget.
    while len(summary) > max_chars and "\n" in summary:
        summary = summary.split("\n", 1)[1]
    return summary[-max_chars:]


def _own_words(messages: list[str], vocabulary: set[str], limit: int = 3) -> list[str]:
    found: list[str] = []
    for message in messages:
        for sentence in _sentences(message):
            if sentence.endswith("?"):  # a question asks; it does not tell what the person feels
                continue
            if _words(sentence) & vocabulary and sentence not in found:
                found.append(sentence)
    return found[:limit]


def _salient(messages: list[str], limit: int = 3) -> list[str]:
    """The person's sentences that carry feeling or value, longest first when there are many."""
    feeling = _own_words(messages, _COST_WORDS | _GAIN_WORDS, limit=20)
    if not feeling:
        feeling = list(dict.fromkeys(s for m in messages for s in _sentences(m)))
    return sorted(feeling, key=len, reverse=True)[:limit]


def _cheap_step(path: str) -> str:
    return (
        f"This week, test '{path}' cheaply: spend 30 minutes talking with someone who already lives it, "
        "and write down one thing that surprised you."
    )


def debrief(request: ChatRequest) -> dict[str, Any]:
    """An extractive debrief from the person's own words, comparing paths when there are several."""
    ctx = request.context
    path: str = ctx.get("path") or "this path"
    dilemma: str = ctx.get("dilemma") or ""
    card: dict[str, Any] = ctx.get("card") or {}
    mine: list[str] = [m for m in ctx.get("person_messages") or [] if m.strip()]
    others: list[dict[str, Any]] = [o for o in ctx.get("other_paths") or [] if o.get("person_messages")]

    salient = _salient(mine)
    summary = f"You talked with the self who chose '{path}'"
    summary += f", facing the question: {dilemma.rstrip('.')}." if dilemma else "."
    if salient:
        summary += f' What you said most clearly: "{salient[0]}"'
    insights = [f'You said: "{sentence}"' for sentence in salient]
    advice = []
    if card.get("costs"):
        advice.append(f"Weigh the cost this self named honestly: {card['costs'][0].rstrip('.')}.")
    if card.get("gains"):
        advice.append(
            f"Notice whether this gain matters to you as much as it did to them: {card['gains'][0].rstrip('.')}."
        )
    advice.append("Treat what you heard as one imagined version, not a forecast.")

    comparison = []
    if others:
        paths = [{"path": path, "person_messages": mine}, *others]
        for entry in paths:
            own = entry["person_messages"]
            comparison.append(
                {
                    "path": entry["path"],
                    "gains": _own_words(own, _GAIN_WORDS),
                    "costs": _own_words(own, _COST_WORDS),
                }
            )
        for item in comparison:
            gains = " ".join(f"“{g}”" for g in item["gains"]) or "none named yet"
            costs = " ".join(f"“{c}”" for c in item["costs"]) or "none named yet"
            insights.append(f"On '{item['path']}', gains in your words: {gains}; costs: {costs}.")
        summary += f" You have now explored {len(paths)} paths: " + ", ".join(f"'{p['path']}'" for p in paths) + "."
        # The path whose costs the person voiced least is the one worth testing first.
        to_test = min(comparison, key=lambda item: len(item["costs"]) - len(item["gains"]))["path"]
    else:
        to_test = path

    questions = ["Which of your own sentences above felt truest when you read it back?"]
    if card.get("costs"):
        questions.append(f"What would make '{lower_first(card['costs'][0])}' bearable, or not?")
    questions.append("What would you need to know before choosing, and how could you find it out?")
    return {
        "summary": summary,
        "insights": insights,
        "advice": advice,
        "next_steps": [_cheap_step(to_test)],
        "questions_to_reflect": questions,
        "comparison": comparison,
    }
