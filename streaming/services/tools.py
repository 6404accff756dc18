"""The tool catalogue's state changes: a team's JSON file imported in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from streaming.models import ToolEntry
from streaming.tools.catalogue import Entry, EntryError


@dataclass
class ImportResult:
    created: list[str]
    updated: list[str]
    removed: list[str]


class ImportRefused(ValueError):
    """The file cannot be imported as a whole; nothing was changed."""


def tools_import(*, entries: list[Entry], prune: bool) -> ImportResult:
    """Create or update each entry by `name`; with `prune`, remove every other entry. All or
    nothing: a group that does not exist refuses the whole file."""
    names = [entry.name for entry in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ImportRefused(f"entry {twice[0]!r}: name: appears more than once")
    result = ImportResult([], [], [])
    with transaction.atomic():
        for entry in entries:
            groups = list(Group.objects.filter(name__in=entry.groups))
            missing = sorted(set(entry.groups) - {g.name for g in groups})
            if missing:
                raise ImportRefused(
                    f"entry {entry.name!r}: {EntryError('groups', f'no group {missing[0]!r}')}"
                )
            row, created = ToolEntry.objects.update_or_create(
                name=entry.name,
                defaults={
                    "label": entry.label,
                    "default": entry.default,
                    "enabled": entry.enabled,
                    "tool": entry.tool,
                    "function": entry.function,
                },
            )
            row.groups.set(groups)
            (result.created if created else result.updated).append(entry.name)
        if prune:
            others = ToolEntry.objects.exclude(name__in=names)
            result.removed = sorted(others.values_list("name", flat=True))
            others.delete()
    return result
