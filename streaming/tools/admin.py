"""The tool catalogue in the Django admin. Each save is checked as an import would be
(streaming/tools/catalogue.py): a credential must be written `env:NAME`, so no secret is
ever stored or shown here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from streaming.models import ToolEntry
from streaming.tools.catalogue import EntryError, entry_parse


class ToolEntryForm(forms.ModelForm):
    class Meta:
        model = ToolEntry
        fields = ["name", "label", "default", "enabled", "groups", "tool", "function"]
        help_texts = {
            "tool": 'e.g. {"type": "mcp", "server_label": "docs", "server_url": "https://…", '
            '"require_approval": "always", "headers": {"Authorization": "env:DOCS_MCP_TOKEN"}}',
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        entry: dict[str, Any] = {
            "name": data.get("name"),
            "label": data.get("label"),
            "default": bool(data.get("default")),
        }
        if data.get("function"):
            entry["function"] = data["function"]
        if data.get("tool") is not None:
            entry["tool"] = data["tool"]
        if "name" in self.errors:
            return data
        try:
            entry_parse(entry)
        except EntryError as exc:
            top = exc.field.split(".")[0]
            target = top if top in self.fields else None
            self.add_error(target, str(exc))
        return data


@admin.register(ToolEntry)
class ToolEntryAdmin(admin.ModelAdmin):
    form = ToolEntryForm
    list_display = ["name", "label", "kind", "default", "enabled"]
    list_filter = ["enabled", "default", "groups"]
    search_fields = ["name", "label"]
    filter_horizontal = ["groups"]
