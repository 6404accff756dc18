from django.contrib import admin

from streaming.models import Conversation, Turn


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "created_at", "updated_at"]
    list_filter = ["owner"]
    search_fields = ["title"]


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["__str__", "conversation", "model", "status", "created_at", "finished_at"]
    list_filter = ["status", "model"]
    search_fields = ["input", "output_text"]
    readonly_fields = [f.name for f in Turn._meta.fields]
