"""Offline future selves: deterministic, balanced cards built from the profile.

Reads ``ChatRequest.context`` as set by ``personas.engines.FutureSelfGenerator``:
``profile``, ``dilemma``, ``options``, ``years_ahead``, ``age``,
``include_unexpected``, ``unexpected_path``, ``voices``, ``other_paths``,
``corrections`` and ``previous_card`` (a rewritten card keeps its voice).
Every path gets the same structure (two gains, two costs, four memories),
grounded memories name the profile item they build on, and nothing touching a boundary is ever used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from futureself.providers.base import ChatRequest, Voice
from futureself.providers.offline.text import choice_phrase, lower_first
from personas.rules import boundary_terms, pick_voice, presented_gender, touches

# (profile field, label used in "source")
_GROUNDING_FIELDS: tuple[tuple[str, str], ...] = (
    ("values", "values"),
    ("relationships", "relationships"),
    ("goals", "goals"),
    ("strengths", "strengths"),
    ("fears", "fears"),
    ("challenges", "challenges"),
    ("turning_points", "turning points"),
)

_MOODS = ("calm and reflective", "quietly proud, a little tired", "curious and at ease", "wry and warm")
_TAGLINES = (
    "I got what I chose, and I paid for it in ways I didn't expect.",
    "Some things grew, some things stayed small. I'd tell you both.",
    "I'm glad of a lot of it. Not all of it.",
    "It wasn't the life I pictured, and it was mine.",
)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _usable_items(profile: Mapping[str, Any], terms: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Profile items a memory may build on: every evidenced item except anything near a boundary."""
    items: list[tuple[str, dict[str, Any]]] = []
    for field, label in _GROUNDING_FIELDS:
        for item in profile.get(field) or []:
            words = " ".join(str(item.get(key, "")) for key in ("text", "evidence", "name", "relation"))
            if touches(words, terms):
                continue
            items.append((label, dict(item)))
    return items


def _grounded_memory(label: str, item: Mapping[str, Any], path: str) -> dict[str, Any]:
    text = _short(item.get("text", ""), 60)
    choice = choice_phrase(_short(path, 60))
    if label == "relationships":
        name = _short(item.get("name") or item.get("relation") or text, 40)
        return {
            "text": f"A long evening with {name}, talking through everything that choosing to {choice} had changed "
            "between us, and what it hadn't.",
            "kind": "grounded",
            "source": f"relationships: {name}",
        }
    phrasing = {
        "values": f"The week I had to decide what '{text}' really meant once I had chosen to {choice}.",
        "goals": f"The day I measured honestly how far I'd come toward '{text}' since I chose to {choice}.",
        "strengths": f"A hard month when being {text} was what carried me through after choosing to {choice}.",
        "fears": f"The night my old fear of {text} came back, in a new shape, and what I did with it.",
        "challenges": f"Facing {text} again, years after I chose to {choice}, and handling it a little better.",
        "turning points": f"Looking back at {text} and seeing how it led to the day I chose to {choice}.",
    }
    return {
        "text": phrasing.get(label, f"Something about {text} that stayed with me."),
        "kind": "grounded",
        "source": f"{label}: {text}",
    }


def _imagined_memories(path: str, place: str | None, index: int) -> list[dict[str, Any]]:
    choice = choice_phrase(_short(path, 60))
    where = f" in {place}" if place else ""
    pool = [
        f"The first ordinary morning after I chose to {choice}, when it stopped feeling like a decision and "
        "started feeling like my life.",
        f"A small, unremarkable evening{where} when I noticed I had stopped asking myself 'what if'.",
        f"The moment, about halfway through these years, when choosing to {choice} cost me something I had not "
        "seen coming.",
        "A conversation with a stranger who was facing the same kind of choice, and what I told them.",
    ]
    start = index % len(pool)
    rotated = pool[start:] + pool[:start]
    return [{"text": text, "kind": "imagined", "source": None} for text in rotated]


def _gains_and_costs(
    path: str, others: Sequence[str], profile: Mapping[str, Any], terms: set[str]
) -> tuple[list[str], list[str]]:
    goals = [g for g in profile.get("goals") or [] if not touches(g.get("text"), terms)]
    values = [v for v in profile.get("values") or [] if not touches(v.get("text"), terms)]
    fears = [f for f in profile.get("fears") or [] if not touches(f.get("text"), terms)]
    choice = choice_phrase(_short(path, 70))
    gains = [
        f"Knowing from the inside what it is to {choice}, instead of imagining it.",
        f"Room to work on {lower_first(_short(goals[0]['text'], 60))}, in the shape this path allowed."
        if goals
        else "A clearer sense of what I actually want, learned the hard way.",
    ]
    other = choice_phrase(_short(others[0], 70)) if others else "the path I did not take"
    costs = [
        f"Never finding out what it would have meant to {other}." if others else f"Never living {other}.",
        f"Less of {_short(values[0]['text'], 50)} some years than I wanted; I had to protect it on purpose."
        if values
        else f"Living with {_short(fears[0]['text'], 50)} in a different form."
        if fears
        else "Some loneliness in the choice itself: nobody could make it for me.",
    ]
    return gains, costs


