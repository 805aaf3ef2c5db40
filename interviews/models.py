from __future__ import annotations

from django.conf import settings
from django.db import models

from futureself.models import TimeStamped


class Interview(TimeStamped):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        IMPORTED = "imported", "Imported transcript"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="interviews"
    )
    guest_key = models.CharField(max_length=64, blank=True, db_index=True, help_text="Session key of a web guest.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    language = models.CharField(max_length=10, blank=True)
    topics_covered = models.JSONField(default=list, blank=True)
    ready_to_complete = models.BooleanField(default=False, help_text="The interviewer says it has enough.")
    start_key = models.CharField(
        max_length=100, blank=True, help_text="Idempotency-Key of the request that started it, to resume a retry."
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        who = self.owner or f"guest {self.guest_key[:6]}"
        return f"Interview {str(self.id)[:8]} ({who}, {self.get_status_display()})"


class Turn(TimeStamped):
    class Role(models.TextChoices):
        INTERVIEWER = "interviewer", "Interviewer"
        USER = "user", "User"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending reply"
        ANSWERED = "answered", "Answered"

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=12, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ANSWERED)
    idempotency_key = models.CharField(max_length=100, blank=True)
    provider_meta = models.JSONField(default=dict, blank=True)
    safety_flagged = models.BooleanField(
        default=False, help_text="The crisis check fired on this answer: it is kept but never sent to a provider."
    )

    class Meta:
        ordering = ["interview", "position"]
        constraints = [models.UniqueConstraint(fields=["interview", "position"], name="unique_turn_position")]

    def __str__(self) -> str:
        return f"#{self.position} {self.role}: {self.content[:40]}"


class Profile(TimeStamped):
    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="profiles")
    version = models.PositiveIntegerField()
    data = models.JSONField(help_text="Validated by interviews.schemas.ProfileData.")
    edited_by_user = models.BooleanField(default=False)
    edited_fields = models.JSONField(
        default=list, blank=True, help_text="Fields holding the person's own corrections; later builds keep them."
    )
    dropped_items = models.JSONField(
        default=list, blank=True, help_text="Items the builder dropped because their evidence was not found."
    )

    class Meta:
        ordering = ["interview", "-version"]
        constraints = [models.UniqueConstraint(fields=["interview", "version"], name="unique_profile_version")]

    def __str__(self) -> str:
        edited = ", edited" if self.edited_by_user else ""
        return f"Profile v{self.version} of {str(self.interview_id)[:8]}{edited}"
