from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models


class TimeStamped(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenManager(models.Manager["ApiToken"]):
    def issue(self, *, user, name: str = "") -> tuple[ApiToken, str]:
        """Create a token and return it with its raw value, which is shown once and never stored."""
        raw = f"fs_{secrets.token_urlsafe(32)}"
        token = self.create(user=user, name=name or "API token", prefix=raw[:10], token_hash=hash_token(raw))
        return token, raw

    def for_raw(self, raw: str) -> ApiToken | None:
        if not raw:
            return None
        return self.select_related("user").filter(token_hash=hash_token(raw), user__is_active=True).first()


class ApiToken(TimeStamped):
    """A bearer token for the JSON API and the conversation socket, stored hashed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to tell tokens apart.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenManager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.user}"


class ProviderCall(models.Model):
    """One call to a provider, kept for cost and latency review by staff."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    interface = models.CharField(max_length=10)  # chat, stt, tts, image
    task = models.CharField(max_length=30)
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    first_output_ms = models.PositiveIntegerField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    characters = models.PositiveIntegerField(default=0, help_text="TTS characters synthesised.")
    audio_seconds = models.FloatField(default=0, help_text="STT audio transcribed.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    error_code = models.CharField(max_length=40, blank=True)
    interview = models.ForeignKey(
        "interviews.Interview", null=True, blank=True, on_delete=models.CASCADE, related_name="provider_calls"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="provider_calls",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["provider", "task", "created_at"])]

    def __str__(self) -> str:
        return f"{self.provider}:{self.task} {self.outcome} {self.latency_ms} ms"


class SafetyEvent(models.Model):
    """The crisis check fired on something a person said.

    Kept for staff follow-up and measurement. It stores the phrase that fired,
    never the message: the transcript stays where the person can export or
    delete it, and this row goes with it.
    """

    class Source(models.TextChoices):
        INTERVIEW = "interview", "Interview"
        CONVERSATION = "conversation", "Conversation"

    class Detector(models.TextChoices):
        PHRASES = "phrases", "Phrase check"
        MODERATION = "moderation", "Moderation model"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=12, choices=Source.choices)
    category = models.CharField(max_length=30, db_index=True)
    language = models.CharField(max_length=10, blank=True)
    detector = models.CharField(max_length=10, choices=Detector.choices)
    matched = models.CharField(max_length=200, blank=True, help_text="The phrase that fired, not the message.")
    input_mode = models.CharField(max_length=5, blank=True, help_text="text or voice")
    interview = models.ForeignKey(
        "interviews.Interview", null=True, blank=True, on_delete=models.CASCADE, related_name="safety_events"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="safety_events",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["source", "category", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.category} ({self.detector}) {self.created_at:%Y-%m-%d %H:%M}"