def _voices(context: Mapping[str, Any]) -> list[Voice]:
    return [Voice(v["voice_id"], v.get("name", ""), v.get("labels") or {}) for v in context.get("voices") or []]


def _unexpected_path(profile: Mapping[str, Any], options: Sequence[str], terms: set[str]) -> str:
    anchors = [
        item.get("text")
        for field in ("values", "goals")
        for item in profile.get(field) or []
        if not touches(item.get("text"), terms)
    ]
    anchor = _short(anchors[0], 50) if anchors else "what matters most to me"
    return f"Find a third way, built around {anchor}"


def _card(
    *,
    path: str,
    others: Sequence[str],
    index: int,
    unexpected: bool,
    context: Mapping[str, Any],
    items: list[tuple[str, dict[str, Any]]],
    terms: set[str],
) -> dict[str, Any]:
    profile = context.get("profile") or {}
    years = int(context.get("years_ahead") or 10)
    age = context.get("age")
    name = profile.get("name") or "You"
    place = profile.get("location")
    occupation = profile.get("occupation")

    # Each card starts at a different profile item so the paths do not share the same memories.
    grounded = [_grounded_memory(*items[(index + step) % len(items)], path) for step in range(min(2, len(items)))]
    memories = grounded + _imagined_memories(path, place, index)[: 4 - len(grounded)]

    gains, costs = _gains_and_costs(path, others, profile, terms)
    mood = _MOODS[index % len(_MOODS)]
    age_text = f"{age}-year-old" if age is not None else "grown-up"
    who = f"{age_text} {occupation}" if occupation else f"{age_text} person"
    corrections = [str(c) for c in context.get("corrections") or [] if str(c).strip()]

    backstory = (
        f"{years} years ago I chose to {choice_phrase(path)}. "
        f"{'I still live in ' + place if place and not unexpected else 'I ended up somewhere I did not plan'}"
        f"{', still working as ' + occupation if occupation and not unexpected else ''}, and my days have a shape "
        "I recognise now. Some of what I hoped for happened; some of what I feared did too, just smaller or "
        "stranger than I imagined."
    )
    if corrections:
        said = _short(corrections[-1], 160).rstrip(" .!?")
        backstory += f" I have been redrawn with what you told me in mind: “{said}”."

    style = profile.get("communication_style") or "plain and warm"
    gender = presented_gender(profile.get("pronouns"))
    voices = _voices(context)
    previous_voice = (context.get("previous_card") or {}).get("voice_id")
    voice = next((v for v in voices if v.voice_id == previous_voice), None) or pick_voice(
        voices, gender=gender, age=age, offset=index
    )

    return {
        "path": path,
        "years_ahead": years,
        "age": age,
        "title": f"{name}, {years} years after choosing: {_short(path, 60)}",
        "tagline": _TAGLINES[index % len(_TAGLINES)],
        "backstory": backstory,
        "memories": memories,
        "gains": gains,
        "costs": costs,
        "personality": f"Honest about both sides, {mood}; still {style} at heart.",
        "speaking_style": f"{style[:1].upper() + style[1:]}; short sentences, concrete details, no advice unasked.",
        "voice_id": voice.voice_id if voice else None,
        "avatar_prompt": (
            f"A {who}, {years} years after choosing to {choice_phrase(_short(path, 80))}; mood: {mood}; "
            f"{'city' if index % 2 else 'home'} setting, soft natural light"
        ),
        "unexpected": unexpected,
    }


def generate(request: ChatRequest) -> dict[str, Any]:
    context = request.context
    profile = context.get("profile") or {}
    options = [str(option) for option in context.get("options") or []]
    terms = boundary_terms(profile.get("boundaries") or [])
    items = _usable_items(profile, terms)

    other_paths = [str(path) for path in context.get("other_paths") or []]
    # A rewritten card starts one step further, so it does not read like the one rejected.
    previous = context.get("previous_card") or {}
    start = _TAGLINES.index(previous["tagline"]) + 1 if previous.get("tagline") in _TAGLINES else 0
    selves = [
        _card(
            path=option,
            others=[other for other in options if other != option] + other_paths,
            index=start + index,
            unexpected=False,
            context=context,
            items=items,
            terms=terms,
        )
        for index, option in enumerate(options)
    ]
    if context.get("include_unexpected"):
        path = context.get("unexpected_path") or _unexpected_path(profile, options, terms)
        selves.append(
            _card(
                path=path,
                others=options + other_paths,
                index=start + len(options),
                unexpected=True,
                context=context,
                items=items,
                terms=terms,
            )
        )
    return {"selves": selves}
