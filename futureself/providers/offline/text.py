"""Small text helpers shared by the offline chat handlers."""

from __future__ import annotations

# Words that may open a quoted phrase and read naturally in lower case mid-sentence;
# anything else capitalised ("Lea", "I", "Montreal", "NGO") is probably a name and stays as is.
_COMMON_OPENERS = frozenset(
    {
        *("a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "this", "that", "these", "those"),
        *("it", "we", "they", "there", "some", "one", "two", "every", "each", "no", "not", "more", "less"),
        *("many", "much", "few", "being", "having", "move", "stay", "take", "leave", "go", "keep", "start"),
        *("quit", "accept"),
    }
)


def lower_first(text: str, *, may_start_with_a_name: bool = True) -> str:
    """``text`` ready to follow other words mid-sentence: without its final full stop, and
    with its first letter lowered unless it starts with a name, "I" or an acronym.

    Options of a dilemma are verb phrases ("Move to Montreal"): pass
    ``may_start_with_a_name=False`` to lower any ordinary capitalised first word.
    """
    text = text.strip().rstrip(".")
    word = text.split(" ", 1)[0].strip(",;:")
    if word == "I" or word.startswith(("I'", "I\u2019")) or (len(word) > 1 and word.isupper()):
        return text
    first = word.lower()
    if not may_start_with_a_name or first in _COMMON_OPENERS or (first.endswith("ing") and len(first) > 4):
        return text[:1].lower() + text[1:]
    return text


def choice_phrase(option: str) -> str:
    """An option of the dilemma ("Move to Montreal"), ready to follow "I chose to"."""
    return lower_first(option, may_start_with_a_name=False)
