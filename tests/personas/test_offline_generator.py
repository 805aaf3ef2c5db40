"""The offline engine writes balanced, grounded cards that respect boundaries."""

from __future__ import annotations

import re

from tests.builders import sample_profile_data
from tests.fakes.providers import FakeTextToSpeech

OPTIONS = ["Move to Montreal", "Stay in Lyon"]


async def _generate(generator, profile, **kwargs):
    kwargs.setdefault("dilemma", "Take the job in Montreal or stay in Lyon")
    kwargs.setdefault("options", OPTIONS)
    return await generator.generate(profile=profile, **kwargs)


async def test_it_writes_one_card_per_option_in_order(offline_generator, profile_data):
    cards = await _generate(offline_generator, profile_data)

    assert [item.card.path for item in cards] == OPTIONS
    assert not any(item.card.unexpected for item in cards)


async def test_every_card_has_gains_and_costs_of_similar_length(offline_generator, profile_data):
    cards = [item.card for item in await _generate(offline_generator, profile_data)]

    for card in cards:
        assert card.gains
        assert card.costs
        assert 3 <= len(card.memories) <= 6
    lengths = [len(card.backstory) + sum(len(m.text) for m in card.memories) for card in cards]
    assert max(lengths) < 1.3 * min(lengths)
    assert len({len(card.gains) for card in cards}) == 1
    assert len({len(card.costs) for card in cards}) == 1


async def test_each_card_weighs_the_option_it_did_not_take(offline_generator, profile_data):
    montreal, lyon = [item.card for item in await _generate(offline_generator, profile_data)]

    assert any("stay in lyon" in cost.lower() for cost in montreal.costs)
    assert any("move to montreal" in cost.lower() for cost in lyon.costs)


async def test_grounded_memories_name_the_profile_item_they_build_on(offline_generator, profile_data):
    cards = [item.card for item in await _generate(offline_generator, profile_data)]

    grounded = [m for card in cards for m in card.memories if m.kind == "grounded"]
    imagined = [m for card in cards for m in card.memories if m.kind == "imagined"]
    assert grounded
    assert imagined
    profile_items = {
        f"{field.replace('_', ' ')}: {item.get('name') if field == 'relationships' else item['text']}"
        for field in ("values", "goals", "fears", "relationships")
        for item in profile_data[field]
    }
    assert {m.source for m in grounded} <= profile_items
    assert all(m.source is None for m in imagined)


async def test_it_never_touches_a_boundary(offline_generator):
    profile = sample_profile_data(
        values=[
            {"text": "my father's approval", "evidence": "I always wanted my father's approval"},
            {"text": "honesty", "evidence": "honesty"},
        ],
        relationships=[
            {"name": "Dad", "relation": "father", "text": "father", "evidence": "my dad"},
            {"name": "Lea", "relation": "sister", "text": "sister", "evidence": "my sister Lea"},
        ],
        boundaries=[{"text": "my father", "evidence": "I don't want to talk about my father."}],
    )

    cards = [item.card for item in await _generate(offline_generator, profile, include_unexpected=True)]

    text = " ".join(
        " ".join([card.backstory, *card.gains, *card.costs, *(f"{m.text} {m.source or ''}" for m in card.memories)])
        for card in cards
    ).lower()
    assert not re.search(r"\b(father|dad|papa)", text)
    assert "lea" in text  # the rest of the profile is still used


async def test_it_never_invents_a_death_or_diagnosis_of_someone_named(offline_generator, profile_data):
    cards = [item.card for item in await _generate(offline_generator, profile_data, include_unexpected=True)]

    for card in cards:
        for memory in card.memories:
            assert not re.search(r"\b(died|death|funeral|diagnos\w*|cancer|illness)\b", memory.text, re.I)


async def test_ages_come_from_the_profile_age_plus_years_ahead(offline_generator, profile_data):
    cards = await _generate(offline_generator, profile_data, years_ahead=15)

    assert {(item.card.age, item.card.years_ahead) for item in cards} == {(49, 15)}
    assert "49-year-old" in cards[0].card.avatar_prompt


async def test_age_stays_unknown_when_the_profile_has_none(offline_generator):
    cards = await _generate(offline_generator, sample_profile_data(age=None))

    assert {item.card.age for item in cards} == {None}


async def test_it_adds_an_unexpected_path_when_asked(offline_generator, profile_data):
    cards = [item.card for item in await _generate(offline_generator, profile_data, include_unexpected=True)]

    assert len(cards) == 3
    assert cards[-1].unexpected
    assert cards[-1].path not in OPTIONS
    assert cards[-1].gains
    assert cards[-1].costs


async def test_it_picks_a_voice_from_the_list_fitting_the_person(offline_generator, profile_data):
    voices = {v.voice_id for v in await FakeTextToSpeech().voices()}

    cards = await _generate(offline_generator, sample_profile_data(age=60))

    assert {item.card.voice_id for item in cards} <= voices
    # she/her, 70 years old: the older woman's voice fits best.
    assert cards[0].voice.voice_id == "voice-older-woman"


async def test_avatar_prompts_describe_age_path_and_mood(offline_generator, profile_data):
    cards = [item.card for item in await _generate(offline_generator, profile_data)]

    for card in cards:
        assert "44-year-old" in card.avatar_prompt
        assert card.path.lower() in card.avatar_prompt.lower()
        assert "mood:" in card.avatar_prompt
    assert cards[0].avatar_prompt != cards[1].avatar_prompt


async def test_a_rewritten_card_keeps_its_path_voice_and_the_cost_of_the_other_paths(offline_generator, profile_data):
    original = (await _generate(offline_generator, profile_data))[1].card

    item = await offline_generator.regenerate(
        profile=profile_data,
        dilemma="Take the job in Montreal or stay in Lyon",
        card=original,
        corrections=["I would never stop nursing."],
        other_paths=["Move to Montreal"],
    )

    assert item.card.path == "Stay in Lyon"
    assert item.card.voice_id == original.voice_id
    assert any("move to montreal" in cost.lower() for cost in item.card.costs)
    assert "“I would never stop nursing”." in item.card.backstory
    assert item.card.tagline != original.tagline
    assert len(item.card.gains) == len(original.gains)
    assert len(item.card.costs) == len(original.costs)
