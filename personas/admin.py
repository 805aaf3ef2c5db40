from django.contrib import admin

from personas.models import FutureSelf


@admin.register(FutureSelf)
class FutureSelfAdmin(admin.ModelAdmin):
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
