"""Usage totals, cost and budgets through the relay: turns streamed from the simulator."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.utils import timezone

from streaming.accounting.budgets import budget_refusal
from streaming.models import Budget, TurnEvent, UsageDaily
from streaming.protocol.usage import Tokens, prices_parse, tokens_from
from tests.relay_harness import Relay

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = "Hi [sim:markdown tps=0 deltas=20 seed={seed}]"
THINK = "Think [sim:reasoning tps=0 deltas=15 seed={seed}]"
SLOW = "Long [sim:long tps=200 deltas=300 seed=7]"


async def stored_tokens(turn_ids: list[str]) -> dict[str, Tokens]:
    """Per model, the tokens of the stored logs' terminal events."""
    totals: dict[str, Tokens] = {}
    async for turn_id, model in _turn_models(turn_ids):
        usages = [
            json.loads(data)["response"].get("usage")
            async for data in TurnEvent.objects.filter(
                turn_id=turn_id, type__in=["response.completed", "response.incomplete"]
            ).values_list("data", flat=True)
        ]
        totals[model] = totals.get(model, Tokens()) + tokens_from(usages)
    return totals


async def _turn_models(turn_ids: list[str]):
    from streaming.models import Turn

    async for row in Turn.objects.filter(pk__in=turn_ids).values_list("pk", "model"):
        yield str(row[0]), row[1]


async def daily_tokens(user) -> dict[str, Tokens]:
    totals: dict[str, Tokens] = {}
    async for row in UsageDaily.objects.filter(user=user).values():
        tokens = Tokens(
            row["input_tokens"],
            row["cached_input_tokens"],
            row["output_tokens"],
            row["reasoning_tokens"],
        )
        totals[row["model"]] = totals.get(row["model"], Tokens()) + tokens
    return totals


async def test_usage_totals_equal_the_sum_over_stored_turns_after_concurrent_turns(
    relay: Relay, settings
) -> None:
    """Many turns of one user finishing together lose no tokens: the daily totals per
    model equal the sum of the stored logs' usage, and count one row per model and day."""
    settings.LIMIT_ACTIVE_TURNS_PER_USER = 50
    settings.LIMIT_TURNS_PER_MINUTE = 100
    conversations = [await relay.conversation() for _ in range(16)]
    responses = await asyncio.gather(
        *(
            relay.post_turn(
                c,
                (QUICK if i % 2 else THINK).format(seed=i),
                model=("sim-reasoning", "sim-markdown")[i % 2],
            )
            for i, c in enumerate(conversations)
        )
    )
    turn_ids = [r.json()["id"] for r in responses]
    assert all(r.status_code == 202 for r in responses)
    for turn_id in turn_ids:
        assert (await relay.wait_done(turn_id)).status == "completed"
    expected = await stored_tokens(turn_ids)
    assert set(expected) == {"sim-reasoning", "sim-markdown"}
    assert expected["sim-reasoning"].reasoning_tokens > 0
    await _until(lambda: daily_tokens(relay.user), expected)
    rows = [row async for row in UsageDaily.objects.filter(user=relay.user).values("turns")]
    assert len(rows) == 2 and sum(r["turns"] for r in rows) == 16


async def _until(read, expected, tries: int = 200):
    """The usage write follows the turn's final row; wait for it (no time threshold)."""
    for _ in range(tries):
        got = await read()
        if got == expected:
            return
        await asyncio.sleep(0.05)
    assert got == expected


async def test_api_usage_reports_today_and_month_with_cost_where_known(
    relay: Relay, settings
) -> None:
    """`GET /api/usage`: the user's own totals; a priced model has a cost, an unpriced one
    none (and the total's cost is unknown then); the budget left."""
    settings.MODEL_PRICES = prices_parse('{"sim-markdown": {"input": 1000, "output": 2000}}')
    settings.BUDGET_TOKENS_PER_DAY = 1_000_000
    one = await relay.start_model(QUICK.format(seed=1), "sim-markdown")
    two = await relay.start_model(QUICK.format(seed=2), "sim-reasoning")
    for turn_id in (one, two):
        await relay.wait_done(turn_id)
    expected = await stored_tokens([one, two])
    await _until(lambda: daily_tokens(relay.user), expected)
    data = (await relay.client.get("/api/usage")).json()
    models = {m["model"]: m for m in data["today"]["models"]}
    priced = expected["sim-markdown"]
    assert models["sim-markdown"]["cost_usd"] == pytest.approx(
        (priced.input_tokens * 1000 + priced.output_tokens * 2000) / 1e6
    )
    assert models["sim-reasoning"]["cost_usd"] is None
    assert data["today"]["cost_usd"] is None
    assert data["today"]["priced_cost_usd"] == models["sim-markdown"]["cost_usd"]
    used = sum(t.total_tokens for t in expected.values())
    assert data["today"]["total_tokens"] == data["month"]["total_tokens"] == used
    budget = data["budgets"]["tokens_per_day"]
    assert (budget["limit"], budget["used"], budget["left"]) == (1_000_000, used, 1_000_000 - used)
    assert budget["low"] is False


