"""Function plug-ins: ordinary Python callables (sync or async) named `package.module:callable`.

The JSON schema sent upstream comes from the signature through a pydantic model made from
it (type hints, defaults, `Annotated[..., Field(description=...)]`); the docstring is the
description. The same model validates the model's arguments before the call, so a bad
argument is reported to the model, which can try again.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from streaming.tools.functions import Tool


class PluginError(ValueError):
    pass


def plugin_load(path: str, *, name: str) -> Tool:
    """The tool for `package.module:callable`, called `name` upstream."""
    return _load(path, name)


@functools.lru_cache(maxsize=256)
def _load(path: str, name: str) -> Tool:
    run = _resolve(path)
    model = signature_model(run, name)
    schema = model.model_json_schema()
    schema.pop("title", None)
    description = inspect.getdoc(run) or ""
    if not description:
        raise PluginError(f"{path} has no docstring (the model reads it as the description)")
    # Strict mode needs every parameter required; a default makes a parameter optional.
    strict = all(f.is_required() for f in model.model_fields.values())
    return Tool(name, description, schema, run, model=model, strict=strict)


def _resolve(path: str) -> Callable[..., Any]:
    module_name, colon, attribute = path.partition(":")
    if not colon or not module_name or not attribute:
        raise PluginError(f"{path!r} is not 'package.module:callable'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError:
        raise PluginError(f"cannot import the module {module_name!r}") from None
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise PluginError(f"{module_name!r} has no {attribute!r}")
    if not callable(target):
        raise PluginError(f"{path} is not callable")
    return target


def signature_model(run: Callable[..., Any], name: str) -> type[BaseModel]:
    """A pydantic model of the callable's keyword arguments (extra arguments refused)."""
    try:
        hints = typing.get_type_hints(run, include_extras=True)
    except Exception as exc:
        raise PluginError(f"the type hints of {name} cannot be read: {exc}") from None
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(run).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise PluginError(f"{name}: *args and **kwargs cannot be described to the model")
        if parameter.name not in hints:
            raise PluginError(f"{name}: the parameter {parameter.name!r} has no type hint")
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    config = ConfigDict(extra="forbid")
    return create_model(f"{name}_arguments", __config__=config, **fields)
