"""The offline handlers behind the conversation, summary and debrief tasks."""

from __future__ import annotations

import re

import pytest

from futureself.providers.base import ChatRequest
from futureself.providers.offline import conversation as offline
from futureself.providers.offline.text import lower_first
from tests.builders import sample_card


def reply_to(text: str, *, turn: int = 0, **card) -> str:
    context = {
        "card": sample_card(**card),
        "profile": {"name": "Maya", "boundaries": ["her father"]},
        "latest": text,
        "turn_index": turn,
    }
    return offline.reply(ChatRequest(task="conversation", messages=[], context=context))


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def test_it_answers_in_the_first_person_in_two_to_four_sentences():
    for turn in range(6):
        text = reply_to("What was the hardest part?", turn=turn)
        assert 2 <= len(sentences(text)) <= 4
        assert re.search(r"\b(I|me|my)\b", text)


def test_it_draws_on_the_memory_and_the_cost_closest_to_the_question():
    text = reply_to("Tell me about Tom, and Lea.")
    assert "telling Tom I wanted to try" in text
    assert "seeing Lea twice a year" in text
    assert "a ward of my own" in text


def test_it_is_never_certain_about_the_future():
    hedges = ("only one way", "can't promise", "not a prediction", "None of this is a prediction")
    for turn in range(3):
        assert any(h.lower() in reply_to("Will I be happy?", turn=turn).lower() for h in hedges)


def test_it_does_not_go_into_a_boundary_the_person_set():
    text = reply_to("What about my father?")
    assert "father" not in text.lower()
    assert "respect" in text


def test_the_summary_keeps_the_first_sentence_of_each_turn_within_its_budget():
    turns = [
        {"role": "user", "text": "I am scared of the winters. They are long."},
        {"role": "future_self", "text": "They were long. I learned to ski."},
    ]
    request = ChatRequest(
        task="summary", messages=[], context={"previous_summary": "You asked about Tom.", "turns": turns}
    )
    summary = offline.summarize(request)
    assert summary.splitlines() == [
        "You asked about Tom.",
        "You said: I am scared of the winters.",
        "I said: They were long.",
    ]
    long_turns = [{"role": "user", "text": f"Sentence number {i} is here."} for i in range(200)]
    bounded = offline.summarize(
        ChatRequest(
            task="summary", messages=[], context={"previous_summary": "", "turns": long_turns, "max_chars": 300}
        )
    )
    assert len(bounded) <= 300
    assert bounded.endswith("Sentence number 199 is here.")


def debrief_context(**overrides):
    context = {
        "path": "Move to Montreal",
        "dilemma": "Take the job in Montreal or stay in Lyon",
        "card": sample_card(),
        "person_messages": ["I would love leading a ward. But I am afraid of being lonely without Lea."],
        "other_paths": [],
        "boundaries": ["her father"],
    }
    context.update(overrides)
    return context


def test_the_debrief_is_built_from_the_persons_own_words():
    data = offline.debrief(ChatRequest(task="debrief", messages=[], context=debrief_context()))
    assert "I would love leading a ward." in " ".join(data["insights"])
    assert "I am afraid of being lonely without Lea." in " ".join(data["insights"])
    assert data["comparison"] == []
    assert len(data["next_steps"]) == 1
    assert "Move to Montreal" in data["next_steps"][0]
    assert data["questions_to_reflect"]


def test_the_debrief_compares_paths_in_the_persons_words_and_names_a_cheap_step():
    other = {
        "path": "Stay in Lyon",
        "person_messages": ["Staying feels safe and close to home. I would miss the challenge though."],
        "gains": ["Sunday dinners with Lea"],
        "costs": ["Wondering what if"],
    }
    data = offline.debrief(ChatRequest(task="debrief", messages=[], context=debrief_context(other_paths=[other])))
    by_path = {item["path"]: item for item in data["comparison"]}
    assert by_path["Move to Montreal"]["gains"] == ["I would love leading a ward."]
    assert by_path["Move to Montreal"]["costs"] == ["But I am afraid of being lonely without Lea."]
    assert by_path["Stay in Lyon"]["gains"] == ["Staying feels safe and close to home."]
    assert by_path["Stay in Lyon"]["costs"] == ["I would miss the challenge though."]
    assert "2 paths" in data["summary"]
    assert len(data["next_steps"]) == 1
    assert "30 minutes" in data["next_steps"][0]


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("Seeing Lea twice a year.", "seeing Lea twice a year"),
        ("A ward of my own", "a ward of my own"),
        ("Lea's wedding in Lyon", "Lea's wedding in Lyon"),
        ("I learned to ask for help", "I learned to ask for help"),
        ("Montreal winters", "Montreal winters"),
        ("NGO work", "NGO work"),
    ],
)
def test_quoted_phrases_keep_the_capitals_of_names(phrase, expected):
    assert lower_first(phrase) == expected


def test_options_of_a_dilemma_read_as_verb_phrases_mid_sentence():
    assert lower_first("Remain in Lyon", may_start_with_a_name=False) == "remain in Lyon"
    assert lower_first("I stay", may_start_with_a_name=False) == "I stay"
