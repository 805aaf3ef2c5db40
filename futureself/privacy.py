"""A person's control over their data: export everything, delete everything.

``person_export`` gathers every interview, turn, profile version, future self
(with its avatar link), conversation, message, debrief and safety event of one
owner into one document validated by ``PersonExport``; ``person_export_markdown``
renders the same document for reading. ``person_delete``, ``interview_delete``
and ``conversation_delete`` remove rows and their media files; a deleted
user's account, API tokens and sessions go too.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from pydantic import BaseModel

from conversations.models import Conversation, Debrief, Message
from futureself.ownership import GUEST_SESSION_KEY, Owner
from interviews.models import Interview, Turn
from personas.models import FutureSelf
from personas.selectors import avatar_url

logger = logging.getLogger(__name__)

EXPORT_FORMAT_VERSION = 1


# --- the export document ------------------------------------------------------------


class PersonOut(BaseModel):
    kind: str  # "user" or "guest"
    username: str | None = None
    email: str | None = None
    date_joined: datetime | None = None


class TurnExport(BaseModel):
    position: int
    role: str
    content: str
    created_at: datetime


class ProfileExport(BaseModel):
    version: int
    data: dict[str, Any]
    edited_by_user: bool
    dropped_items: list[Any]
    created_at: datetime


class MessageExport(BaseModel):
    position: int
    role: str
    text: str
    input_mode: str
    interrupted: bool
    created_at: datetime


class ConversationExport(BaseModel):
    id: str
    status: str
    created_at: datetime
    ended_at: datetime | None
    rolling_summary: str
    messages: list[MessageExport]
    debrief: dict[str, Any] | None


class FutureSelfExport(BaseModel):
    id: str
    profile_version: int
    dilemma: str
    path: str
    years_ahead: int
    card: dict[str, Any]
    voice_name: str
    avatar_link: str | None
    selected_at: datetime | None
    created_at: datetime
    conversations: list[ConversationExport]


class SafetyEventExport(BaseModel):
    created_at: datetime
    source: str
    category: str
    detector: str
    conversation_id: str | None


class InterviewExport(BaseModel):
    id: str
    status: str
    source: str
    language: str
    created_at: datetime
    completed_at: datetime | None
    turns: list[TurnExport]
    profiles: list[ProfileExport]
    future_selves: list[FutureSelfExport]
    safety_events: list[SafetyEventExport]


class PersonExport(BaseModel):
    """Everything the app holds about one person."""

    format_version: int = EXPORT_FORMAT_VERSION
    exported_at: datetime
    person: PersonOut
    interviews: list[InterviewExport]


def _interviews_of(owner: Owner) -> QuerySet[Interview]:
    return Interview.objects.filter(**owner.filter_kwargs())


def _person(owner: Owner) -> PersonOut:
    if owner.user_id is None:
        return PersonOut(kind="guest")
    user = get_user_model().objects.get(pk=owner.user_id)
    return PersonOut(kind="user", username=user.get_username(), email=user.email or None, date_joined=user.date_joined)


def person_export(*, owner: Owner) -> dict[str, Any]:
    """One JSON-ready document with everything of ``owner`` and nothing of anyone else."""
    interviews = (
        _interviews_of(owner)
        .order_by("created_at")
        .prefetch_related(
            "turns",
            "profiles__future_selves__conversations__messages",
            "profiles__future_selves__conversations__debrief",
            "safety_events",
        )
    )
    exported = []
    for interview in interviews:
        profiles = sorted(interview.profiles.all(), key=lambda p: p.version)
        selves = []
        for profile in profiles:
            for future_self in sorted(profile.future_selves.all(), key=lambda f: f.created_at):
                conversations = []
                for conversation in sorted(future_self.conversations.all(), key=lambda c: c.created_at):
                    debrief = Debrief.objects.filter(conversation=conversation).first()
                    conversations.append(
                        ConversationExport(
                            id=str(conversation.pk),
                            status=conversation.status,
                            created_at=conversation.created_at,
                            ended_at=conversation.ended_at,
                            rolling_summary=conversation.rolling_summary,
                            messages=[
                                MessageExport(
                                    position=m.position,
                                    role=m.role,
                                    text=m.text,
                                    input_mode=m.input_mode,
                                    interrupted=m.interrupted,
                                    created_at=m.created_at,
                                )
                                for m in sorted(conversation.messages.all(), key=lambda m: m.position)
                            ],
                            debrief=debrief.data if debrief else None,
                        )
                    )
                selves.append(
                    FutureSelfExport(
                        id=str(future_self.pk),
                        profile_version=profile.version,
                        dilemma=future_self.dilemma,
                        path=future_self.path,
                        years_ahead=future_self.years_ahead,
                        card=future_self.card,
                        voice_name=future_self.voice_name,
                        avatar_link=avatar_url(future_self),
                        selected_at=future_self.selected_at,
                        created_at=future_self.created_at,
                        conversations=conversations,
                    )
                )
        exported.append(
            InterviewExport(
                id=str(interview.pk),
                status=interview.status,
                source=interview.source,
                language=interview.language,
                created_at=interview.created_at,
                completed_at=interview.completed_at,
                turns=[
                    TurnExport(position=t.position, role=t.role, content=t.content, created_at=t.created_at)
                    for t in sorted(interview.turns.all(), key=lambda t: t.position)
                ],
                profiles=[
                    ProfileExport(
                        version=p.version,
                        data=p.data,
                        edited_by_user=p.edited_by_user,
                        dropped_items=p.dropped_items,
                        created_at=p.created_at,
                    )
                    for p in profiles
                ],
                future_selves=selves,
                safety_events=[
                    SafetyEventExport(
                        created_at=e.created_at,
                        source=e.source,
                        category=e.category,
                        detector=e.detector,
                        conversation_id=str(e.conversation_id) if e.conversation_id else None,
                    )
                    for e in sorted(interview.safety_events.all(), key=lambda e: e.created_at)
                ],
            )
        )
    document = PersonExport(exported_at=timezone.now(), person=_person(owner), interviews=exported)
    return document.model_dump(mode="json")


# --- the readable rendering ---------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Keep the person's words from turning into Markdown structure or HTML when rendered."""
    text = text.replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;")
    for char in "`*_[]#|":
        text = text.replace(char, "\\" + char)
    return text


