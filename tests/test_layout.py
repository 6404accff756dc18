"""The layout keeps its promises: rows change only in `streaming/services/` (and in the
log's write rounds, `streaming/eventlog/`, and migrations)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "streaming"
ALLOWED = [PACKAGE / "services", PACKAGE / "eventlog", PACKAGE / "migrations"]
# Methods that write, on a model instance or a manager/queryset.
WRITES = {"save", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
# Methods dicts share with querysets: writes only when called on a manager or a queryset.
QUERYSET_WRITES = {"create", "update"}
QUERYSET_MARKS = ("objects", ".filter(", ".exclude(", ".select_for_update(")


def writes_in(source: str) -> list[str]:
    """The ORM writes `source` makes, as source snippets."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, receiver = node.func.attr, ast.unparse(node.func.value)
        on_queryset = any(mark in receiver for mark in QUERYSET_MARKS)
        if name in WRITES or (name in QUERYSET_WRITES and on_queryset):
            found.append(ast.unparse(node))
    return found


def outside_services() -> list[Path]:
    files = PACKAGE.rglob("*.py")
    return sorted(f for f in files if not any(f.is_relative_to(a) for a in ALLOWED))


@pytest.mark.parametrize("path", outside_services(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_services_changes_a_row(path: Path) -> None:
    assert writes_in(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "item.save(update_fields=['title'])",
        "item.delete()",
        "Turn.objects.filter(pk=1).update(status='failed')",
        "TranscriptView.objects.create(kind='page')",
        "unchecked(before).filter(pk=1).update(moderation_status='pending')",
    ],
)
def test_the_check_finds_a_write(source: str) -> None:
    assert writes_in(source)


def test_the_check_leaves_dicts_alone() -> None:
    assert writes_in("counts.update(rows); values = {}.update(a=1)") == []
