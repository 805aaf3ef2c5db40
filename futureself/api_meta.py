"""API endpoints about the API itself: who am I, which providers serve me."""

from __future__ import annotations

from ninja import Field, Router, Schema

from futureself.providers.registry import provider_status

router = Router(tags=["meta"])


class ProviderStatusOut(Schema):
    chat: str
    speech_to_text: str
    text_to_speech: str
    image: str
    moderation: str = Field(
        description="The safety check's second opinion after its phrase check: 'mistral', or 'offline' (phrases alone)"
    )
    offline_mode: bool


@router.get("/status", response=ProviderStatusOut, auth=None, summary="Which provider serves each interface")
def status(request):
    return provider_status()