async def test_a_turn_past_the_daily_budget_is_refused_until_the_day_resets(
    relay: Relay, settings
) -> None:
    """Past the token budget a new turn gets 429 naming the budget and when it resets;
    the turn that went past it was not cut off; the next day it may start again."""
    settings.BUDGET_TOKENS_PER_DAY = 10
    first = await relay.start(SLOW)
    done = await relay.wait_done(first)
    assert done.status == "completed"  # its own usage went far past 10: never cut off
    await _until(lambda: _has_usage(relay.user), True)
    response = await relay.post_turn(await relay.conversation(), QUICK.format(seed=3))
    assert response.status_code == 429
    message = response.json()["error"]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "daily budget of 10 tokens" in message and f"resets at {tomorrow} 00:00" in message
    assert 0 < int(response.headers["Retry-After"]) <= 86400
    data = (await relay.client.get("/api/usage")).json()
    assert data["budgets"]["tokens_per_day"]["left"] == 0
    assert data["budgets"]["tokens_per_day"]["low"] is True
    later = timezone.now() + timedelta(days=1)
    assert await sync_to_async(budget_refusal)(user=relay.user) is not None
    assert await sync_to_async(budget_refusal)(user=relay.user, now=later) is None


async def _has_usage(user) -> bool:
    return await UsageDaily.objects.filter(user=user).aexists()


async def test_the_monthly_usd_budget_counts_priced_models(relay: Relay, settings) -> None:
    settings.MODEL_PRICES = prices_parse('{"sim-markdown": {"input": 100, "output": 100}}')
    settings.BUDGET_USD_PER_MONTH = 0.0001
    await relay.wait_done(await relay.start(QUICK.format(seed=4)))
    await _until(lambda: _has_usage(relay.user), True)
    response = await relay.post_turn(await relay.conversation(), QUICK.format(seed=5))
    assert response.status_code == 429
    assert "monthly budget of $0.00" in response.json()["error"]
    # an unpriced model costs nothing against it: the same usage on it would not count
    settings.MODEL_PRICES = {}
    assert (
        await relay.post_turn(await relay.conversation(), QUICK.format(seed=5))
    ).status_code == 202


async def test_user_and_group_budgets_override_the_default(relay: Relay, settings) -> None:
    """A group's budget replaces the default (the most generous group wins), a user's own
    replaces the group's; a blank limit inherits."""
    settings.BUDGET_TOKENS_PER_DAY = 1
    await relay.wait_done(await relay.start(QUICK.format(seed=6)))
    await _until(lambda: _has_usage(relay.user), True)
    refused = sync_to_async(budget_refusal)
    assert await refused(user=relay.user) is not None

    def groups() -> None:
        small, big = Group.objects.create(name="small"), Group.objects.create(name="big")
        relay.user.groups.add(small, big)
        Budget.objects.create(group=small, tokens_per_day=2)
        Budget.objects.create(group=big, tokens_per_day=10**9)

    await sync_to_async(groups)()
    assert await refused(user=relay.user) is None
    own = await Budget.objects.acreate(user=relay.user, usd_per_month=Decimal("5"))
    assert await refused(user=relay.user) is None  # tokens inherited from the group
    own.tokens_per_day = 3
    await own.asave()
    assert "daily budget of 3 tokens" in (await refused(user=relay.user)).message


def test_staff_edit_budgets_in_the_admin_for_a_user_or_a_group(admin_client, django_user_model):
    """The admin offers budgets per user and per group; a row for neither is refused."""
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12")
    group = Group.objects.create(name="team")
    add = "/admin/streaming/budget/add/"
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(add, {"user": bob.pk, "tokens_per_day": "5000"})
    assert response.status_code == 302
    assert Budget.objects.get(user=bob).tokens_per_day == 5000
    admin_client.post(add, {"group": group.pk, "usd_per_month": "12.50"})
    assert Budget.objects.get(group=group).usd_per_month == Decimal("12.50")
    admin_client.post(add, {"tokens_per_day": "1"})
    assert Budget.objects.count() == 2
    assert admin_client.get("/admin/streaming/usagedaily/").status_code == 200
