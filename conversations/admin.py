from django.contrib import admin

from conversations.models import Conversation, Debrief, Message
from futureself.admin import ProviderCallInline, provider_usage_summary


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = (
        "position",
        "role",
        "text",
        "input_mode",
        "interrupted",
        "safety_flagged",
        "audio_duration_ms",
        "latency",
        "created_at",
    )
    readonly_fields = fields
    ordering = ("position",)
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="timings (ms)")
    def latency(self, obj: Message) -> str:
        return timings_summary(obj.timings)


TIMING_LABELS = (
    ("stt_ms", "speech-to-text"),
    ("saved_ms", "saved"),
    ("llm_first_token_ms", "first token"),
    ("first_sentence_ms", "first sentence"),
    ("tts_first_audio_ms", "TTS first audio"),
    ("first_audio_ms", "first audio sent"),
    ("total_ms", "total"),
)


def timings_summary(timings: dict) -> str:
    """The reply's latency breakdown in one line, e.g. "speech-to-text 310 · first token 420 · …"."""
    parts = [f"{label} {timings[key]}" for key, label in TIMING_LABELS if timings.get(key) is not None]
    return " · ".join(parts) or "—"


class DebriefInline(admin.StackedInline):
    model = Debrief
    extra = 0
    readonly_fields = ("data", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "future_self", "owner", "status", "created_at", "ended_at")
    list_filter = ("status", "created_at")
    search_fields = ("=id", "future_self__profile__interview__owner__username", "=future_self__id")
    date_hierarchy = "created_at"
    readonly_fields = ("id", "created_at", "updated_at", "provider_usage")
    raw_id_fields = ("future_self",)
    inlines = [MessageInline, DebriefInline, ProviderCallInline]

    @admin.display(description="owner")
    def owner(self, obj: Conversation):
        return obj.future_self.profile.interview.owner or "guest"

    @admin.display(description="Provider cost and latency")
    def provider_usage(self, obj: Conversation) -> str:
        return provider_usage_summary(obj.provider_calls.all())

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("future_self__profile__interview__owner")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "conversation",
        "position",
        "role",
        "input_mode",
        "interrupted",
        "stt_ms",
        "llm_first_token_ms",
        "tts_first_audio_ms",
        "first_audio_ms",
        "total_ms",
        "created_at",
    )
    list_filter = ("role", "input_mode", "interrupted", "safety_flagged", "created_at")
    search_fields = ("=conversation__id",)
    raw_id_fields = ("conversation",)
    readonly_fields = ("timings",)

    @admin.display(description="STT (ms)")
    def stt_ms(self, obj: Message):
        return obj.timings.get("stt_ms")

    @admin.display(description="TTS first audio (ms)")
    def tts_first_audio_ms(self, obj: Message):
        return obj.timings.get("tts_first_audio_ms")

    @admin.display(description="first audio sent (ms)")
    def first_audio_ms(self, obj: Message):
        return obj.timings.get("first_audio_ms")

    @admin.display(description="first token (ms)")
    def llm_first_token_ms(self, obj: Message):
        return obj.timings.get("llm_first_token_ms")

    @admin.display(description="total (ms)")
    def total_ms(self, obj: Message):
        return obj.timings.get("total_ms")


@admin.register(Debrief)
class DebriefAdmin(admin.ModelAdmin):
    list_display = ("conversation", "created_at")
    search_fields = ("=conversation__id",)
    raw_id_fields = ("conversation",)
