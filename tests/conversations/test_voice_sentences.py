"""SentenceGate: the streamed reply cut into sentences for the output check and for speech."""

from __future__ import annotations

import pytest

from conversations.voice import SentenceGate


def feed_all(deltas: list[str]) -> list[str]:
    gate = SentenceGate()
    pieces = [piece for delta in deltas for piece in gate.feed(delta)]
    return pieces + gate.flush()


def test_sentences_come_out_whole_and_concatenate_back_to_the_text():
    deltas = ["I moved", " in the spring.", " Was it", " worth it? Yes", "! Mostly."]
    pieces = feed_all(deltas)
    assert pieces == ["I moved in the spring.", " Was it worth it?", " Yes!", " Mostly."]
    assert "".join(pieces) == "".join(deltas)


def test_a_full_stop_after_an_ordinary_word_ends_the_sentence_before_the_next_token_arrives():
    gate = SentenceGate()
    assert gate.feed("It was") == []
    assert gate.feed(" hard.") == ["It was hard."]
    assert gate.pending == ""
    assert gate.feed(" Was it") == []
    assert gate.feed(" worth it?") == [" Was it worth it?"]
    assert gate.feed(' She said "go."') == [' She said "go."']


@pytest.mark.parametrize(
    ("start", "rest", "sentences"),
    [
        ("It cost 3.", "5 times more. Then", ["It cost 3.5 times more."]),
        ("We met Dr.", " Chen. Then", ["We met Dr. Chen."]),
        ("Ask J.", " Martin. Then", ["Ask J. Martin."]),
        ("Bring bread, e.g.", " rye. Then", ["Bring bread, e.g. rye."]),
        ("Prices in the U.S.", " are high. Then", ["Prices in the U.S.", " are high."]),
        ('She said "go.', '" Then', ['She said "go."']),
        ("It was (mostly.", ") Then", ["It was (mostly.)"]),
        ("I thought..", ". Then", ["I thought..."]),
        ("Ask Acme Inc.", " for it. Then", ["Ask Acme Inc.", " for it."]),
        ("Open example.com/?", "q=1 now. Then", ["Open example.com/?q=1 now."]),
    ],
)
def test_where_the_next_token_could_still_belong_to_the_sentence_the_gate_waits_for_it(start, rest, sentences):
    gate = SentenceGate()
    assert gate.feed(start) == []
    assert gate.feed(rest) == sentences
    assert gate.pending == " Then"


def test_numbers_abbreviations_and_initials_do_not_end_a_sentence():
    text = "It cost 3.5 times more. Dr. Chen and J. Martin helped, e.g. with the flat. Then it was fine."
    assert feed_all([text]) == [
        "It cost 3.5 times more.",
        " Dr. Chen and J. Martin helped, e.g. with the flat.",
        " Then it was fine.",
    ]


def test_closing_quotes_stay_with_their_sentence_and_newlines_end_one():
    assert feed_all(['She said "go." And I went', "\nThe end"]) == ['She said "go."', " And I went\n", "The end"]


def test_a_run_on_sentence_is_cut_at_a_clause_break_so_nothing_waits_long():
    clause = "and then we walked a little further along the river"
    gate = SentenceGate(soft_limit=120)
    pieces = gate.feed(", ".join([clause] * 4))
    assert len(pieces) == 1
    assert pieces[0].endswith(",")
    assert len(pieces[0]) <= 160
    assert "".join(pieces) + gate.pending == ", ".join([clause] * 4)


def test_nothing_but_whitespace_is_never_a_sentence():
    assert feed_all(["  ", "\n\n"]) == []


def test_end_marks_cut_off_after_a_sentence_come_out_alone_and_join_back():
    pieces = feed_all(["Wow!", "!", " Yes."])
    assert pieces == ["Wow!", "!", " Yes."]