def _quote(text: str) -> str:
    return "\n".join(f"> {_md_escape(line)}" if line else ">" for line in (text or "").splitlines() or [""])


def person_export_markdown(document: dict[str, Any]) -> str:
    """A readable Markdown rendering of ``person_export``'s document."""
    export = PersonExport.model_validate(document)
    person = export.person
    who = _md_escape(person.username) if person.username else "a guest"
    lines = [
        "# Your futureself data",
        "",
        f"Exported {export.exported_at:%Y-%m-%d %H:%M} UTC for {who}.",
        "",
    ]
    if not export.interviews:
        lines.append("You have no interviews yet.")
    for number, interview in enumerate(export.interviews, start=1):
        lines += [
            f"## Interview {number} ({interview.created_at:%Y-%m-%d}, {interview.status})",
            "",
            f"Id `{interview.id}`",
            "",
            "### Transcript",
            "",
        ]
        for turn in interview.turns:
            speaker = "You" if turn.role == "user" else "Interviewer"
            lines += [f"**{speaker}:**", "", _quote(turn.content), ""]
        for profile in interview.profiles:
            edited = ", edited by you" if profile.edited_by_user else ""
            lines += [
                f"### Profile, version {profile.version}{edited}",
                "",
                "```json",
                json.dumps(profile.data, indent=2, ensure_ascii=False).replace("```", "'''"),
                "```",
                "",
            ]
        for future_self in interview.future_selves:
            title = future_self.card.get("title") or future_self.path
            lines += [
                f"### Future self: {_md_escape(str(title))} (+{future_self.years_ahead} years)",
                "",
                f"Path: {_md_escape(future_self.path)}",
                "",
            ]
            if future_self.avatar_link:
                lines += [f"Avatar: {_md_escape(future_self.avatar_link)}", ""]
            for conversation in future_self.conversations:
                lines += [f"#### Conversation of {conversation.created_at:%Y-%m-%d %H:%M}", ""]
                for message in conversation.messages:
                    speaker = "You" if message.role == "user" else "Future self"
                    lines += [f"**{speaker}:**", "", _quote(message.text), ""]
                if conversation.debrief:
                    lines += [
                        "##### Debrief",
                        "",
                        "```json",
                        json.dumps(conversation.debrief, indent=2, ensure_ascii=False).replace("```", "'''"),
                        "```",
                        "",
                    ]
        if interview.safety_events:
            lines += ["### Safety notices shown", ""]
            lines += [f"- {e.created_at:%Y-%m-%d %H:%M}: {e.source}, {e.category}" for e in interview.safety_events]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --- deletion -----------------------------------------------------------------------------

