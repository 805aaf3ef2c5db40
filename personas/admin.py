from django import forms
from django.contrib import admin

from futureself.admin import schema_validated
from personas.models import FutureSelf
from personas.schemas import CardData


class FutureSelfAdminForm(forms.ModelForm):
    class Meta:
        model = FutureSelf
        fields = "__all__"  # noqa: DJ007 - the admin's own field choices apply on top

    def clean_card(self):
        return schema_validated(CardData, self.cleaned_data["card"], what="future-self card")


@admin.register(FutureSelf)
class FutureSelfAdmin(admin.ModelAdmin):
    form = FutureSelfAdminForm
    list_display = ("id", "path", "years_ahead", "profile", "voice_name", "selected_at", "created_at")
    list_filter = ("years_ahead", "created_at", "selected_at")
    search_fields = ("=id", "=generation_id", "path", "dilemma", "profile__interview__owner__username")
    readonly_fields = (
        "id",
        "generation_id",
        "position",
        "created_at",
        "updated_at",
        "avatar_provider",
        "avatar_content_type",
        "corrections",
    )
    raw_id_fields = ("profile",)
    ordering = ("-created_at", "position")
