"""Presets ("assistants") in the admin: staff define them; users start chats from them."""

from __future__ import annotations

from django.contrib import admin

from streaming.models import Preset


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "reasoning_effort", "description"]
    filter_horizontal = ["groups"]
    search_fields = ["name", "description"]
