from __future__ import annotations

import uuid

from django.db import models

from futureself.models import TimeStamped


def avatar_upload_to(instance: FutureSelf, filename: str) -> str:
    # Unguessable name: the file is also served only through an owner check.
    suffix = filename.rsplit(".", 1)[-1] if "." in filename else "png"
    return f"avatars/{instance.pk}/{uuid.uuid4().hex}.{suffix}"


class FutureSelf(TimeStamped):
    profile = models.ForeignKey("interviews.Profile", on_delete=models.CASCADE, related_name="future_selves")
    generation_id = models.UUIDField(
        default=uuid.uuid4, db_index=True, help_text="Selves generated together share this id."
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within its generation.")
    dilemma = models.TextField()
    path = models.CharField(max_length=300)
    years_ahead = models.PositiveSmallIntegerField(default=10)
    card = models.JSONField(help_text="Validated by personas.schemas.CardData.")
    voice_id = models.CharField(max_length=64, blank=True)
    voice_name = models.CharField(max_length=100, blank=True)
    avatar = models.FileField(upload_to=avatar_upload_to, blank=True)
    avatar_content_type = models.CharField(max_length=40, blank=True)
    avatar_provider = models.CharField(max_length=20, blank=True)
    selected_at = models.DateTimeField(null=True, blank=True)
    corrections = models.JSONField(
        default=list,
        blank=True,
        help_text="What the person said this card got wrong: [{text, at, applied}], oldest first.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "future self"
        verbose_name_plural = "future selves"

    def __str__(self) -> str:
        return f"{self.card.get('title') or self.path} (+{self.years_ahead}y)"

    @property
    def unexpected(self) -> bool:
        return bool(self.card.get("unexpected"))
