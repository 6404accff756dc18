"""Which models users may choose: the upstream's `GET /models`, filtered by MODELS_ALLOWED.

The list is cached (MODELS_CACHE_SECONDS) in Django's cache; an upstream without a models
endpoint gives DEFAULT_MODEL plus the MODELS_ALLOWED entries that are not globs.
"""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 5.0
# A fallback list is kept for less time, so a models endpoint that comes back is seen soon.
FALLBACK_CACHE_SECONDS = 30.0
GLOB_CHARS = set("*?[")


class ModelNotAllowed(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the model {name!r} is not one this server offers (see /api/models)")
        self.name = name


def _allowed(name: str) -> bool:
    patterns = settings.MODELS_ALLOWED
    return not patterns or any(fnmatchcase(name, p) for p in patterns)


def _fallback() -> list[str]:
    names = [settings.DEFAULT_MODEL]
    names += [p for p in settings.MODELS_ALLOWED if not GLOB_CHARS & set(p)]
    return list(dict.fromkeys(names))


def _upstream_ids() -> list[str] | None:
    """The ids the upstream lists; None when it has no usable models endpoint."""
    if not settings.OPENAI_BASE_URL:
        from streaming.simulator.app import models_list  # the built-in one, in this process

        return [m["id"] for m in models_list()["data"]]
    url = settings.OPENAI_BASE_URL.rstrip("/") + "/models"
    headers = (
        {"Authorization": f"Bearer {settings.OPENAI_API_KEY}"} if settings.OPENAI_API_KEY else {}
    )
    try:
        response = httpx.get(url, headers=headers, timeout=FETCH_TIMEOUT, trust_env=True)
        response.raise_for_status()
        data = response.json().get("data")
        ids = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    except (httpx.HTTPError, ValueError, AttributeError, TypeError) as exc:
        log.warning("the upstream's model list is not available (%s): using the settings", exc)
        return None
    return sorted(ids)


def _names() -> list[str]:
    key = f"streaming.models:{settings.OPENAI_BASE_URL}:{','.join(settings.MODELS_ALLOWED)}"
    names = cache.get(key)
    if names is None:
        ids = _upstream_ids()
        if ids is None:
            names, seconds = _fallback(), FALLBACK_CACHE_SECONDS
        else:
            names, seconds = [i for i in ids if _allowed(i)], settings.MODELS_CACHE_SECONDS
        cache.set(key, names, seconds)
    return names


def _reasoning(name: str) -> bool:
    return any(fnmatchcase(name, p) for p in settings.MODELS_REASONING)


def models_offered() -> list[dict[str, Any]]:
    """[{"id", "label", "reasoning"}] in the upstream's order."""
    labels = settings.MODEL_LABELS
    return [{"id": n, "label": labels.get(n, n), "reasoning": _reasoning(n)} for n in _names()]


def model_default() -> str:
    names = _names()
    return settings.DEFAULT_MODEL if settings.DEFAULT_MODEL in names or not names else names[0]


def model_check(name: str) -> str:
    """`name` if users may run it; `ModelNotAllowed` otherwise."""
    if name not in _names():
        raise ModelNotAllowed(name)
    return name
