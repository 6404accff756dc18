"""Moderators: is a text flagged, in which categories, with what scores.

With a key (`MODERATION_API_KEY`, else `OPENAI_API_KEY`) or an endpoint of its own
(`MODERATION_BASE_URL`, else the upstream's), a moderations endpoint decides, and the rules
stand in while it does not exist or rests (`endpoints.py`); otherwise rules do (regular
expressions by category, built in or from `MODERATION_RULES_FILE`). All answer many texts at
once, in order. Settings are read when a moderator is made, never at import.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from streaming.moderation.endpoints import (
    MISSING_STATUSES,
    EndpointUnavailable,
    ModerationEndpoints,
)

log = logging.getLogger(__name__)

# Deliberately blunt: an offline stand-in for a real classifier, not a policy. Replace it with
# MODERATION_RULES_FILE.
DEFAULT_RULES: dict[str, list[str]] = {
    "illicit/violent": [
        r"\bbombs?\b",
        r"\bexplosives?\b",
        r"\bweapons?\b",
    ],
    "violence": [r"\bkill(?:s|ed|ing)?\b", r"\bmurder(?:s|ed|ing)?\b"],
    "self-harm": [r"\bsuicide\b", r"\bkill\s+(?:myself|yourself)\b", r"\bself[- ]harm\b"],
}


class ModerationError(Exception):
    """The moderator could not answer (network, HTTP status, unreadable answer)."""


@dataclass
class Verdict:
    flagged: bool = False
    categories: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    matches: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "flagged": self.flagged,
            "categories": self.categories,
            "scores": self.scores,
        }
        if self.matches:
            data["matches"] = self.matches
        return data


class Moderator(Protocol):
    name: str  # which moderator answered the last check: "rules", "openai"

    async def check(self, texts: list[str]) -> list[Verdict]: ...


class RuleModerator:
    """Flags a text in every category one of whose patterns it contains (case-insensitive)."""

    name = "rules"

    def __init__(self, rules: dict[str, list[str]]) -> None:
        try:
            self.rules = {category: _one_pass(patterns) for category, patterns in rules.items()}
        except re.error as exc:
            raise ImproperlyConfigured(f"bad moderation rule: {exc}") from None

    def verdict(self, text: str) -> Verdict:
        matches: dict[str, list[str]] = {}
        for category, patterns in self.rules.items():
            found = [m.group(0) for p in patterns for m in p.finditer(text)]
            if found:
                matches[category] = sorted(set(found), key=found.index)[:10]
        categories = sorted(matches)
        return Verdict(
            flagged=bool(categories),
            categories=categories,
            scores={c: 1.0 for c in categories},
            matches=matches,
        )

    async def check(self, texts: list[str]) -> list[Verdict]:
        # In a thread, not on the event loop: a long answer takes milliseconds to scan,
        # and on the loop that would hold up every stream of the process.
        return await asyncio.to_thread(lambda: [self.verdict(text) for text in texts])


def _one_pass(patterns: list[str]) -> list[re.Pattern[str]]:
    """A category's patterns as one expression of alternatives, so a text is scanned once per
    category, not once per pattern (a long answer is read many times otherwise). Patterns
    that cannot be joined safely stay separate: with groups of their own (a backreference
    would point elsewhere once joined), or global flags (only allowed at the very start)."""
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]  # an error names the pattern
    if len(compiled) < 2 or any(c.groups for c in compiled):
        return compiled
    try:
        return [re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)]
    except re.error:
        return compiled


class OpenAIModerator:
    """`POST {base}/moderations` with every text in one request, over `client` (the worker's
    upstream client: one pool, the same proxy) or, without one, a client of its own per call.
    With `endpoints` (the worker's), an endpoint that is missing or resting is not asked, and
    each answer counts there; `EndpointUnavailable` says the endpoint was not (or is no
    longer) to be asked, `ModerationError` that it failed."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout: float,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        endpoints: ModerationEndpoints | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/moderations"
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.client = client
        self.transport = transport
        self.endpoints = endpoints

    async def check(self, texts: list[str]) -> list[Verdict]:
        if self.endpoints is not None:
            self.endpoints.admit(self.url)
        response = await self._post(texts)
        if response.status_code in MISSING_STATUSES:
            reason = f"{self.url} answered HTTP {response.status_code}: no such endpoint there"
            if self.endpoints is not None:
                self.endpoints.missing(self.url, reason)
            raise EndpointUnavailable(reason)
        if response.status_code != 200:
            raise self._failed(f"moderations answered HTTP {response.status_code}")
        try:
            verdicts = _verdicts(response, len(texts))
        except ModerationError as exc:
            raise self._failed(str(exc)) from None
        if self.endpoints is not None:
            self.endpoints.answered(self.url)
        return verdicts

    async def _post(self, texts: list[str]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "input": texts}
        try:
            if self.client is not None:
                response = await self.client.post(
                    self.url, json=body, headers=headers, timeout=self.timeout
                )
            else:
                async with httpx.AsyncClient(transport=self.transport, trust_env=True) as client:
                    response = await client.post(
                        self.url, json=body, headers=headers, timeout=self.timeout
                    )
        except httpx.HTTPError as exc:
            raise self._failed(f"moderations request failed: {exc!r}") from None
        return response

    def _failed(self, reason: str) -> ModerationError:
        if self.endpoints is not None:
            self.endpoints.failed(self.url, reason)
        return ModerationError(reason)


class EndpointOrRules:
    """A moderations endpoint, with the rules in its place whenever it is not to be asked
    (missing, or resting after failures). `name` says which answered the last check, and
    `fallback` why the rules did ("" when the endpoint answered)."""

    def __init__(self, endpoint: OpenAIModerator) -> None:
        self.endpoint = endpoint
        self.name = endpoint.name
        self.fallback = ""
        self.rules: RuleModerator | None = None

    async def check(self, texts: list[str]) -> list[Verdict]:
        try:
            verdicts = await self.endpoint.check(texts)
        except EndpointUnavailable as exc:
            self.rules = self.rules or RuleModerator(rules_from_settings())
            self.name, self.fallback = self.rules.name, str(exc)
            return await self.rules.check(texts)
        self.name, self.fallback = self.endpoint.name, ""
        return verdicts


def _verdicts(response: httpx.Response, count: int) -> list[Verdict]:
    try:
        results = response.json()["results"]
        verdicts = [
            Verdict(
                flagged=bool(r["flagged"]),
                categories=sorted(k for k, v in r.get("categories", {}).items() if v),
                scores={k: float(v) for k, v in r.get("category_scores", {}).items()},
            )
            for r in results
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModerationError(f"unreadable moderations answer: {exc!r}") from None
    if len(verdicts) != count:
        raise ModerationError(f"moderations returned {len(verdicts)} results for {count} inputs")
    return verdicts


def rules_from_settings() -> dict[str, list[str]]:
    path = settings.MODERATION_RULES_FILE
    if not path:
        return DEFAULT_RULES
    try:
        rules = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"MODERATION_RULES_FILE {path}: {exc}") from None
    if not isinstance(rules, dict) or not all(
        isinstance(v, list) and all(isinstance(p, str) for p in v) for v in rules.values()
    ):
        raise ImproperlyConfigured(
            f"MODERATION_RULES_FILE {path} must be a JSON object of lists of patterns"
        )
    return rules


def moderator_from_settings(
    *, client: httpx.AsyncClient | None = None, endpoints: ModerationEndpoints | None = None
) -> Moderator:
    """`client`: the worker's upstream client, which the endpoint's moderator shares;
    `endpoints`: what the worker has learned of moderations endpoints."""
    api_key = settings.MODERATION_API_KEY or settings.OPENAI_API_KEY
    if not (api_key or settings.MODERATION_BASE_URL):
        return RuleModerator(rules_from_settings())
    base_url = (
        settings.MODERATION_BASE_URL or settings.OPENAI_BASE_URL or "https://api.openai.com/v1"
    )
    endpoint = OpenAIModerator(
        base_url=base_url,
        api_key=api_key,
        model=settings.MODERATION_MODEL,
        timeout=settings.MODERATION_TIMEOUT,
        client=client,
        endpoints=endpoints,
    )
    return EndpointOrRules(endpoint)


def merge(verdicts: list[Verdict]) -> Verdict:
    """One verdict for several texts: any flag, every category, the highest scores."""
    scores: dict[str, float] = {}
    for verdict in verdicts:
        for category, score in verdict.scores.items():
            scores[category] = max(score, scores.get(category, 0.0))
    categories = sorted({c for v in verdicts for c in v.categories})
    return Verdict(flagged=any(v.flagged for v in verdicts), categories=categories, scores=scores)


async def check_with_retries(
    moderator: Moderator,
    texts: list[str],
    *,
    retries: int,
    delay: float,
    failures: list[str] | None = None,
) -> list[Verdict]:
    """`moderator.check`, tried again after `delay`, then twice as long, … up to `retries` times.
    Each failed attempt's reason is appended to `failures`; the last one is raised."""
    attempt = 0
    while True:
        try:
            return await moderator.check(texts)
        except Exception as exc:
            if failures is not None:
                failures.append(str(exc) or exc.__class__.__name__)
            if attempt >= retries:
                raise
            log.warning("moderation attempt %d failed, retrying: %s", attempt + 1, exc)
            await asyncio.sleep(delay * 2**attempt)
            attempt += 1