# Models holding media files, with the lookup path from each to its Interview.
# New media (e.g. recorded audio on Message or Turn) is found through its FileFields.
MEDIA_SOURCES: tuple[tuple[type[models.Model], str], ...] = (
    (FutureSelf, "profile__interview"),
    (Message, "conversation__future_self__profile__interview"),
    (Turn, "interview"),
    (Conversation, "future_self__profile__interview"),
)


def _file_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.get_fields() if isinstance(f, models.FileField)]


def _delete_files(names: list[str]) -> int:
    """Delete media files, and the folders they leave empty. Runs after the rows are gone."""
    removed = 0
    for name in names:
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
                removed += 1
        except Exception:  # a missing or locked file must not undo the deletion of rows
            logger.exception("could not delete a media file")
            continue
        _prune_empty_parents(name)
    return removed


def _prune_empty_parents(name: str) -> None:
    """Folders named after a person's objects (``avatars/<id>/``) would still carry their ids."""
    parent = PurePosixPath(name).parent
    while str(parent) not in ("", "."):
        try:
            directories, files = default_storage.listdir(str(parent))
        except (FileNotFoundError, NotImplementedError, OSError):
            return
        if directories or files:
            return
        path = getattr(default_storage, "path", None)
        if path is None:
            return
        try:
            os.rmdir(path(str(parent)))
        except OSError:
            return
        parent = parent.parent


def _media_for_interviews(interviews: QuerySet[Interview]) -> list[str]:
    ids = list(interviews.values_list("pk", flat=True))
    names: list[str] = []
    for model, path in MEDIA_SOURCES:
        fields = _file_fields(model)
        if fields and ids:
            for row in model.objects.filter(**{f"{path}__pk__in": ids}).values_list(*fields):
                names += [name for name in row if name]
    return names


def _media_for_conversation(conversation: Conversation) -> list[str]:
    names: list[str] = []
    for model, lookup in ((Message, "conversation"), (Conversation, "pk")):
        fields = _file_fields(model)
        if fields:
            value = conversation if lookup == "conversation" else conversation.pk
            for row in model.objects.filter(**{lookup: value}).values_list(*fields):
                names += [name for name in row if name]
    return names


def interview_delete(*, interview: Interview) -> int:
    """Delete one interview with everything made from it (profiles, future selves,
    conversations, messages, debriefs, safety events, provider calls) and its media.
    Returns the number of media files removed."""
    names = _media_for_interviews(Interview.objects.filter(pk=interview.pk))
    with transaction.atomic():
        interview.delete()
    return _delete_files(names)


def conversation_delete(*, conversation: Conversation) -> int:
    """Delete one conversation with its messages, debrief, safety events and media."""
    names = _media_for_conversation(conversation)
    with transaction.atomic():
        conversation.delete()
    return _delete_files(names)


def _sessions_of(owner: Owner) -> list[str]:
    keys = []
    for session in Session.objects.iterator():
        data = session.get_decoded()
        is_user = owner.user_id is not None and str(data.get("_auth_user_id")) == str(owner.user_id)
        is_guest = bool(owner.guest_key) and data.get(GUEST_SESSION_KEY) == owner.guest_key
        if is_user or is_guest:
            keys.append(session.session_key)
    return keys


def person_delete(*, owner: Owner) -> dict[str, int]:
    """Delete everything of ``owner``: interviews and all that hangs off them, media
    files, sessions, and for a user the account and its API tokens."""
    if owner.is_anonymous:
        return {"interviews": 0, "files": 0}
    interviews = _interviews_of(owner)
    names = _media_for_interviews(interviews)
    with transaction.atomic():
        count = interviews.count()
        interviews.delete()
        Session.objects.filter(session_key__in=_sessions_of(owner)).delete()
        if owner.user_id is not None:
            get_user_model().objects.filter(pk=owner.user_id).delete()
    files = _delete_files(names)
    logger.info("deleted a person's data: %s interviews, %s files", count, files)
    return {"interviews": count, "files": files}
