"""Enforce the retention settings; safe to run from cron as often as you like.

- Guest data (interviews with no account, and everything made from them) with no
  activity for ``GUEST_RETENTION_DAYS`` days is deleted, media files included.
- Ended conversations older than ``ENDED_CONVERSATION_RETENTION_DAYS`` days are
  deleted when that setting is above 0.

Example crontab line: ``17 3 * * * cd /srv/futureself && .venv/bin/python manage.py purge_expired``
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from conversations.models import Conversation
from futureself.privacy import conversation_delete, interview_delete
from interviews.models import Interview


def expired_guest_interviews(*, now=None):
    """Guest interviews with nothing new (turn, conversation or message) since the cutoff."""
    days = settings.GUEST_RETENTION_DAYS
    if days <= 0:
        return Interview.objects.none()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return (
        Interview.objects.filter(owner__isnull=True, updated_at__lt=cutoff)
        .exclude(turns__created_at__gte=cutoff)
        .exclude(profiles__future_selves__conversations__created_at__gte=cutoff)
        .exclude(profiles__future_selves__conversations__messages__created_at__gte=cutoff)
        .distinct()
    )


def expired_ended_conversations(*, now=None):
    days = settings.ENDED_CONVERSATION_RETENTION_DAYS
    if days <= 0:
        return Conversation.objects.none()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Conversation.objects.filter(status=Conversation.Status.ENDED, ended_at__lt=cutoff)


class Command(BaseCommand):
    help = "Delete guest data and ended conversations past their retention period (see docs/security.md)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print what would be removed, remove nothing.")

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        verb = "would remove" if dry_run else "removed"
        interviews = list(expired_guest_interviews())
        files = 0
        for interview in interviews:
            if not dry_run:
                files += interview_delete(interview=interview)
        self.stdout.write(
            f"guest interviews older than {settings.GUEST_RETENTION_DAYS} days: {verb} {len(interviews)}"
            + ("" if dry_run else f" ({files} media files)")
        )
        conversations = list(expired_ended_conversations())
        files = 0
        for conversation in conversations:
            if not dry_run:
                files += conversation_delete(conversation=conversation)
        if settings.ENDED_CONVERSATION_RETENTION_DAYS > 0:
            self.stdout.write(
                f"ended conversations older than {settings.ENDED_CONVERSATION_RETENTION_DAYS} days: "
                f"{verb} {len(conversations)}" + ("" if dry_run else f" ({files} media files)")
            )
        else:
            self.stdout.write("ended conversations: kept (ENDED_CONVERSATION_RETENTION_DAYS is 0)")
