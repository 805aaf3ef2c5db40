"""Future-self and avatar endpoints under ``/api``."""

from __future__ import annotations

import uuid

from ninja import Router, Schema
from pydantic import Field

from futureself.api_errors import PROVIDER, WRITE, errors
from futureself.limits import payload_text, provider_backed, rate_limited
from futureself.ownership import Owner
from interviews.selectors import profile_get_for_owner
from personas import services
from personas.schemas import SelfCard
from personas.selectors import (
    avatar_url,
    future_self_get_for_owner,
    future_selves_for_profile,
    self_card,
)

router = Router(tags=["personas"])


class GenerateIn(Schema):
    profile_id: uuid.UUID
    dilemma: str | None = Field(default=None, max_length=services.DILEMMA_MAX_CHARS)
    options: list[str] | None = Field(default=None, max_length=services.MAX_OPTIONS)
    years_ahead: int = Field(
        default=services.YEARS_AHEAD_DEFAULT, ge=services.YEARS_AHEAD_MIN, le=services.YEARS_AHEAD_MAX
    )
    include_unexpected: bool = False


class GenerateOut(Schema):
    profile_id: uuid.UUID
    dilemma: str
    selves: list[SelfCard]


class SelectIn(Schema):
    future_self_id: uuid.UUID


class SelectOut(Schema):
    conversation_id: uuid.UUID
    future_self: SelfCard
    stream_url: str


class AvatarIn(Schema):
    future_self_id: uuid.UUID
    regenerate: bool = False


class AvatarOut(Schema):
    future_self_id: uuid.UUID
    avatar_url: str
    provider: str
    content_type: str


class CorrectIn(Schema):
    correction: str = Field(min_length=1, max_length=services.CORRECTION_MAX_CHARS)


@router.post(
    "/future-self/generate",
    response={200: GenerateOut, **errors(*WRITE, 404, 422, *PROVIDER, 429)},
    summary="Generate one future self per option",
)
@provider_backed("generation", crisis_text=payload_text("dilemma", "options"))
def future_self_generate(request, payload: GenerateIn):
    owner: Owner = request.auth
    profile = profile_get_for_owner(owner=owner, pk=payload.profile_id)
    selves = services.future_selves_generate(
        profile=profile,
        dilemma=payload.dilemma,
        options=payload.options,
        years_ahead=payload.years_ahead,
        include_unexpected=payload.include_unexpected,
    )
    return {"profile_id": profile.pk, "dilemma": selves[0].dilemma, "selves": [self_card(s) for s in selves]}


@router.post(
    "/future-self/select",
    response={200: SelectOut, **errors(*WRITE, 404, 422, 429)},
    summary="Start a new conversation with a future self",
)
@rate_limited("provider")
def future_self_select(request, payload: SelectIn):
    from conversations.services import stream_path

    owner: Owner = request.auth
    future_self = future_self_get_for_owner(owner=owner, pk=payload.future_self_id)
    conversation = services.future_self_select(future_self=future_self)
    future_self.refresh_from_db()
    return {
        "conversation_id": conversation.pk,
        "future_self": self_card(future_self),
        "stream_url": stream_path(conversation),
    }


@router.get("/future-self/{future_self_id}", response={200: SelfCard, **errors(404, 422)}, summary="A future self")
def future_self_detail(request, future_self_id: uuid.UUID):
    owner: Owner = request.auth
    return self_card(future_self_get_for_owner(owner=owner, pk=future_self_id))


@router.post(
    "/future-self/{future_self_id}/correct",
    response={200: SelfCard, **errors(*WRITE, 404, 422, *PROVIDER, 429)},
    summary="\"That's not me\": rewrite this self for the same path with the person's correction",
)
@provider_backed("generation", crisis_text=payload_text("correction"))
def future_self_correct(request, future_self_id: uuid.UUID, payload: CorrectIn):
    owner: Owner = request.auth
    future_self = future_self_get_for_owner(owner=owner, pk=future_self_id)
    return self_card(services.future_self_correct(future_self=future_self, correction=payload.correction))


@router.get(
    "/profile/{profile_id}/future-selves",
    response={200: list[SelfCard], **errors(404, 422)},
    summary="Every future self of a profile",
)
def profile_future_selves(request, profile_id: uuid.UUID):
    owner: Owner = request.auth
    profile = profile_get_for_owner(owner=owner, pk=profile_id)
    return [self_card(s) for s in future_selves_for_profile(profile=profile)]


@router.post(
    "/avatar/generate",
    response={200: AvatarOut, **errors(*WRITE, 404, 422, *PROVIDER, 429)},
    summary="The avatar of a future self (drawn if missing)",
)
@provider_backed("generation")
def avatar_generate(request, payload: AvatarIn):
    owner: Owner = request.auth
    future_self = future_self_get_for_owner(owner=owner, pk=payload.future_self_id)
    future_self = services.avatar_ensure(future_self=future_self, regenerate=payload.regenerate)
    return {
        "future_self_id": future_self.pk,
        "avatar_url": avatar_url(future_self),
        "provider": future_self.avatar_provider,
        "content_type": future_self.avatar_content_type,
    }
