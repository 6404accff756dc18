"""Prometheus metrics, derived from the database so every process reports the same numbers.

Nothing is counted in process memory: any number of daphne processes and workers share
one truth, the turn rows and their logs, and a restart resets nothing. Each scrape runs a
few aggregate queries over the turn table (not the event table, but for the recent errors).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from streaming.models import Turn, TurnEvent
from streaming.protocol.statuses import TURN_ACTIVE, TURN_FINAL

# Time to first token, seconds: from the POST that created the turn to its first text delta.
TTFT_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
ERROR_WINDOW = timedelta(hours=1)
# `UpstreamError.kind`s (streaming/upstream/client.py); other relay.error kinds are not upstream's.
UPSTREAM_KINDS = ("connect", "http", "timeout", "not_sse", "malformed", "closed", "upstream")
# Failures the upstream reported inside a stream, by event type.
STREAM_FAILURES = {"error": "stream_error", "response.failed": "response_failed"}


def active_turns() -> dict[str, int]:
    counts = dict.fromkeys(TURN_ACTIVE, 0)
    rows = Turn.objects.filter(status__in=TURN_ACTIVE).values_list("status").annotate(n=Count("pk"))
    counts.update(dict(rows.order_by()))
    return counts


def turns_finished() -> dict[str, int]:
    """Turns that ended, by how: a status never changes once final, so these only grow."""
    counts = dict.fromkeys(TURN_FINAL, 0)
    rows = Turn.objects.filter(status__in=TURN_FINAL).values_list("status").annotate(n=Count("pk"))
    counts.update(dict(rows.order_by()))
    return counts


def events_relayed() -> int:
    """Every event ever appended to a log: each turn's next seq is its log's length (for a
    streaming turn, as of its last heartbeat: at most `RELAY_LEASE_SECONDS / 3` behind)."""
    return Turn.objects.aggregate(total=Sum("next_seq"))["total"] or 0


def upstream_errors(window: timedelta = ERROR_WINDOW) -> dict[str, int]:
    """Upstream failures of turns created in the last `window`, by kind."""
    counts = Counter(dict.fromkeys((*UPSTREAM_KINDS, *STREAM_FAILURES.values()), 0))
    rows = TurnEvent.objects.filter(
        turn__created_at__gte=timezone.now() - window,
        type__in=["relay.error", *STREAM_FAILURES],
    ).values_list("type", "data")
    for kind in _error_kinds(rows):
        counts[kind] += 1
    return dict(counts)


def _error_kinds(rows: Iterable[tuple[str, str]]) -> Iterable[str]:
    for event_type, data in rows:
        if event_type in STREAM_FAILURES:
            yield STREAM_FAILURES[event_type]
            continue
        try:
            kind = json.loads(data).get("kind")
        except (ValueError, AttributeError):
            continue
        if kind in UPSTREAM_KINDS:
            yield kind


def ttft_histogram() -> tuple[list[tuple[float, int]], int, float]:
    """Cumulative (upper bound, count) per bucket, the count and the sum in seconds."""
    ttft = ExpressionWrapper(F("first_text_at") - F("created_at"), output_field=DurationField())
    buckets = {
        f"le{i}": Count("pk", filter=Q(ttft__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(TTFT_BUCKETS)
    }
    row = (
        Turn.objects.filter(first_text_at__isnull=False)
        .annotate(ttft=ttft)
        .aggregate(count=Count("pk"), total=Sum("ttft"), **buckets)
    )
    total = row["total"].total_seconds() if row["total"] else 0.0
    cumulative = [(bound, row[f"le{i}"]) for i, bound in enumerate(TTFT_BUCKETS)]
    return cumulative, row["count"], total


def render() -> str:
    """Every metric in the Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    _family(lines, "streamrelay_turns_active", "gauge", "Turns queued or streaming now.")
    lines += _labelled("streamrelay_turns_active", "status", active_turns())
    _family(lines, "streamrelay_turns_finished_total", "counter", "Turns ended, by status.")
    lines += _labelled("streamrelay_turns_finished_total", "status", turns_finished())
    help_events = "Events appended to turn logs (and relayed); streaming turns as of their last lease heartbeat."
    _family(lines, "streamrelay_events_relayed_total", "counter", help_events)
    lines.append(f"streamrelay_events_relayed_total {events_relayed()}")
    help_errors = "Upstream failures of turns created in the last hour, by kind."
    _family(lines, "streamrelay_upstream_errors_last_hour", "gauge", help_errors)
    lines += _labelled("streamrelay_upstream_errors_last_hour", "kind", upstream_errors())
    help_ttft = "Seconds from a turn's creation to its first text delta."
    _family(lines, "streamrelay_time_to_first_token_seconds", "histogram", help_ttft)
    lines += _histogram("streamrelay_time_to_first_token_seconds", *ttft_histogram())
    return "\n".join(lines) + "\n"


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _labelled(name: str, label: str, values: dict[str, int]) -> list[str]:
    return [f'{name}{{{label}="{key}"}} {value}' for key, value in sorted(values.items())]


def _histogram(name: str, buckets: list[tuple[float, int]], count: int, total: float) -> list[str]:
    lines = [f'{name}_bucket{{le="{bound:g}"}} {n}' for bound, n in buckets]
    lines.append(f'{name}_bucket{{le="+Inf"}} {count}')
    lines += [f"{name}_sum {total:.3f}", f"{name}_count {count}"]
    return lines
