"""Budgets per user and per group (editable by staff who may), daily usage (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from streaming.models import Budget, UsageDaily


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("__str__", "user", "group", "tokens_per_day", "usd_per_month")
    autocomplete_fields = ("user", "group")
    search_fields = ("user__username", "group__name")


@admin.register(UsageDaily)
class UsageDailyAdmin(admin.ModelAdmin):
    list_display = (
        "day",
        "user",
        "model",
        "turns",
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "reasoning_tokens",
    )
    list_filter = ("day", "model")
    search_fields = ("user__username", "model")
    date_hierarchy = "day"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
