"""`tools import FILE.json [--prune]` and `tools export`: the tool catalogue as a JSON list,
so a team keeps its tools in version control (streaming/tools/catalogue.py has the shape)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from streaming import selectors
from streaming.services import tools as services
from streaming.tools.catalogue import Entry, EntryError, entry_parse


class Command(BaseCommand):
    help = "Import or export the tool catalogue (a JSON list of entries)."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        importing = actions.add_parser("import", help="create or update entries by name")
        importing.add_argument("file", help="a JSON list of entries")
        importing.add_argument("--prune", action="store_true", help="remove the other entries")
        actions.add_parser("export", help="print every entry as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            entries = [entry.as_json() for entry in selectors.tool_entries_all()]
            self.stdout.write(json.dumps(entries, indent=2, ensure_ascii=False))
            return
        entries = read_entries(Path(options["file"]))
        try:
            result = services.tools_import(entries=entries, prune=options["prune"])
        except services.ImportRefused as exc:
            raise CommandError(f"{exc}; nothing was imported") from None
        self.stdout.write(
            f"created {len(result.created)}, updated {len(result.updated)}, "
            f"removed {len(result.removed)}"
        )


def read_entries(path: Path) -> list[Entry]:
    """Every entry of the file, checked before anything is stored."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommandError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise CommandError(f"{path} must hold a JSON list of entries")
    entries = []
    for number, item in enumerate(data, 1):
        label = item.get("name") if isinstance(item, dict) else None
        try:
            entries.append(entry_parse(item))
        except EntryError as exc:
            which = f"entry {number}" + (f" ({label!r})" if isinstance(label, str) else "")
            raise CommandError(f"{which}: {exc}; nothing was imported") from None
    return entries
