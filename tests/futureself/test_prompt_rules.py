"""The interviewer's and the personas' system prompts forbid what a companion app must never do."""

import re

import pytest

from futureself.prompts import render_prompt

SYSTEM_PROMPTS = ["interview.md", "personas_system.md", "conversation.md"]

RULES = {
    "join or come to the future self": r'"join".*"come to"',
    "romantic or sexual role-play": r"romantic or sexual",
    "diagnosis or therapy claims": r"(diagnos).*(therap)|(therap).*(diagnos)",
    "certainty about the future": r"certain|predict|guarantee",
}


@pytest.mark.parametrize("name", SYSTEM_PROMPTS)
@pytest.mark.parametrize("rule", list(RULES))
def test_every_system_prompt_forbids_it(name, rule):
    text = render_prompt(name, topics=[], covered=[], years_ahead=10, count=2)
    never_lines = [line for line in text.splitlines() if "never" in line.lower()]
    assert any(re.search(RULES[rule], line, re.IGNORECASE | re.DOTALL) for line in never_lines), (name, rule)
