import pytest

from futureself.providers import registry
from tests.fakes.providers import FakeChat


@pytest.fixture
def offline_chat():
    """A fake chat that answers like the offline engine unless a reply (or an error) is enqueued."""
    chat = FakeChat(fallback_offline=True)
    with registry.use_providers(chat=chat):
        yield chat


def step(question: str, covered: list[str] | None = None, *, ready: bool = False, language: str = "en") -> dict:
    """A scripted interviewer turn, shaped like the structured output the agent asks for."""
    return {"question": question, "topics_covered": covered or [], "ready_to_complete": ready, "language": language}
