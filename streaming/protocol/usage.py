"""A turn's tokens, and what they cost: pure arithmetic, no Django.

The Responses API counts cached input inside `input_tokens` and reasoning inside
`output_tokens` (`input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`),
so a turn's cost is the uncached input, the cached input and the output, each at its rate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Tokens:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "total_tokens": self.total_tokens,
        }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def tokens_from(usages: Iterable[Mapping[str, Any] | None]) -> Tokens:
    """The sum of each request's `usage` object (a tool round trip makes several); a missing
    or malformed count is 0."""
    total = Tokens()
    for usage in usages:
        if not isinstance(usage, Mapping):
            continue
        details_in = usage.get("input_tokens_details")
        details_out = usage.get("output_tokens_details")
        total += Tokens(
            input_tokens=_count(usage.get("input_tokens")),
            cached_input_tokens=_count(
                details_in.get("cached_tokens") if isinstance(details_in, Mapping) else 0
            ),
            output_tokens=_count(usage.get("output_tokens")),
            reasoning_tokens=_count(
                details_out.get("reasoning_tokens") if isinstance(details_out, Mapping) else 0
            ),
        )
    return total


class ModelPrice(BaseModel):
    """USD per million tokens. Cached input without a rate of its own is billed as input."""

    model_config = ConfigDict(extra="forbid")

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cached_input: Decimal | None = Field(default=None, ge=0)

    def cost(self, tokens: Tokens) -> Decimal:
        cached = min(tokens.cached_input_tokens, tokens.input_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        usd = (
            (tokens.input_tokens - cached) * self.input
            + cached * cached_rate
            + tokens.output_tokens * self.output
        )
        return usd / MILLION


Prices = dict[str, ModelPrice]


class PriceError(ValueError):
    """MODEL_PRICES is not what it must be; the message says what is wrong."""


def prices_parse(raw: str) -> Prices:
    """`MODEL_PRICES`: JSON (`{"<model>": {"input": …, "cached_input": …, "output": …}}`),
    or a path to a file holding it; empty means no prices."""
    text = raw.strip()
    if not text:
        return {}
    if not text.startswith(("{", "[")):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise PriceError(f"cannot read the prices file {raw!r}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PriceError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PriceError('must be a JSON object: {"<model>": {"input": …, "output": …}}')
    prices: Prices = {}
    for model, price in data.items():
        try:
            prices[model] = ModelPrice.model_validate(price)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "price"
            raise PriceError(f"{model}: {where}: {first['msg']}") from None
    return prices


def cost_of(prices: Prices, model: str, tokens: Tokens) -> Decimal | None:
    """The cost of `tokens` on `model`, or None when the model has no price (never a guess)."""
    price = prices.get(model)
    return None if price is None else price.cost(tokens)
