"""`manage.py tools import/export`: create or update by name, --prune, all or nothing, and no
secret in the database or the export."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from streaming.models import ToolEntry

pytestmark = pytest.mark.django_db

TOKEN = "tok-very-secret-9f3c"
MCP = {
    "type": "mcp",
    "server_label": "docs",
    "server_url": "https://docs.example.test/mcp",
    "require_approval": "always",
    "headers": {"Authorization": "env:TEST_DOCS_MCP_TOKEN"},
}
FILE = [
    {"name": "docs", "label": "Docs", "default": False, "tool": MCP},
    {"name": "web", "label": "Web search", "default": True, "tool": {"type": "web_search"}},
    {
        "name": "now",
        "label": "Time",
        "default": True,
        "function": "streaming.tools.builtins:current_time",
    },
]


def write(tmp_path, data) -> str:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(data))
    return str(path)


def export(capsys) -> list[dict]:
    capsys.readouterr()
    call_command("tools", "export")
    return json.loads(capsys.readouterr().out)


def test_import_then_export_gives_the_file_back(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TEST_DOCS_MCP_TOKEN", TOKEN)
    ToolEntry.objects.all().delete()
    call_command("tools", "import", write(tmp_path, FILE))
    assert sorted(export(capsys), key=lambda e: e["name"]) == sorted(FILE, key=lambda e: e["name"])


def test_import_updates_by_name_and_prune_removes_the_others(tmp_path, capsys):
    ToolEntry.objects.create(name="old", label="Old", tool={"type": "web_search"})
    call_command("tools", "import", write(tmp_path, FILE))
    assert ToolEntry.objects.filter(name="old").exists()
    changed = [{**FILE[1], "label": "Search the web"}]
    call_command("tools", "import", write(tmp_path, changed), "--prune")
    assert list(ToolEntry.objects.values_list("name", "label")) == [("web", "Search the web")]


@pytest.mark.parametrize(
    "bad, words",
    [
        (
            {"name": "docs", "tool": {**MCP, "headers": {"Authorization": TOKEN}}},
            ["entry 2 ('docs')", "tool.headers.Authorization"],
        ),
        ({"name": "x", "function": "nowhere:thing"}, ["entry 2 ('x')", "function"]),
        (
            {"name": "x", "groups": ["no-such-group"], "tool": {"type": "web_search"}},
            ["entry 'x'", "groups"],
        ),
    ],
)
def test_a_bad_file_changes_nothing_and_names_the_entry_and_field(tmp_path, capsys, bad, words):
    before = export(capsys)
    with pytest.raises(CommandError) as caught:
        call_command("tools", "import", write(tmp_path, [FILE[1], bad]), "--prune")
    for word in words:
        assert word in str(caught.value)
    assert export(capsys) == before
    assert TOKEN not in json.dumps(list(ToolEntry.objects.values()), default=str)


def test_a_bad_file_exits_1(tmp_path):
    from django.core.management import ManagementUtility

    utility = ManagementUtility(["manage.py", "tools", "import", write(tmp_path, [{"x": 1}])])
    with pytest.raises(SystemExit) as exited:
        utility.execute()
    assert exited.value.code == 1
