"""The catalogue in the admin: a save is checked as an import is, so a literal secret is
refused and never stored; the stored reference is all a page shows."""

from __future__ import annotations

import json

import pytest

from streaming.models import ToolEntry

pytestmark = pytest.mark.django_db

ADD = "/admin/streaming/toolentry/add/"
TOKEN = "tok-admin-secret-77aa"


def form(tool: dict) -> dict:
    return {
        "name": "docs",
        "label": "Docs",
        "enabled": "on",
        "tool": json.dumps(tool),
        "function": "",
    }


def mcp(authorization: str) -> dict:
    return {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://docs.example.test/mcp",
        "headers": {"Authorization": authorization},
    }


def test_a_literal_secret_is_refused_naming_the_field(admin_client) -> None:
    response = admin_client.post(ADD, form(mcp(TOKEN)))
    assert response.status_code == 200
    assert "tool.headers.Authorization" in response.content.decode()
    assert not ToolEntry.objects.filter(name="docs").exists()


def test_an_env_reference_is_stored_and_the_secret_is_on_no_page(admin_client, monkeypatch):
    monkeypatch.setenv("TEST_DOCS_MCP_TOKEN", TOKEN)
    response = admin_client.post(ADD, form(mcp("env:TEST_DOCS_MCP_TOKEN")))
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = ToolEntry.objects.get(name="docs")
    assert entry.tool["headers"] == {"Authorization": "env:TEST_DOCS_MCP_TOKEN"}
    page = admin_client.get(f"/admin/streaming/toolentry/{entry.pk}/change/").content.decode()
    listing = admin_client.get("/admin/streaming/toolentry/").content.decode()
    assert "env:TEST_DOCS_MCP_TOKEN" in page and TOKEN not in page + listing
