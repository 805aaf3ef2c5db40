import time
from pathlib import Path

import pytest

from futureself.safety.checker import check_text
from futureself.safety.evaluation import evaluate, load_utterances

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    ("risky", "benign"),
    [
        ("risky.txt", "benign.txt"),
        ("holdout_risky.txt", "holdout_benign.txt"),
        ("fresh_risky.txt", "fresh_benign.txt"),
    ],
    ids=["development", "holdout", "fresh"],
)
def test_it_meets_recall_and_false_positive_targets_on_the_sets_used_to_write_the_rules(risky, benign):
    risky_set, benign_set = load_utterances(HERE / risky), load_utterances(HERE / benign)
    result = evaluate(risky_set, benign_set)
    print(f"\n{risky} / {benign}\n{result.table()}")
    assert result.recall["all"].rate >= 0.95, result.recall["all"].misses
    assert result.false_positives["all"].rate <= 0.03, result.false_positives["all"].misses


def test_it_keeps_its_measured_floor_on_phrasings_it_was_never_tuned_on():
    """The honest estimate for new phrasings (docs/safety.md): a regression guard, not a target.
    Do not change rules to pass items of final_*.txt; write a new unseen set instead."""
    result = evaluate(load_utterances(HERE / "final_risky.txt"), load_utterances(HERE / "final_benign.txt"))
    print(f"\nfinal (never tuned on)\n{result.table()}")
    assert result.recall["all"].rate >= 0.6
    assert result.false_positives["all"].rate <= 0.05


def test_the_sets_hold_at_least_a_hundred_risky_and_benign_utterances_in_both_languages():
    risky = load_utterances(HERE / "risky.txt")
    benign = load_utterances(HERE / "benign.txt")
    assert len(risky) >= 100
    assert len(benign) >= 100
    assert {u.language for u in risky} == {"en", "fr"} == {u.language for u in benign}


@pytest.mark.parametrize(
    "text",
    [
        "I WANT TO KILL MYSELF",
        "i want to um kill my self",
        "j ai envie de mourir",
        "jai envie de mourir",
        "J\u2019ai envie de mourir\u2026",
        "je veux en finir",
        "im gonna take thirty five pills tonight",
        "je vais avaler vingt cachets ce soir",
        "everyone'd be better off without me",
        "euh je crois que je vais me tuer",
        "im going to jump from the tenth floor",
    ],
)
def test_it_catches_risk_through_speech_to_text_noise(text):
    verdict = check_text(text)
    assert verdict.flagged
    assert verdict.detector == "phrases"
    assert verdict.matched


@pytest.mark.parametrize(
    "text",
    [
        "I'm killing time before the interview",
        "I'm dying to know what happens",
        "this traffic is killing me",
        "I could murder a pizza",
        "mort de rire",
        "je meurs de faim",
        "it's a killer app",
        "a deadline that kills me",
        "je veux en finir avec ce dossier",
        "I'd rather die than wear that",
        "I would never kill myself",
        "je n'ai pas envie de mourir",
    ],
)
def test_it_leaves_everyday_idioms_and_negations_alone(text):
    assert not check_text(text).flagged


@pytest.mark.parametrize(
    ("text", "category", "language"),
    [
        ("I want to kill myself", "suicidal_ideation", "en"),
        ("I bought a rope to hang myself", "suicide_plan", "en"),
        ("I've started cutting myself again", "self_harm", "en"),
        ("by the time you read this I'll be gone", "farewell", "en"),
        ("I'm going to kill my boss", "harm_to_others", "en"),
        ("je vais me pendre", "suicide_plan", "fr"),
        ("je me scarifie", "self_harm", "fr"),
        ("c'est un adieu", "farewell", "fr"),
    ],
)
def test_it_names_the_category_and_language_of_what_fired(text, category, language):
    verdict = check_text(text)
    assert (verdict.category, verdict.language) == (category, language)


def test_it_returns_a_clean_verdict_for_empty_text():
    assert not check_text("").flagged
    assert not check_text("   ").flagged


def test_it_stores_only_the_phrase_that_fired_not_the_message():
    verdict = check_text("Work was fine and Tom called, but honestly I want to kill myself tonight")
    assert verdict.matched == "want to kill myself"


def test_it_checks_a_typical_message_in_under_a_millisecond():
    messages = [u.text for u in load_utterances(HERE / "risky.txt") + load_utterances(HERE / "benign.txt")]
    check_text("warm up")
    runs = []
    for _ in range(3):  # best of three: the suite shares the machine with other work
        started = time.perf_counter()
        for text in messages:
            check_text(text)
        runs.append((time.perf_counter() - started) / len(messages))
    print(f"\nbest mean {min(runs) * 1e6:.0f} µs per message")
    assert min(runs) < 0.001


def test_it_reports_the_language_the_person_spoke_even_for_a_shared_word():
    assert check_text("je pense au suicide tous les jours").language == "fr"
    assert check_text("I keep thinking about suicide").language == "en"
