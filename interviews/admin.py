from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from futureself.admin import ProviderCallInline, provider_usage_summary, schema_validated
from interviews.models import Interview, Profile, Turn
from interviews.schemas import ProfileData


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0
    fields = ("position", "role", "content", "status", "created_at")
    readonly_fields = ("created_at",)
    ordering = ("position",)


class ProfileInline(admin.TabularInline):
    model = Profile
    extra = 0
    fields = ("version", "edited_by_user", "created_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Interview)
class InterviewAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "guest_key_short", "status", "ready_to_complete", "source", "language", "created_at")
    list_filter = ("status", "source", "created_at")
    search_fields = ("=id", "owner__username", "owner__email", "guest_key")
    date_hierarchy = "created_at"
    readonly_fields = ("id", "created_at", "updated_at", "provider_usage", "future_selves")
    inlines = [TurnInline, ProfileInline, ProviderCallInline]

    @admin.display(description="guest")
    def guest_key_short(self, obj: Interview) -> str:
        return obj.guest_key[:8]

    @admin.display(description="Provider cost and latency")
    def provider_usage(self, obj: Interview) -> str:
        return provider_usage_summary(obj.provider_calls.all())

    @admin.display(description="Future selves")
    def future_selves(self, obj: Interview) -> str:
        from personas.models import FutureSelf

        selves = FutureSelf.objects.filter(profile__interview=obj)
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:personas_futureself_change", args=[s.pk]), str(s)) for s in selves),
        ) or format_html("{}", "none yet")


class ProfileAdminForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = "__all__"  # noqa: DJ007 - the admin's own field choices apply on top

    def clean_data(self):
        return schema_validated(ProfileData, self.cleaned_data["data"], what="profile")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    form = ProfileAdminForm
    list_display = ("id", "interview", "version", "edited_by_user", "dropped_count", "created_at")
    list_filter = ("edited_by_user", "created_at")
    search_fields = ("=id", "=interview__id", "interview__owner__username")
    readonly_fields = ("id", "created_at", "updated_at")
    raw_id_fields = ("interview",)

    @admin.display(description="dropped items")
    def dropped_count(self, obj: Profile) -> int:
        return len(obj.dropped_items)


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ("interview", "position", "role", "status", "created_at")
    list_filter = ("role", "status", "created_at")
    search_fields = ("=interview__id", "interview__owner__username")
    raw_id_fields = ("interview",)
    readonly_fields = ("provider_meta",)
