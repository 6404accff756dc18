"""Health checks, Prometheus metrics derived from the database, and turn-tagged logs."""

from __future__ import annotations

import json
import logging
import sys
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from streaming.logs import JsonFormatter, turn_logger
from streaming.models import Conversation, Turn, TurnEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_answers_while_the_process_serves(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_database_layer_and_upstream(async_client, settings, simulator_url):
    """Each check reports its own status and milliseconds; all ok gives 200."""
    settings.OPENAI_BASE_URL = simulator_url
    response = await async_client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "upstream"}
    for check in body["checks"].values():
        assert check["status"] == "ok" and check["ms"] >= 0


async def test_readyz_is_503_and_names_the_failing_check(async_client, settings) -> None:
    """An unreachable upstream fails readiness; the other checks still report ok."""
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # discard port: connection refused
    response = await async_client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "failing"
    assert body["checks"]["upstream"]["status"] == "failing"
    assert "error" in body["checks"]["upstream"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["channel_layer"]["status"] == "ok"


def test_metrics_need_staff_or_the_token(client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    user = get_user_model().objects.create_user("bob", password="pw-bob-12345")
    client.force_login(user)
    assert client.get("/metrics").status_code == 403
    user.is_staff = True
    user.save()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")


def test_an_empty_token_never_opens_metrics(client, settings) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def _turn(conversation: Conversation, status: str, **fields) -> Turn:
    turn = Turn.objects.create(conversation=conversation, input="x", model="m", status=status)
    Turn.objects.filter(pk=turn.pk).update(**fields)
    return turn


def _event(turn: Turn, seq: int, data: dict) -> None:
    TurnEvent.objects.create(
        turn=turn, seq=seq, type=data["type"], data=json.dumps(data), received_ms=0
    )


def test_metrics_are_derived_from_the_stored_turns(client, settings) -> None:
    """Active turns, events relayed, upstream errors by kind and the TTFT histogram come
    from the rows, so every process reports the same numbers."""
    settings.METRICS_TOKEN = "t"
    owner = get_user_model().objects.create_user("carol", password="pw-carol-123")
    now = timezone.now()
    conversations = [Conversation.objects.create(owner=owner) for _ in range(4)]
    _turn(conversations[0], "streaming", next_seq=7)
    fast = _turn(
        conversations[1], "completed", next_seq=10, first_text_at=now + timedelta(seconds=0.4)
    )
    Turn.objects.filter(pk=fast.pk).update(created_at=now)
    slow = _turn(conversations[2], "failed", next_seq=3, first_text_at=now + timedelta(seconds=3))
    Turn.objects.filter(pk=slow.pk).update(created_at=now)
    _event(slow, 0, {"type": "relay.error", "kind": "timeout", "message": "idle"})
    _event(slow, 1, {"type": "relay.error", "kind": "moderation", "message": "not upstream's"})
    _event(slow, 2, {"type": "response.failed", "response": {}})
    broken = _turn(conversations[3], "failed", next_seq=1)
    _event(broken, 0, {"type": "relay.error", "kind": "connect", "message": "refused"})

    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    lines = set(text.splitlines())
    assert 'streamrelay_turns_active{status="streaming"} 1' in lines
    assert 'streamrelay_turns_finished_total{status="failed"} 2' in lines
    assert "streamrelay_events_relayed_total 21" in lines
    assert 'streamrelay_upstream_errors_last_hour{kind="timeout"} 1' in lines
    assert 'streamrelay_upstream_errors_last_hour{kind="connect"} 1' in lines
    assert 'streamrelay_upstream_errors_last_hour{kind="response_failed"} 1' in lines
    assert not any('kind="moderation"' in line for line in lines)
    assert 'streamrelay_time_to_first_token_seconds_bucket{le="0.25"} 0' in lines
    assert 'streamrelay_time_to_first_token_seconds_bucket{le="0.5"} 1' in lines
    assert 'streamrelay_time_to_first_token_seconds_bucket{le="5"} 2' in lines
    assert 'streamrelay_time_to_first_token_seconds_bucket{le="+Inf"} 2' in lines
    assert "streamrelay_time_to_first_token_seconds_count 2" in lines
    assert "streamrelay_time_to_first_token_seconds_sum 3.400" in lines


def test_turn_logs_carry_the_turn_id_in_text_and_json(caplog) -> None:
    log = turn_logger("3f2a", "streaming.worker.runner")
    with caplog.at_level(logging.INFO, logger="streaming.worker.runner"):
        log.info("lease lost after %d s", 30)
    record = caplog.records[-1]
    assert record.getMessage() == "[turn 3f2a] lease lost after 30 s"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["turn_id"] == "3f2a"
    assert entry["message"] == "lease lost after 30 s"
    assert entry["logger"] == "streaming.worker.runner" and entry["level"] == "INFO"


def test_json_logs_keep_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]
