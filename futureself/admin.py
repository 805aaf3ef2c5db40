from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Avg, Count, Q, Sum
from pydantic import BaseModel, ValidationError

from futureself.models import ApiToken, ProviderCall, SafetyEvent


def schema_validated(schema: type[BaseModel], value: Any, *, what: str) -> Any:
    """``value`` checked against the schema the app itself uses, as stored JSON; a form error otherwise.

    Staff edit ``Profile.data`` and ``FutureSelf.card`` as raw JSON: without this a typo would be saved
    and break every page and API answer that reads it.
    """
    try:
        return schema.model_validate(value).model_dump(mode="json")
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}" for error in exc.errors()
        )
        raise forms.ValidationError(f"This is not a valid {what}: {details}", code="invalid_schema") from exc


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ProviderCallInline(ReadOnlyInline):
    model = ProviderCall
    fields = (
        "created_at",
        "interface",
        "task",
        "provider",
        "model",
        "latency_ms",
        "first_output_ms",
        "input_tokens",
        "output_tokens",
        "characters",
        "outcome",
        "error_code",
    )
    readonly_fields = fields
    ordering = ("created_at",)


def provider_usage_summary(calls) -> str:
    """One line of cost and latency for a session's provider calls."""
    totals = calls.aggregate(
        n=Count("id"),
        tokens_in=Sum("input_tokens"),
        tokens_out=Sum("output_tokens"),
        chars=Sum("characters"),
        latency=Avg("latency_ms"),
        errors=Count("id", filter=~Q(outcome=ProviderCall.Outcome.OK)),
    )
    if not totals["n"]:
        return "no provider calls"
    return (
        f"{totals['n']} calls, {totals['tokens_in'] or 0} tokens in / {totals['tokens_out'] or 0} out, "
        f"{totals['chars'] or 0} TTS characters, mean latency {round(totals['latency'] or 0)} ms, "
        f"{totals['errors']} failed"
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    search_fields = ("user__username", "user__email", "name", "prefix")
    readonly_fields = ("prefix", "token_hash", "created_at", "last_used_at")
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change):
        if not change:
            token, raw = ApiToken.objects.issue(user=obj.user, name=obj.name)
            obj.pk, obj.prefix, obj.token_hash = token.pk, token.prefix, token.token_hash
            self.message_user(request, f"Token created. Copy it now, it is not shown again: {raw}")
            return
        super().save_model(request, obj, form, change)


@admin.register(ProviderCall)
class ProviderCallAdmin(admin.ModelAdmin):
    list_display = ("created_at", "interface", "task", "provider", "model", "latency_ms", "outcome", "error_code")
    list_filter = ("interface", "provider", "task", "outcome", "created_at")
    search_fields = ("=interview__id", "=conversation__id", "model", "error_code")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SafetyEvent)
class SafetyEventAdmin(admin.ModelAdmin):
    """What staff see when the crisis check fired: category, source, detector and the
    phrase that fired, never the message itself."""

    list_display = ("created_at", "source", "category", "detector", "language", "input_mode", "matched")
    list_filter = ("category", "source", "detector", "language", "created_at")
    search_fields = ("=id", "=interview__id", "=conversation__id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "created_at",
        "source",
        "category",
        "language",
        "detector",
        "matched",
        "input_mode",
        "interview",
        "conversation",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
