"""The staff usage report: every user's daily totals of the last days, per user, per model,
per day (for the chart), and as CSV rows. Queries only; cost from MODEL_PRICES when read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from streaming.accounting.budgets import TOKEN_FIELDS, tokens_of
from streaming.models import UsageDaily
from streaming.protocol.usage import Tokens, cost_of

DAYS = 30
CSV_HEADER = ["day", "user", "model", "turns", *TOKEN_FIELDS, "cost_usd"]


def report_rows(*, days: int = DAYS) -> tuple[date, list[dict[str, Any]]]:
    since = timezone.localdate() - timedelta(days=days - 1)
    rows = list(
        UsageDaily.objects.filter(day__gte=since)
        .values("day", "user__username", "model", "turns", *TOKEN_FIELDS)
        .order_by("day", "user__username", "model")
    )
    for row in rows:
        cost = cost_of(settings.MODEL_PRICES, row["model"], tokens_of(row))
        row["cost_usd"] = None if cost is None else float(cost)
    return since, rows


def _group(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    for row in rows:
        entry = groups.setdefault(
            row[key], {key: row[key], "turns": 0, "tokens": Tokens(), "cost_usd": 0.0}
        )
        entry["turns"] += row["turns"]
        entry["tokens"] += tokens_of(row)
        if row["cost_usd"] is None:
            entry["unpriced"] = True
        else:
            entry["cost_usd"] += row["cost_usd"]
    return [
        {**entry, **entry.pop("tokens").as_dict()}
        for _, entry in sorted(groups.items(), key=lambda item: str(item[0]))
    ]


def usage_summary(*, days: int = DAYS) -> dict[str, Any]:
    since, rows = report_rows(days=days)
    span = [since + timedelta(days=n) for n in range(days)]
    per_day = {day: [0, 0.0] for day in span}
    for row in rows:
        per_day[row["day"]][0] += tokens_of(row).total_tokens
        per_day[row["day"]][1] += row["cost_usd"] or 0.0
    return {
        "since": since,
        "users": _group(rows, "user__username"),
        "models": _group(rows, "model"),
        "chart": {
            "days": [day.isoformat() for day in span],
            "tokens": [per_day[day][0] for day in span],
            "cost_usd": [round(per_day[day][1], 6) for day in span],
        },
    }


def csv_rows(*, days: int = DAYS) -> Iterator[list[Any]]:
    yield CSV_HEADER
    for row in report_rows(days=days)[1]:
        yield [
            row["day"].isoformat(),
            row["user__username"],
            row["model"],
            row["turns"],
            *(row[name] for name in TOKEN_FIELDS),
            "" if row["cost_usd"] is None else f"{row['cost_usd']:.6f}",
        ]
