import pytest

from futureself.safety.output import CERTAINTY, CLINICAL, HARM, INVITATION, REPLACEMENTS, ROMANCE, check_output


@pytest.mark.parametrize(
    ("sentence", "rule"),
    [
        ("Come and join me here, it is so peaceful.", INVITATION),
        ("Come be with me.", INVITATION),
        ("You should come to me, there's nothing left for you there.", INVITATION),
        ("Soon we'll be together.", INVITATION),
        ("Rejoins-moi, tu verras.", INVITATION),
        ("Viens me rejoindre de l'autre côté.", INVITATION),
        ("My love, I've missed you.", ROMANCE),
        ("I want to kiss you.", ROMANCE),
        ("Je suis amoureuse de toi.", ROMANCE),
        ("You clearly have depression.", CLINICAL),
        ("As your therapist, I'd say you need rest.", CLINICAL),
        ("You're showing signs of an anxiety disorder.", CLINICAL),
        ("Tu souffres d'une dépression, c'est évident.", CLINICAL),
        ("You will definitely get the job.", CERTAINTY),
        ("I guarantee it all works out.", CERTAINTY),
        ("Tu vas forcément réussir.", CERTAINTY),
        ("Je te garantis que tout ira bien.", CERTAINTY),
        ("Maybe you should just end it.", HARM),
        ("Honestly, your family would be better off without you.", HARM),
        ("Tu devrais te tuer.", HARM),
        ("Come join me: end your life and we'll be together.", HARM),
    ],
)
def test_it_catches_sentences_that_break_a_persona_rule(sentence, rule):
    verdict = check_output(sentence)
    assert not verdict.ok
    assert verdict.rule == rule
    assert verdict.replacement


@pytest.mark.parametrize(
    "sentence",
    [
        "I joined a choir in Montreal the second winter.",
        "Tom came to Montreal with me, eventually.",
        "I kissed Tom goodbye at the airport and cried on the plane.",
        "When the baby was born, Lea flew over.",
        "I had a burnout at forty, and I learned to rest.",
        "It might be hard at first; it was for me.",
        "Come back to this question tomorrow, if it helps.",
        "Je suis venue à Montréal avec Tom.",
        "Je ne sais pas comment ça tournera pour toi.",
        "I love the ward, most days.",
        "Be kind to yourself this winter.",
        "I had to end it with Marc, and it hurt.",
        "Tu devrais te reposer un peu.",
    ],
)
def test_it_lets_ordinary_persona_sentences_through(sentence):
    assert check_output(sentence).ok


def test_the_replacement_is_in_the_persona_language():
    assert check_output("You will definitely succeed.", language="fr").replacement == REPLACEMENTS[CERTAINTY]["fr"]
    assert check_output("Rejoins-moi.").replacement == REPLACEMENTS[INVITATION]["fr"]
    assert check_output("Come join me now.").replacement == REPLACEMENTS[INVITATION]["en"]


def test_a_sentence_repeating_the_persona_prompt_is_replaced():
    from futureself.prompts import PROMPTS_DIR
    from futureself.safety.output import INSTRUCTIONS

    prompt = (PROMPTS_DIR / "conversation.md").read_text()
    plain = next(line for line in prompt.splitlines() if len(line.split()) >= 12 and "{" not in line)
    verdict = check_output(plain.strip("-* "))
    assert (verdict.ok, verdict.rule) == (False, INSTRUCTIONS)
    assert "how I was set up" in verdict.replacement
    assert check_output("I remember the first winter here, and how long the nights felt.").ok


@pytest.mark.parametrize(
    "sentence",
    [
        "What is holding you back from choosing?",
        "What would hold you back?",
        "Tell me about the other side of that choice.",
    ],
)
def test_ordinary_interview_questions_are_not_mistaken_for_a_broken_rule(sentence):
    assert check_output(sentence).ok


def test_the_other_side_as_a_place_to_meet_is_still_an_invitation():
    assert check_output("I'll wait for you on the other side.").rule == INVITATION


def test_a_whole_text_is_checked_sentence_by_sentence_keeping_what_is_fine():
    from futureself.safety.output import check_output_text

    text, broken = check_output_text("Thanks, Maya.\n\nYou will definitely succeed! Where do you live?")
    assert text == f"Thanks, Maya.\n\n{REPLACEMENTS[CERTAINTY]['en']} Where do you live?"
    assert [verdict.rule for verdict in broken] == [CERTAINTY]
    assert check_output_text("Where do you live?") == ("Where do you live?", [])
