"""SentenceGate: the streamed reply cut into sentences for the output check and for speech."""

from __future__ import annotations

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


def test_a_sentence_is_released_as_soon_as_the_next_token_shows_it_ended():
    gate = SentenceGate()
    assert gate.feed("It was hard.") == []  # "3.5" or "U.S." could still follow
    assert gate.feed(" Then") == ["It was hard."]
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
