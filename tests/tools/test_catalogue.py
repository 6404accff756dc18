"""Catalogue entries: checked field by field, secrets only as `env:NAME`, plug-in schemas
from signatures."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field

from streaming.tools import catalogue
from streaming.tools.catalogue import EntryError, entry_parse
from streaming.tools.plugins import PluginError, plugin_load

MCP = {
    "type": "mcp",
    "server_label": "docs",
    "server_url": "https://docs.example.test/mcp",
    "require_approval": "always",
    "headers": {"Authorization": "env:TEST_DOCS_MCP_TOKEN"},
}


def lookup(words: Annotated[str, Field(description="what to look for")], limit: int) -> str:
    """Look words up."""
    return words * limit


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": "Bad Name", "tool": {"type": "web_search"}}, "name"),
        ({"name": "x", "label": "", "tool": {"type": "web_search"}}, "label"),
        ({"name": "x", "default": "yes", "tool": {"type": "web_search"}}, "default"),
        ({"name": "x"}, "tool"),
        ({"name": "x", "tool": {}}, "tool.type"),
        ({"name": "x", "tool": {"type": "function", "name": "f"}}, "tool.type"),
        ({"name": "x", "tool": {**MCP, "server_label": ""}}, "tool.server_label"),
        (
            {"name": "x", "tool": {**MCP, "headers": {"Authorization": "Bearer s"}}},
            "tool.headers.Authorization",
        ),
        ({"name": "x", "function": "no.such.module:thing"}, "function"),
        ({"name": "x", "function": "streaming.tools.builtins"}, "function"),
        ({"name": "x", "colour": "red", "tool": {"type": "web_search"}}, "colour"),
    ],
)
def test_a_bad_entry_names_its_field(data, field):
    with pytest.raises(EntryError) as caught:
        entry_parse(data)
    assert caught.value.field == field


def test_an_entry_round_trips_through_its_export_shape():
    entry = entry_parse({"name": "docs", "label": "Docs", "default": True, "tool": MCP})
    assert entry.as_json() == {"name": "docs", "label": "Docs", "default": True, "tool": MCP}
    assert entry_parse(entry.as_json()) == entry


def test_a_secret_is_read_from_the_environment_only_when_sent(monkeypatch):
    monkeypatch.delenv("TEST_DOCS_MCP_TOKEN", raising=False)
    with pytest.raises(catalogue.MissingSecret, match="TEST_DOCS_MCP_TOKEN"):
        catalogue.secrets_resolve(MCP, name="docs")
    monkeypatch.setenv("TEST_DOCS_MCP_TOKEN", "tok-123")
    sent = catalogue.secrets_resolve(MCP, name="docs")
    assert sent["headers"] == {"Authorization": "tok-123"}
    assert MCP["headers"] == {"Authorization": "env:TEST_DOCS_MCP_TOKEN"}  # not changed


def test_a_plug_ins_schema_comes_from_its_signature_and_docstring():
    tool = plugin_load("tests.tools.test_catalogue:lookup", name="lookup")
    schema = tool.schema()
    assert schema["type"] == "function" and schema["name"] == "lookup"
    assert schema["description"] == "Look words up."
    assert schema["strict"] is True
    params = schema["parameters"]
    assert params["required"] == ["words", "limit"]
    assert params["properties"]["words"]["description"] == "what to look for"
    assert params["properties"]["limit"]["type"] == "integer"
    assert params["additionalProperties"] is False


def test_a_parameter_with_a_default_makes_the_schema_not_strict():
    tool = plugin_load("streaming.tools.builtins:current_time", name="current_time")
    assert tool.schema()["strict"] is False
    assert tool.schema()["parameters"]["properties"]["timezone"]["default"] == "UTC"


def undocumented(x: int) -> int:
    return x


def unhinted(x):  # type: ignore[no-untyped-def]
    """No hint."""
    return x


@pytest.mark.parametrize("target", ["undocumented", "unhinted"])
def test_a_plug_in_without_docstring_or_hints_is_refused(target):
    with pytest.raises(PluginError):
        plugin_load(f"tests.tools.test_catalogue:{target}", name=target)
