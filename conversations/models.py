from __future__ import annotations

from django.db import models

from futureself.models import TimeStamped


class Conversation(TimeStamped):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    future_self = models.ForeignKey("personas.FutureSelf", on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    rolling_summary = models.TextField(blank=True, help_text="Summary of the turns older than the verbatim window.")
    summarized_through = models.PositiveIntegerField(
        default=0, help_text="Messages up to this position are folded into the rolling summary."
    )

    class Meta:
        ordering = ["-created_at"]

    @property
    def started_at(self):
        return self.created_at

    def __str__(self) -> str:
        return f"Conversation {str(self.id)[:8]} with {self.future_self}"


class Message(TimeStamped):
    class Role(models.TextChoices):
        USER = "user", "User"
        FUTURE_SELF = "future_self", "Future self"

    class InputMode(models.TextChoices):
        TEXT = "text", "Text"
        VOICE = "voice", "Voice"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=12, choices=Role.choices)
    text = models.TextField(blank=True)
    input_mode = models.CharField(max_length=5, choices=InputMode.choices, default=InputMode.TEXT)
    audio_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    interrupted = models.BooleanField(default=False)
    safety_flagged = models.BooleanField(
        default=False, help_text="The safety check fired: answered with crisis resources, never shown to the persona."
    )

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [models.UniqueConstraint(fields=["conversation", "position"], name="unique_message_position")]

    def __str__(self) -> str:
        return f"#{self.position} {self.role}: {self.text[:40]}"


class Debrief(TimeStamped):
    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="debrief")
    data = models.JSONField(help_text="Validated by conversations.schemas.DebriefData.")

    def __str__(self) -> str:
        return f"Debrief of {self.conversation}"
