"""Token counting and cost arithmetic (streaming/protocol/usage.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streaming.protocol.usage import PriceError, Tokens, cost_of, prices_parse, tokens_from

PRICES = (
    '{"gpt-x": {"input": 2, "cached_input": 0.5, "output": 8}, "gpt-y": {"input": 1, "output": 4}}'
)


def test_tokens_sum_each_requests_usage_with_its_details() -> None:
    """Cached input and reasoning come from the usage details; missing counts are 0."""
    usages = [
        {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 40},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 10},
        },
        {"input_tokens": 5, "output_tokens": 7},
        None,
        {"input_tokens": "lots", "output_tokens": -3},
    ]
    assert tokens_from(usages) == Tokens(105, 40, 37, 10)
    assert tokens_from(usages).total_tokens == 142


def test_cost_prices_uncached_and_cached_input_and_output_at_their_rates() -> None:
    prices = prices_parse(PRICES)
    tokens = Tokens(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=250_000)
    # 600k uncached at $2, 400k cached at $0.50, 250k output at $8 per million
    assert cost_of(prices, "gpt-x", tokens) == Decimal("1.2") + Decimal("0.2") + Decimal("2")


def test_cached_input_without_a_rate_of_its_own_is_billed_as_input() -> None:
    prices = prices_parse(PRICES)
    tokens = Tokens(input_tokens=2_000_000, cached_input_tokens=1_000_000, output_tokens=0)
    assert cost_of(prices, "gpt-y", tokens) == Decimal(2)


def test_a_model_without_a_price_has_no_cost() -> None:
    assert cost_of(prices_parse(PRICES), "gpt-z", Tokens(10, 0, 10, 0)) is None
    assert cost_of({}, "gpt-x", Tokens(10, 0, 10, 0)) is None


def test_prices_come_from_a_path_too(tmp_path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(PRICES)
    assert prices_parse(str(path)) == prices_parse(PRICES)
    assert prices_parse("  ") == {}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{not json", "not JSON"),
        ("[1]", "JSON object"),
        ('{"m": {"input": 1}}', "m: output"),
        ('{"m": {"input": -1, "output": 1}}', "m: input"),
        ('{"m": {"input": 1, "output": 1, "cache": 2}}', "m: cache"),
        ("/nowhere/prices.json", "cannot read"),
    ],
)
def test_bad_prices_are_refused_with_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(PriceError, match=says):
        prices_parse(raw)
