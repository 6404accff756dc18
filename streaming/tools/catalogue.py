"""The tool catalogue's entries as a team writes them (a JSON file, the admin's form) and as a
turn sends them upstream.

An entry is `{"name", "label", "default", "tool": {...}}` (a Responses API tool object, sent
as it is) or `{"name", "label", "default", "function": "package.module:callable"}` (a
plug-in, streaming/tools/plugins.py); `enabled` and `groups` are optional. A secret is never
part of an entry: a header's value (an MCP server's `Authorization`) is written
`env:NAME` and read from the environment only when a turn's request is built. Pure checks:
no database here (the services store entries, the selectors read them).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from typing import Any

from streaming.tools import plugins

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
KEYS = {"name", "label", "default", "enabled", "groups", "tool", "function"}
# Fields of a tool object that carry credentials: only `env:NAME` references are accepted.
SECRET_FIELDS = ("headers", "authorization")


class EntryError(ValueError):
    """A bad entry: `field` names the part that is wrong (`tool.headers.Authorization`)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class MissingSecret(RuntimeError):
    pass


@dataclass(frozen=True)
class Entry:
    name: str
    label: str
    default: bool = False
    enabled: bool = True
    groups: tuple[str, ...] = ()
    tool: dict[str, Any] | None = None
    function: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The export shape; `enabled` and `groups` only when they differ from the defaults."""
        out: dict[str, Any] = {"name": self.name, "label": self.label, "default": self.default}
        if self.function:
            out["function"] = self.function
        else:
            out["tool"] = self.tool
        if not self.enabled:
            out["enabled"] = False
        if self.groups:
            out["groups"] = list(self.groups)
        return out


def entry_parse(data: Any) -> Entry:
    """One entry from its JSON, checked; raises `EntryError` naming the field."""
    if not isinstance(data, dict):
        raise EntryError("entry", "must be a JSON object")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise EntryError(unknown[0], "is not a field of an entry")
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise EntryError("name", "must be a slug: a-z, 0-9, '-' or '_', at most 64 characters")
    label = data.get("label", name)
    if not isinstance(label, str) or not label.strip() or len(label) > 100:
        raise EntryError("label", "must be a non-empty string of at most 100 characters")
    flags = {key: data.get(key, key == "enabled") for key in ("default", "enabled")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise EntryError(key, "must be true or false")
    groups = data.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise EntryError("groups", "must be a list of group names")
    tool, function = data.get("tool"), data.get("function")
    if (tool is None) == (function is None):
        raise EntryError("tool", "an entry has either 'tool' or 'function', not both or neither")
    if function is not None:
        function_check(function)
    else:
        tool_check(tool)
    return Entry(
        name=name,
        label=label,
        default=flags["default"],
        enabled=flags["enabled"],
        groups=tuple(groups),
        tool=tool,
        function=function or "",
    )


def function_check(path: Any) -> None:
    if not isinstance(path, str):
        raise EntryError("function", "must be a string 'package.module:callable'")
    try:
        plugins.plugin_load(path, name="check")
    except plugins.PluginError as exc:
        raise EntryError("function", str(exc)) from None


def tool_check(tool: Any) -> None:
    """A Responses API tool object, with any credential written as `env:NAME`."""
    if not isinstance(tool, dict):
        raise EntryError("tool", "must be a JSON object (a Responses API tool)")
    kind = tool.get("type")
    if not isinstance(kind, str) or not kind:
        raise EntryError("tool.type", "is required (web_search, file_search, mcp, …)")
    if kind == "function":
        raise EntryError("tool.type", "a function is a plug-in: use 'function' instead")
    if kind == "mcp":
        if not isinstance(tool.get("server_label"), str) or not tool["server_label"]:
            raise EntryError("tool.server_label", "is required for an MCP server")
        if not isinstance(tool.get("server_url") or tool.get("connector_id"), str):
            raise EntryError("tool.server_url", "is required for an MCP server")
    headers = tool.get("headers")
    if headers is not None and not isinstance(headers, dict):
        raise EntryError("tool.headers", "must be an object of header names and values")
    for header, value in (headers or {}).items():
        if not isinstance(value, str) or not ENV_REF.match(value):
            raise EntryError(
                f"tool.headers.{header}", "must be 'env:NAME' (secrets are not stored)"
            )
    authorization = tool.get("authorization")
    if authorization is not None and not (
        isinstance(authorization, str) and ENV_REF.match(authorization)
    ):
        raise EntryError("tool.authorization", "must be 'env:NAME' (secrets are not stored)")


def secrets_resolve(tool: dict[str, Any], *, name: str) -> dict[str, Any]:
    """The tool object as sent upstream: every `env:NAME` in its credentials replaced by the
    variable's value. Raises `MissingSecret` (naming the variable, never a value)."""
    resolved = copy.deepcopy(tool)

    def value_of(reference: str) -> str:
        match = ENV_REF.match(reference)
        variable = match.group(1) if match else ""
        value = os.environ.get(variable)
        if not value:
            raise MissingSecret(f"the tool {name!r} needs the environment variable {variable}")
        return value

    if isinstance(resolved.get("headers"), dict):
        resolved["headers"] = {k: value_of(v) for k, v in resolved["headers"].items()}
    if isinstance(resolved.get("authorization"), str):
        resolved["authorization"] = value_of(resolved["authorization"])
    return resolved


def tool_redact(tool: dict[str, Any]) -> dict[str, Any]:
    """The tool object without its credential fields (for anything a person may read)."""
    return {k: v for k, v in tool.items() if k not in SECRET_FIELDS}


@dataclass
class TurnTools:
    """What a turn offers the model: the `tools` of its requests, and the functions the
    relay runs for it, by name."""

    request: list[dict[str, Any]] = field(default_factory=list)
    functions: dict[str, plugins.Tool] = field(default_factory=dict)


def turn_tools(entries: list[Entry]) -> TurnTools:
    """Hosted and MCP tool objects as they are (credentials read from the environment now),
    plug-ins as function schemas made from their signatures."""
    chosen = TurnTools()
    for entry in entries:
        if entry.function:
            tool = plugins.plugin_load(entry.function, name=entry.name)
            chosen.functions[entry.name] = tool
            chosen.request.append(tool.schema())
        elif entry.tool is not None:
            chosen.request.append(secrets_resolve(entry.tool, name=entry.name))
    return chosen
