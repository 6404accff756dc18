"""What a user may still spend: their budget (their own, their groups', the settings'
defaults) against their usage today and this month. Queries only; `turn_start` refuses a turn
that would start past a budget. A turn already streaming is never cut off: budgets are
checked only before a turn starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from streaming.models import Budget, UsageDaily
from streaming.protocol.usage import Tokens, cost_of

# The composer shows what is left of a budget once less than this share of it is.
WARN_BELOW = 0.2
TOKEN_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")


@dataclass(frozen=True, slots=True)
class Limits:
    tokens_per_day: int | None = None
    usd_per_month: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BudgetState:
    name: str  # "tokens_per_day" or "usd_per_month"
    limit: Any
    used: Any
    resets_at: datetime

    @property
    def left(self) -> Any:
        return max(self.limit - self.used, 0)

    @property
    def left_fraction(self) -> float:
        return float(self.left / self.limit) if self.limit else 0.0

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    def as_json(self) -> dict[str, Any]:
        number = float if isinstance(self.limit, Decimal) else int
        return {
            "limit": number(self.limit),
            "used": number(self.used),
            "left": number(self.left),
            "left_fraction": self.left_fraction,
            "low": self.left_fraction < WARN_BELOW,
            "resets_at": self.resets_at.isoformat(),
        }

    def refusal(self) -> str:
        when = self.resets_at.strftime("%Y-%m-%d %H:%M %Z")
        if self.name == "tokens_per_day":
            return (
                f"your daily budget of {self.limit:,} tokens is used up ({self.used:,} used "
                f"today); it resets at {when}"
            )
        return (
            f"your monthly budget of ${self.limit:,.2f} is used up (${self.used:,.2f} used "
            f"this month); it resets at {when}"
        )


def _default_limits() -> Limits:
    tokens = settings.BUDGET_TOKENS_PER_DAY or None
    usd = settings.BUDGET_USD_PER_MONTH
    return Limits(tokens, None if usd is None else Decimal(str(usd)))


def budget_limits(*, user: Any) -> Limits:
    """The user's own budget where set, else the most generous of their groups', else the
    defaults; each limit on its own (a user row may set one and inherit the other)."""
    default = _default_limits()
    rows = list(Budget.objects.filter(group__user=user))
    own = Budget.objects.filter(user=user).first()

    def pick(field: str) -> Any:
        if own is not None and getattr(own, field) is not None:
            return getattr(own, field)
        values = [getattr(row, field) for row in rows if getattr(row, field) is not None]
        return max(values) if values else getattr(default, field)

    return Limits(pick("tokens_per_day"), pick("usd_per_month"))


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def period_starts(now: datetime | None = None) -> tuple[date, date]:
    """Today, and the first day of this month (in TIME_ZONE)."""
    today = timezone.localdate(now or timezone.now())
    return today, today.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def rows_since(*, user: Any, since: date) -> list[dict[str, Any]]:
    """Per day and model, the user's tokens since `since`."""
    return list(
        UsageDaily.objects.filter(user=user, day__gte=since)
        .values("day", "model", "turns", *TOKEN_FIELDS)
        .order_by("day", "model")
    )


def tokens_of(row: dict[str, Any]) -> Tokens:
    return Tokens(**{name: int(row.get(name) or 0) for name in TOKEN_FIELDS})


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals with cost: the cost is known only if every model in the rows has a price."""
    prices = settings.MODEL_PRICES
    by_model: dict[str, Tokens] = {}
    turns = 0
    for row in rows:
        by_model[row["model"]] = by_model.get(row["model"], Tokens()) + tokens_of(row)
        turns += int(row.get("turns") or 0)
    total = sum(by_model.values(), Tokens())
    models = []
    for model, tokens in sorted(by_model.items()):
        cost = cost_of(prices, model, tokens)
        models.append(
            {"model": model, **tokens.as_dict(), "cost_usd": None if cost is None else float(cost)}
        )
    costs = [m["cost_usd"] for m in models]
    return {
        **total.as_dict(),
        "turns": turns,
        "cost_usd": sum(costs) if costs and None not in costs else (None if costs else 0.0),
        "priced_cost_usd": sum(c for c in costs if c is not None),
        "models": models,
    }


def month_cost(rows: list[dict[str, Any]]) -> Decimal:
    """The priced part of the rows' cost; a model without a price counts nothing."""
    prices = settings.MODEL_PRICES
    total = Decimal(0)
    for row in rows:
        cost = cost_of(prices, row["model"], tokens_of(row))
        total += cost or 0
    return total


def budget_states(*, user: Any, now: datetime | None = None) -> list[BudgetState]:
    limits = budget_limits(user=user)
    today, month = period_starts(now)
    states = []
    if limits.tokens_per_day is not None:
        used = UsageDaily.objects.filter(user=user, day=today).aggregate(
            i=Sum("input_tokens"), o=Sum("output_tokens")
        )
        states.append(
            BudgetState(
                "tokens_per_day",
                int(limits.tokens_per_day),
                int(used["i"] or 0) + int(used["o"] or 0),
                _midnight(today + timedelta(days=1)),
            )
        )
    if limits.usd_per_month is not None:
        spent = month_cost(rows_since(user=user, since=month))
        states.append(
            BudgetState(
                "usd_per_month",
                Decimal(limits.usd_per_month),
                spent.quantize(Decimal("0.000001")),
                _midnight(next_month(month)),
            )
        )
    return states


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str
    retry_after: int


def budget_refusal(*, user: Any, now: datetime | None = None) -> Refusal | None:
    """Why a new turn may not start now (a budget is used up), or None."""
    moment = now or timezone.now()
    for state in budget_states(user=user, now=moment):
        if state.exhausted:
            wait = max(1, int((state.resets_at - moment).total_seconds()))
            return Refusal(state.refusal(), wait)
    return None


def usage_report(*, user: Any, now: datetime | None = None) -> dict[str, Any]:
    """`GET /api/usage`: the user's totals today and this month (cost where known) and what
    is left of each budget."""
    moment = now or timezone.now()
    today, month = period_starts(moment)
    rows = rows_since(user=user, since=month)
    return {
        "today": {"day": today.isoformat(), **summarise([r for r in rows if r["day"] == today])},
        "month": {"since": month.isoformat(), **summarise(rows)},
        "budgets": {state.name: state.as_json() for state in budget_states(user=user, now=moment)},
    }
